/**
 * Wire-level tests with a raw socket client and a fake backend: SSLRequest refusal, protocol negotiation, the
 * extended protocol (Describe statement, typed parameters, Execute with a row limit, binary results), error
 * recovery until Sync, transaction states, CancelRequest, and Data Distiller settings kept for the session.
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '../../access/principal.ts';
import { RoundtripError } from '../../core/errors.ts';
import type { QueryOptions, QueryOutcome, StatementResult } from '../types.ts';
import { startPgWireServer, type PgWireBackend, type PgWireServer } from './server.ts';

const principal: Principal = { id: 'key_1', name: 'k', role: 'analyst', sandboxes: ['prod'] };

interface Call {
  sql: string;
  options: QueryOptions;
}

function selectResult(statement: string, count: number): StatementResult {
  return {
    statement,
    kind: 'select',
    columns: [
      { name: 'n', type: 'INTEGER', columnType: { kind: 'integer' } },
      { name: 'label', type: 'VARCHAR', columnType: { kind: 'string' } },
    ],
    rows: Array.from({ length: count }, (_, n) => ({ n, label: `row ${n}` })),
    rowCount: count,
    truncated: false,
  };
}

function fakeBackend(calls: Call[], cancels: string[]): PgWireBackend {
  let release: (() => void) | undefined;
  return {
    authenticate: (password) => {
      if (password !== 'secret') return Promise.reject(new RoundtripError('RT_AUTH_INVALID', 'The API key is unknown, malformed or revoked.'));
      return Promise.resolve(principal);
    },
    openSandbox: (_p, sandbox) => (sandbox === 'prod' ? Promise.resolve() : Promise.reject(new RoundtripError('RT_SANDBOX_NOT_FOUND', `Sandbox "${sandbox}" does not exist.`))),
    execute: async (_p, _s, sql, options): Promise<QueryOutcome> => {
      calls.push({ sql, options });
      if (sql.includes('boom')) throw new RoundtripError('RT_QUERY_TIMEOUT', 'The query ran past its time-out.');
      if (sql.includes('slow')) await new Promise<void>((resolve) => (release = resolve));
      const results = sql.split(';\n').map((statement): StatementResult =>
        /^\s*SET /i.test(statement)
          ? { statement, kind: 'set', columns: [], rows: [], rowCount: 0, truncated: false, message: 'SET' }
          : selectResult(statement, 10),
      );
      return { queryId: 'q_1', results, last: results[results.length - 1]!, durationMs: 1 };
    },
    catalogTables: () => Promise.resolve([{ name: 'orders', description: 'Orders (ds_1)', columns: [{ name: 'id', type: { kind: 'integer' } }] }]),
    databases: () => Promise.resolve(['prod']),
    cancel: (_p, _s, sql) => {
      cancels.push(sql);
      release?.();
      return Promise.resolve();
    },
  };
}

// ------------------------------------------------------------------------------------------- raw client

const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const int16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const cstr = (s: string): Buffer => Buffer.from(`${s}\0`);
const frame = (type: string, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
};
const untyped = (...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([int32(body.length + 4), body]);
};
const startup = (params: Record<string, string>, version = 196608): Buffer =>
  untyped(int32(version), ...Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0]));

interface Message {
  type: string;
  body: Buffer;
}

class RawClient {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static async open(port: number): Promise<RawClient> {
    const socket = tcpConnect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  send(...buffers: Buffer[]): void {
    this.socket.write(Buffer.concat(buffers));
  }

  private async need(n: number): Promise<void> {
    while (this.buffer.length < n) {
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async byte(): Promise<string> {
    await this.need(1);
    const b = String.fromCharCode(this.buffer[0]!);
    this.buffer = this.buffer.subarray(1);
    return b;
  }

  async message(): Promise<Message> {
    await this.need(5);
    const length = this.buffer.readInt32BE(1);
    await this.need(1 + length);
    const message = { type: String.fromCharCode(this.buffer[0]!), body: this.buffer.subarray(5, 1 + length) };
    this.buffer = this.buffer.subarray(1 + length);
    return message;
  }

  /** Messages up to and including the next ReadyForQuery. */
  async untilReady(): Promise<Message[]> {
    const messages: Message[] = [];
    for (;;) {
      const m = await this.message();
      messages.push(m);
      if (m.type === 'Z') return messages;
    }
  }

  async login(): Promise<Message[]> {
    this.send(startup({ user: 'tester', database: 'prod' }));
    const auth = await this.message();
    assert.deepEqual([auth.type, auth.body.readInt32BE(0)], ['R', 3], 'asks for a cleartext password');
    this.send(frame('p', cstr('secret')));
    return this.untilReady();
  }
}

