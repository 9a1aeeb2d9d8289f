/**
 * CDPInsights' CLV facts on real CLV output: `platform.clv.predict` and `platform.clv.attributes` write the
 * `clv_predictions` and `clv_attributes` datasets from a small transactions table; the CLV fact tables (profiles,
 * predicted CLV and revenue by decile and tier, the predicted-CLV distribution, audience × decile) must equal
 * SQL written here over those same datasets and the identity graph — after a full build, and after a second
 * prediction run (new customers, new values) folded in incrementally.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import { MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE, ensureMembershipTables } from '../audiences/membership-tables.ts';
import { loadCsvDataset } from '../clv/testing.ts';
import { crmRecord, setupDatasets, write } from '../profile/test-kit.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';

const op = LOCAL_OPERATOR;
const today = new Date().toISOString().slice(0, 10);
const dayOffset = (days: number) => new Date(Date.parse(`${today}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);

/** Purchases of customers `C1..Cn` over the last ~300 days: 1–12 each, each customer with their own typical spend. */
function transactions(customers: number, salt: number): string {
  const lines = ['customer,date,amount'];
  for (let i = 1; i <= customers; i++) {
    const count = 1 + ((i * i + salt) % 12);
    const spend = 15 + ((i * 37 + salt) % 200);
    for (let k = 0; k < count; k++) lines.push(`C${i},${dayOffset(5 + ((i * 13 + k * 23 + salt) % 290))},${spend + ((k * 17) % 11)}`);
  }
  return lines.join('\n');
}

const input = (dataset: string) => ({ dataset, customerId: 'customer', datetime: 'date', monetary: 'amount' });

let t: TestPlatform;

/** Rows as sorted JSON, fractions to 6 places (sums in another order differ in the last bits). */
async function rows(sql: string): Promise<string[]> {
  const w = await t.platform.warehouse.sandbox('prod');
  const rounded = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(6)) : v);
  return (await w.query(sql)).rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, rounded(v)])))).sort();
}

/** Per profile of the default policy: its customer's latest decile, predicted CLV and lifetime revenue — written from the datasets. */
const PROFILE_CLV = `WITH
  pred AS (SELECT _roundtrip.customerId AS cid, arg_max(_roundtrip.clvPrediction.clvDecile, _rt_snapshot_id) AS decile,
             arg_max(_roundtrip.clvPrediction.predictedClv, _rt_snapshot_id) AS clv FROM clv_predictions GROUP BY 1),
  attr AS (SELECT _roundtrip.customerId AS cid, arg_max(_roundtrip.clvHistory.lifetime.revenue, _rt_snapshot_id) AS revenue FROM clv_attributes GROUP BY 1),
  customer AS (SELECT n.graph AS profile_id, lower(n.id) AS cid FROM _rt_identity_nodes n WHERE n.ns = 'CRMID')
  SELECT c.profile_id, min(p.decile) AS decile, sum(p.clv) AS clv, sum(a.revenue) AS revenue
  FROM customer c LEFT JOIN pred p ON lower(p.cid) = c.cid LEFT JOIN attr a ON lower(a.cid) = c.cid GROUP BY 1`;

const round = (x: string) => `round(${x}, 6)`;

/** The expected and actual rows of each CLV fact. */
async function compareClvFacts(mergePolicyId: number): Promise<void> {
  const tier = `CASE WHEN decile = 1 THEN 'Top' WHEN decile <= 3 THEN 'High' WHEN decile <= 7 THEN 'Medium' ELSE 'Low' END`;
  const fact = (table: string) => `"qsaccel.profile_agg"."${table}"`;
  assert.deepEqual(
    await rows(`SELECT date_key::VARCHAR AS d, merge_policy_id AS mp, clv_decile, clv_tier, count_of_profiles AS n, ${round('predicted_clv')} AS clv, ${round('revenue')} AS revenue FROM ${fact('adwh_fact_clv_decile')}`),
    await rows(`SELECT '${today}' AS d, ${mergePolicyId} AS mp, decile AS clv_decile, ${tier} AS clv_tier, count(*) AS n, ${round('sum(clv)')} AS clv, ${round('sum(revenue)')} AS revenue
      FROM (${PROFILE_CLV}) WHERE decile IS NOT NULL GROUP BY ALL`),
    'profiles, predicted CLV and revenue by decile and tier',
  );
  assert.deepEqual(
    await rows(`SELECT date_key::VARCHAR AS d, merge_policy_id AS mp, bucket, ${round('bucket_floor')} AS lo, ${round('bucket_ceiling')} AS hi, count_of_profiles AS n FROM ${fact('adwh_fact_clv_distribution')}`),
    await rows(`WITH p AS (${PROFILE_CLV}), w AS (SELECT max(clv) / 20 AS width FROM p),
        b AS (SELECT CASE WHEN clv >= 20 * width THEN 19 ELSE floor(clv / width)::INTEGER END AS bucket, width FROM p, w WHERE clv IS NOT NULL)
      SELECT '${today}' AS d, ${mergePolicyId} AS mp, bucket, ${round('bucket * width')} AS lo, ${round('(bucket + 1) * width')} AS hi, count(*) AS n FROM b GROUP BY ALL`),
    'predicted-CLV distribution in 20 equal-width buckets',
  );
  assert.deepEqual(
    await rows(`SELECT date_key::VARCHAR AS d, merge_policy_id AS mp, s.segment, clv_decile, count_of_profiles AS n, ${round('predicted_clv')} AS clv
      FROM ${fact('adwh_fact_profile_by_segment_and_clv_decile')} f JOIN ${fact('adwh_dim_segments')} s USING (segment_id)`),
    await rows(`WITH current AS (SELECT segment_id, profile_id FROM ${MEMBERSHIP_TABLE} WHERE status = 'realized')
      SELECT '${today}' AS d, ${mergePolicyId} AS mp, m.segment_id AS segment, p.decile AS clv_decile, count(*) AS n, ${round('sum(p.clv)')} AS clv
      FROM current m JOIN (${PROFILE_CLV}) p USING (profile_id) WHERE p.decile IS NOT NULL GROUP BY ALL`),
    'audience × decile',
  );
}

