/**
 * The insights service: what `platform.insights` exposes — data models of the accelerated store, sample rows,
 * accelerated queries (`accelerated-queries.ts`) and CDPInsights refreshes (`refresh.ts`), with run records
 * in the metadata documents (kind `insights-refresh-run`) and audit entries.
 */
import type { AuditLog } from '../access/audit.ts';
import { ensureMembershipTables } from '../audiences/membership-tables.ts';
import { authorize, type Principal } from '../access/principal.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { catalogEntry } from '../destinations/catalog.ts';
import { ACCOUNT_KIND } from '../destinations/service.ts';
import type { IdentityGraph } from '../identity/graph.ts';
import type { MetadataStore } from '../ports/metadata-store.ts';
import type { JsonValue, Warehouse } from '../ports/warehouse.ts';
import type { MergePolicies } from '../profile/merge-policies.ts';
import type { QueryService } from '../query/query-service.ts';
import { substituteParams } from '../query/rewrite.ts';
import type { QueryTemplates } from '../query/templates/templates.ts';
import { AcceleratedQueries } from './accelerated-queries.ts';
import { CDP_MODEL, CDP_SCHEMA, CDP_TABLES } from './cdp-model.ts';
import { listModels, sampleRows, type ModelInfo } from './models.ts';
import { CdpRefresh, tenantColumn, type ClvSource } from './refresh.ts';
import type { AcceleratedQueryRequest, AcceleratedQueryResult, DataModelView, RefreshOptions, RefreshRun } from './types.ts';

export interface InsightsDeps {
  metadata: MetadataStore;
  warehouse: Warehouse;
  queries: QueryService;
  queryTemplates: QueryTemplates;
  identity: IdentityGraph;
  mergePolicies: MergePolicies;
  audit: AuditLog;
  clock: Clock;
}

export const RUN_KIND = 'insights-refresh-run';
const ACCELERATED_ROW_CAP = 50_000;

/** `${name}` placeholders of the CDPInsights widget templates, next to the query service's `$NAME`. */
function braceParams(sql: string, params: Record<string, string>): string {
  return sql.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => params[name] ?? params[`$${name}`] ?? whole);
}

export class InsightsService {
  readonly accelerated: AcceleratedQueries;
  /** Test hook: runs before every refresh step (`setup`, `profiles`, …, `commit`); throwing aborts the refresh. */
  beforeRefreshStep: (step: string) => Promise<void> | void = () => undefined;
  private readonly refreshing = new Map<string, Promise<unknown>>();
  /** Models other domains publish in their own accelerated schema (`database.schema` → name, description). */
  private readonly named = new Map<string, ModelInfo>();

  readonly models = {
    list: (sandbox: string): Promise<DataModelView[]> => this.withWarehouse(sandbox, (w) => listModels(w, this.refreshedAt(sandbox), this.named)),
    get: async (sandbox: string, name: string): Promise<DataModelView> => {
      const found = (await this.models.list(sandbox)).find((m) => m.name.toLowerCase() === name.toLowerCase() || m.schema === name.toLowerCase());
      if (!found) throw new RoundtripError('RT_INSIGHTS_MODEL_NOT_FOUND', `No data model "${name}" in sandbox ${sandbox}.`);
      return found;
    },
  };

  constructor(readonly deps: InsightsDeps) {
    this.accelerated = new AcceleratedQueries(deps.warehouse, deps.queries);
  }

  /** Names a model kept in `schema` by another domain (its tables and keys are read like any other model's). */
  registerModel(schema: string, info: ModelInfo): void {
    this.named.set(schema.toLowerCase(), info);
  }

  private async withWarehouse<T>(sandbox: string, work: (w: Awaited<ReturnType<Warehouse['sandbox']>>) => Promise<T>): Promise<T> {
    return work(await this.deps.warehouse.sandbox(sandbox));
  }

