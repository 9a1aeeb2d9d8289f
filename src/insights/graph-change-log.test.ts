/**
 * The identity graph's change log (`_rt_identity_changes`, `_rt_identity_change_log`) and the insights refresh
 * that reads it: every snapshot apply logs the identities of the graphs it touched, the log is bounded, and an
 * incremental refresh takes the touched graphs from it (or from the nodes when a version is missing or
 * unlisted) and still equals a full rebuild.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import { MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE, ensureMembershipTables } from '../audiences/membership-tables.ts';
import { CHANGE_LOG, CHANGE_LOG_LIMITS, CHANGES, NODES, STATE } from '../identity/store.ts';
import { CRM_SCHEMA, EVENTS_SCHEMA, crmRecord, event, link, setupDatasets, write, type Kit } from '../profile/test-kit.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { CDP_SCHEMA, CDP_TABLES } from './cdp-model.ts';
import { PROFILE_STATE } from './refresh.ts';

// The background follower would sync between a test's writes and split what the tests expect in one version.
process.env.ROUNDTRIP_IDENTITY_POLL_MS = '0';

const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();

let t: TestPlatform;
let kit: Kit;
/** Profile-enabled datasets that do not link identities. */
let unlinked: { crm: string; events: string };

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  return (await (await t.platform.warehouse.sandbox('prod')).query(sql)).rows;
}

/** Every model table (but the process log) and the profile state, sorted: what a full rebuild must reproduce. */
async function model(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of [...Object.keys(CDP_TABLES).filter((x) => x !== 'adwh_lkup_process_delta_log').map((x) => `"${CDP_SCHEMA}"."${x}"`), PROFILE_STATE]) {
    out[table] = (await rows(`SELECT * FROM ${table}`)).map((r) => JSON.stringify(r)).sort();
  }
  return out;
}

/** The refresh's fields that `expected` names. */
const only = <T extends object>(actual: T, expected: Partial<T>): Partial<T> => Object.fromEntries(Object.keys(expected).map((k) => [k, actual[k as keyof T]])) as Partial<T>;

/** An incremental refresh (with the way it found the touched graphs) that a full rebuild then reproduces. */
async function refreshAndCompare(): Promise<{ mode: string; from: string | undefined; audiences: string | undefined }> {
  const steps: string[] = [];
  t.platform.insights.beforeRefreshStep = (step) => void steps.push(step);
  const run = await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights');
  t.platform.insights.beforeRefreshStep = () => undefined;
  assert.equal(run.status, 'success');
  const incremental = await model();
  await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights', { full: true });
  assert.deepEqual(await model(), incremental, 'the incremental refresh equals a full rebuild');
  return { mode: run.mode, from: steps.find((s) => s.startsWith('stale graphs from')), audiences: run.audiences };
}

const version = async () => Number((await rows(`SELECT version FROM ${STATE}`))[0]!.version);

/**
 * The log's view of the versions after `since` (each identity's latest row) is exactly the identities the
 * node table holds in those graphs now.
 */
async function assertLogMatchesNodes(since: number): Promise<number> {
  const view = `SELECT node, arg_max(graph, version) AS graph, arg_max(ns, version) AS ns FROM ${CHANGES} WHERE version > ${since} GROUP BY node`;
  const logged = (await rows(`SELECT * FROM (${view}) ORDER BY node`)).map((r) => JSON.stringify(r));
  const scanned = (await rows(`SELECT node, graph, ns FROM ${NODES} WHERE graph IN (SELECT graph FROM (${view})) ORDER BY node`)).map((r) => JSON.stringify(r));
  assert.deepEqual(logged, scanned);
  return logged.length;
}

