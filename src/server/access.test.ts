import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { can, ROLES, type Action } from '../access/roles.ts';
import type { Role } from '../ports/metadata-store.ts';
import { LOYALTY_RECORD, LOYALTY_SCHEMA } from '../testing/fixtures.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';

describe('authentication, roles and sandbox isolation over HTTP', () => {
  let t: TestPlatform;
  let datasetId: string;
  before(async () => {
    t = await createTestPlatform();
    const schema = await t.call('POST', '/schemas', { body: LOYALTY_SCHEMA });
    const dataset = await t.call('POST', '/datasets', { body: { name: 'Loyalty Members', schemaId: schema.body.id, profileEnabled: true } });
    datasetId = dataset.body.id;
    await t.call('POST', '/sandboxes', { body: { name: 'dev' } });
  });
  after(() => t.dispose());

  async function keyFor(role: Role, sandboxes?: string[]): Promise<string> {
    const created = await t.call('POST', '/api-keys', { body: { name: `${role} key`, role, sandboxes } });
    assert.equal(created.status, 201);
    return created.body.token as string;
  }

  it('answers 401 without a key, with a malformed one and with an unknown one', async () => {
    assert.deepEqual((await t.call('GET', '/datasets', { token: null })).body.error.code, 'RT_AUTH_MISSING');
    assert.equal((await t.call('GET', '/datasets', { token: null })).status, 401);
    const wrong = await t.call('GET', '/datasets', { token: 'not-a-key' });
    assert.deepEqual([wrong.status, wrong.body.error.code], [401, 'RT_AUTH_INVALID']);
    const forged = t.adminToken.slice(0, -4) + 'AAAA';
    assert.equal((await t.call('GET', '/datasets', { token: forged })).body.error.code, 'RT_AUTH_INVALID');
    assert.equal((await t.call('GET', '/health', { token: null })).status, 200, 'health needs no key');
  });

  it('lists keys without secrets, and a revoked key stops working', async () => {
    const token = await keyFor('analyst');
    assert.equal((await t.call('GET', '/datasets', { token })).status, 200);
    const keys = await t.call('GET', '/api-keys');
    const listed = JSON.stringify(keys.body);
    assert.ok(!listed.includes(token.split('_')[2]!), 'the secret never comes back');
    assert.ok(!listed.includes('secretHash'));
    const id = `key_${token.split('_')[1]}`;
    assert.equal((await t.call('DELETE', `/api-keys/${id}`)).body.revokedAt !== null, true);
    assert.equal((await t.call('GET', '/datasets', { token })).body.error.code, 'RT_AUTH_INVALID');
    assert.equal((await t.call('DELETE', '/api-keys/key_0000000000000000')).status, 404);
  });

  it('answers 404 RT_SANDBOX_NOT_FOUND for an unknown sandbox', async () => {
    const res = await t.call('GET', '/datasets', { sandbox: 'nowhere' });
    assert.deepEqual([res.status, res.body.error.code], [404, 'RT_SANDBOX_NOT_FOUND']);
  });

  it('keeps a key scoped to one sandbox out of every other (403), data and schemas alike', async () => {
    const devOnly = await keyFor('data-engineer', ['dev']);
    for (const url of ['/datasets', `/datasets/${datasetId}/records`, '/schemas', '/namespaces']) {
      const res = await t.call('GET', url, { token: devOnly });
      assert.deepEqual([res.status, res.body.error.code], [403, 'RT_FORBIDDEN_SANDBOX'], url);
      assert.equal((await t.call('GET', url, { token: devOnly, sandbox: 'nowhere' })).status, 403, 'scope is checked before existence');
    }
    assert.equal((await t.call('GET', '/datasets', { token: devOnly, sandbox: 'dev' })).status, 200);
    const visible = await t.call('GET', '/sandboxes', { token: devOnly });
    assert.deepEqual(visible.body.sandboxes.map((s: { name: string }) => s.name), ['dev']);
  });

  it('keeps data of one sandbox invisible from another, even for an all-sandbox key', async () => {
    const inDev = await t.call('GET', `/datasets/${datasetId}`, { sandbox: 'dev' });
    assert.equal(inDev.body.error.code, 'RT_DATASET_NOT_FOUND');
    assert.deepEqual((await t.call('GET', '/schemas', { sandbox: 'dev' })).body.schemas, []);
    const devSchema = await t.call('POST', '/schemas', { sandbox: 'dev', body: LOYALTY_SCHEMA });
    const devDataset = await t.call('POST', '/datasets', { sandbox: 'dev', body: { name: 'Loyalty Members', schemaId: devSchema.body.id } });
    assert.equal(devDataset.status, 201, 'the same dataset name may exist in two sandboxes');
    await t.call('POST', `/datasets/${devDataset.body.id}/records`, { sandbox: 'dev', body: { records: [LOYALTY_RECORD, LOYALTY_RECORD] } });
    const prodRows = await t.call('GET', `/datasets/${datasetId}/records`);
    const devRows = await t.call('GET', `/datasets/${devDataset.body.id}/records`, { sandbox: 'dev' });
    assert.equal(devRows.body.records.length, 2);
    assert.equal(prodRows.body.records.length, 0);
  });

  it('applies the role table: every role × a representative request of every action with a route', async () => {
    const requests: Partial<Record<Action, (role: Role) => [string, string, unknown?]>> = {
      'sandbox:read': () => ['GET', '/sandboxes'],
      'sandbox:manage': (role) => ['POST', '/sandboxes', { name: `sb-${role}` }],
      'apikey:manage': () => ['GET', '/api-keys'],
      'audit:read': () => ['GET', '/audit'],
      'schema:read': () => ['GET', '/schemas'],
      'schema:write': (role) => ['POST', '/namespaces', { code: `NS_${role.replace('-', '_')}`, name: role, idType: 'CROSS_DEVICE' }],
      'dataset:read': () => ['GET', `/datasets/${datasetId}/records`],
      'dataset:write': () => ['POST', `/datasets/${datasetId}/records`, { records: [LOYALTY_RECORD] }],
    };
    for (const role of ROLES) {
      const token = await keyFor(role);
      for (const [action, request] of Object.entries(requests) as [Action, (role: Role) => [string, string, unknown?]][]) {
        const [method, url, body] = request(role);
        const res = await t.call(method, url, { token, body });
        if (can(role, action)) assert.ok(res.status < 300, `${role} may ${action}: got ${res.status} ${JSON.stringify(res.body)}`);
        else assert.deepEqual([res.status, res.body.error.code], [403, 'RT_FORBIDDEN_ROLE'], `${role} may not ${action}`);
      }
    }
  });

  it('records who changed what in a queryable audit log', async () => {
    const token = await keyFor('data-engineer');
    await t.call('POST', '/namespaces', { token, body: { code: 'LoyaltyNo', name: 'Loyalty number', idType: 'CROSS_DEVICE' } });
    const id = `key_${token.split('_')[1]}`;
    const entries = (await t.call('GET', `/audit?actor=${id}`)).body.entries;
    assert.deepEqual(entries.map((e: { action: string; resourceId: string; sandbox: string }) => [e.action, e.resourceId, e.sandbox]), [['namespace.create', 'LoyaltyNo', 'prod']]);
    const writes = (await t.call('GET', '/audit?resourceType=dataset')).body.entries.map((e: { action: string }) => e.action);
    assert.ok(writes.includes('dataset.create') && writes.includes('dataset.write'));
    const keyEvents = (await t.call('GET', '/audit?resourceType=apikey&limit=2')).body.entries;
    assert.equal(keyEvents.length, 2);
  });

  it('resets a sandbox and deletes development sandboxes, never prod', async () => {
    const del = await t.call('DELETE', '/sandboxes/prod');
    assert.deepEqual([del.status, del.body.error.code], [409, 'RT_SANDBOX_PROTECTED']);
    assert.equal((await t.call('POST', '/sandboxes/dev/reset')).status, 200);
    assert.deepEqual((await t.call('GET', '/datasets', { sandbox: 'dev' })).body.datasets, []);
    assert.equal((await t.call('DELETE', '/sandboxes/dev')).status, 204);
    assert.equal((await t.call('GET', '/datasets', { sandbox: 'dev' })).status, 404);
    assert.equal((await t.call('POST', '/sandboxes', { body: { name: 'Bad Name' } })).body.error.code, 'RT_SANDBOX_NAME_INVALID');
    assert.equal((await t.call('POST', '/sandboxes', { body: { name: 'prod' } })).body.error.code, 'RT_SANDBOX_EXISTS');
  });
});
