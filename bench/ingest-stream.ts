/**
 * Streaming ingestion benchmark: a real server process on loopback, the load generator (`stream-load.ts`,
 * autocannon) as a second process, and two scenarios on the collection endpoints:
 *   - batch:  100 events per request to /collection/batch/{id}  (target 50,000 events/s)
 *   - single: 1 event per request to /collection/{id}           (target 5,000 requests/s)
 * Each reports acknowledged events/s and requests/s with p50/p99 acknowledgement latency. Every acknowledgement
 * is durable (the server answers after the log fsync). Afterwards the server is stopped and the data directory
 * opened directly: the stored rows (and distinct `_id`s) must equal the acknowledged events.
 *
 *   npx tsx bench/ingest-stream.ts [--seconds 20] [--keep] [--only batch|single] [--rate REQUESTS_PER_S] [--profile DIR]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolveConfig } from '../src/core/config.ts';
import { openPlatform } from '../src/platform/platform.ts';
import type { LoadOptions, LoadResult } from './stream-load.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin/roundtrip.js');
const LOADER = path.join(ROOT, 'bench/stream-load.ts');
const run = promisify(execFile);

interface Scenario {
  name: string;
  table: string;
  eventsPerRequest: number;
  connections: number;
  /** Requests/s the scenario is sized for; the run sends `seconds` worth of them. */
  targetRequestsPerSecond: number;
}

const ALL_SCENARIOS: Scenario[] = [
  { name: 'batch (100 events/request)', table: 'bench_batch_events', eventsPerRequest: 100, connections: 64, targetRequestsPerSecond: 500 },
  { name: 'single (1 event/request)', table: 'bench_single_events', eventsPerRequest: 1, connections: 256, targetRequestsPerSecond: 5_000 },
];

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 20) || 20;
const keep = args.includes('--keep');
/** `--only batch|single`: run one scenario (e.g. for a profile of one path). */
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const SCENARIOS = ALL_SCENARIOS.filter((s) => only === undefined || s.name.startsWith(only));
/**
 * `--rate N`: offer N requests/s instead of as many as are acknowledged. Below capacity nothing is refused, so
 * the CPU seconds per 100k events compare the work per event of two builds without overload effects (a 429
 * still costs the server its body parse).
 */
