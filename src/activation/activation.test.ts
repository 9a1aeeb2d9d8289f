/**
 * Activation dataflows end to end on the real platform: customers of the synthetic brand's profile schema
 * loaded through datasets and the profile store, memberships written into the membership tables, files
 * delivered by the real local-folder connector and read back row by row.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import { RoundtripError } from '../core/errors.ts';
import { connectorFor, type FileConnector } from '../destinations/connector.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { tempDir } from '../testing/temp.ts';
import { ACTIVATION_LOG_TABLE, ACTIVATION_MAPPINGS_TABLE } from './activation-log.ts';
import type { DataflowInput } from './payloads.ts';
import { activationWith, manualClock, setupBrand, transition, type Brand } from './test-kit.ts';

let t: TestPlatform;
let brand: Brand;
const folders: { remove: () => void }[] = [];

function folder(): string {
  const f = tempDir('roundtrip-activation-out-');
  folders.push(f);
  return f.dir;
}

async function account(name: string, dir: string, marketingActions?: string[]): Promise<string> {
  const created = await t.platform.destinations.create(LOCAL_OPERATOR, 'prod', { name, type: 'local-folder', params: { folder: dir }, ...(marketingActions ? { marketingActions } : {}) });
  return created.id;
}

const EMAIL = { source: { attribute: 'personalEmail.address' }, target: 'email', mandatory: true } as const;
const FIRST = { source: { attribute: 'person.name.firstName' }, target: 'firstName' } as const;
const STATUS = { source: { attribute: 'segmentMembership.status' } } as const;

function flow(destinationId: string, schedule: DataflowInput['audiences'][number]['schedule'], extra: Partial<DataflowInput> = {}): DataflowInput {
  return { name: 'Spring campaign', destinationId, audiences: [{ segmentId: brand.segmentId, schedule }], fields: [EMAIL, FIRST, STATUS], ...extra };
}

/** Every visible file of a folder with its lines (hidden `.part` files included in the names, to catch leftovers). */
function files(dir: string): Record<string, string[]> {
  return Object.fromEntries(readdirSync(dir).sort().map((name) => [name, readFileSync(path.join(dir, name), 'utf8').trimEnd().split('\n')]));
}

const at = (iso: string) => ({ segmentId: brand.segmentId, mergePolicyId: brand.policyId, at: iso });
async function enter(crmId: string, iso: string): Promise<void> {
  await transition(await t.platform.warehouse.sandbox('prod'), { ...at(iso), profileId: brand.profiles[crmId]!, status: 'realized' });
}
async function exit(crmId: string, iso: string): Promise<void> {
  await transition(await t.platform.warehouse.sandbox('prod'), { ...at(iso), profileId: brand.profiles[crmId]!, status: 'exited' });
}

/** Rows in profile-id order, as the export writes them. */
const byProfile = (...rows: [string, string][]): string[] => rows.sort((a, b) => brand.profiles[a[0]]! - brand.profiles[b[0]]!).map(([, line]) => line);

