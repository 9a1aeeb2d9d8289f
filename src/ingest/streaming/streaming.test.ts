import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CommittedRecords } from '../../ports/event-bus.ts';
import { EVENT_SCHEMA, LOYALTY_RECORD, LOYALTY_SCHEMA } from '../../testing/fixtures.ts';
import { createTestPlatform, type Json, type TestPlatform } from '../../testing/platform.ts';
import { StoredIds } from './stored-ids.ts';

const event = (id: string, extra: Record<string, unknown> = {}) => ({
  _id: id,
  timestamp: '2024-03-01T10:00:00Z',
  eventType: 'commerce.purchases',
  commerce: { order: { purchaseID: `o-${id}`, priceTotal: 12.5 } },
  ...extra,
});
/** One per-message result of a collection batch answer. */
interface Result {
  xactionId: string;
  status: number;
  error?: { code: string };
}
const message = (entity: unknown, header: Record<string, unknown> = {}) => ({ header, body: { xdmEntity: entity } });

/** A platform with an event dataset, a profile dataset and an xdm connection writing to both. */
async function setup(t: TestPlatform): Promise<{ connectionId: string; secret: string; events: string; profiles: string }> {
  const eventSchema = (await t.call('POST', '/schemas', { body: EVENT_SCHEMA })).body.id;
  const profileSchema = (await t.call('POST', '/schemas', { body: LOYALTY_SCHEMA })).body.id;
  const events = (await t.call('POST', '/datasets', { body: { name: 'web events', schemaId: eventSchema } })).body.id;
  const profiles = (await t.call('POST', '/datasets', { body: { name: 'members', schemaId: profileSchema, profileEnabled: true } })).body.id;
  const created = await t.call('POST', '/streaming/connections', { body: { name: 'web', dataset: 'web events', profileDataset: 'members' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { connectionId: created.body.connection.id, secret: created.body.secret, events, profiles };
}

async function send(t: TestPlatform, url: string, body: unknown, secret: string | null): Promise<{ status: number; body: Json; headers: Record<string, unknown> }> {
  const response = await t.app.inject({ method: 'POST', url, payload: body as object, headers: secret === null ? {} : { authorization: `Bearer ${secret}` } });
  return { status: response.statusCode, body: response.body ? response.json() : undefined, headers: response.headers };
}

async function storedIds(t: TestPlatform, table: string): Promise<string[]> {
  await t.platform.streaming.flush();
  const result = await (await t.platform.warehouse.sandbox('prod')).query(`SELECT _id FROM ${table} ORDER BY rowid`);
  return result.rows.map((r) => r._id as string);
}

describe('streaming ingestion: collection envelope', () => {
  let t: TestPlatform;
  let c: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    t = await createTestPlatform();
    c = await setup(t);
  });
  after(() => t.dispose());

  it('acknowledges one message with inletId, xactionId and receivedTimeMs, and stores it as a snapshot recorded as a stream batch', async () => {
    const before = Date.now();
    const res = await send(t, `/collection/${c.connectionId}`, message(event('single-1'), { schemaRef: { id: 'https://ns.adobe.com/acme/schemas/x' } }), c.secret);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.inletId, c.connectionId);
    assert.match(res.body.xactionId, /^\d{13}:\d+$/);
    assert.ok(res.body.receivedTimeMs >= before);
    assert.equal(res.body.synchronousValidation, undefined);
    assert.deepEqual(await storedIds(t, 'web_events'), ['single-1']);
    const snapshots = (await t.call('GET', `/datasets/${c.events}/snapshots`)).body.snapshots;
    assert.deepEqual([snapshots.length, snapshots[0].status, snapshots[0].rowCount], [1, 'committed', 1]);
    const [batch] = await t.platform.metadata.batches.list('prod', { datasetId: c.events });
    assert.deepEqual([batch!.inputFormat, batch!.status, batch!.rowsWritten, batch!.snapshotId, batch!.id], ['stream', 'success', 1, snapshots[0].snapshotId, snapshots[0].batchId]);
  });

  it('takes a batch of messages for both datasets, routed by header.datasetId, in one snapshot per dataset', async () => {
    const profile = { ...LOYALTY_RECORD, _id: 'member-1' };
    const res = await send(
      t,
      `/collection/batch/${c.connectionId}`,
      { messages: [message(event('batch-1')), message(profile, { datasetId: c.profiles }), message(event('batch-2'), { datasetId: c.events })] },
      c.secret,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      (res.body.responses as Result[]).map((r) => r.status),
      [200, 200, 200],
    );
    assert.equal(new Set((res.body.responses as Result[]).map((r) => r.xactionId)).size, 3);
    const ids = await storedIds(t, 'web_events');
    assert.deepEqual(ids.slice(-2), ['batch-1', 'batch-2']);
    assert.deepEqual(await storedIds(t, 'members'), ['member-1']);
    const snapshots = (await t.call('GET', `/datasets/${c.events}/snapshots`)).body.snapshots;
    assert.equal(snapshots.at(-1).rowCount, 2, 'one snapshot for the whole request');
  });

  it('returns validation errors inline with ?synchronousValidation=true and stores nothing', async () => {
    const bad = event('sync-bad', { commerce: { order: { priceTotal: 'twelve' } }, colour: 'red' });
    const res = await send(t, `/collection/${c.connectionId}?synchronousValidation=true`, message(bad), c.secret);
    assert.equal(res.status, 400);
    const issues = res.body.error.details.issues.map((i: Json) => `${i.path} ${i.code}`).sort();
    assert.deepEqual(issues, ['colour RT_FIELD_UNKNOWN', 'commerce.order.priceTotal RT_FIELD_TYPE']);
    assert.ok(!(await storedIds(t, 'web_events')).includes('sync-bad'));
    assert.equal(await t.platform.failedRecords.count('prod', { datasetId: c.events, code: 'RT_FIELD_TYPE' }), 0);
    const good = await send(t, `/collection/${c.connectionId}?synchronousValidation=true`, message(event('sync-good')), c.secret);
    assert.deepEqual([good.status, good.body.synchronousValidation], [200, { status: 'pass' }]);
  });

  it('accepts invalid records without synchronous validation (202) and keeps them as failed records with code and path', async () => {
    const bad = event('async-bad', { timestamp: 'yesterday' });
    const single = await send(t, `/collection/${c.connectionId}`, message(bad), c.secret);
    assert.equal(single.status, 202);
    assert.equal(single.body.issues[0].path, 'timestamp');
    const batch = await send(t, `/collection/batch/${c.connectionId}`, { messages: [message(event('async-ok')), message({ _id: 'no-time' })] }, c.secret);
    assert.equal(batch.status, 202);
    assert.deepEqual(
      (batch.body.responses as Result[]).map((r) => r.status),
      [200, 202],
    );
    await t.platform.streaming.flush();
    const failed = await t.platform.failedRecords.list('prod', { datasetId: c.events });
    const byCode = failed.map((f): unknown[] => [f.code, f.path, f.source, JSON.parse(f.raw as string).body.xdmEntity._id]);
    assert.deepEqual(byCode, [
      ['RT_FIELD_FORMAT', 'timestamp', 'streaming', 'async-bad'],
      ['RT_FIELD_REQUIRED', 'timestamp', 'streaming', 'no-time'],
    ]);
    assert.equal(failed[1]!.rowNumber, 2, 'position in the request');
    const ids = await storedIds(t, 'web_events');
    assert.ok(ids.includes('async-ok') && !ids.includes('async-bad') && !ids.includes('no-time'));
    const batches = await t.platform.metadata.batches.list('prod', { datasetId: c.events });
    assert.ok(batches.some((b) => b.rowsRejected === 2 && b.inputFormat === 'stream'), 'the stream batch counts the rejected rows');
  });

  it('stores a duplicate _id once: twice in one request, again in a later request', async () => {
    const res = await send(t, `/collection/batch/${c.connectionId}`, { messages: [message(event('dup-1')), message(event('dup-1')), message(event('dup-2'))] }, c.secret);
    assert.equal(res.status, 200);
    await t.platform.streaming.flush();
    const again = await send(t, `/collection/${c.connectionId}`, message(event('dup-1')), c.secret);
    assert.equal(again.status, 200, 'a retry is acknowledged like the original');
    const ids = await storedIds(t, 'web_events');
    assert.deepEqual([ids.filter((id) => id === 'dup-1').length, ids.filter((id) => id === 'dup-2').length], [1, 1]);
    assert.ok(t.platform.streaming.stats().duplicateRecords >= 2);
  });

  it('suppresses duplicates from memory, and still sees ids another writer stored since (a write taking a snapshot in between)', async () => {
    const checks = (): { fromMemory: number; fromTable: number; loads: number } => t.platform.streaming.stats().duplicateChecks;
    await send(t, `/collection/batch/${c.connectionId}`, { messages: [message(event('mem-1')), message(event('mem-2'))] }, c.secret);
    await t.platform.streaming.flush();
    const before = checks();
    // Another writer (not streaming) stores an id while streaming holds its ids in memory.
    await t.platform.datasets.write({ id: 'test', name: 'test', role: 'admin', sandboxes: ['*'] }, 'prod', 'web events', [event('other-writer-1')]);
    await send(t, `/collection/batch/${c.connectionId}`, { messages: [message(event('mem-1')), message(event('other-writer-1')), message(event('mem-3'))] }, c.secret);
    const ids = await storedIds(t, 'web_events');
    assert.deepEqual(['mem-1', 'mem-2', 'mem-3', 'other-writer-1'].map((id) => ids.filter((x) => x === id).length), [1, 1, 1, 1]);
    assert.equal(checks().loads, before.loads + 1, 'the other write made streaming reload the ids of the table');
    await send(t, `/collection/batch/${c.connectionId}`, { messages: [message(event('mem-3')), message(event('mem-4'))] }, c.secret);
    assert.deepEqual((await storedIds(t, 'web_events')).filter((x) => x === 'mem-3' || x === 'mem-4').sort(), ['mem-3', 'mem-4']);
    assert.equal(checks().loads, before.loads + 1, 'after its own writes, streaming answers from memory without reloading');
    assert.ok(checks().fromMemory >= before.fromMemory + 2);
  });

  it('asks the table instead (a semi-join) when it holds more ids than are kept in memory', async () => {
    await send(t, `/collection/batch/${c.connectionId}`, { messages: [message(event('big-1')), message(event('big-2')), message(event('big-3'))] }, c.secret);
    await t.platform.streaming.flush();
    const dataset = await t.platform.datasets.get('prod', 'web events');
    const small = new StoredIds(t.platform.warehouse, 2);
    assert.deepEqual([...(await small.stored('prod', dataset, ['big-1', 'big-3', 'never-sent']))].sort(), ['big-1', 'big-3']);
    assert.deepEqual(small.answers, { fromMemory: 0, fromTable: 1, loads: 0, counts: 1 });
    assert.deepEqual([...(await small.stored('prod', dataset, ['big-2']))], ['big-2']);
    assert.deepEqual(small.answers, { fromMemory: 0, fromTable: 2, loads: 0, counts: 1 }, 'too many once, asked straight away after (not counted at every apply)');
    const roomy = new StoredIds(t.platform.warehouse, 1_000_000);
    assert.deepEqual([...(await roomy.stored('prod', dataset, ['big-2', 'never-sent']))], ['big-2']);
    assert.deepEqual(roomy.answers, { fromMemory: 1, fromTable: 0, loads: 1, counts: 1 });
  });

  it('refuses a record over the size limit with 413 RT_RECORD_TOO_LARGE, by record and by body', async () => {
    const limit = t.config.eventRecordLimitBytes;
    const big = event('big', { eventType: 'x'.repeat(limit) });
    const res = await send(t, `/collection/${c.connectionId}`, message(big), c.secret);
    assert.deepEqual([res.status, res.body.error.code], [413, 'RT_RECORD_TOO_LARGE']);
    const huge = event('huge', { eventType: 'x'.repeat(limit * 20) });
    const body = await send(t, `/collection/${c.connectionId}`, message(huge), c.secret);
    assert.deepEqual([body.status, body.body.error.code], [413, 'RT_RECORD_TOO_LARGE']);
    const inBatch = await send(t, `/collection/batch/${c.connectionId}`, { messages: [message(big), message(event('small'))] }, c.secret);
    assert.equal(inBatch.status, 207);
    assert.deepEqual(
      (inBatch.body.responses as Result[]).map((r) => [r.status, r.error?.code]),
      [
        [413, 'RT_RECORD_TOO_LARGE'],
        [200, undefined],
      ],
    );
    assert.ok(!(await storedIds(t, 'web_events')).includes('big'));
  });

  it('keeps a record the warehouse refuses (an integer past BIGINT) as a failed record and stores the rest of its group', async () => {
    const huge = event('too-big-int', { productListItems: [{ SKU: 'x', quantity: 1e20 }] });
    const res = await send(t, `/collection/batch/${c.connectionId}`, { messages: [message(event('neighbour-1')), message(huge), message(event('neighbour-2'))] }, c.secret);
    assert.equal(res.status, 200, 'the schema allows it, so it is acknowledged');
    const ids = await storedIds(t, 'web_events');
    assert.ok(ids.includes('neighbour-1') && ids.includes('neighbour-2') && !ids.includes('too-big-int'));
    const [kept] = await t.platform.failedRecords.list('prod', { code: 'RT_WAREHOUSE_FAILED' });
    assert.equal(JSON.parse(kept!.raw as string)._id, 'too-big-int');
  });

  it('refuses a dataset the connection does not write to, and malformed messages, per message', async () => {
    const res = await send(t, `/collection/batch/${c.connectionId}`, { messages: [message(event('x1'), { datasetId: 'ds_other' }), { body: 'nope' }] }, c.secret);
    assert.equal(res.status, 207);
    assert.deepEqual(
      (res.body.responses as Result[]).map((r) => r.error?.code),
      ['RT_STREAM_DATASET_NOT_ALLOWED', 'RT_RECORD_MALFORMED'],
    );
  });

  it('authenticates with the connection secret: 401 without or with a wrong one, 404 for an unknown connection, 401 once revoked', async () => {
    const body = message(event('auth-1'));
    assert.deepEqual((await send(t, `/collection/${c.connectionId}`, body, null)).body.error.code, 'RT_AUTH_MISSING');
    const wrong = await send(t, `/collection/${c.connectionId}`, body, c.secret.slice(0, -4) + 'AAAA');
    assert.deepEqual([wrong.status, wrong.body.error.code], [401, 'RT_AUTH_INVALID']);
    assert.equal((await send(t, `/collection/${c.connectionId}`, body, t.adminToken)).status, 401, 'an API key is not a connection secret');
    assert.equal((await send(t, '/collection/sc_0000000000000000', body, c.secret)).status, 404);
    const other = await t.call('POST', '/streaming/connections', { body: { name: 'tmp', dataset: c.events } });
    assert.equal((await send(t, `/collection/${other.body.connection.id}`, body, other.body.secret)).status, 200);
    const revoked = await t.call('DELETE', `/streaming/connections/${other.body.connection.id}`);
    assert.ok(revoked.body.revokedAt);
    assert.equal((await send(t, `/collection/${other.body.connection.id}`, body, other.body.secret)).status, 401);
  });

  it('lists connections without secrets and checks datasets on creation', async () => {
    const list = await t.call('GET', '/streaming/connections');
    assert.ok(list.body.connections.length >= 1);
    assert.ok(!JSON.stringify(list.body).includes('secretHash'));
    assert.deepEqual(list.body.connections[0].datasets, { event: c.events, profile: c.profiles });
    const twoEvents = await t.call('POST', '/streaming/connections', { body: { name: 'x', dataset: c.events, profileDataset: c.events } });
    assert.deepEqual([twoEvents.status, twoEvents.body.error.code], [400, 'RT_STREAM_CONNECTION_INVALID']);
    const segment = await t.call('POST', '/streaming/connections', { body: { name: 'x', kind: 'segment', dataset: c.events, profileDataset: c.profiles } });
    assert.equal(segment.body.error.code, 'RT_STREAM_CONNECTION_INVALID', 'Segment needs datasets with the segment field groups');
    const viewer = (await t.call('POST', '/api-keys', { body: { name: 'v', role: 'viewer' } })).body.token;
    assert.equal((await t.call('POST', '/streaming/connections', { body: { name: 'x', dataset: c.events }, token: viewer })).status, 403);
  });

  it('announces committed records on the event bus with their snapshot id', async () => {
    await t.platform.streaming.flush();
    const received: CommittedRecords[] = [];
    const subscription = t.platform.bus.subscribe({ sandbox: 'prod', datasetId: c.events }, (m) => void received.push(m));
    await send(t, `/collection/batch/${c.connectionId}`, { messages: [message(event('bus-1')), message(event('bus-2'))] }, c.secret);
    await t.platform.streaming.flush();
    await subscription.unsubscribe();
    const [announced] = received;
    assert.ok(announced, 'one message for the write');
    assert.deepEqual(
      announced.records.map((r) => r._id),
      ['bus-1', 'bus-2'],
    );
    const snapshots = (await t.call('GET', `/datasets/${c.events}/snapshots`)).body.snapshots;
    assert.equal(announced.snapshotId, snapshots.at(-1).snapshotId);
    assert.equal(announced.source, 'streaming');
  });
});

