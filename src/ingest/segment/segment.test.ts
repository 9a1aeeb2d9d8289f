import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Analytics } from '@segment/analytics-node';
import { createTestPlatform, type Json, type TestPlatform } from '../../testing/platform.ts';
import { eventTime, flatten, mapSegmentCall, type MappingContext } from './mapping.ts';

const context: MappingContext = { tenantKey: '_roundtrip', identities: { userId: 'CRMID', anonymousId: 'ECID' }, receivedAt: '2024-05-01T12:00:00.000Z', fallbackId: 'x:0' };

describe('Segment spec → XDM mapping', () => {
  it('maps an e-commerce Order Completed to commerce.purchases with order, products and identities', () => {
    const mapped = mapSegmentCall(
      {
        type: 'track',
        event: 'Order Completed',
        messageId: 'm-1',
        userId: 'u-1',
        anonymousId: 'a-1',
        timestamp: '2024-05-01T11:00:00Z',
        properties: { order_id: 'o-9', revenue: 42.5, currency: 'eur', products: [{ sku: 'S1', name: 'Shoe', price: 20, quantity: 2 }], coupon: { code: 'X' } },
        context: { page: { url: 'https://shop.example/checkout' }, library: { name: 'analytics-node' } },
      },
      context,
    );
    assert.ok(mapped.ok);
    assert.equal(mapped.role, 'event');
    const r = mapped.record as Json;
    assert.deepEqual([r._id, r.timestamp, r.eventType], ['m-1', '2024-05-01T11:00:00Z', 'commerce.purchases']);
    assert.deepEqual(r.commerce, { purchases: { value: 1 }, order: { purchaseID: 'o-9', priceTotal: 42.5, currencyCode: 'EUR' } });
    assert.deepEqual(r.productListItems, [{ SKU: 'S1', name: 'Shoe', quantity: 2, priceTotal: 40 }]);
    assert.deepEqual(r.identityMap, {
      CRMID: [{ id: 'u-1', authenticatedState: 'authenticated', primary: true }],
      ECID: [{ id: 'a-1', authenticatedState: 'ambiguous', primary: false }],
    });
    assert.equal(r.web.webPageDetails.URL, 'https://shop.example/checkout');
    assert.equal(r._roundtrip.segment.event, 'Order Completed');
    assert.equal(r._roundtrip.segment.properties['coupon.code'], 'X');
    assert.equal(r._roundtrip.segment.properties.products, '[{"sku":"S1","name":"Shoe","price":20,"quantity":2}]');
    assert.equal(r._roundtrip.segment.context['library.name'], 'analytics-node');
  });

  it('maps page to a page view, identify to a profile with person and contact fields, and refuses calls without ids', () => {
    const page = mapSegmentCall({ anonymousId: 'a-2', name: 'Home', properties: { url: 'https://x/', referrer: 'https://r/' } }, context, 'page');
    assert.ok(page.ok);
    assert.deepEqual([(page.record as Json).eventType, (page.record as Json).web], [
      'web.webpagedetails.pageViews',
      { webPageDetails: { name: 'Home', URL: 'https://x/' }, webReferrer: { URL: 'https://r/' } },
    ]);
    assert.deepEqual((page.record as Json).identityMap, { ECID: [{ id: 'a-2', authenticatedState: 'ambiguous', primary: true }] });
    const identify = mapSegmentCall(
      { type: 'identify', userId: 'u-3', traits: { email: 'pat@example.com', first_name: 'Pat', lastName: 'Lee', gender: 'Female', address: { city: 'Lyon', country: 'fr' }, plan: 'gold' } },
      context,
    );
    assert.ok(identify.ok);
    const p = identify.record as Json;
    assert.equal(identify.role, 'profile');
    assert.deepEqual(p.person, { name: { firstName: 'Pat', lastName: 'Lee' }, gender: 'female' });
    assert.deepEqual([p.personalEmail.address, p.homeAddress], ['pat@example.com', { city: 'Lyon', countryCode: 'FR' }]);
    assert.deepEqual(p.identityMap.Email, [{ id: 'pat@example.com', authenticatedState: 'authenticated', primary: false }]);
    assert.equal(p._roundtrip.segment.traits.plan, 'gold');
    const anonymous = mapSegmentCall({ type: 'track', event: 'x' }, context);
    assert.deepEqual(anonymous.ok ? [] : anonymous.issues.map((i) => i.path), ['userId']);
    const unknown = mapSegmentCall({ type: 'explode', userId: 'u' }, context);
    assert.deepEqual(unknown.ok ? [] : unknown.issues.map((i) => i.code), ['RT_FIELD_ENUM']);
  });

  it("corrects a device clock with sentAt as Segment does, and flattens nested values into a string map", () => {
    assert.equal(eventTime({ originalTimestamp: '2024-05-01T11:59:00Z', sentAt: '2024-05-01T11:59:30Z' }, '2024-05-01T12:00:00.000Z'), '2024-05-01T11:59:30.000Z');
    assert.deepEqual(flatten({ a: { b: 1, c: [1, 2] }, d: true, e: null }), { 'a.b': '1', 'a.c': '[1,2]', d: 'true' });
  });
});

