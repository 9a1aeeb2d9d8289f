/**
 * `roundtrip serve --pg-port 0`: the listener starts next to the HTTP server, its port is recorded in
 * server.json, a client can query, and SIGTERM closes it (server.json removed).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { tempDir } from '../../testing/temp.ts';

const BIN = path.resolve(import.meta.dirname, '../../../bin/roundtrip.js');
const run = promisify(execFile);

describe('roundtrip serve --pg-port', () => {
  const temp = tempDir();
  const dataDir = path.join(temp.dir, 'data');
  const env = { ...process.env, ROUNDTRIP_DATA_DIR: dataDir, DATABASE_URL: '', ROUNDTRIP_API_KEY: '', ROUNDTRIP_LOG_LEVEL: 'warn' };
  let adminToken = '';
  before(async () => {
    const { stdout } = await run(process.execPath, [BIN, 'init'], { env });
    adminToken = /rt_[0-9a-f]{16}_[A-Za-z0-9_-]{32}/.exec(stdout)![0];
  });
  after(() => temp.remove());

  it('serves Postgres clients on the port recorded in server.json and closes on SIGTERM', async () => {
    const server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--pg-port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const serverFile = path.join(dataDir, 'server.json');
      for (let i = 0; i < 150 && !existsSync(serverFile); i++) await new Promise((r) => setTimeout(r, 100));
      const info = JSON.parse(readFileSync(serverFile, 'utf8')) as { pgPort?: number };
      assert.equal(typeof info.pgPort, 'number');
      assert.ok(info.pgPort! > 0);
      const client = new pg.Client({ host: '127.0.0.1', port: info.pgPort, user: 'me', database: 'prod', password: adminToken });
      await client.connect();
      assert.equal((await client.query('SELECT 20 + 22 AS answer')).rows[0].answer, 42);
      await client.end();
      assert.match(output, /Postgres wire endpoint on 127\.0\.0\.1:\d+/);
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    assert.ok(!existsSync(path.join(dataDir, 'server.json')));
  });

  it('refuses half a TLS configuration before listening', async () => {
    const refused = await run(process.execPath, [BIN, 'serve', '--port', '0', '--pg-port', '0', '--pg-tls-cert', '/nonexistent.pem'], { env }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((refused as { code: number }).code, 1);
    assert.match((refused as { stderr: string }).stderr, /^RT_CONFIG_INVALID/);
  });
});
