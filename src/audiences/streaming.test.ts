import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { MEMBERSHIP_HISTORY_TABLE } from './membership-tables.ts';

const MEMBER_SCHEMA = {
  title: 'Members',
  class: 'profile',
  fieldGroups: ['person-details', 'personal-contact-details', 'identity-map'],
  fields: { crmId: { type: 'string' }, loyaltyStatus: { type: 'string' } },
  identities: [{ path: '_roundtrip.crmId', namespace: 'CRMID', primary: true }],
};
const EVENT_SCHEMA = { title: 'Shop events', class: 'experienceevent', fieldGroups: ['commerce-details', 'identity-map'] };

const CHECKOUT_TODAY = 'CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(<= 24 hours before now)])';

describe('streaming audiences', () => {
  let t: TestPlatform;
  let connection: { id: string; secret: string };
  const applyInterval = process.env.ROUNDTRIP_STREAM_APPLY_INTERVAL_MS;

  before(async () => {
    // Apply streamed records every 20 ms (default 1 s), as a latency-sensitive deployment would.
    process.env.ROUNDTRIP_STREAM_APPLY_INTERVAL_MS = '20';
    t = await createTestPlatform();
    const schema = async (body: unknown) => (await t.call('POST', '/schemas', { body })).body.id as string;
    assert.equal((await t.call('POST', '/datasets', { body: { name: 'members', schemaId: await schema(MEMBER_SCHEMA), profileEnabled: true } })).status, 201);
    assert.equal((await t.call('POST', '/datasets', { body: { name: 'shop events', schemaId: await schema(EVENT_SCHEMA), profileEnabled: true } })).status, 201);
    const records = ['A', 'B', 'C'].map((id, i) => ({ _id: `m-${id}`, _roundtrip: { crmId: id, loyaltyStatus: i === 2 ? 'SILVER' : 'GOLD' } }));
    const members = (await t.call('GET', '/datasets')).body.datasets.find((d: { name: string }) => d.name === 'members').id as string;
    assert.equal((await t.call('POST', `/datasets/${members}/records`, { body: { records } })).status, 201);
    const created = await t.call('POST', '/streaming/connections', { body: { name: 'shop', dataset: 'shop events', profileDataset: 'members' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    connection = { id: created.body.connection.id, secret: created.body.secret };
  });
  after(async () => {
    if (applyInterval === undefined) delete process.env.ROUNDTRIP_STREAM_APPLY_INTERVAL_MS;
    else process.env.ROUNDTRIP_STREAM_APPLY_INTERVAL_MS = applyInterval;
    await t.dispose();
  });

  const send = async (entity: unknown, datasetId?: string) => {
    const res = await t.app.inject({ method: 'POST', url: `/collection/${connection.id}`, payload: { header: datasetId ? { datasetId } : {}, body: { xdmEntity: entity } }, headers: { authorization: `Bearer ${connection.secret}` } });
    assert.equal(res.statusCode, 200, res.body);
    return Date.now();
  };

  /** Resolves with the time the streaming evaluator changed the profile's membership of the segment. */
  const changed = (segmentId: string, status: 'realized' | 'exited', timeoutMs = 15_000) =>
    new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${status} change of ${segmentId} within ${timeoutMs} ms`)), timeoutMs);
      t.platform.audiences.streaming.onChange((c) => {
        if (c.segmentId === segmentId && c.status === status) {
          clearTimeout(timer);
          resolve(c.at);
        }
      });
    });

  it('qualifies a profile on a streamed event, measures the latency, and shows it on the profile', async () => {
    const segment = await t.call('POST', '/segment/definitions', {
      body: { name: 'Checked out today', expression: { type: 'PQL', format: 'pql/text', value: CHECKOUT_TODAY }, evaluationInfo: { batch: { enabled: true }, continuous: { enabled: true } } },
    });
    assert.equal(segment.status, 201, JSON.stringify(segment.body));
    const id = segment.body.id as string;
    const qualified = changed(id, 'realized');
    const acknowledged = await send({ _id: 'ev-1', timestamp: new Date().toISOString(), eventType: 'commerce.checkouts', identityMap: { CRMID: [{ id: 'B' }] } });
    const at = await qualified;
    const latency = at - acknowledged;
    assert.ok(latency < 5_000, `acknowledgement → membership took ${latency} ms`);
    const members = (await t.call('GET', `/segment/definitions/${id}/members`)).body.members;
    assert.deepEqual(members.map((m: { identities: { id: string }[] }) => m.identities[0]!.id), ['B']);
    const profile = await t.call('GET', '/profiles?namespace=CRMID&id=B');
    assert.equal(profile.body.segmentMembership.ups[id].status, 'realized');
    const stats = (await t.call('GET', '/segment/streaming/stats')).body;
    assert.ok(stats.latencyMs.samples >= 1 && stats.latencyMs.max <= latency + 50, JSON.stringify(stats));
    assert.ok(stats.evaluations >= 1 && stats.changes >= 1);

    // The batch job agrees with what streaming decided.
    const job = await t.call('POST', '/segment/jobs', { body: [{ segmentId: id }] });
    const done = await t.platform.audiences.jobs.wait('prod', job.body.id);
    assert.equal(done.metrics!.segmentedProfileCounter[id], 1);
  });

  it('exits a profile-only streaming audience as soon as a streamed profile update breaks it', async () => {
    const segment = await t.call('POST', '/segment/definitions', {
      body: { name: 'Gold', expression: { type: 'PQL', format: 'pql/text', value: '_roundtrip.loyaltyStatus = "GOLD"' }, evaluationInfo: { continuous: { enabled: true } } },
    });
    assert.equal(segment.status, 201, JSON.stringify(segment.body));
    const id = segment.body.id as string;
    const job = await t.call('POST', '/segment/jobs', { body: [{ segmentId: id }] });
    assert.equal((await t.platform.audiences.jobs.wait('prod', job.body.id)).metrics!.segmentedProfileCounter[id], 2);
    const members = (await t.call('GET', '/datasets')).body.datasets.find((d: { name: string }) => d.name === 'members').id as string;
    const exited = changed(id, 'exited');
    await send({ _id: 'm-A-2', _roundtrip: { crmId: 'A', loyaltyStatus: 'SILVER' } }, members);
    await exited;
    const left = (await t.call('GET', `/segment/definitions/${id}/members?status=exited`)).body.members;
    assert.deepEqual(left.map((m: { identities: { id: string }[] }) => m.identities[0]!.id), ['A']);
  });

  it('evaluates a round too large for one-by-one evaluation with the compiled SQL, a dependency layer at a time, writing only differences', async () => {
    const streaming = t.platform.audiences.streaming;
    const create = async (name: string, value: string) => {
      const res = await t.call('POST', '/segment/definitions', { body: { name, expression: { type: 'PQL', format: 'pql/text', value }, evaluationInfo: { continuous: { enabled: true } } } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    };
    const gold = await create('Gold (SQL rounds)', '_roundtrip.loyaltyStatus = "GOLD"');
    const goldD = await create('Gold and called D', `inSegment("${gold}") and _roundtrip.crmId = "D"`);
    const job = await t.call('POST', '/segment/jobs', { body: [{ segmentId: gold }, { segmentId: goldD }] });
    assert.equal((await t.platform.audiences.jobs.wait('prod', job.body.id)).status, 'SUCCEEDED');
    const before = await t.call('GET', `/segment/definitions/${gold}/members`);
    assert.ok(before.body.members.some((m: { identities: { id: string }[] }) => m.identities[0]!.id === 'B'), 'B is gold before');
    const saved = streaming.maxInProcess;
    streaming.maxInProcess = 0;
    try {
      const members = (await t.call('GET', '/datasets')).body.datasets.find((d: { name: string }) => d.name === 'members').id as string;
      const records = [{ _id: 'm-D', _roundtrip: { crmId: 'D', loyaltyStatus: 'GOLD' } }, { _id: 'm-E', _roundtrip: { crmId: 'E', loyaltyStatus: 'SILVER' } }, { _id: 'm-B-2', _roundtrip: { crmId: 'B', loyaltyStatus: 'SILVER' } }];
      const rounds = streaming.stats().rounds;
      assert.equal((await t.call('POST', `/datasets/${members}/records`, { body: { records } })).status, 201);
      await t.platform.identity.sync('prod');
      await streaming.idle();
      assert.ok(streaming.stats().rounds > rounds, 'a round ran');
    } finally {
      streaming.maxInProcess = saved;
    }
    const ids = async (segment: string, status = 'realized') => (await t.call('GET', `/segment/definitions/${segment}/members?status=${status}`)).body.members.map((m: { identities: { id: string }[] }) => m.identities[0]!.id).sort();
    assert.ok((await ids(gold)).includes('D'));
    assert.ok(!(await ids(gold)).includes('E'));
    assert.deepEqual(await ids(gold, 'exited'), ['B']);
    assert.deepEqual(await ids(goldD), ['D'], 'the dependent segment saw the layer before it');
    const warehouse = await t.platform.warehouse.sandbox('prod');
    const history = await warehouse.query(`SELECT segment_id = $g AS gold, status, count(*) AS n FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE segment_id IN ($g, $d) AND source = 'streaming' GROUP BY ALL ORDER BY ALL`, { g: gold, d: goldD });
    assert.deepEqual(history.rows, [{ gold: false, status: 'realized', n: 1 }, { gold: true, status: 'exited', n: 1 }, { gold: true, status: 'realized', n: 1 }], 'one transition each for D (twice) and B; nothing rewritten');
  });
});
