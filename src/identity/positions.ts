/**
 * Record positions: a record of a dataset is named by (snapshot id, position in the snapshot), positions
 * counting from 1 in write order. Unlike DuckDB's `rowid` this survives the vacuuming of deleted rows (which
 * renumbers rowids), and the privacy delete renumbers the index itself when it deletes rows.
 *
 * Computing positions cheaply: rows of one write are appended contiguously, so while a snapshot has no gaps
 * (its rowids span exactly its row count) a position is `rowid - first rowid + 1`, a projection; only a
 * snapshot with gaps (rows deleted, not yet vacuumed) pays for `row_number()` over its rows. The same spans
 * turn a position back into a rowid, so fetching a few records does not scan whole snapshots.
 */
import { intList, quoteIdent } from './sql.ts';

export interface SnapshotFilter {
  only?: readonly number[];
  except?: readonly number[];
}

export function snapshotWhere(filter: SnapshotFilter, column = '"_rt_snapshot_id"'): string {
  if (filter.only) return `WHERE ${column} IN (${intList(filter.only)})`;
  if (filter.except?.length) return `WHERE ${column} NOT IN (${intList(filter.except)})`;
  return '';
}

/** Per snapshot: its first rowid and whether its rowids are gap-free. */
const spansSql = (table: string, where: string): string =>
  `SELECT "_rt_snapshot_id" AS snap, min(rowid) AS first, max(rowid) - min(rowid) + 1 = count(*) AS dense FROM ${table} ${where} GROUP BY 1`;

/** Every row of the selected snapshots with `_rt_seq` (its position) and `_rt_rowid`. */
export function positionedRowsSql(tableName: string, filter: SnapshotFilter = {}): string {
  const table = quoteIdent(tableName);
  const where = snapshotWhere(filter, 't."_rt_snapshot_id"');
  return `(WITH spans AS (${spansSql(`${table} t`, where)})
    SELECT t.*, t.rowid - s.first + 1 AS _rt_seq, t.rowid AS _rt_rowid FROM ${table} t JOIN spans s ON s.snap = t."_rt_snapshot_id" AND s.dense
    UNION ALL
    SELECT t.*, row_number() OVER (PARTITION BY t."_rt_snapshot_id" ORDER BY t.rowid) AS _rt_seq, t.rowid AS _rt_rowid FROM ${table} t JOIN spans s ON s.snap = t."_rt_snapshot_id" AND NOT s.dense)`;
}

/**
 * The rows named by `keys` (a relation of `snap, seq`, within `snapshots`), with `_rt_seq` and `_rt_rowid`:
 * gap-free snapshots are read by rowid, others through their positions.
 */
export function rowsAtSql(tableName: string, snapshots: readonly number[], keys: string): string {
  const table = quoteIdent(tableName);
  const where = `WHERE t."_rt_snapshot_id" IN (${intList(snapshots)})`;
  return `(WITH spans AS (${spansSql(`${table} t`, where)}), wanted AS (${keys})
    SELECT t.*, w.seq AS _rt_seq, t.rowid AS _rt_rowid FROM wanted w JOIN spans s ON s.snap = w.snap AND s.dense
      JOIN ${table} t ON t.rowid = s.first + w.seq - 1 AND t."_rt_snapshot_id" = w.snap
    UNION ALL
    SELECT p.* FROM (SELECT t.*, row_number() OVER (PARTITION BY t."_rt_snapshot_id" ORDER BY t.rowid) AS _rt_seq, t.rowid AS _rt_rowid
      FROM ${table} t JOIN spans s ON s.snap = t."_rt_snapshot_id" AND NOT s.dense) p
    JOIN wanted w ON w.snap = p."_rt_snapshot_id" AND w.seq = p._rt_seq)`;
}
