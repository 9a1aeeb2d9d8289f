/**
 * Query routes: run Data Distiller SQL (ad hoc), read the query log, cancel a running query.
 */
import { Type } from 'typebox';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const tags = ['queries'];
const Column = Type.Object({ name: Type.String(), type: Type.String() });
const StatementResult = Type.Object({
  statement: Type.String(),
  kind: Type.String(),
  columns: Type.Array(Column),
  rows: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  rowCount: Type.Integer(),
  truncated: Type.Boolean(),
  message: Type.Optional(Type.String()),
});
const QueryBody = Type.Object(
  {
    sql: Type.String({ minLength: 1, maxLength: 1_000_000, description: 'One or more statements or anonymous blocks' }),
    params: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "Values for '$NAME' placeholders" })),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Rows to return (default 100, at most 500)' })),
  },
  { additionalProperties: false },
);
const LogEntry = Type.Object({
  id: Type.String(),
  sql: Type.String(),
  params: Type.Unknown(),
  actor: Type.String(),
  client: Type.String(),
  executionClass: Type.String(),
  status: Type.String(),
  rowCount: Type.Union([Type.Integer(), Type.Null()]),
  errorCode: Type.Union([Type.String(), Type.Null()]),
  errorMessage: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.String(),
  endedAt: Type.Union([Type.String(), Type.Null()]),
  durationMs: Type.Union([Type.Integer(), Type.Null()]),
});

export function queryRoutes(app: App, platform: Platform): void {
  app.post(
    '/queries',
    {
      config: { action: 'query:read' },
      schema: {
        tags,
        summary: 'Run SQL (Data Distiller dialect); writes need query:write',
        body: QueryBody,
        response: { 200: Type.Object({ queryId: Type.String(), durationMs: Type.Number(), results: Type.Array(StatementResult), last: StatementResult }) },
      },
    },
    async (req) => platform.queries.execute(req.principal, req.sandbox, req.body.sql, { params: req.body.params, maxRows: req.body.limit, client: 'api' }),
  );
  app.get(
    '/queries',
    {
      config: { action: 'query:read' },
      schema: { tags, summary: 'The query log, newest first', querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }), response: { 200: Type.Object({ queries: Type.Array(LogEntry) }) } },
    },
    async (req) => ({ queries: await platform.queries.log(req.sandbox, { limit: req.query.limit }) }),
  );
  app.get(
    '/queries/:id',
    { config: { action: 'query:read' }, schema: { tags, params: Type.Object({ id: Type.String() }), response: { 200: LogEntry } } },
    async (req) => platform.queries.get(req.sandbox, req.params.id),
  );
  app.delete(
    '/queries/:id',
    { config: { action: 'query:read' }, schema: { tags, summary: 'Cancel a running query', params: Type.Object({ id: Type.String() }), response: { 200: Type.Object({ cancelled: Type.Boolean() }) } } },
    async (req) => ({ cancelled: await platform.queries.cancel(req.principal, req.sandbox, req.params.id) }),
  );
}
