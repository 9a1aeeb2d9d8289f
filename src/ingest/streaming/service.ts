/**
 * Streaming ingestion: the service behind the collection and Segment endpoints. It admits a request only while
 * the queue of acknowledged-but-unapplied work is under its bound (else RT_INGEST_OVERLOADED with a
 * Retry-After), writes each request as one entry to its sandbox's write-ahead log and acknowledges once that
 * entry is synced (group commit), and lets each sandbox's lane apply the log to the datasets in the background.
 * On start (`recover`) every sandbox log is reopened and whatever was acknowledged but not applied is replayed.
 *
 * Why a log in front of DuckDB instead of one DuckDB commit per group: an fdatasync of the log costs well under
 * a millisecond here, while a dataset write (snapshot id in metadata, staged bulk append, commit, audit) costs
 * 3–5 ms even for one record and creates one snapshot per group; the log keeps acknowledgements fast and turns
 * a second's worth of requests into one snapshot. `docs/ingestion-streaming.md` has the measurements.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AuditLog } from '../../access/audit.ts';
import type { Datasets } from '../../catalog/datasets.ts';
import type { SchemaRegistry } from '../../catalog/schema-registry.ts';
import type { Clock } from '../../core/clock.ts';
import { RoundtripError } from '../../core/errors.ts';
import type { EventBus } from '../../ports/event-bus.ts';
import type { MetadataStore } from '../../ports/metadata-store.ts';
import type { JsonRecord, Warehouse } from '../../ports/warehouse.ts';
import type { FailedRecords } from '../failed-records.ts';
import { Applier, type ApplierLog, type ApplyCounts } from './applier.ts';
import { StreamingConnections } from './connections.ts';
import { entryPayload, type EntryBuilder, type StreamEntry } from './intake.ts';
import { Lane, type QueuedEntry } from './lane.ts';
import type { StreamingOptions } from './options.ts';
import type { StreamingStatsT } from './payloads.ts';

export interface StreamingDeps {
  /** Logs live in `<streamingDir>/<sandbox>/`. */
  streamingDir: string;
  metadata: MetadataStore;
  warehouse: Warehouse;
  datasets: Datasets;
  registry: SchemaRegistry;
  failedRecords: FailedRecords;
  audit: AuditLog;
  bus: EventBus;
  clock: Clock;
  options: StreamingOptions;
  log?: ApplierLog;
}

/**
 * An acknowledged request, told right after its entry is durable (before the HTTP answer goes out): the records
 * it wrote per dataset id, and when it became durable (`Date.now()`). Listeners must be cheap (queue and
 * return); what they throw or reject is logged and never reaches ingestion.
 */
export type AcknowledgedListener = (sandbox: string, writes: Readonly<Record<string, readonly JsonRecord[]>>, acknowledgedAt: number) => void | Promise<void>;

