/**
 * Audience routes in the reference's shape (§10.3): `/segment/definitions` (PQL definitions with
 * evaluationInfo and merge policy), `/segment/jobs` (batch evaluation with statuses and metrics), `/preview`
 * and `/estimate` (sampled estimates with a 95% interval and paginated previews), members and trends of an
 * audience, external audiences from a CSV upload, and the streaming evaluator's latency. Reads need
 * `audience:read`, everything that saves or evaluates `audience:write`.
 */
import { Type } from 'typebox';
import {
  DefinitionBody,
  DefinitionListQuery,
  DefinitionPatch,
  DefinitionView,
  EstimateBody,
  EstimateView,
  ExternalBody,
  ExternalView,
  JobBody,
  JobView,
  MembersQuery,
  MembersView,
  PageQuery,
  PreviewBody,
  PreviewView,
  StreamingStatsView,
  TrendView,
} from '../../audiences/payloads.ts';
import { definitionView } from '../../audiences/definitions.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const tags = ['audiences'];
const read = { action: 'audience:read' as const };
const write = { action: 'audience:write' as const };
const IdParams = Type.Object({ id: Type.String() });

export function segmentRoutes(app: App, platform: Platform): void {
  const audiences = platform.audiences;

  // Definitions --------------------------------------------------------------------------------------------
  app.post(
    '/segment/definitions',
    { config: write, schema: { tags, summary: 'Create a segment definition (PQL); parsed on save, streaming/edge refused when not eligible', body: DefinitionBody, response: { 201: DefinitionView } } },
    async (req, reply) => reply.status(201).send(definitionView(await audiences.definitions.create(req.principal, req.sandbox, req.body))),
  );
  app.get(
    '/segment/definitions',
    { config: read, schema: { tags, summary: 'Segment definitions, newest first; filter by evaluationInfo.*.enabled', querystring: DefinitionListQuery, response: { 200: Type.Object({ segments: Type.Array(DefinitionView), page: Type.Object({ totalCount: Type.Integer() }) }) } } },
    async (req) => {
      const q = req.query;
      const filters: [keyof typeof q, 'batch' | 'continuous' | 'synchronous'][] = [
        ['evaluationInfo.batch.enabled', 'batch'],
        ['evaluationInfo.continuous.enabled', 'continuous'],
        ['evaluationInfo.synchronous.enabled', 'synchronous'],
      ];
      const list = (await audiences.definitions.list(req.sandbox, q.limit)).filter((d) => filters.every(([key, method]) => q[key] === undefined || d.body.evaluationInfo[method] === q[key]));
      return { segments: list.map(definitionView), page: { totalCount: list.length } };
    },
  );
  app.get('/segment/definitions/:id', { config: read, schema: { tags, params: IdParams, response: { 200: DefinitionView } } }, async (req) =>
    definitionView(await audiences.definitions.get(req.sandbox, req.params.id)),
  );
  app.patch(
    '/segment/definitions/:id',
    { config: write, schema: { tags, summary: 'Change a segment definition (re-parsed and re-checked)', params: IdParams, body: DefinitionPatch, response: { 200: DefinitionView } } },
    async (req) => definitionView(await audiences.definitions.update(req.principal, req.sandbox, req.params.id, req.body)),
  );
  app.delete('/segment/definitions/:id', { config: write, schema: { tags, summary: 'Delete a segment definition and its memberships', params: IdParams } }, async (req, reply) => {
    await audiences.deleteDefinition(req.principal, req.sandbox, req.params.id);
    return reply.status(204).send();
  });

  // Memberships --------------------------------------------------------------------------------------------
  app.get(
    '/segment/definitions/:id/members',
    { config: read, schema: { tags, summary: 'Members of an audience (realized by default), by profile id, paginated', params: IdParams, querystring: MembersQuery, response: { 200: MembersView } } },
    async (req) => audiences.members(req.sandbox, req.params.id, req.query),
  );
  app.get(
    '/segment/definitions/:id/trend',
    { config: read, schema: { tags, summary: 'Entries, exits and members per day, from the membership history', params: IdParams, response: { 200: TrendView } } },
    async (req) => audiences.trend(req.sandbox, req.params.id),
  );
  app.post(
    '/segment/definitions/:id/estimate',
    { config: write, schema: { tags, summary: 'Estimate the audience size from a sample (95% interval); its previewId pages the matching profiles', params: IdParams, body: Type.Optional(EstimateBody), response: { 200: EstimateView } } },
    async (req) => audiences.estimateDefinition(req.principal, req.sandbox, req.params.id, req.body?.sampleSize),
  );

  // Jobs ---------------------------------------------------------------------------------------------------
  app.post(
    '/segment/jobs',
    { config: write, schema: { tags, summary: 'Evaluate segments now (batch); the job runs in the background — poll GET /segment/jobs/{id}', body: JobBody, response: { 200: JobView } } },
    async (req) => audiences.jobs.create(req.principal, req.sandbox, req.body),
  );
  app.get('/segment/jobs', { config: read, schema: { tags, summary: 'Segment jobs, newest first', response: { 200: Type.Object({ children: Type.Array(JobView) }) } } }, async (req) => ({
    children: await audiences.jobs.list(req.sandbox),
  }));
  app.get('/segment/jobs/:id', { config: read, schema: { tags, params: IdParams, response: { 200: JobView } } }, async (req) => audiences.jobs.get(req.sandbox, req.params.id));
  app.delete('/segment/jobs/:id', { config: write, schema: { tags, summary: 'Cancel a job that has not started', params: IdParams, response: { 200: JobView } } }, async (req) =>
    audiences.jobs.cancel(req.principal, req.sandbox, req.params.id),
  );

  // Previews and estimates ---------------------------------------------------------------------------------
  app.post(
    '/preview',
    { config: write, schema: { tags, summary: 'Run a sample job for a PQL expression; returns its estimate (state RESULT_READY) and previewId', body: PreviewBody, response: { 201: EstimateView } } },
    async (req, reply) => reply.status(201).send(await audiences.preview(req.principal, req.sandbox, req.body)),
  );
  app.get(
    '/preview/:id',
    { config: read, schema: { tags, summary: 'A page of the matching sampled profiles', params: IdParams, querystring: PageQuery, response: { 200: PreviewView } } },
    async (req) => audiences.previewPage(req.sandbox, req.params.id, req.query.offset ?? 0, req.query.limit ?? 50),
  );
  app.get('/estimate/:id', { config: read, schema: { tags, summary: 'The estimate of a preview', params: IdParams, response: { 200: EstimateView } } }, async (req) => {
    const { mergePolicyId: _policy, ...estimate } = await audiences.estimates.get(req.sandbox, req.params.id);
    return estimate;
  });

  // External audiences and streaming -----------------------------------------------------------------------
  app.post(
    '/audiences/external',
    { config: write, schema: { tags, summary: 'Create an audience from a CSV of identities (one namespace); members are the profiles they resolve to', body: ExternalBody, response: { 201: ExternalView } } },
    async (req, reply) => reply.status(201).send(await audiences.createExternal(req.principal, req.sandbox, req.body)),
  );
  app.get(
    '/segment/streaming/stats',
    { config: read, schema: { tags, summary: 'Streaming evaluation: evaluations, changes and latency from commit to membership change', response: { 200: StreamingStatsView } } },
    () => Promise.resolve(audiences.streaming.stats()),
  );
}