describe('the identity graph change log and the insights refresh reading it', () => {
  before(async () => {
    t = await createTestPlatform();
    kit = await setupDatasets(t);
    const created = async (url: string, body: Record<string, unknown>) => {
      const res = await t.call('POST', url, { body });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return (res.body as { id: string }).id;
    };
    const dataset = async (name: string, schema: Record<string, unknown>) =>
      created('/datasets', { name, schemaId: await created('/schemas', { ...schema, title: `${name} (not linking)` }), profileEnabled: true, identityEnabled: false });
    unlinked = { crm: await dataset('crm-notes', CRM_SCHEMA), events: await dataset('store-visits', EVENTS_SCHEMA) };
    await write(t, kit.crm, [crmRecord('C1', 'ann@example.com'), crmRecord('C2', 'bob@example.com')]);
    await write(t, kit.events, [event('z1', daysAgo(6), { Email: ['zed@example.com'] })]);
    await t.platform.mergePolicies.create(LOCAL_OPERATOR, 'prod', { name: 'No stitching', idStitching: 'none' });
    assert.equal((await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights')).mode, 'full');
  });
  after(() => t.dispose());

  it('a batch merging two profiles: the touched graphs come from the log, and the refresh equals a full rebuild', async () => {
    const since = await version();
    await write(t, kit.links, [link({ Email: ['ann@example.com', 'zed@example.com'] })]);
    await write(t, kit.crm, [crmRecord('C3', 'cy@example.com')]);
    await t.platform.identity.sync('prod');
    // Ann's graph (CRMID, her email, Zed's email) and Cy's new one.
    assert.equal(await assertLogMatchesNodes(since), 5);
    assert.deepEqual(only(await refreshAndCompare(), { mode: 'incremental', from: 'stale graphs from the change log' }), { mode: 'incremental', from: 'stale graphs from the change log' });
  });

  it('several syncs between two refreshes: each identity is where its latest version put it', async () => {
    const since = await version();
    // Dan's sign-up and Hal's CRM record in one version, a link of Dan's email in the next.
    await write(t, kit.web, [{ _id: 'w1', personalEmail: { address: 'dan@example.com' } }]);
    await write(t, kit.crm, [crmRecord('C4', 'hal@example.com')]);
    await t.platform.identity.sync('prod');
    const dan = Number((await rows(`SELECT node FROM ${NODES} WHERE id = 'dan@example.com'`))[0]!.node);
    // Dan's sign-up, logged as a profile of its own, joins Cy's (older) graph: its latest row says so.
    await write(t, kit.links, [link({ Email: ['dan@example.com', 'cy@example.com'] })]);
    await t.platform.identity.sync('prod');
    assert.deepEqual((await rows(`SELECT version - ${since} AS v, graph = ${dan} AS own FROM ${CHANGES} WHERE node = ${dan} ORDER BY version`)).map((r) => [Number(r.v), r.own]), [[1, true], [2, false]]);
    assert.equal(Number((await rows(`SELECT count(*) AS n FROM ${CHANGE_LOG} WHERE version > ${since} AND listed`))[0]!.n), (await version()) - since);
    await assertLogMatchesNodes(since);
    assert.deepEqual(only(await refreshAndCompare(), { mode: 'incremental', from: 'stale graphs from the change log' }), { mode: 'incremental', from: 'stale graphs from the change log' });
  });

  it('records of datasets that do not link identities: new people are listed; a record of a known person is logged unlisted and read from the nodes', async () => {
    let since = await version();
    await write(t, unlinked.crm, [crmRecord('C9', 'ivy@example.com')]);
    await t.platform.identity.sync('prod');
    assert.deepEqual(await rows(`SELECT listed FROM ${CHANGE_LOG} WHERE version > ${since}`), [{ listed: true }]);
    assert.equal(await assertLogMatchesNodes(since), 2, "Ivy's CRM id and email, each a profile of its own (nothing links them)");
    assert.deepEqual(only(await refreshAndCompare(), { mode: 'incremental', from: 'stale graphs from the change log' }), { mode: 'incremental', from: 'stale graphs from the change log' });
    // A late store visit of Bob's (a known identity, in a graph nothing else touched) moves his first date back.
    since = await version();
    await write(t, unlinked.events, [event('v1', daysAgo(9), { CRMID: ['C2'] })]);
    await t.platform.identity.sync('prod');
    assert.deepEqual(await rows(`SELECT listed FROM ${CHANGE_LOG} WHERE version > ${since}`), [{ listed: false }]);
    assert.deepEqual(only(await refreshAndCompare(), { mode: 'incremental', from: 'stale graphs from the nodes' }), { mode: 'incremental', from: 'stale graphs from the nodes' });
    const first = await rows(`SELECT strftime(min(first_date), '%Y-%m-%d') AS d FROM ${PROFILE_STATE} WHERE profile_id = (SELECT graph FROM ${NODES} WHERE ns = 'CRMID' AND id = 'C2')`);
    assert.equal(first[0]!.d, daysAgo(9).slice(0, 10));
  });

  it('a version missing from the log (pruned) or unlisted (too large): the refresh reads the nodes instead', async () => {
    await write(t, kit.links, [link({ Email: ['bob@example.com', 'bob.alt@example.com'] })]);
    await t.platform.identity.sync('prod');
    await rows(`DELETE FROM ${CHANGE_LOG} WHERE version = (SELECT version FROM ${STATE})`);
    assert.deepEqual(only(await refreshAndCompare(), { mode: 'incremental', from: 'stale graphs from the nodes' }), { mode: 'incremental', from: 'stale graphs from the nodes' });
    await write(t, kit.crm, [crmRecord('C5', 'eve@example.com'), crmRecord('C2', 'bob@example.com', { mobilePhone: { number: '+15550002' } })]);
    await t.platform.identity.sync('prod');
    await rows(`UPDATE ${CHANGE_LOG} SET listed = false WHERE version = (SELECT version FROM ${STATE})`);
    assert.deepEqual(only(await refreshAndCompare(), { mode: 'incremental', from: 'stale graphs from the nodes' }), { mode: 'incremental', from: 'stale graphs from the nodes' });
  });

  it('an unlink between two logged batches makes the refresh full; the next one reads the log again', async () => {
    await write(t, kit.crm, [crmRecord('C6', 'fay@example.com')]);
    await t.platform.identity.sync('prod');
    await t.platform.identity.unlink(LOCAL_OPERATOR, 'prod', { namespace: 'CRMID', id: 'C1' }, { namespace: 'Email', id: 'zed@example.com' });
    await write(t, kit.crm, [crmRecord('C7', 'gus@example.com')]);
    await t.platform.identity.sync('prod');
    assert.equal((await refreshAndCompare()).mode, 'full');
    await write(t, kit.links, [link({ Email: ['gus@example.com', 'fay@example.com'] })]);
    await t.platform.identity.sync('prod');
    assert.deepEqual(only(await refreshAndCompare(), { mode: 'incremental', from: 'stale graphs from the change log' }), { mode: 'incremental', from: 'stale graphs from the change log' });
  });

  it('is bounded: past the limits the oldest versions go, and a version touching too many identities is logged unlisted', async () => {
    const saved = { ...CHANGE_LOG_LIMITS };
    try {
      CHANGE_LOG_LIMITS.versions = 2;
      for (const id of ['C10', 'C11', 'C12']) {
        await write(t, kit.crm, [crmRecord(id, `${id.toLowerCase()}@example.com`)]);
        await t.platform.identity.sync('prod');
      }
      const now = await version();
      assert.deepEqual((await rows(`SELECT version FROM ${CHANGE_LOG} ORDER BY version`)).map((r) => Number(r.version)), [now - 1, now]);
      assert.deepEqual((await rows(`SELECT DISTINCT version FROM ${CHANGES} ORDER BY version`)).map((r) => Number(r.version)), [now - 1, now]);
      CHANGE_LOG_LIMITS.perVersion = 1;
      await write(t, kit.crm, [crmRecord('C13', 'c13@example.com')]);
      await t.platform.identity.sync('prod');
      assert.deepEqual(await rows(`SELECT listed, rows FROM ${CHANGE_LOG} WHERE version = ${now + 1}`), [{ listed: false, rows: 0 }]);
      assert.equal(Number((await rows(`SELECT count(*) AS n FROM ${CHANGES} WHERE version = ${now + 1}`))[0]!.n), 0);
      // The refresh spans the versions since the last one, some of them pruned: it reads the nodes.
      assert.deepEqual(only(await refreshAndCompare(), { mode: 'incremental', from: 'stale graphs from the nodes' }), { mode: 'incremental', from: 'stale graphs from the nodes' });
    } finally {
      Object.assign(CHANGE_LOG_LIMITS, saved);
    }
  });

  it('a current membership row written without history since the last refresh rebuilds the audience facts', async () => {
    const w = await t.platform.warehouse.sandbox('prod');
    await ensureMembershipTables(w);
    const policy = (await t.platform.mergePolicies.list('prod')).find((p) => p.isDefault)!;
    const [ann, bob] = [Number((await rows(`SELECT graph FROM ${NODES} WHERE ns = 'CRMID' AND id = 'C1'`))[0]!.graph), Number((await rows(`SELECT graph FROM ${NODES} WHERE ns = 'CRMID' AND id = 'C2'`))[0]!.graph)];
    const now = new Date().toISOString();
    await w.query(`INSERT INTO ${MEMBERSHIP_HISTORY_TABLE} VALUES ('seg-a', $p, ${ann}, 'realized', $t, 'job-1')`, { p: policy.id, t: now });
    await w.query(`INSERT INTO ${MEMBERSHIP_TABLE} VALUES ('seg-a', $p, ${ann}, 'realized', $t, 1)`, { p: policy.id, t: now });
    await refreshAndCompare();
    await write(t, kit.crm, [crmRecord('C14', 'c14@example.com')]);
    await t.platform.identity.sync('prod');
    await w.query(`INSERT INTO ${MEMBERSHIP_TABLE} VALUES ('seg-b', $p, ${bob}, 'realized', $t, 1)`, { p: policy.id, t: new Date().toISOString() });
    assert.deepEqual(only(await refreshAndCompare(), { mode: 'incremental', audiences: 'rebuilt' }), { mode: 'incremental', audiences: 'rebuilt' });
  });
});
