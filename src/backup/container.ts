/**
 * The backup container: a gzip-compressed POSIX tar (ustar), so that any backup opens by hand with
 * `tar -xzf`. Entries are written from files on disk and read back into a folder, streaming both ways (a
 * sandbox's database is never held in memory), with each entry's SHA-256 computed on the way in.
 *
 * Damage is caught at three levels: gzip's CRC-32 and length trailer (truncation, flipped bits), each tar
 * header's checksum, and the manifest's SHA-256 per entry (checked by the caller). Sizes of 8 GiB and more use
 * the base-256 size field that GNU tar and bsdtar read.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { finished, pipeline } from 'node:stream/promises';
import { constants, createGunzip, createGzip } from 'node:zlib';
import { RoundtripError } from '../core/errors.ts';

const BLOCK = 512;
const OCTAL_SIZE_LIMIT = 8 ** 11;

export interface ContainerEntry {
  /** Name inside the archive (`manifest.json`, `metadata/datasets.jsonl`, …). */
  name: string;
  /** Where its bytes are on disk. */
  file: string;
}

export interface ExtractedEntry extends ContainerEntry {
  bytes: number;
  sha256: string;
}

function corrupt(message: string, details?: unknown): RoundtripError {
  return new RoundtripError('RT_BACKUP_CORRUPT', message, details);
}

function writeOctal(block: Buffer, value: number, offset: number, length: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'latin1');
}

