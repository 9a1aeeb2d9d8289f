/**
 * The web console: the built single-page app (`web/dist`, made by `npm run build:web`, which `npm ci` runs) at
 * /console/, and `/` redirecting there. The files are public; everything they show comes from the API with the
 * key the user signs in with. Without a build, /console/ says how to make one instead of failing.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { App } from '../app.ts';

export const CONSOLE_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/dist');

export async function consoleRoutes(app: App, dist = CONSOLE_DIST): Promise<void> {
  app.get('/', { config: { public: true }, schema: { hide: true } }, (_req, reply) => reply.redirect('/console/'));
  if (!existsSync(path.join(dist, 'index.html'))) {
    app.get('/console/*', { config: { public: true }, schema: { hide: true } }, (_req, reply) =>
      reply.status(503).type('text/plain').send('The console is not built: run `npm run build:web` (npm ci does it) and restart the server.'),
    );
    return;
  }
  await app.register(fastifyStatic, { root: dist, prefix: '/console/', index: 'index.html', wildcard: true, schemaHide: true, maxAge: '1h', immutable: false });
}
