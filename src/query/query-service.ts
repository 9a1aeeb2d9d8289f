/**
 * The query service: runs Data Distiller SQL for one principal in one sandbox. It checks the role, substitutes
 * template parameters, parses the script, and runs it on one warehouse session with the dialect's macros,
 * under the execution class's time-out and row cap, at most `queryConcurrency` at a time per sandbox (others
 * queue). Every run is in the query log (text, parameters, who, duration, rows, status) and can be cancelled.
 */
import { authorize, type Principal } from '../access/principal.ts';
import { can } from '../access/roles.ts';
import type { Datasets } from '../catalog/datasets.ts';
import type { SchemaRegistry } from '../catalog/schema-registry.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { MetadataStore, QueryLogRecord } from '../ports/metadata-store.ts';
import { HOT_CATALOG, type Warehouse, type WarehouseSession } from '../ports/warehouse.ts';
import { AcceleratedWrites, dataGroupSchemas } from './accelerated.ts';
import { ScriptExecutor } from './executor.ts';
import { DIALECT_MACROS } from './macros.ts';
import { substituteParams, type CatalogLookups, type HistoryRow, type SnapshotBound, type SnapshotClause } from './rewrite.ts';
import { parseScript } from './script.ts';
import type { QueryOptions, QueryOutcome, StatementResult } from './types.ts';
import { Slots } from '../core/slots.ts';

const PGWIRE_ROW_LIMIT = 50_000;


interface Running {
  session: WarehouseSession;
  cancelled: boolean;
  timedOut: boolean;
}

export class QueryService {
  private readonly gates = new Map<string, Slots>();
  private readonly prepared = new Map<string, Promise<ReadonlySet<string>>>();
  private readonly running = new Map<string, Running>();
  /** Writes to accelerated-store tables, announced for result caches (insights). */
  readonly acceleratedWrites = new AcceleratedWrites();

  constructor(
    private readonly config: Config,
    private readonly metadata: MetadataStore,
    private readonly warehouse: Warehouse,
    private readonly datasets: Datasets,
    private readonly registry: SchemaRegistry,
    private readonly clock: Clock,
  ) {}

  private gate(sandbox: string): Slots {
    let gate = this.gates.get(sandbox);
    if (!gate) this.gates.set(sandbox, (gate = new Slots(this.config.queryConcurrency)));
    return gate;
  }

  /** Installs the dialect macros in the sandbox database once per process; returns DuckDB's setting names. */
  private prepare(sandbox: string): Promise<ReadonlySet<string>> {
    let prepared = this.prepared.get(sandbox);
    if (!prepared) {
      prepared = (async () => {
        const warehouse = await this.warehouse.sandbox(sandbox);
        for (const macro of DIALECT_MACROS) await warehouse.query(macro);
        const settings = await warehouse.query(`SELECT lower(name) AS name FROM duckdb_settings()`);
        return new Set(settings.rows.map((r) => r.name as string));
      })();
      this.prepared.set(sandbox, prepared);
      prepared.catch(() => this.prepared.delete(sandbox));
    }
    return prepared;
  }

  private rowCap(options: QueryOptions): number {
    if (options.client === 'pgwire') return Math.min(options.maxRows ?? PGWIRE_ROW_LIMIT, PGWIRE_ROW_LIMIT);
    if (options.executionClass === 'batch') return options.maxRows ?? this.config.queryRowLimit;
    return Math.min(Math.max(options.maxRows ?? this.config.queryRowLimit, 1), this.config.queryMaxRowLimit);
  }

