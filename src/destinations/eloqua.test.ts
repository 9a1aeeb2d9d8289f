import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ApiRecord, AudienceRef, ResolvedAccount } from './connector.ts';
import { audienceFieldName, eloquaConnector, ELOQUA_MAX_CUSTOM_FIELDS } from './eloqua.ts';

/**
 * Plays the Eloqua REST API of reference §12.4: Basic auth `Company\User`, contact fields search/create with the
 * 250-field limit, and "Update a contact" answering the documented ObjectValidationError for a missing emailAddress.
 */
class FakeEloqua {
  server = http.createServer((req, res) => void this.handle(req, res));
  url = '';
  fields: { id: string; name: string }[] = [];
  contacts = new Map<string, Record<string, unknown>>();
  requests: { method: string; path: string; authorization?: string; body?: unknown }[] = [];
  /** Answers to give before the normal one, per path prefix (e.g. a 503 once). */
  failNext: { match: string; status: number; headers?: Record<string, string> }[] = [];
  preexistingCustomFields = 0;

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    const url = new URL(req.url!, 'http://x');
    this.requests.push({ method: req.method!, path: url.pathname + url.search, authorization: req.headers.authorization, body });
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    };
    const expected = `Basic ${Buffer.from('Acme Corp\\jane.doe:s3cret').toString('base64')}`;
    if (req.headers.authorization !== expected) return send(401, { error: 'Unauthorized' });
    const failure = this.failNext.findIndex((f) => url.pathname.startsWith(f.match));
    if (failure >= 0) {
      const [f] = this.failNext.splice(failure, 1);
      return send(f!.status, { error: 'Service Unavailable' }, f!.headers);
    }
    if (req.method === 'GET' && url.pathname === '/api/REST/1.0/assets/contact/fields') {
      const name = /name='([^']*)'/.exec(url.searchParams.get('search') ?? '')?.[1];
      const elements = name === undefined ? this.fields : this.fields.filter((f) => f.name === name);
      return send(200, { elements, page: 1, pageSize: 1000, total: elements.length });
    }
    if (req.method === 'POST' && url.pathname === '/api/REST/1.0/assets/contact/field') {
      if (this.fields.length + this.preexistingCustomFields >= ELOQUA_MAX_CUSTOM_FIELDS) return send(400, 'There was a validation error');
      const field = { id: String(100_200 + this.fields.length), name: String(body!.name) };
      assert.deepEqual(body, { name: field.name, dataType: 'text', displayType: 'text' });
      this.fields.push(field);
      return send(201, { type: 'ContactField', ...field, dataType: 'text', displayType: 'text' });
    }
    const contact = /^\/api\/REST\/1\.0\/data\/contact\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'PUT' && contact) {
      assert.equal(body!.id, decodeURIComponent(contact[1]!), 'body id is the EloquaId of the path');
      if (!body!.emailAddress) {
        return send(400, [{ type: 'ObjectValidationError', container: { type: 'ObjectKey', objectType: 'Contact' }, property: 'emailAddress', requirement: { type: 'EmailAddressRequirement' }, value: '<null>' }]);
      }
      this.contacts.set(String(body!.id), body!);
      return send(200, { type: 'Contact', ...body });
    }
    send(404, { error: 'not found' });
  }
}

const fake = new FakeEloqua();
before(() => fake.start());
after(() => new Promise<void>((resolve) => fake.server.close(() => resolve())));
beforeEach(() => {
  fake.requests = [];
  fake.failNext = [];
});

function account(extra: Record<string, string | number> = {}, password = 's3cret'): ResolvedAccount {
  return {
    id: 'dst_eloqua',
    sandbox: 'prod',
    name: 'Eloqua',
    type: 'eloqua',
    params: { companyName: 'Acme Corp', username: 'jane.doe', pod: 'p03', baseUrl: fake.url, retryBaseDelayMs: 5, ...extra },
    secrets: { password },
    marketingActions: [],
  };
}

const gold: AudienceRef = { id: 'aud_gold01', name: 'Gold members' };
const lapsed: AudienceRef = { id: 'aud_lapsed2', name: 'Lapsed / 90 days' };
const record = (n: number, overrides: Partial<ApiRecord> = {}): ApiRecord => ({
  key: `p${n}`,
  identities: { EloquaId: String(1000 + n) },
  attributes: { emailAddress: `user${n}@example.com`, firstName: `First${n}`, lastName: null },
  audiences: { [gold.id]: 'realized' },
  ...overrides,
});

