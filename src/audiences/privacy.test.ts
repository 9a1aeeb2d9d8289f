import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE } from './membership-tables.ts';

const MEMBER_SCHEMA = {
  title: 'Members',
  class: 'profile',
  fieldGroups: ['identity-map'],
  fields: { crmId: { type: 'string' }, loyaltyStatus: { type: 'string' } },
  identities: [{ path: '_roundtrip.crmId', namespace: 'CRMID', primary: true }],
};

describe('privacy delete of an audience member', () => {
  let t: TestPlatform;
  let segmentId: string;

  before(async () => {
    t = await createTestPlatform();
    const schemaId = (await t.call('POST', '/schemas', { body: MEMBER_SCHEMA })).body.id as string;
    const members = (await t.call('POST', '/datasets', { body: { name: 'members', schemaId, profileEnabled: true } })).body.id as string;
    const records = ['A', 'B', 'C'].map((id) => ({ _id: `m-${id}`, _roundtrip: { crmId: id, loyaltyStatus: 'GOLD' } }));
    assert.equal((await t.call('POST', `/datasets/${members}/records`, { body: { records } })).status, 201);
    await t.platform.identity.sync('prod');
    const created = await t.call('POST', '/segment/definitions', {
      body: { name: 'gold', expression: { type: 'PQL', format: 'pql/text', value: '_roundtrip.loyaltyStatus = "GOLD"' }, evaluationInfo: { batch: { enabled: true } } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    segmentId = created.body.id;
    const job = await t.call('POST', '/segment/jobs', { body: [{ segmentId }] });
    await t.platform.audiences.jobs.wait('prod', job.body.id);
  });
  after(() => t.dispose());

  const rows = async (table: string) => Number((await (await t.platform.warehouse.sandbox('prod')).query(`SELECT count(*) AS n FROM ${table} WHERE segment_id = $s`, { s: segmentId })).rows[0]!.n);

  it("removes the person's membership and history rows, and only theirs", async () => {
    assert.deepEqual([await rows(MEMBERSHIP_TABLE), await rows(MEMBERSHIP_HISTORY_TABLE)], [3, 3], 'three members before');
    const res = await t.call('POST', '/privacy/delete', { body: { namespace: 'CRMID', id: 'A' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, 'completed', res.body.error);
    assert.equal(res.body.removed.segmentMemberships, 2, JSON.stringify(res.body.removed));
    assert.deepEqual([await rows(MEMBERSHIP_TABLE), await rows(MEMBERSHIP_HISTORY_TABLE)], [2, 2]);
    const left = await t.call('GET', `/segment/definitions/${segmentId}/members`);
    assert.deepEqual(left.body.members.flatMap((m: { identities: { id: string }[] }) => m.identities.map((i) => i.id)).sort(), ['B', 'C']);
  });
});
