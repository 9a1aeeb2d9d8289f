/**
 * Bulk transfer between the warehouse and JavaScript through the sandbox's staging folder, for the two steps
 * that cannot run in SQL (the guarded union-find and phone parsing): `COPY … TO` a CSV file read back as typed
 * arrays, and JSON Lines / CSV files the engine loads with `read_csv`/`read_json`. Millions of rows move in
 * well under a second this way, where row objects through `query()` would take several seconds.
 *
 * Files are removed as soon as they are read; the union-find files hold only integers, and the phone file
 * (personal data) lives for the one statement that loads it.
 */
import { open, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { newId } from '../core/ids.ts';
import type { QueryResult, SandboxWarehouse } from '../ports/warehouse.ts';
import { quoteIdent, quoteLiteral } from './sql.ts';

/** A typed, empty relation: engines refuse to read an empty file with a fixed column list. */
const emptyRelation = (columns: readonly string[], type: string): string =>
  `(SELECT ${columns.map((c) => `NULL::${type} AS ${quoteIdent(c)}`).join(', ')} WHERE false)`;

/**
 * Where bulk graph work runs: one warehouse connection (so scratch tables can be TEMP tables, kept in memory
 * and out of the database file and its log) and the sandbox's staging folder.
 */
export interface SqlSession {
  query(sql: string, params?: Record<string, string | number | boolean | null>): Promise<QueryResult>;
  readonly stagingDir: string;
}

/** Runs `work` on one connection of the sandbox's warehouse; its TEMP tables go when it ends. */
export async function withSession<T>(warehouse: SandboxWarehouse, work: (sql: SqlSession) => Promise<T>): Promise<T> {
  const session = await warehouse.openSession();
  try {
    return await work(traced({ query: (sql, params) => session.query(sql, params), stagingDir: warehouse.stagingDir }));
  } finally {
    session.close();
  }
}

function stagingFile(warehouse: SqlSession, ext: string): string {
  return path.join(warehouse.stagingDir, `${newId('identity')}.${ext}`);
}

/**
 * Bytes per read and rows per write of the integer files. Whole, the file of a 40M-record graph is longer than
 * the longest string V8 can hold (about 512M characters): `RangeError: Invalid string length` at 2M profiles.
 */
const FILE_CHUNK_BYTES = 16 * 1024 * 1024;
const WRITE_CHUNK_ROWS = 500_000;

/** Parses a header-less CSV of integers (one column per array), given in byte chunks, into Float64Arrays. */
export class IntColumnsParser {
  readonly columns: Float64Array[];
  private row = 0;
  private col = 0;
  private value = 0;
  private negative = false;

  constructor(rows: number, width: number) {
    this.columns = Array.from({ length: width }, () => new Float64Array(rows));
  }

  /** Parses the next chunk; a number may run across two chunks. */
  push(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const ch = bytes[i]!;
      if (ch === 44 || ch === 10) {
        this.columns[this.col]![this.row] = this.negative ? -this.value : this.value;
        this.value = 0;
        this.negative = false;
        if (ch === 10) {
          this.row++;
          this.col = 0;
        } else this.col++;
      } else if (ch === 45) this.negative = true;
      else if (ch !== 13) this.value = this.value * 10 + (ch - 48);
    }
  }
}

/** Number of lines (newline bytes) in a chunk. */
function lineCount(bytes: Uint8Array): number {
  let lines = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lines++;
  return lines;
}

/**
 * Parses a file of integer rows. A file of one chunk (what a streaming apply writes, a few kilobytes, several
 * times a second) is read once; a larger one twice, a chunk at a time: once to count its rows, once to parse.
 */
