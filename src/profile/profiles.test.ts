import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { emptyChange, FULL_REFRESH_THRESHOLD, mergeChanges, type GraphChange } from '../identity/graph-build.ts';
import { createTestPlatform, type Json, type TestPlatform } from '../testing/platform.ts';
import { crmRecord, event, link, profile, setupDatasets, stable, write, type Kit } from './test-kit.ts';

describe('profiles', () => {
  let t: TestPlatform;
  let kit: Kit;
  before(async () => {
    t = await createTestPlatform();
    kit = await setupDatasets(t);
  });
  after(() => t.dispose());

  it('merges two profiles when a link arrives, and an unmerge restores both exactly, through a rebuild too', async () => {
    await write(t, kit.web, [{ personalEmail: { address: 'ann@example.com' }, person: { name: { firstName: 'Ann' } }, identityMap: { ECID: [{ id: 'ann-phone' }] } }]);
    await write(t, kit.crm, [crmRecord('BEN-1', 'ben@example.com', { person: { name: { firstName: 'Ben', lastName: 'Bo' } }, _roundtrip: { crmId: 'BEN-1', tier: 'GOLD' } })]);
    await write(t, kit.events, [
      event('ann-ev', '2026-02-01T10:00:00Z', { ECID: ['ann-phone'] }),
      event('ben-ev', '2026-02-02T10:00:00Z', { CRMID: ['BEN-1'] }),
    ]);
    const ann = stable(await profile(t, 'Email', 'ann@example.com'));
    const ben = stable(await profile(t, 'CRMID', 'BEN-1'));
    assert.notEqual(ann.profileId, ben.profileId);

    // A login on Ann's phone with Ben's CRM id: one person after all (or so the data says).
    await write(t, kit.links, [link({ ECID: ['ann-phone'], CRMID: ['BEN-1'] })]);
    const merged = await profile(t, 'Email', 'ann@example.com');
    assert.equal(merged.profileId, Math.min(ann.profileId, ben.profileId), 'the older profile id survives');
    assert.deepEqual(merged, { ...(await profile(t, 'CRMID', 'BEN-1')), refreshedAt: merged.refreshedAt });
    assert.deepEqual(merged.events.events.map((e) => e.record._id), ['ben-ev', 'ann-ev'], "both people's history belongs to the merged profile");
    assert.equal((merged.attributes._roundtrip as { tier: string }).tier, 'GOLD');

    const unlinked = await t.call('POST', '/identity/unlink', { body: { a: { namespace: 'ECID', id: 'ann-phone' }, b: { namespace: 'CRMID', id: 'BEN-1' } } });
    assert.equal(unlinked.status, 201, JSON.stringify(unlinked.body));
    assert.deepEqual(stable(await profile(t, 'Email', 'ann@example.com')), ann);
    assert.deepEqual(stable(await profile(t, 'CRMID', 'BEN-1')), ben);
    const audit = (await t.call('GET', '/audit?resourceType=identity-link')).body.entries;
    assert.equal(audit[0].action, 'identity.unlink');
    assert.ok(!JSON.stringify(audit).includes('ann-phone'), 'the audit log holds no identity value');

    await t.call('POST', '/identity/rebuild');
    assert.deepEqual(stable(await profile(t, 'Email', 'ann@example.com')), ann, 'a removed link stays removed when the graph is rebuilt');
    const refused = (await t.call('GET', '/identity/graph?namespace=CRMID&id=BEN-1')).body.refused;
    assert.deepEqual(refused.map((r: Json) => r.reason as string), ['separated']);

    const relinked = await t.call('DELETE', `/identity/unlinks/${unlinked.body.unlinkId}`);
    assert.equal(relinked.status, 200, JSON.stringify(relinked.body));
    assert.equal((await profile(t, 'CRMID', 'BEN-1')).profileId, merged.profileId);
  });

  it('lists a change of more profiles than row updates suit (large): the table is rebuilt, but only those profiles are named', async () => {
    const changes: { full: boolean; large?: boolean; graphs: number }[] = [];
    const rows: (number | 'all')[] = [];
    t.platform.identity.onChange((_context, change) => {
      changes.push({ full: change.full, large: change.large, graphs: change.graphs.size });
      return Promise.resolve();
    });
    t.platform.profileStore.onRowsChanged((_sandbox, _policy, ids) => void rows.push(ids === 'all' ? 'all' : ids.size));
    const many = FULL_REFRESH_THRESHOLD + 500;
    const records = Array.from({ length: many }, (_, i) => crmRecord(`BULK-${i}`, `bulk-${i}@example.com`));
    for (let i = 0; i < many; i += 10_000) await write(t, kit.crm, records.slice(i, i + 10_000));
    await t.platform.identity.sync('prod');
    await t.platform.profileStore.ensureCurrent('prod');
    const big = changes.find((c) => c.graphs >= many);
    assert.ok(big, JSON.stringify(changes));
    assert.deepEqual([big.full, big.large], [false, true]);
    assert.ok(rows.includes(big.graphs), `rows changed: ${JSON.stringify(rows)}`);
    assert.ok(!rows.includes('all'), 'the profiles outside the change keep their cached rows');
    assert.equal((await profile(t, 'CRMID', `BULK-${many - 1}`)).attributes.personalEmail !== undefined, true);
  });

  it('leaves the row of a profile that only got events on known identities; a new identity or a first profile record writes it', async () => {
    await write(t, kit.crm, [crmRecord('EO-1', 'eo1@example.com')]);
    await write(t, kit.links, [link({ ECID: ['eo-lonely'], CRMID: ['EO-LONELY'] })]);
    await t.platform.identity.sync('prod');
    const before = await profile(t, 'CRMID', 'EO-1');
    const changes: GraphChange[] = [];
    const rows: number[][] = [];
    t.platform.identity.onChange((_context, change) => {
      changes.push(change);
      return Promise.resolve();
    });
    t.platform.profileStore.onRowsChanged((_sandbox, _policy, ids) => void rows.push(ids === 'all' ? [-1] : [...ids]));
    const applied = async (records: Record<string, unknown>[]) => {
      changes.length = 0;
      rows.length = 0;
      await write(t, kit.events, records);
      await t.platform.identity.sync('prod');
      return { eventsOnly: changes.flatMap((c) => [...(c.eventsOnly?.graphs ?? [])]), rows: rows.flat() };
    };

    const known = await applied([event('eo-1', '2026-03-01T10:00:00Z', { CRMID: ['EO-1'] })]);
    assert.deepEqual(known, { eventsOnly: [before.profileId], rows: [] }, 'the row is left as it is');
    const after = await profile(t, 'CRMID', 'EO-1');
    assert.equal(after.refreshedAt, before.refreshedAt);
    assert.deepEqual(after.events.events.map((e) => e.record._id), ['eo-1'], 'the event is in the profile all the same');

    const device = await applied([event('eo-2', '2026-03-01T11:00:00Z', { CRMID: ['EO-1'], ECID: ['eo-new-device'] })]);
    assert.deepEqual(device.eventsOnly, []);
    assert.ok(device.rows.includes(before.profileId), 'a new identity changes the row');
    assert.ok((await profile(t, 'ECID', 'eo-new-device')).identities.some((i) => i.id === 'eo-new-device'));

    // Known identities without a profile row (an identity-only dataset linked them): the first event makes the row.
    const lonely = await applied([event('eo-3', '2026-03-01T12:00:00Z', { ECID: ['eo-lonely'] })]);
    assert.equal(lonely.eventsOnly.length, 1);
    assert.deepEqual(lonely.rows, lonely.eventsOnly);
    assert.equal((await profile(t, 'CRMID', 'EO-LONELY')).profileId, lonely.eventsOnly[0]);
  });

  it('merges changes: a profile stays events-only only if no change touched it otherwise', () => {
    const change = (graphs: number[], eventsOnly: number[], snap: number): GraphChange => ({
      graphs: new Set(graphs),
      nodes: new Set(),
      full: false,
      eventsOnly: { graphs: new Set(eventsOnly), nodes: new Set(), units: [{ ds: 'events', snap }] },
    });
    const merged = mergeChanges(change([1, 2, 4], [1, 2], 7), change([2, 3, 5], [3, 5], 8));
    assert.deepEqual([...merged.graphs].sort(), [1, 2, 3, 4, 5]);
    assert.deepEqual([...merged.eventsOnly!.graphs].sort(), [1, 3, 5]);
    assert.deepEqual(merged.eventsOnly!.units, [{ ds: 'events', snap: 7 }, { ds: 'events', snap: 8 }], 'the snapshots of both');
    assert.equal(mergeChanges(change([1], [1], 7), { ...emptyChange(), graphs: new Set([1]) }).eventsOnly, undefined, 'a change without the list changed its profiles in any way');
    assert.equal(mergeChanges(change([1], [1], 7), { ...emptyChange(), full: true }).eventsOnly, undefined);
  });

  it('merges conflicting fragments by timestamp order or by dataset precedence, per field', async () => {
    await write(t, kit.crm, [crmRecord('PAT-1', 'pat@example.com', { person: { name: { firstName: 'Patricia' } }, _roundtrip: { crmId: 'PAT-1', tier: 'SILVER' } })]);
    await write(t, kit.web, [{ personalEmail: { address: 'pat@example.com' }, person: { name: { firstName: 'Pat', lastName: 'Galton' } } }]);
    const latest = await profile(t, 'Email', 'pat@example.com');
    assert.deepEqual(latest.attributes.person, { name: { firstName: 'Pat', lastName: 'Galton', fullName: null }, birthDate: null, gender: null });
    assert.equal((latest.attributes._roundtrip as { tier: string }).tier, 'SILVER', 'a field the newer fragment lacks keeps the older value');

    const crmFirst = await t.call('POST', '/merge-policies', { body: { name: 'CRM first', method: 'dataset-precedence', datasetOrder: ['crm', 'web'] } });
    assert.equal(crmFirst.status, 201, JSON.stringify(crmFirst.body));
    const precedence = await profile(t, 'Email', 'pat@example.com', `&mergePolicyId=${crmFirst.body.id}`);
    assert.deepEqual((precedence.attributes.person as Json).name, { firstName: 'Patricia', lastName: 'Galton', fullName: null });

    const unstitched = await t.call('POST', '/merge-policies', { body: { name: 'No stitching', idStitching: 'none' } });
    const own = await profile(t, 'Email', 'pat@example.com', `&mergePolicyId=${unstitched.body.id}`);
    assert.deepEqual(own.identities, [{ namespace: 'Email', id: 'pat@example.com' }]);
    assert.equal(own.attributes._roundtrip, null, 'without stitching, the CRM fragment (anchored on its CRMID) is another profile');

    const sql = await (await t.platform.warehouse.sandbox('prod')).query(`SELECT person.name.firstName AS first FROM ${crmFirst.body.snapshotTable} WHERE profile_id = ${precedence.profileId}`);
    assert.deepEqual(sql.rows, [{ first: 'Patricia' }], 'the snapshot table is plain SQL');
    const snapshots = (await t.call('GET', '/profiles/snapshots')).body.snapshots;
    assert.equal(snapshots.length, 3);

    const more = [];
    for (const name of ['p4', 'p5', 'p6']) more.push((await t.call('POST', '/merge-policies', { body: { name } })).body);
    assert.equal(more[2].error.code, 'RT_MERGE_POLICY_LIMIT');
    const defaults = (await t.call('GET', '/merge-policies')).body.mergePolicies.filter((p: Json) => p.isDefault === true);
    assert.equal(defaults.length, 1);
    assert.equal((await t.call('DELETE', `/merge-policies/${defaults[0].id}`)).body.error.code, 'RT_MERGE_POLICY_DEFAULT');
    assert.equal((await t.call('PATCH', `/merge-policies/${crmFirst.body.id}`, { body: { isDefault: true } })).body.isDefault, true);
    assert.equal((await t.call('DELETE', `/merge-policies/${defaults[0].id}`)).status, 204);
    assert.equal((await t.call('POST', '/merge-policies', { body: { name: 'bad', method: 'dataset-precedence', datasetOrder: ['links'] } })).body.error.code, 'RT_MERGE_POLICY_INVALID');
    for (const p of [...more.slice(0, 2), unstitched.body]) await t.call('DELETE', `/merge-policies/${p.id}`);
  });

  it('attributes events recorded before a link to the profile afterwards, newest first and paged', async () => {
    await write(t, kit.events, [1, 2, 3].map((d) => event(`late-${d}`, `2026-03-0${d}T00:00:00Z`, { ECID: ['late-device'] })));
    const anonymous = await profile(t, 'ECID', 'late-device', '&events=0');
    assert.equal(anonymous.attributes._roundtrip, null);
    await write(t, kit.crm, [crmRecord('LATE-1', 'late@example.com', { identityMap: { ECID: [{ id: 'late-device' }] } })]);
    const known = await profile(t, 'CRMID', 'LATE-1', '&events=2');
    assert.deepEqual(known.events.events.map((e) => e.record._id), ['late-3', 'late-2']);
    const rest = (await t.call('GET', `/profiles/events?namespace=Email&id=late@example.com&limit=2&before=${known.events.next}`)).body;
    assert.deepEqual([rest.events.map((e: Json) => e.record._id as string), rest.next], [['late-1'], null]);
    assert.equal(rest.profileId, known.profileId);
  });

  it('shows a streamed record in the profile within a second of its acknowledgement', async () => {
    const connection = await t.call('POST', '/streaming/connections', { body: { name: 'web', dataset: 'events', profileDataset: 'crm' } });
    assert.equal(connection.status, 201, JSON.stringify(connection.body));
    const { connection: c, secret } = connection.body;
    const ack = await t.app.inject({
      method: 'POST',
      url: `/collection/${c.id}`,
      headers: { authorization: `Bearer ${secret}` },
      payload: { header: {}, body: { xdmEntity: event('streamed-1', '2026-04-01T00:00:00Z', { CRMID: ['PAT-1'] }) } },
    });
    assert.equal(ack.statusCode, 200, ack.body);
    const acknowledged = Date.now();
    const seen = await profile(t, 'CRMID', 'PAT-1', '&events=1');
    const elapsed = Date.now() - acknowledged;
    assert.equal(seen.events.events[0]?.record._id, 'streamed-1', JSON.stringify(seen.events));
    assert.ok(elapsed < 1000, `visible after ${elapsed} ms`);
  });
});
