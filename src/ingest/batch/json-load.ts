/**
 * JSON and JSON Lines batches: records stream out of each file (never a whole file in memory), go through the
 * same JS checker as every other write (`../record-checks.ts`: coercion table, schema, size limit), and land in
 * two staged JSON Lines files, good rows and failed ones. One transaction then bulk-loads both with `read_json`
 * (the failed ones into `_rt_failed_records`, the good ones into the dataset when the threshold allows).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { quoteIdent, quoteLiteral, toDuckDBType } from '../../adapters/duckdb/duckdb-types.ts';
import { newId } from '../../core/ids.ts';
import type { RecordChecker, RecordIssue } from '../record-checks.ts';
import type { SandboxWarehouse, WriteStamp } from '../../ports/warehouse.ts';
import { exceedsThreshold, insertDatasetRows, insertFailedRows, loadScript, type FileCounts, type LoadCounts, type LoadTarget } from './load-sql.ts';
import { ISSUE_TYPE, lit } from './sql-fields.ts';
import { firstCharacter, jsonLines, jsonValues } from './json-records.ts';

export interface JsonFile {
  path: string;
  /** `lines`: one record per line; `values`: a top-level array or concatenated (multi-line) values. */
  layout: 'lines' | 'values' | 'auto';
}

/** `auto` (format json without isMultiLineJson): a file starting with `[` is an array, anything else JSON Lines. */
async function records(file: JsonFile): Promise<AsyncGenerator<string>> {
  const layout = file.layout === 'auto' ? ((await firstCharacter(file.path)) === '[' ? 'values' : 'lines') : file.layout;
  return layout === 'lines' ? jsonLines(file.path) : jsonValues(file.path);
}

/** A JSON Lines file written with backpressure. */
class LinesOut {
  private readonly stream: WriteStream;
  count = 0;

  constructor(readonly file: string) {
    this.stream = createWriteStream(file);
  }

  async write(value: unknown): Promise<void> {
    return this.writeText(JSON.stringify(value));
  }

  /** A value already serialised (a checked record's text). */
  async writeText(json: string): Promise<void> {
    this.count++;
    if (!this.stream.write(`${json}\n`)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
  }
}

function checkText(checker: RecordChecker, raw: string): { ok: true; json: string } | { ok: false; issues: RecordIssue[] } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return { ok: false, issues: [{ path: '', code: 'RT_RECORD_MALFORMED', message: `is not valid JSON: ${(error as Error).message}` }] };
  }
  try {
    return checker.check(value);
  } catch (error) {
    // The checker should never throw; if it does, the record is kept with the reason rather than failing the batch.
    return { ok: false, issues: [{ path: '', code: 'RT_RECORD_MALFORMED', message: `could not be checked: ${(error as Error).message}` }] };
  }
}

/** Reads and checks every file, in order; returns per-file counts. Row numbers run on across files. */
async function stage(files: JsonFile[], checker: RecordChecker, good: LinesOut, failed: LinesOut): Promise<FileCounts[]> {
  const counts: FileCounts[] = [];
  let rowNumber = 0;
  for (const file of files) {
    const entry: FileCounts = { records: 0, rejected: 0, firstRow: rowNumber + 1 };
    for await (const raw of await records(file)) {
      rowNumber++;
      entry.records++;
      const result = checkText(checker, raw);
      if (result.ok) await good.writeText(result.json);
      else {
        entry.rejected++;
        await failed.write({ rowNumber, raw: rawText(raw), issues: result.issues });
      }
    }
    counts.push(entry);
  }
  return counts;
}

const readLines = (file: string, columns: string): string => `read_json(${quoteLiteral(file)}, format = 'newline_delimited', columns = {${columns}})`;

/**
 * The raw text kept for a failed record. Valid records are at most 100 KB, so the first MiB always shows what
 * is wrong; only a broken multi-line value that swallows the rest of its file is ever longer.
 */
export const RAW_LIMIT = 1024 * 1024;

function rawText(raw: string): string {
  return raw.length <= RAW_LIMIT ? raw : `${raw.slice(0, RAW_LIMIT)}… (${raw.length - RAW_LIMIT} more characters not kept)`;
}

export async function loadJson(warehouse: SandboxWarehouse, checker: RecordChecker, files: JsonFile[], target: LoadTarget, workDir: string): Promise<LoadCounts> {
  const good = new LinesOut(path.join(workDir, 'good.jsonl'));
  const failed = new LinesOut(path.join(workDir, 'failed.jsonl'));
  let fileCounts: FileCounts[];
  try {
    fileCounts = await stage(files, checker, good, failed);
  } finally {
    await Promise.all([good.close(), failed.close()]);
  }
  const rowsRead = good.count + failed.count;
  const accepted = !exceedsThreshold(rowsRead, failed.count, target.threshold);
  const writes: string[] = [];
  if (failed.count > 0) {
    const from = readLines(failed.file, `'rowNumber': 'BIGINT', 'raw': 'VARCHAR', 'issues': '${ISSUE_TYPE}[]'`);
    writes.push(insertFailedRows(target.stamp, target.datasetId, [{ rowNumber: '"rowNumber"', raw: 'raw', issues: 'issues', from }]));
  }
  if (accepted && good.count > 0) writes.push(await insertLinesSql(warehouse, target.table, target.stamp, good.file));
  if (writes.length) await warehouse.query(loadScript([], writes, `SELECT ${lit('done')} AS status, $batch AS batch`), { batch: target.stamp.batchId });
  return { rowsRead, rowsRejected: failed.count, accepted, files: fileCounts };
}

/** The `INSERT … SELECT` of a JSON Lines file of checked records into a dataset table, typed by its columns. */
async function insertLinesSql(warehouse: SandboxWarehouse, table: string, stamp: WriteStamp, file: string): Promise<string> {
  const columns = await warehouse.describeTable(table);
  const types = columns.map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(toDuckDBType(c.type))}`).join(', ');
  return insertDatasetRows(table, stamp, { columns: columns.map((c) => ({ name: c.name, value: quoteIdent(c.name) })), from: readLines(file, types) });
}

/** Lines per write of a staging file: bounded strings, and the event loop gets a turn between writes. */
const LINES_PER_WRITE = 2048;

/**
 * Appends checked records given as their JSON texts (streaming keeps them from intake) as rows stamped with
 * `stamp`: one staged JSON Lines file, one bulk `INSERT … SELECT` from `read_json`. Returns the rows written.
 * Use inside `Datasets.appendWith`.
 */
export async function appendJsonLines(warehouse: SandboxWarehouse, table: string, stamp: WriteStamp, lines: readonly string[]): Promise<number> {
  if (lines.length === 0) return 0;
  const file = path.join(warehouse.stagingDir, `${newId('stream')}.jsonl`);
  try {
    const handle = await open(file, 'w');
    try {
      for (let i = 0; i < lines.length; i += LINES_PER_WRITE) await handle.writeFile(`${lines.slice(i, i + LINES_PER_WRITE).join('\n')}\n`);
    } finally {
      await handle.close();
    }
    const { rows } = await warehouse.query(await insertLinesSql(warehouse, table, stamp, file));
    return Number(Object.values(rows[0] ?? {})[0] ?? 0);
  } finally {
    await rm(file, { force: true });
  }
}