describe('activation dataflows', () => {
  before(async () => {
    t = await createTestPlatform();
    brand = await setupBrand(t);
    // C1-C4 qualify at 01:00; C3 has no email (mandatory), C4 said no to email marketing.
    for (const c of ['C1', 'C2', 'C3', 'C4']) await enter(c, '2024-01-01T01:00:00Z');
  });
  after(async () => {
    await t.dispose();
    for (const f of folders) f.remove();
  });

  test('incremental every 3 hours: a full backfill first, then entered and exited rows; a slot is exported once', async () => {
    const out = folder();
    const clock = manualClock('2024-01-01T03:00:05Z');
    const activation = activationWith(t, { clock });
    const df = await activation.create(LOCAL_OPERATOR, 'prod', flow(await account('Acme Email', out), { exportType: 'incremental', frequency: 'every-3-hours', startDate: '2024-01-01', endDate: '2024-01-03' }));

    const first = await activation.runScheduled('prod', df.id, '2024-01-01T03:00:05Z');
    assert.equal(first.profiles, 2);
    const name1 = `Acme Email_segment${brand.segmentId}_20240101030000.csv`;
    assert.deepEqual(files(out), {
      [name1]: ['email,firstName,segmentMembership.status', ...byProfile(['C1', 'ann@example.com,Ann,realized'], ['C2', 'bob@example.com,Bob,realized'])],
    });

    await exit('C2', '2024-01-01T04:00:00Z');
    await enter('C5', '2024-01-01T05:00:00Z');
    clock.set('2024-01-01T06:10:00Z');
    await activation.runScheduled('prod', df.id, '2024-01-01T06:10:00Z');
    const name2 = `Acme Email_segment${brand.segmentId}_20240101060000.csv`;
    assert.deepEqual(files(out)[name2], ['email,firstName,segmentMembership.status', ...byProfile(['C2', 'bob@example.com,Bob,exited'], ['C5', 'eve@example.com,Eve,realized'])]);

    // Same slot again (the scheduler fires hourly): nothing due, nothing sent, no run recorded.
    clock.set('2024-01-01T07:00:00Z');
    const again = await activation.runScheduled('prod', df.id, '2024-01-01T07:00:00Z');
    assert.equal(again.runs, 0);
    assert.equal(Object.keys(files(out)).length, 2);

    // Run history, newest first, with counts by reason.
    const runs = await activation.runs('prod', df.id);
    assert.equal(runs.length, 2);
    const [second, firstRun] = runs.map((r) => r.body);
    assert.equal(firstRun!.status, 'succeeded');
    assert.equal(firstRun!.audiences[0]!.backfill, true);
    assert.equal(firstRun!.profiles, 2);
    assert.deepEqual(firstRun!.skipped, { consent: 1, missingMandatory: 1, duplicate: 0, tooManyIdentities: 0, profileMissing: 0 });
    assert.equal(firstRun!.files, 1);
    assert.equal(firstRun!.bytes, readFileSync(path.join(out, name1)).length);
    assert.equal(typeof firstRun!.durationMs, 'number');
    assert.equal(firstRun!.error, null);
    assert.equal(second!.audiences[0]!.backfill, false);
    assert.equal(second!.audiences[0]!.since, '2024-01-01T03:00:05.000Z');
    assert.deepEqual([second!.profiles, second!.audiences[0]!.exited], [2, 1]);

    // The activation log for the insights: one row per run and audience.
    const log = await (await t.platform.warehouse.sandbox('prod')).query(
      `SELECT export_type, status, profiles, exited, skipped, files, destination_name, destination_type FROM ${ACTIVATION_LOG_TABLE} WHERE dataflow_id = $d ORDER BY slot`,
      { d: df.id },
    );
    assert.deepEqual(log.rows, [
      { export_type: 'incremental', status: 'succeeded', profiles: 2, exited: 0, skipped: 2, files: 1, destination_name: 'Acme Email', destination_type: 'local-folder' },
      { export_type: 'incremental', status: 'succeeded', profiles: 2, exited: 1, skipped: 0, files: 1, destination_name: 'Acme Email', destination_type: 'local-folder' },
    ]);
  });

  test('full export: active members only, consent "n" never exported; without the status field no exits either', async () => {
    const out = folder();
    const activation = activationWith(t, { clock: manualClock('2024-01-02T00:00:00Z') });
    const dest = await account('Full Files', out);
    const df = await activation.create(LOCAL_OPERATOR, 'prod', flow(dest, { exportType: 'full', frequency: 'daily', time: '00:00', startDate: '2024-01-01' }));
    const run = await activation.runNow(LOCAL_OPERATOR, 'prod', df.id);
    assert.equal(run.body.status, 'succeeded');
    const [only] = Object.values(files(out));
    assert.deepEqual(only, ['email,firstName,segmentMembership.status', ...byProfile(['C1', 'ann@example.com,Ann,realized'], ['C5', 'eve@example.com,Eve,realized'])]);
    assert.ok(!JSON.stringify(files(out)).includes('dee@example.com'));

    // Without segmentMembership.status a file cannot say who left: incremental files then carry entries only.
    const clock = manualClock('2024-01-01T03:00:00Z');
    const noStatus = activationWith(t, { clock });
    const out2 = folder();
    const df2 = await noStatus.create(LOCAL_OPERATOR, 'prod', { ...flow(await account('No Status', out2), { exportType: 'incremental', frequency: 'every-6-hours', startDate: '2024-01-01' }), fields: [EMAIL, FIRST] });
    await noStatus.runScheduled('prod', df2.id, '2024-01-01T03:00:00Z');
    await exit('C5', '2024-01-01T07:00:00Z');
    clock.set('2024-01-01T12:30:00Z');
    await noStatus.runScheduled('prod', df2.id, '2024-01-01T12:30:00Z');
    assert.deepEqual(files(out2), {
      [`No Status_segment${brand.segmentId}_20240101000000.csv`]: ['email,firstName', ...byProfile(['C1', 'ann@example.com,Ann'], ['C5', 'eve@example.com,Eve'])],
      [`No Status_segment${brand.segmentId}_20240101120000.csv`]: ['email,firstName'],
    });
    await enter('C5', '2024-01-01T13:00:00Z');
    const mappings = await (await t.platform.warehouse.sandbox('prod')).query(`SELECT segment_id, export_type, strftime(start_date, '%Y-%m-%d') AS start FROM ${ACTIVATION_MAPPINGS_TABLE} WHERE dataflow_id = $d`, { d: df2.id });
    assert.deepEqual(mappings.rows, [{ segment_id: brand.segmentId, export_type: 'incremental', start: '2024-01-01' }]);
  });

  test('a crash after the first file, then a retry: exactly one complete set of files, the first not uploaded twice', async () => {
    const out = folder();
    let failOnce = true;
    const real = connectorFor('local-folder') as FileConnector;
    const crashing: FileConnector = {
      ...real,
      deliver: async (acc, list, options) => {
        if (!failOnce) return real.deliver(acc, list, options);
        failOnce = false;
        await real.deliver(acc, list.slice(0, 1), options);
        throw new RoundtripError('RT_DESTINATION_UNREACHABLE', 'connection reset after the first file');
      },
    };
    const activation = activationWith(t, { clock: manualClock('2024-01-02T08:00:00Z'), connectorFor: () => crashing });
    const df = await activation.create(LOCAL_OPERATOR, 'prod', { ...flow(await account('Split', out), { exportType: 'full', frequency: 'once', startDate: '2024-01-02' }), splitRows: 1 });
    const failed = await activation.runNow(LOCAL_OPERATOR, 'prod', df.id);
    assert.equal(failed.body.status, 'failed');
    assert.equal(failed.body.audiences[0]!.error!.code, 'RT_DESTINATION_UNREACHABLE');
    assert.equal(Object.keys(files(out)).length, 1);

    const retried = await activation.retry(LOCAL_OPERATOR, 'prod', df.id, failed.id);
    assert.equal(retried.id, failed.id);
    assert.equal(retried.body.status, 'succeeded');
    assert.equal(retried.body.attempts, 2);
    const base = `Split_segment${brand.segmentId}_20240102080000`;
    assert.deepEqual(files(out), {
      [`${base}.csv`]: ['email,firstName,segmentMembership.status', byProfile(['C1', 'ann@example.com,Ann,realized'], ['C5', 'eve@example.com,Eve,realized'])[0]!],
      [`${base}_2.csv`]: ['email,firstName,segmentMembership.status', byProfile(['C1', 'ann@example.com,Ann,realized'], ['C5', 'eve@example.com,Eve,realized'])[1]!],
    });
    assert.deepEqual(
      retried.body.audiences[0]!.files.map((f) => f.skippedAsDuplicate),
      [true, false],
    );
    // Retrying a finished run sends nothing again and leaves it as it was.
    const third = await activation.retry(LOCAL_OPERATOR, 'prod', df.id, failed.id);
    assert.deepEqual([third.body.status, third.body.attempts], ['succeeded', 2]);
    assert.equal(Object.keys(files(out)).length, 2);
  });

  test('data usage labels block the activation with an explanation, at review and at run time', async () => {
    const out = folder();
    const dest = await account('Third Party', out, ['exportToThirdParty']);
    const body = flow(dest, { exportType: 'full', frequency: 'once', startDate: '2024-01-01' });
    const ok = await t.call('POST', '/activation/dataflows', { body });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const labels = await t.call('PUT', '/activation/governance/labels', { body: { fields: { personalEmail: ['C2'] } } });
    assert.equal(labels.status, 200, JSON.stringify(labels.body));

    const refused = await t.call('POST', '/activation/dataflows', { body });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.error.code, 'RT_ACTIVATION_POLICY_VIOLATION');
    assert.deepEqual(refused.body.error.details.violations.map((v: { field: string; label: string; marketingAction: string }) => [v.field, v.label, v.marketingAction]), [['personalEmail.address', 'C2', 'exportToThirdParty']]);
    assert.match(refused.body.error.message, /cannot be exported to a third party/);

    const run = await t.call('POST', `/activation/dataflows/${ok.body.id}/runs`, { body: {} });
    assert.equal(run.status, 200, JSON.stringify(run.body));
    assert.equal(run.body.status, 'blocked');
    assert.equal(run.body.error.code, 'RT_ACTIVATION_POLICY_VIOLATION');
    assert.deepEqual(files(out), {});
    const history = await t.call('GET', `/activation/dataflows/${ok.body.id}/runs`);
    assert.deepEqual(history.body.runs.map((r: { status: string; error: { code: string } }) => [r.status, r.error.code]), [['blocked', 'RT_ACTIVATION_POLICY_VIOLATION']]);
    await t.call('PUT', '/activation/governance/labels', { body: { fields: {} } });
  });

  test('the wizard refuses what the reference does not allow', async () => {
    const dest = await account('Checks', folder());
    const refuse = async (body: unknown, pattern: RegExp) => {
      const res = await t.call('POST', '/activation/dataflows', { body });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(JSON.stringify(res.body.error), pattern);
    };
    await refuse(flow(dest, { exportType: 'incremental', frequency: 'once', startDate: '2024-01-01' }), /daily or every 3, 6, 8 or 12 hours/);
    await refuse(flow(dest, { exportType: 'full', frequency: 'every-3-hours', startDate: '2024-01-01' }), /once or daily/);
    await refuse(flow(dest, { exportType: 'full', frequency: 'daily', startDate: '2024-01-02', endDate: '2024-01-02' }), /end date is excluded/);
    await refuse({ ...flow(dest, { exportType: 'full', frequency: 'once', startDate: '2024-01-01' }), fields: [EMAIL, { source: { identity: 'Email' } }], deduplication: { attributes: ['personalEmail.address'] } }, /cannot be mixed/);
    await refuse({ ...flow(dest, { exportType: 'full', frequency: 'once', startDate: '2024-01-01' }), fields: [{ source: { identity: 'Email' } }, { source: { identity: 'CRMID' } }] }, /one identity namespace/);
    await refuse({ ...flow(dest, { exportType: 'full', frequency: 'once', startDate: '2024-01-01' }), audiences: [{ segmentId: 'nope', schedule: { exportType: 'full', frequency: 'once', startDate: '2024-01-01' } }] }, /No segment definition/);
    await refuse(flow(dest, { exportType: 'streaming', startDate: '2024-01-01' }), /file destination/);
    const tooMany = Array.from({ length: 51 }, (_, i) => ({ source: { attribute: 'person.name.firstName' }, target: `f${i}` }));
    await refuse({ ...flow(dest, { exportType: 'full', frequency: 'once', startDate: '2024-01-01' }), fields: tooMany }, /At most 50 mapped attributes/);
  });
});