  async execute(principal: Principal, sandbox: string, sql: string, options: QueryOptions = {}): Promise<QueryOutcome> {
    authorize(principal, 'query:read', sandbox);
    const queryId = newId('q');
    const started = this.clock.now();
    const log: QueryLogRecord = {
      sandbox,
      id: queryId,
      sql,
      params: (options.params ?? {}),
      actor: principal.id,
      client: options.client ?? 'api',
      executionClass: options.executionClass ?? 'adhoc',
      status: 'running',
      rowCount: null,
      errorCode: null,
      errorMessage: null,
      startedAt: started.toISOString(),
      endedAt: null,
      durationMs: null,
    };
    await this.metadata.queryLog.create(log);
    const gate = this.gate(sandbox);
    await gate.enter();
    try {
      const results = await this.run(queryId, principal, sandbox, sql, options);
      const last = results[results.length - 1] ?? { statement: '', kind: 'other', columns: [], rows: [], rowCount: 0, truncated: false };
      const durationMs = this.clock.now().getTime() - started.getTime();
      await this.metadata.queryLog.update(sandbox, queryId, { status: 'success', rowCount: last.rowCount, endedAt: isoNow(this.clock), durationMs });
      return { queryId, results, last, durationMs };
    } catch (error) {
      const failure = error instanceof RoundtripError ? error : new RoundtripError('RT_QUERY_FAILED', (error as Error).message);
      const status = failure.code === 'RT_QUERY_TIMEOUT' ? 'timeout' : failure.code === 'RT_QUERY_CANCELLED' ? 'cancelled' : 'failed';
      await this.metadata.queryLog.update(sandbox, queryId, {
        status,
        errorCode: failure.code,
        errorMessage: failure.message,
        endedAt: isoNow(this.clock),
        durationMs: this.clock.now().getTime() - started.getTime(),
      });
      throw failure;
    } finally {
      gate.leave();
    }
  }

  private async run(queryId: string, principal: Principal, sandbox: string, sql: string, options: QueryOptions): Promise<StatementResult[]> {
    const engineSettings = await this.prepare(sandbox);
    const script = parseScript(substituteParams(sql, options.params ?? {}));
    const session = await (await this.warehouse.sandbox(sandbox)).openSession();
    const state: Running = { session, cancelled: false, timedOut: false };
    const settings = new Map<string, string>();
    this.running.set(`${sandbox}/${queryId}`, state);
    const timeoutMs = options.timeoutMs ?? (options.executionClass === 'batch' ? this.config.batchQueryTimeoutMs : this.config.queryTimeoutMs);
    const timer = setTimeout(() => {
      state.timedOut = true;
      session.interrupt();
    }, timeoutMs);
    try {
      const executor = new ScriptExecutor({
        principal,
        sandbox,
        session,
        datasets: this.datasets,
        registry: this.registry,
        metadata: this.metadata,
        lookups: this.lookups(sandbox, session, settings),
        vars: new Map(),
        settings,
        engineSettings,
        canWrite: can(principal.role, 'query:write'),
        maxRows: this.rowCap(options),
        batchId: `query_${queryId}`,
        acceleratedWrites: this.acceleratedWrites,
      });
      return await executor.runScript(script);
    } catch (error) {
      if (state.timedOut) throw new RoundtripError('RT_QUERY_TIMEOUT', `The query ran past its time-out of ${timeoutMs} ms and was stopped.`);
      if (state.cancelled) throw new RoundtripError('RT_QUERY_CANCELLED', 'The query was cancelled.');
      throw error;
    } finally {
      clearTimeout(timer);
      this.running.delete(`${sandbox}/${queryId}`);
      session.close();
    }
  }

  /** Stops a running query of the sandbox; returns false when it is not running (any more). */
  async cancel(principal: Principal, sandbox: string, queryId: string): Promise<boolean> {
    const record = await this.metadata.queryLog.get(sandbox, queryId);
    if (!record) throw new RoundtripError('RT_QUERY_NOT_FOUND', `No query ${queryId} in sandbox ${sandbox}.`);
    if (record.actor !== principal.id) authorize(principal, 'query:write', sandbox);
    const state = this.running.get(`${sandbox}/${queryId}`);
    if (!state) return false;
    state.cancelled = true;
    state.session.interrupt();
    return true;
  }

  log(sandbox: string, filter: { actor?: string; limit?: number } = {}): Promise<QueryLogRecord[]> {
    return this.metadata.queryLog.list(sandbox, { ...filter, limit: Math.min(filter.limit ?? 50, 1000) });
  }

