/**
 * Query schedule routes (reference §6.2): create, list, read, patch (enable/disable or JSON-Patch-like changes),
 * delete (only when not enabled), the run history, one run, and trigger now. Changes answer 202 as in the
 * reference.
 */
import { Type } from 'typebox';
import type { Platform } from '../../platform/platform.ts';
import { RunList, RunsQuery, RunView, ScheduleBody, ScheduleList, SchedulePatch, ScheduleView } from '../../query/schedules/payloads.ts';
import { ListQuery, nextLink } from '../../query/templates/listing.ts';
import { Accepted } from '../../query/templates/payloads.ts';
import type { App } from '../app.ts';

const tags = ['schedules'];
const read = { action: 'query:read' as const };
const write = { action: 'query:write' as const };
const IdParams = Type.Object({ id: Type.String({ description: 'Schedule id' }) });
const RunParams = Type.Object({ id: Type.String(), runId: Type.String() });

export function scheduleRoutes(app: App, platform: Platform): void {
  const schedules = platform.schedules;
  app.get(
    '/schedules',
    { config: read, schema: { tags, summary: 'List query schedules', querystring: ListQuery, response: { 200: ScheduleList } } },
    async (req) => {
      const page = await schedules.list(req.sandbox, req.query);
      return { schedules: page.items.map((s) => schedules.view(s)), _page: page.page, _links: nextLink('/schedules', req.query, page.page) };
    },
  );
  app.post(
    '/schedules',
    { config: write, schema: { tags, summary: 'Schedule a template or inline SQL', body: ScheduleBody, response: { 202: ScheduleView } } },
    async (req, reply) => reply.status(202).send(schedules.view(await schedules.create(req.principal, req.sandbox, req.body))),
  );
  app.get(
    '/schedules/job-kinds',
    { config: read, schema: { tags, summary: 'Job kinds a schedule can run instead of SQL (give `job: { kind, params }` when creating it)', response: { 200: Type.Object({ kinds: Type.Array(Type.Object({ kind: Type.String(), description: Type.String() })) }) } } },
    () => Promise.resolve({ kinds: platform.jobs.list() }),
  );
  app.get('/schedules/:id', { config: read, schema: { tags, params: IdParams, response: { 200: ScheduleView } } }, async (req) =>
    schedules.view(await schedules.get(req.sandbox, req.params.id)),
  );
  app.patch(
    '/schedules/:id',
    {
      config: write,
      schema: {
        tags,
        summary: 'Enable, disable or change a schedule',
        params: IdParams,
        body: SchedulePatch,
        response: { 202: Type.Object({ message: Type.String(), statusCode: Type.Integer(), schedule: ScheduleView }) },
      },
    },
    async (req, reply) => {
      const updated = await schedules.patch(req.principal, req.sandbox, req.params.id, req.body);
      return reply.status(202).send({ message: 'Request to patch accepted', statusCode: 202, schedule: schedules.view(updated) });
    },
  );
  app.delete(
    '/schedules/:id',
    { config: write, schema: { tags, summary: 'Delete a schedule and its run history (disable it first)', params: IdParams, response: { 202: Accepted } } },
    async (req, reply) => {
      await schedules.delete(req.principal, req.sandbox, req.params.id);
      return reply.status(202).send({ message: 'Deleted', statusCode: 202 });
    },
  );
  app.get(
    '/schedules/:id/runs',
    { config: read, schema: { tags, summary: 'Run history, newest first', params: IdParams, querystring: RunsQuery, response: { 200: RunList } } },
    async (req) => {
      const start = req.query.start ?? 0;
      const limit = req.query.limit ?? 20;
      const runs = await schedules.runs(req.sandbox, req.params.id, { start, limit });
      return { runs: runs.map((r) => schedules.runView(r)), _page: { start, limit, count: runs.length } };
    },
  );
  app.post(
    '/schedules/:id/runs',
    { config: write, schema: { tags, summary: 'Trigger a run now', params: IdParams, response: { 202: RunView } } },
    async (req, reply) => reply.status(202).send(schedules.runView(await schedules.trigger(req.principal, req.sandbox, req.params.id))),
  );
  app.get('/schedules/:id/runs/:runId', { config: read, schema: { tags, params: RunParams, response: { 200: RunView } } }, async (req) =>
    schedules.runView(await schedules.run(req.sandbox, req.params.id, req.params.runId)),
  );
}
