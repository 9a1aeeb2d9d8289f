import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureMembershipTables, MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE } from '../audiences/membership-tables.ts';
import type { Role } from '../ports/metadata-store.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';

/** A statement DuckDB needs seconds for, to test time-outs, cancellation and the queue. */
const SLOW = 'SELECT sum(hash(x)) AS s FROM range(20000000000) t(x)';

describe('query service: SQL cannot escape the sandbox', () => {
  let t: TestPlatform;
  const keys = new Map<string, string>();
  before(async () => {
    t = await createTestPlatform();
    await t.call('POST', '/sandboxes', { body: { name: 'other' } });
    await t.call('POST', '/queries', { body: { sql: 'CREATE TABLE secrets AS SELECT 42 AS answer' }, sandbox: 'other' });
    await t.call('POST', '/queries', { body: { sql: 'CREATE TABLE mine AS SELECT 1 AS x' } });
    for (const role of ['analyst', 'marketer', 'viewer'] as Role[]) keys.set(role, (await t.call('POST', '/api-keys', { body: { name: role, role } })).body.token);
    keys.set('scoped', (await t.call('POST', '/api-keys', { body: { name: 'scoped', role: 'data-engineer', sandboxes: ['prod'] } })).body.token);
  });
  after(() => t.dispose());

  const otherFile = () => path.join(t.config.dataDir, 'warehouse', 'other.duckdb');
  const attempts: [string, string, string?][] = [
    ['file read', `SELECT * FROM read_csv('/etc/passwd')`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['file read (auto)', `SELECT * FROM read_csv_auto('/etc/hosts')`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['parquet read', `SELECT * FROM read_parquet('/tmp/x.parquet')`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['text read', `SELECT * FROM read_text('/etc/passwd')`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['file by name', `SELECT * FROM '/etc/passwd'`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['directory listing', `SELECT * FROM glob('/etc/*')`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['file write', `COPY (SELECT 1) TO '/tmp/roundtrip-escape.csv'`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['database export', `EXPORT DATABASE '/tmp/roundtrip-export'`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['network read', `SELECT * FROM read_json('https://example.com/x.json')`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['extension install', `INSTALL httpfs`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['extension load', `LOAD httpfs`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['re-enable file access', `SET enable_external_access = true`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['widen allowed directories', `SET allowed_directories = ['/']`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['unlock configuration', `SET lock_configuration = false`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['global setting', `SET GLOBAL threads = 64`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['pragma', `PRAGMA enable_profiling`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['settings catalog', `SELECT * FROM duckdb_settings()`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['setting value', `SELECT current_setting('allowed_directories')`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['database files', `SELECT path FROM duckdb_databases()`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['environment', `SELECT getenv('HOME')`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['SQL in a string', `SELECT * FROM query('SELECT 1')`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['secret', `CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['shadow a dialect macro', `CREATE MACRO collect_list(x) AS 1`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['checkpoint', `CHECKPOINT`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['write a system table', `INSERT INTO _rt_failed_records SELECT * FROM _rt_failed_records`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['drop a system table', `DROP TABLE _rt_failed_records`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['write a system table by its qualified name', `DELETE FROM main._rt_failed_records`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['write the hot catalog', `DELETE FROM ${MEMBERSHIP_TABLE}`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['write the hot catalog after a CTE', `WITH a AS (SELECT 1) INSERT INTO ${MEMBERSHIP_HISTORY_TABLE} SELECT * FROM ${MEMBERSHIP_HISTORY_TABLE}`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['write membership by its plain name', `UPDATE _rt_segment_membership SET status = 'exited'`, 'RT_QUERY_FORBIDDEN_STATEMENT'],
    ['rewrite dataset history', `DELETE FROM mine`, 'RT_QUERY_UNSUPPORTED'],
  ];

  for (const [what, sql, code] of attempts) {
    it(`refuses ${what}`, async () => {
      const res = await t.call('POST', '/queries', { body: { sql } });
      assert.equal(res.body.error?.code, code, `${sql} → ${JSON.stringify(res.body)}`);
      assert.equal(res.status, code === 'RT_QUERY_UNSUPPORTED' ? 400 : 403);
    });
  }

  it('reads audience membership (the hot catalog) by its plain name, like any table', async () => {
    const warehouse = await t.platform.warehouse.sandbox('prod');
    await ensureMembershipTables(warehouse);
    await warehouse.query(`INSERT INTO ${MEMBERSHIP_TABLE} VALUES ('seg-q', 'mp', 7, 'realized', now(), 1), ('seg-q', 'mp', 8, 'exited', now(), 2)`);
    const res = await t.call('POST', '/queries', { body: { sql: `SELECT m.status, count(*) AS n FROM _rt_segment_membership m WHERE m.segment_id = 'seg-q' GROUP BY ALL ORDER BY 1` } });
    assert.deepEqual(res.body.last?.rows, [{ status: 'exited', n: 1 }, { status: 'realized', n: 1 }], JSON.stringify(res.body));
    const quoted = await t.call('POST', '/queries', { body: { sql: `SELECT count(*) AS n FROM "_rt_segment_membership" WHERE segment_id = 'seg-q'` } });
    assert.equal(quoted.body.last?.rows[0].n, 2, JSON.stringify(quoted.body));
  });

  it("refuses ATTACH of another sandbox's database file", async () => {
    const res = await t.call('POST', '/queries', { body: { sql: `ATTACH '${otherFile()}' AS other` } });
    assert.equal(res.body.error.code, 'RT_QUERY_FORBIDDEN_STATEMENT');
  });

  it("cannot see another sandbox's tables, and a scoped key cannot query another sandbox", async () => {
    const res = await t.call('POST', '/queries', { body: { sql: 'SELECT * FROM secrets' } });
    assert.equal(res.body.error.code, 'RT_QUERY_FAILED');
    assert.match(res.body.error.message, /secrets/);
    const scoped = await t.call('POST', '/queries', { body: { sql: 'SELECT * FROM secrets' }, sandbox: 'other', token: keys.get('scoped') });
    assert.equal(scoped.body.error.code, 'RT_FORBIDDEN_SANDBOX');
  });

  it('holds even below the guard: the engine itself refuses file access in a session', async () => {
    const session = await (await t.platform.warehouse.sandbox('prod')).openSession();
    try {
      await assert.rejects(session.query(`SELECT * FROM read_csv('/etc/passwd')`), /disabled by configuration/);
      await assert.rejects(session.query(`SET enable_external_access = true`), /locked/);
    } finally {
      session.close();
    }
  });

  it('lets analysts read but not write, and keeps marketers and viewers out of SQL', async () => {
    const analyst = keys.get('analyst')!;
    assert.equal((await t.call('POST', '/queries', { body: { sql: 'SELECT count(*) AS n FROM mine' }, token: analyst })).body.last.rows[0].n, 1);
    for (const sql of ['CREATE TABLE x AS SELECT 1 AS a', 'INSERT INTO mine SELECT 2 AS x', 'DROP TABLE mine', 'CREATE VIEW v AS SELECT 1', `ALTER TABLE mine ADD label 'PROFILE'`, 'WITH a AS (SELECT 1) INSERT INTO mine SELECT * FROM a']) {
      const res = await t.call('POST', '/queries', { body: { sql }, token: analyst });
      assert.equal(res.body.error?.code, 'RT_QUERY_READ_ONLY', sql);
    }
    for (const role of ['marketer', 'viewer']) {
      const res = await t.call('POST', '/queries', { body: { sql: 'SELECT 1' }, token: keys.get(role) });
      assert.equal(res.body.error.code, 'RT_FORBIDDEN_ROLE', role);
    }
  });
});

describe('query service: limits, log and cancellation', () => {
  let t: TestPlatform;
  before(async () => {
    t = await createTestPlatform({ queryConcurrency: 1, queryTimeoutMs: 60_000 });
  });
  after(() => t.dispose());

  it('caps returned rows (default 100, at most 500) and says when it did', async () => {
    const byDefault = await t.call('POST', '/queries', { body: { sql: 'SELECT * FROM range(1000)' } });
    assert.deepEqual([byDefault.body.last.rows.length, byDefault.body.last.truncated], [100, true]);
    const asked = await t.call('POST', '/queries', { body: { sql: 'SELECT * FROM range(1000)', limit: 5000 } });
    assert.equal(asked.body.last.rows.length, 500);
    const small = await t.call('POST', '/queries', { body: { sql: 'SELECT * FROM range(3)', limit: 10 } });
    assert.deepEqual([small.body.last.rows.length, small.body.last.truncated], [3, false]);
    const hidden = await t.call('POST', '/queries', { body: { sql: 'CREATE TABLE h AS SELECT 1 AS a; SELECT * FROM h' } });
    assert.deepEqual(hidden.body.last.columns.map((c: { name: string }) => c.name), ['a'], 'system columns stay hidden');
  });

  it('stops a query at its time-out with RT_QUERY_TIMEOUT and logs it', async () => {
    await assert.rejects(t.platform.queries.execute(LOCAL, 'prod', SLOW, { timeoutMs: 300 }), { code: 'RT_QUERY_TIMEOUT' });
    const [latest] = await t.platform.queries.log('prod', { limit: 1 });
    assert.deepEqual([latest?.status, latest?.errorCode], ['timeout', 'RT_QUERY_TIMEOUT']);
  });

  it('queues queries past the concurrency limit and cancels a running one', async () => {
    const slow = t.platform.queries.execute(LOCAL, 'prod', SLOW).catch((e: { code: string }) => e.code);
    await new Promise((r) => setTimeout(r, 200));
    let quickDone = false;
    const quick = t.platform.queries.execute(LOCAL, 'prod', 'SELECT 7 AS seven').then((r) => {
      quickDone = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(quickDone, false, 'with a limit of 1 the second query waits');
    const running = (await t.call('GET', '/queries?limit=5')).body.queries.find((q: { status: string; sql: string }) => q.status === 'running' && q.sql === SLOW);
    assert.ok(running, 'the query log shows the running query');
    const cancel = await t.call('DELETE', `/queries/${running.id}`);
    assert.deepEqual(cancel.body, { cancelled: true });
    assert.equal(await slow, 'RT_QUERY_CANCELLED');
    assert.deepEqual((await quick).last.rows, [{ seven: 7 }]);
    const logged = (await t.call('GET', `/queries/${running.id}`)).body;
    assert.deepEqual([logged.status, logged.actor], ['cancelled', 'local']);
  });

  it('logs text, parameters, user, duration, rows and status', async () => {
    const res = await t.call('POST', '/queries', { body: { sql: "SELECT '$who' AS who", params: { who: 'me' } } });
    assert.deepEqual(res.body.last.rows, [{ who: 'me' }]);
    const entry = (await t.call('GET', `/queries/${res.body.queryId}`)).body;
    assert.equal(entry.sql, "SELECT '$who' AS who");
    assert.deepEqual(entry.params, { who: 'me' });
    assert.equal(entry.status, 'success');
    assert.equal(entry.rowCount, 1);
    assert.ok(entry.actor.startsWith('key_'));
    assert.ok(entry.durationMs >= 0);
    const failed = await t.call('POST', '/queries', { body: { sql: 'SELECT * FROM nowhere' } });
    const failedEntry = (await t.call('GET', '/queries?limit=1')).body.queries[0];
    assert.deepEqual([failed.body.error.code, failedEntry.status, failedEntry.errorCode], ['RT_QUERY_FAILED', 'failed', 'RT_QUERY_FAILED']);
  });
});

const LOCAL = { id: 'local', name: 'local operator', role: 'admin' as const, sandboxes: ['*'] };
