/**
 * The insights API's shapes: data models as the widget composer sees them, accelerated-query requests and
 * results, refresh runs. `src/dashboards` codes against these (through `platform.insights`).
 */
import type { JsonValue } from '../ports/warehouse.ts';

export type TableType = 'fact' | 'dimension' | 'none';

export interface ColumnView {
  name: string;
  /** The engine's type name, e.g. `BIGINT`, `DATE`, `VARCHAR`. */
  type: string;
}

export interface ForeignKeyView {
  columns: string[];
  /** `references.table` is qualified like `DataModelTable.name`. */
  references: { table: string; columns: string[] };
}

export interface DataModelTable {
  /** Qualified: `qsaccel.profile_agg.adwh_fact_profile`. */
  name: string;
  type: TableType;
  columns: ColumnView[];
  primaryKey: string[];
  foreignKeys: ForeignKeyView[];
  recordCount: number;
  /** Tables this one joins to through its foreign keys (the composer's "Lookups" count is its length). */
  lookups: string[];
}

export interface DataModelView {
  /** `CDPInsights`, or a custom model: the qualified schema name `database.schema`. */
  name: string;
  description: string;
  /** `database.schema` holding the tables. */
  schema: string;
  tables: DataModelTable[];
  /** The last successful refresh, for built-in models. */
  refreshedAt: string | null;
}

export type AcceleratedQueryRequest =
  | { sql: string; templateId?: undefined; params?: Record<string, string> }
  | { templateId: string; sql?: undefined; params?: Record<string, string> };

export interface AcceleratedQueryResult {
  columns: ColumnView[];
  rows: Record<string, JsonValue>[];
  cached: boolean;
  ms: number;
}

export type RefreshStatus = 'running' | 'success' | 'failed';

export interface RefreshStep {
  name: string;
  ms: number;
  rows?: number;
}

export interface RefreshRun {
  id: string;
  sandbox: string;
  model: string;
  mode: 'full' | 'incremental';
  status: RefreshStatus;
  /** The date the facts are stated for (`date_key` of the newest rows). */
  processDate: string;
  /** Snapshot checkpoints per source dataset: before and after the run. */
  checkpoints: { datasetId: string; table: string; from: number; to: number }[];
  /** Dates whose facts were recomputed. */
  datesRecomputed: number;
  /** Profiles whose contributions were recomputed (all of them on a full build). */
  profilesRecomputed: number;
  /** Audience facts: kept as they were, updated for the profiles with new transitions, or rebuilt. */
  audiences?: 'kept' | 'incremental' | 'rebuilt';
  steps: RefreshStep[];
  startedAt: string;
  endedAt: string | null;
  ms: number | null;
  actor: string;
  error: { code: string; message: string } | null;
}

export interface RefreshOptions {
  /** Rebuild from scratch instead of processing the snapshots since the checkpoints. */
  full?: boolean;
  /** The date the facts are stated for (`YYYY-MM-DD`); today (UTC) by default. */
  processDate?: string;
}
