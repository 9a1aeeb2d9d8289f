/**
 * The generated brand through the real platform: the manifest's namespaces, schemas and datasets are created
 * over HTTP, every generated record is accepted by the schema validator, every malformed row is refused at the
 * field the ground truth names, and the Parquet columns have the types of the dataset tables.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { columnsFromDuckDB } from '../adapters/duckdb/duckdb-types.ts';
import { columnsOf, type Properties } from '../catalog/xdm/fields.ts';
import type { ColumnSpec, ColumnType } from '../ports/warehouse.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { tempDir } from '../testing/temp.ts';
import { generateBrand, type Manifest } from './index.ts';

const readLines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);

/** `actual` fits `expected` when every field it has exists there with the same kind (structs may have fewer fields). */
function fits(actual: ColumnType, expected: ColumnType): boolean {
  if (actual.kind === 'struct' && expected.kind === 'struct') {
    return actual.fields.every((f) => {
      const twin = expected.fields.find((e) => e.name === f.name);
      return twin !== undefined && fits(f.type, twin.type);
    });
  }
  if (actual.kind === 'list' && expected.kind === 'list') return fits(actual.items, expected.items);
  if (actual.kind === 'map' && expected.kind === 'map') return fits(actual.value, expected.value);
  return actual.kind === expected.kind;
}

describe('the generated brand in the real registry', () => {
  const jsonl = tempDir('roundtrip-synthetic-jsonl-');
  const parquet = tempDir('roundtrip-synthetic-parquet-');
  let platform: TestPlatform;
  let manifest: Manifest;
  const datasetIds = new Map<string, string>();
  const schemaIds = new Map<string, string>();

  before(async () => {
    const options = { profiles: 600, seed: 7, rates: { malformedRate: 0.02 } };
    await generateBrand({ ...options, out: jsonl.dir, format: 'jsonl' });
    await generateBrand({ ...options, out: parquet.dir, format: 'parquet' });
    manifest = JSON.parse(readFileSync(path.join(jsonl.dir, 'manifest.json'), 'utf8')) as Manifest;
    platform = await createTestPlatform();
  });

  after(async () => {
    await platform.dispose();
    jsonl.remove();
    parquet.remove();
  });

  it('creates the namespaces, schemas and datasets of the manifest', async () => {
    for (const namespace of manifest.namespaces) {
      const created = await platform.call('POST', '/namespaces', { body: namespace });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    for (const [key, schema] of Object.entries(manifest.schemas)) {
      const created = await platform.call('POST', '/schemas', { body: schema });
      assert.equal(created.status, 201, `${key}: ${JSON.stringify(created.body)}`);
      schemaIds.set(key, (created.body as { id: string }).id);
    }
    for (const dataset of manifest.datasets) {
      const created = await platform.call('POST', '/datasets', { body: { ...dataset.definition, schemaId: schemaIds.get(dataset.schema) } });
      assert.equal(created.status, 201, `${dataset.key}: ${JSON.stringify(created.body)}`);
      const body = created.body as { id: string; tableName: string };
      assert.equal(body.tableName, dataset.table);
      datasetIds.set(dataset.key, body.id);
    }
  });

  it('accepts every generated record of every dataset', async () => {
    for (const dataset of manifest.datasets) {
      const records = dataset.files.flatMap((f) => readLines(path.join(jsonl.dir, f.path)).map((l) => JSON.parse(l) as unknown));
      assert.equal(records.length, dataset.rows);
      assert.ok(records.length > 100, `${dataset.key} has only ${records.length} records`);
      for (let start = 0; start < records.length; start += 5_000) {
        const batch = records.slice(start, start + 5_000);
        const written = await platform.call('POST', `/datasets/${datasetIds.get(dataset.key)}/records`, { body: { records: batch } });
        assert.equal(written.status, 201, `${dataset.key}: ${JSON.stringify(written.body).slice(0, 600)}`);
        assert.equal((written.body as { rowCount: number }).rowCount, batch.length);
      }
    }
  });

  it('refuses every malformed row, at the field the ground truth names', async () => {
    const profiles = manifest.datasets.find((d) => d.key === 'profiles')!;
    const rows = readLines(path.join(jsonl.dir, profiles.malformed!.path));
    const truth = readLines(path.join(jsonl.dir, 'ground_truth/malformed.jsonl')).map((l) => JSON.parse(l) as { line: number; path: string; defect: string });
    assert.equal(rows.length, 12);
    assert.equal(truth.length, rows.length);
    for (const [i, row] of rows.entries()) {
      const refused = await platform.call('POST', `/datasets/${datasetIds.get('profiles')}/records`, { body: { records: [JSON.parse(row) as unknown] } });
      assert.equal(refused.status, 400, `line ${i + 1} (${truth[i]!.defect}) was accepted`);
      const error = (refused.body as { error: { code: string; details: { records: { issues: { path: string }[] }[] } } }).error;
      assert.equal(error.code, 'RT_RECORD_INVALID');
      assert.deepEqual(error.details.records[0]!.issues.map((issue) => issue.path), [truth[i]!.path], `line ${i + 1} (${truth[i]!.defect})`);
    }
  });

  it('writes Parquet columns whose types fit the dataset tables', async () => {
    const parquetManifest = JSON.parse(readFileSync(path.join(parquet.dir, 'manifest.json'), 'utf8')) as Manifest;
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      for (const dataset of parquetManifest.datasets) {
        const schema = await platform.call('GET', `/schemas/${schemaIds.get(dataset.schema)}`);
        const expected: ColumnSpec[] = columnsOf((schema.body as { resolved: { properties: Properties } }).resolved.properties);
        const file = path.join(parquet.dir, dataset.files[0]!.path);
        const reader = await connection.runAndReadAll(`SELECT * FROM read_parquet('${file}') LIMIT 0`);
        for (const column of columnsFromDuckDB(reader.columnNames(), reader.columnTypes())) {
          const twin = expected.find((e) => e.name === column.name);
          assert.ok(twin, `${dataset.key}: column ${column.name} is not in the schema`);
          assert.ok(fits(column.type, twin.type), `${dataset.key}.${column.name}: ${JSON.stringify(column.type)} does not fit ${JSON.stringify(twin.type)}`);
        }
      }
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});
