/**
 * The ingestion overview of a dataset ("connections overview"): its recent file batches and streaming commits
 * (streaming ingestion records each group commit as a batch with input format `stream`), what they read, wrote
 * and rejected, the failure rate, and the failed records kept for it, by source and by code.
 */
import type { DatasetRecord } from '../../ports/metadata-store.ts';
import type { SandboxWarehouse } from '../../ports/warehouse.ts';
import type { BatchRecord } from '../../ports/metadata-store.ts';
import type { FailedRecords } from '../failed-records.ts';
import { batchView, type BatchIngestion } from './batch-ingestion.ts';
import type { IngestionOverviewT } from './payloads.ts';

/** How many of the most recent batches the counts cover. */
export const OVERVIEW_WINDOW = 1000;
const RECENT = 10;

function totals(batches: BatchRecord[]): IngestionOverviewT['streaming'] {
  const sum = (pick: (b: BatchRecord) => number): number => batches.reduce((n, b) => n + pick(b), 0);
  const rowsRead = sum((b) => b.rowsRead);
  const rowsRejected = sum((b) => b.rowsRejected);
  return {
    batches: batches.length,
    rowsRead,
    rowsWritten: sum((b) => b.rowsWritten),
    rowsRejected,
    failureRate: rowsRead ? rowsRejected / rowsRead : 0,
    lastAt: batches.reduce<string | null>((last, b) => (last === null || b.createdAt > last ? b.createdAt : last), null),
  };
}

async function failedCounts(failedRecords: FailedRecords, warehouse: SandboxWarehouse, datasetId: string): Promise<IngestionOverviewT['failedRecords']> {
  const table = await failedRecords.ensureTable(warehouse.sandbox);
  const { rows } = await warehouse.query(`SELECT source, code, count(*) AS n FROM ${table} WHERE "datasetId" = $dataset GROUP BY ALL`, { dataset: datasetId });
  const out: IngestionOverviewT['failedRecords'] = { total: 0, bySource: {}, byCode: {} };
  for (const row of rows) {
    const n = Number(row.n);
    out.total += n;
    const [source, code] = [row.source as string, row.code as string];
    out.bySource[source] = (out.bySource[source] ?? 0) + n;
    out.byCode[code] = (out.byCode[code] ?? 0) + n;
  }
  return out;
}

export async function ingestionOverview(
  batches: BatchIngestion,
  failedRecords: FailedRecords,
  warehouse: SandboxWarehouse,
  dataset: DatasetRecord,
): Promise<IngestionOverviewT> {
  const recent = await batches.list(dataset.sandbox, { datasetId: dataset.id, limit: OVERVIEW_WINDOW });
  const files = recent.filter((b) => b.inputFormat !== 'stream');
  const byStatus: Record<string, number> = {};
  for (const b of files) byStatus[b.status] = (byStatus[b.status] ?? 0) + 1;
  return {
    dataset: { id: dataset.id, name: dataset.name },
    window: OVERVIEW_WINDOW,
    batch: { ...totals(files), byStatus },
    streaming: totals(recent.filter((b) => b.inputFormat === 'stream')),
    failedRecords: await failedCounts(failedRecords, warehouse, dataset.id),
    recentBatches: files.slice(0, RECENT).map(batchView),
  };
}