const types = (messages: Message[]): string => messages.map((m) => m.type).join('');
const errorField = (m: Message, field: string): string | undefined => {
  let i = 0;
  while (i < m.body.length && m.body[i] !== 0) {
    const code = String.fromCharCode(m.body[i]!);
    const end = m.body.indexOf(0, i + 1);
    if (code === field) return m.body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return undefined;
};
const tag = (m: Message): string => m.body.toString('utf8', 0, m.body.length - 1);
const status = (messages: Message[]): string => String.fromCharCode(messages[messages.length - 1]!.body[0]!);

const parse = (name: string, sql: string, oids: number[] = []): Buffer => frame('P', cstr(name), cstr(sql), int16(oids.length), ...oids.map(int32));
const bind = (portal: string, statement: string, values: (string | null)[], resultFormats: number[] = []): Buffer =>
  frame(
    'B',
    cstr(portal),
    cstr(statement),
    int16(0),
    int16(values.length),
    ...values.map((v) => (v === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(v)), Buffer.from(v)]))),
    int16(resultFormats.length),
    ...resultFormats.map(int16),
  );
const describeMessage = (kind: 'S' | 'P', name: string): Buffer => frame('D', Buffer.from(kind), cstr(name));
const execute = (portal: string, maxRows = 0): Buffer => frame('E', cstr(portal), int32(maxRows));
const sync = (): Buffer => frame('S');
const query = (sql: string): Buffer => frame('Q', cstr(sql));

