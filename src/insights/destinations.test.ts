/**
 * CDPInsights destination tables from what activation records: a real local-folder export of a small audience,
 * then the four §8.3 destination widgets (run verbatim through the query service) show the destinations, their
 * platform and status, the activated audiences with the time of their first export, and the audiences active
 * on the process date — after a full refresh and after incremental ones (a later date, a deleted dataflow).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import { ACTIVATION_LOG_TABLE } from '../activation/activation-log.ts';
import type { DataflowInput } from '../activation/payloads.ts';
import type { ActivationService } from '../activation/service.ts';
import { activationWith, manualClock, setupBrand, transition, type Brand } from '../activation/test-kit.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { tempDir } from '../testing/temp.ts';
import { WIDGET_SQL } from './widget-sql.fixture.ts';

let t: TestPlatform;
let brand: Brand;
let activation: ActivationService;
let out: { dir: string; remove: () => void };
let second: string;
const ids = { acme: '', archive: '', unused: '' };
let archiveFlow: string;
let exportedAt: string;

async function sql(text: string): Promise<Record<string, unknown>[]> {
  return (await t.platform.queries.execute(LOCAL_OPERATOR, 'prod', text)).last.rows;
}

/** A §8.3 widget's SQL, verbatim but for its constants (a destination id). */
function widget(title: string, replace: Record<string, string> = {}): string {
  const found = WIDGET_SQL.find((w) => w.title === title);
  assert.ok(found, title);
  return Object.entries(replace).reduce((text, [from, to]) => text.replaceAll(from, to), found.sql);
}

/** The 32-bit destination id the model gives an account. */
async function destinationId(accountId: string): Promise<string> {
  const rows = await sql(`SELECT destination_id FROM qsaccel.profile_agg.adwh_dim_destination WHERE destination = '${accountId}'`);
  assert.equal(rows.length, 1, `one destination row for ${accountId}`);
  return String(rows[0]!.destination_id);
}

/** Times come back from the query service as ISO 8601 text (TIMESTAMP in UTC). */
const iso = (v: unknown): string => new Date(String(v)).toISOString();

async function activatedCount(accountId: string): Promise<number> {
  const rows = await sql(widget('Activated audiences for a destination', { '1458738325': await destinationId(accountId) }));
  return Number(rows[0]!.Activated_Audiences_Count);
}

async function refresh(processDate: string): Promise<string> {
  const run = await t.platform.insights.refresh(LOCAL_OPERATOR, 'prod', 'CDPInsights', { processDate });
  assert.equal(run.status, 'success');
  return run.mode;
}

const fields: DataflowInput['fields'] = [{ source: { attribute: 'personalEmail.address' }, target: 'email', mandatory: true }];