describe('Segment endpoints with the official analytics-node library', () => {
  let t: TestPlatform;
  let host: string;
  let writeKey: string;
  before(async () => {
    t = await createTestPlatform();
    const setup = await t.call('POST', '/streaming/segment-setup', { body: { name: 'Web' } });
    assert.equal(setup.status, 201, JSON.stringify(setup.body));
    const created = await t.call('POST', '/streaming/connections', {
      body: { name: 'web', kind: 'segment', dataset: setup.body.eventDataset, profileDataset: setup.body.profileDataset },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    writeKey = created.body.secret;
    host = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => t.dispose());

  it('takes track, identify and page calls sent as batches, and they are queryable afterwards', async () => {
    const analytics = new Analytics({ writeKey, host, flushAt: 3, maxRetries: 1 });
    const failures: unknown[] = [];
    analytics.on('error', (error) => failures.push(error));
    analytics.identify({ userId: 'user-1', traits: { email: 'ada@example.com', firstName: 'Ada', plan: 'pro' } });
    analytics.track({ userId: 'user-1', event: 'Order Completed', properties: { order_id: 'o-1', revenue: 99.5, currency: 'USD' }, messageId: 'order-msg-1' });
    analytics.page({ anonymousId: 'anon-1', name: 'Pricing', properties: { url: 'https://example.com/pricing' } });
    for (let i = 0; i < 7; i++) analytics.track({ anonymousId: 'anon-1', event: 'Clicked', properties: { n: i } });
    await analytics.closeAndFlush({ timeout: 10_000 });
    assert.deepEqual(failures, []);
    await t.platform.streaming.flush();

    const warehouse = await t.platform.warehouse.sandbox('prod');
    const events = await warehouse.query(
      `SELECT eventType AS type, count(*) AS n, max(commerce.order.priceTotal) AS revenue FROM web_segment_events GROUP BY 1 ORDER BY 1`,
    );
    assert.deepEqual(events.rows, [
      { type: 'Clicked', n: 7, revenue: null },
      { type: 'commerce.purchases', n: 1, revenue: 99.5 },
      { type: 'web.webpagedetails.pageViews', n: 1, revenue: null },
    ]);
    const order = await warehouse.query(`SELECT _id, identityMap['CRMID'][1].id AS crm, _roundtrip.segment.context['library.name'] AS lib FROM web_segment_events WHERE eventType = 'commerce.purchases'`);
    assert.deepEqual(order.rows, [{ _id: 'order-msg-1', crm: 'user-1', lib: '@segment/analytics-node' }]);
    const profiles = await warehouse.query(`SELECT personalEmail.address AS email, person.name.firstName AS first, _roundtrip.segment.traits['plan'] AS plan FROM web_segment_profiles`);
    assert.deepEqual(profiles.rows, [{ email: 'ada@example.com', first: 'Ada', plan: 'pro' }]);
    const batches = await t.platform.metadata.batches.list('prod');
    assert.ok(batches.every((b) => b.inputFormat === 'stream' && b.status === 'success'));
  });

  it('takes the Segment HTTP API with Basic auth, stores a retried messageId once, and answers a wrong write key with 401', async () => {
    const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
    const post = (path: string, body: unknown, key = writeKey) =>
      fetch(`${host}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(key) }, body: JSON.stringify(body) });
    const call = { userId: 'user-2', event: 'Signed Up', messageId: 'signup-2', timestamp: '2024-05-02T08:00:00Z' };
    const first = await post('/v1/track', call);
    assert.deepEqual([first.status, await first.json()], [200, { success: true }]);
    assert.equal((await post('/v1/track', call)).status, 200);
    const wrong = await post('/v1/track', call, writeKey.slice(0, -4) + 'AAAA');
    assert.deepEqual([wrong.status, ((await wrong.json()) as Json).error.code], [401, 'RT_AUTH_INVALID']);
    const none = await fetch(`${host}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ batch: [call] }) });
    assert.equal(none.status, 401);
    await t.platform.streaming.flush();
    const rows = await (await t.platform.warehouse.sandbox('prod')).query(`SELECT count(*) AS n FROM web_segment_events WHERE _id = 'signup-2'`);
    assert.deepEqual(rows.rows, [{ n: 1 }]);
  });

  it('keeps calls it cannot map as failed records instead of dropping them', async () => {
    const res = await fetch(`${host}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ writeKey, batch: [{ type: 'track', event: 'No ids' }, { type: 'track', userId: 'u', event: 'ok', messageId: 'ok-1' }] }),
    });
    assert.equal(res.status, 200);
    await t.platform.streaming.flush();
    const failed = await t.platform.failedRecords.list('prod', { code: 'RT_FIELD_REQUIRED' });
    assert.deepEqual(
      failed.map((f): unknown[] => [f.path, JSON.parse(f.raw as string).event]),
      [['userId', 'No ids']],
    );
  });
});