describe('Postgres wire protocol (raw messages, fake backend)', () => {
  let server: PgWireServer;
  const calls: Call[] = [];
  const cancels: string[] = [];
  const clients: RawClient[] = [];
  const open = async (): Promise<RawClient> => {
    const c = await RawClient.open(server.port);
    clients.push(c);
    return c;
  };

  before(async () => {
    server = await startPgWireServer({ backend: fakeBackend(calls, cancels), port: 0 });
  });
  after(async () => {
    clients.forEach((c) => c.socket.destroy());
    await server.close();
  });

  it('refuses SSLRequest with N, then logs in with parameter statuses, backend key and ReadyForQuery', async () => {
    const c = await open();
    c.send(untyped(int32(80877103)));
    assert.equal(await c.byte(), 'N');
    const messages = await c.login();
    assert.equal(types(messages[0] ? [messages[0]] : []), 'R');
    assert.equal(messages[0]!.body.readInt32BE(0), 0, 'AuthenticationOk');
    const statuses = Object.fromEntries(
      messages
        .filter((m) => m.type === 'S')
        .map((m) => {
          const [k, v] = m.body.toString('utf8').split('\0');
          return [k, v];
        }),
    );
    assert.equal(statuses.server_encoding, 'UTF8');
    assert.equal(statuses.integer_datetimes, 'on');
    assert.match(statuses.server_version ?? '', /^15\.0/);
    assert.ok(messages.some((m) => m.type === 'K'));
    assert.equal(status(messages), 'I');
  });

  it('takes settings from the startup packet and options=-c, but keeps UTF8 and UTC', async () => {
    const c = await open();
    c.send(startup({ user: 'u', database: 'prod', application_name: 'DBeaver', extra_float_digits: '3', TimeZone: 'Europe/Berlin', options: '-c statement_timeout=5s' }));
    await c.message();
    c.send(frame('p', cstr('secret')));
    const login = await c.untilReady();
    const statuses = login.filter((m) => m.type === 'S').map((m) => m.body.toString('utf8').split('\0').slice(0, 2).join('='));
    assert.ok(statuses.includes('application_name=DBeaver'));
    assert.ok(statuses.includes('TimeZone=UTC'));
    c.send(query('SHOW extra_float_digits; SHOW statement_timeout; SET TIME ZONE \'Europe/Paris\'; SHOW timezone'));
    const shown = await c.untilReady();
    const values = shown.filter((m) => m.type === 'D').map((m) => m.body.toString('utf8', 6));
    assert.deepEqual(values, ['3', '5s', 'UTC']);
    assert.ok(shown.some((m) => m.type === 'N'), 'a NOTICE says the time zone stays UTC');
  });

  it('answers a newer protocol minor version with NegotiateProtocolVersion', async () => {
    const c = await open();
    c.send(startup({ user: 'u', database: 'prod', '_pq_.future_feature': 'x' }, (3 << 16) | 2));
    const negotiate = await c.message();
    assert.equal(negotiate.type, 'v');
    assert.equal(negotiate.body.readInt32BE(0), 0);
  });

  it('refuses a wrong password with FATAL 28P01 and an unknown sandbox with 3D000', async () => {
    const c = await open();
    c.send(startup({ user: 'u', database: 'prod' }));
    await c.message();
    c.send(frame('p', cstr('nope')));
    const refused = await c.message();
    assert.equal(refused.type, 'E');
    assert.equal(errorField(refused, 'S'), 'FATAL');
    assert.equal(errorField(refused, 'C'), '28P01');
    assert.match(errorField(refused, 'M') ?? '', /RT_AUTH_INVALID/);
    const d = await open();
    d.send(startup({ user: 'u', database: 'elsewhere' }));
    await d.message();
    d.send(frame('p', cstr('secret')));
    const missing = await d.message();
    assert.equal(errorField(missing, 'C'), '3D000');
  });

  it('runs the extended protocol: Describe statement, typed parameters, Execute with a row limit, binary results', async () => {
    const c = await open();
    await c.login();
    c.send(parse('s1', 'SELECT n, label FROM t WHERE n > $1 AND label <> $2', [23]), describeMessage('S', 's1'), sync());
    const described = await c.untilReady();
    assert.equal(types(described), '1tTZ');
    const params = described[1]!.body;
    assert.deepEqual([params.readInt16BE(0), params.readInt32BE(2), params.readInt32BE(6)], [2, 23, 25], 'declared int4, unspecified as text');
    assert.match(calls[calls.length - 1]!.sql, /LIMIT 0$/, 'describes a SELECT by running it with LIMIT 0');
    assert.match(calls[calls.length - 1]!.sql, /n > CAST\(NULL AS INTEGER\) AND label <> NULL/);

    c.send(bind('p1', 's1', ['5', "x' OR '1'='1"], [1, 0]), describeMessage('P', 'p1'), execute('p1', 3), sync());
    const first = await c.untilReady();
    assert.equal(types(first), '2TDDDsZ', 'three rows, then PortalSuspended');
    assert.equal(calls[calls.length - 1]!.sql, "SELECT n, label FROM t WHERE n > (5) AND label <> 'x'' OR ''1''=''1'");
    const row = first[2]!.body;
    assert.equal(row.readInt32BE(2), 4, 'int4 sent in binary: 4 bytes');
    assert.equal(row.readInt32BE(6), 0);
    assert.equal(row.toString('utf8', 14, 14 + row.readInt32BE(10)), 'row 0', 'text column stays text');
    c.send(execute('p1', 0), sync());
    const rest = await c.untilReady();
    assert.equal(types(rest), 'DDDDDDDCZ');
    assert.equal(tag(rest[7]!), 'SELECT 10');
    assert.equal(calls.filter((x) => x.sql.includes('(5)')).length, 1, 'the portal ran once');
  });

  it('refuses a parameter that does not match its declared type', async () => {
    const c = await open();
    await c.login();
    c.send(parse('', 'SELECT $1', [20]), bind('', '', ['1; DROP TABLE x']), execute(''), sync());
    const messages = await c.untilReady();
    assert.equal(types(messages), '1EZ');
    assert.equal(errorField(messages[1]!, 'C'), '22P02');
    assert.match(errorField(messages[1]!, 'M') ?? '', /^RT_PGWIRE_PARAMETER/);
  });

  it('after an error skips to Sync, then works again; errors carry SQLSTATE and RT_ code', async () => {
    const c = await open();
    await c.login();
    c.send(parse('', 'SELECT boom'), bind('', '', []), execute(''), parse('', 'SELECT 1'), bind('', '', []), execute(''), sync());
    const failed = await c.untilReady();
    assert.equal(types(failed), '12EZ', 'the messages after the error are skipped until Sync');
    assert.equal(errorField(failed[2]!, 'C'), '57014');
    assert.match(errorField(failed[2]!, 'M') ?? '', /^RT_QUERY_TIMEOUT: /);
    assert.match(errorField(failed[2]!, 'D') ?? '', /RT_QUERY_TIMEOUT/);
    c.send(query('SELECT 1'));
    assert.equal(types(await c.untilReady()), 'T' + 'D'.repeat(10) + 'CZ');
  });

  it('keeps transaction states: BEGIN → T, an error → E (25P02 until ROLLBACK), ROLLBACK → I', async () => {
    const c = await open();
    await c.login();
    c.send(query('BEGIN'));
    assert.equal(status(await c.untilReady()), 'T');
    c.send(query('SELECT boom'));
    assert.equal(status(await c.untilReady()), 'E');
    c.send(query('SELECT 1'));
    const refused = await c.untilReady();
    assert.equal(errorField(refused[0]!, 'M')?.includes('current transaction is aborted'), true);
    c.send(query('ROLLBACK'));
    const back = await c.untilReady();
    assert.equal(tag(back[0]!), 'ROLLBACK');
    assert.equal(status(back), 'I');
  });

  it('answers session statements and a mixed script in order, without the query service for SET/SHOW/BEGIN', async () => {
    const c = await open();
    await c.login();
    const before = calls.length;
    c.send(query("SET application_name = 'bi tool'; SHOW application_name; SELECT 1; COMMIT"));
    const messages = await c.untilReady();
    assert.equal(types(messages), 'SC' + 'TDC' + 'T' + 'D'.repeat(10) + 'C' + 'NC' + 'Z');
    assert.equal(messages[3]!.body.toString('utf8', 6, 13), 'bi tool');
    assert.equal(calls.length, before + 1);
    assert.equal(calls[calls.length - 1]!.sql, 'SELECT 1');
    assert.deepEqual(calls[calls.length - 1]!.options, { client: 'pgwire', maxRows: 50_000 });
  });

  it("keeps the dialect's SET name = value for the rest of the session", async () => {
    const c = await open();
    await c.login();
    c.send(query('SET resolve_fallback_snapshot_on_failure = true'));
    assert.equal(tag((await c.untilReady())[0]!), 'SET');
    c.send(query('SELECT 2'));
    const messages = await c.untilReady();
    assert.equal(calls[calls.length - 1]!.sql, 'SET resolve_fallback_snapshot_on_failure = true;\nSELECT 2');
    assert.equal(types(messages), 'T' + 'D'.repeat(10) + 'CZ', 'the remembered SET adds no result');
  });

  it('lists tables for psql \\dt from the catalog', async () => {
    const c = await open();
    await c.login();
    c.send(
      query(`SELECT n.nspname as "Schema", c.relname as "Name", CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' END as "Type", pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema' AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`),
    );
    const messages = await c.untilReady();
    assert.equal(types(messages), 'TDCZ');
    const row = messages[1]!.body;
    const values: string[] = [];
    let at = 2;
    for (let i = 0; i < row.readInt16BE(0); i++) {
      const length = row.readInt32BE(at);
      values.push(row.toString('utf8', at + 4, at + 4 + length));
      at += 4 + length;
    }
    assert.deepEqual(values, ['main', 'orders', 'table', 'tester']);
  });

  it('acknowledges an empty query, Flush, Close and Terminate', async () => {
    const c = await open();
    await c.login();
    c.send(query('  ;  '));
    assert.equal(types(await c.untilReady()), 'IZ');
    c.send(parse('gone', 'SELECT 1'), frame('H'));
    assert.equal((await c.message()).type, '1');
    c.send(frame('C', Buffer.from('S'), cstr('gone')), sync());
    assert.equal(types(await c.untilReady()), '3Z');
    c.send(frame('X'));
    await new Promise((resolve) => c.socket.once('close', resolve));
  });

  it('passes a CancelRequest for the running statement to the backend', async () => {
    const c = await open();
    const login = await c.login();
    const key = login.find((m) => m.type === 'K')!.body;
    c.send(query('SELECT slow'));
    while (!calls.some((x) => x.sql === 'SELECT slow')) await new Promise((resolve) => setTimeout(resolve, 5));
    const canceller = await open();
    canceller.send(untyped(int32(80877102), key.subarray(0, 4), key.subarray(4, 8)));
    await new Promise((resolve) => canceller.socket.once('close', resolve));
    await c.untilReady();
    assert.deepEqual(cancels, ['SELECT slow']);
  });

  it('serves several connections concurrently', async () => {
    const many = await Promise.all([1, 2, 3, 4].map(() => open()));
    await Promise.all(many.map((c) => c.login()));
    many.forEach((c, i) => c.send(query(`SELECT ${i}`)));
    const answers = await Promise.all(many.map((c) => c.untilReady()));
    assert.ok(answers.every((a) => types(a).endsWith('CZ')));
  });
});
