/**
 * Test support for the CLV engine: the shared reference data (`../shared/data`, `reference/clv-science.md`)
 * read straight from its files, and the skip reason when it is not there.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import type { FieldDefinition } from '../catalog/xdm/fields.ts';
import type { TestPlatform } from '../testing/platform.ts';
import { SHARED_DATA_DIR } from '../testing/temp.ts';

/** `false` when the shared data is present, else the reason to skip. */
export const SHARED_DATA_SKIP: string | false = existsSync(path.join(SHARED_DATA_DIR, 'cdnow')) ? false : `shared reference data not found at ${SHARED_DATA_DIR} (set ROUNDTRIP_SHARED_DATA)`;

export function sharedFile(relative: string): string {
  return path.join(SHARED_DATA_DIR, relative);
}

/** A small CSV with a header as rows of named numbers (every reference summary file is numeric). */
export function readNumericCsv(relative: string): Record<string, number>[] {
  const [header, ...lines] = readFileSync(sharedFile(relative), 'utf8').trim().split(/\r?\n/);
  const names = header!.split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    return Object.fromEntries(names.map((n, i) => [n, Number(cells[i])]));
  });
}

/** |actual − expected| ≤ tolerance, with both in the message. */
export function near(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: got ${actual}, expected ${expected} ± ${tolerance}`);
}

/** A dataset with the given columns, filled from CSV text through the staging folder (no per-row JSON). */
export async function loadCsvDataset(t: TestPlatform, name: string, csv: string, columns: Record<string, 'string' | 'number' | 'date'>): Promise<void> {
  const field = (type: string): FieldDefinition => (type === 'date' ? { type: 'string', format: 'date' } : ({ type } as FieldDefinition));
  const schema = await t.platform.registry.createSchema(LOCAL_OPERATOR, 'prod', { title: name, class: 'adhoc' }, { adhoc: true, rootFields: Object.fromEntries(Object.entries(columns).map(([c, type]) => [c, field(type)])) });
  const dataset = await t.platform.datasets.create(LOCAL_OPERATOR, 'prod', { name, schemaId: schema.id }, { fromSql: true });
  const warehouse = await t.platform.warehouse.sandbox('prod');
  const file = path.join(warehouse.stagingDir, `${name}.csv`);
  await writeFile(file, csv);
  try {
    const types = Object.entries(columns).map(([c, type]) => `'${c}': '${{ string: 'VARCHAR', number: 'DOUBLE', date: 'DATE' }[type]}'`).join(', ');
    await t.platform.datasets.appendWith(LOCAL_OPERATOR, 'prod', dataset, 'load', async ({ table, warehouse: w, stamp }) => {
      const inserted = await w.query(
        `INSERT INTO "${table}" BY NAME SELECT *, ${stamp.snapshotId}::BIGINT AS _rt_snapshot_id, '${stamp.batchId}' AS _rt_batch_id, now() AS _rt_ingested_at FROM read_csv('${file}', header = true, columns = {${types}})`,
      );
      return Number(Object.values(inserted.rows[0] ?? {})[0] ?? 0);
    });
  } finally {
    await rm(file, { force: true });
  }
}