  private async refreshedAt(sandbox: string): Promise<string | null> {
    const runs = await this.deps.metadata.documents.list<RefreshRun & Record<string, JsonValue>>(sandbox, RUN_KIND, { limit: 20 });
    return runs.map((r) => r.body).find((r) => r.status === 'success')?.endedAt ?? null;
  }

  /** Rows of a model table (qualified `database.schema.table`). */
  async sample(sandbox: string, table: string, limit = 20): Promise<Record<string, JsonValue>[]> {
    return this.withWarehouse(sandbox, (w) => sampleRows(w, table, Math.min(Math.max(limit, 0), 1000)));
  }

  /** The accelerated-queries API: `sql` xor `templateId` (+ `params`), read-only, on accelerated tables. */
  async query(principal: Principal, sandbox: string, request: AcceleratedQueryRequest): Promise<AcceleratedQueryResult> {
    authorize(principal, 'dashboard:read', sandbox);
    const hasSql = typeof request.sql === 'string';
    const hasTemplate = typeof request.templateId === 'string';
    if (hasSql === hasTemplate) throw new RoundtripError('RT_INSIGHTS_QUERY_INVALID', 'Send either `sql` or `templateId`, not both and not neither.');
    let sql: string;
    let params = request.params ?? {};
    if (hasTemplate) {
      const template = await this.deps.queryTemplates.get(sandbox, request.templateId);
      params = { ...Object.fromEntries(Object.entries(template.queryParameters ?? {}).map(([k, v]) => [k.replace(/^\$/, ''), typeof v === 'string' ? v : JSON.stringify(v)])), ...params };
      sql = template.sql;
    } else sql = request.sql!;
    sql = braceParams(sql, params);
    if (/\$[A-Za-z_]/.test(sql)) sql = substituteParams(sql, params);
    return this.accelerated.run(principal, sandbox, sql, ACCELERATED_ROW_CAP);
  }

