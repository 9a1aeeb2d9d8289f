/**
 * Benchmark: activation of a large audience (default 1,000,000 profiles; target under 10 s to a local folder).
 *
 * A profile table in the shape the profile store writes (`profile_id`, person, personalEmail, consents,
 * identities) and the audience's memberships are generated in SQL straight into the sandbox (building a million
 * profiles through the identity graph is the identity benchmark's job, not this one's); 3 % of the profiles
 * said no to email marketing and 2 % have no email, so consent and mandatory filtering do real work. Timed:
 *
 * 1. baseline: a bare `COPY` of the same rows' email and first name to CSV in the staging folder;
 * 2. a full export run (`POST /activation/dataflows/{id}/runs`) to a local folder: memberships ⋈ profiles,
 *    consent, mandatory email, dedup by email, SHA-256 of the email, CSV, atomic delivery;
 * 3. an incremental run after 10 % of the members changed (half left, half entered);
 * 4. the same full export over SFTP to OpenSSH on loopback (when sshd is installed).
 *
 *   npx tsx bench/activation.ts [--profiles 1000000]
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LOCAL_OPERATOR } from '../src/access/principal.ts';
import { ensureMembershipTables, MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE } from '../src/audiences/membership-tables.ts';
import { createTestPlatform } from '../src/testing/platform.ts';
import { generateSshKeyPair, sshdUnavailable, startSshd } from '../src/testing/sshd.ts';
import { tempDir } from '../src/testing/temp.ts';

const { values } = parseArgs({ options: { profiles: { type: 'string', default: '1000000' } } });
const profiles = Number(values.profiles);

const t = await createTestPlatform({ duckdbMemoryLimit: '4GB' });
const out = tempDir('roundtrip-bench-activation-');
const seconds = (start: number) => (performance.now() - start) / 1000;
const results: { step: string; seconds: number; note: string }[] = [];

try {
  const sandbox = 'prod';
  const warehouse = await t.platform.warehouse.sandbox(sandbox);
  const policy = await t.platform.mergePolicies.resolve(sandbox);
  // The store's first read in this process settles on an empty table; the generated one replaces it.
  await ensureMembershipTables(warehouse);
  await t.platform.profileStore.ensureCurrent(sandbox);
  let start = performance.now();
  await warehouse.query(`CREATE OR REPLACE TABLE "${policy.snapshotTable}" AS
    SELECT range AS profile_id,
      {'name': {'firstName': 'First' || range, 'lastName': 'Last' || (range % 1000)}} AS person,
      {'address': CASE WHEN range % 50 = 7 THEN NULL ELSE 'Person.' || range || '@Example.com ' END} AS "personalEmail",
      {'marketing': {'email': {'val': CASE WHEN range % 33 = 0 THEN 'n' ELSE 'y' END}}} AS consents,
      [{'namespace': 'CRMID', 'id': 'C' || range}] AS identities
    FROM range(${profiles})`);
  const segment = await t.platform.audiences.definitions.createExternal(LOCAL_OPERATOR, sandbox, { name: 'Everyone', namespace: 'CRMID', mergePolicyId: policy.id });
  const insertMembers = (where: string, status: string) =>
    warehouse.query(`INSERT INTO ${MEMBERSHIP_TABLE} SELECT '${segment.id}', '${policy.id}', range, '${status}', now(), 1 FROM range(${profiles}) WHERE ${where};
      INSERT INTO ${MEMBERSHIP_HISTORY_TABLE} SELECT '${segment.id}', '${policy.id}', range, '${status}', now(), 'bench' FROM range(${profiles}) WHERE ${where}`);
  await insertMembers('range % 10 <> 9', 'realized');
  results.push({ step: 'generate profiles and memberships', seconds: seconds(start), note: `${profiles} profiles, ${Math.round(profiles * 0.9)} members` });

  start = performance.now();
  await warehouse.query(`COPY (SELECT "personalEmail".address AS email, person.name."firstName" AS "firstName" FROM "${policy.snapshotTable}") TO '${path.join(warehouse.stagingDir, 'baseline.csv')}' (FORMAT csv, HEADER true)`);
  const baseline = seconds(start);
  results.push({ step: 'baseline: bare COPY of the profile table', seconds: baseline, note: 'ratio 1.0' });

  const fields = [
    { source: { attribute: 'personalEmail.address' }, target: 'email_sha256', hash: 'sha256' as const, mandatory: true },
    { source: { attribute: 'person.name.firstName' }, target: 'firstName' },
    { source: { attribute: 'segmentMembership.status' } },
  ];
  const activation = t.platform.activation;
  const local = await t.platform.destinations.create(LOCAL_OPERATOR, sandbox, { name: 'Bench', type: 'local-folder', params: { folder: out.dir } });
  const df = await activation.create(LOCAL_OPERATOR, sandbox, {
    name: 'Bench full',
    destinationId: local.id,
    audiences: [{ segmentId: segment.id, schedule: { exportType: 'incremental', frequency: 'every-3-hours', startDate: '2024-01-01' } }],
    fields,
    deduplication: { attributes: ['personalEmail.address'] },
  });
  start = performance.now();
  const full = await activation.runNow(LOCAL_OPERATOR, sandbox, df.id);
  const fullSeconds = seconds(start);
  const bytes = readdirSync(out.dir).reduce((sum, f) => sum + statSync(path.join(out.dir, f)).size, 0);
  results.push({
    step: 'full export (first incremental = backfill) to a local folder',
    seconds: fullSeconds,
    note: `${full.body.status}: ${full.body.profiles} profiles, skipped ${JSON.stringify(full.body.skipped)}, ${(bytes / 1e6).toFixed(1)} MB, ratio ${(fullSeconds / baseline).toFixed(1)}, target < 10 s`,
  });

  // 10 % change: members 0..5 % leave, non-members enter.
  await warehouse.query(`DELETE FROM ${MEMBERSHIP_TABLE} WHERE profile_id % 20 = 1 OR profile_id % 10 = 9`);
  await insertMembers('range % 20 = 1', 'exited');
  await insertMembers('range % 10 = 9', 'realized');
  start = performance.now();
  const incremental = await activation.runNow(LOCAL_OPERATOR, sandbox, df.id);
  results.push({ step: 'incremental export after 10 % changed', seconds: seconds(start), note: `${incremental.body.status}: ${incremental.body.profiles} profiles (${incremental.body.audiences[0]?.exited ?? 0} exited)` });

  const noSshd = sshdUnavailable();
  if (noSshd) results.push({ step: 'full export over SFTP', seconds: Number.NaN, note: `skipped: ${noSshd}` });
  else {
    const keys = await generateSshKeyPair();
    const sshd = await startSshd({ authorizedKeys: [keys.publicKey] });
    try {
      const sftp = await t.platform.destinations.create(LOCAL_OPERATOR, sandbox, {
        name: 'Bench SFTP',
        type: 'sftp',
        params: { host: sshd.host, port: sshd.port, username: sshd.username, authType: 'key', hostKeySha256: sshd.hostKeySha256 },
        secrets: { privateKey: keys.privateKey },
      });
      const sftpFlow = await activation.create(LOCAL_OPERATOR, sandbox, {
        name: 'Bench SFTP',
        destinationId: sftp.id,
        audiences: [{ segmentId: segment.id, schedule: { exportType: 'full', frequency: 'daily', startDate: '2024-01-01' } }],
        fields,
      });
      start = performance.now();
      const run = await activation.runNow(LOCAL_OPERATOR, sandbox, sftpFlow.id);
      const s = seconds(start);
      results.push({ step: 'full export over SFTP (loopback OpenSSH)', seconds: s, note: `${run.body.status}: ${run.body.profiles} profiles, ${(run.body.bytes / 1e6).toFixed(1)} MB, ratio ${(s / baseline).toFixed(1)}${run.body.error ? ` ${run.body.error.code}` : ''}${run.body.audiences[0]?.error ? ` ${run.body.audiences[0].error.code}: ${run.body.audiences[0].error.message}` : ''}` });
    } finally {
      await sshd.stop();
    }
  }
} finally {
  await t.dispose();
  out.remove();
}

console.log(`activation benchmark, ${profiles} profiles`);
for (const r of results) console.log(`${r.step.padEnd(62)} ${Number.isNaN(r.seconds) ? '     -' : r.seconds.toFixed(2).padStart(6)} s  ${r.note}`);
