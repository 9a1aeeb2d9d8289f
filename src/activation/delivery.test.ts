/**
 * Activation over real servers on loopback: streaming activation to a webhook (an HTTP server of the test that
 * verifies the HMAC signature and records the batches) driven by membership changes, and a batch export over
 * SFTP to Debian's OpenSSH `sshd` (skipped with the reason when sshd is not installed), read back row by row.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import type { ApiRecord } from '../destinations/connector.ts';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../destinations/webhook.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { generateSshKeyPair, sshdUnavailable, startSshd } from '../testing/sshd.ts';
import { activationWith, manualClock, setupBrand, transition, type Brand } from './test-kit.ts';

let t: TestPlatform;
let brand: Brand;

const sha = async (s: string) => (await import('node:crypto')).createHash('sha256').update(s).digest('hex');

describe('activation delivery over loopback servers', () => {
  before(async () => {
    t = await createTestPlatform();
    brand = await setupBrand(t);
    const warehouse = await t.platform.warehouse.sandbox('prod');
    for (const c of ['C1', 'C2', 'C4']) await transition(warehouse, { segmentId: brand.segmentId, mergePolicyId: brand.policyId, profileId: brand.profiles[c]!, status: 'realized', at: '2024-01-01T01:00:00Z' });
  });
  after(() => t.dispose());

  test('streaming to a webhook: the current members first, then each membership change, signed; no change sends nothing', async () => {
    const secret = 'whsec-test-0123456789';
    const batches: { records: ApiRecord[]; audiences: { id: string; name: string }[] }[] = [];
    const server: Server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        const signed = verifyWebhookSignature(secret, req.headers[SIGNATURE_HEADER] as string | undefined, raw);
        if (signed) batches.push(JSON.parse(raw));
        res.writeHead(signed ? 200 : 401, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const dest = await t.platform.destinations.create(LOCAL_OPERATOR, 'prod', { name: 'Hook', type: 'webhook', params: { url }, secrets: { signingSecret: secret } });
      const clock = manualClock('2024-01-01T02:00:00Z');
      const activation = activationWith(t, { clock });
      const df = await activation.create(LOCAL_OPERATOR, 'prod', {
        name: 'Streaming',
        destinationId: dest.id,
        audiences: [{ segmentId: brand.segmentId, schedule: { exportType: 'streaming', startDate: '2024-01-01' } }],
        fields: [
          { source: { attribute: 'personalEmail.address' }, target: 'emailSha256', hash: 'sha256', mandatory: true },
          { source: { attribute: 'person.name.firstName' }, target: 'firstName' },
        ],
      });
      assert.equal(df.body.mode, 'streaming');

      await activation.pollStreaming('prod');
      const records = (i: number) => batches[i]!.records.map((r) => [r.attributes, r.audiences]);
      assert.equal(batches.length, 1);
      // Records in profile-id order; C4 (consent "n") is never sent.
      const expected = [
        [brand.profiles.C1!, { emailSha256: await sha('ann@example.com'), firstName: 'Ann' }],
        [brand.profiles.C2!, { emailSha256: await sha('bob@example.com'), firstName: 'Bob' }],
      ] as const;
      assert.deepEqual(records(0), [...expected].sort((a, b) => a[0] - b[0]).map(([, attributes]) => [attributes, { [brand.segmentId]: 'realized' }]));
      assert.deepEqual(batches[0]!.audiences, [{ id: brand.segmentId, name: 'Loyal travellers' }]);

      const warehouse = await t.platform.warehouse.sandbox('prod');
      await transition(warehouse, { segmentId: brand.segmentId, mergePolicyId: brand.policyId, profileId: brand.profiles.C2!, status: 'exited', at: '2024-01-01T02:30:00Z' });
      clock.set('2024-01-01T03:00:00Z');
      await activation.pollStreaming('prod');
      assert.equal(batches.length, 2);
      assert.deepEqual(records(1), [[{ emailSha256: await sha('bob@example.com'), firstName: 'Bob' }, { [brand.segmentId]: 'exited' }]]);

      clock.set('2024-01-01T03:30:00Z');
      await activation.pollStreaming('prod');
      assert.equal(batches.length, 2);
      const runs = await activation.runs('prod', df.id);
      assert.deepEqual(runs.map((r) => [r.body.trigger, r.body.status, r.body.profiles, r.body.skipped.consent]), [['stream', 'succeeded', 1, 0], ['stream', 'succeeded', 2, 1]]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('batch files over SFTP to OpenSSH', { skip: sshdUnavailable() }, async () => {
    const keys = await generateSshKeyPair();
    const sshd = await startSshd({ authorizedKeys: [keys.publicKey] });
    try {
      const dest = await t.platform.destinations.create(LOCAL_OPERATOR, 'prod', {
        name: 'SFTP Email',
        type: 'sftp',
        params: { host: sshd.host, port: sshd.port, username: sshd.username, authType: 'key', hostKeySha256: sshd.hostKeySha256, folder: 'exports' },
        secrets: { privateKey: keys.privateKey },
      });
      const activation = activationWith(t, { clock: manualClock('2024-01-05T10:00:00Z') });
      const df = await activation.create(LOCAL_OPERATOR, 'prod', {
        name: 'SFTP',
        destinationId: dest.id,
        audiences: [{ segmentId: brand.segmentId, schedule: { exportType: 'full', frequency: 'daily', time: '10:00', startDate: '2024-01-05' } }],
        fields: [{ source: { identity: 'Email' } }, { source: { attribute: 'person.name.firstName' }, target: 'firstName' }],
      });
      const run = await activation.runScheduled('prod', df.id, '2024-01-05T10:00:00Z');
      assert.equal(run.runs, 1);
      const dir = path.join(sshd.root, 'exports');
      const name = `SFTP Email_segment${brand.segmentId}_20240105100000.csv`;
      assert.deepEqual(readdirSync(dir), [name]);
      const lines = readFileSync(path.join(dir, name), 'utf8').trimEnd().split('\n');
      // C2 left in the streaming test; C1 stays; C4 has no consent.
      assert.deepEqual(lines, ['Email,firstName', 'ann@example.com,Ann']);
    } finally {
      await sshd.stop();
    }
  });
});
