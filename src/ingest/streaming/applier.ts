/**
 * The applier: turns a group of acknowledged log entries into dataset writes. Per dataset, one group becomes
 * one snapshot (never one per event): duplicates by `_id` are dropped (within the group, and against what the
 * table already holds — `StoredIds` — which also makes a replay after a crash harmless), the rest is appended
 * through `Datasets.appendWith` from the records' JSON texts kept since intake (no record is serialised again),
 * invalid records go to failed records, the write is recorded as a batch with `inputFormat: 'stream'`, and the
 * committed records are published on the event bus.
 *
 * Crash safety: a batch row is created as `processing` before the write and set to `success` after, so a batch
 * left `processing` names a write that may or may not have landed; `resolveInDoubt` settles it on start (rows
 * stamped with its snapshot are counted and committed) before the log is replayed.
 */
import type { Principal } from '../../access/principal.ts';
import type { Datasets, WriteOutcome } from '../../catalog/datasets.ts';
import { isoNow, type Clock } from '../../core/clock.ts';
import { RoundtripError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { EventBus } from '../../ports/event-bus.ts';
import type { BatchRecord, DatasetRecord, MetadataStore } from '../../ports/metadata-store.ts';
import type { JsonRecord, Warehouse } from '../../ports/warehouse.ts';
import { FAILED_RECORDS_TABLE, type FailedRecords } from '../failed-records.ts';
import { appendJsonLines } from '../batch/json-load.ts';
import type { FailedItem, StreamEntry } from './intake.ts';
import { StoredIds } from './stored-ids.ts';

/** Who streaming writes are attributed to in snapshots and the audit log. */
export const STREAMING_PRINCIPAL: Principal = { id: 'streaming', name: 'streaming ingestion', role: 'data-engineer', sandboxes: ['*'] };

export interface ApplyCounts {
  written: number;
  duplicates: number;
  failed: number;
}

export interface ApplierLog {
  warn(message: string, details?: unknown): void;
}

/** DuckDB's words for a value it cannot store (e.g. an integer beyond BIGINT), as opposed to a failing engine. */
const REFUSED_VALUE = /Conversion Error|Could not convert|out of range|Overflow|Invalid Input Error/i;

/** Records to write, with the JSON text of each (same order): what is staged for the warehouse. */
interface Rows {
  records: JsonRecord[];
  lines: string[];
}

/** Records per dataset, in log order, with the connections and failed items that came with them. */
interface DatasetGroup extends Rows {
  failed: FailedItem[];
  connections: Set<string>;
}

function groupByDataset(entries: readonly StreamEntry[]): Map<string, DatasetGroup> {
  const groups = new Map<string, DatasetGroup>();
  const group = (datasetId: string): DatasetGroup => {
    let found = groups.get(datasetId);
    if (!found) groups.set(datasetId, (found = { records: [], lines: [], failed: [], connections: new Set() }));
    return found;
  };
  for (const entry of entries) {
    for (const [datasetId, records] of Object.entries(entry.writes)) {
      const g = group(datasetId);
      // Entries read back from the log (a restart) have no texts: serialised here, once.
      const lines = entry.lines?.[datasetId];
      for (let i = 0; i < records.length; i++) {
        g.records.push(records[i]!);
        g.lines.push(lines?.[i] ?? JSON.stringify(records[i]));
      }
      g.connections.add(entry.connectionId);
    }
    for (const item of entry.failed) {
      const g = group(item.datasetId);
      g.failed.push(item);
      g.connections.add(entry.connectionId);
    }
  }
  return groups;
}

/** The first record of every `_id` that is not `stored` already (records without one are all kept). */
function freshRows(rows: Rows, stored: ReadonlySet<string>): Rows {
  const seen = new Set<string>();
  const fresh: Rows = { records: [], lines: [] };
  rows.records.forEach((record, i) => {
    const id = record._id;
    if (typeof id === 'string') {
      if (seen.has(id) || stored.has(id)) return;
      seen.add(id);
    }
    fresh.records.push(record);
    fresh.lines.push(rows.lines[i]!);
  });
  return fresh;
}

const idsOf = (records: readonly JsonRecord[]): string[] => records.map((r) => r._id).filter((id): id is string => typeof id === 'string');

const half = (rows: Rows, from: number, to?: number): Rows => ({ records: rows.records.slice(from, to), lines: rows.lines.slice(from, to) });

export class Applier {
  readonly storedIds: StoredIds;

  constructor(
    private readonly metadata: MetadataStore,
    private readonly warehouse: Warehouse,
    private readonly datasets: Datasets,
    private readonly failedRecords: FailedRecords,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly log: ApplierLog,
    dedupIds: number,
  ) {
    this.storedIds = new StoredIds(warehouse, dedupIds);
  }

  /** Applies the entries (oldest first). `replayed`: parts of them may already be stored (a restart, a retry). */
  async apply(sandbox: string, entries: readonly StreamEntry[], replayed: boolean): Promise<ApplyCounts> {
    const counts: ApplyCounts = { written: 0, duplicates: 0, failed: 0 };
    if (!(await this.metadata.sandboxes.get(sandbox))) {
      this.log.warn(`Sandbox ${sandbox} no longer exists; dropping ${entries.length} streamed log entries for it.`);
      return counts;
    }
    for (const [datasetId, group] of groupByDataset(entries)) {
      const dataset = await this.metadata.datasets.get(sandbox, datasetId);
      if (!dataset) {
        this.log.warn(`Dataset ${datasetId} of sandbox ${sandbox} was deleted; dropping ${group.records.length + group.failed.length} streamed records for it.`);
        continue;
      }
      const done = await this.applyDataset(sandbox, dataset, group, replayed);
      counts.written += done.written;
      counts.duplicates += done.duplicates;
      counts.failed += done.failed;
    }
    return counts;
  }

  private async applyDataset(sandbox: string, dataset: DatasetRecord, group: DatasetGroup, replayed: boolean): Promise<ApplyCounts> {
    const stored = await this.storedIds.stored(sandbox, dataset, idsOf(group.records));
    const fresh = freshRows(group, stored);
    const failed = replayed ? await this.notYetKept(sandbox, dataset.id, group.failed) : group.failed;
    const duplicates = group.records.length - fresh.records.length;
    if (fresh.records.length === 0 && failed.length === 0) return { written: 0, duplicates, failed: 0 };

    const batch = await this.openBatch(sandbox, dataset.id, group, failed.length, duplicates);
    let written: { outcomes: { outcome: WriteOutcome; records: JsonRecord[] }[]; refused: FailedItem[] };
    try {
      written = await this.write(sandbox, dataset, fresh, batch.id);
    } catch (error) {
      this.storedIds.forget(sandbox, dataset.id);
      // The lane retries the group (as possibly partly applied); this attempt's batch says it failed.
      const now = isoNow(this.clock);
      const code = error instanceof RoundtripError ? error.code : 'RT_INTERNAL';
      await this.metadata.batches.update(sandbox, batch.id, { status: 'failed', errorCode: code, errorMessage: (error as Error).message, updatedAt: now, completedAt: now });
      throw error;
    }
    const { outcomes, refused } = written;
    const rejected = [...failed, ...refused];
    await this.failedRecords.add(sandbox, rejected.map((f) => ({ ...f, batchId: batch.id, source: 'streaming' as const })));
    const rowsWritten = outcomes.reduce((n, o) => n + o.outcome.rowCount, 0);
    const now = isoNow(this.clock);
    await this.metadata.batches.update(sandbox, batch.id, {
      status: 'success',
      rowsWritten,
      rowsRejected: rejected.length,
      snapshotId: outcomes.at(-1)?.outcome.snapshotId ?? null,
      updatedAt: now,
      completedAt: now,
    });
    for (const { outcome, records } of outcomes) {
      await this.bus.publish({ sandbox, datasetId: dataset.id, snapshotId: outcome.snapshotId, batchId: batch.id, source: 'streaming', records, committedAt: now });
    }
    return { written: rowsWritten, duplicates, failed: rejected.length };
  }

  private async openBatch(sandbox: string, datasetId: string, group: DatasetGroup, rejected: number, duplicates: number): Promise<BatchRecord> {
    const now = isoNow(this.clock);
    const batch: BatchRecord = {
      sandbox,
      id: newId('batch'),
      datasetId,
      status: 'processing',
      inputFormat: 'stream',
      options: { connections: [...group.connections], duplicates },
      files: [],
      rowsRead: group.records.length + group.failed.length,
      rowsWritten: 0,
      rowsRejected: rejected,
      snapshotId: null,
      errorCode: null,
      errorMessage: null,
      createdBy: STREAMING_PRINCIPAL.id,
      createdAt: now,
      updatedAt: now,
      completedAt: null,
    };
    await this.metadata.batches.create(batch);
    return batch;
  }

  /**
   * Appends the records as one snapshot. If the warehouse refuses a value the schema allowed (an integer past
   * BIGINT), halves are retried until the culprits are single records, which become failed records; any
   * other failure propagates so the group is retried later, with the queue applying backpressure meanwhile.
   */
  private async write(
    sandbox: string,
    dataset: DatasetRecord,
    rows: Rows,
    batchId: string,
  ): Promise<{ outcomes: { outcome: WriteOutcome; records: JsonRecord[] }[]; refused: FailedItem[] }> {
    const { records, lines } = rows;
    if (records.length === 0) return { outcomes: [], refused: [] };
    try {
      // The records' texts from intake are staged as they are: no record is serialised again here.
      const outcome = await this.datasets.appendWith(STREAMING_PRINCIPAL, sandbox, dataset, batchId, ({ table, warehouse, stamp }) => appendJsonLines(warehouse, table, stamp, lines));
      this.storedIds.written(sandbox, dataset.id, outcome.snapshotId, idsOf(records));
      return { outcomes: [{ outcome, records }], refused: [] };
    } catch (error) {
      if (!(error instanceof RoundtripError && error.code === 'RT_WAREHOUSE_FAILED' && REFUSED_VALUE.test(error.message))) throw error;
      if (records.length === 1) {
        const issue = { path: '', code: 'RT_WAREHOUSE_FAILED' as const, message: error.message };
        return { outcomes: [], refused: [{ datasetId: dataset.id, rowNumber: 0, raw: lines[0]!, issues: [issue] }] };
      }
      // The refused write took a snapshot id: the known ids are reloaded before the next duplicate check.
      this.storedIds.forget(sandbox, dataset.id);
      const middle = Math.ceil(records.length / 2);
      const first = await this.write(sandbox, dataset, half(rows, 0, middle), batchId);
      const second = await this.write(sandbox, dataset, half(rows, middle), batchId);
      return { outcomes: [...first.outcomes, ...second.outcomes], refused: [...first.refused, ...second.refused] };
    }
  }

  /** On replay: failed records that an interrupted apply already kept are not kept twice. */
  private async notYetKept(sandbox: string, datasetId: string, failed: FailedItem[]): Promise<FailedItem[]> {
    if (failed.length === 0) return failed;
    await this.failedRecords.ensureTable(sandbox);
    const result = await (await this.warehouse.sandbox(sandbox)).query(
      `SELECT DISTINCT raw FROM ${FAILED_RECORDS_TABLE} WHERE "datasetId" = $dataset AND source = 'streaming' AND raw IN (SELECT unnest(json_transform($raws, '["VARCHAR"]')))`,
      { dataset: datasetId, raws: JSON.stringify(failed.map((f) => f.raw)) },
    );
    const kept = new Set(result.rows.map((r) => r.raw as string));
    return failed.filter((f) => !kept.has(f.raw));
  }

  /**
   * Settles streaming batches a crash left `processing`: a pending snapshot whose rows reached the table is
   * committed with their count, one whose rows did not is failed; the batch then says what really landed.
   * Runs before the log is replayed, so the replay's duplicate check sees those rows.
   */
  async resolveInDoubt(sandbox: string): Promise<number> {
    const open = (await this.metadata.batches.list(sandbox, { status: 'processing', limit: 1000 })).filter((b) => b.inputFormat === 'stream');
    for (const batch of open) {
      const dataset = await this.metadata.datasets.get(sandbox, batch.datasetId);
      const written = dataset ? await this.settleSnapshots(sandbox, dataset, batch.id) : { rows: 0, last: null };
      const kept = await this.failedRecords.count(sandbox, { batchId: batch.id });
      const now = isoNow(this.clock);
      await this.metadata.batches.update(sandbox, batch.id, {
        status: written.rows > 0 || kept > 0 ? 'success' : 'failed',
        rowsWritten: written.rows,
        rowsRejected: kept,
        snapshotId: written.last,
        ...(written.rows === 0 && kept === 0 && { errorCode: 'RT_STREAM_UNAVAILABLE', errorMessage: 'Interrupted by a restart; its records were replayed from the log into a later batch.' }),
        updatedAt: now,
        completedAt: now,
      });
    }
    return open.length;
  }

  private async settleSnapshots(sandbox: string, dataset: DatasetRecord, batchId: string): Promise<{ rows: number; last: number | null }> {
    const warehouse = await this.warehouse.sandbox(sandbox);
    let rows = 0;
    let last: number | null = null;
    for (const snapshot of (await this.metadata.snapshots.list(sandbox, dataset.id)).filter((s) => s.batchId === batchId)) {
      let count = snapshot.rowCount;
      if (snapshot.status === 'pending') {
        count = await warehouse.countRows(dataset.tableName, { snapshotId: snapshot.snapshotId });
        if (count > 0) await this.metadata.snapshots.commit(sandbox, dataset.id, snapshot.snapshotId, count, isoNow(this.clock));
        else await this.metadata.snapshots.fail(sandbox, dataset.id, snapshot.snapshotId, isoNow(this.clock));
      }
      if (snapshot.status !== 'failed' && count > 0) {
        rows += count;
        last = snapshot.snapshotId;
      }
    }
    return { rows, last };
  }
}