async function factRows(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of ['adwh_fact_clv_decile', 'adwh_fact_clv_distribution', 'adwh_fact_profile_by_segment_and_clv_decile', 'adwh_fact_profile']) {
    out[table] = await rows(`SELECT * FROM "qsaccel.profile_agg"."${table}"`);
  }
  return out;
}

describe('CDPInsights CLV facts on real CLV datasets', () => {
  let mergePolicyId: number;
  let policy: string;

  /** Puts every third profile with a CRM id into `seg-vip`, every fourth into `seg-new` (current state and history). */
  async function memberships(): Promise<void> {
    const w = await t.platform.warehouse.sandbox('prod');
    await ensureMembershipTables(w);
    await w.query(`DELETE FROM ${MEMBERSHIP_TABLE}; DELETE FROM ${MEMBERSHIP_HISTORY_TABLE}`);
    const members = `SELECT s.segment_id, $p AS merge_policy_id, n.graph AS profile_id, 'realized' AS status, now() - INTERVAL 1 DAY AS t
      FROM (SELECT DISTINCT graph FROM _rt_identity_nodes WHERE ns = 'CRMID') n, (VALUES ('seg-vip', 3), ('seg-new', 4)) s(segment_id, every)
      WHERE n.graph % s.every = 0`;
    await w.query(`INSERT INTO ${MEMBERSHIP_TABLE} SELECT segment_id, merge_policy_id, profile_id, status, t, 1 FROM (${members})`, { p: policy });
    await w.query(`INSERT INTO ${MEMBERSHIP_HISTORY_TABLE} SELECT segment_id, merge_policy_id, profile_id, status, t, 'job' FROM (${members})`, { p: policy });
  }

  before(async () => {
    t = await createTestPlatform();
    const kit = await setupDatasets(t);
    // CRM profiles for most customers; the rest are known from the CLV datasets only.
    await write(t, kit.crm, Array.from({ length: 50 }, (_, i) => crmRecord(`C${i + 1}`, `c${i + 1}@example.com`)));
    await loadCsvDataset(t, 'orders', transactions(60, 0), { customer: 'string', date: 'date', amount: 'number' });
    await t.platform.clv.predict(op, 'prod', { input: input('orders'), model: 'bgnbd', maxCorrelation: 1, output: { dataset: 'clv_predictions' } });
    await t.platform.clv.attributes(op, 'prod', { input: input('orders'), output: { dataset: 'clv_attributes' } });
    await t.platform.identity.sync('prod');
    policy = (await t.platform.mergePolicies.list('prod')).find((p) => p.isDefault)!.id;
    await memberships();
  });
  after(() => t.dispose());

  it('full build: the CLV facts equal SQL over clv_predictions and clv_attributes', async () => {
    const run = await t.platform.insights.refresh(op, 'prod', 'CDPInsights', { full: true });
    assert.equal(run.mode, 'full');
    mergePolicyId = Number((await rows(`SELECT merge_policy_id FROM "qsaccel.profile_agg".adwh_dim_merge_policies WHERE is_default`)).map((r) => JSON.parse(r).merge_policy_id)[0]);
    const deciles = await rows(`SELECT DISTINCT clv_decile FROM "qsaccel.profile_agg".adwh_fact_clv_decile`);
    assert.equal(deciles.length, 10, 'sixty customers fill all ten deciles');
    const buckets = await rows(`SELECT DISTINCT bucket FROM "qsaccel.profile_agg".adwh_fact_clv_distribution`);
    assert.ok(buckets.length >= 5, `predicted CLV spreads over the buckets (${buckets.length})`);
    const revenue = await rows(`SELECT sum(revenue) AS r FROM "qsaccel.profile_agg".adwh_fact_clv_decile`);
    assert.ok(Number(JSON.parse(revenue[0]!).r) > 0, 'revenue comes from clv_attributes');
    await compareClvFacts(mergePolicyId);
  });

  it('incremental after a second prediction run (new customers, new values) equals the SQL and a full rebuild', async () => {
    await loadCsvDataset(t, 'orders2', transactions(72, 5), { customer: 'string', date: 'date', amount: 'number' });
    await t.platform.clv.predict(op, 'prod', { input: input('orders2'), model: 'bgnbd', maxCorrelation: 1, output: { dataset: 'clv_predictions' } });
    await t.platform.clv.attributes(op, 'prod', { input: input('orders2'), output: { dataset: 'clv_attributes' } });
    await t.platform.identity.sync('prod');
    await memberships();
    const run = await t.platform.insights.refresh(op, 'prod', 'CDPInsights');
    assert.equal(run.mode, 'incremental');
    assert.ok(run.profilesRecomputed >= 72, `every customer's profile is recomputed (${run.profilesRecomputed})`);
    await compareClvFacts(mergePolicyId);
    const incremental = await factRows();
    await t.platform.insights.refresh(op, 'prod', 'CDPInsights', { full: true });
    assert.deepEqual(await factRows(), incremental);
  });
});
