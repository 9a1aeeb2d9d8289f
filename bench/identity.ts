/**
 * Identity graph and profile benchmark: builds the identity graph of N profiles (default 1M) from generated
 * data, then the profile snapshot table, then times profile lookups by random identities.
 *
 *   npx tsx bench/identity.ts [--profiles 1000000] [--lookups 2000] [--threads 2] [--memory 6GB]
 *
 * Not part of the tests. Targets on 2 cores: graph build under 20 s, lookup p99 under 10 ms at 1M profiles.
 *
 * Data (generated inside DuckDB with `range()` and hash-based draws, written through `Datasets.appendWith` as
 * ordinary snapshots of identity-enabled datasets):
 * - a CRM profile dataset: one record per person, CRMID (primary) and, for 90 %, an email;
 * - a login event dataset: per person 1-3 devices (ECID), one login event per device carrying the person's
 *   CRMID; 1 % of logins happen on one of 1,000 shared devices (shop tablets, family PCs), which the
 *   one-CRMID-per-graph rule keeps from fusing people. About 3 identities per person in total.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveConfig } from '../src/core/config.ts';
import { IdentityGraph } from '../src/identity/graph.ts';
import { initDataDir, openPlatform, type Platform } from '../src/platform/platform.ts';
import { createCrmAndLogins, draw, generateRows, IDENTITY_MAP, SANDBOX, timed } from './fixtures.ts';

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '1000000' },
    lookups: { type: 'string', default: '2000' },
    threads: { type: 'string', default: '2' },
    memory: { type: 'string', default: '6GB' },
  },
});
const PROFILES = Number(values.profiles);
const LOOKUPS = Number(values.lookups);


const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;




const crmRows = (system: string): string => `
  SELECT 'crm-' || i AS _id, {'crmId': 'C' || i, 'tier': ['FLYER', 'FREQUENT', 'SILVER', 'GOLD'][1 + (hash(i, 7) % 4)::INTEGER], 'points': (hash(i, 8) % 100000)::BIGINT} AS _roundtrip,
    CASE WHEN ${draw('i', 1)} < 0.9 THEN {'address': 'person' || i || '@example.com'} END AS "personalEmail",
    {'name': {'firstName': 'First' || (i % 5000), 'lastName': 'Last' || (i % 20000), 'fullName': NULL}, 'birthDate': NULL, 'gender': NULL} AS person,
    ${system}
  FROM range(${PROFILES}) t(i)`;

/** One login per (person, device); devices per person 1 (60 %), 2 (30 %) or 3 (10 %); 1 % on a shared device. */
const loginRows = (system: string): string => `
  WITH devices AS (
    SELECT i, d FROM range(${PROFILES}) t(i), range(3) r(d)
    WHERE d < CASE WHEN ${draw('i', 2)} < 0.6 THEN 1 WHEN ${draw('i', 2)} < 0.9 THEN 2 ELSE 3 END
  )
  SELECT 'login-' || i || '-' || d AS _id, TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds((hash(i, d, 3) % 31536000)::BIGINT) AS "timestamp", 'web.login' AS "eventType",
    map(['CRMID', 'ECID'], [[{'id': 'C' || i, 'authenticatedState': 'authenticated', 'primary': true}],
      [{'id': CASE WHEN ${draw('i * 3 + d', 4)} < 0.01 THEN 'shared-' || (hash(i, d, 5) % 1000) ELSE 'ecid-' || i || '-' || d END, 'authenticatedState': 'ambiguous', 'primary': false}]])::${IDENTITY_MAP} AS "identityMap",
    ${system}
  FROM devices`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Profile lookups (`events` 0) or event pages (`events` > 0, through `GET /profiles/events`' service) by random identities. */
async function lookups(platform: Platform, events: number): Promise<void> {
  const times: number[] = [];
  for (let n = 0; n < LOOKUPS; n++) {
    const i = Math.floor(Math.random() * PROFILES);
    const ref = n % 3 === 0 ? { namespace: 'CRMID', id: `C${i}` } : n % 3 === 1 ? { namespace: 'ECID', id: `ecid-${i}-0` } : { namespace: 'Email', id: `Person${i}@Example.com` };
    const started = performance.now();
    try {
      if (events === 0) await platform.profiles.lookup(SANDBOX, ref);
      else await platform.profiles.events(SANDBOX, ref, { limit: events });
    } catch (error) {
      if ((error as { code?: string }).code !== 'RT_IDENTITY_NOT_FOUND') throw error; // the 10 % without email
    }
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const f = (p: number) => `${percentile(times, p).toFixed(2)} ms`;
  const what = events === 0 ? `profile lookups (${LOOKUPS})` : `event pages (${LOOKUPS}, ${events} per page)`;
  console.log(what.padEnd(44), `p50 ${f(50)}  p95 ${f(95)}  p99 ${f(99)}  max ${times.at(-1)!.toFixed(1)} ms`);
}

// The benchmark drives every sync itself, so the timings are those of the work they name.
process.env.ROUNDTRIP_IDENTITY_POLL_MS = '0';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'roundtrip-bench-identity-'));
const config = resolveConfig({ env: {}, flags: { dataDir, logLevel: 'silent', duckdbThreads: Number(values.threads), duckdbMemoryLimit: values.memory } });
console.log(`Identity benchmark: ${PROFILES.toLocaleString('en')} profiles, ${values.threads} DuckDB threads, data in ${dataDir}`);
await initDataDir(config);
const platform = await openPlatform(config);
try {
  const { crm, logins } = await createCrmAndLogins(platform);
  await timed('generate CRM profiles (not part of the build)', () => generateRows(platform, crm, crmRows));
  await timed('generate login events (not part of the build)', () => generateRows(platform, logins, loginRows));

  // The graph alone: an IdentityGraph with no profile store listening (the platform's follower is off).
  const graph = new IdentityGraph(platform.metadata, platform.warehouse, platform.registry, platform.audit);
  const build = await timed('identity graph build (bulk, from scratch)', () => graph.sync(SANDBOX));
  const stats = await graph.stats(SANDBOX);
  console.log(`  ${stats.identities.toLocaleString('en')} identities in ${stats.graphs.toLocaleString('en')} graphs (largest ${stats.largestGraph}); refused links ${JSON.stringify(stats.refusedLinks)}`);
  await timed('profile snapshot table (default policy)', () => platform.profiles.refreshSnapshots(SANDBOX));

  await lookups(platform, 0); // warm-up pass: caches, first index pages
  await lookups(platform, 0);
  await lookups(platform, 5);

  const micro = await timed('streaming-size update (100 logins, 30 new links)', async () => {
    await generateRows(platform, logins, (system) => `SELECT 'late-' || i AS _id, TIMESTAMPTZ '2026-12-31 00:00:00+00' AS "timestamp", 'web.login' AS "eventType",
      map(['CRMID', 'ECID'], [[{'id': 'C' || (i * 7919 % ${PROFILES}), 'authenticatedState': 'authenticated', 'primary': true}],
        [{'id': CASE WHEN i < 30 THEN 'ecid-' || (i * 104729 % ${PROFILES}) || '-0' ELSE 'late-device-' || i END, 'authenticatedState': 'ambiguous', 'primary': false}]])::${IDENTITY_MAP} AS "identityMap", ${system}
      FROM range(100) t(i)`);
    await platform.identity.sync(SANDBOX);
  });
  console.log(`\nResult: graph build ${seconds(build.ms)} for ${PROFILES.toLocaleString('en')} profiles (target < 20 s); incremental update ${seconds(micro.ms)}.`);
} finally {
  await platform.close();
  rmSync(dataDir, { recursive: true, force: true });
}
