/**
 * Query service contract: what running Data Distiller SQL takes and gives back. The HTTP API, the CLI, the
 * Postgres wire protocol and schedules all call `QueryService.execute` with these shapes.
 */
import type { JsonRecord, QueryColumn } from '../ports/warehouse.ts';

/** `adhoc`: interactive, capped rows, 10 min time-out. `batch`: CTAS/ITAS/blocks from schedules, 24 h. */
export type ExecutionClass = 'adhoc' | 'batch';
export type QueryClient = 'api' | 'cli' | 'pgwire' | 'schedule' | 'console';

export interface QueryOptions {
  /** Values for `'$NAME'` placeholders (keys without the `$`). A placeholder without a value refuses the run. */
  params?: Record<string, string>;
  /** Most rows returned to the caller (the statement itself is not limited); defaults by client. */
  maxRows?: number;
  executionClass?: ExecutionClass;
  client?: QueryClient;
  /** Overrides the class time-out (ms). */
  timeoutMs?: number;
  /** Free text shown in the query log (e.g. schedule id). */
  label?: string;
}

export type StatementKind = 'select' | 'ctas' | 'itas' | 'ddl' | 'dml' | 'set' | 'show' | 'block' | 'other';

export interface StatementResult {
  /** The statement as written (trimmed, first 500 characters). */
  statement: string;
  kind: StatementKind;
  columns: QueryColumn[];
  rows: JsonRecord[];
  /** Rows the statement produced or wrote (before the row cap). */
  rowCount: number;
  truncated: boolean;
  /** What happened, for statements without rows, e.g. `Created Table DataSet Id ds_…`. */
  message?: string;
}

export interface QueryOutcome {
  queryId: string;
  /** One per top-level statement, in order (a block counts as one and reports its last result). */
  results: StatementResult[];
  /** The last statement's result, for clients that show one. */
  last: StatementResult;
  durationMs: number;
}
