/**
 * CDPInsights on a small fixture sandbox: every §8.3 widget SQL runs unchanged with asserted rows; the refresh
 * is atomic (an injected failure leaves the previous model readable) and incremental (equals a full rebuild).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import { MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE, ensureMembershipTables } from '../audiences/membership-tables.ts';
import { NODES } from '../identity/store.ts';
import { crmRecord, event, link, setupDatasets, write, type Kit } from '../profile/test-kit.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { CDP_SCHEMA, CDP_TABLES } from './cdp-model.ts';
import { WIDGET_SQL } from './widget-sql.fixture.ts';

const today = new Date().toISOString().slice(0, 10);
const daysAgo = (n: number) => new Date(Date.parse(`${today}T12:00:00Z`) - n * 86_400_000).toISOString();

let t: TestPlatform;
let kit: Kit;
let mergePolicyId: number;

async function sql(text: string): Promise<Record<string, unknown>[]> {
  const outcome = await t.platform.queries.execute(LOCAL_OPERATOR, 'prod', text);
  return outcome.last.rows;
}

async function profileOf(ns: string, id: string): Promise<number> {
  const w = await t.platform.warehouse.sandbox('prod');
  const row = (await w.query(`SELECT graph FROM ${NODES} WHERE ns = $ns AND lower(id) = lower($id)`, { ns, id })).rows[0];
  assert.ok(row, `${ns}:${id} is in the graph`);
  return Number(row.graph);
}

/** Every row of every model table except the process log (its timestamps differ run to run), sorted. */
async function modelSnapshot(): Promise<Record<string, string[]>> {
  const w = await t.platform.warehouse.sandbox('prod');
  const out: Record<string, string[]> = {};
  for (const table of Object.keys(CDP_TABLES)) {
    if (table === 'adwh_lkup_process_delta_log') continue;
    const rows = await w.query(`SELECT * FROM "${CDP_SCHEMA}"."${table}"`);
    out[table] = rows.rows.map((r) => JSON.stringify(r)).sort();
  }
  return out;
}

const widget = (title: string, params: Record<string, string | number> = {}): string => {
  const found = WIDGET_SQL.find((w) => w.title === title);
  assert.ok(found, title);
  return found.sql.replace(/\$\{(\w+)\}/g, (_m, name: string) => String(params[name]));
};

