/**
 * The HTTP application: Fastify with TypeBox schemas, one validator setup (no silent coercion or stripping of
 * bodies), the OpenAPI document at /openapi.json with a readable page at /docs, authentication on every route
 * but the public ones, and the routes of each domain.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import { createAjv } from '../core/validation.ts';
import type { Platform } from '../platform/platform.ts';
import { installAuth, SANDBOX_HEADER, type AuthMode } from './auth.ts';
import { ErrorBody, errorHandler, notFoundHandler } from './http-errors.ts';
import { accessRoutes } from './routes/access.ts';
import { batchRoutes } from './routes/batches.ts';
import { clvRoutes } from './routes/clv.ts';
import { consoleRoutes } from './routes/console.ts';
import { dashboardRoutes } from './routes/dashboards.ts';
import { destinationRoutes } from './routes/destinations.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { identityRoutes } from './routes/identity.ts';
import { profileRoutes } from './routes/profiles.ts';
import { queryRoutes } from './routes/queries.ts';
import { queryTemplateRoutes } from './routes/query-templates.ts';
import { registryRoutes } from './routes/registry.ts';
import { sandboxRoutes } from './routes/sandboxes.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { segmentRoutes } from './routes/segments.ts';
import { streamingRoutes } from './routes/streaming.ts';
import { systemRoutes } from './routes/system.ts';
import { campaignRoutes } from './routes/campaigns.ts';
import { trackingRoutes } from './routes/tracking.ts';
import { activationRoutes } from './routes/activation.ts';
import { insightsRoutes } from './routes/insights.ts';
import { backupRoutes } from './routes/backup.ts';

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface AppOptions {
  auth: AuthMode;
  logLevel?: string;
}

export async function buildApp(platform: Platform, options: AppOptions): Promise<App> {
  const app = Fastify({
    logger: { level: options.logLevel ?? platform.config.logLevel },
    bodyLimit: platform.config.bodyLimitBytes,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const bodies = createAjv({ coerceTypes: false });
  const queries = createAjv({ coerceTypes: true });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'querystring' || httpPart === 'params' ? queries : bodies).compile(schema));
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.addSchema(ErrorBody);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Roundtrip API', version: '0.1.0', description: 'Collect, resolve, compute CLV, analyze, act and measure.' },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from `roundtrip key create`.' },
        },
        parameters: {},
      },
      security: [{ apiKey: [] }],
    },
    transform: ({ schema, url, route }) => {
      const transformed = { ...(schema ?? {}) } as Record<string, unknown>;
      if (route.config?.action && route.config.scope !== 'global') {
        transformed.headers = {
          type: 'object',
          properties: { [SANDBOX_HEADER]: { type: 'string', description: 'Sandbox to act in (default prod)' } },
        };
      }
      return { schema: transformed, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  installAuth(app, platform, options.auth);
  systemRoutes(app);
  accessRoutes(app, platform);
  sandboxRoutes(app, platform);
  registryRoutes(app, platform);
  datasetRoutes(app, platform);
  identityRoutes(app, platform);
  profileRoutes(app, platform);
  batchRoutes(app, platform);
  streamingRoutes(app, platform);
  queryRoutes(app, platform);
  queryTemplateRoutes(app, platform);
  scheduleRoutes(app, platform);
  clvRoutes(app, platform);
  segmentRoutes(app, platform);
  await consoleRoutes(app);
  destinationRoutes(app, platform);
  dashboardRoutes(app, platform);
  campaignRoutes(app, platform);
  trackingRoutes(app, platform);
  activationRoutes(app, platform);
  insightsRoutes(app, platform);
  backupRoutes(app, platform);
  return app;
}
