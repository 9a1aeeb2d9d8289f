/**
 * Batch ingestion: the life of a batch, in the shape of Adobe's batch API (reference §3.1). A batch is created
 * for one dataset and one input format (`loading`), receives files (whole, or in ordered chunks), and on
 * COMPLETE is processed in the background (`processing`) into `success` or `failed`, with the counts of rows
 * read, written and rejected. ABORT drops a batch that is still loading.
 *
 * Processing is one snapshot of the dataset: every file is checked against the schema (CSV and Parquet in
 * DuckDB SQL, JSON through the JS checker), rejected rows go to the failed records, and the good rows are
 * written only when the rejected share stays within the batch's threshold. Whatever goes wrong, the batch
 * ends `failed` with a code and a message; a batch left `processing` by a stopped server is marked failed
 * (`RT_BATCH_INTERRUPTED`) the next time anyone reads it.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { AuditLog } from '../../access/audit.ts';
import type { Principal } from '../../access/principal.ts';
import type { Datasets } from '../../catalog/datasets.ts';
import type { SchemaRegistry } from '../../catalog/schema-registry.ts';
import type { ResolvedSchema } from '../../catalog/xdm/compose.ts';
import { isoNow, type Clock } from '../../core/clock.ts';
import { RoundtripError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { BatchChanges, BatchRecord, BatchStatus, DatasetRecord, MetadataStore } from '../../ports/metadata-store.ts';
import type { JsonValue, SandboxWarehouse, Warehouse } from '../../ports/warehouse.ts';
import type { FailedRecords } from '../failed-records.ts';
import type { RecordLimits } from '../record-checks.ts';
import { loadJson, type JsonFile } from './json-load.ts';
import type { LoadCounts, LoadTarget } from './load-sql.ts';
import { DEFAULT_FAILURE_THRESHOLD, type BatchFile, type BatchInput, type BatchViewT, type InputFormat } from './payloads.ts';
import { describeFile, loadTabular, type TabularOptions } from './tabular.ts';
import { appendChunk, createEmpty, filePath, moveInto, receiveWhole, removeBatchFiles, workDir, type ContentRange } from './uploads.ts';

export interface BatchIngestionDeps {
  metadata: MetadataStore;
  warehouse: Warehouse;
  datasets: Datasets;
  registry: SchemaRegistry;
  failedRecords: FailedRecords;
  audit: AuditLog;
  clock: Clock;
  limits: RecordLimits;
}

interface BatchOptions {
  isMultiLineJson?: boolean;
  delimiter?: string;
  failureThreshold: number;
}

export interface BatchFilter {
  /** Dataset id or name. */
  datasetId?: string;
  status?: BatchStatus;
  limit?: number;
}

