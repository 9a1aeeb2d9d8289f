/**
 * Batch files on disk. Uploads live in the sandbox's staging folder (`<staging>/batches/<batchId>/<file>`),
 * the only place the sandbox's DuckDB may read, and arrive by streaming the request body to the file: a file
 * is never held in memory whole. Chunked uploads append `Content-Range` chunks strictly in order.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { RoundtripError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';

/** Letters, digits, `.`, `_`, `-`, starting with a letter or digit: no paths, no glob characters DuckDB would expand. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export function assertFileName(name: string): void {
  if (!FILE_NAME.test(name)) {
    throw new RoundtripError('RT_BATCH_FILE_INVALID', `"${name}" is not a usable file name: 1-200 letters, digits, '.', '_' or '-', starting with a letter or digit.`);
  }
}

export function batchDir(stagingDir: string, batchId: string): string {
  return path.join(stagingDir, 'batches', batchId);
}

/** Scratch space of a batch's processing, next to its uploads (names there cannot clash: they start with `.`). */
export function workDir(stagingDir: string, batchId: string): string {
  return path.join(batchDir(stagingDir, batchId), '.work');
}

export function filePath(stagingDir: string, batchId: string, name: string): string {
  assertFileName(name);
  return path.join(batchDir(stagingDir, batchId), name);
}

/** Streams a whole upload to a temporary name; the caller renames it into place once the batch accepts it. */
export async function receiveWhole(target: string, body: Readable): Promise<{ temp: string; bytes: number }> {
  await mkdir(path.dirname(target), { recursive: true });
  const temp = `${path.dirname(target)}/.${newId('upload')}`;
  try {
    await pipeline(body, createWriteStream(temp));
    const { size } = await stat(temp);
    if (size === 0) throw new RoundtripError('RT_BATCH_FILE_INVALID', `${path.basename(target)} is empty; a batch file needs at least one record.`);
    return { temp, bytes: size };
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

export async function moveInto(temp: string, target: string): Promise<void> {
  await rename(temp, target);
}

export async function createEmpty(target: string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  await rm(target, { force: true });
  await pipeline(async function* () {}, createWriteStream(target));
}

export interface ContentRange {
  start: number;
  /** Inclusive, as HTTP says. */
  end: number;
  total: number | null;
}

/** `bytes 0-1023/4096` (or `/*` when the size is not known yet). */
export function parseContentRange(header: string | undefined): ContentRange {
  const match = header ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim()) : null;
  if (!match) throw new RoundtripError('RT_REQUEST_INVALID', 'A chunk needs a `Content-Range: bytes <start>-<end>/<total>` header (end inclusive; total may be *).');
  const [start, end, total] = [Number(match[1]), Number(match[2]), match[3] === '*' ? null : Number(match[3])];
  if (end < start || (total !== null && end >= total)) throw new RoundtripError('RT_REQUEST_INVALID', `Content-Range ${header} is not a valid range.`);
  return { start, end, total };
}

/**
 * Appends one chunk at the end of the file. The chunk must start exactly where the file ends (no gap, no
 * overlap) and carry exactly the announced bytes; otherwise nothing of it is kept.
 */
export async function appendChunk(target: string, range: ContentRange, body: Readable): Promise<number> {
  const before = (await stat(target)).size;
  if (range.start !== before) {
    body.resume();
    throw new RoundtripError(
      'RT_BATCH_CHUNK_OUT_OF_ORDER',
      `${path.basename(target)} has ${before} bytes, so the next chunk must start at byte ${before}; this one starts at ${range.start} (${range.start > before ? 'a gap' : 'an overlap'}).`,
      { expectedStart: before, start: range.start },
    );
  }
  try {
    await pipeline(body, createWriteStream(target, { flags: 'a' }));
  } catch (error) {
    await truncate(target, before);
    throw error;
  }
  const after = (await stat(target)).size;
  const expected = range.end - range.start + 1;
  if (after - before !== expected) {
    await truncate(target, before);
    throw new RoundtripError('RT_BATCH_FILE_INVALID', `The chunk carried ${after - before} bytes but its Content-Range announced ${expected}; it was not kept.`);
  }
  return after;
}

export async function removeBatchFiles(stagingDir: string, batchId: string): Promise<void> {
  await rm(batchDir(stagingDir, batchId), { recursive: true, force: true });
}