function tarHeader(name: string, size: number, mtimeSeconds: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`);
  block.write(name, 0, 100, 'utf8');
  writeOctal(block, 0o644, 100, 8);
  writeOctal(block, 0, 108, 8);
  writeOctal(block, 0, 116, 8);
  if (size < OCTAL_SIZE_LIMIT) writeOctal(block, size, 124, 12);
  else {
    block[124] = 0x80;
    let rest = BigInt(size);
    for (let at = 135; at > 124; at--, rest >>= 8n) block[at] = Number(rest & 0xffn);
  }
  writeOctal(block, mtimeSeconds, 136, 12);
  block.write('0', 156, 'latin1');
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263, 'latin1');
  block.write('roundtrip', 265, 'latin1');
  block.write('roundtrip', 297, 'latin1');
  block.fill(0x20, 148, 156);
  const sum = block.reduce((acc, byte) => acc + byte, 0);
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

interface ParsedHeader {
  name: string;
  size: number;
  type: string;
}

function readOctal(block: Buffer, offset: number, length: number): number {
  const text = block.toString('latin1', offset, offset + length).replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]*$/.test(text)) return Number.NaN;
  return text ? parseInt(text, 8) : 0;
}

function parseHeader(block: Buffer): ParsedHeader {
  const stored = readOctal(block, 148, 8);
  const copy = Buffer.from(block);
  copy.fill(0x20, 148, 156);
  if (stored !== copy.reduce((acc, byte) => acc + byte, 0)) throw corrupt('The backup is damaged: a tar header fails its checksum.');
  let size: number;
  if ((block[124]! & 0x80) !== 0) {
    let value = 0n;
    for (let at = 125; at < 136; at++) value = (value << 8n) | BigInt(block[at]!);
    size = Number(value);
  } else size = readOctal(block, 124, 12);
  const prefix = block.toString('utf8', 345, 500).replace(/\0.*$/s, '');
  const name = block.toString('utf8', 0, 100).replace(/\0.*$/s, '');
  return { name: prefix ? `${prefix}/${name}` : name, size, type: String.fromCharCode(block[156]!) };
}

async function* tarBlocks(entries: readonly ContainerEntry[]): AsyncGenerator<Buffer> {
  const mtime = Math.floor(Date.now() / 1000);
  for (const entry of entries) {
    const { size } = await stat(entry.file);
    yield tarHeader(entry.name, size, mtime);
    let written = 0;
    for await (const chunk of createReadStream(entry.file)) {
      written += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
    if (written !== size) throw new Error(`${entry.file} changed while it was being packed`);
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (padding) yield Buffer.alloc(padding);
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** Writes `entries`, in order, as a `.tar.gz` at `target` (replaced if present). */
export async function writeContainer(target: string, entries: readonly ContainerEntry[]): Promise<void> {
  try {
    await pipeline(tarBlocks(entries), createGzip({ level: constants.Z_DEFAULT_COMPRESSION }), createWriteStream(target));
  } catch (error) {
    await rm(target, { force: true });
    throw error;
  }
}

/** SHA-256 and size of a file, read as a stream. */
export async function digestFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

interface OpenEntry {
  entry: ExtractedEntry;
  out: WriteStream;
  hash: ReturnType<typeof createHash>;
  remaining: number;
  padding: number;
}

/**
 * Extracts the archive into `folder`, keeping only entries whose name `accept` allows (any other name fails
 * as RT_BACKUP_CORRUPT: a backup holds nothing else, and no name may reach outside the folder).
 */
export async function readContainer(source: string, folder: string, accept: (name: string) => boolean): Promise<ExtractedEntry[]> {
  const extracted: ExtractedEntry[] = [];
  let current: OpenEntry | undefined;
  let ended = false;

  const open = async (header: ParsedHeader): Promise<void> => {
    if (header.type !== '0' && header.type !== '\0') throw corrupt(`The backup holds an entry of an unexpected kind (${header.name}).`);
    if (!accept(header.name) || !Number.isSafeInteger(header.size)) throw corrupt(`The backup holds an unexpected entry: ${header.name}.`, { entry: header.name });
    const file = path.join(folder, header.name);
    await mkdir(path.dirname(file), { recursive: true });
    current = {
      entry: { name: header.name, file, bytes: header.size, sha256: '' },
      // Write errors (disk full) surface through `drain`/`finished`; this keeps them from being unhandled.
      out: createWriteStream(file).on('error', () => undefined),
      hash: createHash('sha256'),
      remaining: header.size,
      padding: (BLOCK - (header.size % BLOCK)) % BLOCK,
    };
  };
  const close = async (): Promise<void> => {
    const done = current!;
    current = undefined;
    done.out.end();
    await finished(done.out);
    extracted.push({ ...done.entry, sha256: done.hash.digest('hex') });
  };

  const consume = async (chunks: AsyncIterable<Buffer>): Promise<void> => {
    let header = Buffer.alloc(0);
    for await (const chunk of chunks) {
      let rest = chunk;
      while (rest.length > 0 && !ended) {
        if (current && current.remaining > 0) {
          const take = rest.subarray(0, Math.min(current.remaining, rest.length));
          rest = rest.subarray(take.length);
          current.remaining -= take.length;
          current.hash.update(take);
          if (!current.out.write(take)) await once(current.out, 'drain');
        } else if (current) {
          const skip = Math.min(current.padding, rest.length);
          rest = rest.subarray(skip);
          current.padding -= skip;
        } else {
          const need = BLOCK - header.length;
          header = Buffer.concat([header, rest.subarray(0, need)]);
          rest = rest.subarray(need);
          if (header.length < BLOCK) break;
          if (header.every((byte) => byte === 0)) ended = true;
          else await open(parseHeader(header));
          header = Buffer.alloc(0);
        }
        if (current && current.remaining === 0 && current.padding === 0) await close();
      }
    }
  };

  // Piped by hand rather than with `pipeline`: a read or gunzip error then surfaces inside `consume`'s loop, so
  // no write of it can still be under way when the entry's file is closed below.
  const gunzip = createGunzip();
  const input = createReadStream(source);
  input.on('error', (error) => gunzip.destroy(error));
  try {
    await consume(input.pipe(gunzip));
  } catch (error) {
    input.destroy();
    current?.out.destroy();
    if (error instanceof RoundtripError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_') || code === 'ERR_OUT_OF_RANGE') throw corrupt(`The backup is truncated or damaged (${(error as Error).message}).`);
    throw error;
  }
  if (current || !ended) {
    current?.out.destroy();
    throw corrupt('The backup is truncated: it ends before its last entry is complete.');
  }
  return extracted;
}
