/**
 * Insights benchmark: CDPInsights built from N profiles (default 1M), then
 * - the §8.3 widget queries through the accelerated-queries API, p50/p95 uncached (cache invalidated before
 *   each run) and cached (targets: p95 < 50 ms uncached, < 5 ms cached);
 * - an incremental refresh after a 1 % data change (new logins of 0.5 % of the people, 0.5 % new people,
 *   audience transitions for 1 % of the profiles) against a full rebuild of the same state (target:
 *   incremental at least 10× faster), repeated `--repeat` times with a new change each (median reported).
 *
 *   npx tsx bench/insights.ts [--profiles 1000000] [--runs 200] [--repeat 3] [--no-memberships] [--threads 2] [--memory 6GB] [--trace 1|explain] [--keep]
 *
 * `--no-memberships` leaves the audience transitions out of the change (identity data only).
 *
 * `--keep` leaves the data folder in place (to try statements on the sandbox file afterwards).
 *
 * `--trace 1` prints every statement of the two refreshes after the change with its time; `--trace explain` also
 * prints the EXPLAIN ANALYZE plans of their INSERT … SELECT and CREATE … AS SELECT statements.
 *
 * Not part of the tests. Data: the identity benchmark's shape (CRM records with CRMID and email, 1-3 login
 * devices per person), generated in DuckDB and written as ordinary snapshots; audience memberships (5
 * audiences, 10-40 % of the people, entered over the last 30 days) written straight into the membership tables.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LOCAL_OPERATOR } from '../src/access/principal.ts';
import { ensureMembershipTables, MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE } from '../src/audiences/membership-tables.ts';
import { resolveConfig } from '../src/core/config.ts';
import { CDP_SCHEMA, CDP_TABLES } from '../src/insights/cdp-model.ts';
import { WIDGET_SQL } from '../src/insights/widget-sql.fixture.ts';
import { initDataDir, openPlatform } from '../src/platform/platform.ts';
import { createCrmAndLogins, draw, generateRows, IDENTITY_MAP, SANDBOX, timed as timedStep } from './fixtures.ts';

const timed = <T>(label: string, work: () => Promise<T>) => timedStep(label, work, 52);

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '200' },
    repeat: { type: 'string', default: '3' },
    'no-memberships': { type: 'boolean', default: false },
    threads: { type: 'string', default: '2' },
    memory: { type: 'string', default: '6GB' },
    trace: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const PROFILES = Number(values.profiles);
const RUNS = Number(values.runs);



const crmRows = (from: number, to: number) => (system: string) => `
  SELECT 'crm-' || i AS _id, {'crmId': 'C' || i, 'tier': NULL, 'points': NULL} AS _roundtrip,
    CASE WHEN ${draw('i', 1)} < 0.9 THEN {'address': 'person' || i || '@example.com'} END AS "personalEmail", ${system}
  FROM range(${from}, ${to}) t(i)`;

const loginRows = (people: string, days: number, tag: string = String(days)) => (system: string) => `
  WITH devices AS (SELECT i, d FROM (${people}) p(i), range(3) r(d) WHERE d < CASE WHEN ${draw('i', 2)} < 0.6 THEN 1 WHEN ${draw('i', 2)} < 0.9 THEN 2 ELSE 3 END)
  SELECT 'login-' || i || '-' || d || '-${tag}' AS _id, now() - to_days((hash(i, d, 3) % ${days})::INTEGER) AS "timestamp", 'web.login' AS "eventType",
    map(['CRMID', 'ECID'], [[{'id': 'C' || i, 'authenticatedState': 'authenticated', 'primary': true}],
      [{'id': 'ecid-' || i || '-' || d || '-${tag}', 'authenticatedState': 'ambiguous', 'primary': false}]])::${IDENTITY_MAP} AS "identityMap", ${system}
  FROM devices`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

process.env.ROUNDTRIP_IDENTITY_POLL_MS = '0';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'roundtrip-bench-insights-'));
const config = resolveConfig({ env: {}, flags: { dataDir, logLevel: 'silent', duckdbThreads: Number(values.threads), duckdbMemoryLimit: values.memory } });
console.log(`Insights benchmark: ${PROFILES.toLocaleString('en')} profiles, ${values.threads} DuckDB threads, data in ${dataDir}`);
await initDataDir(config);
const platform = await openPlatform(config);
try {
  const { crm, logins } = await createCrmAndLogins(platform);
  await timed('generate CRM profiles and logins (not timed below)', async () => {
    await generateRows(platform, crm, crmRows(0, PROFILES));
    await generateRows(platform, logins, loginRows(`SELECT * FROM range(${PROFILES})`, 30));
  });
  await timed('identity graph sync (not part of the refresh)', () => platform.identity.sync(SANDBOX));
  const policy = (await platform.mergePolicies.list(SANDBOX)).find((p) => p.isDefault)!;
  const warehouse = await platform.warehouse.sandbox(SANDBOX);
  await ensureMembershipTables(warehouse);
  await timed('audience memberships (5 audiences)', async () => {
    const members = `SELECT 'aud-' || s AS segment_id, '${policy.id}' AS merge_policy_id, n.graph AS profile_id, 'realized' AS status,
        now() - to_days((hash(n.graph, s) % 30)::INTEGER) AS t
      FROM (SELECT DISTINCT graph FROM _rt_identity_nodes) n, range(5) r(s) WHERE ${draw('n.graph', 9)} < 0.1 + s * 0.075`;
    await warehouse.query(`INSERT INTO ${MEMBERSHIP_TABLE} SELECT segment_id, merge_policy_id, profile_id, status, t, 1 FROM (${members})`);
    await warehouse.query(`INSERT INTO ${MEMBERSHIP_HISTORY_TABLE} SELECT segment_id, merge_policy_id, profile_id, status, t, 'bench' FROM (${members})`);
  });
  const first = await timed('CDPInsights first build (full)', () => platform.insights.refresh(LOCAL_OPERATOR, SANDBOX, 'CDPInsights'));
  console.log(`  steps: ${first.value.steps.map((s) => `${s.name} ${s.ms} ms`).join(', ')}`);

  // Widget queries through the accelerated-queries API.
  const today = new Date().toISOString().slice(0, 10);
  const mp = Number((await platform.insights.query(LOCAL_OPERATOR, SANDBOX, { sql: 'SELECT merge_policy_id FROM qsaccel.profile_agg.adwh_dim_merge_policies WHERE is_default' })).rows[0]!.merge_policy_id);
  const widgets = WIDGET_SQL.map((w) => w.sql.replace(/\$\{(\w+)\}/g, (_m, name: string) => (name === 'lastProcessDate' ? today : String(mp))));
  const all = Object.keys(CDP_TABLES).map((t) => `${CDP_SCHEMA}.${t}`);
  for (const cached of [false, true]) {
    const times: number[] = [];
    if (cached) for (const sql of widgets) await platform.insights.query(LOCAL_OPERATOR, SANDBOX, { sql }); // fills the cache
    for (let i = 0; i < RUNS; i++) {
      const sql = widgets[i % widgets.length]!;
      if (!cached) platform.insights.accelerated.invalidate(SANDBOX, all);
      const started = performance.now();
      const result = await platform.insights.query(LOCAL_OPERATOR, SANDBOX, { sql });
      times.push(performance.now() - started);
      if (result.cached !== cached) throw new Error(`expected cached=${cached}`);
    }
    times.sort((a, b) => a - b);
    console.log(`widget queries ${cached ? 'cached  ' : 'uncached'} (${RUNS})`.padEnd(52), `p50 ${percentile(times, 50).toFixed(2)} ms  p95 ${percentile(times, 95).toFixed(2)} ms  max ${times.at(-1)!.toFixed(1)} ms`);
  }

  /** As a segment job would write them: 0.5 % of the memberships exit, 0.5 % of the profiles enter an audience. */
  const audienceChange = async (r: number) => {
    const changes = `_bench_changes_${r}`;
    await warehouse.query(`CREATE OR REPLACE TEMP TABLE ${changes} AS
      SELECT segment_id, merge_policy_id, profile_id, 'exited' AS status FROM ${MEMBERSHIP_TABLE} WHERE status = 'realized' AND hash(profile_id, segment_id, ${r}) % 200 = 0
      UNION ALL
      SELECT 'aud-' || (hash(n.graph, ${r}) % 5), '${policy.id}', n.graph, 'realized' FROM (SELECT DISTINCT graph FROM _rt_identity_nodes) n
      WHERE hash(n.graph, ${r}, 7) % 200 = 0 AND NOT EXISTS (SELECT 1 FROM ${MEMBERSHIP_TABLE} m WHERE m.profile_id = n.graph AND m.segment_id = 'aud-' || (hash(n.graph, ${r}) % 5));
      INSERT INTO ${MEMBERSHIP_HISTORY_TABLE} SELECT segment_id, merge_policy_id, profile_id, status, now(), 'bench-change-${r}' FROM ${changes};
      UPDATE ${MEMBERSHIP_TABLE} m SET status = 'exited', last_qualification_time = now(), version = m.version + 1 FROM ${changes} c
        WHERE c.status = 'exited' AND m.segment_id = c.segment_id AND m.profile_id = c.profile_id;
      INSERT INTO ${MEMBERSHIP_TABLE} SELECT segment_id, merge_policy_id, profile_id, status, now(), 1 FROM ${changes} WHERE status = 'realized'`);
  };

  // A 1 % change: 0.5 % of the people log in on a new device, 0.5 % new people, audience transitions for 1 % of
  // the profiles (see audienceChange); then the incremental refresh
  // and a full rebuild of the same state. Repeated (a new change each time) and the median ratio reported,
  // because the shared machine's load swings between single runs.
  const changed = Math.max(1, Math.floor(PROFILES / 200));
  const ratios: number[] = [];
  for (let r = 0; r < Number(values.repeat); r++) {
    await generateRows(platform, logins, loginRows(`SELECT (i * 197 + ${r} * 7919) % ${PROFILES} FROM range(${changed}) t(i)`, 1, `new${r}`));
    await generateRows(platform, crm, crmRows(PROFILES + r * changed, PROFILES + (r + 1) * changed));
    await timed(`[${r + 1}] identity graph sync of the change (not part of the refresh)`, () => platform.identity.sync(SANDBOX));
    if (!values['no-memberships']) await timed(`[${r + 1}] audience transitions of 1 % of the profiles`, () => audienceChange(r));
    if (values.trace) process.env.ROUNDTRIP_INSIGHTS_TRACE = values.trace;
    const incremental = await timed(`[${r + 1}] incremental refresh after a 1 % change`, () => platform.insights.refresh(LOCAL_OPERATOR, SANDBOX, 'CDPInsights'));
    console.log(`  ${incremental.value.mode}, ${incremental.value.profilesRecomputed} profiles, ${incremental.value.datesRecomputed} dates, audiences ${incremental.value.audiences}; steps: ${incremental.value.steps.map((s) => `${s.name} ${s.ms} ms`).join(', ')}`);
    const full = await timed(`[${r + 1}] full rebuild of the same state`, () => platform.insights.refresh(LOCAL_OPERATOR, SANDBOX, 'CDPInsights', { full: true }));
    console.log(`  steps: ${full.value.steps.map((s) => `${s.name} ${s.ms} ms`).join(', ')}`);
    delete process.env.ROUNDTRIP_INSIGHTS_TRACE;
    ratios.push(full.ms / incremental.ms);
  }
  ratios.sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)]!;
  console.log(`\nResult: full rebuild / incremental refresh = ${ratios.map((x) => `${x.toFixed(1)}×`).join(', ')}; median ${median.toFixed(1)}× (target ≥ 10×); load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}.`);
} finally {
  await platform.close();
  if (values.keep) console.log(`data kept in ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}
