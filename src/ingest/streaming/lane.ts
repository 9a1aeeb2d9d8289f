/**
 * A lane: streaming ingestion of one sandbox. It owns the sandbox's write-ahead log and the queue of entries
 * that are durable but not yet in the datasets, and runs the background consumer: after `applyIntervalMs`
 * (so one snapshot gathers many requests) it hands the oldest entries to the applier, then moves the log's
 * checkpoint past them. A failed apply is retried with backoff; the entries stay queued (and keep counting
 * against the queue bound, which is what turns a stuck warehouse into 429s rather than memory growth).
 */
import type { Applier, ApplyCounts } from './applier.ts';
import type { StreamEntry } from './intake.ts';
import type { StreamingOptions } from './options.ts';
import { WriteAheadLog } from './wal.ts';

export interface QueuedEntry {
  lsn: number;
  entry: StreamEntry;
  bytes: number;
  records: number;
  /** Read back from the log after a restart, or retried after a failed apply: parts of it may already be stored. */
  replayed: boolean;
}

export interface LaneEvents {
  /** Entries left the queue (applied, or dropped because their sandbox or dataset is gone). */
  released(entries: readonly QueuedEntry[], counts: ApplyCounts, elapsedMs: number): void;
  failed(error: unknown, attempt: number): void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function recordsIn(entry: StreamEntry): number {
  return Object.values(entry.writes).reduce((n, records) => n + records.length, 0) + entry.failed.length;
}

export class Lane {
  private readonly queue: QueuedEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private appliedLsn: number;
  private inDoubtResolved = false;
  private stopping = false;

  private constructor(
    readonly sandbox: string,
    private readonly wal: WriteAheadLog,
    private readonly applier: Applier,
    private readonly options: StreamingOptions,
    private readonly events: LaneEvents,
  ) {
    this.appliedLsn = wal.headLsn - 1;
  }

  /** Opens the sandbox's log; entries after its checkpoint are queued for replay (and applied right away). */
  static open(sandbox: string, dir: string, applier: Applier, options: StreamingOptions, events: LaneEvents): { lane: Lane; replayed: QueuedEntry[] } {
    const { wal, pending } = WriteAheadLog.open(dir, { segmentBytes: options.segmentBytes });
    const lane = new Lane(sandbox, wal, applier, options, events);
    const replayed = pending.map((record) => {
      const entry = JSON.parse(record.payload) as StreamEntry;
      return { lsn: record.lsn, entry, bytes: Buffer.byteLength(record.payload), records: recordsIn(entry), replayed: true };
    });
    lane.appliedLsn = (replayed[0]?.lsn ?? wal.headLsn) - 1;
    lane.queue.push(...replayed);
    lane.kick(0);
    return { lane, replayed };
  }

  get headLsn(): number {
    return this.wal.headLsn;
  }

  get checkpointLsn(): number {
    return this.appliedLsn;
  }

  get syncs(): number {
    return this.wal.syncs;
  }

  get pendingEntries(): number {
    return this.queue.length;
  }

  /**
   * Writes the entry to the log. `bytes` (its size in the log) is known at once; `durable` resolves once it is
   * synced, after which the entry is queued for the datasets (in log order: syncs complete in order).
   */
  append(entry: StreamEntry, payload: string, records: number): { bytes: number; durable: Promise<void> } {
    const { lsn, bytes, durable } = this.wal.append(payload);
    return {
      bytes,
      durable: durable.then(() => {
        this.queue.push({ lsn, entry, bytes, records, replayed: false });
        this.kick(this.options.applyIntervalMs);
      }),
    };
  }

  /** Applies everything queued now, without waiting for the interval; resolves when the queue is empty. */
  async drain(): Promise<void> {
    while (!this.stopping && (this.queue.length > 0 || this.running)) {
      this.kick(0);
      await this.running;
    }
  }

  /** Starts the consumer after `delayMs` unless it is already running or scheduled sooner. */
  private kick(delayMs: number): void {
    if (this.running || this.stopping) return;
    if (this.timer && delayMs > 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const start = (): void => {
      this.timer = undefined;
      this.running ??= this.consume().finally(() => {
        this.running = undefined;
        if (this.queue.length > 0) this.kick(this.options.applyIntervalMs);
      });
    };
    if (delayMs <= 0) start();
    else this.timer = setTimeout(start, delayMs);
  }

  private async consume(): Promise<void> {
    for (let attempt = 0; this.queue.length > 0 && !this.stopping; ) {
      const group = this.nextGroup();
      const started = performance.now();
      try {
        if (!this.inDoubtResolved) {
          await this.applier.resolveInDoubt(this.sandbox);
          this.inDoubtResolved = true;
        }
        const counts = await this.applier.apply(
          this.sandbox,
          group.map((q) => q.entry),
          group.some((q) => q.replayed),
        );
        this.queue.splice(0, group.length);
        this.appliedLsn = group.at(-1)!.lsn;
        await this.wal.checkpoint(this.appliedLsn);
        this.events.released(group, counts, performance.now() - started);
        attempt = 0;
      } catch (error) {
        for (const q of group) q.replayed = true;
        attempt++;
        this.events.failed(error, attempt);
        await sleep(Math.min(30_000, 100 * 2 ** attempt));
      }
    }
  }

  /** The oldest entries, up to `maxApplyRecords` records (at least one entry). */
  private nextGroup(): QueuedEntry[] {
    let records = 0;
    let end = 0;
    while (end < this.queue.length && (end === 0 || records + this.queue[end]!.records <= this.options.maxApplyRecords)) {
      records += this.queue[end]!.records;
      end++;
    }
    return this.queue.slice(0, end);
  }

  /** Applies what is queued (up to `deadlineMs`), then closes the log; anything left is replayed on next start. */
  async close(deadlineMs: number): Promise<void> {
    let timeout: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timeout = setTimeout(resolve, deadlineMs)));
    await Promise.race([this.drain(), deadline]);
    clearTimeout(timeout);
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
    await this.wal.close();
  }
}
