/**
 * Historical CLV attributes and decile buckets on a generated loyalty dataset (the synthetic brand's "Airline
 * Loyalty Data", in the airline example's shape): every customer's decile map per window and tier, and the
 * window metrics, checked against an independent computation in JavaScript; the derived dataset is
 * profile-enabled, upserted, keyed by the customer id, and an audience-style condition on it works in SQL; the
 * statement `sqlOnly` returns runs as a query schedule.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import type { NamespaceInput, SchemaInput } from '../catalog/payloads.ts';
import type { JsonRecord } from '../ports/warehouse.ts';
import { generateBrand, type Manifest } from '../synthetic/index.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { tempDir } from '../testing/temp.ts';
import { LOOKBACK_WINDOWS } from './sql/attributes.ts';

const AS_OF = '2026-01-01';
const op = LOCAL_OPERATOR;

interface Ledger {
  id: string;
  day: string;
  miles: number;
  tier: string;
}

/** The first day of a window: `AS_OF` minus whole months (AS_OF is the 1st, so no month-end clamping). */
function windowStart(months: number | null): string {
  if (months === null) return '0000-01-01';
  const [y, m] = AS_OF.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m - 1 - months, 1)).toISOString().slice(0, 10);
}

/** NTILE(10) over the sums, largest first, ties by id — written from its definition, not from the SQL. */
function deciles(sums: Map<string, number>): Map<string, number> {
  const ordered = [...sums].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
  const n = ordered.length;
  const base = Math.floor(n / 10);
  const extra = n % 10;
  const out = new Map<string, number>();
  let at = 0;
  for (let bucket = 1; bucket <= 10; bucket++) {
    const size = base + (bucket <= extra ? 1 : 0);
    for (let k = 0; k < size; k++) out.set(ordered[at++]![0], bucket);
  }
  return out;
}

