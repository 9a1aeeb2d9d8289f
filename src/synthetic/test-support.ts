/**
 * Test support for the synthetic brand: generate into a temporary folder and query the files with DuckDB
 * (values come back as plain JSON: numbers, strings, ISO times).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { jsonValueConverter } from '../adapters/duckdb/duckdb-types.ts';
import type { JsonRecord } from '../ports/warehouse.ts';
import { tempDir } from '../testing/temp.ts';
import { generateBrand, type GenerateOptions, type GenerationReport, type GroundTruth, type Manifest } from './index.ts';

export interface Generated {
  dir: string;
  report: GenerationReport;
  manifest: Manifest;
  truth: GroundTruth;
  /** `read_parquet`/`read_json`/`read_csv` over every part of a dataset key or `customers` (ground truth). */
  files(key: string): string;
  remove(): void;
}

export async function generateTemp(options: Omit<GenerateOptions, 'out'>): Promise<Generated> {
  const temp = tempDir('roundtrip-synthetic-');
  const report = await generateBrand({ ...options, out: temp.dir });
  const manifest = JSON.parse(readFileSync(path.join(temp.dir, 'manifest.json'), 'utf8')) as Manifest;
  const truth = JSON.parse(readFileSync(path.join(temp.dir, 'ground_truth.json'), 'utf8')) as GroundTruth;
  const files = (key: string): string => {
    const list = key === 'customers' ? truth.customers.files : manifest.datasets.find((d) => d.key === key)!.files;
    const paths = `[${list.map((f) => `'${path.join(temp.dir, f.path)}'`).join(', ')}]`;
    return manifest.format === 'parquet' ? `read_parquet(${paths})` : manifest.format === 'jsonl' ? `read_json(${paths}, format = 'newline_delimited')` : `read_csv(${paths})`;
  };
  return { dir: temp.dir, report, manifest, truth, files, remove: temp.remove };
}

export interface Db {
  /** Rows as plain JSON; `T` states the row shape the SQL selects. */
  query<T = JsonRecord>(sql: string): Promise<T[]>;
  /** The first column of the first row. */
  value(sql: string): Promise<unknown>;
  close(): void;
}

export async function openDb(): Promise<Db> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  await connection.run(`SET TimeZone = 'UTC'`);
  const rows = async (sql: string): Promise<Record<string, unknown>[]> => (await connection.runAndReadAll(sql)).convertRowObjects(jsonValueConverter);
  return {
    query: async <T>(sql: string) => (await rows(sql)) as T[],
    value: async (sql) => Object.values((await rows(sql))[0] ?? {})[0],
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}
