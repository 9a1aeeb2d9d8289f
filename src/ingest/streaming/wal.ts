/**
 * Write-ahead log of streaming ingestion, one per sandbox: what makes an acknowledged event durable before it
 * reaches the warehouse. `append` resolves only after the entry is on disk (`fdatasync`), and every append
 * that arrives while a sync is in flight joins the next one (group commit: one write and one sync per group,
 * however many requests are waiting). A consumer applies entries to the datasets in the background and moves
 * the checkpoint; on start, entries after the checkpoint are handed back for replay.
 *
 * Layout: `<dir>/<first lsn, 16 digits>.wal` segments and `<dir>/checkpoint.json` (`{"lsn": n}`). A frame is
 * `<lsn> <bytes> <crc32>\n<payload>\n`, readable with `less`. A crash can only tear the tail (the file is
 * append-only); replay stops at the first frame that is short or fails its checksum and truncates it away —
 * such a frame was never synced, so it was never acknowledged.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import * as zlib from 'node:zlib';

export interface WalOptions {
  /** A segment is closed once it grows past this many bytes (default 64 MiB). */
  segmentBytes?: number;
  /** `false` skips fdatasync (tests of logic only; never in a server). */
  sync?: boolean;
}

export interface WalRecord {
  lsn: number;
  payload: string;
}

interface Waiter {
  lsn: number;
  frame: Buffer;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const SEGMENT = /^(\d{16})\.wal$/;
const CHECKPOINT = 'checkpoint.json';

const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

/** CRC-32 (zlib's); Node ≥ 20.15 has it built in, older 20.x uses the table. */
function crc32(data: Buffer): number {
  const builtIn = (zlib as { crc32?: (data: Buffer) => number }).crc32;
  if (builtIn) return builtIn(data);
  let crc = -1;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

export function encodeFrame(lsn: number, payload: string): Buffer {
  const body = Buffer.from(payload);
  return Buffer.concat([Buffer.from(`${lsn} ${body.length} ${crc32(body)}\n`), body, Buffer.from('\n')]);
}

/** Reads whole frames from a segment; `validBytes` is where the last good one ends. */
export function decodeFrames(data: Buffer): { records: WalRecord[]; validBytes: number } {
  const records: WalRecord[] = [];
  let offset = 0;
  while (offset < data.length) {
    const headerEnd = data.indexOf(0x0a, offset);
    if (headerEnd < 0 || headerEnd - offset > 64) break;
    const [lsn, bytes, crc] = data.toString('latin1', offset, headerEnd).split(' ').map(Number);
    const start = headerEnd + 1;
    const end = start + (bytes ?? Number.NaN);
    if (!Number.isSafeInteger(lsn) || !Number.isSafeInteger(bytes) || end >= data.length || data[end] !== 0x0a) break;
    const body = data.subarray(start, end);
    if (crc32(body) !== crc) break;
    records.push({ lsn: lsn!, payload: body.toString() });
    offset = end + 1;
  }
  return { records, validBytes: offset };
}

const segmentName = (firstLsn: number): string => `${String(firstLsn).padStart(16, '0')}.wal`;

export class WriteAheadLog {
  private handle: FileHandle | undefined;
  /** First lsn of the segment `handle` appends to. */
  private current: number | undefined;
  /** A group is being written and synced (appends still queued are in `queue`). */
  private writing = false;
  /** Set by `open`: the next write continues the last segment on disk. */
  private resumeLast = true;
  private segmentSize = 0;
  private segments: number[];
  private nextLsn: number;
  private queue: Waiter[] = [];
  /** Set and cleared synchronously, so an append never sees a loop that is about to stop without it. */
  private flushing = false;
  private flushed: Promise<void> = Promise.resolve();
  private broken: Error | undefined;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly options: Required<WalOptions>,
    segments: number[],
    nextLsn: number,
    private checkpointLsn: number,
  ) {
    this.segments = segments;
    this.nextLsn = nextLsn;
  }

  /** Opens (or creates) the log in `dir` and returns the entries after the checkpoint, oldest first. */
  static open(dir: string, options: WalOptions = {}): { wal: WriteAheadLog; pending: WalRecord[] } {
    mkdirSync(dir, { recursive: true });
    const checkpointLsn = readCheckpoint(dir);
    const segments = readdirSync(dir)
      .map((name) => SEGMENT.exec(name)?.[1])
      .filter((first): first is string => first !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const pending: WalRecord[] = [];
    let lastLsn = checkpointLsn;
    for (const first of segments) {
      const file = path.join(dir, segmentName(first));
      const data = readFileSync(file);
      const { records, validBytes } = decodeFrames(data);
      if (validBytes < data.length) truncateSync(file, validBytes);
      for (const record of records) {
        lastLsn = Math.max(lastLsn, record.lsn);
        if (record.lsn > checkpointLsn) pending.push(record);
      }
    }
    const wal = new WriteAheadLog(dir, { segmentBytes: options.segmentBytes ?? 64 * 1024 * 1024, sync: options.sync ?? true }, segments, lastLsn + 1, checkpointLsn);
    return { wal, pending };
  }

  /** Write + sync rounds so far: how many appends shared a sync is `appends / syncs`. */
  syncs = 0;

  /** The lsn the next append will get. */
  get headLsn(): number {
    return this.nextLsn;
  }

  /**
   * Appends one entry; the lsn is assigned now (so order is call order) and the promise resolves once the
   * entry is synced to disk.
   */
  append(payload: string): { lsn: number; bytes: number; durable: Promise<void> } {
    if (this.broken !== undefined) return { lsn: -1, bytes: 0, durable: Promise.reject(this.broken) };
    if (this.closed) return { lsn: -1, bytes: 0, durable: Promise.reject(new Error('The write-ahead log is closed.')) };
    const lsn = this.nextLsn++;
    const frame = encodeFrame(lsn, payload);
    const durable = new Promise<void>((resolve, reject) => this.queue.push({ lsn, frame, resolve, reject }));
    if (!this.flushing) {
      this.flushing = true;
      this.flushed = this.flushLoop();
    }
    return { lsn, bytes: frame.length, durable };
  }

  /**
   * One write + one sync per round; whatever queued up meanwhile forms the next round. The loop's exit check and
   * the flag reset run in one synchronous step, so an append always finds either a running loop or none.
   */
  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.flushGroup(this.queue.splice(0));
    } finally {
      this.flushing = false;
    }
  }

