/**
 * System routes: the unauthenticated health check and the OpenAPI document.
 */
import { Type } from 'typebox';
import type { App } from '../app.ts';

export function systemRoutes(app: App): void {
  app.get(
    '/health',
    { config: { public: true }, schema: { tags: ['system'], summary: 'Liveness check (no key needed)', security: [], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    () => ({ status: 'ok' as const }),
  );
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, () => app.swagger());
}