/** Runs work for one key at a time, in arrival order. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const tail = previous.then(() => new Promise<void>((resolve) => (release = resolve)));
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

const optionsOf = (batch: BatchRecord): BatchOptions => ({ failureThreshold: DEFAULT_FAILURE_THRESHOLD, ...(batch.options as Partial<BatchOptions>) });
const filesOf = (batch: BatchRecord): BatchFile[] => (Array.isArray(batch.files) ? (batch.files as unknown as BatchFile[]) : []);

export function batchView(batch: BatchRecord): BatchViewT {
  const { failureThreshold, ...formatOptions } = (batch.options ?? {}) as Partial<BatchOptions> & Record<string, unknown>;
  return {
    id: batch.id,
    datasetId: batch.datasetId,
    status: batch.status,
    inputFormat: { format: batch.inputFormat, ...formatOptions },
    ...(typeof failureThreshold === 'number' ? { failureThreshold } : {}),
    files: filesOf(batch),
    rowsRead: batch.rowsRead,
    rowsWritten: batch.rowsWritten,
    rowsRejected: batch.rowsRejected,
    snapshotId: batch.snapshotId,
    errorCode: batch.errorCode,
    errorMessage: batch.errorMessage,
    createdBy: batch.createdBy,
    createdAt: batch.createdAt,
    updatedAt: batch.updatedAt,
    completedAt: batch.completedAt,
  };
}

function thresholdError(counts: LoadCounts, threshold: number): RoundtripError {
  const share = counts.rowsRead ? ((100 * counts.rowsRejected) / counts.rowsRead).toFixed(1) : '0';
  return new RoundtripError(
    'RT_BATCH_THRESHOLD_EXCEEDED',
    `${counts.rowsRejected} of ${counts.rowsRead} rows (${share}%) were rejected, more than the failure threshold of ${threshold * 100}%; nothing was written. The failed records say why.`,
    { counts },
  );
}

export class BatchIngestion {
  private readonly locks = new KeyedLock();
  private readonly running = new Map<string, Promise<void>>();
  /** Batches are processed one at a time: each already uses every DuckDB thread. */
  private queue: Promise<void> = Promise.resolve();
  private readonly startedAt: string;

  constructor(private readonly deps: BatchIngestionDeps) {
    this.startedAt = isoNow(deps.clock);
  }

  private now(): string {
    return isoNow(this.deps.clock);
  }

  async create(actor: Principal, sandbox: string, input: BatchInput): Promise<BatchRecord> {
    const dataset = await this.deps.datasets.get(sandbox, input.datasetId);
    const { format, isMultiLineJson, delimiter } = input.inputFormat;
    if (delimiter !== undefined && format !== 'csv') throw new RoundtripError('RT_REQUEST_INVALID', 'inputFormat.delimiter applies to csv only.');
    if (isMultiLineJson !== undefined && format !== 'json') throw new RoundtripError('RT_REQUEST_INVALID', 'inputFormat.isMultiLineJson applies to json only.');
    const now = this.now();
    const options: BatchOptions = {
      ...(isMultiLineJson !== undefined ? { isMultiLineJson } : {}),
      ...(format === 'csv' ? { delimiter: delimiter ?? ',' } : {}),
      failureThreshold: input.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD,
    };
    const batch: BatchRecord = {
      sandbox,
      id: newId('batch'),
      datasetId: dataset.id,
      status: 'loading',
      inputFormat: format,
      options: options as unknown as JsonValue,
      files: [],
      rowsRead: 0,
      rowsWritten: 0,
      rowsRejected: 0,
      snapshotId: null,
      errorCode: null,
      errorMessage: null,
      createdBy: actor.id,
      createdAt: now,
      updatedAt: now,
      completedAt: null,
    };
    await this.deps.metadata.batches.create(batch);
    await this.deps.audit.record(actor, { sandbox, action: 'batch.create', resourceType: 'batch', resourceId: batch.id, details: { datasetId: dataset.id, format } });
    return batch;
  }

  async get(sandbox: string, id: string): Promise<BatchRecord> {
    const batch = await this.deps.metadata.batches.get(sandbox, id);
    if (!batch) throw new RoundtripError('RT_BATCH_NOT_FOUND', `Batch "${id}" does not exist in this sandbox.`);
    return this.recoverInterrupted(batch);
  }

  async list(sandbox: string, filter: BatchFilter = {}): Promise<BatchRecord[]> {
    const datasetId = filter.datasetId === undefined ? undefined : (await this.deps.datasets.get(sandbox, filter.datasetId)).id;
    const batches = await this.deps.metadata.batches.list(sandbox, { datasetId, status: filter.status, limit: filter.limit ?? 100 });
    return Promise.all(batches.map((b) => this.recoverInterrupted(b)));
  }

  /**
   * A file batch shown `processing` that this process is not running, last touched before it started, was
   * cut off by a stop: its transaction never committed, so nothing of it was written. Streaming commits
   * (`stream`) belong to the streaming service and are left alone.
   */
  private async recoverInterrupted(batch: BatchRecord): Promise<BatchRecord> {
    const orphaned = batch.status === 'processing' && batch.inputFormat !== 'stream' && !this.running.has(`${batch.sandbox}/${batch.id}`) && batch.updatedAt < this.startedAt;
    if (!orphaned) return batch;
    const changes: BatchChanges = {
      status: 'failed',
      errorCode: 'RT_BATCH_INTERRUPTED',
      errorMessage: 'The server stopped while this batch was processing; nothing of it was written. Upload it again as a new batch.',
      updatedAt: this.now(),
      completedAt: this.now(),
    };
    await this.deps.metadata.batches.update(batch.sandbox, batch.id, changes);
    return { ...batch, ...changes };
  }

  private async stagingDir(sandbox: string): Promise<string> {
    return (await this.deps.warehouse.sandbox(sandbox)).stagingDir;
  }

  /** The batch, checked to be loading and to belong to the dataset named in the path. */
  private async loadingBatch(sandbox: string, batchId: string, datasetRef: string): Promise<BatchRecord> {
    const batch = await this.get(sandbox, batchId);
    if (datasetRef !== batch.datasetId && (await this.deps.datasets.get(sandbox, datasetRef)).id !== batch.datasetId) {
      throw new RoundtripError('RT_REQUEST_INVALID', `Batch ${batchId} belongs to dataset ${batch.datasetId}, not ${datasetRef}.`);
    }
    if (batch.status !== 'loading') throw new RoundtripError('RT_BATCH_STATE', `Batch ${batchId} is ${batch.status}; files are only added while it is loading.`);
    return batch;
  }

  /** Records a file's entry (replacing one of the same name, keeping upload order). Call under the batch lock. */
  private async saveFile(batch: BatchRecord, file: BatchFile): Promise<BatchFile> {
    const files = filesOf(batch);
    const at = files.findIndex((f) => f.name === file.name);
    const next = at >= 0 ? files.map((f, i) => (i === at ? file : f)) : [...files, file];
    await this.deps.metadata.batches.update(batch.sandbox, batch.id, { files: next, updatedAt: this.now() });
    return file;
  }

  private fileEntry(batch: BatchRecord, name: string): BatchFile {
    const entry = filesOf(batch).find((f) => f.name === name);
    if (!entry) throw new RoundtripError('RT_BATCH_FILE_NOT_FOUND', `Batch ${batch.id} has no file "${name}"; a chunked upload starts with POST …/files/${name}?action=INITIALIZE.`);
    return entry;
  }

  /** PUT: a whole file, streamed to disk. */
  async putFile(sandbox: string, batchId: string, datasetRef: string, name: string, body: Readable): Promise<BatchFile> {
    await this.loadingBatch(sandbox, batchId, datasetRef);
    const target = filePath(await this.stagingDir(sandbox), batchId, name);
    const { temp, bytes } = await receiveWhole(target, body);
    try {
      return await this.locks.run(`${sandbox}/${batchId}`, async () => {
        const batch = await this.loadingBatch(sandbox, batchId, datasetRef);
        await moveInto(temp, target);
        return this.saveFile(batch, { name, bytes, totalBytes: bytes, complete: true, chunked: false });
      });
    } finally {
      await rm(temp, { force: true });
    }
  }

  /** POST ?action=INITIALIZE: starts a chunked upload (an empty file). */
  async initializeFile(sandbox: string, batchId: string, datasetRef: string, name: string): Promise<BatchFile> {
    const target = filePath(await this.stagingDir(sandbox), batchId, name);
    return this.locks.run(`${sandbox}/${batchId}`, async () => {
      const batch = await this.loadingBatch(sandbox, batchId, datasetRef);
      await createEmpty(target);
      return this.saveFile(batch, { name, bytes: 0, totalBytes: null, complete: false, chunked: true });
    });
  }

  /** PATCH with Content-Range: the next chunk, which must start where the file ends. */
  async appendChunk(sandbox: string, batchId: string, datasetRef: string, name: string, range: ContentRange, body: Readable): Promise<BatchFile> {
    const target = filePath(await this.stagingDir(sandbox), batchId, name);
    const batchKey = `${sandbox}/${batchId}`;
    return this.locks.run(`${batchKey}/${name}`, async () => {
      const entry = this.fileEntry(await this.loadingBatch(sandbox, batchId, datasetRef), name);
      if (!entry.chunked || entry.complete) throw new RoundtripError('RT_BATCH_STATE', `File ${name} is ${entry.complete ? 'complete' : 'not a chunked upload'}; INITIALIZE it again to restart.`);
      if (entry.totalBytes !== null && range.total !== null && range.total !== entry.totalBytes) {
        throw new RoundtripError('RT_REQUEST_INVALID', `File ${name} was announced with ${entry.totalBytes} bytes; this chunk says ${range.total}.`);
      }
      const bytes = await appendChunk(target, range, body);
      return this.locks.run(batchKey, async () => {
        const batch = await this.loadingBatch(sandbox, batchId, datasetRef);
        return this.saveFile(batch, { ...this.fileEntry(batch, name), bytes, totalBytes: range.total ?? entry.totalBytes });
      });
    });
  }

  /** POST ?action=COMPLETE on a file: the chunked upload is whole. */
  async completeFile(sandbox: string, batchId: string, datasetRef: string, name: string): Promise<BatchFile> {
    const target = filePath(await this.stagingDir(sandbox), batchId, name);
    return this.locks.run(`${sandbox}/${batchId}/${name}`, () =>
      this.locks.run(`${sandbox}/${batchId}`, async () => {
        const batch = await this.loadingBatch(sandbox, batchId, datasetRef);
        const entry = this.fileEntry(batch, name);
        if (entry.complete) return entry;
        const bytes = (await stat(target)).size;
        if (bytes === 0) throw new RoundtripError('RT_BATCH_FILE_INVALID', `${name} is empty; a batch file needs at least one record.`);
        if (entry.totalBytes !== null && bytes !== entry.totalBytes) {
          throw new RoundtripError('RT_BATCH_FILE_INVALID', `${name} has ${bytes} of its ${entry.totalBytes} bytes; send the missing chunks first.`, { bytes, totalBytes: entry.totalBytes });
        }
        return this.saveFile(batch, { ...entry, bytes, totalBytes: bytes, complete: true });
      }),
    );
  }

  /** POST ?action=COMPLETE: no more files; processing starts in the background. */
  async complete(actor: Principal, sandbox: string, batchId: string): Promise<BatchRecord> {
    const batch = await this.locks.run(`${sandbox}/${batchId}`, async () => {
      const current = await this.get(sandbox, batchId);
      if (current.status !== 'loading') throw new RoundtripError('RT_BATCH_STATE', `Batch ${batchId} is ${current.status}; only a loading batch can be completed.`);
      const files = filesOf(current);
      if (files.length === 0) throw new RoundtripError('RT_BATCH_STATE', `Batch ${batchId} has no files; upload at least one before COMPLETE.`);
      const unfinished = files.find((f) => !f.complete);
      if (unfinished) throw new RoundtripError('RT_BATCH_FILE_INVALID', `File ${unfinished.name} is still being uploaded; COMPLETE it (…/files/${unfinished.name}?action=COMPLETE) first.`);
      const changes: BatchChanges = { status: 'processing', updatedAt: this.now() };
      await this.deps.metadata.batches.update(sandbox, batchId, changes);
      return { ...current, ...changes };
    });
    await this.deps.audit.record(actor, { sandbox, action: 'batch.complete', resourceType: 'batch', resourceId: batchId, details: { files: filesOf(batch).length } });
    this.schedule(actor, batch);
    return batch;
  }

  private schedule(actor: Principal, batch: BatchRecord): void {
    const key = `${batch.sandbox}/${batch.id}`;
    const run = this.queue.then(() => this.process(actor, batch));
    this.queue = run.catch(() => undefined);
    this.running.set(key, run);
    void run.finally(() => this.running.delete(key));
  }

  /**
   * Resolves once every batch queued here has finished processing. The HTTP app waits for it when it closes,
   * so a CLI on the data directory (or a server shutting down) does not cut a batch off half way.
   */
  async drain(): Promise<void> {
    while (this.running.size > 0) await this.queue;
  }

  /** The batch once its processing (if any is running here) has finished. */
  async settled(sandbox: string, batchId: string): Promise<BatchRecord> {
    await this.running.get(`${sandbox}/${batchId}`);
    return this.get(sandbox, batchId);
  }

  /** POST ?action=ABORT: drops a loading batch and its files. */
  async abort(actor: Principal, sandbox: string, batchId: string): Promise<BatchRecord> {
    const batch = await this.locks.run(`${sandbox}/${batchId}`, async () => {
      const current = await this.get(sandbox, batchId);
      if (current.status !== 'loading') throw new RoundtripError('RT_BATCH_STATE', `Batch ${batchId} is ${current.status}; only a loading batch can be aborted.`);
      const changes: BatchChanges = { status: 'aborted', updatedAt: this.now(), completedAt: this.now() };
      await this.deps.metadata.batches.update(sandbox, batchId, changes);
      return { ...current, ...changes };
    });
    await removeBatchFiles(await this.stagingDir(sandbox), batchId);
    await this.deps.audit.record(actor, { sandbox, action: 'batch.abort', resourceType: 'batch', resourceId: batchId });
    return batch;
  }

  /** Never throws: every outcome, including an unexpected error, ends on the batch record. */
  private async process(actor: Principal, batch: BatchRecord): Promise<void> {
    const { sandbox } = batch;
    let counts: LoadCounts | undefined;
    let staging: string | undefined;
    try {
      staging = await this.stagingDir(sandbox);
      const dataset = await this.deps.datasets.get(sandbox, batch.datasetId);
      const schema = await this.deps.registry.getResolved(sandbox, dataset.schemaId, dataset.schemaVersion);
      await this.deps.failedRecords.ensureTable(sandbox);
      const { failureThreshold } = optionsOf(batch);
      const outcome = await this.deps.datasets.appendWith(actor, sandbox, dataset, batch.id, async ({ table, warehouse, stamp }) => {
        counts = await this.load(batch, dataset, schema, warehouse, { table, datasetId: dataset.id, stamp, threshold: failureThreshold });
        if (!counts.accepted) throw thresholdError(counts, failureThreshold);
        return counts.rowsRead - counts.rowsRejected;
      });
      await this.finish(batch, counts, { status: 'success', rowsWritten: outcome.rowCount, snapshotId: outcome.snapshotId });
    } catch (error) {
      const known = error instanceof RoundtripError ? error : undefined;
      await this.finish(batch, counts, {
        status: 'failed',
        rowsWritten: 0,
        errorCode: known?.code ?? 'RT_INTERNAL',
        errorMessage: known?.message ?? `Unexpected failure while processing: ${(error as Error).message}`,
      }).catch(() => undefined);
    } finally {
      if (staging) await removeBatchFiles(staging, batch.id).catch(() => undefined);
    }
  }

  private async finish(batch: BatchRecord, counts: LoadCounts | undefined, changes: BatchChanges): Promise<void> {
    const files = filesOf(batch).map((f, i) => ({ ...f, ...(counts?.files[i] ?? {}) }));
    await this.deps.metadata.batches.update(batch.sandbox, batch.id, {
      ...changes,
      files,
      rowsRead: counts?.rowsRead ?? 0,
      rowsRejected: counts?.rowsRejected ?? 0,
      updatedAt: this.now(),
      completedAt: this.now(),
    });
  }

  private recordLimit(schema: ResolvedSchema): TabularOptions['recordLimit'] {
    return schema['meta:class'] === 'experienceevent'
      ? { bytes: this.deps.limits.eventRecordLimitBytes, kind: 'ExperienceEvent' }
      : { bytes: this.deps.limits.profileRecordLimitBytes, kind: 'profile' };
  }

  private async load(batch: BatchRecord, dataset: DatasetRecord, schema: ResolvedSchema, warehouse: SandboxWarehouse, target: LoadTarget): Promise<LoadCounts> {
    const format = batch.inputFormat as InputFormat;
    const options = optionsOf(batch);
    const paths = filesOf(batch).map((f) => filePath(warehouse.stagingDir, batch.id, f.name));
    if (format === 'csv' || format === 'parquet') {
      const tabular: TabularOptions = { format, delimiter: options.delimiter ?? ',', recordLimit: this.recordLimit(schema) };
      const files = [];
      for (const path of paths) files.push({ path, columns: await describeFile(warehouse, path, tabular) });
      return loadTabular(warehouse, schema, files, tabular, target);
    }
    const layout: JsonFile['layout'] = format === 'jsonl' ? 'lines' : options.isMultiLineJson ? 'values' : 'auto';
    const work = workDir(warehouse.stagingDir, batch.id);
    await mkdir(work, { recursive: true });
    const checker = await this.deps.datasets.checker(batch.sandbox, dataset);
    return loadJson(warehouse, checker, paths.map((path) => ({ path, layout })), target, work);
  }
}