describe('CDPInsights destinations from activation', () => {
  before(async () => {
    t = await createTestPlatform();
    brand = await setupBrand(t);
    out = tempDir('roundtrip-insights-dest-');
    const w = await t.platform.warehouse.sandbox('prod');
    const member = (segmentId: string, crm: string) => transition(w, { segmentId, mergePolicyId: brand.policyId, profileId: brand.profiles[crm]!, status: 'realized', at: '2024-01-01T01:00:00Z' });
    // C1, C2 have email and consent; C4 said no to email marketing: two profiles exported.
    for (const c of ['C1', 'C2', 'C4']) await member(brand.segmentId, c);
    second = (await t.platform.audiences.definitions.createExternal(LOCAL_OPERATOR, 'prod', { name: 'Weekend buyers', namespace: 'CRMID', mergePolicyId: brand.policyId })).id;
    await member(second, 'C1');

    const account = async (name: string) => (await t.platform.destinations.create(LOCAL_OPERATOR, 'prod', { name, type: 'local-folder', params: { folder: out.dir } })).id;
    ids.acme = await account('Acme Email');
    ids.archive = await account('Archive');
    ids.unused = await account('Unused');

    const clock = manualClock('2024-01-01T09:00:00Z');
    activation = activationWith(t, { clock });
    const acme = await activation.create(LOCAL_OPERATOR, 'prod', {
      name: 'Spring campaign',
      destinationId: ids.acme,
      audiences: [{ segmentId: brand.segmentId, schedule: { exportType: 'full', frequency: 'daily', startDate: '2024-01-01', endDate: '2024-01-10' } }],
      fields,
    });
    clock.set('2024-01-01T10:00:00Z');
    // Mapped but disabled and never run: its audiences count for the destination, the destination is not active.
    archiveFlow = (
      await activation.create(LOCAL_OPERATOR, 'prod', {
        name: 'Archive everything',
        destinationId: ids.archive,
        state: 'disabled',
        audiences: [brand.segmentId, second].map((segmentId) => ({ segmentId, schedule: { exportType: 'full' as const, frequency: 'daily' as const, startDate: '2024-01-02' } })),
        fields,
      })
    ).id;
    clock.set('2024-01-02T00:00:05Z');
    const run = await activation.runNow(LOCAL_OPERATOR, 'prod', acme.id);
    assert.equal(run.body.status, 'succeeded');
    assert.equal(run.body.profiles, 2);
    const lines = readdirSync(out.dir).flatMap((f) => readFileSync(path.join(out.dir, f), 'utf8').trimEnd().split('\n').slice(1));
    assert.deepEqual(lines.sort(), ['ann@example.com', 'bob@example.com']);
    const log = (await w.query(`SELECT finished_at::VARCHAR AS at FROM ${ACTIVATION_LOG_TABLE} WHERE dataflow_id = $d AND status = 'succeeded'`, { d: acme.id })).rows;
    assert.equal(log.length, 1);
    exportedAt = new Date(log[0]!.at as string).toISOString();
    assert.equal(await refresh('2024-01-05'), 'full');
  });
  after(async () => {
    await t.dispose();
    out.remove();
  });

  it('Most used destinations: audiences mapped per destination, accounts without a dataflow left out', async () => {
    const rows = await sql(widget('Most used destinations'));
    assert.deepEqual(
      rows.map((r) => [r.destination_name, r.destination, Number(r.segment_count)]),
      [['Archive', ids.archive, 2], ['Acme Email', ids.acme, 1]],
    );
    assert.equal(String(rows[1]!.destination_id), await destinationId(ids.acme));
  });

  it('Recently activated audiences: the first export time, or the mapping time before any export', async () => {
    const rows = await sql(widget('Recently activated audiences'));
    const byName = [brand.segmentId, second].sort();
    assert.deepEqual(
      rows.map((r) => [r.segment, r.segment_name, r.destination_name, iso(r.create_time)]),
      [
        [brand.segmentId, brand.segmentId, 'Acme Email', exportedAt],
        ...byName.map((s) => [s, s, 'Archive', '2024-01-01T10:00:00.000Z']),
      ],
    );
    assert.equal(exportedAt, '2024-01-02T00:00:05.000Z');
  });

  it('Activated audiences for a destination: the audiences whose schedule covers the process date', async () => {
    assert.equal(await activatedCount(ids.acme), 1);
    assert.equal(await activatedCount(ids.archive), 2);
    assert.equal(await activatedCount(ids.unused), 0);
  });

  it('Active destinations by platform: only destinations with an enabled dataflow', async () => {
    const rows = await sql(widget('Active destinations by platform'));
    assert.deepEqual(rows.map((r) => [r.Destination_Platform_Name, Number(r.Active_Destinations_Count)]), [['Local folder', 1]]);
    const all = await sql(`SELECT destination_name, destination_status FROM qsaccel.profile_agg.adwh_dim_destination ORDER BY destination_name`);
    assert.deepEqual(all.map((r) => [r.destination_name, r.destination_status]), [['Acme Email', 'enabled'], ['Archive', 'disabled'], ['Unused', 'disabled']]);
  });

  it('incremental refreshes rebuild them: the end date is excluded, a deleted dataflow leaves the bridge', async () => {
    // The Acme schedule ends on January 10 (excluded): active through the 9th.
    assert.equal(await refresh('2024-01-09'), 'incremental');
    assert.equal(await activatedCount(ids.acme), 1);
    assert.equal(await refresh('2024-01-10'), 'incremental');
    assert.equal(await activatedCount(ids.acme), 0);
    assert.equal(await activatedCount(ids.archive), 2);

    await activation.delete(LOCAL_OPERATOR, 'prod', archiveFlow);
    assert.equal(await refresh('2024-01-10'), 'incremental');
    const rows = await sql(widget('Most used destinations'));
    assert.deepEqual(rows.map((r) => [r.destination_name, Number(r.segment_count)]), [['Acme Email', 1]]);
    const recent = await sql(widget('Recently activated audiences'));
    assert.deepEqual(recent.map((r) => [r.destination_name, iso(r.create_time)]), [['Acme Email', exportedAt]]);
  });
});
