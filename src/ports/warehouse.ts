/**
 * Warehouse port: where dataset rows live and SQL runs. One isolated database per sandbox.
 *
 * Domain code describes columns with the engine-neutral `ColumnType` tree below; an adapter maps it to its own
 * types (DuckDB STRUCT/MAP/LIST, ClickHouse Tuple/Map/Array) and decodes values back into plain JSON.
 * Every dataset table also carries the system columns in `SYSTEM_COLUMNS`, which readers strip.
 */

export type ScalarKind = 'string' | 'boolean' | 'integer' | 'number' | 'date' | 'timestamp';

export type ColumnType =
  | { kind: ScalarKind }
  | { kind: 'struct'; fields: ColumnSpec[] }
  | { kind: 'map'; value: ColumnType }
  | { kind: 'list'; items: ColumnType };

export interface ColumnSpec {
  name: string;
  type: ColumnType;
}

/** Written by the warehouse on every append; `_rt_snapshot_id` makes `SNAPSHOT SINCE/AS OF` possible. */
export const SYSTEM_COLUMNS = ['_rt_snapshot_id', '_rt_batch_id', '_rt_ingested_at'] as const;

export interface WriteStamp {
  snapshotId: number;
  batchId: string;
}

/**
 * The hot catalog: every sandbox database has a second, small database beside its main one, for tables written
 * many times a second by the streaming paths (audience membership). A commit holds its database's commit lock,
 * and the main database's commits (events, identity graph with its indexes, profiles) can hold it for hundreds
 * of milliseconds; the hot catalog's writes never queue behind them. SQL names its tables `hotTable(name)`;
 * reads may join both catalogs, but one transaction may write to only one of them. Backups, restores and
 * compaction cover both.
 */
export const HOT_CATALOG = 'rt_hot';

/** The SQL name of a table of the hot catalog. */
export function hotTable(name: string): string {
  return `${HOT_CATALOG}.main.${name}`;
}

/** A value `appendRows` takes: integers go in as BIGINT, other numbers as DOUBLE, strings cast to the column's type. */
export type ScalarValue = string | number | boolean | null;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonRecord = { [key: string]: JsonValue };

export interface QueryColumn {
  name: string;
  /** The engine's own type name, e.g. `STRUCT(a BIGINT)`. */
  type: string;
  /** The same type, engine-neutral. */
  columnType: ColumnType;
}

/**
 * One connection kept for a sequence of statements (a script, a block): temporary tables and the
 * transaction state live as long as the session. `interrupt` stops the statement running now.
 */
export interface WarehouseSession {
  query(sql: string, params?: Record<string, string | number | boolean | null>): Promise<QueryResult>;
  /**
   * Appends rows (values in the table's column order, cast to the column types) inside the session's
   * transaction, without SQL text: for the many small writes of the streaming paths, where parsing a
   * `VALUES` list costs ten times the write itself. `table` is a main table's name or `hotTable(name)`.
   */
  appendRows(table: string, rows: readonly (readonly ScalarValue[])[]): Promise<void>;
  interrupt(): void;
  close(): void;
}

export interface QueryResult {
  columns: QueryColumn[];
  /** Rows as JSON-safe objects: big integers as numbers when safe (strings otherwise), times as ISO strings, maps as objects. */
  rows: JsonRecord[];
}

export interface ReadOptions {
  limit?: number;
  offset?: number;
  /** Only rows written by this snapshot. */
  snapshotId?: number;
}

export interface SandboxWarehouse {
  readonly sandbox: string;
  /** A folder the engine may read files from (uploads are staged here before a bulk load). */
  readonly stagingDir: string;
  createTable(table: string, columns: ColumnSpec[]): Promise<void>;
  addColumn(table: string, column: string, type: ColumnType): Promise<void>;
  /** Widens a column to a type with more struct fields (anywhere inside it); existing values get nulls there. */
  widenColumn(table: string, column: string, type: ColumnType): Promise<void>;
  dropTable(table: string): Promise<void>;
  /** The main catalog's tables (the hot catalog's are named by their owners). */
  listTables(): Promise<string[]>;
  describeTable(table: string): Promise<ColumnSpec[]>;
  /** Bulk-appends JSON records (keys = column names) stamped with a snapshot; returns rows written. */
  appendRecords(table: string, records: readonly JsonRecord[], stamp: WriteStamp): Promise<number>;
  /** Reads records back as JSON, without system columns, in write order. */
  readRecords(table: string, options?: ReadOptions): Promise<JsonRecord[]>;
  countRows(table: string, options?: Pick<ReadOptions, 'snapshotId'>): Promise<number>;
  query(sql: string, params?: Record<string, string | number | boolean | null>): Promise<QueryResult>;
  openSession(): Promise<WarehouseSession>;
}

export interface CompactionResult {
  sandbox: string;
  /** Size of the database files (with any write-ahead log) before and after. */
  bytesBefore: number;
  bytesAfter: number;
  /** Staging files left behind by loads that never finished (older than an hour) that were removed. */
  stagingFilesRemoved: number;
}

/** What a sandbox's database holds, as a backup records it: the engine that wrote it and every table's row count. */
export interface SandboxDatabaseSummary {
  /** Engine and version, e.g. `duckdb v1.4.1`. */
  engine: string;
  tables: { name: string; rows: number }[];
}

export interface Warehouse {
  /** Opens the sandbox's database, creating it on first use. */
  sandbox(name: string): Promise<SandboxWarehouse>;
  /** Closes and deletes the sandbox's database and staging files. */
  dropSandbox(name: string): Promise<void>;
  /**
   * Rewrites the sandbox's database into a fresh file and removes the old one, so that bytes of deleted rows
   * (which engines leave in freed pages) are gone from disk. Operations on the sandbox wait while it runs.
   */
  compact(name: string): Promise<CompactionResult>;
  /**
   * Backup: writes a consistent, compacted copy of the sandbox's database to `file` (outside the warehouse).
   * Operations on the sandbox wait meanwhile; `whileQuiesced` runs at that instant (e.g. to read the metadata
   * that must agree with the copy).
   */
  exportSandbox(name: string, file: string, whileQuiesced?: () => Promise<void>): Promise<SandboxDatabaseSummary>;
  /** Restore: makes a copy of the database `file` (as `exportSandbox` wrote it) the sandbox's database, replacing any. */
  importSandbox(name: string, file: string): Promise<SandboxDatabaseSummary>;
  close(): Promise<void>;
}