async function parseIntFile(file: string, width: number): Promise<Float64Array[]> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(FILE_CHUNK_BYTES, size)));
    const chunks = async (each: (bytes: Uint8Array) => void) => {
      for (let position = 0; position < size; ) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        each(buffer.subarray(0, bytesRead));
        position += bytesRead;
      }
    };
    if (size <= buffer.length) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      const bytes = buffer.subarray(0, bytesRead);
      const parser = new IntColumnsParser(lineCount(bytes), width);
      parser.push(bytes);
      return parser.columns;
    }
    let rows = 0;
    await chunks((bytes) => (rows += lineCount(bytes)));
    const parser = new IntColumnsParser(rows, width);
    await chunks((bytes) => parser.push(bytes));
    return parser.columns;
  } finally {
    await handle.close();
  }
}

/** Runs `select` (integer columns only) and returns its columns as typed arrays. */
export async function readIntColumns(warehouse: SqlSession, select: string, width: number): Promise<Float64Array[]> {
  const file = stagingFile(warehouse, 'csv');
  try {
    await warehouse.query(`COPY (${select}) TO ${quoteLiteral(file)} (FORMAT csv, HEADER false)`);
    return await parseIntFile(file, width);
  } finally {
    await rm(file, { force: true });
  }
}

/** Writes integer columns as a CSV file and hands `load` the `read_csv(…)` expression that reads it. */
export async function withIntColumns<T>(
  warehouse: SqlSession,
  columns: Record<string, ArrayLike<number>>,
  load: (source: string) => Promise<T>,
): Promise<T> {
  const names = Object.keys(columns);
  const arrays = names.map((n) => columns[n]!);
  const rows = arrays[0]?.length ?? 0;
  if (rows === 0) return load(emptyRelation(names, 'BIGINT'));
  const file = stagingFile(warehouse, 'csv');
  const types = names.map((n) => `${quoteLiteral(n)}: 'BIGINT'`).join(', ');
  try {
    const handle = await open(file, 'w');
    try {
      for (let start = 0; start < rows; start += WRITE_CHUNK_ROWS) {
        const lines: string[] = [];
        for (let r = start; r < Math.min(rows, start + WRITE_CHUNK_ROWS); r++) lines.push(arrays.map((a) => a[r]).join(','));
        await handle.write(`${lines.join('\n')}\n`);
      }
    } finally {
      await handle.close();
    }
    return await load(`read_csv(${quoteLiteral(file)}, header = false, columns = {${types}})`);
  } finally {
    await rm(file, { force: true });
  }
}

/** Writes string records as JSON Lines and hands `load` the `read_json(…)` expression that reads them. */
export async function withStringRecords<T>(
  warehouse: SqlSession,
  columns: readonly string[],
  records: readonly Record<string, string>[],
  load: (source: string) => Promise<T>,
): Promise<T> {
  if (records.length === 0) return load(emptyRelation(columns, 'VARCHAR'));
  const file = stagingFile(warehouse, 'jsonl');
  const types = columns.map((n) => `${quoteLiteral(n)}: 'VARCHAR'`).join(', ');
  try {
    await writeFile(file, records.map((r) => JSON.stringify(r)).join('\n'));
    return await load(`read_json(${quoteLiteral(file)}, format = 'newline_delimited', columns = {${types}})`);
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * With `ROUNDTRIP_IDENTITY_TRACE=1`, the statements a graph change runs report their duration on stderr
 * (for the benchmark and for finding the slow step); otherwise the warehouse itself.
 */
export function traced<T extends SqlSession>(warehouse: T): T {
  if (process.env.ROUNDTRIP_IDENTITY_TRACE !== '1') return warehouse;
  return new Proxy(warehouse, {
    get(target, property, receiver) {
      if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
      return async (sql: string, params?: Record<string, string | number | boolean | null>) => {
        const started = performance.now();
        try {
          return await target.query(sql, params);
        } finally {
          const words = sql.replace(/\s+/g, ' ').trim().slice(0, 90);
          process.stderr.write(`[identity] ${(performance.now() - started).toFixed(0).padStart(6)} ms  ${words}\n`);
        }
      };
    },
  });
}
