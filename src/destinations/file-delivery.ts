/**
 * The delivery loop shared by the file connectors (local folder, SFTP): encrypt when the account asks for it,
 * skip files already complete at the destination, upload under a hidden temporary name, then rename into place.
 * Each connector only supplies a `FileTarget` (how to stat, upload, rename and remove in its folder).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isRoundtripError, RoundtripError } from '../core/errors.ts';
import type { DeliverOptions, DeliveryReceipt, FileToDeliver, ResolvedAccount } from './connector.ts';
import { encryptFile } from './pgp.ts';

export interface FileTarget {
  /** Human-readable full path of a name in the target folder. */
  pathOf(name: string): string;
  /** Size of the file of that name, or undefined when there is none. */
  sizeOf(name: string): Promise<number | undefined>;
  /** Writes the local file completely (and durably) under `tempName`, replacing what is there. */
  upload(localPath: string, tempName: string, signal?: AbortSignal): Promise<void>;
  /** Renames `from` to `to` in one step, replacing `to`. */
  rename(from: string, to: string): Promise<void>;
  remove(name: string): Promise<void>;
}

/** The hidden name a file has while it is written. */
export function partName(name: string): string {
  return `.${name}.part`;
}

/** Names at the destination are plain file names: no folders, no leading dot, ≤ 255 characters. */
export function assertPlainFileName(name: string): void {
  if (!name || name.length > 255 || /[/\\\0]/.test(name) || name.startsWith('.')) {
    throw new RoundtripError('RT_FILE_NAME_INVALID', `"${name}" is not a plain file name (1-255 characters, no / or \\, not starting with a dot).`, { name });
  }
}

export async function deliverFiles(target: FileTarget, account: ResolvedAccount, files: FileToDeliver[], options: DeliverOptions = {}): Promise<DeliveryReceipt[]> {
  files.forEach((file) => assertPlainFileName(file.name));
  const scratch = account.pgpPublicKey && files.some((f) => !f.encrypted) ? await mkdtemp(path.join(os.tmpdir(), 'roundtrip-pgp-')) : undefined;
  try {
    const receipts: DeliveryReceipt[] = [];
    for (const file of files) receipts.push(await deliverOne(target, account, file, scratch, options.signal));
    return receipts;
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

async function deliverOne(target: FileTarget, account: ResolvedAccount, file: FileToDeliver, scratch: string | undefined, signal?: AbortSignal): Promise<DeliveryReceipt> {
  const started = Date.now();
  const { name, localPath, encrypted } = await prepare(account, file, scratch, signal);
  const bytes = (await stat(localPath)).size;
  const base = { name, remotePath: target.pathOf(name), bytes, rows: file.rows, encrypted };
  // A retried run delivers the same names: a complete file of the same size is the one we sent before.
  if ((await target.sizeOf(name)) === bytes) return { ...base, skipped: true, durationMs: Date.now() - started };
  const temp = partName(name);
  try {
    signal?.throwIfAborted();
    await target.upload(localPath, temp, signal);
    signal?.throwIfAborted();
    await target.rename(temp, name);
  } catch (error) {
    // After an abort the connection may be gone; the hidden temporary file is overwritten by the next delivery.
    if (!signal?.aborted) await target.remove(temp).catch(() => undefined);
    throw deliveryError(error, base.remotePath, signal);
  }
  return { ...base, skipped: false, durationMs: Date.now() - started };
}

async function prepare(account: ResolvedAccount, file: FileToDeliver, scratch: string | undefined, signal?: AbortSignal): Promise<{ name: string; localPath: string; encrypted: boolean }> {
  if (file.encrypted || !account.pgpPublicKey || !scratch) return { name: file.name, localPath: file.localPath, encrypted: Boolean(file.encrypted) };
  const name = `${file.name}.pgp`;
  assertPlainFileName(name);
  const localPath = path.join(scratch, name);
  await encryptFile(file.localPath, localPath, account.pgpPublicKey, signal);
  return { name, localPath, encrypted: true };
}

function deliveryError(error: unknown, remotePath: string, signal?: AbortSignal): RoundtripError {
  if (isRoundtripError(error)) return error;
  if (signal?.aborted) return new RoundtripError('RT_DESTINATION_ABORTED', `Delivery of ${remotePath} was stopped before the file was renamed into place.`, { remotePath });
  return new RoundtripError('RT_DESTINATION_DELIVERY_FAILED', `Could not write ${remotePath}: ${(error as Error).message}`, { remotePath });
}
