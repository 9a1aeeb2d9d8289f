/**
 * The SQL every batch load shares, whatever its format: the threshold rule, the bulk insert into the
 * failed-records table, and the insert of good rows into the dataset table stamped with the snapshot.
 *
 * A load is one script on one connection (temporary tables live there) whose writes are one transaction: failed
 * records and dataset rows commit together or not at all, and a script that stops half way leaves nothing behind.
 */
import { quoteIdent } from '../../adapters/duckdb/duckdb-types.ts';
import { FAILED_RECORDS_TABLE } from '../failed-records.ts';
import type { WriteStamp } from '../../ports/warehouse.ts';
import { lit, type Sql } from './sql-fields.ts';

/** Where a load writes: the dataset's table, stamped with the snapshot the write was given. */
export interface LoadTarget {
  table: string;
  datasetId: string;
  stamp: WriteStamp;
  /** The largest rejected share that still writes the good rows (0.1 = 10%). */
  threshold: number;
}

/** What a load found in one file: its records, how many were rejected, and the row number of its first. */
export interface FileCounts {
  records: number;
  rejected: number;
  firstRow: number;
}

export interface LoadCounts {
  rowsRead: number;
  rowsRejected: number;
  /** False when the rejected share passed the threshold: failed rows were kept, nothing was written. */
  accepted: boolean;
  files: FileCounts[];
}

/** A batch fails when its rejected share passes the threshold: `rejected / read > threshold`. */
export function exceedsThreshold(read: number, rejected: number, threshold: number): boolean {
  return rejected > threshold * read;
}

/** The same rule in SQL (IEEE doubles on both sides, so JS and SQL agree on the edge). */
export function exceedsThresholdSql(read: Sql, rejected: Sql, threshold: number): Sql {
  return `(${rejected}) > CAST(${JSON.stringify(threshold)} AS DOUBLE) * (${read})`;
}

export interface FailedRowsSelect {
  /** 1-based position in the batch. */
  rowNumber: Sql;
  raw: Sql;
  /** A non-empty list of issue structs. */
  issues: Sql;
  from: Sql;
}

/**
 * `INSERT … SELECT` of failed rows from one or more sources, in row-number order (so that listing them in
 * insertion order reads the file top to bottom), with the first issue's code and path as columns for filtering.
 */
export function insertFailedRows(stamp: WriteStamp, datasetId: string, sources: readonly FailedRowsSelect[]): Sql {
  const union = sources.map((r) => `SELECT ${r.rowNumber} AS rt_row, ${r.raw} AS rt_raw, ${r.issues} AS rt_issues FROM ${r.from}`).join('\nUNION ALL\n');
  return `INSERT INTO ${FAILED_RECORDS_TABLE} ("batchId", "datasetId", source, "rowNumber", raw, code, path, issues, "receivedAt", _rt_snapshot_id, _rt_batch_id, _rt_ingested_at)
SELECT ${lit(stamp.batchId)}, ${lit(datasetId)}, 'batch', rt_row, rt_raw, rt_issues[1].code, rt_issues[1].path, rt_issues, now(), 0, ${lit(stamp.batchId)}, now()
FROM (${union}) ORDER BY rt_row`;
}

export interface DatasetRowsSelect {
  /** Top-level dataset columns and the expression of each. */
  columns: { name: string; value: Sql }[];
  from: Sql;
  where?: Sql;
}

export function insertDatasetRows(table: string, stamp: WriteStamp, rows: DatasetRowsSelect): Sql {
  const names = [...rows.columns.map((c) => quoteIdent(c.name)), '_rt_snapshot_id', '_rt_batch_id', '_rt_ingested_at'];
  const values = [...rows.columns.map((c) => c.value), String(Math.trunc(stamp.snapshotId)), lit(stamp.batchId), 'now()'];
  return `INSERT INTO ${quoteIdent(table)} (${names.join(', ')})
SELECT ${values.join(',\n  ')}
FROM ${rows.from}${rows.where ? ` WHERE ${rows.where}` : ''}`;
}

/**
 * A load script: `prepare` statements run first on their own (temporary staging tables must be committed for
 * their `rowid`s to count rows from 0 in file order), then the writes run as one transaction, then `result`.
 */
export function loadScript(prepare: readonly Sql[], writes: readonly Sql[], result: Sql): Sql {
  return [...prepare, 'BEGIN TRANSACTION', ...writes, 'COMMIT', result].join(';\n');
}
