/**
 * CSV export files for file destinations: rows streamed to `<dir>/<baseName>.csv` with RFC 4180 quoting (CRLF
 * line ends, fields with `"` `,` CR or LF quoted, quotes doubled), a header row in every file, a new file every
 * `splitRows` rows (default 5,000,000: `name.csv`, `name_2.csv`, …, reference §12.2), and optional OpenPGP
 * encryption of each finished file (`name.csv.pgp`, the plain file removed).
 *
 * The result is the `FileToDeliver[]` a `FileConnector` takes. Rows are buffered into ~64 KiB writes and the
 * writer waits for the disk when it is behind, so memory stays flat at any size.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { RoundtripError } from '../core/errors.ts';
import type { FileToDeliver } from './connector.ts';
import { assertPlainFileName } from './file-delivery.ts';
import { splitFileName } from './file-names.ts';
import { encryptFile } from './pgp.ts';

export const DEFAULT_SPLIT_ROWS = 5_000_000;
const FLUSH_BYTES = 64 * 1024;

export type CsvValue = string | number | boolean | bigint | Date | null | undefined;

export interface CsvWriterOptions {
  /** Local folder the files are written to (created when missing). */
  dir: string;
  /** File name without extension (from `renderFileName`). */
  baseName: string;
  columns: string[];
  /** Rows per file before the next file starts (default 5,000,000). */
  splitRows?: number;
  /** Armored OpenPGP public key: each file is encrypted when it is complete. */
  pgpPublicKey?: string;
}

/** One field, quoted when RFC 4180 needs it. */
export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

export class CsvFileWriter {
  private readonly splitRows: number;
  private readonly done: FileToDeliver[] = [];
  private stream: WriteStream | undefined;
  private current: { name: string; localPath: string; rows: number } | undefined;
  private buffer = '';
  private closed = false;

  constructor(private readonly options: CsvWriterOptions) {
    this.splitRows = options.splitRows ?? DEFAULT_SPLIT_ROWS;
    if (!Number.isInteger(this.splitRows) || this.splitRows < 1) throw new RoundtripError('RT_REQUEST_INVALID', `splitRows must be a positive integer, not ${options.splitRows}.`);
    assertPlainFileName(splitFileName(options.baseName, 1));
  }

  /** Appends one row (values in column order, or an object keyed by column). */
  async write(row: readonly CsvValue[] | Record<string, CsvValue>): Promise<void> {
    if (this.closed) throw new Error('CsvFileWriter is closed');
    if (!this.current || this.current.rows >= this.splitRows) await this.nextFile();
    const values = Array.isArray(row) ? row : this.options.columns.map((c) => (row as Record<string, CsvValue>)[c]);
    this.buffer += csvLine(values);
    this.current!.rows++;
    if (this.buffer.length >= FLUSH_BYTES) await this.flush();
  }

  /** Finishes the last file (a header-only file when no row was written) and returns every file. */
  async close(): Promise<FileToDeliver[]> {
    if (this.closed) return this.done;
    if (!this.current) await this.nextFile();
    await this.finishFile();
    this.closed = true;
    return this.done;
  }

  /** Stops and removes what was written (for a failed export). */
  async abort(): Promise<void> {
    this.closed = true;
    this.stream?.destroy();
    const paths = [...this.done.map((f) => f.localPath), ...(this.current ? [this.current.localPath] : [])];
    await Promise.all(paths.map((p) => rm(p, { force: true })));
  }

  private async nextFile(): Promise<void> {
    if (this.current) await this.finishFile();
    await mkdir(this.options.dir, { recursive: true });
    const name = splitFileName(this.options.baseName, this.done.length + 1);
    const localPath = path.join(this.options.dir, name);
    this.stream = createWriteStream(localPath);
    this.current = { name, localPath, rows: 0 };
    this.buffer = csvLine(this.options.columns);
  }

  private async flush(): Promise<void> {
    if (!this.buffer) return;
    const chunk = this.buffer;
    this.buffer = '';
    if (!this.stream!.write(chunk)) await once(this.stream!, 'drain');
  }

  private async finishFile(): Promise<void> {
    await this.flush();
    const stream = this.stream!;
    await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
    const file = this.current!;
    this.current = undefined;
    this.stream = undefined;
    if (this.options.pgpPublicKey) {
      const encryptedPath = `${file.localPath}.pgp`;
      const bytes = await encryptFile(file.localPath, encryptedPath, this.options.pgpPublicKey);
      await rm(file.localPath, { force: true });
      this.done.push({ name: `${file.name}.pgp`, localPath: encryptedPath, bytes, rows: file.rows, encrypted: true });
    } else {
      this.done.push({ name: file.name, localPath: file.localPath, bytes: (await stat(file.localPath)).size, rows: file.rows, encrypted: false });
    }
  }
}

/** Writes every row of `rows` and returns the finished files; removes them when writing fails. */
export async function writeCsvFiles(options: CsvWriterOptions, rows: Iterable<readonly CsvValue[] | Record<string, CsvValue>> | AsyncIterable<readonly CsvValue[] | Record<string, CsvValue>>): Promise<FileToDeliver[]> {
  const writer = new CsvFileWriter(options);
  try {
    for await (const row of rows) await writer.write(row);
    return await writer.close();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
