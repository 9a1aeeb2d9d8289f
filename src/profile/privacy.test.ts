import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestPlatform, type Json, type TestPlatform } from '../testing/platform.ts';
import { crmRecord, event, link, profile, setupDatasets, write, type Kit } from './test-kit.ts';

/** What must be gone: the person's identities (as ingested and normalised) and attribute values. */
const TRACES = ['CRM-ZQ-9813', 'zelda.quist@example.org', 'ecid-zq-7713', '4155550199', 'Zeldaquinn', 'Quistbottom', 'zq-order-55', 'zq-streamed-order'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** Which traces appear as bytes (case-insensitive, UTF-8) in any file of the data directory. */
function tracesOnDisk(dataDir: string): string[] {
  const found = new Set<string>();
  for (const file of filesUnder(dataDir)) {
    if (statSync(file).size === 0) continue;
    const text = readFileSync(file).toString('latin1').toLowerCase();
    for (const trace of TRACES) if (text.includes(trace.toLowerCase())) found.add(`${trace} in ${path.relative(dataDir, file)}`);
  }
  return [...found];
}

describe('privacy delete', () => {
  let t: TestPlatform;
  let kit: Kit;
  before(async () => {
    t = await createTestPlatform();
    kit = await setupDatasets(t);
  });
  after(() => t.dispose());

  it('erases a person from every table, keeps everyone else, and after compaction from the files', async () => {
    const zelda = crmRecord('CRM-ZQ-9813', 'Zelda.Quist@Example.org', {
      person: { name: { firstName: 'Zeldaquinn', lastName: 'Quistbottom' } },
      mobilePhone: { number: '+1 415 555 0199' },
    });
    await write(t, kit.crm, [zelda, crmRecord('CRM-OTHER-1', 'other@example.org', { person: { name: { firstName: 'Otto' } } })]);
    await write(t, kit.web, [{ personalEmail: { address: 'zelda.quist@example.org' }, identityMap: { ECID: [{ id: 'ecid-zq-7713' }] } }]);
    await write(t, kit.events, [
      event('zq-ev-1', '2026-05-01T00:00:00Z', { ECID: ['ecid-zq-7713'] }, { commerce: { order: { purchaseID: 'zq-order-55', priceTotal: 99 } } }),
      event('other-ev', '2026-05-02T00:00:00Z', { CRMID: ['CRM-OTHER-1'] }),
    ]);
    await write(t, kit.links, [link({ ECID: ['ecid-zq-7713'], Email: ['zelda.quist@example.org'] })]);
    // A dataset the graph does not index (neither profile- nor identity-enabled) still has an identity field.
    const archiveSchema = (await t.call('POST', '/schemas', { body: { title: 'Archive', class: 'profile', fieldGroups: ['personal-contact-details'], identities: [{ path: 'personalEmail.address', namespace: 'Email' }] } })).body.id;
    await t.call('POST', '/datasets', { body: { name: 'archive', schemaId: archiveSchema } });
    await write(t, 'archive', [{ personalEmail: { address: 'ZELDA.QUIST@example.org' }, homeAddress: { street1: 'Quistbottom Lane 1' } }]);
    await t.platform.failedRecords.add('prod', [
      { batchId: 'b-1', datasetId: kit.crm, source: 'batch', rowNumber: 7, raw: '{"personalEmail":{"address":"zelda.quist@example.org"},"points":"many"}', issues: [{ path: 'points', code: 'RT_FIELD_TYPE', message: 'must be an integer' }] },
    ]);
    // One event arrives by streaming, so it also sits in the sandbox's write-ahead log until applied and retired.
    const connection = (await t.call('POST', '/streaming/connections', { body: { name: 'web', dataset: kit.events } })).body;
    const streamed = await t.app.inject({
      method: 'POST',
      url: `/collection/${connection.connection.id}`,
      headers: { authorization: `Bearer ${connection.secret}` },
      payload: { header: {}, body: { xdmEntity: event('zq-ev-2', '2026-05-03T00:00:00Z', { ECID: ['ecid-zq-7713'] }, { commerce: { order: { purchaseID: 'zq-streamed-order', priceTotal: 5 } } }) } },
    });
    assert.ok(streamed.statusCode < 300, streamed.body);
    const before = await profile(t, 'Phone', '+14155550199');
    assert.equal(before.identities.length, 4);
    await (await t.platform.warehouse.sandbox('prod')).query('CHECKPOINT');
    assert.ok(tracesOnDisk(t.config.dataDir).length > 0, 'the check below can see values on disk at all');

    const res = await t.call('POST', '/privacy/delete', { body: { namespace: 'email', id: 'zelda.quist@EXAMPLE.org' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const job = res.body;
    assert.equal(job.status, 'completed', job.error);
    assert.deepEqual(job.removed.records, { [kit.crm]: 1, [kit.web]: 1, [kit.events]: 2, [kit.links]: 1, [(await t.call('GET', '/datasets/archive')).body.id]: 1 });
    assert.deepEqual([job.removed.identities, job.removed.failedRecords], [4, 1]);
    assert.ok(job.removed.profileRows >= 1);

    const warehouse = await t.platform.warehouse.sandbox('prod');
    // Every table of every schema (the accelerated store's aggregates live in schemas of their own).
    const tables = (await warehouse.query(`SELECT '"' || database_name || '"."' || schema_name || '"."' || table_name || '"' AS name FROM duckdb_tables() WHERE NOT internal`)).rows.map((r) => r.name as string);
    assert.ok(tables.length > 10, tables.join(', '));
    for (const table of tables) {
      for (const trace of TRACES) {
        const hits = await warehouse.query(`SELECT count(*) AS n FROM ${table} t WHERE contains(lower(CAST(to_json(t) AS VARCHAR)), lower($v))`, { v: trace });
        assert.equal(hits.rows[0]!.n, 0, `${trace} still in ${table}`);
      }
    }
    assert.equal((await t.call('GET', '/profiles?namespace=CRMID&id=CRM-ZQ-9813')).body.error.code, 'RT_IDENTITY_NOT_FOUND');
    const otto = await profile(t, 'CRMID', 'CRM-OTHER-1');
    assert.deepEqual([(otto.attributes.person as Json).name.firstName, otto.events.events.length], ['Otto', 1]);
    const audit = (await t.call('GET', '/audit?resourceType=privacy-job')).body.entries;
    assert.equal(audit[0].resourceId, job.id);
    assert.ok(!TRACES.some((trace) => JSON.stringify(audit).toLowerCase().includes(trace.toLowerCase())), 'the audit entry keeps no personal data');
    assert.equal((await t.call('GET', `/privacy/jobs/${job.id}`)).body.removed.identities, 4);

    const compacted = await t.call('POST', '/sandboxes/prod/compact');
    assert.equal(compacted.status, 200, JSON.stringify(compacted.body));
    assert.deepEqual(tracesOnDisk(t.config.dataDir), []);
    const indexes = await warehouse.query(`SELECT index_name FROM duckdb_indexes() WHERE index_name LIKE '_rt_identity%' ORDER BY 1`);
    assert.deepEqual(indexes.rows.map((r) => r.index_name), ['_rt_identity_nodes_key', '_rt_identity_records_node'], 'indexes survive compaction');

    await write(t, kit.crm, [zelda]);
    const again = await profile(t, 'CRMID', 'CRM-ZQ-9813');
    assert.notEqual(again.profileId, before.profileId, 'a record ingested later starts a new profile');
    assert.deepEqual(again.events.events, []);
  });
});