describe('CDPInsights', () => {
  before(async () => {
    t = await createTestPlatform();
    kit = await setupDatasets(t);
    await write(t, kit.crm, [crmRecord('C1', 'ann@example.com', { mobilePhone: { number: '+15550001' } }), crmRecord('C2', 'bob@example.com'), crmRecord('C3', 'cy@example.com')]);
    await write(t, kit.web, [{ _id: 'w1', personalEmail: { address: 'dee@example.com' } }]);
    // A late-arriving event: Ann's first signal was three days ago.
    await write(t, kit.events, [event('e1', daysAgo(3), { Email: ['ann@example.com'] })]);
    await t.platform.identity.sync('prod');
    const w = await t.platform.warehouse.sandbox('prod');
    await ensureMembershipTables(w);
    const policy = (await t.platform.mergePolicies.list('prod')).find((p) => p.isDefault)!;
    const [ann, bob] = [await profileOf('CRMID', 'C1'), await profileOf('CRMID', 'C2')];
    await w.query(`INSERT INTO ${MEMBERSHIP_TABLE} VALUES ('seg-gold', $p, ${ann}, 'realized', $t2, 1), ('seg-gold', $p, ${bob}, 'realized', $t1, 1), ('seg-churn', $p, ${ann}, 'realized', $t1, 1)`, {
      p: policy.id,
      t2: daysAgo(2),
      t1: daysAgo(1),
    });
    await w.query(`INSERT INTO ${MEMBERSHIP_HISTORY_TABLE} VALUES ('seg-gold', $p, ${ann}, 'realized', $t2, 'job-1'), ('seg-gold', $p, ${bob}, 'realized', $t1, 'job-2'), ('seg-churn', $p, ${ann}, 'realized', $t1, 'job-2')`, {
      p: policy.id,
      t2: daysAgo(2),
      t1: daysAgo(1),
    });
    const run = await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights');
    assert.equal(run.status, 'success');
    assert.equal(run.mode, 'full');
    mergePolicyId = Number((await sql(`SELECT merge_policy_id FROM qsaccel.profile_agg.adwh_dim_merge_policies WHERE is_default`))[0]!.merge_policy_id);
  });
  after(() => t.dispose());

  it('Profile count: four profiles, one of them with a single identity', async () => {
    const rows = await sql(widget('Profile count', { lastProcessDate: today, mergePolicyId }));
    assert.equal(rows.length, 1);
    assert.equal(Number(rows[0]!.CNT), 4);
    const single = await sql(`SELECT count_of_Single_Identity_profiles AS n FROM qsaccel.profile_agg.adwh_fact_profile WHERE date_key = '${today}'`);
    assert.equal(Number(single[0]!.n), 1, 'dee@ signed up with an email only');
  });

  it('Profiles by identity: email on all four, CRM id on three, phone on one', async () => {
    const rows = await sql(widget('Profiles by identity', { lastProcessDate: today, mergePolicyId }));
    const counts = Object.fromEntries(rows.map((r) => [r.namespace_description, Number(r.count_of_profiles)]));
    assert.deepEqual(counts, { email: 4, crmid: 3, phone: 1 });
  });

  it('Audience size: gold has two members today, churn one', async () => {
    const rows = await sql(widget('Audience size', { lastProcessDate: today, mergePolicyId }));
    assert.deepEqual(rows.map((r) => [r.segment, Number(r.count_of_profiles)]), [['seg-gold', 2], ['seg-churn', 1]]);
  });

  it('Audience size change trend: gold grows by one yesterday, none today', async () => {
    const gold = Number((await sql(`SELECT segment_id FROM qsaccel.profile_agg.adwh_dim_segments WHERE segment = 'seg-gold'`))[0]!.segment_id);
    const verbatim = widget('Audience size change trend');
    // The reference hard-codes its example audience id; the fixture's audience id takes its place.
    assert.deepEqual(await sql(verbatim), []);
    const rows = await sql(verbatim.replace('1333234510', String(gold)));
    const added = Object.fromEntries(rows.map((r) => [String(r.date_key).slice(0, 10), Number(r.Profiles_added)]));
    // The first date with members is the widget's baseline (rn_num = 1), so it shows from the day after.
    assert.equal(added[daysAgo(2).slice(0, 10)], undefined);
    assert.equal(added[daysAgo(1).slice(0, 10)], 1);
    assert.equal(added[today], 0);
  });

  it('destination widgets run on the (empty until activation lands) destination tables', async () => {
    for (const title of ['Most used destinations', 'Recently activated audiences', 'Active destinations by platform']) assert.deepEqual(await sql(widget(title)), [], title);
    assert.deepEqual(await sql(widget('Activated audiences for a destination')), [{ Activated_Audiences_Count: 0 }]);
  });

  it('namespace trend: the late event puts Ann three days back', async () => {
    const rows = await sql(`SELECT date_key::VARCHAR AS d, count_of_profiles AS n FROM qsaccel.profile_agg.adwh_fact_profile WHERE merge_policy_id = ${mergePolicyId} ORDER BY date_key`);
    const byDate = Object.fromEntries(rows.map((r) => [r.d, Number(r.n)]));
    assert.equal(byDate[daysAgo(3).slice(0, 10)], 1);
    assert.equal(byDate[today], 4);
    assert.equal(byDate[daysAgo(4).slice(0, 10)], undefined, 'no profile before the first signal');
  });

  it('lists CDPInsights with fact and dimension tables, keys, lookups and counts', async () => {
    const model = await t.platform.insights.models.get('prod', 'CDPInsights');
    const fact = model.tables.find((x) => x.name === 'qsaccel.profile_agg.adwh_fact_profile_by_namespace')!;
    assert.equal(fact.type, 'fact');
    assert.deepEqual(fact.lookups.sort(), ['qsaccel.profile_agg.adwh_dim_date', 'qsaccel.profile_agg.adwh_dim_merge_policies', 'qsaccel.profile_agg.adwh_dim_namespaces']);
    const dim = model.tables.find((x) => x.name === 'qsaccel.profile_agg.adwh_dim_namespaces')!;
    assert.equal(dim.type, 'dimension');
    assert.equal(dim.recordCount, 3);
    assert.deepEqual(dim.primaryKey, ['namespace_id', 'merge_policy_id']);
    const sample = await t.platform.insights.sample('prod', 'qsaccel.profile_agg.adwh_dim_namespaces', 2);
    assert.equal(sample.length, 2);
  });

  it('a refresh that fails half-way leaves the previous model readable; the rerun completes it', async () => {
    const before = await modelSnapshot();
    await write(t, kit.crm, [crmRecord('C4', 'eve@example.com')]);
    t.platform.insights.beforeRefreshStep = (step) => {
      if (step === 'profile facts') throw new Error('injected failure');
    };
    await assert.rejects(t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights'), (e: { code?: string }) => e.code === 'RT_INSIGHTS_REFRESH_FAILED');
    t.platform.insights.beforeRefreshStep = () => undefined;
    assert.deepEqual(await modelSnapshot(), before, 'nothing of the failed refresh is visible');
    const runs = await t.platform.insights.runs('prod');
    assert.equal(runs[0]!.status, 'failed');
    const rerun = await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights');
    assert.equal(rerun.mode, 'incremental');
    assert.equal(rerun.profilesRecomputed, 1);
    const rows = await sql(widget('Profile count', { lastProcessDate: today, mergePolicyId }));
    assert.equal(Number(rows[0]!.CNT), 5);
  });

  it('an incremental refresh after new batches (a merge, a late event) equals a full rebuild', async () => {
    // Bob's email shows up on a web sign-up with a new phone (a merge into Bob) and a late event for Cy.
    await write(t, kit.web, [{ _id: 'w2', personalEmail: { address: 'bob@example.com' }, mobilePhone: { number: '+15550002' } }, { _id: 'w3', personalEmail: { address: 'fay@example.com' } }]);
    await write(t, kit.events, [event('e2', daysAgo(10), { Email: ['cy@example.com'] })]);
    const incremental = await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights');
    assert.equal(incremental.mode, 'incremental');
    assert.equal(incremental.datesRecomputed, 11, 'the late event reprocesses ten days back');
    const afterIncremental = await modelSnapshot();
    const full = await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights', { full: true });
    assert.equal(full.mode, 'full');
    assert.deepEqual(await modelSnapshot(), afterIncremental);
    // Bob's sign-up merged into Bob: six profiles (C1–C4, dee, fay), all with an email.
    assert.equal(Number((await sql(widget('Profile count', { lastProcessDate: today, mergePolicyId })))[0]!.CNT), 6);
    const emails = await sql(widget('Profiles by identity', { lastProcessDate: today, mergePolicyId }));
    assert.equal(Number(emails.find((r) => r.namespace_description === 'email')!.count_of_profiles), 6);
  });

  it('new audience transitions and a member with a new identity update the audience facts incrementally: equal to a full rebuild', async () => {
    const w = await t.platform.warehouse.sandbox('prod');
    const policy = (await t.platform.mergePolicies.list('prod')).find((p) => p.isDefault)!;
    const [ann, bob, cy] = [await profileOf('CRMID', 'C1'), await profileOf('CRMID', 'C2'), await profileOf('CRMID', 'C3')];
    // Ann leaves gold, Bob joins churn, Cy enters a new audience; Bob also gets a phone (his namespaces change).
    const now = new Date().toISOString();
    await w.query(`INSERT INTO ${MEMBERSHIP_HISTORY_TABLE} VALUES ('seg-gold', $p, ${ann}, 'exited', $t, 'job-3'), ('seg-churn', $p, ${bob}, 'realized', $t, 'job-3'), ('seg-new', $p, ${cy}, 'realized', $t, 'job-3')`, { p: policy.id, t: now });
    await w.query(`UPDATE ${MEMBERSHIP_TABLE} SET status = 'exited', last_qualification_time = $t, version = version + 1 WHERE segment_id = 'seg-gold' AND profile_id = ${ann}`, { t: now });
    await w.query(`INSERT INTO ${MEMBERSHIP_TABLE} VALUES ('seg-churn', $p, ${bob}, 'realized', $t, 1), ('seg-new', $p, ${cy}, 'realized', $t, 1)`, { p: policy.id, t: now });
    await write(t, kit.crm, [crmRecord('C2', 'bob@example.com', { mobilePhone: { number: '+15550009' } })]);
    const run = await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights');
    assert.equal(run.mode, 'incremental');
    assert.equal(run.audiences, 'incremental');
    const afterIncremental = await modelSnapshot();
    const sizes = await sql(widget('Audience size', { lastProcessDate: today, mergePolicyId }));
    assert.deepEqual(Object.fromEntries(sizes.map((r) => [r.segment, Number(r.count_of_profiles)])), { 'seg-gold': 1, 'seg-churn': 2, 'seg-new': 1 });
    const full = await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights', { full: true });
    assert.equal(full.audiences, 'rebuilt');
    assert.deepEqual(await modelSnapshot(), afterIncremental);
    // Nothing new: the audience facts are kept.
    assert.equal((await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights')).audiences, 'kept');
  });

  it('an unmerge that lands together with a new batch is picked up: incremental equals a full rebuild', async () => {
    // A new CRM record and, in the same refresh interval, Ann's email split off her CRM id (no snapshot explains
    // it): her late event now makes the email a profile of its own, and Ann's profile loses the email.
    const count = async () => Number((await sql(widget('Profile count', { lastProcessDate: today, mergePolicyId })))[0]!.CNT);
    const before = await count();
    await write(t, kit.crm, [crmRecord('C5', 'gus@example.com')]);
    await t.platform.identity.unlink(LOCAL_OPERATOR, 'prod', { namespace: 'CRMID', id: 'C1' }, { namespace: 'Email', id: 'ann@example.com' });
    const run = await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights');
    assert.equal(run.status, 'success');
    const afterRefresh = await modelSnapshot();
    assert.equal(await count(), before + 2, 'C5 and the split-off email');
    const emails = await sql(`SELECT count_of_profiles AS n FROM qsaccel.profile_agg.adwh_fact_profile_by_namespace f JOIN qsaccel.profile_agg.adwh_dim_namespaces d USING (namespace_id, merge_policy_id)
      WHERE d.namespace_description = 'email' AND f.date_key = '${today}' AND f.merge_policy_id = ${mergePolicyId}`);
    assert.equal(Number(emails[0]!.n), before + 1, 'C5 and the split email have one, Ann\'s CRM profile lost hers');
    await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights', { full: true });
    assert.deepEqual(await modelSnapshot(), afterRefresh);
    // With nothing new, the next refresh is incremental again.
    assert.equal((await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights')).mode, 'incremental');
  });

  it('a privacy delete that lands together with a new batch is picked up: incremental equals a full rebuild', async () => {
    await write(t, kit.web, [{ _id: 'w4', personalEmail: { address: 'hal@example.com' } }]);
    await t.platform.privacy.delete(LOCAL_OPERATOR, 'prod', { namespace: 'Email', id: 'dee@example.com' });
    const before = Number((await sql(widget('Profile count', { lastProcessDate: today, mergePolicyId })))[0]!.CNT);
    await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights');
    const afterRefresh = await modelSnapshot();
    assert.equal(Number((await sql(widget('Profile count', { lastProcessDate: today, mergePolicyId })))[0]!.CNT), before, 'hal arrives, dee is gone');
    await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights', { full: true });
    assert.deepEqual(await modelSnapshot(), afterRefresh);
  });

  it('runs as the insights.refresh job kind', async () => {
    const job = t.platform.jobs.get('insights.refresh');
    assert.throws(() => job.validate!({ full: 'yes' }), /full/);
    const outcome = await job.run({ principal: LOCAL_OPERATOR, sandbox: 'prod', params: {}, scheduledFor: new Date().toISOString() });
    assert.match(outcome.message ?? '', /incremental refresh of CDPInsights/);
  });
});

describe('CDPInsights audience intervals, refreshed incrementally over several days', () => {
  let u: TestPlatform;
  let policyId: string;
  const profiles: Record<string, number> = {};
  const day = (n: number) => daysAgo(n).slice(0, 10);
  const at = (n: number, time: string) => `${day(n)}T${time}Z`;

  /** The model tables and the membership intervals behind them, sorted. */
  async function state(): Promise<{ model: Record<string, string[]>; members: string[] }> {
    const w = await u.platform.warehouse.sandbox('prod');
    const model: Record<string, string[]> = {};
    for (const table of Object.keys(CDP_TABLES)) {
      if (table === 'adwh_lkup_process_delta_log') continue;
      model[table] = (await w.query(`SELECT * FROM "${CDP_SCHEMA}"."${table}"`)).rows.map((r) => JSON.stringify(r)).sort();
    }
    const members = (await w.query(`SELECT * FROM _rt_insights_members ORDER BY ALL`)).rows.map((r) => JSON.stringify(r));
    return { model, members };
  }

  /** Transitions as a segment job writes them: history rows and the current row of each (audience, profile). */
  async function transitions(rows: [segment: string, who: string, status: string, time: string][]): Promise<void> {
    const w = await u.platform.warehouse.sandbox('prod');
    for (const [segment, who, status, time] of rows) {
      const params = { s: segment, p: policyId, t: time, st: status };
      await w.query(`INSERT INTO ${MEMBERSHIP_HISTORY_TABLE} VALUES ($s, $p, ${profiles[who]}, $st, $t, 'job')`, params);
      await w.query(`DELETE FROM ${MEMBERSHIP_TABLE} WHERE segment_id = $s AND profile_id = ${profiles[who]}`, { s: segment });
      await w.query(`INSERT INTO ${MEMBERSHIP_TABLE} VALUES ($s, $p, ${profiles[who]}, $st, $t, 1)`, params);
    }
  }

  /** An incremental refresh for `processDate` equals a full rebuild of the same state, intervals included. */
  async function refreshEqualsRebuild(processDate: string): Promise<void> {
    const run = await u.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights', { processDate });
    assert.equal(run.mode, 'incremental');
    assert.equal(run.audiences, 'incremental');
    const incremental = await state();
    await u.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights', { processDate, full: true });
    assert.deepEqual(await state(), incremental);
  }

  before(async () => {
    u = await createTestPlatform();
    const k = await setupDatasets(u);
    await write(u, k.crm, [crmRecord('C1', 'ann@example.com'), crmRecord('C2', 'bob@example.com'), crmRecord('C3', 'cy@example.com')]);
    await u.platform.identity.sync('prod');
    await ensureMembershipTables(await u.platform.warehouse.sandbox('prod'));
    policyId = (await u.platform.mergePolicies.list('prod')).find((p) => p.isDefault)!.id;
    const w = await u.platform.warehouse.sandbox('prod');
    for (const [name, crm] of [['ann', 'C1'], ['bob', 'C2'], ['cy', 'C3']] as const) {
      profiles[name] = Number((await w.query(`SELECT graph FROM ${NODES} WHERE ns = 'CRMID' AND id = $id`, { id: crm })).rows[0]!.graph);
    }
    await transitions([['seg-a', 'ann', 'realized', at(6, '09:00:00')], ['seg-b', 'ann', 'realized', at(6, '09:00:00')], ['seg-c', 'bob', 'realized', at(6, '09:00:00')]]);
    assert.equal((await u.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights', { processDate: day(5) })).mode, 'full');
  });
  after(() => u.dispose());

  it('transitions of only some audiences, an entry and exit on one day, a later process date', async () => {
    await transitions([
      ['seg-a', 'ann', 'exited', at(4, '10:00:00')],
      ['seg-b', 'bob', 'realized', at(4, '10:00:00')],
      ['seg-b', 'bob', 'exited', at(4, '15:00:00')],
      ['seg-a', 'cy', 'realized', at(4, '16:00:00')],
    ]);
    await refreshEqualsRebuild(day(4));
  });

  it('later transitions on the same day as the last ones, one at exactly the last time: re-entries and exits replace that day', async () => {
    // At exactly the checkpoint's time: the rows at that time are no longer the ones counted, so they are read again.
    await transitions([['seg-c', 'cy', 'realized', at(4, '16:00:00')], ['seg-a', 'cy', 'exited', at(4, '20:00:00')], ['seg-a', 'ann', 'realized', at(4, '21:00:00')], ['seg-b', 'ann', 'exited', at(4, '21:00:00')]]);
    await refreshEqualsRebuild(day(4));
    const sizes = await sql2(`SELECT s.segment, f.count_of_profiles AS n FROM qsaccel.profile_agg.adwh_fact_profile_by_segment f
      JOIN qsaccel.profile_agg.adwh_dim_segments s USING (segment_id) WHERE f.date_key = '${day(4)}' ORDER BY 1`);
    assert.deepEqual(sizes.map((r) => [r.segment, Number(r.n)]), [['seg-a', 1], ['seg-c', 2]], 'ann back in a, cy out of a the same day and in c, bob in and out of b');
  });

  it('open intervals closed and reopened days later, a new audience, up to today', async () => {
    await transitions([['seg-c', 'bob', 'exited', at(3, '08:00:00')], ['seg-c', 'bob', 'realized', at(2, '08:00:00')], ['seg-d', 'cy', 'realized', at(2, '09:00:00')], ['seg-a', 'ann', 'exited', at(1, '07:00:00')]]);
    await refreshEqualsRebuild(day(2));
    await transitions([['seg-d', 'cy', 'exited', at(1, '09:00:00')], ['seg-d', 'cy', 'realized', at(0, '00:00:01')]]);
    await refreshEqualsRebuild(today);
  });

  async function sql2(text: string): Promise<Record<string, unknown>[]> {
    return (await u.platform.queries.execute(LOCAL_OPERATOR, 'prod', text)).last.rows;
  }
});

describe('CDPInsights profiles recomputed from their old rows (first dates folded)', () => {
  let v: TestPlatform;
  let k: Kit;
  const day = (n: number) => daysAgo(n).slice(0, 10);

  /** Per policy and date, the profile count (the first-date facts) and the profile state rows, sorted. */
  async function state(): Promise<{ facts: string[]; profiles: string[] }> {
    const w = await v.platform.warehouse.sandbox('prod');
    const rows = async (q: string) => (await w.query(q)).rows.map((r) => JSON.stringify(r));
    return {
      facts: await rows(`SELECT * FROM "${CDP_SCHEMA}"."adwh_fact_profile" ORDER BY ALL`),
      profiles: await rows(`SELECT * FROM _rt_insights_profiles ORDER BY ALL`),
    };
  }

  before(async () => {
    v = await createTestPlatform();
    k = await setupDatasets(v);
    // Ann from the CRM today; Zed an email seen only in an event six days ago; Ivy's CRM record and an event of hers two days ago.
    await write(v, k.crm, [crmRecord('C1', 'ann@example.com'), crmRecord('C9', 'ivy@example.com')]);
    await write(v, k.events, [event('z1', daysAgo(6), { Email: ['zed@example.com'] }), event('i1', daysAgo(2), { CRMID: ['C9'] })]);
    await v.platform.mergePolicies.create(LOCAL_OPERATOR, 'prod', { name: 'No stitching', idStitching: 'none' });
    assert.equal((await v.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights')).mode, 'full');
  });
  after(() => v.dispose());

  it('a link merging two old profiles takes the older first date of the absorbed one; unstitched profiles fold per identity', async () => {
    const before = await state();
    // An identity-only link joins Zed to Ann (no profile record of its own), and a new event of Ivy's today.
    await write(v, k.links, [link({ Email: ['ann@example.com', 'zed@example.com'] })]);
    await write(v, k.events, [event('i2', new Date().toISOString(), { CRMID: ['C9'] })]);
    const run = await v.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights');
    assert.equal(run.mode, 'incremental');
    const incremental = await state();
    assert.notDeepEqual(incremental.profiles, before.profiles, 'the merge changed the stitched profiles');
    await v.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights', { full: true });
    assert.deepEqual(await state(), incremental);
    // Stitched: Ann+Zed counts from six days ago (Zed's event), Ivy from two days ago.
    const w = await v.platform.warehouse.sandbox('prod');
    const stitched = (await w.query(`SELECT merge_policy_id FROM "${CDP_SCHEMA}"."adwh_dim_merge_policies" WHERE is_default`)).rows[0]!.merge_policy_id;
    const counts = (await w.query(`SELECT date_key::VARCHAR AS d, count_of_profiles AS n FROM "${CDP_SCHEMA}"."adwh_fact_profile" WHERE merge_policy_id = ${Number(stitched)} ORDER BY date_key`)).rows;
    const at = (d: string) => Number(counts.filter((r) => (r.d as string) <= d).at(-1)?.n ?? 0);
    assert.deepEqual([at(day(7)), at(day(6)), at(day(2)), at(day(0))], [0, 1, 2, 2]);
  });
});