  private async flushGroup(group: Waiter[]): Promise<void> {
    this.writing = true;
    try {
      const handle = await this.writable(group[0]!.lsn);
      const data = group.length === 1 ? group[0]!.frame : Buffer.concat(group.map((w) => w.frame));
      await writeFully(handle, data);
      if (this.options.sync) await handle.datasync();
      this.syncs++;
      this.segmentSize += data.length;
      this.writing = false;
      group.forEach((w) => w.resolve());
    } catch (error) {
      // After a failed write the tail of the file is unknown: refuse everything until a restart replays it.
      this.writing = false;
      this.broken = error instanceof Error ? error : new Error(String(error));
      [...group, ...this.queue.splice(0)].forEach((w) => w.reject(error));
    }
  }

  /** The open segment, or a new one named after `firstLsn` once the current one is full (or was retired). */
  private async writable(firstLsn: number): Promise<FileHandle> {
    if (this.handle && this.segmentSize < this.options.segmentBytes) return this.handle;
    await this.handle?.close();
    this.handle = undefined;
    // Right after a restart the last segment is reopened for appending instead of starting a new file.
    const first = this.resumeLast && this.segments.length > 0 ? this.segments[this.segments.length - 1]! : firstLsn;
    this.resumeLast = false;
    const handle = await open(path.join(this.dir, segmentName(first)), 'a');
    this.segmentSize = (await handle.stat()).size;
    if (!this.segments.includes(first)) this.segments.push(first);
    this.handle = handle;
    this.current = first;
    return handle;
  }

  /**
   * Records that every entry up to `lsn` is in the warehouse and drops the segments that hold nothing newer.
   * When everything written is applied and nothing is being written, the open segment is retired too, so
   * applied events do not linger on disk once streaming is idle. The checkpoint file is replaced atomically;
   * losing it only means replaying more, which is idempotent.
   */
  async checkpoint(lsn: number): Promise<void> {
    if (lsn <= this.checkpointLsn) return;
    this.checkpointLsn = lsn;
    const file = path.join(this.dir, CHECKPOINT);
    writeFileSync(`${file}.tmp`, JSON.stringify({ lsn }));
    renameSync(`${file}.tmp`, file);
    const idle = !this.writing && this.queue.length === 0 && lsn >= this.nextLsn - 1;
    if (this.handle && idle) {
      const handle = this.handle;
      this.handle = undefined;
      this.current = undefined;
      await handle.close();
    }
    this.segments = this.segments.filter((first, i) => {
      const next = this.segments[i + 1];
      const applied = next !== undefined ? next - 1 <= lsn : idle;
      if (first === this.current || !applied) return true;
      rmSync(path.join(this.dir, segmentName(first)), { force: true });
      return false;
    });
  }

  /** Waits for queued appends, then closes the segment. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flushed;
    await this.handle?.close();
    this.handle = undefined;
  }
}

async function writeFully(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += (await handle.write(data, offset, data.length - offset)).bytesWritten;
}

function readCheckpoint(dir: string): number {
  try {
    const { lsn } = JSON.parse(readFileSync(path.join(dir, CHECKPOINT), 'utf8')) as { lsn?: unknown };
    return typeof lsn === 'number' && Number.isSafeInteger(lsn) ? lsn : 0;
  } catch {
    return 0;
  }
}
