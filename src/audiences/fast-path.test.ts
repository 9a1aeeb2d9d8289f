import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MembershipChange } from './streaming.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE } from './membership-tables.ts';

const MEMBER_SCHEMA = {
  title: 'Members',
  class: 'profile',
  fieldGroups: ['person-details', 'identity-map'],
  fields: { crmId: { type: 'string' }, loyaltyStatus: { type: 'string' } },
  identities: [{ path: '_roundtrip.crmId', namespace: 'CRMID', primary: true }],
};
const EVENT_SCHEMA = { title: 'Shop events', class: 'experienceevent', fieldGroups: ['commerce-details', 'identity-map'] };
const CHECKOUT_24H = 'CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(<= 24 hours before now)])';
/** Exactly one checkout in the last day: the first qualifies, a second one exits. */
const ONE_CHECKOUT = 'xEvent.filter(eventType = "commerce.checkouts" and timestamp occurs <= 24 hours before now).count() = 1';
const BURST = 2000;

describe('streaming audiences: the fast path from acknowledgement', () => {
  let t: TestPlatform;
  let connection: { id: string; secret: string };
  let members: string;
  const saved = { apply: process.env.ROUNDTRIP_STREAM_APPLY_INTERVAL_MS, poll: process.env.ROUNDTRIP_IDENTITY_POLL_MS };
  const changes: MembershipChange[] = [];
  let checkedOutToday = '';

  before(async () => {
    // The dataset apply (and with it the slow path) waits a minute: whatever qualifies before is the fast path's.
    process.env.ROUNDTRIP_STREAM_APPLY_INTERVAL_MS = '60000';
    process.env.ROUNDTRIP_IDENTITY_POLL_MS = '0';
    t = await createTestPlatform();
    t.platform.audiences.streaming.onChange((c) => changes.push(c));
    const schema = async (body: unknown) => (await t.call('POST', '/schemas', { body })).body.id as string;
    members = (await t.call('POST', '/datasets', { body: { name: 'members', schemaId: await schema(MEMBER_SCHEMA), profileEnabled: true } })).body.id as string;
    assert.ok(members);
    assert.equal((await t.call('POST', '/datasets', { body: { name: 'shop events', schemaId: await schema(EVENT_SCHEMA), profileEnabled: true } })).status, 201);
    const records = [...['A', 'B', 'C'].map((id) => ({ _id: `m-${id}`, _roundtrip: { crmId: id, loyaltyStatus: 'GOLD' } })), ...Array.from({ length: BURST }, (_, i) => ({ _id: `m-P${i}`, _roundtrip: { crmId: `P${i}`, loyaltyStatus: 'SILVER' } }))];
    assert.equal((await t.call('POST', `/datasets/${members}/records`, { body: { records } })).status, 201);
    await t.platform.identity.sync('prod');
    await t.platform.profileStore.ensureCurrent('prod');
    const created = await t.call('POST', '/streaming/connections', { body: { name: 'shop', dataset: 'shop events', profileDataset: 'members' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    connection = { id: created.body.connection.id, secret: created.body.secret };
  });
  after(async () => {
    for (const [name, value] of [['ROUNDTRIP_STREAM_APPLY_INTERVAL_MS', saved.apply], ['ROUNDTRIP_IDENTITY_POLL_MS', saved.poll]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await t.dispose();
  });

  const checkout = (crm: string, id: string) => ({ header: {}, body: { xdmEntity: { _id: id, timestamp: new Date().toISOString(), eventType: 'commerce.checkouts', identityMap: { CRMID: [{ id: crm }] } } } });
  const sendBatch = async (messages: unknown[]) => {
    const res = await t.app.inject({ method: 'POST', url: `/collection/batch/${connection.id}`, payload: { messages }, headers: { authorization: `Bearer ${connection.secret}` } });
    assert.equal(res.statusCode, 200, res.body);
  };
  const segment = async (name: string, pql: string) => {
    const res = await t.call('POST', '/segment/definitions', { body: { name, expression: { type: 'PQL', format: 'pql/text', value: pql }, evaluationInfo: { batch: { enabled: true }, continuous: { enabled: true } } } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const memberIds = async (id: string, status = 'realized') =>
    (await t.call('GET', `/segment/definitions/${id}/members?limit=10000&status=${status}`)).body.members.map((m: { identities: { id: string }[] }) => m.identities[0]!.id).sort() as string[];
  const pendingEntries = () => t.platform.streaming.stats().sandboxes.find((s) => s.sandbox === 'prod')?.pendingEntries ?? 0;
  const waitFor = async (what: string, done: () => boolean, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  it('qualifies a profile at acknowledgement, before the dataset apply, and measures acknowledgement → commit', async () => {
    const id = (checkedOutToday = await segment('Checked out today', CHECKOUT_24H));
    const sent = Date.now();
    await sendBatch([checkout('B', 'ev-b-1')]);
    await waitFor('the fast-path entry', () => changes.some((c) => c.segmentId === id && c.status === 'realized'));
    const change = changes.find((c) => c.segmentId === id && c.status === 'realized')!;
    assert.equal(change.path, 'fast');
    assert.ok(change.acknowledgedAt! >= sent && change.at >= change.acknowledgedAt!, JSON.stringify(change));
    // Decided before the slow path could: the acknowledged entry is still waiting for the dataset apply.
    assert.ok(pendingEntries() > 0, 'the event is not applied yet');
    assert.deepEqual(await memberIds(id), ['B']);
    const stats = (await t.call('GET', '/segment/streaming/stats')).body;
    const fast = stats.fastPath;
    assert.ok(fast.latencyMs.samples >= 1 && fast.decided >= 1 && fast.changes >= 1, JSON.stringify(fast));
    assert.ok(fast.latencyMs.max >= change.at - change.acknowledgedAt!, JSON.stringify(fast));
    assert.ok(fast.latencyMs.p99 < 2000, `acknowledgement → membership p99 ${fast.latencyMs.p99} ms`);
    const history = await (await t.platform.warehouse.sandbox('prod')).query(`SELECT status, source FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE segment_id = $s`, { s: id });
    assert.deepEqual(history.rows, [{ status: 'realized', source: 'streaming' }]);
  });

  it('exits a profile on a later event (C also enters "Checked out today")', async () => {
    const id = await segment('Exactly one checkout today', ONE_CHECKOUT);
    await sendBatch([checkout('C', 'ev-c-1')]);
    await waitFor('the entry', () => changes.some((c) => c.segmentId === id && c.status === 'realized'));
    await sendBatch([checkout('C', 'ev-c-2')]);
    await waitFor('the exit', () => changes.some((c) => c.segmentId === id && c.status === 'exited'));
    assert.ok(pendingEntries() > 0, 'both decided before the dataset apply');
    assert.deepEqual(await memberIds(id), []);
    assert.deepEqual(await memberIds(id, 'exited'), ['C']);
    const rows = (await (await t.platform.warehouse.sandbox('prod')).query(`SELECT status, version FROM ${MEMBERSHIP_TABLE} WHERE segment_id = $s`, { s: id })).rows;
    assert.deepEqual(rows, [{ status: 'exited', version: 2 }]);
  });

  it('leaves a new person to the slow path, which qualifies them after the apply; a batch job agrees with streaming', async () => {
    const id = checkedOutToday;
    const before = t.platform.audiences.streaming.stats().fastPath.fallbacks;
    const fastBefore = changes.filter((c) => c.path === 'fast').length;
    await sendBatch([checkout('NEW-1', 'ev-new-1')]);
    await t.platform.audiences.streaming.fastPath.idle();
    assert.equal(t.platform.audiences.streaming.stats().fastPath.fallbacks, before + 1);
    assert.equal(changes.filter((c) => c.path === 'fast').length, fastBefore, 'the fast path decided nothing for an unknown identity');
    // The slow path: apply, graph, profile table, then its round.
    await t.platform.streaming.flush();
    await t.platform.identity.sync('prod');
    await t.platform.audiences.streaming.idle();
    assert.deepEqual(await memberIds(id), ['B', 'C', 'NEW-1']);
    const slow = changes.filter((c) => c.segmentId === id && c.path === 'slow');
    assert.equal(slow.length, 1, 'only the new person was the slow path’s to qualify (no second entry for B or C)');
    // Every membership row is there once, and the fast path's decisions were not undone.
    const warehouse = await t.platform.warehouse.sandbox('prod');
    const dupes = await warehouse.query(`SELECT segment_id, profile_id, count(*) AS n FROM ${MEMBERSHIP_TABLE} GROUP BY ALL HAVING count(*) > 1`);
    assert.deepEqual(dupes.rows, []);
    const flaps = await warehouse.query(`SELECT count(*) AS n FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE segment_id = $s AND status = 'exited'`, { s: id });
    assert.equal(Number(flaps.rows[0]!.n), 0);
    // The batch job decides the same members.
    const job = await t.call('POST', '/segment/jobs', { body: [{ segmentId: id }] });
    const done = await t.platform.audiences.jobs.wait('prod', job.body.id);
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(done.metrics!.segmentedProfileCounter[id], 3);
    assert.equal(done.metrics!.segmentedProfileByStatusCounter[id]!.entered, 0, 'nothing for the batch job to add');
    assert.deepEqual(await memberIds(id), ['B', 'C', 'NEW-1']);
  });

  it(`qualifies every profile of a burst of ${BURST} events`, async () => {
    const id = await segment('Burst checkouts', CHECKOUT_24H);
    // Creating a segment preloads the graph's identities and the profiles' attributes: a known person's first event resolves from memory.
    await t.platform.audiences.streaming.fastPath.idle();
    const cacheBefore = t.platform.audiences.streaming.stats().fastPath.identityCache;
    const requests: Promise<void>[] = [];
    for (let i = 0; i < BURST; i += 100) {
      requests.push(sendBatch(Array.from({ length: 100 }, (_, k) => checkout(`P${i + k}`, `burst-${i + k}`))));
    }
    await Promise.all(requests);
    await t.platform.audiences.streaming.fastPath.idle();
    const entered = new Set(changes.filter((c) => c.segmentId === id && c.status === 'realized' && c.path === 'fast').map((c) => c.profileId));
    assert.equal(entered.size, BURST);
    assert.ok(pendingEntries() > 0, 'all decided before the dataset apply');
    const stats = t.platform.audiences.streaming.stats().fastPath;
    assert.ok(stats.groups < stats.decided, `group commit: ${stats.groups} groups for ${stats.decided} events`);
    assert.equal(stats.identityCache.misses, cacheBefore.misses, 'no identity of the burst was looked up');
    assert.equal(stats.identityCache.hits - cacheBefore.hits, BURST);
    // The slow path then sees the same events and has nothing to change.
    await t.platform.streaming.flush();
    await t.platform.identity.sync('prod');
    await t.platform.audiences.streaming.idle();
    const warehouse = await t.platform.warehouse.sandbox('prod');
    const counts = (await warehouse.query(`SELECT count(*) AS n, count(DISTINCT profile_id) AS d FROM ${MEMBERSHIP_TABLE} WHERE segment_id = $s AND status = 'realized'`, { s: id })).rows[0]!;
    assert.deepEqual([Number(counts.n), Number(counts.d)], [BURST, BURST]);
    const history = (await warehouse.query(`SELECT count(*) AS n FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE segment_id = $s`, { s: id })).rows[0]!;
    assert.equal(Number(history.n), BURST, 'one transition per profile: the slow path did not write them again');
  });

  const event = (id: string, type: string, identityMap: Record<string, { id: string }[]>) => ({ header: {}, body: { xdmEntity: { _id: id, timestamp: new Date().toISOString(), eventType: type, identityMap } } });
  const slowPath = async () => {
    await t.platform.streaming.flush();
    await t.platform.identity.sync('prod');
    await t.platform.audiences.streaming.idle();
  };

  it('reads a profile’s history again after an identity merge while streaming, so it does not re-enter on stale events', async () => {
    const id = await segment('One checkout today (merge)', ONE_CHECKOUT);
    const fast = t.platform.audiences.streaming.fastPath;
    // An anonymous visitor checks out: a new person, the slow path's; they enter.
    await sendBatch([event('mg-1', 'commerce.checkouts', { ECID: [{ id: 'visitor-1' }] })]);
    await slowPath();
    // A checks out: decided at acknowledgement (exactly one checkout needs the history: it waits for it).
    const waits = fast.stats().seedWaits;
    await sendBatch([checkout('A', 'mg-2')]);
    await fast.idle();
    assert.ok(changes.some((c) => c.segmentId === id && c.status === 'realized' && c.path === 'fast'), 'A entered on the fast path');
    assert.equal(fast.stats().seedWaits, waits + 1);
    // A page view carrying both identities merges the two profiles: two checkouts now, so the slow path exits them.
    await sendBatch([event('mg-3', 'web.webpagedetails.pageViews', { CRMID: [{ id: 'A' }], ECID: [{ id: 'visitor-1' }] })]);
    await slowPath();
    assert.deepEqual(await memberIds(id), [], 'the merged profile has two checkouts');
    // The next event of A: the fast path's ring of A was reset by the merge and holds the merged history again
    // (two checkouts: read by the slow path's round over the merged profile, or by the fast path's own seed,
    // whichever comes first), so it does not decide on the one checkout it held, which would re-enter the profile.
    const fastChanges = changes.filter((c) => c.segmentId === id && c.path === 'fast').length;
    await sendBatch([event('mg-4', 'web.webpagedetails.pageViews', { CRMID: [{ id: 'A' }] })]);
    await fast.idle();
    const merged = (await t.call('GET', '/profiles?namespace=CRMID&id=A')).body.profileId as number;
    const ring = fast.cachedEvents('prod', (await t.platform.mergePolicies.resolve('prod')).id, merged).map((e) => (typeof e._id === 'string' ? e._id : ''));
    assert.deepEqual(['mg-1', 'mg-2'].filter((e) => ring.includes(e)), ['mg-1', 'mg-2'], `both checkouts are in the ring (${ring.join()})`);
    assert.ok(fast.stats().seedWaits <= waits + 2);
    assert.equal(changes.filter((c) => c.segmentId === id && c.path === 'fast').length, fastChanges, 'no stale re-entry');
    assert.deepEqual(await memberIds(id), []);
    // The batch job agrees (it also enters every other profile with one checkout today, never the merged one).
    const job = await t.call('POST', '/segment/jobs', { body: [{ segmentId: id }] });
    assert.equal((await t.platform.audiences.jobs.wait('prod', job.body.id)).status, 'SUCCEEDED');
    const after = await memberIds(id);
    assert.ok(after.length > 0 && !after.includes('A') && !after.includes('visitor-1'), `the merged profile is not a member (${after.length} members)`);
  });

  it('decides a round over profiles that only got events from the rings, with the events of batches it never saw', async () => {
    const id = await segment('Two checkouts today', 'xEvent.filter(eventType = "commerce.checkouts" and timestamp occurs <= 24 hours before now).count() >= 2');
    const streaming = t.platform.audiences.streaming;
    // D checks out once, streamed: the fast path reads D's history (none) and decides: not yet.
    assert.equal((await t.call('POST', `/datasets/${members}/records`, { body: { records: [{ _id: 'm-D', _roundtrip: { crmId: 'D', loyaltyStatus: 'GOLD' } }] } })).status, 201);
    await slowPath();
    await sendBatch([checkout('D', 'd-1')]);
    await streaming.fastPath.idle();
    const fromRings = streaming.stats().fromRings;
    // The apply and the graph: D's change is events only, and the slow path decides D from its ring.
    await slowPath();
    assert.ok(streaming.stats().fromRings > fromRings, 'the round decided D from memory');
    assert.deepEqual(await memberIds(id), []);
    // A second checkout arrives by batch (never acknowledged by the stream): the round reads it from its snapshot.
    const events = (await t.call('GET', '/datasets')).body.datasets.find((d: { name: string }) => d.name === 'shop events').id as string;
    const batch = { _id: 'd-2', timestamp: new Date().toISOString(), eventType: 'commerce.checkouts', identityMap: { CRMID: [{ id: 'D' }] } };
    assert.equal((await t.call('POST', `/datasets/${events}/records`, { body: { records: [batch] } })).status, 201);
    const decided = streaming.stats().fromRings;
    await t.platform.identity.sync('prod');
    await streaming.idle();
    assert.ok(streaming.stats().fromRings > decided, 'decided from memory again');
    assert.deepEqual(await memberIds(id), ['D'], 'the batch checkout counts');
    assert.equal(changes.find((c) => c.segmentId === id && c.status === 'realized')?.path, 'slow');
  });

  it('gathers the decisions of the groups decided while a write waits into the next write', async () => {
    const streaming = t.platform.audiences.streaming;
    await streaming.fastPath.idle();
    const before = streaming.fastPath.stats();
    let release!: () => void;
    // Another writer holds the membership lock (a slow commit, a slow-path round).
    const held = streaming.lock.run('prod', () => new Promise<void>((resolve) => (release = resolve)));
    for (const [i, crm] of ['P10', 'P11', 'P12'].entries()) {
      await sendBatch([checkout(crm, `gather-${crm}`)]);
      await waitFor(`group ${i + 1}`, () => streaming.fastPath.stats().groups >= before.groups + i + 1);
      await new Promise((r) => setTimeout(r, 20));
    }
    release();
    await held;
    await streaming.fastPath.idle();
    const after = streaming.fastPath.stats();
    assert.ok(after.groups - before.groups >= 3, `${after.groups - before.groups} groups`);
    // One write for the three groups (a second one at most, for decisions that waited for a history read).
    assert.ok(after.writes - before.writes <= 2, `${after.writes - before.writes} writes for ${after.groups - before.groups} groups`);
    assert.ok(after.writes > before.writes);
  });

  it('brings the segmentMembership maps of the profiles it changed up to date, a slice of profiles per transaction', async () => {
    const fast = t.platform.audiences.streaming.fastPath;
    const saved = { delay: fast.mapsDelayMs, slice: fast.mapsSlice };
    // A timer far off: `idle` starts the armed refresh instead of waiting for it.
    fast.mapsDelayMs = 60_000;
    fast.mapsSlice = 2;
    try {
      const id = await segment('Added to cart today', 'CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.productListAdds", false)) WHEN(<= 24 hours before now)])');
      await fast.idle();
      const crms = ['P20', 'P21', 'P22', 'P23', 'P24'];
      const add = (crm: string) => {
        const message = checkout(crm, `maps-${crm}`);
        return { ...message, body: { xdmEntity: { ...message.body.xdmEntity, eventType: 'commerce.productListAdds' } } };
      };
      await sendBatch(crms.map(add));
      await fast.idle();
      assert.equal(changes.filter((c) => c.segmentId === id && c.status === 'realized' && c.path === 'fast').length, crms.length);
      const mapOf = async (crm: string) =>
        ((await t.call('GET', `/profiles?namespace=CRMID&id=${crm}`)).body as { segmentMembership: Record<string, Record<string, { status: string }>> | null }).segmentMembership?.ups?.[id]?.status;
      assert.deepEqual(await Promise.all(crms.map(mapOf)), crms.map(() => 'realized'));
    } finally {
      fast.mapsDelayMs = saved.delay;
      fast.mapsSlice = saved.slice;
    }
  });

  it('reads a profile’s attributes again when the profile store rewrites its row: a tier change lets a streamed checkout qualify', async () => {
    const id = await segment('Gold checkout today', `_roundtrip.loyaltyStatus = "GOLD" and ${CHECKOUT_24H}`);
    const fast = t.platform.audiences.streaming.fastPath;
    assert.equal((await t.call('POST', `/datasets/${members}/records`, { body: { records: [{ _id: 'm-Q1', _roundtrip: { crmId: 'Q1', loyaltyStatus: 'SILVER' } }] } })).status, 201);
    await t.platform.identity.sync('prod');
    await t.platform.audiences.streaming.idle();
    // A page view: the fast path reads (and keeps) Q1's attributes, SILVER.
    await sendBatch([event('q1-1', 'web.webpagedetails.pageViews', { CRMID: [{ id: 'Q1' }] })]);
    await fast.idle();
    // Q1 turns GOLD (a batch of the members dataset → graph → profile table): the store names Q1's row as rewritten.
    assert.equal((await t.call('POST', `/datasets/${members}/records`, { body: { records: [{ _id: 'm-Q1-gold', _roundtrip: { crmId: 'Q1', loyaltyStatus: 'GOLD' } }] } })).status, 201);
    await t.platform.identity.sync('prod');
    await t.platform.audiences.streaming.idle();
    assert.deepEqual(await memberIds(id), [], 'no checkout yet');
    // A checkout now qualifies Q1 at acknowledgement, with the GOLD tier (a stale SILVER row would not).
    await sendBatch([checkout('Q1', 'q1-2')]);
    await fast.idle();
    const entry = changes.find((c) => c.segmentId === id && c.status === 'realized');
    assert.equal(entry?.path, 'fast', JSON.stringify(entry));
    assert.ok(pendingEntries() > 0, 'decided before the dataset apply');
    assert.deepEqual(await memberIds(id), ['Q1']);
  });
});