const rate = args.includes('--rate') ? Number(args[args.indexOf('--rate') + 1]) : undefined;
/** `--profile DIR`: the server writes a V8 CPU profile there (open it in Chrome DevTools). */
const profileDir = args.includes('--profile') ? args[args.indexOf('--profile') + 1] : undefined;

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startServer(env: NodeJS.ProcessEnv, dataDir: string): Promise<{ server: ChildProcess; url: string }> {
  const profiling = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const server = spawn(process.execPath, [...profiling, BIN, 'serve', '--port', '0'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const file = path.join(dataDir, 'server.json');
  for (let i = 0; i < 400; i++) {
    if (existsSync(file)) {
      const info = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; url: string };
      if (info.pid === server.pid) return { server, url: info.url };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('The server did not start.');
}

function runLoader(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', LOADER, JSON.stringify(options)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as LoadResult) : reject(new Error(`load generator exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  // The cores may be shared: the load average says how much else was running.
  const loadBefore = os.loadavg()[0]!;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'roundtrip-bench-stream-'));
  const env = { ...process.env, ROUNDTRIP_DATA_DIR: dataDir, DATABASE_URL: '', ROUNDTRIP_API_KEY: '', ROUNDTRIP_LOG_LEVEL: 'warn' };
  const init = await run(process.execPath, [BIN, 'init'], { env });
  const token = /rt_[0-9a-f]{16}_[A-Za-z0-9_-]{32}/.exec(init.stdout)![0];
  const { server, url } = await startServer(env, dataDir);
  const api = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}${route}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw new Error(`${method} ${route}: HTTP ${res.status} ${await res.text()}`);
    return (res.status === 204 ? undefined : await res.json()) as T;
  };
  const schema = await api<{ id: string }>('POST', '/schemas', { title: 'Bench events', class: 'experienceevent', fieldGroups: ['commerce-details', 'web-details', 'identity-map'] });

  const reports = [];
  const acknowledged: Record<string, number> = {};
  for (const scenario of SCENARIOS) {
    const dataset = await api<{ id: string; tableName: string }>('POST', '/datasets', { name: scenario.table, schemaId: schema.id });
    const { connection, secret } = await api<{ connection: { id: string }; secret: string }>('POST', '/streaming/connections', { name: scenario.table, dataset: dataset.id });
    const load = (runId: string, requests: number, requestsPerSecond?: number): Promise<LoadResult> =>
      runLoader({ url, connectionId: connection.id, secret, eventsPerRequest: scenario.eventsPerRequest, requests, connections: scenario.connections, runId, rate: requestsPerSecond });
    const warmup = await load(`${scenario.table}-warmup`, Math.ceil((rate ?? scenario.targetRequestsPerSecond) * 2), rate);
    const cpuBefore = cpuSeconds(server.pid!);
    const measured = await load(scenario.table, Math.ceil((rate ?? scenario.targetRequestsPerSecond) * seconds), rate);
    const serverCpu = cpuSeconds(server.pid!) - cpuBefore;
    const flushStarted = performance.now();
    await api('POST', '/streaming/flush');
    const applyLagSeconds = (performance.now() - flushStarted) / 1000;
    // What the measured events cost the server in all, including applying the rest of them after the run:
    // CPU time is less sensitive to other processes on shared cores than wall time.
    const cpuPer100k = ((cpuSeconds(server.pid!) - cpuBefore) / Math.max(measured.eventsAcknowledged, 1)) * 100_000;
    acknowledged[scenario.table] = warmup.eventsAcknowledged + measured.eventsAcknowledged;
    reports.push({ scenario: scenario.name, ...measured, serverCpuPercent: (100 * serverCpu) / measured.durationSeconds, cpuPer100k, applyLagSeconds, stats: await api('GET', '/streaming/stats') });
  }

  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;

  // Verification with the server stopped: open the data directory itself and count what is stored.
  const platform = await openPlatform(resolveConfig({ env: {}, flags: { dataDir, logLevel: 'warn' } }));
  const warehouse = await platform.warehouse.sandbox('prod');
  const verification = [];
  for (const scenario of SCENARIOS) {
    const { rows } = await warehouse.query(`SELECT count(*) AS stored, count(DISTINCT _id) AS distinctIds FROM ${scenario.table}`);
    const stored = Number(rows[0]!.stored);
    verification.push({ table: scenario.table, acknowledged: acknowledged[scenario.table], stored, distinctIds: Number(rows[0]!.distinctIds), equal: stored === acknowledged[scenario.table] });
  }
  await platform.close();
  if (!keep) rmSync(dataDir, { recursive: true, force: true });

  console.log(`\nStreaming ingestion benchmark (${os.cpus().length} cores, node ${process.version}, ${seconds} s per scenario, load average ${loadBefore.toFixed(1)} before / ${os.loadavg()[0]!.toFixed(1)} after)\n`);
  console.log('| scenario | events/s | requests/s | p50 ms | p99 ms | non-2xx | server CPU | CPU s per 100k events | apply lag after run |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of reports) {
    const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
    console.log(`| ${r.scenario} | ${fmt(r.eventsPerSecond)} | ${fmt(r.requestsPerSecond)} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${r.non2xx + r.errors + r.timeouts} | ${Math.round(r.serverCpuPercent)}% | ${r.cpuPer100k.toFixed(2)} | ${r.applyLagSeconds.toFixed(1)} s |`);
  }
  console.log('\nStored = acknowledged (rows read back from the data directory after the server stopped):');
  for (const v of verification) console.log(`  ${v.table}: acknowledged ${v.acknowledged}, stored ${v.stored}, distinct _id ${v.distinctIds} → ${v.equal ? 'OK' : 'MISMATCH'}`);
  console.log(`\n${JSON.stringify({ reports, verification })}`);
  if (verification.some((v) => !v.equal)) process.exitCode = 1;
}

await main();