describe('Eloqua connector against a test server playing the Eloqua API', () => {
  it('sends contact updates with Basic auth Company\\User, the mapped fields and one custom field per audience', async () => {
    const records = [record(1), record(2, { audiences: { [gold.id]: 'exited', [lapsed.id]: 'realized' } }), record(3, { attributes: { emailAddress: 'c@example.com', city: 'Basel', postalCode: 4051 } })];
    const result = await eloquaConnector.send(account(), records, { audiences: [gold, lapsed] });
    assert.equal(result.sent, 3);
    assert.deepEqual(result.failures, []);
    assert.deepEqual(fake.fields.map((f) => f.name), [audienceFieldName(gold), audienceFieldName(lapsed)]);
    assert.match(audienceFieldName(lapsed), /^Lapsed_90_days_audlapsed2$/);
    const [goldField, lapsedField] = fake.fields.map((f) => f.id);
    assert.deepEqual(fake.contacts.get('1002'), { id: '1002', emailAddress: 'user2@example.com', firstName: 'First2', fieldValues: [{ id: goldField, value: 'exited' }, { id: lapsedField, value: 'realized' }] });
    assert.deepEqual(fake.contacts.get('1003'), { id: '1003', emailAddress: 'c@example.com', city: 'Basel', postalCode: '4051', fieldValues: [{ id: goldField, value: 'realized' }] });
    assert.ok(fake.requests.every((r) => r.authorization === `Basic ${Buffer.from('Acme Corp\\jane.doe:s3cret').toString('base64')}`));
    // A second send finds the fields instead of creating new ones.
    fake.requests = [];
    await eloquaConnector.send(account(), [record(4)], { audiences: [gold, lapsed] });
    assert.equal(fake.fields.length, 2);
    assert.equal(fake.requests.filter((r) => r.method === 'POST').length, 0);
  });

  it('maps the documented validation error to a per-record failure and sends the rest', async () => {
    const records = [record(10), record(11, { attributes: { emailAddress: null, firstName: 'NoMail' } }), record(12, { identities: {} }), record(13)];
    const result = await eloquaConnector.send(account(), records, { audiences: [gold] });
    assert.equal(result.sent, 2);
    const byKey = Object.fromEntries(result.failures.map((f) => [f.key, f]));
    assert.equal(byKey.p11!.code, 'RT_DESTINATION_RECORD_INVALID');
    assert.deepEqual((byKey.p11!.details as { body: unknown[] }).body[0], { type: 'ObjectValidationError', container: { type: 'ObjectKey', objectType: 'Contact' }, property: 'emailAddress', requirement: { type: 'EmailAddressRequirement' }, value: '<null>' });
    assert.equal(byKey.p12!.code, 'RT_DESTINATION_RECORD_INVALID', 'no EloquaId: not sent at all');
    assert.ok(!fake.requests.some((r) => r.path.includes('/data/contact/undefined')));
  });

  it('retries a transient 503 (and a 429 with Retry-After) and succeeds', async () => {
    fake.failNext = [
      { match: '/api/REST/1.0/data/contact/1020', status: 503 },
      { match: '/api/REST/1.0/data/contact/1020', status: 503 },
      { match: '/api/REST/1.0/data/contact/1021', status: 429, headers: { 'retry-after': '0' } },
    ];
    const result = await eloquaConnector.send(account(), [record(20), record(21)], { audiences: [gold] });
    assert.equal(result.sent, 2);
    assert.deepEqual(result.failures, []);
    assert.equal(result.retries, 3);
    assert.equal(fake.requests.filter((r) => r.path === '/api/REST/1.0/data/contact/1020').length, 3);
  });

  it('when retries run out the send stops and the rest fail with RT_DESTINATION_UNREACHABLE', async () => {
    fake.failNext = Array.from({ length: 3 }, () => ({ match: '/api/REST/1.0/data/contact/1030', status: 503 }));
    const result = await eloquaConnector.send(account({ retryAttempts: 3, concurrency: 1 }), [record(30), record(31), record(32)], { audiences: [gold] });
    assert.equal(result.sent, 0);
    assert.deepEqual(result.failures.map((f) => [f.key, f.code]), [['p30', 'RT_DESTINATION_UNREACHABLE'], ['p31', 'RT_DESTINATION_UNREACHABLE'], ['p32', 'RT_DESTINATION_UNREACHABLE']]);
    assert.equal(fake.requests.filter((r) => r.method === 'PUT').length, 3, 'no request after the destination was given up');
  });

  it('past 250 custom contact fields Eloqua answers 400 and the records of that audience fail with RT_DESTINATION_FIELD_LIMIT', async () => {
    fake.preexistingCustomFields = ELOQUA_MAX_CUSTOM_FIELDS - fake.fields.length;
    const extra: AudienceRef = { id: 'aud_overflow', name: 'One too many' };
    try {
      const result = await eloquaConnector.send(account(), [record(40, { audiences: { [extra.id]: 'realized' } }), record(41)], { audiences: [gold, extra] });
      assert.equal(result.sent, 1);
      assert.deepEqual(result.failures.map((f) => [f.key, f.code]), [['p40', 'RT_DESTINATION_FIELD_LIMIT']]);
      assert.equal((result.failures[0]!.details as { status: number }).status, 400);
    } finally {
      fake.preexistingCustomFields = 0;
    }
  });

  it('refused credentials stop the send with RT_DESTINATION_AUTH_FAILED; the connection test says so', async () => {
    await assert.rejects(eloquaConnector.send(account({}, 'wrong'), [record(50)], { audiences: [gold] }), { code: 'RT_DESTINATION_AUTH_FAILED' });
    assert.deepEqual(await eloquaConnector.test(account({}, 'wrong')).then((r) => [r.ok, r.code]), [false, 'RT_DESTINATION_AUTH_FAILED']);
    assert.equal((await eloquaConnector.test(account())).ok, true);
  });

  it('times out a silent server and reports it unreachable', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const result = await eloquaConnector.test(account({ baseUrl: url, timeoutMs: 150 }));
      assert.deepEqual([result.ok, result.code], [false, 'RT_DESTINATION_UNREACHABLE']);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
