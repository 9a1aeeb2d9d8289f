import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LOYALTY_RECORD, LOYALTY_SCHEMA } from '../testing/fixtures.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { createTestSchema, POSTGRES_SKIP, POSTGRES_URL } from '../testing/postgres.ts';

describe('the platform with PostgreSQL metadata (DATABASE_URL)', { skip: POSTGRES_SKIP }, () => {
  let t: TestPlatform;
  let drop: () => Promise<void>;
  before(async () => {
    const schema = await createTestSchema();
    drop = schema.drop;
    const url = new URL(POSTGRES_URL!);
    url.searchParams.set('options', `-c search_path=${schema.schema}`);
    t = await createTestPlatform({ databaseUrl: url.toString() });
  });
  after(async () => {
    await t.dispose();
    await drop();
  });

  it('runs the same API on PostgreSQL: keys, schemas, datasets and snapshots', async () => {
    assert.equal(t.platform.metadata.dialect, 'postgres');
    const schema = await t.call('POST', '/schemas', { body: LOYALTY_SCHEMA });
    assert.equal(schema.status, 201);
    const dataset = await t.call('POST', '/datasets', { body: { name: 'members', schemaId: schema.body.id, profileEnabled: true } });
    const first = await t.call('POST', `/datasets/${dataset.body.id}/records`, { body: { records: [LOYALTY_RECORD] } });
    const second = await t.call('POST', `/datasets/${dataset.body.id}/records`, { body: { records: [LOYALTY_RECORD] } });
    assert.deepEqual([first.body.snapshotId, second.body.snapshotId], [1, 2]);
    const viewer = await t.call('POST', '/api-keys', { body: { name: 'v', role: 'viewer' } });
    assert.equal((await t.call('GET', '/schemas', { token: viewer.body.token })).body.error.code, 'RT_FORBIDDEN_ROLE');
    const audit = await t.call('GET', '/audit?resourceType=dataset');
    assert.ok(audit.body.entries.length >= 3);
  });
});
