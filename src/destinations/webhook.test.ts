import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ApiRecord, ResolvedAccount } from './connector.ts';
import { signWebhook, verifyWebhookSignature, webhookConnector } from './webhook.ts';

const SECRET = 'whsec_0123456789abcdef';
interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
}
const received: Received[] = [];
let failuresToAnswer = 0;
let refuseKey: string | undefined;

/** A receiver that verifies signatures exactly as docs/destinations.md says, from the raw body. */
const server = http.createServer((req, res) => {
  let raw = '';
  req.on('data', (c: Buffer) => (raw += c.toString()));
  req.on('end', () => {
    received.push({ headers: req.headers, raw });
    if (failuresToAnswer > 0) {
      failuresToAnswer--;
      res.writeHead(503).end();
      return;
    }
    const header = req.headers['x-roundtrip-signature'] as string;
    // The documented procedure, written out: t and v1 from the header, HMAC-SHA256 over "<t>.<raw body>".
    const parts = Object.fromEntries(header.split(',').map((p) => p.split('=')));
    const expected = createHmac('sha256', SECRET).update(`${parts.t}.${raw}`).digest('hex');
    if (expected !== parts.v1 || Math.abs(Date.now() / 1000 - Number(parts.t)) > 300) {
      res.writeHead(401).end();
      return;
    }
    const body = JSON.parse(raw) as { records: ApiRecord[] };
    const failures = body.records.filter((r) => r.key === refuseKey).map((r) => ({ key: r.key, message: 'unknown contact' }));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ failures }));
  });
});
let url = '';
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const account = (secret = SECRET): ResolvedAccount => ({ id: 'dst_hook', sandbox: 'prod', name: 'Hook', type: 'webhook', params: { url, batchSize: 2, retryBaseDelayMs: 5 }, secrets: { signingSecret: secret }, marketingActions: [] });
const records: ApiRecord[] = [1, 2, 3, 4, 5].map((n) => ({ key: `p${n}`, identities: { Email: `u${n}@example.com` }, attributes: { firstName: `F${n}` }, audiences: { aud_1: n === 5 ? 'exited' : 'realized' } }));

describe('webhook connector', () => {
  it('posts signed JSON batches that verify with the documented procedure', async () => {
    received.length = 0;
    refuseKey = 'p4';
    const result = await webhookConnector.send(account(), records, { audiences: [{ id: 'aud_1', name: 'Gold' }], deliveryId: 'run_1' });
    assert.equal(result.sent, 4);
    assert.deepEqual(result.failures.map((f) => [f.key, f.code]), [['p4', 'RT_DESTINATION_RECORD_INVALID']]);
    assert.equal(received.length, 3, '5 records in batches of 2');
    for (const r of received) assert.ok(verifyWebhookSignature(SECRET, r.headers['x-roundtrip-signature'] as string, r.raw));
    const bodies = received.map((r) => JSON.parse(r.raw) as { batch: number; records: ApiRecord[]; deliveryId: string });
    assert.deepEqual(bodies.flatMap((b) => b.records), records);
    assert.deepEqual(bodies.map((b) => b.batch), [1, 2, 3]);
    assert.equal(received[0]!.headers['x-roundtrip-delivery'], bodies[0]!.deliveryId);
    // A retried run (same delivery id, same records) carries the same delivery ids, so receivers can de-duplicate.
    const firstIds = received.map((r) => r.headers['x-roundtrip-delivery']);
    received.length = 0;
    await webhookConnector.send(account(), records, { audiences: [], deliveryId: 'run_1' });
    assert.deepEqual(received.map((r) => r.headers['x-roundtrip-delivery']), firstIds);
  });

  it('verification refuses a changed body, a wrong secret and an old timestamp', () => {
    const body = '{"records":[]}';
    const t = Math.floor(Date.now() / 1000);
    const header = signWebhook(SECRET, body, t);
    assert.ok(verifyWebhookSignature(SECRET, header, body));
    assert.ok(!verifyWebhookSignature(SECRET, header, `${body} `));
    assert.ok(!verifyWebhookSignature('another-secret-value', header, body));
    assert.ok(!verifyWebhookSignature(SECRET, signWebhook(SECRET, body, t - 301), body));
    assert.ok(!verifyWebhookSignature(SECRET, undefined, body));
    assert.ok(!verifyWebhookSignature(SECRET, 't=1,v1=zz', body));
  });

  it('retries 503s with backoff and then succeeds; a wrong secret stops with RT_DESTINATION_AUTH_FAILED', async () => {
    received.length = 0;
    refuseKey = undefined;
    failuresToAnswer = 2;
    const result = await webhookConnector.send(account(), records.slice(0, 2), { audiences: [] });
    assert.deepEqual([result.sent, result.retries, received.length], [2, 2, 3]);
    await assert.rejects(webhookConnector.send(account('the-wrong-secret-123'), records.slice(0, 1), { audiences: [] }), { code: 'RT_DESTINATION_AUTH_FAILED' });
    assert.equal((await webhookConnector.test(account())).ok, true);
  });
});
