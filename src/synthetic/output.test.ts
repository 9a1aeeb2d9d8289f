/**
 * Output: the same seed gives byte-identical files and a different seed different ones; how people are split
 * into parts never changes a row; the three formats hold the same records; the manifest's counts are the files'
 * counts; the malformed count is exact; bad options and unsafe output folders are refused.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isRoundtripError } from '../core/errors.ts';
import { tempDir } from '../testing/temp.ts';
import { generateBrand, type GenerateOptions } from './index.ts';
import { generateTemp, openDb, type Db, type Generated } from './test-support.ts';

/** sha256 of every file under `dir`, by relative path. */
function digests(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.set(path.relative(dir, full), createHash('sha256').update(readFileSync(full)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

const BASE = { profiles: 2_000, seed: 123, rates: { malformedRate: 0.005 } } satisfies Omit<GenerateOptions, 'out'>;

/** Generations shared by the tests below (generating is most of their time). */
let base: Generated;
let again: Generated;
let otherSeed: Generated;
let split: Generated;
let jsonl: Generated;
let csv: Generated;

before(async () => {
  [base, again, otherSeed, split, jsonl, csv] = await Promise.all([
    generateTemp(BASE),
    generateTemp(BASE),
    generateTemp({ ...BASE, seed: 124 }),
    generateTemp({ ...BASE, partSize: 600 }),
    generateTemp({ ...BASE, format: 'jsonl' }),
    generateTemp({ ...BASE, format: 'csv' }),
  ]);
});

after(() => [base, again, otherSeed, split, jsonl, csv].forEach((g) => g.remove()));

describe('determinism', () => {
  it('writes byte-identical files for the same seed and different data for another seed', () => {
    const a = digests(base.dir);
    assert.ok(a.size >= 10, `${a.size} files`);
    assert.deepEqual(digests(again.dir), a);
    const b = digests(otherSeed.dir);
    for (const dataset of base.manifest.datasets) {
      for (const file of dataset.files) assert.notEqual(b.get(file.path), a.get(file.path), `${file.path} is the same for seeds 123 and 124`);
    }
  });

  it('writes the same rows whatever the part size', async () => {
    assert.equal(split.report.parts, 4);
    const db = await openDb();
    try {
      for (const key of [...base.manifest.datasets.map((d) => d.key), 'customers']) {
        // Multi-file reads have no defined order, so compare the sorted rows (the order within a file is covered above).
        const rows = (g: Generated): Promise<unknown> => db.value(`SELECT md5(string_agg(j, '\n' ORDER BY j)) FROM (SELECT to_json(t)::VARCHAR AS j FROM ${g.files(key)} t)`);
        assert.equal(await rows(split), await rows(base), key);
      }
    } finally {
      db.close();
    }
    assert.deepEqual(split.truth.summary, base.truth.summary);
    assert.equal(readFileSync(path.join(split.dir, 'malformed/customer_profiles.jsonl'), 'utf8'), readFileSync(path.join(base.dir, 'malformed/customer_profiles.jsonl'), 'utf8'));
  });
});

describe('formats and manifest', () => {
  let parquet: Generated;
  let db: Db;

  before(async () => {
    parquet = base;
    db = await openDb();
  });

  after(() => db.close());

  it('lists every file with its true row count', async () => {
    for (const brand of [parquet, jsonl, csv]) {
      for (const dataset of brand.manifest.datasets) {
        assert.ok(dataset.files.length > 0);
        for (const file of dataset.files) {
          const counted = await db.value(`SELECT count(*) FROM ${brand.files(dataset.key).replace(/\[.*\]/, `['${path.join(brand.dir, file.path)}']`)}`);
          assert.equal(counted, file.rows, `${brand.manifest.format} ${file.path}`);
        }
        assert.equal(dataset.rows, dataset.files.reduce((s, f) => s + f.rows, 0));
      }
      assert.equal(brand.truth.customers.rows, 2_000);
    }
  });

  it('holds the same records in Parquet, JSON Lines and CSV', async () => {
    for (const dataset of parquet.manifest.datasets) {
      const counts = [parquet, jsonl, csv].map((g) => g.manifest.datasets.find((d) => d.key === dataset.key)!.rows);
      assert.deepEqual(counts, [dataset.rows, dataset.rows, dataset.rows], dataset.key);
    }
    const keys = (g: Generated): Promise<unknown> =>
      db.value(`SELECT md5(string_agg(k, ',' ORDER BY k)) FROM (SELECT "_id" || '|' || strftime("timestamp"::TIMESTAMPTZ, '%Y-%m-%dT%H:%M:%SZ') || '|' || eventType AS k FROM ${g.files('web')})`);
    const parquetKeys = await keys(parquet);
    assert.equal(await keys(jsonl), parquetKeys);
    assert.equal(await keys(csv), parquetKeys);
  });

  it('writes JSON Lines without nulls and CSV with dotted column names', () => {
    const profiles = jsonl.manifest.datasets.find((d) => d.key === 'profiles')!;
    const text = readFileSync(path.join(jsonl.dir, profiles.files[0]!.path), 'utf8');
    assert.ok(!text.includes(':null'), 'absent fields are left out');
    const first = JSON.parse(text.split('\n')[0]!) as { timestamp?: string; _roundtrip: { signupTimestamp: string } };
    assert.match(first._roundtrip.signupTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const header = readFileSync(path.join(csv.dir, csv.manifest.datasets.find((d) => d.key === 'profiles')!.files[0]!.path), 'utf8').split('\n')[0]!;
    for (const column of ['_id', 'person.name.firstName', 'personalEmail.address', 'loyalty.tier', '_roundtrip.crmId']) assert.ok(header.split(',').includes(column), column);
    const webHeader = readFileSync(path.join(csv.dir, csv.manifest.datasets.find((d) => d.key === 'web')!.files[0]!.path), 'utf8').split('\n')[0]!;
    assert.ok(webHeader.split(',').includes('identityMap'), 'maps are one JSON column');
  });

  it('writes exactly round(profiles × malformedRate) malformed rows, one per line, and says so', () => {
    const profiles = parquet.manifest.datasets.find((d) => d.key === 'profiles')!;
    const lines = readFileSync(path.join(parquet.dir, profiles.malformed!.path), 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 10);
    assert.equal(profiles.malformed!.rows, 10);
    assert.equal(Object.values(profiles.malformed!.defects).reduce((s, n) => s + n, 0), 10);
    assert.equal(parquet.truth.malformed.rows, 10);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line) as unknown, 'each row is still a JSON object, just not a valid record');
  });

  it('writes the process parameters and rules into the ground truth', () => {
    const { truth } = parquet;
    assert.equal(truth.timeUnit, 'week');
    assert.deepEqual({ r: truth.purchaseProcess.r, alpha: truth.purchaseProcess.alpha, a: truth.purchaseProcess.a, b: truth.purchaseProcess.b }, { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 });
    assert.deepEqual({ p: truth.spend.p, q: truth.spend.q, gamma: truth.spend.gamma }, { p: 6.25, q: 3.74, gamma: 15.44 });
    assert.equal(truth.summary.people, 2_000);
    assert.equal(truth.window.weeks.toFixed(2), ((731 * 86_400) / 604_800).toFixed(2));
    assert.equal(truth.campaigns.length, 8);
  });
});

describe('options and output folders', () => {
  const temp = tempDir();
  after(() => temp.remove());

  const refuses = async (options: Partial<GenerateOptions>, message: RegExp): Promise<void> => {
    await assert.rejects(
      generateBrand({ profiles: 10, out: path.join(temp.dir, 'never'), ...options }),
      (error: unknown) => isRoundtripError(error) && error.code === 'RT_GENERATE_OPTIONS_INVALID' && message.test(error.message),
    );
  };

  it('refuses options out of range with RT_GENERATE_OPTIONS_INVALID', async () => {
    await refuses({ profiles: 0 }, /profiles/);
    await refuses({ profiles: 1.5 }, /profiles/);
    await refuses({ profiles: Number.NaN }, /profiles/);
    await refuses({ profiles: 20_000_000 }, /profiles/);
    await refuses({ months: 0 }, /months/);
    await refuses({ seed: -1 }, /seed/);
    await refuses({ format: 'xml' as never }, /format/);
    await refuses({ end: '2025-02-30' }, /end/);
    await refuses({ end: '1969-12-31' }, /2000 to 2099/);
    await refuses({ partSize: 1001 }, /partSize/);
    await refuses({ rates: { duplicateRate: 1.5 } }, /duplicateRate/);
    await refuses({ bgnbd: { r: -1 } }, /bgnbd\.r/);
    await refuses({ gammaGamma: { q: 0 } }, /gammaGamma\.q/);
    await refuses({ tenant: '_x' }, /tenant/);
  });

  it('refuses a folder with other files, and replaces an earlier generation without leftovers', async () => {
    const foreign = path.join(temp.dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
    await refuses({ out: foreign }, /not empty/);
    assert.equal(readFileSync(path.join(foreign, 'notes.txt'), 'utf8'), 'mine');

    const out = path.join(temp.dir, 'again');
    await generateBrand({ profiles: 40, out, partSize: 10 });
    assert.equal(readdirSync(path.join(out, 'data/orders')).length, 4);
    await generateBrand({ profiles: 40, out });
    assert.deepEqual(readdirSync(path.join(out, 'data/orders')), ['part-00000.parquet']);
  });
});
