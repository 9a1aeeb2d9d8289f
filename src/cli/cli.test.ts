import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOYALTY_RECORD, LOYALTY_SCHEMA } from '../testing/fixtures.ts';
import { cliEnv, cliRunner, ROUNDTRIP_BIN } from '../testing/cli.ts';
import { tempDir } from '../testing/temp.ts';


describe('roundtrip CLI', () => {
  const temp = tempDir();
  const dataDir = path.join(temp.dir, 'data');
  // The CLI must not pick up a PostgreSQL URL meant for other tests.
  const env = cliEnv(dataDir);
  const cli = cliRunner(env);
  let adminToken = '';
  before(async () => {
    const init = await cli('init');
    assert.equal(init.code, 0, init.stderr);
    adminToken = /rt_[0-9a-f]{16}_[A-Za-z0-9_-]{32}/.exec(init.stdout)![0];
  });
  after(() => temp.remove());

  it('lists every command with one line of help', async () => {
    const { stdout } = await cli('--help');
    for (const command of ['init', 'serve', 'sandbox', 'key', 'audit', 'namespace', 'schema', 'dataset']) assert.match(stdout, new RegExp(`\\n  ${command}\\b[^\\n]*\\S`));
  });

  it('refuses to initialise twice, with a stable code and exit status 1', async () => {
    const again = await cli('init');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^RT_DATA_DIR_EXISTS: /);
    assert.ok(!again.stderr.includes('    at '), 'no stack trace');
  });

  it('does the admin actions on the data directory itself when no server runs', async () => {
    assert.equal((await cli('sandbox', 'create', 'dev')).code, 0);
    const sandboxes = JSON.parse((await cli('--json', 'sandbox', 'list')).stdout) as { name: string }[];
    assert.deepEqual(sandboxes.map((s) => s.name), ['dev', 'prod']);
    const schemaFile = path.join(temp.dir, 'schema.json');
    writeFileSync(schemaFile, JSON.stringify(LOYALTY_SCHEMA));
    const schema = JSON.parse((await cli('--json', '--sandbox', 'dev', 'schema', 'create', '--file', schemaFile)).stdout) as { id: string };
    assert.equal((await cli('--sandbox', 'dev', 'dataset', 'create', 'members', '--schema', schema.id, '--profile')).code, 0);
    const recordsFile = path.join(temp.dir, 'records.jsonl');
    writeFileSync(recordsFile, [LOYALTY_RECORD, LOYALTY_RECORD].map((r) => JSON.stringify(r)).join('\n'));
    const write = JSON.parse((await cli('--json', '--sandbox', 'dev', 'dataset', 'write', 'members', recordsFile)).stdout) as { rowCount: number }[];
    assert.equal(write[0]!.rowCount, 2);
    const snapshots = JSON.parse((await cli('--json', '--sandbox', 'dev', 'dataset', 'snapshots', 'members')).stdout) as { snapshotId: number }[];
    assert.deepEqual(snapshots.map((s) => s.snapshotId), [1]);
    const missing = await cli('--sandbox', 'nowhere', 'dataset', 'list');
    assert.deepEqual([missing.code, missing.stderr.split(':')[0]], [1, 'RT_SANDBOX_NOT_FOUND']);
  });

  it('runs Data Distiller SQL and prints tables, CSV or JSON', async () => {
    const created = await cli('sql', "CREATE TABLE tiers AS SELECT * FROM (VALUES ('GOLD', 3), ('SILVER, LOW', 1)) AS v(tier, n)");
    assert.match(created.stdout, /Created Table DataSet Id ds_/);
    const csv = await cli('sql', '--format', 'csv', 'SELECT tier, n FROM tiers ORDER BY n DESC');
    assert.equal(csv.stdout.trim(), 'tier,n\nGOLD,3\n"SILVER, LOW",1');
    const json = JSON.parse((await cli('sql', '--format', 'json', '--param', 'min=2', "SELECT tier FROM tiers WHERE n >= CAST('$min' AS INTEGER)")).stdout) as { last: { rows: unknown[] } };
    assert.deepEqual(json.last.rows, [{ tier: 'GOLD' }]);
    const refused = await cli('sql', "SELECT * FROM read_csv('/etc/passwd')");
    assert.deepEqual([refused.code, refused.stderr.split(':')[0]], [1, 'RT_QUERY_FORBIDDEN_STATEMENT']);
  });

  it('talks to the running server that owns the directory, with an API key', async () => {
    const server = spawn(process.execPath, [ROUNDTRIP_BIN, 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const serverFile = path.join(dataDir, 'server.json');
      for (let i = 0; i < 100 && !existsSync(serverFile); i++) await new Promise((r) => setTimeout(r, 100));
      const { url } = JSON.parse(readFileSync(serverFile, 'utf8')) as { url: string };
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      const noKey = await cli('sandbox', 'list');
      assert.match(noKey.stderr, /^RT_AUTH_MISSING: A server at http/);
      const whoami = JSON.parse((await cli('--json', '--api-key', adminToken, 'whoami')).stdout) as { id: string; role: string }[];
      assert.deepEqual([whoami[0]!.id.startsWith('key_'), whoami[0]!.role], [true, 'admin'], 'remote mode authenticates as the key, not the local operator');
      const created = JSON.parse((await cli('--json', '--api-key', adminToken, 'key', 'create', '--name', 'bi', '--role', 'viewer', '--scope', 'dev')).stdout) as { token: string; key: { sandboxes: string[] } };
      assert.deepEqual(created.key.sandboxes, ['dev']);
      const viewer = await cli('--api-key', created.token, 'schema', 'list');
      assert.match(viewer.stderr, /^RT_FORBIDDEN_ROLE/);
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    assert.ok(!existsSync(path.join(dataDir, 'server.json')), 'the server removes its server.json on shutdown');
    const local = JSON.parse((await cli('--json', 'whoami')).stdout) as { id: string }[];
    assert.equal(local[0]!.id, 'local');
  });
});
