import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { crmRecord, event, graphs, link, LINKS_SCHEMA, profile, setupDatasets, write, type Kit } from '../profile/test-kit.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { NODES, rekeyIfEngineChanged, STATE } from './store.ts';

describe('identity graph', () => {
  let t: TestPlatform;
  let kit: Kit;
  before(async () => {
    t = await createTestPlatform();
    kit = await setupDatasets(t);
  });
  after(() => t.dispose());

  it('links identities seen in one record across namespaces, normalising values per namespace', async () => {
    await write(t, kit.crm, [crmRecord('C-100', '  Pat.Galton@Example.COM ', { mobilePhone: { number: '+1 (415) 555-0100' } })]);
    await write(t, kit.events, [event('ev-1', '2026-01-02T10:00:00Z', { ECID: ['ecid-100'], email: ['pat.galton@example.com'] })]);
    const view = (await t.call('GET', '/identity/graph?namespace=phone&id=%2B14155550100')).body;
    assert.deepEqual(
      view.identities.map((i: { namespace: string; id: string }) => `${i.namespace}:${i.id}`).sort(),
      ['CRMID:C-100', 'ECID:ecid-100', 'Email:pat.galton@example.com', 'Phone:+14155550100'],
    );
    assert.equal(view.links.length, 3);
    const byEcid = await profile(t, 'ECID', 'ecid-100');
    const byCrm = await profile(t, 'CRMID', 'C-100');
    assert.equal(byEcid.profileId, byCrm.profileId);
    assert.deepEqual((byEcid.attributes._roundtrip as { crmId: string }).crmId, 'C-100');
    assert.equal(byEcid.events.events.length, 1);
    assert.equal((await t.call('GET', '/identity/graph?namespace=Email&id=nobody@example.com')).body.error.code, 'RT_IDENTITY_NOT_FOUND');
  });

  it('forgets a deleted dataset: its identities and links leave the graph', async () => {
    const schemaId = (await t.call('POST', '/schemas', { body: { ...LINKS_SCHEMA, title: 'Extra links' } })).body.id;
    await t.call('POST', '/datasets', { body: { name: 'extra', schemaId, identityEnabled: true } });
    await write(t, 'extra', [link({ ECID: ['extra-device'], CRMID: ['C-100'] })]);
    const ids = async () => (await t.call('GET', '/identity/graph?namespace=CRMID&id=C-100')).body.identities.map((i: { id: string }) => i.id);
    assert.ok((await ids()).includes('extra-device'));
    assert.equal((await t.call('DELETE', '/datasets/extra')).status, 204);
    assert.ok(!(await ids()).includes('extra-device'));
    assert.equal((await t.call('GET', '/identity/graph?namespace=ECID&id=extra-device')).status, 404);
  });

  it('recomputes lookup keys when the database engine changes (its hash function may)', async () => {
    const warehouse = await t.platform.warehouse.sandbox('prod');
    await warehouse.query(`UPDATE ${STATE} SET engine = 'v0.0.0'; UPDATE ${NODES} SET key = 0 WHERE ns = 'ECID'`);
    assert.equal((await t.call('GET', '/identity/graph?namespace=ECID&id=ecid-100')).status, 404, 'stale keys miss');
    assert.equal(await rekeyIfEngineChanged(warehouse), true);
    assert.equal((await t.call('GET', '/identity/graph?namespace=ECID&id=ecid-100')).status, 200);
  });

  it('does not let a shared device or a test email fuse thousands of people into one profile', async () => {
    // 2000 customers, each with their own CRM id, all signed up on one shop tablet with the shop's test address.
    const people = Array.from({ length: 2000 }, (_, i) =>
      crmRecord(`SHOP-${i}`, `person${i}@example.net`, { identityMap: { ECID: [{ id: 'shop-tablet' }], Email: [{ id: 'test@example.com' }] } }),
    );
    await write(t, kit.crm, people);
    // 300 anonymous devices that each once used the test address: no CRM id to stop them, the size cap does.
    await write(t, kit.events, Array.from({ length: 300 }, (_, i) => event(`anon-${i}`, '2026-01-03T00:00:00Z', { ECID: [`anon-device-${i}`], Email: ['test@example.com'] })));
    const all = await graphs(t);
    const largest = Math.max(...all.map((g) => g.length));
    assert.ok(largest <= 50, `largest graph has ${largest} identities`);
    const shop = all.filter((g) => g.some((id) => id.startsWith('CRMID:SHOP-')));
    assert.equal(shop.length, 2000, 'every CRM customer keeps a profile of their own');
    assert.ok(shop.every((g) => g.filter((id) => id.startsWith('CRMID:')).length === 1), 'at most one CRMID per graph');
    const stats = (await t.call('GET', '/identity/stats')).body;
    assert.ok(stats.refusedLinks['unique-namespace'] >= 2 * 1999, JSON.stringify(stats.refusedLinks));
    assert.ok(stats.refusedLinks['graph-size'] > 0, JSON.stringify(stats.refusedLinks));
    const refusals = (await t.call('GET', '/identity/refusals?limit=5')).body.refusals;
    assert.equal(refusals.length, 5);
    assert.ok(refusals.every((r: { reason: string }) => ['unique-namespace', 'graph-size'].includes(r.reason)));
    const person = await profile(t, 'CRMID', 'SHOP-1999');
    assert.deepEqual(person.identities.map((i) => i.namespace).sort(), ['CRMID', 'Email']);
  });

  it('builds the same graphs incrementally, snapshot by snapshot, as a rebuild from the datasets in bulk', async () => {
    const settings = await t.call('PUT', '/identity/settings', { body: { maxIdentities: 4 } });
    assert.equal(settings.status, 200, JSON.stringify(settings.body));
    const steps = [
      () => write(t, kit.links, [link({ ECID: ['inc-1', 'inc-2'] }), link({ ECID: ['inc-3'], CRMID: ['INC-A'] })]),
      () => write(t, kit.web, [{ personalEmail: { address: 'inc@example.com' }, identityMap: { ECID: [{ id: 'inc-2' }, { id: 'inc-3' }] } }]),
      () => write(t, kit.crm, [crmRecord('INC-B', 'inc@example.com'), crmRecord('INC-C', 'other@example.com', { identityMap: { ECID: [{ id: 'inc-4' }, { id: 'inc-5' }] } })]),
      () => write(t, kit.events, [event('inc-ev', '2026-01-04T00:00:00Z', { ECID: ['inc-5', 'inc-1', 'inc-6'] })]),
    ];
    for (const step of steps) {
      await step();
      await t.platform.identity.sync('prod');
    }
    const incremental = await graphs(t);
    const refusedBefore = (await t.call('GET', '/identity/stats')).body.refusedLinks;
    const [{ table }] = (await t.call('GET', '/profiles/snapshots')).body.snapshots;
    const profilesNow = async () => (await (await t.platform.warehouse.sandbox('prod')).query(`SELECT * EXCLUDE (_rt_refreshed_at) FROM ${table} ORDER BY profile_id`)).rows;
    await t.platform.identity.sync('prod');
    const profilesBefore = await profilesNow();
    const rebuilt = await t.call('POST', '/identity/rebuild');
    assert.equal(rebuilt.status, 200, JSON.stringify(rebuilt.body));
    assert.deepEqual(await graphs(t), incremental);
    assert.deepEqual(rebuilt.body.refusedLinks, refusedBefore);
    assert.deepEqual(await profilesNow(), profilesBefore, 'the profile table kept up incrementally equals the one rebuilt in bulk');
    assert.ok(incremental.every((g) => g.length <= 4));
    await t.call('PUT', '/identity/settings', { body: { maxIdentities: 50 } });
  });
});
