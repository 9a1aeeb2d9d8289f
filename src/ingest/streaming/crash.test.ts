/**
 * Durability across `kill -9`: a real server process takes concurrent streaming requests (some of them retries
 * of earlier ones), is killed with SIGKILL mid-stream, and restarted on the same data directory. Every event it
 * acknowledged must be in the dataset afterwards, exactly once.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { EVENT_SCHEMA } from '../../testing/fixtures.ts';
import type { Json } from '../../testing/platform.ts';
import { tempDir } from '../../testing/temp.ts';

const BIN = path.resolve(import.meta.dirname, '../../../bin/roundtrip.js');
const run = promisify(execFile);

describe('streaming durability across kill -9', () => {
  const temp = tempDir();
  const dataDir = path.join(temp.dir, 'data');
  // Apply every 300 ms, so at the kill some acknowledged entries are applied and some exist only in the log.
  const env = { ...process.env, ROUNDTRIP_DATA_DIR: dataDir, DATABASE_URL: '', ROUNDTRIP_API_KEY: '', ROUNDTRIP_LOG_LEVEL: 'warn', ROUNDTRIP_STREAM_APPLY_INTERVAL_MS: '300' };
  const servers: ChildProcess[] = [];
  after(() => {
    for (const server of servers) if (server.exitCode === null) server.kill('SIGKILL');
    temp.remove();
  });

  async function startServer(): Promise<{ server: ChildProcess; url: string }> {
    const server = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    servers.push(server);
    const file = path.join(dataDir, 'server.json');
    for (let i = 0; i < 200; i++) {
      if (existsSync(file)) {
        const info = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; url: string };
        if (info.pid === server.pid) return { server, url: info.url };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the server did not start');
  }

  it('keeps every acknowledged event, once, after SIGKILL and a restart', async () => {
    const init = await run(process.execPath, [BIN, 'init'], { env });
    const adminToken = /rt_[0-9a-f]{16}_[A-Za-z0-9_-]{32}/.exec(init.stdout)![0];
    const first = await startServer();
    const api = async (url: string, method: string, route: string, body?: unknown): Promise<Json> => {
      const headers = { authorization: `Bearer ${adminToken}`, ...(body !== undefined && { 'content-type': 'application/json' }) };
      const res = await fetch(`${url}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      assert.ok(res.ok, `${method} ${route}: HTTP ${res.status}`);
      return res.status === 204 ? undefined : res.json();
    };
    const schema = await api(first.url, 'POST', '/schemas', EVENT_SCHEMA);
    const dataset = await api(first.url, 'POST', '/datasets', { name: 'crash events', schemaId: schema.id });
    const { connection, secret } = await api(first.url, 'POST', '/streaming/connections', { name: 'crash', dataset: dataset.id });

    const acknowledged = new Set<string>();
    let requests = 0;
    const worker = async (w: number): Promise<void> => {
      let previous: string[] = [];
      for (let n = 0; ; n++) {
        // Every fourth request retries the previous one, as a client does after a lost answer.
        const ids = n % 4 === 3 ? previous : Array.from({ length: 20 }, (_, i) => `w${w}-r${n}-e${i}`);
        const messages = ids.map((id) => ({ header: {}, body: { xdmEntity: { _id: id, timestamp: new Date().toISOString(), eventType: 'crash.test' } } }));
        try {
          const res = await fetch(`${first.url}/collection/batch/${connection.id}`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ messages }) });
          if (res.status === 200) ids.forEach((id) => acknowledged.add(id));
          await res.arrayBuffer();
          requests++;
        } catch {
          return; // the server is gone
        }
        previous = ids;
      }
    };
    const workers = Array.from({ length: 12 }, (_, w) => worker(w));
    while (acknowledged.size < 3_000) await new Promise((r) => setTimeout(r, 20));
    const exited = new Promise((resolve) => first.server.once('exit', resolve));
    first.server.kill('SIGKILL');
    await exited;
    await Promise.all(workers);
    assert.ok(requests > 100, `only ${requests} requests went through before the kill`);

    const second = await startServer();
    await api(second.url, 'POST', '/streaming/flush');
    const stats = await api(second.url, 'GET', '/streaming/stats');
    // Whatever was acknowledged in the last few hundred ms lived only in the log (some of it may have reached the
    // table before the checkpoint moved; the replay then finds those as duplicates).
    assert.ok(stats.appliedRecords + stats.duplicateRecords > 0, `the restart replayed the log: ${JSON.stringify(stats)}`);
    const { records } = await api(second.url, 'GET', `/datasets/${dataset.id}/records?limit=10000`);
    const stored = records.map((r: Json) => r._id as string);
    const missing = [...acknowledged].filter((id) => !stored.includes(id));
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${acknowledged.size} acknowledged events are missing`);
    assert.equal(new Set(stored).size, stored.length, 'no event is stored twice (retries and the replay are deduplicated)');
    const exitedAgain = new Promise((resolve) => second.server.once('exit', resolve));
    second.server.kill('SIGTERM');
    await exitedAgain;
  });
});