describe('streaming ingestion: backpressure', () => {
  let t: TestPlatform;
  let c: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    // A one-byte queue that never drains by itself: the first request fills it, the next must be refused.
    const saved = { ...process.env };
    process.env.ROUNDTRIP_STREAM_QUEUE_BYTES = '1';
    process.env.ROUNDTRIP_STREAM_APPLY_INTERVAL_MS = '600000';
    try {
      t = await createTestPlatform();
    } finally {
      process.env = saved;
    }
    c = await setup(t);
  });
  after(() => t.dispose());

  it('answers 429 RT_INGEST_OVERLOADED with Retry-After while the queue is full, and accepts again once it drained', async () => {
    assert.equal((await send(t, `/collection/${c.connectionId}`, message(event('q-1')), c.secret)).status, 200);
    const refused = await send(t, `/collection/${c.connectionId}`, message(event('q-2')), c.secret);
    assert.deepEqual([refused.status, refused.body.error.code], [429, 'RT_INGEST_OVERLOADED']);
    assert.match(String(refused.headers['retry-after']), /^\d+$/);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal(t.platform.streaming.stats().queuedRecords, 1, 'the refused request took no room');
    await t.platform.streaming.flush();
    assert.equal((await send(t, `/collection/${c.connectionId}`, message(event('q-3')), c.secret)).status, 200);
    assert.deepEqual(await storedIds(t, 'web_events'), ['q-1', 'q-3']);
  });
});

describe('streaming ingestion: one process per log', () => {
  let t: TestPlatform;
  before(async () => {
    t = await createTestPlatform();
  });
  after(() => t.dispose());

  it('refuses to write a log that another live process holds (RT_DATA_DIR_LOCKED)', async () => {
    const c = await setup(t);
    // The parent of the test runner stands in for a second server on the same data directory.
    const dir = path.join(t.config.dataDir, 'streaming');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'lock'), String(process.ppid));
    const res = await send(t, `/collection/${c.connectionId}`, message(event('locked')), c.secret);
    assert.deepEqual([res.status, res.body.error.code], [409, 'RT_DATA_DIR_LOCKED']);
    writeFileSync(path.join(dir, 'lock'), '999999999');
    assert.equal((await send(t, `/collection/${c.connectionId}`, message(event('stale')), c.secret)).status, 200, 'a lock of a dead process is taken over');
  });
});
