/**
 * The accelerated-queries engine (reference §7.3): a statement (or a saved template with `$NAME` / `${name}`
 * values) that may read accelerated-store tables only, run at most `slots` at a time per sandbox (FIFO queue),
 * with results cached until a table they read is written (the query service announces writes; refreshes
 * announce theirs). Queries run through the query service as a read-only principal, so the dialect, the
 * guard, the row cap and the query log are the same as everywhere else.
 */
import type { Principal } from '../access/principal.ts';
import { RoundtripError } from '../core/errors.ts';
import type { JsonValue } from '../ports/warehouse.ts';
import type { Warehouse } from '../ports/warehouse.ts';
import { dataGroupSchemas, rewriteDataGroupChains } from '../query/accelerated.ts';
import type { QueryService } from '../query/query-service.ts';
import { render, tokenize } from '../query/sql-tokens.ts';
import { Slots } from '../core/slots.ts';

export { Slots };
import type { AcceleratedQueryResult, ColumnView } from './types.ts';


interface CacheEntry {
  columns: ColumnView[];
  rows: Record<string, JsonValue>[];
  tables: string[];
  versions: number[];
}

const MAX_CACHE_ENTRIES = 500;

/** Every `{ type: BASE_TABLE }` (schema, table) of a DuckDB AST, and CTE names, so CTE references are allowed. */
function tablesOf(node: unknown, out: { tables: [string, string][]; ctes: Set<string> }): void {
  if (Array.isArray(node)) {
    for (const n of node) tablesOf(n, out);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  if (o.type === 'BASE_TABLE') out.tables.push([(typeof o.schema_name === 'string' ? o.schema_name : '').toLowerCase(), (typeof o.table_name === 'string' ? o.table_name : '').toLowerCase()]);
  if (o.type === 'TABLE_FUNCTION') throw new RoundtripError('RT_INSIGHTS_QUERY_INVALID', 'Accelerated queries read accelerated-store tables only (no table functions).');
  if (o.cte_map && typeof o.cte_map === 'object') {
    for (const entry of ((o.cte_map as { map?: { key: string }[] }).map ?? [])) out.ctes.add(entry.key.toLowerCase());
  }
  for (const value of Object.values(o)) tablesOf(value, out);
}

export class AcceleratedQueries {
  private readonly slots = new Map<string, Slots>();
  private readonly cache = new Map<string, CacheEntry>();
  /** Write version per `sandbox/schema.table`; a cache entry is valid while the versions it saw are current. */
  private readonly versions = new Map<string, number>();

  constructor(
    private readonly warehouse: Warehouse,
    private readonly queries: QueryService,
    readonly slotsPerSandbox = 4,
  ) {
    queries.acceleratedWrites.on((sandbox, tables) => this.invalidate(sandbox, tables));
  }

  gate(sandbox: string): Slots {
    let slots = this.slots.get(sandbox);
    if (!slots) this.slots.set(sandbox, (slots = new Slots(this.slotsPerSandbox)));
    return slots;
  }

  /** Marks tables (`schema.table`, lower-case) as written. */
  invalidate(sandbox: string, tables: readonly string[]): void {
    for (const t of tables) this.versions.set(`${sandbox}/${t}`, (this.versions.get(`${sandbox}/${t}`) ?? 0) + 1);
  }

  private version(sandbox: string, table: string): number {
    return this.versions.get(`${sandbox}/${table}`) ?? 0;
  }

  /** Checks that `sql` reads accelerated-store tables only; returns them (`schema.table`). */
  private async readTables(sandbox: string, sql: string): Promise<string[]> {
    const warehouse = await this.warehouse.sandbox(sandbox);
    const session = await warehouse.openSession();
    try {
      const { all, accelerated } = await dataGroupSchemas(session);
      const rewritten = render(rewriteDataGroupChains(tokenize(sql), all));
      const parsed = await session.query(`SELECT json_serialize_sql($sql::VARCHAR) AS ast`, { sql: rewritten });
      const ast = JSON.parse((parsed.rows[0]?.ast as string | undefined) ?? '{}') as { error?: boolean; error_message?: string; statements?: unknown[] };
      if (ast.error) return []; // The query service reports the syntax error with its own code.
      if ((ast.statements?.length ?? 0) !== 1) throw new RoundtripError('RT_INSIGHTS_QUERY_INVALID', 'An accelerated query is one SELECT statement.');
      const found = { tables: [] as [string, string][], ctes: new Set<string>() };
      tablesOf(ast.statements, found);
      const tables = new Set<string>();
      for (const [schema, table] of found.tables) {
        if (schema === '' && found.ctes.has(table)) continue;
        if (!accelerated.has(schema)) {
          throw new RoundtripError('RT_INSIGHTS_QUERY_INVALID', `Accelerated queries read accelerated-store tables only; ${schema ? `${schema}.` : ''}${table} is not one (qualify tables as database.schema.table).`, {
            table: schema ? `${schema}.${table}` : table,
          });
        }
        tables.add(`${schema}.${table}`);
      }
      return [...tables].sort();
    } finally {
      session.close();
    }
  }

  async run(principal: Principal, sandbox: string, sql: string, maxRows: number): Promise<AcceleratedQueryResult> {
    const started = performance.now();
    const key = `${sandbox}\u0000${maxRows}\u0000${sql}`;
    const hit = this.cache.get(key);
    if (hit && hit.tables.every((t, i) => this.version(sandbox, t) === hit.versions[i])) {
      // Refresh its position: the cache evicts the least recently used entry.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return { columns: hit.columns, rows: hit.rows, cached: true, ms: performance.now() - started };
    }
    const slots = this.gate(sandbox);
    await slots.enter();
    try {
      const tables = await this.readTables(sandbox, sql);
      const versions = tables.map((t) => this.version(sandbox, t));
      // Read-only principal: the executor refuses anything but SELECT.
      const reader: Principal = { id: principal.id, name: principal.name, role: 'analyst', sandboxes: [sandbox] };
      const outcome = await this.queries.execute(reader, sandbox, sql, { client: 'api', maxRows, label: 'accelerated query' });
      const columns = outcome.last.columns.map((c) => ({ name: c.name, type: c.type }));
      const rows = outcome.last.rows as Record<string, JsonValue>[];
      if (tables.length > 0) {
        this.cache.set(key, { columns, rows, tables, versions });
        if (this.cache.size > MAX_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
      }
      return { columns, rows, cached: false, ms: performance.now() - started };
    } finally {
      slots.leave();
    }
  }
}
