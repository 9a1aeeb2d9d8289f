/**
 * Public tracking routes (`config: { public: true }`, no API key): the open pixel, click redirects and the
 * unsubscribe page of campaign email. The signed token in the path is the only credential and names the
 * sandbox; a bad token is a 404 that says nothing more. Unsubscribing takes a POST — the page's button, or a
 * mail client's RFC 8058 one-click `List-Unsubscribe=One-Click` — so link scanners that fetch every URL of a
 * message (GET) cannot unsubscribe anyone.
 */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { escapeHtml } from '../../campaigns/template.ts';
import { PIXEL, type Hit } from '../../campaigns/tracking.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const tags = ['tracking'];
const publicRoute = { public: true };
/** Wildcard paths: a token is longer than the router's limit for a named parameter (100 characters). */
const TokenParams = Type.Object({ '*': Type.String({ minLength: 1, maxLength: 1024 }) });

const hitOf = (req: FastifyRequest): Hit => ({ ip: req.ip, userAgent: req.headers['user-agent'] });

const page = (title: string, body: string): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title></head><body style="font-family:sans-serif;max-width:32rem;margin:3rem auto">${body}</body></html>`;

export function trackingRoutes(app: App, platform: Platform): void {
  const tracking = platform.campaigns.tracking;
  void app.register((scope: App, _options, done) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, parsed) => parsed(null, Object.fromEntries(new URLSearchParams(body as string))));
    scope.get('/t/o/*', { config: publicRoute, logLevel: 'warn', schema: { tags, summary: 'Open-tracking pixel (a 1×1 GIF)', params: TokenParams } }, async (req, reply) => {
      await tracking.open(req.params['*'], hitOf(req));
      return reply.header('content-type', 'image/gif').header('cache-control', 'no-store, max-age=0').send(PIXEL);
    });
    scope.get('/t/c/*', { config: publicRoute, logLevel: 'warn', schema: { tags, summary: "Click redirect to one of the campaign's own links", params: TokenParams } }, async (req, reply) => {
      const url = await tracking.click(req.params['*'], hitOf(req));
      return reply.header('cache-control', 'no-store').redirect(url, 302);
    });
    scope.get('/t/u/*', { config: publicRoute, schema: { tags, summary: 'Unsubscribe page (confirms with a POST)', params: TokenParams } }, async (req, reply) => {
      const action = `/t/u/${encodeURIComponent(req.params['*'])}`;
      return reply
        .header('content-type', 'text/html; charset=utf-8')
        .send(page('Unsubscribe', `<h1>Unsubscribe</h1><p>Stop receiving marketing email from us?</p><form method="post" action="${escapeHtml(action)}"><button type="submit">Unsubscribe</button></form>`));
    });
    scope.post(
      '/t/u/*',
      { config: publicRoute, schema: { tags, summary: 'Unsubscribe (the page button, or RFC 8058 one-click)', params: TokenParams } },
      async (req, reply) => {
        const body = req.body as Record<string, unknown> | undefined;
        const reason = typeof body?.reason === 'string' ? body.reason : undefined;
        const { email } = await tracking.unsubscribe(req.params['*'], hitOf(req), reason);
        return reply.header('content-type', 'text/html; charset=utf-8').send(page('Unsubscribed', `<h1>You are unsubscribed</h1><p>${escapeHtml(email)} will not receive marketing email from us any more.</p>`));
      },
    );
    done();
  });
}