const consoleLog: ApplierLog = { warn: (message, details) => console.warn(`[streaming] ${message}`, details ?? '') };

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<dir>/lock` for this process: two processes appending to (or truncating the torn tail of) one log
 * would corrupt it. A lock whose process is gone (`kill -9`) is taken over. Returns the release function.
 */
function lockDirectory(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(file, 'utf8'));
      if (Number.isInteger(owner) && owner !== process.pid && processAlive(owner)) break;
      rmSync(file, { force: true });
    }
  }
  throw new RoundtripError('RT_DATA_DIR_LOCKED', `Another process streams into ${dir}; talk to it through its server.`);
}

export class StreamingIngest {
  readonly connections: StreamingConnections;
  private readonly applier: Applier;
  private readonly lanes = new Map<string, Lane>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly log: ApplierLog;
  private queuedBytes = 0;
  private queuedRecords = 0;
  /** Bytes the applier gets through per millisecond of work, smoothed; Retry-After is the queue divided by it. */
  private drainRate = 0;
  private sequence = 0;
  private closing = false;
  private unlock: (() => void) | undefined;
  private readonly totals = { accepted: 0, applied: 0, duplicates: 0, failed: 0, overloaded: 0 };
  private readonly acknowledgedListeners: AcknowledgedListener[] = [];

  constructor(private readonly deps: StreamingDeps) {
    this.log = deps.log ?? consoleLog;
    this.connections = new StreamingConnections(deps.metadata, deps.datasets, deps.registry, deps.audit, deps.clock);
    this.applier = new Applier(deps.metadata, deps.warehouse, deps.datasets, deps.failedRecords, deps.bus, deps.clock, this.log, deps.options.dedupIds);
  }

  get options(): StreamingOptions {
    return this.deps.options;
  }

  /** Reopens every sandbox's log and queues what was acknowledged but never applied. Call once at start. */
  recover(): void {
    if (!existsSync(this.deps.streamingDir)) return;
    this.unlock ??= lockDirectory(this.deps.streamingDir);
    for (const entry of readdirSync(this.deps.streamingDir, { withFileTypes: true })) {
      if (entry.isDirectory()) this.lane(entry.name);
    }
  }

  /** A new transaction id (`<received ms>:<sequence>`), as the collection responses carry. */
  transaction(): { xactionId: string; receivedTimeMs: number } {
    const receivedTimeMs = this.deps.clock.now().getTime();
    return { xactionId: `${receivedTimeMs}:${++this.sequence}`, receivedTimeMs };
  }

  /** Throws RT_INGEST_OVERLOADED (429) while the queue is at its bound, RT_STREAM_UNAVAILABLE (503) while closing. */
  admit(): void {
    if (this.closing) throw new RoundtripError('RT_STREAM_UNAVAILABLE', 'The server is shutting down; retry shortly.', { retryAfterSeconds: 5 });
    const { queueLimitBytes, queueLimitRecords } = this.deps.options;
    if (this.queuedBytes < queueLimitBytes && this.queuedRecords < queueLimitRecords) return;
    this.totals.overloaded++;
    const retryAfterSeconds = Math.min(60, Math.max(1, Math.ceil(this.queuedBytes / Math.max(this.drainRate, 1) / 1000)));
    throw new RoundtripError('RT_INGEST_OVERLOADED', `Streaming ingestion is ${this.queuedRecords} records (${this.queuedBytes} bytes) behind; retry in ${retryAfterSeconds} s.`, {
      retryAfterSeconds,
    });
  }

  /** Hears every acknowledged entry (streaming audiences evaluate from here, before the datasets apply it). */
  onAcknowledged(listener: AcknowledgedListener): void {
    this.acknowledgedListeners.push(listener);
  }

  private acknowledged(sandbox: string, entry: StreamEntry): void {
    const at = Date.now();
    for (const listener of this.acknowledgedListeners) {
      try {
        const done = listener(sandbox, entry.writes, at);
        if (done) done.catch((error: unknown) => this.log.warn('A listener of acknowledged streaming records failed.', (error as Error).message));
      } catch (error) {
        this.log.warn('A listener of acknowledged streaming records failed.', (error as Error).message);
      }
    }
  }

  /** Makes the request's entry durable; resolves once it is synced to the log (the acknowledgement point). */
  async commit(builder: EntryBuilder): Promise<void> {
    if (builder.size === 0) return;
    this.admit();
    const entry = builder.entry();
    const { bytes, durable: appending } = this.lane(builder.connection.sandbox).append(entry, entryPayload(entry), builder.size);
    this.queuedBytes += bytes;
    this.queuedRecords += builder.size;
    this.inflight.add(appending);
    try {
      await appending;
      this.totals.accepted += builder.size;
      if (this.acknowledgedListeners.length) this.acknowledged(builder.connection.sandbox, entry);
    } catch (error) {
      this.queuedBytes -= bytes;
      this.queuedRecords -= builder.size;
      throw new RoundtripError('RT_STREAM_UNAVAILABLE', `The streaming log could not be written: ${(error as Error).message}`, { retryAfterSeconds: 30 });
    } finally {
      this.inflight.delete(appending);
    }
  }

  /** Applies everything acknowledged so far, now; for tests, benchmarks and a clean shutdown. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
    await Promise.all([...this.lanes.values()].map((lane) => lane.drain()));
  }

  stats(): StreamingStatsT {
    return {
      queuedBytes: this.queuedBytes,
      queuedRecords: this.queuedRecords,
      acceptedRecords: this.totals.accepted,
      appliedRecords: this.totals.applied,
      duplicateRecords: this.totals.duplicates,
      failedRecords: this.totals.failed,
      overloadedRequests: this.totals.overloaded,
      duplicateChecks: { ...this.applier.storedIds.answers },
      sandboxes: [...this.lanes.values()].map((lane) => ({ sandbox: lane.sandbox, headLsn: lane.headLsn, appliedLsn: lane.checkpointLsn, pendingEntries: lane.pendingEntries, syncs: lane.syncs })),
    };
  }

  /** Stops admitting, applies what is queued (within `deadlineMs`; the rest is replayed on next start), closes the logs. */
  async close(deadlineMs = 15_000): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.inflight]);
    await Promise.all([...this.lanes.values()].map((lane) => lane.close(deadlineMs)));
    this.lanes.clear();
    this.unlock?.();
    this.unlock = undefined;
  }

  private lane(sandbox: string): Lane {
    let lane = this.lanes.get(sandbox);
    if (!lane) {
      this.unlock ??= lockDirectory(this.deps.streamingDir);
      const opened = Lane.open(sandbox, path.join(this.deps.streamingDir, sandbox), this.applier, this.deps.options, {
        released: (entries, counts, elapsedMs) => this.released(entries, counts, elapsedMs),
        failed: (error, attempt) => this.log.warn(`Applying the streaming log of ${sandbox} failed (attempt ${attempt}); retrying.`, (error as Error).message),
      });
      lane = opened.lane;
      this.lanes.set(sandbox, lane);
      this.count(opened.replayed, +1);
      if (opened.replayed.length) this.log.warn(`Replaying ${opened.replayed.length} acknowledged entries of sandbox ${sandbox} from the streaming log.`);
    }
    return lane;
  }

  private released(entries: readonly QueuedEntry[], counts: ApplyCounts, elapsedMs: number): void {
    const bytes = this.count(entries, -1);
    this.totals.applied += counts.written;
    this.totals.duplicates += counts.duplicates;
    this.totals.failed += counts.failed;
    const rate = bytes / Math.max(elapsedMs, 1);
    this.drainRate = this.drainRate === 0 ? rate : 0.7 * this.drainRate + 0.3 * rate;
  }

  /** Adds (+1) or removes (-1) entries from the queue totals; returns their bytes. */
  private count(entries: readonly QueuedEntry[], sign: 1 | -1): number {
    let bytes = 0;
    for (const q of entries) {
      bytes += q.bytes;
      this.queuedRecords += sign * q.records;
    }
    this.queuedBytes += sign * bytes;
    return bytes;
  }
}
