/**
 * Data models as the widget composer lists them: one per accelerated-store schema (`database.schema`), the
 * built-in `qsaccel.profile_agg` being CDPInsights. A table's type comes from its recorded keys
 * (`_rt_table_constraints`, written by `ALTER TABLE … ADD PRIMARY|FOREIGN KEY … NOT ENFORCED` and by the
 * CDPInsights build): a table with foreign keys is a fact, one that others reference (or with only a primary
 * key) a dimension, anything else `none`. Lookups are the tables its foreign keys join to.
 */
import { RoundtripError } from '../core/errors.ts';
import type { JsonValue, SandboxWarehouse } from '../ports/warehouse.ts';
import { dataGroupSchemas } from '../query/accelerated.ts';
import { CDP_MODEL, CDP_SCHEMA } from './cdp-model.ts';
import type { DataModelTable, DataModelView, ForeignKeyView } from './types.ts';

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

interface Constraint {
  table: string;
  kind: string;
  columns: string[];
  refTable: string | null;
  refColumns: string[] | null;
}

async function constraints(w: SandboxWarehouse): Promise<Constraint[]> {
  const exists = await w.query(`SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = '_rt_table_constraints'`);
  if (Number(exists.rows[0]?.n ?? 0) === 0) return [];
  const rows = await w.query(`SELECT DISTINCT lower(table_name) AS t, kind, columns, lower(ref_table) AS r, ref_columns FROM _rt_table_constraints`);
  return rows.rows.map((r) => ({ table: r.t as string, kind: r.kind as string, columns: r.columns as string[], refTable: (r.r as string | null) ?? null, refColumns: (r.ref_columns as string[] | null) ?? null }));
}

function tableView(name: string, columns: { name: string; type: string }[], recordCount: number, keys: Constraint[]): DataModelTable {
  const own = keys.filter((k) => k.table === name);
  const foreignKeys: ForeignKeyView[] = own.filter((k) => k.kind === 'FOREIGN KEY' && k.refTable).map((k) => ({ columns: k.columns, references: { table: k.refTable!, columns: k.refColumns ?? k.columns } }));
  const primaryKey = own.find((k) => k.kind === 'PRIMARY KEY')?.columns ?? [];
  const referenced = keys.some((k) => k.kind === 'FOREIGN KEY' && k.refTable === name);
  const type = foreignKeys.length > 0 && !referenced ? 'fact' : referenced || primaryKey.length > 0 ? 'dimension' : foreignKeys.length > 0 ? 'fact' : 'none';
  return { name, type, columns, primaryKey, foreignKeys, recordCount, lookups: [...new Set(foreignKeys.map((f) => f.references.table))] };
}

/** A model another domain publishes in its own accelerated schema (e.g. CampaignInsights): its name and description. */
export interface ModelInfo {
  name: string;
  description: string;
}

export async function listModels(w: SandboxWarehouse, refreshedAt: Promise<string | null>, named: ReadonlyMap<string, ModelInfo> = new Map()): Promise<DataModelView[]> {
  const session = await w.openSession();
  let accelerated: Set<string>;
  try {
    accelerated = (await dataGroupSchemas(session)).accelerated;
  } finally {
    session.close();
  }
  if (accelerated.size === 0) return [];
  const keys = await constraints(w);
  const list = [...accelerated].map((s) => `'${s.replace(/'/g, "''")}'`).join(', ');
  const columns = await w.query(`SELECT lower(schema_name) AS s, table_name AS t, column_name AS c, data_type AS type FROM duckdb_columns()
    WHERE database_name = current_database() AND lower(schema_name) IN (${list}) ORDER BY schema_name, table_name, column_index`);
  const counts = await w.query(`SELECT lower(schema_name) AS s, table_name AS t, estimated_size AS n FROM duckdb_tables() WHERE database_name = current_database() AND lower(schema_name) IN (${list})`);
  const byTable = new Map<string, { name: string; type: string }[]>();
  for (const r of columns.rows) {
    const name = `${r.s as string}.${(r.t as string).toLowerCase()}`;
    byTable.set(name, [...(byTable.get(name) ?? []), { name: r.c as string, type: r.type as string }]);
  }
  const exact = new Map<string, number>();
  for (const r of counts.rows) {
    const name = `${r.s as string}.${(r.t as string).toLowerCase()}`;
    // estimated_size is exact for tables without deletes; a count confirms small ones cheaply.
    exact.set(name, Number((await w.query(`SELECT count(*) AS n FROM ${quote(r.s as string)}.${quote(r.t as string)}`)).rows[0]?.n ?? r.n ?? 0));
  }
  const when = await refreshedAt;
  return [...accelerated].sort().map((schema) => {
    const tables = [...byTable.keys()].filter((t) => t.startsWith(`${schema}.`) && t.split('.').length === 3).sort();
    const builtIn = schema === CDP_SCHEMA;
    return {
      name: builtIn ? CDP_MODEL : (named.get(schema)?.name ?? schema),
      description: builtIn ? 'Real-Time CDP insights: profiles, identities, audiences, overlaps, destinations and CLV, per merge policy and date.' : (named.get(schema)?.description ?? `Custom data model in ${schema}.`),
      schema,
      tables: tables.map((t) => tableView(t, byTable.get(t)!, exact.get(t) ?? 0, keys)),
      refreshedAt: builtIn ? when : null,
    };
  });
}

/** Sample rows of an accelerated-store table (`database.schema.table`). */
export async function sampleRows(w: SandboxWarehouse, table: string, limit: number): Promise<Record<string, JsonValue>[]> {
  const parts = table.toLowerCase().split('.');
  const session = await w.openSession();
  try {
    const { accelerated } = await dataGroupSchemas(session);
    const schema = parts.slice(0, 2).join('.');
    if (parts.length !== 3 || !accelerated.has(schema)) throw new RoundtripError('RT_INSIGHTS_MODEL_NOT_FOUND', `${table} is not a table of the accelerated store (database.schema.table).`);
    const exists = await session.query(`SELECT count(*) AS n FROM duckdb_tables() WHERE lower(schema_name) = $s AND lower(table_name) = $t`, { s: schema, t: parts[2]! });
    if (Number(exists.rows[0]?.n ?? 0) === 0) throw new RoundtripError('RT_INSIGHTS_MODEL_NOT_FOUND', `No table ${table} in the accelerated store.`);
    return (await session.query(`SELECT * FROM ${quote(schema)}.${quote(parts[2]!)} LIMIT ${Math.trunc(limit)}`)).rows;
  } finally {
    session.close();
  }
}
