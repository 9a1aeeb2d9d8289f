/**
 * Test support for batch ingestion: drive a batch through the HTTP API (create, upload, complete, wait),
 * read its failed records, write Parquet files with a scratch in-memory DuckDB, and a schema with one field
 * of each kind the checks cover.
 */
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Json, TestPlatform } from '../../testing/platform.ts';
import type { BatchViewT, FailedRecordViewT } from './payloads.ts';

export const BATCHES = '/data/foundation/import/batches';

/** An ExperienceEvent schema (required `_id`, `timestamp`) with one custom field per check and coercion. */
export const CHECKS_SCHEMA = {
  title: 'Batch checks',
  class: 'experienceevent',
  fieldGroups: ['commerce-details'],
  fields: {
    member: { type: 'string' },
    seenAt: { type: 'string', format: 'date-time' },
    birthDate: { type: 'string', format: 'date' },
    flag: { type: 'boolean' },
    tags: { type: 'array', items: { type: 'string' } },
    count: { type: 'integer', minimum: 0, maximum: 1000 },
    score: { type: 'number' },
    tier: { type: 'string', enum: ['GOLD', 'SILVER'] },
    code: { type: 'string', minLength: 2, maxLength: 3 },
    sku: { type: 'string', pattern: '^SKU-' },
    email: { type: 'string', format: 'email' },
    note: { type: 'string' },
    visits: { type: 'array', items: { type: 'object', properties: { at: { type: 'string', format: 'date-time' }, pages: { type: 'integer' } } } },
    byDay: { type: 'object', additionalProperties: { type: 'string', format: 'date' } },
    nested: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'integer' } }, required: ['a'] },
  },
  required: ['member'],
} as const;

export interface UploadFile {
  name: string;
  content: string | Buffer;
}

export async function createBatch(t: TestPlatform, datasetId: string, inputFormat: Record<string, unknown>, failureThreshold?: number): Promise<BatchViewT> {
  const created = await t.call('POST', BATCHES, { body: { datasetId, inputFormat, ...(failureThreshold === undefined ? {} : { failureThreshold }) } });
  if (created.status !== 201) throw new Error(`create batch: ${JSON.stringify(created.body)}`);
  return created.body as BatchViewT;
}

/** A raw-body request (uploads), answered as JSON. */
export async function send(t: TestPlatform, method: string, url: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  const response = await t.app.inject({
    method: method as 'PUT',
    url,
    headers: { authorization: `Bearer ${t.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/octet-stream' }), ...headers },
    ...(body === undefined ? {} : { payload: body }),
  });
  const answer: unknown = response.body ? JSON.parse(response.body) : undefined;
  return { status: response.statusCode, body: answer };
}

export const fileUrl = (batch: BatchViewT, name: string): string => `${BATCHES}/${batch.id}/datasets/${batch.datasetId}/files/${name}`;

export async function completeAndWait(t: TestPlatform, batch: BatchViewT): Promise<Json> {
  const completed = await t.call('POST', `${BATCHES}/${batch.id}?action=COMPLETE`);
  if (completed.status !== 202) throw new Error(`complete: ${JSON.stringify(completed.body)}`);
  await t.platform.batchIngestion.settled('prod', batch.id);
  const done: unknown = (await t.call('GET', `${BATCHES}/${batch.id}`)).body;
  return done;
}

/** Creates a batch, PUTs the files, completes it and returns it once processed. */
export async function runBatch(t: TestPlatform, datasetId: string, inputFormat: Record<string, unknown>, files: UploadFile[], failureThreshold?: number): Promise<Json> {
  const batch = await createBatch(t, datasetId, inputFormat, failureThreshold);
  for (const file of files) {
    const put = await send(t, 'PUT', fileUrl(batch, file.name), file.content);
    if (put.status !== 200) throw new Error(`upload ${file.name}: ${JSON.stringify(put.body)}`);
  }
  return completeAndWait(t, batch);
}

export async function failedRecordsOf(t: TestPlatform, batchId: string): Promise<FailedRecordViewT[]> {
  const page = (await t.call('GET', `/failed-records?batchId=${batchId}&limit=10000`)).body as { failedRecords: FailedRecordViewT[] };
  return page.failedRecords;
}

/** `[code, path]` of every issue of the failed record with this row number. */
export function issuesAt(failed: FailedRecordViewT[], rowNumber: number): [string, string][] {
  const record = failed.find((f) => f.rowNumber === rowNumber);
  return record ? record.issues.map((i): [string, string] => [i.code, i.path]) : [];
}

/** Writes `SELECT …` to a Parquet file with a scratch in-memory DuckDB and returns its bytes' path. */
export async function writeParquet(dir: string, name: string, select: string): Promise<string> {
  const file = path.join(dir, name);
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`COPY (${select}) TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return file;
}
