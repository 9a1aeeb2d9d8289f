import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { tempDir } from '../testing/temp.ts';
import { RoundtripError } from '../core/errors.ts';
import { DESTINATION_TYPES } from './connector.ts';
import { AccountBody } from './payloads.ts';
import { keyFromText, SECRET_KEY_FILE, SecretBox } from './secrets.ts';
import { pgpKeyPair } from './test-kit.ts';

let t: TestPlatform;
const temp = tempDir('roundtrip-dst-accounts-');
const SFTP_PASSWORD = 'sftp-Pa55word-that-must-never-leak';
const HOOK_SECRET = 'whsec_must-never-leak-0123456789';
const ELOQUA_PASSWORD = 'eloqua-pw-must-never-leak';
before(async () => {
  t = await createTestPlatform();
});
after(async () => {
  await t.dispose();
  temp.remove();
});

async function tokenFor(role: string): Promise<string> {
  const res = await t.call('POST', '/api-keys', { body: { name: role, role, sandboxes: ['*'] } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.token as string;
}

describe('destination catalog and accounts API', () => {
  it('lists the catalog: local-folder, sftp, eloqua, webhook, and smtp (campaigns) not implemented here', async () => {
    const res = await t.call('GET', '/destinations/catalog');
    assert.equal(res.status, 200);
    const byType = Object.fromEntries(res.body.destinations.map((d: { type: string }) => [d.type, d]));
    assert.deepEqual(Object.keys(byType), [...DESTINATION_TYPES]);
    assert.equal(byType.smtp.implemented, false);
    assert.deepEqual(byType.eloqua.mappings.required, [{ source: 'identityMap: Eid', target: 'Identity: EloquaId' }, { source: 'xdm: personalEmail.address', target: 'Attribute: emailAddress' }]);
    assert.equal(byType.eloqua.limits.customContactFields, 250);
    assert.deepEqual(Object.keys(byType.sftp.secrets.properties).sort(), ['passphrase', 'password', 'privateKey']);
    assert.equal(res.body.limits.destinationsPerSandbox, 100);
    // The payload's literal union and the connector's list of types stay the same.
    assert.deepEqual((AccountBody.properties.type as unknown as { anyOf: { const: string }[] }).anyOf.map((s) => s.const), [...DESTINATION_TYPES]);
  });

  it('stores credentials encrypted; responses and the metadata store never hold them in plain text', async () => {
    const { publicKey } = await pgpKeyPair();
    const sftp = await t.call('POST', '/destinations/accounts', {
      body: { name: 'ESP drop', type: 'sftp', params: { host: '127.0.0.1', username: 'esp', authType: 'password', folder: 'in' }, secrets: { password: SFTP_PASSWORD }, pgpPublicKey: publicKey, marketingActions: ['email-targeting'] },
    });
    assert.equal(sftp.status, 201, JSON.stringify(sftp.body));
    assert.deepEqual(sftp.body.secretsSet, ['password']);
    assert.equal(sftp.body.params.port, 22, 'default filled in');
    assert.equal(sftp.body.pgpEncryption, true);
    assert.match(sftp.body.pgpKeyFingerprint, /^[0-9A-F]{40}$/);
    const hook = await t.call('POST', '/destinations/accounts', { body: { name: 'Hook', type: 'webhook', params: { url: 'http://127.0.0.1:9/hook' }, secrets: { signingSecret: HOOK_SECRET } } });
    const eloqua = await t.call('POST', '/destinations/accounts', { body: { name: 'Eloqua', type: 'eloqua', params: { companyName: 'Acme', username: 'jane', pod: 'p03' }, secrets: { password: ELOQUA_PASSWORD } } });
    assert.equal(hook.status, 201);
    assert.equal(eloqua.status, 201);
    const list = await t.call('GET', '/destinations/accounts');
    const one = await t.call('GET', `/destinations/accounts/${sftp.body.id}`);
    assert.equal(list.body.accounts.length, 3);
    const everything = JSON.stringify([sftp.body, hook.body, eloqua.body, list.body, one.body]);
    for (const secret of [SFTP_PASSWORD, HOOK_SECRET, ELOQUA_PASSWORD]) assert.ok(!everything.includes(secret), 'no secret in any response');
    // At rest: neither the document bodies nor the SQLite file (with its WAL) contain the values.
    const stored = JSON.stringify(await t.platform.metadata.documents.list('prod', 'destination-account'));
    const files = readdirSync(t.config.dataDir).filter((f) => f.startsWith('metadata')).map((f) => readFileSync(path.join(t.config.dataDir, f)));
    assert.ok(stored.includes('"sealedSecrets"'));
    for (const secret of [SFTP_PASSWORD, HOOK_SECRET, ELOQUA_PASSWORD]) {
      assert.ok(!stored.includes(secret));
      for (const file of files) assert.ok(!file.includes(Buffer.from(secret)), 'not in the metadata files');
    }
    assert.equal(statSync(path.join(t.config.dataDir, SECRET_KEY_FILE)).mode & 0o777, 0o600, 'generated key file is 0600');
    // Connectors get them back.
    const resolved = await t.platform.destinations.getResolvedAccount('prod', sftp.body.id);
    assert.deepEqual(resolved.secrets, { password: SFTP_PASSWORD });
    assert.equal(resolved.pgpPublicKey, publicKey);
    // Audit rows name the secret fields, never the values.
    const audit = JSON.stringify(await t.platform.audit.list({}));
    assert.ok(audit.includes('destination.create') && !audit.includes(SFTP_PASSWORD));
  });

  it('validates accounts per type with field paths', async () => {
    const cases: [unknown, string, string | undefined][] = [
      [{ name: 'x', type: 'sftp', params: { host: 'h', username: 'u', authType: 'password' } }, 'RT_DESTINATION_ACCOUNT_INVALID', 'secrets.password'],
      [{ name: 'x', type: 'sftp', params: { host: 'h', username: 'u', authType: 'key' }, secrets: { privateKey: 'nope' } }, 'RT_DESTINATION_ACCOUNT_INVALID', 'secrets.privateKey'],
      [{ name: 'x', type: 'sftp', params: { host: 'h', username: 'u', authType: 'password', colour: 'red' }, secrets: { password: 'p' } }, 'RT_DESTINATION_ACCOUNT_INVALID', 'params.colour'],
      [{ name: 'x', type: 'eloqua', params: { companyName: 'A', username: 'u', pod: 'p05' }, secrets: { password: 'p' } }, 'RT_DESTINATION_ACCOUNT_INVALID', undefined],
      [{ name: 'x', type: 'webhook', params: { url: 'ftp://x' }, secrets: { signingSecret: 'short' } }, 'RT_DESTINATION_ACCOUNT_INVALID', undefined],
      [{ name: 'x', type: 'webhook', params: { url: 'http://x' }, secrets: { signingSecret: '0123456789abcdefg' }, pgpPublicKey: 'x' }, 'RT_DESTINATION_ACCOUNT_INVALID', 'pgpPublicKey'],
      [{ name: 'x', type: 'local-folder', params: { folder: temp.dir }, pgpPublicKey: 'not a key' }, 'RT_DESTINATION_ACCOUNT_INVALID', 'pgpPublicKey'],
      [{ name: 'x', type: 'smtp', params: {} }, 'RT_DESTINATION_TYPE_UNSUPPORTED', undefined],
    ];
    for (const [body, code, where] of cases) {
      const res = await t.call('POST', '/destinations/accounts', { body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, code, JSON.stringify(res.body));
      if (where) assert.ok(res.body.error.details.issues.some((i: { path: string }) => i.path === where), JSON.stringify(res.body.error.details));
    }
  });

  it('tests a connection, refuses local folders to non-admins and changes to viewers, deletes with guards', async () => {
    const folder = path.join(temp.dir, 'drop');
    const local = await t.call('POST', '/destinations/accounts', { body: { name: 'Drop', type: 'local-folder', params: { folder } } });
    assert.equal(local.status, 201);
    const test = await t.call('POST', `/destinations/accounts/${local.body.id}/test`);
    assert.equal(test.status, 200);
    assert.equal(test.body.ok, true, test.body.message);
    assert.deepEqual(readdirSync(folder), []);
    const marketer = await tokenFor('marketer');
    const viewer = await tokenFor('viewer');
    assert.equal((await t.call('POST', '/destinations/accounts', { token: marketer, body: { name: 'Mine', type: 'local-folder', params: { folder } } })).status, 403);
    assert.equal((await t.call('POST', '/destinations/accounts', { token: marketer, body: { name: 'Hook', type: 'webhook', params: { url: 'http://127.0.0.1:9/' }, secrets: { signingSecret: HOOK_SECRET } } })).status, 201);
    assert.equal((await t.call('POST', '/destinations/accounts', { token: viewer, body: { name: 'V', type: 'webhook', params: { url: 'http://x/' }, secrets: { signingSecret: HOOK_SECRET } } })).status, 403);
    t.platform.destinations.addDeleteGuard((_sandbox, id) => (id === local.body.id ? Promise.reject(new RoundtripError('RT_DOCUMENT_CONFLICT', 'a dataflow uses it')) : Promise.resolve()));
    assert.equal((await t.call('DELETE', `/destinations/accounts/${local.body.id}`)).status, 409);
    const hooks = (await t.call('GET', '/destinations/accounts')).body.accounts.filter((a: { type: string }) => a.type === 'webhook');
    assert.equal((await t.call('DELETE', `/destinations/accounts/${hooks[0].id}`)).status, 204);
    const gone = await t.call('GET', `/destinations/accounts/${hooks[0].id}`);
    assert.deepEqual([gone.status, gone.body.error.code], [404, 'RT_DESTINATION_ACCOUNT_NOT_FOUND']);
    const unreachable = await t.call('POST', `/destinations/accounts/${hooks[1].id}/test`);
    assert.deepEqual([unreachable.body.ok, unreachable.body.code], [false, 'RT_DESTINATION_UNREACHABLE']);
  });
});

describe('secret box', () => {
  it('seals with AES-256-GCM bound to its owner, and names a wrong key', () => {
    const box = new SecretBox(keyFromText('a passphrase long enough'));
    const sealed = box.seal('hunter2', 'prod/dst_1/password');
    assert.match(sealed, /^v1\./);
    assert.ok(!sealed.includes('hunter2'));
    assert.notEqual(box.seal('hunter2', 'prod/dst_1/password'), sealed, 'fresh IV every time');
    assert.equal(box.open(sealed, 'prod/dst_1/password'), 'hunter2');
    assert.throws(() => box.open(sealed, 'prod/dst_2/password'), { code: 'RT_SECRET_KEY_INVALID' });
    assert.throws(() => new SecretBox(keyFromText('another passphrase!!')).open(sealed, 'prod/dst_1/password'), /another key/);
    assert.equal(keyFromText('00'.repeat(32)).length, 32);
    assert.deepEqual(keyFromText(Buffer.alloc(32, 7).toString('base64')), Buffer.alloc(32, 7));
  });

  it('uses the configured key instead of a key file', () => {
    const dir = path.join(temp.dir, 'configured');
    const box = SecretBox.fromConfig({ secretKey: 'f'.repeat(64), dataDir: dir });
    assert.equal(new SecretBox(Buffer.alloc(32, 0xff)).open(box.seal('x', 'o'), 'o'), 'x');
    assert.throws(() => statSync(path.join(dir, SECRET_KEY_FILE)));
  });
});
