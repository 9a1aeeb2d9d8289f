/**
 * Bulk transfer between the warehouse and JavaScript through the sandbox's staging folder, for the two steps
 * that cannot run in SQL (the guarded union-find and phone parsing): `COPY … TO` a CSV file read back as typed
 * arrays, and JSON Lines / CSV files the engine loads with `read_csv`/`read_json`. Millions of rows move in
 * well under a second this way, where row objects through `query()` would take several seconds.
 *
 * Files are removed as soon as they are read; the union-find files hold only integers, and the phone file
 * (personal data) lives for the one statement that loads it.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
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

/** Parses a header-less CSV of integers (one column per array) into Float64Arrays. */
export function parseIntColumns(text: string, width: number): Float64Array[] {
  let rows = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) rows++;
  const columns = Array.from({ length: width }, () => new Float64Array(rows));
  let row = 0;
  let col = 0;
  let value = 0;
  let negative = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 44 || ch === 10) {
      columns[col]![row] = negative ? -value : value;
      value = 0;
      negative = false;
      if (ch === 10) {
        row++;
        col = 0;
      } else col++;
    } else if (ch === 45) negative = true;
    else if (ch !== 13) value = value * 10 + (ch - 48);
  }
  return columns;
}

/** Runs `select` (integer columns only) and returns its columns as typed arrays. */
export async function readIntColumns(warehouse: SqlSession, select: string, width: number): Promise<Float64Array[]> {
  const file = stagingFile(warehouse, 'csv');
  try {
    await warehouse.query(`COPY (${select}) TO ${quoteLiteral(file)} (FORMAT csv, HEADER false)`);
    return parseIntColumns(await readFile(file, 'latin1'), width);
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
  const lines: string[] = new Array<string>(rows);
  for (let r = 0; r < rows; r++) lines[r] = arrays.map((a) => a[r]).join(',');
  const file = stagingFile(warehouse, 'csv');
  const types = names.map((n) => `${quoteLiteral(n)}: 'BIGINT'`).join(', ');
  try {
    await writeFile(file, `${lines.join('\n')}\n`);
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
