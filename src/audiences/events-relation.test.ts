import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { eventDatasets, eventsRelationSql, profileEvents } from './events-relation.ts';

const MEMBER_SCHEMA = {
  title: 'Members',
  class: 'profile',
  fieldGroups: ['identity-map'],
  fields: { crmId: { type: 'string' } },
  identities: [{ path: '_roundtrip.crmId', namespace: 'CRMID', primary: true }],
};
const EVENT_SCHEMA = { title: 'Shop events', class: 'experienceevent', fieldGroups: ['commerce-details', 'identity-map'] };

describe('events of profiles, read back from the warehouse', () => {
  let t: TestPlatform;
  // More events than one read takes (1,000 keys), across profiles and two snapshots, in shuffled time order.
  const perProfile: Record<string, number> = { A: 1_400, B: 900, C: 7 };

  before(async () => {
    t = await createTestPlatform();
    const schema = async (body: unknown) => (await t.call('POST', '/schemas', { body })).body.id as string;
    const dataset = async (name: string, schemaId: string) => (await t.call('POST', '/datasets', { body: { name, schemaId, profileEnabled: true } })).body.id as string;
    const members = await dataset('members', await schema(MEMBER_SCHEMA));
    const events = await dataset('shop events', await schema(EVENT_SCHEMA));
    const people = Object.keys(perProfile).map((id) => ({ _id: `m-${id}`, _roundtrip: { crmId: id } }));
    assert.equal((await t.call('POST', `/datasets/${members}/records`, { body: { records: people } })).status, 201);
    const all = Object.entries(perProfile).flatMap(([id, n]) =>
      Array.from({ length: n }, (_, i) => ({
        _id: `e-${id}-${i}`,
        timestamp: new Date(Date.UTC(2026, 0, 1) + ((i * 7919) % n) * 60_000).toISOString(),
        eventType: 'commerce.checkouts',
        commerce: { order: { priceTotal: i } },
        identityMap: { CRMID: [{ id, primary: true }] },
      })),
    );
    for (const half of [all.filter((_, i) => i % 2 === 0), all.filter((_, i) => i % 2 === 1)]) {
      const res = await t.call('POST', `/datasets/${events}/records`, { body: { records: half } });
      assert.equal(res.status, 201, JSON.stringify(res.body).slice(0, 300));
    }
  });
  after(() => t.dispose());
  before(() => t.platform.identity.sync('prod'));

  it('reads every event of each profile once, oldest first, whatever the number of reads', async () => {
    const warehouse = await t.platform.warehouse.sandbox('prod');
    const policy = await t.platform.mergePolicies.resolve('prod');
    const datasets = await eventDatasets(t.platform.metadata, t.platform.identity, 'prod');
    const expected = await warehouse.query(`SELECT profile_id, count(*) AS n, count(DISTINCT _id) AS ids FROM (${eventsRelationSql(policy, datasets)}) GROUP BY ALL`);
    assert.equal(expected.rows.length, 3);
    const read = await profileEvents(warehouse, policy, datasets, expected.rows.map((r) => Number(r.profile_id)), null);
    for (const row of expected.rows) {
      const events = read.get(Number(row.profile_id)) ?? [];
      assert.equal(events.length, Number(row.n));
      assert.equal(new Set(events.map((e) => e._id)).size, Number(row.ids), 'no event twice');
      const times = events.map((e) => Date.parse(e.timestamp as string));
      assert.deepEqual(times, [...times].sort((a, b) => a - b), 'oldest first');
    }
    assert.deepEqual([...read.values()].map((e) => e.length).sort((a, b) => a - b), Object.values(perProfile).sort((a, b) => a - b));
  });
});
