/**
 * Failed records: every row that ingestion refuses is kept, never dropped, in the sandbox's own warehouse
 * (system table `_rt_failed_records`) with its batch, dataset, row number, the raw row as received, and each
 * problem's field path and `RT_…` code. Listable and downloadable through the API and CLI.
 *
 * Bulk ingestion may insert into the table with SQL directly (`FAILED_RECORDS_TABLE`, columns below), so large
 * files never pass through JS row by row.
 */
import { isoNow, type Clock } from '../core/clock.ts';
import type { ColumnSpec, JsonRecord, JsonValue, Warehouse } from '../ports/warehouse.ts';
import type { RecordIssue } from './record-checks.ts';

export const FAILED_RECORDS_TABLE = '_rt_failed_records';

const issueType = { kind: 'struct', fields: [{ name: 'path', type: { kind: 'string' } }, { name: 'code', type: { kind: 'string' } }, { name: 'message', type: { kind: 'string' } }] } as const;

export const FAILED_RECORD_COLUMNS: ColumnSpec[] = [
  { name: 'batchId', type: { kind: 'string' } },
  { name: 'datasetId', type: { kind: 'string' } },
  /** `batch` or `streaming`. */
  { name: 'source', type: { kind: 'string' } },
  /** 1-based position in the file or request. */
  { name: 'rowNumber', type: { kind: 'integer' } },
  /** The row exactly as received (a JSON text, or the CSV line). */
  { name: 'raw', type: { kind: 'string' } },
  /** The first problem, for filtering; `issues` has all of them. */
  { name: 'code', type: { kind: 'string' } },
  { name: 'path', type: { kind: 'string' } },
  { name: 'issues', type: { kind: 'list', items: issueType as unknown as ColumnSpec['type'] } },
  { name: 'receivedAt', type: { kind: 'timestamp' } },
];

export interface FailedRecord {
  batchId: string;
  datasetId: string;
  source: 'batch' | 'streaming';
  rowNumber: number;
  raw: string;
  issues: RecordIssue[];
}

export interface FailedRecordFilter {
  batchId?: string;
  datasetId?: string;
  code?: string;
  limit?: number;
  offset?: number;
}

const quote = (value: string): string => `'${value.replace(/'/g, "''")}'`;

function whereClause(filter: FailedRecordFilter): string {
  const parts = [
    filter.batchId !== undefined && `"batchId" = ${quote(filter.batchId)}`,
    filter.datasetId !== undefined && `"datasetId" = ${quote(filter.datasetId)}`,
    filter.code !== undefined && `code = ${quote(filter.code)}`,
  ].filter(Boolean);
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
}

export class FailedRecords {
  constructor(
    private readonly warehouse: Warehouse,
    private readonly clock: Clock,
  ) {}

  /** Creates the table in the sandbox on first use (a reset drops it with everything else); returns its name for bulk SQL. */
  async ensureTable(sandbox: string): Promise<string> {
    const warehouse = await this.warehouse.sandbox(sandbox);
    if (!(await warehouse.listTables()).includes(FAILED_RECORDS_TABLE)) await warehouse.createTable(FAILED_RECORDS_TABLE, FAILED_RECORD_COLUMNS);
    return FAILED_RECORDS_TABLE;
  }

  async add(sandbox: string, records: readonly FailedRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    await this.ensureTable(sandbox);
    const receivedAt = isoNow(this.clock);
    const rows: JsonRecord[] = records.map((r) => ({
      batchId: r.batchId,
      datasetId: r.datasetId,
      source: r.source,
      rowNumber: r.rowNumber,
      raw: r.raw,
      code: r.issues[0]?.code ?? 'RT_RECORD_MALFORMED',
      path: r.issues[0]?.path ?? '',
      issues: r.issues as unknown as JsonValue,
      receivedAt,
    }));
    return (await this.warehouse.sandbox(sandbox)).appendRecords(FAILED_RECORDS_TABLE, rows, { snapshotId: 0, batchId: records[0]!.batchId });
  }

  async list(sandbox: string, filter: FailedRecordFilter = {}): Promise<JsonRecord[]> {
    await this.ensureTable(sandbox);
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 100_000);
    const offset = Math.max(filter.offset ?? 0, 0);
    const result = await (await this.warehouse.sandbox(sandbox)).query(
      `SELECT "batchId", "datasetId", source, "rowNumber", raw, code, path, issues, "receivedAt"
       FROM ${FAILED_RECORDS_TABLE} ${whereClause(filter)} ORDER BY rowid LIMIT ${limit} OFFSET ${offset}`,
    );
    return result.rows;
  }

  async count(sandbox: string, filter: FailedRecordFilter = {}): Promise<number> {
    await this.ensureTable(sandbox);
    const result = await (await this.warehouse.sandbox(sandbox)).query(`SELECT count(*) AS n FROM ${FAILED_RECORDS_TABLE} ${whereClause(filter)}`);
    return Number(result.rows[0]?.n ?? 0);
  }
}
