/**
 * What dashboards need from insights (`platform.insights`, owned by src/insights): the data models of the
 * accelerated store, sample rows, and the accelerated-query entry point. Dashboards depend on this narrow shape,
 * not on the insights classes, so the SQL compiler can be tested with a plain model object.
 */
import type { Principal } from '../access/principal.ts';
import type { JsonValue } from '../ports/warehouse.ts';

export type TableType = 'fact' | 'dimension' | 'none';

export interface ModelColumn {
  name: string;
  type: string;
}

export interface ModelForeignKey {
  columns: string[];
  references: { table: string; columns: string[] };
}

export interface ModelTable {
  /** Full name, e.g. `qsaccel.profile_agg.adwh_fact_profile`. */
  name: string;
  type: TableType;
  columns: ModelColumn[];
  primaryKey?: string[] | null;
  foreignKeys?: ModelForeignKey[];
  recordCount?: number;
}

export interface DataModel {
  name: string;
  tables: ModelTable[];
}

export interface InsightsQueryResult {
  columns: Array<{ name: string; type?: string } | string>;
  rows: Array<Record<string, JsonValue> | JsonValue[]>;
  cached?: boolean;
  ms?: number;
}

export interface InsightsPort {
  models: {
    list(sandbox: string): Promise<DataModel[]>;
    get(sandbox: string, name: string): Promise<DataModel>;
  };
  query(principal: Principal, sandbox: string, request: { sql: string }): Promise<InsightsQueryResult>;
}

/** Rows as records in column order, whichever shape the insights API answered with. */
export interface TabularData {
  columns: Array<{ name: string; type: string }>;
  rows: Array<Record<string, JsonValue>>;
  cached: boolean;
  ms: number;
}

export function tabular(result: InsightsQueryResult): TabularData {
  const columns = result.columns.map((c) => (typeof c === 'string' ? { name: c, type: 'VARCHAR' } : { name: c.name, type: c.type ?? 'VARCHAR' }));
  const rows = result.rows.map((row) => {
    if (!Array.isArray(row)) return row;
    const record: Record<string, JsonValue> = {};
    columns.forEach((c, i) => (record[c.name] = row[i] ?? null));
    return record;
  });
  return { columns, rows, cached: result.cached ?? false, ms: result.ms ?? 0 };
}