  async get(sandbox: string, queryId: string): Promise<QueryLogRecord> {
    const record = await this.metadata.queryLog.get(sandbox, queryId);
    if (!record) throw new RoundtripError('RT_QUERY_NOT_FOUND', `No query ${queryId} in sandbox ${sandbox}.`);
    return record;
  }

  /** Catalog answers the rewrites need: snapshot history, table existence, SNAPSHOT ranges with expiry. */
  private lookups(sandbox: string, session: WarehouseSession, settings: ReadonlyMap<string, string>): CatalogLookups {
    const history = async (table: string): Promise<HistoryRow[] | undefined> => {
      const dataset = await this.metadata.datasets.getByTable(sandbox, table.toLowerCase());
      if (!dataset) return undefined;
      const committed = (await this.metadata.snapshots.list(sandbox, dataset.id)).filter((s) => s.status === 'committed');
      return committed.map((s, i) => ({
        snapshot_id: s.snapshotId,
        parent_id: i === 0 ? null : committed[i - 1]!.snapshotId,
        is_current: i === committed.length - 1,
        created_at: s.committedAt ?? s.createdAt,
        row_count: s.rowCount,
        batch_id: s.batchId,
      }));
    };
    return {
      historyMeta: history,
      tableExists: async (table) => {
        if (await this.metadata.datasets.getByTable(sandbox, table.toLowerCase())) return true;
        const found = await session.query(`SELECT count(*) AS n FROM duckdb_tables() WHERE lower(table_name) = lower($t)`, { t: table });
        return Number(found.rows[0]?.n ?? 0) > 0;
      },
      snapshotRange: async (table, clause) => {
        const rows = await history(table);
        if (!rows) throw new RoundtripError('RT_QUERY_SNAPSHOT_INVALID', `SNAPSHOT on ${table}: no dataset has this table name.`);
        return this.range(rows, clause, settings.get('resolve_fallback_snapshot_on_failure')?.toLowerCase() === 'true');
      },
      dataGroupSchemas: async () => (await dataGroupSchemas(session)).all,
      hotTables: async () => {
        const found = await session.query(`SELECT lower(table_name) AS t FROM duckdb_tables() WHERE database_name = $c AND NOT internal`, { c: HOT_CATALOG });
        return new Set(found.rows.map((r) => r.t as string));
      },
    };
  }

  /** `(after, upTo]` of a SNAPSHOT clause; a start older than the retention is expired unless fallback is on. */
  range(rows: HistoryRow[], clause: SnapshotClause, fallback: boolean): { after: number; upTo: number | null } {
    const position = (bound: SnapshotBound, isStart: boolean): number | null => {
      if (bound === 'HEAD') return 0;
      if (bound === 'TAIL') return null;
      if (!isStart) return bound;
      const retainedFrom = this.clock.now().getTime() - this.config.snapshotRetentionHours * 3_600_000;
      const retained = rows.filter((r) => Date.parse(r.created_at) >= retainedFrom);
      const earliest = retained[0]?.snapshot_id;
      const expired = bound > 0 && (earliest === undefined ? rows.length > 0 && bound <= rows[rows.length - 1]!.snapshot_id : bound < earliest);
      if (!expired) return bound;
      if (!fallback) {
        throw new RoundtripError('RT_QUERY_SNAPSHOT_EXPIRED', `Snapshot ${bound} has expired (retention ${this.config.snapshotRetentionHours} h); SET resolve_fallback_snapshot_on_failure=true to start from the earliest available one.`);
      }
      // The earliest available snapshot is included, as the reference says.
      return earliest === undefined ? (rows[rows.length - 1]?.snapshot_id ?? 0) : earliest - 1;
    };
    switch (clause.kind) {
      case 'since':
        return { after: position(clause.from, true) ?? Number.MAX_SAFE_INTEGER, upTo: null };
      case 'as-of':
        return { after: 0, upTo: position(clause.to, false) };
      case 'between':
        return { after: position(clause.from, true) ?? Number.MAX_SAFE_INTEGER, upTo: position(clause.to, false) };
    }
  }
}
