/**
 * Authentication and authorization of every request. Routes declare the action they perform
 * (`config: { action: 'schema:write' }`); a route without one must be on the public list or the server refuses
 * to start, so nothing is left open by omission. The sandbox comes from `x-sandbox-name` (default `prod`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize, LOCAL_OPERATOR, type Principal } from '../access/principal.ts';
import type { Action } from '../access/roles.ts';
import { PRODUCTION_SANDBOX } from '../catalog/sandboxes.ts';
import { RoundtripError } from '../core/errors.ts';
import type { Platform } from '../platform/platform.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission the route needs; see src/access/roles.ts. */
    action?: Action;
    /** `global` routes (keys, sandboxes list) do not read `x-sandbox-name`. */
    scope?: 'sandbox' | 'global';
    public?: boolean;
  }
  interface FastifyRequest {
    principal: Principal;
    sandbox: string;
  }
}

const PUBLIC_PREFIXES = ['/health', '/openapi.json', '/docs', '/console'];
export const SANDBOX_HEADER = 'x-sandbox-name';

export type AuthMode = 'api-key' | 'local-operator';

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (!header) throw new RoundtripError('RT_AUTH_MISSING', 'Send `Authorization: Bearer <api key>`; `roundtrip key create` makes a key.');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new RoundtripError('RT_AUTH_INVALID', 'The Authorization header must read `Bearer <api key>`.');
  return match[1]!;
}

export function installAuth(app: FastifyInstance, platform: Platform, mode: AuthMode): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('sandbox', PRODUCTION_SANDBOX);

  app.addHook('onRoute', (route) => {
    const isPublic = route.config?.public === true || PUBLIC_PREFIXES.some((p) => route.url.startsWith(p));
    if (!isPublic && !route.config?.action) throw new Error(`Route ${String(route.method)} ${route.url} declares no action`);
  });

  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    if (!config.action) return;
    request.principal = mode === 'local-operator' ? LOCAL_OPERATOR : await platform.apiKeys.authenticate(bearerToken(request));
    if (config.scope === 'global') {
      authorize(request.principal, config.action);
      return;
    }
    const header = request.headers[SANDBOX_HEADER];
    const sandbox = (Array.isArray(header) ? header[0] : header) ?? PRODUCTION_SANDBOX;
    // Scope before existence: a key limited to other sandboxes learns nothing about this one.
    authorize(request.principal, config.action, sandbox);
    await platform.sandboxes.get(sandbox);
    request.sandbox = sandbox;
  });
}
