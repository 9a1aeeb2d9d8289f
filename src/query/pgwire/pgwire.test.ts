import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { LOCAL_OPERATOR } from '../../access/principal.ts';
import { LOYALTY_RECORD, LOYALTY_SCHEMA } from '../../testing/fixtures.ts';
import { createTestPlatform, type TestPlatform } from '../../testing/platform.ts';
import { tempDir } from '../../testing/temp.ts';
import { platformBackend, readTlsFiles, startPgWireServer, type PgWireServer } from './server.ts';

const run = promisify(execFile);
const PSQL = '/usr/bin/psql';
const OPENSSL = '/usr/bin/openssl';

describe('Postgres wire endpoint (node-postgres and psql against a real platform)', () => {
  let t: TestPlatform;
  let server: PgWireServer;
  let devKey: string;
  let viewerKey: string;
  const clients: pg.Client[] = [];

  const connect = async (options: { password?: string; database?: string; user?: string } = {}): Promise<pg.Client> => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: server.port,
      user: options.user ?? 'anyone',
      database: options.database ?? 'prod',
      password: options.password ?? t.adminToken,
      connectionTimeoutMillis: 5000,
    });
    client.on('error', () => {});
    await client.connect();
    clients.push(client);
    return client;
  };

  const refusal = async (options: Parameters<typeof connect>[0]): Promise<pg.DatabaseError> => {
    const error = await connect(options).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof Error, 'the connection was refused');
    return error as pg.DatabaseError;
  };

  before(async () => {
    t = await createTestPlatform();
    const schemaId = (await t.call('POST', '/schemas', { body: LOYALTY_SCHEMA })).body.id;
    const created = await t.call('POST', '/datasets', { body: { name: 'Airline Loyalty Data', schemaId } });
    assert.equal(created.status, 201);
    assert.equal((await t.call('POST', `/datasets/${created.body.id}/records`, { body: { records: [LOYALTY_RECORD] } })).status, 201);
    await t.platform.sandboxes.create(LOCAL_OPERATOR, { name: 'dev' });
    devKey = (await t.platform.apiKeys.create(LOCAL_OPERATOR, { name: 'dev analyst', role: 'analyst', sandboxes: ['dev'] })).token;
    viewerKey = (await t.platform.apiKeys.create(LOCAL_OPERATOR, { name: 'viewer', role: 'viewer', sandboxes: ['prod'] })).token;
    server = await startPgWireServer({ backend: platformBackend(t.platform), port: 0 });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await server.close();
    await t.dispose();
  });

  it('runs a simple query with typed columns (OIDs) and Postgres text values', async () => {
    const client = await connect();
    const result = await client.query(
      `SELECT 1 AS one, 12345678901::BIGINT AS big, 2.5::DOUBLE AS dbl, 1.25::DECIMAL(10,2) AS dec, true AS yes, 'x' AS s,
              DATE '2024-01-02' AS day, TIMESTAMPTZ '2024-01-02 03:04:05.5+00' AS ts, TIMESTAMP '2024-01-02 03:04:05' AS local_ts,
              {'a': 1, 'b': [1, 2]} AS st, MAP {'k': 2} AS mp, [1, 2, 3] AS li, NULL AS nothing`,
    );
    const oids = Object.fromEntries(result.fields.map((f) => [f.name, f.dataTypeID]));
    assert.deepEqual(oids, { one: 23, big: 20, dbl: 701, dec: 1700, yes: 16, s: 25, day: 1082, ts: 1184, local_ts: 1114, st: 114, mp: 114, li: 114, nothing: oids.nothing });
    assert.equal(result.command, 'SELECT');
    assert.equal(result.rowCount, 1);
    const row = result.rows[0];
    assert.equal(row.one, 1);
    assert.equal(row.big, '12345678901', 'pg returns int8 as a string by default');
    assert.equal(row.dbl, 2.5);
    assert.equal(row.dec, '1.25');
    assert.equal(row.yes, true);
    assert.equal((row.ts as Date).toISOString(), '2024-01-02T03:04:05.500Z');
    assert.deepEqual(row.st, { a: 1, b: [1, 2] });
    assert.deepEqual(row.mp, { k: 2 });
    assert.deepEqual(row.li, [1, 2, 3]);
    assert.equal(row.nothing, null);
    // The raw text format: booleans t/f, ISO dates, timestamps the way Postgres prints them.
    const raw = await client.query({ text: `SELECT true AS b, DATE '2024-01-02' AS d, TIMESTAMPTZ '2024-01-02 03:04:05+00' AS ts`, types: { getTypeParser: () => (v: string) => v } });
    assert.deepEqual(raw.rows[0], { b: 't', d: '2024-01-02', ts: '2024-01-02 03:04:05+00' });
  });

  it('reads a dataset through the dialect, nested columns as json', async () => {
    const client = await connect();
    const result = await client.query(`SELECT _id, _roundtrip.membershipNumber AS member, person, _roundtrip.favouriteRoutes AS routes FROM airline_loyalty_data`);
    const rows = result.rows.map((r): unknown[] => [r._id, r.member, r.person.name.firstName, r.routes]);
    assert.deepEqual(rows, [['rec-1', 'B789279247', 'Pat', ['JFK-FRA', 'FRA-JFK']]]);
    assert.equal(result.fields.find((f) => f.name === 'person')?.dataTypeID, 114);
  });

  it('binds $n parameters as literals: typed, untyped, NULL, and quotes that cannot escape', async () => {
    const client = await connect();
    const result = await client.query('SELECT $1::INTEGER + 1 AS n, $2 AS s, $3::VARCHAR IS NULL AS missing', [41, "it's'; DROP TABLE airline_loyalty_data; --", null]);
    assert.deepEqual(result.rows[0], { n: 42, s: "it's'; DROP TABLE airline_loyalty_data; --", missing: true });
    const filtered = await client.query('SELECT count(*)::INTEGER AS n FROM airline_loyalty_data WHERE _id = $1', ['rec-1']);
    assert.equal(filtered.rows[0].n, 1);
    // A named prepared statement is parsed once and run with new values.
    for (const [value, expected] of [[1, 2], [10, 11]] as const) {
      const named = await client.query({ name: 'plus-one', text: 'SELECT $1::BIGINT + 1 AS n', values: [value] });
      assert.equal(named.rows[0].n, String(expected));
    }
  });

  it('sends errors with a SQLSTATE and the RT_ code, and the connection stays usable', async () => {
    const client = await connect();
    const error = (await client.query('SELECT * FROM no_such_table').catch((e: unknown) => e)) as pg.DatabaseError;
    assert.ok(error instanceof Error);
    assert.equal(error.code, '42P01');
    assert.match(error.message, /^RT_QUERY_FAILED: /);
    assert.match(error.detail ?? '', /RT_QUERY_FAILED/);
    const syntax = (await client.query('SELECT (1').catch((e: unknown) => e)) as pg.DatabaseError;
    assert.match(syntax.message, /^(RT_QUERY_SYNTAX|RT_QUERY_FAILED): /);
    const forbidden = (await client.query(`SELECT * FROM read_csv('/etc/passwd')`).catch((e: unknown) => e)) as pg.DatabaseError;
    assert.ok(forbidden instanceof Error);
    assert.match(forbidden.message, /^RT_/);
    assert.equal((await client.query('SELECT 2 AS two')).rows[0].two, 2);
    const badParam = (await client.query({ text: 'SELECT $1 AS x', values: ['abc'], types: undefined }).catch((e: unknown) => e)) as Error;
    assert.ok(!(badParam instanceof Error), 'an untyped parameter is a string literal');
  });

  it('refuses a wrong password (28P01), an unknown sandbox (3D000) and a key for another sandbox', async () => {
    const wrong = await refusal({ password: 'rt_0000000000000000_notARealKeyNotARealKeyNotARealK' });
    assert.equal(wrong.code, '28P01');
    assert.match(wrong.message, /RT_AUTH_INVALID/);
    assert.equal((await refusal({ password: '' })).code, '28P01');
    assert.equal((await refusal({ database: 'nowhere' })).code, '3D000');
    const otherSandbox = await refusal({ password: devKey, database: 'prod' });
    assert.equal(otherSandbox.code, '42501');
    assert.match(otherSandbox.message, /RT_FORBIDDEN_SANDBOX/);
    const noQueryRole = await refusal({ password: viewerKey, database: 'prod' });
    assert.match(noQueryRole.message, /RT_FORBIDDEN_ROLE/);
    // The same dev key works on its own sandbox, which has no datasets.
    const dev = await connect({ password: devKey, database: 'dev' });
    assert.equal((await dev.query('SELECT current_database() AS db')).rows[0].db, 'dev');
    assert.equal((await dev.query(`SELECT count(*)::INTEGER AS n FROM pg_catalog.pg_tables`)).rows[0].n, 0);
    // Adobe's `sandbox:all` database spelling names the same sandbox.
    const adobe = await connect({ database: 'prod:all' });
    assert.equal((await adobe.query('SELECT current_database() AS db')).rows[0].db, 'prod');
  });

  it("answers drivers' session statements and catalog probes locally", async () => {
    const client = await connect();
    assert.match((await client.query('SELECT version()')).rows[0].version, /^PostgreSQL 15\.0 \(Roundtrip/);
    assert.equal((await client.query('SHOW transaction_isolation')).rows[0].transaction_isolation, 'read committed');
    await client.query(`SET DATESTYLE TO 'ISO'`);
    await client.query('SET extra_float_digits = 3');
    assert.equal((await client.query('SHOW extra_float_digits')).rows[0].extra_float_digits, '3');
    assert.equal((await client.query('BEGIN')).command, 'BEGIN');
    assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
    assert.equal((await client.query('COMMIT')).command, 'COMMIT');
    const types = await client.query(`SELECT oid, typname FROM pg_catalog.pg_type WHERE typname IN ('int8', 'text', 'json') ORDER BY oid`);
    assert.deepEqual(types.rows, [{ oid: 20, typname: 'int8' }, { oid: 25, typname: 'text' }, { oid: 114, typname: 'json' }]);
    const columns = await client.query(
      `SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       WHERE c.relname = $1 AND a.attnum > 0 ORDER BY a.attnum`,
      ['airline_loyalty_data'],
    );
    assert.deepEqual(columns.rows.find((r) => r.attname === '_id'), { attname: '_id', type: 'text' });
    assert.deepEqual(columns.rows.find((r) => r.attname === 'person'), { attname: 'person', type: 'json' });
    // The dialect's own SHOW TABLES still reaches the query service.
    const tables: unknown[] = (await client.query('SHOW TABLES')).rows.map((r) => r.name as unknown);
    assert.deepEqual(tables, ['airline_loyalty_data']);
  });

  it('serves several connections at once', async () => {
    const many = await Promise.all([1, 2, 3, 4, 5].map(() => connect()));
    const answers = await Promise.all(many.map((c, i) => c.query(`SELECT ${i} AS i, count(*)::INTEGER AS n FROM range(1000)`)));
    assert.deepEqual(
      answers.map((a) => a.rows[0] as unknown),
      [0, 1, 2, 3, 4].map((i) => ({ i, n: 1000 })),
    );
  });

  it('cancels a running statement on CancelRequest (psql Ctrl-C, pg_cancel_backend-style)', async () => {
    const client = await connect();
    const running = client.query('SELECT sum(i) FROM range(100000000000) t(i)').then(
      () => undefined,
      (e: unknown) => e as pg.DatabaseError,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
    await new Promise<void>((resolve) => {
      const socket = createConnection(server.port, '127.0.0.1', () => {
        const packet = Buffer.alloc(16);
        packet.writeInt32BE(16, 0);
        packet.writeInt32BE(80877102, 4);
        packet.writeInt32BE(processID, 8);
        packet.writeInt32BE(secretKey, 12);
        socket.end(packet);
      });
      socket.on('close', () => resolve());
    });
    const error = await running;
    assert.equal(error?.code, '57014');
    assert.match(error?.message ?? '', /^RT_QUERY_CANCELLED/);
    assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
  });

  it('speaks TLS when given a certificate (SSLRequest answered S)', { skip: existsSync(OPENSSL) ? false : 'openssl is not installed' }, async () => {
    const dir = tempDir('roundtrip-pgtls-');
    try {
      const cert = path.join(dir.dir, 'cert.pem');
      const key = path.join(dir.dir, 'key.pem');
      await run(OPENSSL, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { timeout: 20_000 });
      const tlsServer = await startPgWireServer({ backend: platformBackend(t.platform), port: 0, tls: { ...readTlsFiles(cert, key), require: true } });
      try {
        const secure = new pg.Client({ host: '127.0.0.1', port: tlsServer.port, user: 'u', database: 'prod', password: t.adminToken, ssl: { rejectUnauthorized: false } });
        await secure.connect();
        assert.equal((await secure.query('SHOW ssl')).rows[0].ssl, 'on');
        assert.equal((await secure.query('SELECT 40 + 2 AS n')).rows[0].n, 42);
        await secure.end();
        const plain = new pg.Client({ host: '127.0.0.1', port: tlsServer.port, user: 'u', database: 'prod', password: t.adminToken, ssl: false });
        const refused = (await plain.connect().catch((e: unknown) => e)) as pg.DatabaseError;
        assert.equal(refused.code, '28000', 'plain connections are refused when TLS is required');
      } finally {
        await tlsServer.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('lets psql run a query, \\dt, \\d and \\l', { skip: existsSync(PSQL) ? false : `${PSQL} is not installed (apt-get install postgresql-client)` }, async () => {
    const env = { ...process.env, PGPASSWORD: t.adminToken, PGCONNECT_TIMEOUT: '5', PSQLRC: '/dev/null' };
    const base = ['-h', '127.0.0.1', '-p', String(server.port), '-U', 'anyone', '-d', 'prod', '-X'];
    const { stdout } = await run(PSQL, [...base, '-c', 'select 1', '-c', '\\dt'], { env, timeout: 15_000 });
    assert.match(stdout, /^\s*1\s*\n-+\n\s*1\n\(1 row\)/);
    assert.match(stdout, /List of relations/);
    assert.match(stdout, /main\s*\|\s*airline_loyalty_data\s*\|\s*table\s*\|\s*anyone/);
    const described = await run(PSQL, [...base, '-c', '\\d airline_loyalty_data', '-c', '\\dt+', '-c', '\\l', '-c', '\\dn'], { env, timeout: 15_000 });
    assert.match(described.stdout, /Table "main\.airline_loyalty_data"/);
    assert.match(described.stdout, /_id\s*\|\s*text/);
    assert.match(described.stdout, /person\s*\|\s*json/);
    assert.match(described.stdout, /Airline Loyalty Data \(ds_/);
    assert.match(described.stdout, /List of databases[\s\S]*dev[\s\S]*prod/);
    assert.match(described.stdout, /List of schemas[\s\S]*main/);
    const failed = await run(PSQL, [...base, '-v', 'ON_ERROR_STOP=1', '-c', 'select * from nope'], { env, timeout: 15_000 }).catch((e: { stderr: string }) => e);
    assert.match(failed.stderr, /ERROR:\s+RT_QUERY_FAILED/);
  });
});