describe('CLV attributes and deciles on generated loyalty data', () => {
  const temp = tempDir('roundtrip-clv-brand-');
  let t: TestPlatform;
  let ledger: Ledger[];
  let rows: Map<string, Record<string, unknown>>;
  const input = {
    dataset: 'Airline Loyalty Data',
    customerId: '_roundtrip.membershipNumber',
    datetime: '_roundtrip.transactionDate',
    monetary: '_roundtrip.mileage',
    category: '_roundtrip.loyaltyStatus',
  };

  before(async () => {
    t = await createTestPlatform();
    const out = path.join(temp.dir, 'brand');
    await generateBrand({ profiles: 1200, out, format: 'jsonl', seed: 11, end: AS_OF, months: 18, campaigns: 0 });
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    for (const ns of manifest.namespaces as NamespaceInput[]) await t.platform.registry.createNamespace(op, 'prod', ns);
    const schema = await t.platform.registry.createSchema(op, 'prod', (manifest.schemas as Record<string, SchemaInput>).loyalty!);
    const entry = manifest.datasets.find((d) => d.key === 'loyalty')!;
    await t.platform.datasets.create(op, 'prod', { ...entry.definition, schemaId: schema.id });
    const records = entry.files.flatMap((f) => readFileSync(path.join(out, f.path), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JsonRecord));
    await t.platform.datasets.write(op, 'prod', entry.definition.name, records);
    ledger = records.map((r) => {
      const f = r._roundtrip as Record<string, string | number>;
      return { id: String(f.membershipNumber), day: String(f.transactionDate), miles: Number(f.mileage), tier: typeof f.loyaltyStatus === 'string' ? f.loyaltyStatus : 'ALL' };
    });
    const result = await t.platform.clv.attributes(op, 'prod', { input, asOf: AS_OF });
    assert.equal(result.output?.dataset, 'clv_attributes');
    const written = await t.platform.datasets.read('prod', 'clv_attributes', { limit: 100_000 });
    rows = new Map(written.map((r) => [String((r._roundtrip as Record<string, unknown>).customerId), r._roundtrip as Record<string, unknown>]));
  });
  after(async () => {
    await t.dispose();
    temp.remove();
  });

  it('writes one row per member with activity before asOf', () => {
    const members = new Set(ledger.filter((l) => l.day < AS_OF).map((l) => l.id));
    assert.ok(members.size > 1000, `${members.size} members`);
    assert.deepEqual([...rows.keys()].sort(), [...members].sort());
  });

  it('puts every member in the same decile per [start, asOf) window and tier as an independent NTILE', () => {
    let checked = 0;
    for (const window of LOOKBACK_WINDOWS) {
      const start = windowStart(window.months);
      const sums = new Map<string, Map<string, number>>();
      for (const l of ledger) {
        if (l.day < start || l.day >= AS_OF) continue;
        const byTier = sums.get(l.tier) ?? new Map<string, number>();
        byTier.set(l.id, (byTier.get(l.id) ?? 0) + l.miles);
        sums.set(l.tier, byTier);
      }
      const expected = new Map<string, Record<string, number>>();
      for (const [tier, byId] of sums) for (const [id, decile] of deciles(byId)) expected.set(id, { ...expected.get(id), [tier]: decile });
      for (const [id, row] of rows) {
        const actual = (row.decilesRevenue as Record<string, Record<string, number> | null>)[window.key] ?? null;
        assert.deepEqual(actual, expected.get(id) ?? null, `${id} ${window.key}`);
        checked++;
      }
      assert.ok(sums.size >= 2 || window.months === 1, `${window.key} ranks several tiers`);
    }
    assert.equal(checked, rows.size * LOOKBACK_WINDOWS.length);
  });

  it('computes revenue, orders, average order value and days since the last order per window', () => {
    for (const [id, row] of [...rows].slice(0, 200)) {
      for (const window of LOOKBACK_WINDOWS) {
        const start = windowStart(window.months);
        const mine = ledger.filter((l) => l.id === id && l.day >= start && l.day < AS_OF);
        const history = (row.clvHistory as Record<string, Record<string, number | null>>)[window.history]!;
        const revenue = mine.reduce((s, l) => s + l.miles, 0);
        assert.equal(history.revenue, revenue, `${id} ${window.history} revenue`);
        assert.equal(history.orders, mine.length, `${id} ${window.history} orders`);
        assert.equal(history.averageOrderValue, mine.length ? revenue / mine.length : null);
        const last = mine.map((l) => l.day).sort().at(-1);
        assert.equal(history.daysSinceLastOrder, last ? (Date.parse(AS_OF) - Date.parse(last)) / 86_400_000 : null);
      }
    }
  });

  it('is a profile-enabled, upserted dataset keyed by the customer id with the standard decile type', async () => {
    const dataset = await t.platform.datasets.get('prod', 'clv_attributes');
    assert.equal(dataset.profileEnabled, true);
    assert.equal(dataset.upsert, true);
    const schema = await t.platform.registry.getResolved('prod', dataset.schemaId);
    assert.deepEqual(schema['meta:identities'], [{ path: '_roundtrip.customerId', namespace: 'CRMID', primary: true }]);
    const tenant = schema.properties._roundtrip as { properties: Record<string, { properties?: Record<string, unknown> }> };
    assert.deepEqual(Object.keys(tenant.properties.decilesRevenue!.properties!), LOOKBACK_WINDOWS.map((w) => w.key));
  });

  it('answers an audience condition like decilesRevenue.decileMonth3["GOLD"] <= 3 in SQL', async () => {
    const expected = [...rows.values()].filter((r) => ((r.decilesRevenue as Record<string, Record<string, number> | null>).decileMonth3?.GOLD ?? 99) <= 3).length;
    assert.ok(expected > 0, 'some GOLD members are in the top 30 %');
    const outcome = await t.platform.queries.execute(op, 'prod', `SELECT count(*) AS n FROM clv_attributes WHERE _roundtrip.decilesRevenue.decileMonth3['GOLD'] <= 3`);
    assert.equal(outcome.last.rows[0]!.n, expected);
  });

  it('returns its INSERT statement for a query schedule, which appends the same rows as a new snapshot', async () => {
    const { sql, output } = await t.platform.clv.attributes(op, 'prod', { input, asOf: AS_OF, sqlOnly: true });
    assert.equal(output, null);
    assert.match(sql, /^INSERT INTO clv_attributes\n/);
    const rolling = await t.platform.clv.attributes(op, 'prod', { input, sqlOnly: true });
    assert.match(rolling.sql, /CURRENT_DATE/, 'without asOf the windows roll with the run date');
    const schedule = await t.platform.schedules.create(op, 'prod', { query: { sql, name: 'CLV attributes' }, schedule: { schedule: '0 3 * * *' }, state: 'DISABLED' });
    const run = await t.platform.schedules.trigger(op, 'prod', schedule.id);
    let status = run.status;
    for (let i = 0; i < 100 && status === 'RUNNING'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = (await t.platform.schedules.run('prod', schedule.id, run.id)).status;
    }
    assert.equal(status, 'SUCCESS');
    const snapshots = (await t.platform.datasets.snapshots('prod', 'clv_attributes')).filter((s) => s.status === 'committed');
    assert.deepEqual(snapshots.map((s) => s.rowCount), [rows.size, rows.size]);
  });
});
