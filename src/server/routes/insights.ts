/**
 * Insights routes: the accelerated-queries API (`POST /data/foundation/query/accelerated-queries`, reference
 * §7.3; also `POST /insights/accelerated-queries`), data models with their tables and sample records, and the
 * CDPInsights refresh with its run records.
 */
import { Type } from 'typebox';
import { RoundtripError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import { AcceleratedQueryBody, AcceleratedQueryView, DataModelView, RefreshBody, RefreshRunView, SampleQuery, type AcceleratedQueryBodyT } from '../../insights/payloads.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const tags = ['insights'];
const read = { action: 'dashboard:read' as const };
const write = { action: 'query:write' as const };

/** XDM type names of the reference's `resultsMeta` from DuckDB type names. */
function xdmType(type: string): string {
  const t = type.toUpperCase();
  if (/INT/.test(t)) return 'integer';
  if (/DOUBLE|FLOAT|DECIMAL|REAL/.test(t)) return 'number';
  if (t === 'BOOLEAN') return 'boolean';
  if (t === 'DATE') return 'date';
  if (t.startsWith('TIMESTAMP')) return 'date-time';
  return 'string';
}

export function insightsRoutes(app: App, platform: Platform): void {
  const insights = platform.insights;
  const accelerated = async (req: { principal: Parameters<typeof insights.query>[0]; sandbox: string; body: AcceleratedQueryBodyT }) => {
    const body = req.body;
    if (body.dbName !== undefined && body.dbName.split(':')[0] !== req.sandbox) {
      throw new RoundtripError('RT_INSIGHTS_QUERY_INVALID', `dbName names sandbox "${body.dbName.split(':')[0]}", the request is for "${req.sandbox}".`);
    }
    if ((body.sql === undefined) === (body.templateId === undefined)) throw new RoundtripError('RT_INSIGHTS_QUERY_INVALID', 'Send either `sql` or `templateId`, not both and not neither.');
    const params = body.queryParameters ?? {};
    const result = await insights.query(req.principal, req.sandbox, body.sql !== undefined ? { sql: body.sql, params } : { templateId: body.templateId!, params });
    const properties = Object.fromEntries(result.columns.map((c) => [c.name, { type: xdmType(c.type) === 'integer' ? 'integer' : xdmType(c.type) === 'number' ? 'number' : xdmType(c.type) === 'boolean' ? 'boolean' : 'string', meta: { xdmType: xdmType(c.type) } }]));
    return {
      queryId: newId('aq'),
      resultsMeta: { _adhoc: { type: 'object' as const, meta: { xdmType: 'object' as const }, properties } },
      results: result.rows,
      cached: result.cached,
      ms: result.ms,
      request: { ...(body.dbName ? { dbName: body.dbName } : {}), ...(body.sql ? { sql: body.sql } : {}), ...(body.templateId ? { templateId: body.templateId } : {}), ...(body.name ? { name: body.name } : {}) },
    };
  };
  for (const url of ['/data/foundation/query/accelerated-queries', '/insights/accelerated-queries']) {
    app.post(
      url,
      { config: read, schema: { tags, summary: 'Run one SELECT (sql xor templateId) on the accelerated store: 4 at a time per sandbox, cached until its tables change', body: AcceleratedQueryBody, response: { 200: AcceleratedQueryView } } },
      async (req) => accelerated(req),
    );
  }
  app.get('/insights/models', { config: read, schema: { tags, summary: 'Data models of the accelerated store (CDPInsights and custom ones)', response: { 200: Type.Object({ models: Type.Array(DataModelView) }) } } }, async (req) => ({
    models: await insights.models.list(req.sandbox),
  }));
  app.get(
    '/insights/models/:name',
    { config: read, schema: { tags, summary: 'One data model with its tables, types, keys, lookups and record counts', params: Type.Object({ name: Type.String() }), response: { 200: DataModelView } } },
    async (req) => insights.models.get(req.sandbox, req.params.name),
  );
  app.get(
    '/insights/tables/:table/sample',
    {
      config: read,
      schema: { tags, summary: 'Sample records of a model table (database.schema.table)', params: Type.Object({ table: Type.String() }), querystring: SampleQuery, response: { 200: Type.Object({ records: Type.Array(Type.Record(Type.String(), Type.Unknown())) }) } },
    },
    async (req) => ({ records: await insights.sample(req.sandbox, req.params.table, req.query.limit ?? 20) }),
  );
  app.post(
    '/insights/models/:name/refresh',
    { config: write, schema: { tags, summary: 'Refresh CDPInsights: incremental from its checkpoints, or full; atomic', params: Type.Object({ name: Type.String() }), body: RefreshBody, response: { 200: RefreshRunView } } },
    async (req) => insights.refresh(req.principal, req.sandbox, req.params.name, req.body ?? {}),
  );
  app.get(
    '/insights/refresh-runs',
    { config: read, schema: { tags, summary: 'Refresh runs of the sandbox, newest first', response: { 200: Type.Object({ runs: Type.Array(RefreshRunView) }) } } },
    async (req) => ({ runs: await insights.runs(req.sandbox) }),
  );
}
