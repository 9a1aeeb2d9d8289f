/**
 * Identity graph routes: the graph of an identity, removed links (unlink, list, relink), refused links,
 * graph settings and guardrails, statistics, and a rebuild from the datasets.
 */
import { Type } from 'typebox';
import {
  GraphSettingsPatch,
  GraphSettingsView,
  GraphStatsView,
  GraphView,
  IdentityQuery,
  RefusalView,
  UnlinkBody,
  UnlinkResult,
  UnlinkView,
} from '../../identity/payloads.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const tags = ['identity'];
const read = { action: 'profile:read' as const };
const write = { action: 'profile:write' as const };

export function identityRoutes(app: App, platform: Platform): void {
  const { identity } = platform;
  app.get(
    '/identity/graph',
    { config: read, schema: { tags, summary: 'The identity graph an identity belongs to', querystring: IdentityQuery, response: { 200: GraphView } } },
    async (req) => identity.view(req.sandbox, req.query),
  );
  app.get('/identity/stats', { config: read, schema: { tags, summary: 'Identities, graphs, refused links, settings', response: { 200: GraphStatsView } } }, async (req) =>
    identity.stats(req.sandbox),
  );
  app.get(
    '/identity/refusals',
    {
      config: read,
      schema: {
        tags,
        summary: 'Links the guardrails refused (unique namespace, graph size, unlinked)',
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })), offset: Type.Optional(Type.Integer({ minimum: 0 })) }),
        response: { 200: Type.Object({ refusals: Type.Array(RefusalView) }) },
      },
    },
    async (req) => ({ refusals: await identity.refusals(req.sandbox, req.query) }),
  );
  app.post(
    '/identity/unlink',
    { config: write, schema: { tags, summary: 'Remove the link between two identities (splits the profile)', body: UnlinkBody, response: { 201: UnlinkResult } } },
    async (req, reply) => reply.status(201).send(await identity.unlink(req.principal, req.sandbox, req.body.a, req.body.b)),
  );
  app.get('/identity/unlinks', { config: read, schema: { tags, summary: 'Removed links', response: { 200: Type.Object({ unlinks: Type.Array(UnlinkView) }) } } }, async (req) => ({
    unlinks: await identity.unlinks(req.sandbox),
  }));
  app.delete(
    '/identity/unlinks/:id',
    {
      config: write,
      schema: { tags, summary: 'Undo an unlink (relink)', params: Type.Object({ id: Type.String() }), response: { 200: Type.Object({ graphs: Type.Array(GraphView) }) } },
    },
    async (req) => ({ graphs: await identity.relink(req.principal, req.sandbox, req.params.id) }),
  );
  app.get('/identity/settings', { config: read, schema: { tags, summary: 'Graph guardrails and normalisation settings', response: { 200: GraphSettingsView } } }, async (req) =>
    identity.settings(req.sandbox),
  );
  app.put(
    '/identity/settings',
    { config: write, schema: { tags, summary: 'Change graph settings (rebuilds the graph)', body: GraphSettingsPatch, response: { 200: GraphSettingsView } } },
    async (req) => identity.updateSettings(req.principal, req.sandbox, req.body),
  );
  app.post('/identity/rebuild', { config: write, schema: { tags, summary: 'Rebuild the graph from the datasets', response: { 200: GraphStatsView } } }, async (req) =>
    identity.rebuild(req.principal, req.sandbox),
  );
}