  /** Refreshes a model (CDPInsights): incremental from the checkpoints unless `full`; one at a time per sandbox. */
  async refresh(principal: Principal, sandbox: string, model: string, options: RefreshOptions = {}): Promise<RefreshRun> {
    authorize(principal, 'query:write', sandbox);
    if (model.toLowerCase() !== CDP_MODEL.toLowerCase()) {
      throw new RoundtripError('RT_INSIGHTS_MODEL_NOT_FOUND', `Only the built-in ${CDP_MODEL} model is refreshed by the platform; custom models are tables you write with SQL.`);
    }
    const previous = this.refreshing.get(sandbox) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.refreshNow(principal, sandbox, options));
    this.refreshing.set(sandbox, run);
    try {
      return await run;
    } finally {
      if (this.refreshing.get(sandbox) === run) this.refreshing.delete(sandbox);
    }
  }

  /** The refresh runs of the sandbox, newest first. */
  async runs(sandbox: string, limit = 50): Promise<RefreshRun[]> {
    const docs = await this.deps.metadata.documents.list<RefreshRun & Record<string, JsonValue>>(sandbox, RUN_KIND, { limit });
    return docs.map((d) => d.body);
  }

  private async refreshNow(principal: Principal, sandbox: string, options: RefreshOptions): Promise<RefreshRun> {
    const { deps } = this;
    const started = deps.clock.now();
    const processDate = options.processDate ?? started.toISOString().slice(0, 10);
    const run: RefreshRun = {
      id: newId('irf'),
      sandbox,
      model: CDP_MODEL,
      mode: options.full ? 'full' : 'incremental',
      status: 'running',
      processDate,
      checkpoints: [],
      datesRecomputed: 0,
      profilesRecomputed: 0,
      steps: [],
      startedAt: started.toISOString(),
      endedAt: null,
      ms: null,
      actor: principal.id,
      error: null,
    };
    const at = isoNow(deps.clock);
    await deps.metadata.documents.create({ sandbox, kind: RUN_KIND, id: run.id, parentId: null, body: run as unknown as JsonValue, createdAt: at, updatedAt: at });
    const t0 = performance.now();
    // With ROUNDTRIP_INSIGHTS_TRACE set, the time of each phase around the refresh's statements too.
    const phase = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const out = await work();
      if (process.env.ROUNDTRIP_INSIGHTS_TRACE) console.error(`[insights] ${(performance.now() - started).toFixed(1).padStart(8)} ms  (${name})`);
      return out;
    };
    try {
      await phase('identity sync', () => deps.identity.sync(sandbox));
      const warehouse = await deps.warehouse.sandbox(sandbox);
      await phase('membership tables', () => ensureMembershipTables(warehouse));
      const session = await warehouse.openSession();
      try {
        const input = await phase('refresh input', () => this.refreshInput(sandbox, session, processDate, Boolean(options.full)));
        const outcome = await phase('refresh', () => new CdpRefresh(input).run());
        Object.assign(run, outcome, { status: 'success' });
      } finally {
        session.close();
      }
      this.accelerated.invalidate(sandbox, Object.keys(CDP_TABLES).map((t) => `${CDP_SCHEMA}.${t}`));
    } catch (error) {
      const failure = error instanceof RoundtripError ? error : new RoundtripError('RT_INSIGHTS_REFRESH_FAILED', (error as Error).message);
      run.status = 'failed';
      run.error = { code: failure.code, message: failure.message };
    }
    run.endedAt = isoNow(deps.clock);
    run.ms = Math.round(performance.now() - t0);
    await deps.metadata.documents.update(sandbox, RUN_KIND, run.id, run as unknown as JsonValue, { updatedAt: run.endedAt });
    await deps.audit.record(principal, { sandbox, action: 'insights.refresh', resourceType: 'insights-model', resourceId: CDP_MODEL, details: { runId: run.id, mode: run.mode, status: run.status } });
    if (run.error) throw new RoundtripError('RT_INSIGHTS_REFRESH_FAILED', `The ${CDP_MODEL} refresh failed and was rolled back (${run.error.code}: ${run.error.message}); the previous model is still in place.`, { runId: run.id });
    return run;
  }

  private async refreshInput(sandbox: string, session: Awaited<ReturnType<Awaited<ReturnType<Warehouse['sandbox']>>['openSession']>>, processDate: string, full: boolean) {
    const { deps } = this;
    const policies = (await deps.mergePolicies.list(sandbox)).filter((p) => p.classId === 'profile');
    const datasets = (await deps.metadata.datasets.list(sandbox)).filter((d) => d.profileEnabled);
    const sources = [];
    for (const dataset of datasets) {
      const snapshots = (await deps.metadata.snapshots.list(sandbox, dataset.id))
        .filter((s) => s.status === 'committed')
        .map((s) => ({ snapshotId: s.snapshotId, date: (s.committedAt ?? s.createdAt).slice(0, 10) }));
      sources.push({ dataset, snapshots });
    }
    const clv: ClvSource[] = [];
    const warehouse = await deps.warehouse.sandbox(sandbox);
    for (const [table, field, kind] of [['clv_predictions', 'clvPrediction', 'predictions'], ['clv_attributes', 'clvHistory', 'attributes']] as const) {
      const dataset = datasets.find((d) => d.tableName === table);
      if (!dataset) continue;
      const column = tenantColumn(await warehouse.describeTable(table), field);
      if (column) clv.push({ dataset, column, kind });
    }
    const accounts = await deps.metadata.documents.list<{ name: string; type: string }>(sandbox, ACCOUNT_KIND);
    const destinations = accounts.map((a) => ({ id: a.id, name: a.body.name, type: a.body.type, platform: catalogEntry(a.body.type)?.title ?? a.body.type }));
    return { session, policies, sources, clv, destinations, processDate, full, beforeStep: (step: string) => this.beforeRefreshStep(step) };
  }
}
