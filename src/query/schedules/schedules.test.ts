import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '../../access/principal.ts';
import { POSTGRES_SKIP } from '../../testing/postgres.ts';
import type { QueryOptions, QueryOutcome } from '../types.ts';
import { QuerySchedules } from './schedules.ts';
import { createBed, startWebhook, type Bed, type WebhookReceiver } from './test-support.ts';

type Run = { id: string; status: string; trigger: string; slotAt: string | null; errorCode: string | null; message: string | null; datasetId: string | null };

async function runsOf(bed: Bed, id: string, limit = 100): Promise<Run[]> {
  const response = await bed.call('GET', `/schedules/${id}/runs?limit=${limit}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return (response.body.runs as Run[]).reverse(); // oldest first reads better in assertions
}

async function createSchedule(bed: Bed, body: object): Promise<{ id: string; [key: string]: unknown }> {
  const response = await bed.call('POST', '/schedules', body);
  assert.equal(response.status, 202, JSON.stringify(response.body));
  return response.body as { id: string; [key: string]: unknown };
}

describe('query schedules: timetable, runs and history (real query service, fake clock)', () => {
  let bed: Bed;
  let hook: WebhookReceiver;
  before(async () => {
    bed = await createBed('2026-01-01T00:00:00.000Z');
    hook = await startWebhook();
  });
  after(async () => {
    await bed.dispose();
    await hook.close();
  });

  it('runs an hourly schedule at the right UTC instants between its start and end dates', async () => {
    bed.clock.set('2026-01-01T00:00:00.000Z');
    const s = await createSchedule(bed, {
      query: { sql: 'SELECT 1 AS one', name: 'hourly' },
      schedule: { frequency: { type: 'hourly', minute: 0 }, startDate: '2026-01-01T02:00:00.000Z', endDate: '2026-01-01T04:00:00.000Z' },
    });
    assert.equal((s.schedule as { nextRunAt: string }).nextRunAt, '2026-01-01T02:00:00.000Z');
    assert.equal((s.schedule as { maxActiveRuns: number }).maxActiveRuns, 1);
    for (const at of ['01:00', '01:59:59', '02:00:05', '02:30', '03:00', '03:59', '04:00:01', '05:00', '06:00']) await bed.tickAt(`2026-01-01T${at}Z`);
    const runs = await runsOf(bed, s.id);
    assert.deepEqual(
      runs.map((r) => [r.slotAt, r.status, r.trigger]),
      [
        ['2026-01-01T02:00:00.000Z', 'SUCCESS', 'schedule'],
        ['2026-01-01T03:00:00.000Z', 'SUCCESS', 'schedule'],
        ['2026-01-01T04:00:00.000Z', 'SUCCESS', 'schedule'],
      ],
    );
    assert.equal((await bed.call('GET', `/schedules/${s.id}`)).body.schedule.nextRunAt, null, 'nothing after the end date');
  });

  it('runs a daily every-2-days schedule at its UTC time of day', async () => {
    bed.clock.set('2026-02-01T00:00:00.000Z');
    const s = await createSchedule(bed, {
      query: { sql: 'SELECT 2 AS two', name: 'every other day' },
      schedule: { frequency: { type: 'daily', every: 2, at: '06:30' }, startDate: '2026-02-01T00:00:00.000Z' },
    });
    for (const at of ['2026-02-01T06:29:59Z', '2026-02-01T06:30:00Z', '2026-02-02T06:30:00Z', '2026-02-03T06:30:10Z', '2026-02-04T12:00:00Z', '2026-02-05T06:31:00Z']) {
      await bed.tickAt(at);
    }
    assert.deepEqual(
      (await runsOf(bed, s.id)).map((r) => r.slotAt),
      ['2026-02-01T06:30:00.000Z', '2026-02-03T06:30:00.000Z', '2026-02-05T06:30:00.000Z'],
    );
  });

  it('quarantines after 10 consecutive failures (a success resets the count) and alerts the webhook', async () => {
    bed.clock.set('2026-03-01T00:00:00.000Z');
    const template = (await bed.call('POST', '/query-templates', { sql: 'SELECT * FROM no_such_table', name: 'flaky' })).body;
    const s = await createSchedule(bed, {
      query: { templateId: template.id },
      schedule: { schedule: '* * * * *' },
      quarantine: true,
      alerts: { webhook: { url: hook.url, secret: 'shared-secret-1' }, events: ['failure', 'quarantine', 'success'] },
    });
    const minute = (n: number) => new Date(Date.parse('2026-03-01T00:00:00.000Z') + n * 60_000).toISOString();
    for (let i = 1; i <= 3; i++) await bed.tickAt(minute(i));
    assert.equal((await bed.call('GET', `/schedules/${s.id}`)).body.quarantine.consecutiveFailures, 3);
    await bed.call('PUT', `/query-templates/${template.id}`, { sql: 'SELECT 1 AS fine', name: 'flaky' });
    await bed.tickAt(minute(4));
    assert.equal((await bed.call('GET', `/schedules/${s.id}`)).body.quarantine.consecutiveFailures, 0, 'a success resets the count');
    await bed.call('PUT', `/query-templates/${template.id}`, { sql: 'SELECT * FROM no_such_table', name: 'flaky' });
    for (let i = 5; i <= 13; i++) await bed.tickAt(minute(i));
    let view = (await bed.call('GET', `/schedules/${s.id}`)).body;
    assert.deepEqual([view.state, view.quarantine.consecutiveFailures], ['ENABLED', 9]);
    await bed.tickAt(minute(14));
    view = (await bed.call('GET', `/schedules/${s.id}`)).body;
    assert.deepEqual([view.state, view.quarantine.consecutiveFailures], ['QUARANTINED', 10]);
    await bed.tickAt(minute(15));
    await bed.tickAt(minute(16));
    const runs = await runsOf(bed, s.id);
    assert.equal(runs.length, 14, 'a quarantined schedule does not run');
    assert.equal(runs[runs.length - 1]!.errorCode, 'RT_QUERY_FAILED');

    const events = hook.events(s.id);
    assert.deepEqual(events.filter((e) => e !== 'failure'), ['success', 'quarantine']);
    assert.equal(events.filter((e) => e === 'failure').length, 13);
    const quarantine = hook.deliveries.find((d) => d.json.event === 'quarantine' && d.json.schedule.id === s.id)!;
    const [t, v1] = String(quarantine.headers['x-roundtrip-signature']).split(',').map((p) => p.split('=')[1]);
    assert.equal(v1, createHmac('sha256', 'shared-secret-1').update(`${t}.${quarantine.body}`).digest('hex'), 'signed with the shared secret');
    assert.equal(quarantine.headers['x-roundtrip-event'], 'schedule.quarantine');

    // Manual re-enable: back to ENABLED with a fresh count, next slot from now (no catch-up of the quarantine time).
    bed.clock.set(minute(30));
    const enabled = await bed.call('PATCH', `/schedules/${s.id}`, { op: 'enable' });
    assert.equal(enabled.status, 202);
    assert.deepEqual(
      [enabled.body.schedule.state, enabled.body.schedule.quarantine.consecutiveFailures, enabled.body.schedule.schedule.nextRunAt],
      ['ENABLED', 0, minute(31)],
    );
    await bed.call('PATCH', `/schedules/${s.id}`, { op: 'disable' });
  });

  it('refuses to delete an enabled schedule; JSON-Patch body disables it; delete removes it', async () => {
    const s = await createSchedule(bed, { query: { sql: 'SELECT 1 AS x', name: 'deletable' }, schedule: { schedule: '0 0 * * *' } });
    const refused = await bed.call('DELETE', `/schedules/${s.id}`);
    assert.deepEqual([refused.status, refused.body.error.code], [409, 'RT_SCHEDULE_STATE']);
    const patched = await bed.call('PATCH', `/schedules/${s.id}`, {
      body: [
        { op: 'replace', path: '/state', value: 'disable' },
        { op: 'replace', path: '/schedule/schedule', value: '45 * * * *' },
      ],
    });
    assert.deepEqual([patched.status, patched.body.message, patched.body.schedule.state, patched.body.schedule.schedule.schedule], [
      202,
      'Request to patch accepted',
      'DISABLED',
      '45 * * * *',
    ]);
    const badCron = await bed.call('PATCH', `/schedules/${s.id}`, { body: [{ op: 'replace', path: '/schedule/schedule', value: '61 * * * *' }] });
    assert.equal(badCron.body.error.code, 'RT_SCHEDULE_INVALID');
    assert.equal((await bed.call('DELETE', `/schedules/${s.id}`)).status, 202);
    assert.equal((await bed.call('GET', `/schedules/${s.id}`)).body.error.code, 'RT_SCHEDULE_NOT_FOUND');
  });

  it('persists template parameter values on the schedule and refuses a schedule missing one', async () => {
    const template = (await bed.call('POST', '/query-templates', { sql: "SELECT '$region' AS region, '$tier' AS tier", name: 'by region', queryParameters: { tier: 'gold' } }))
      .body;
    const missing = await bed.call('POST', '/schedules', { query: { templateId: template.id }, schedule: { schedule: '0 * * * *' } });
    assert.deepEqual([missing.status, missing.body.error.code, missing.body.error.details.missing], [400, 'RT_QUERY_PARAMETER_MISSING', ['region']]);
    const s = await createSchedule(bed, {
      query: { templateId: template.id, name: 'emea by region' },
      schedule: { schedule: '0 * * * *' },
      queryParameters: { $region: 'emea', ignored: 'yes' },
      output: { mode: 'create-and-append', dataset: 'region_tiers' },
    });
    assert.deepEqual(s.queryParameters, { region: 'emea', ignored: 'yes' });
    const triggered = await bed.call('POST', `/schedules/${s.id}/runs`);
    assert.deepEqual([triggered.status, triggered.body.status, triggered.body.trigger], [202, 'RUNNING', 'manual']);
    await bed.platform.schedules.idle();
    const rows = (await bed.call('POST', '/queries', { sql: 'SELECT region, tier FROM region_tiers' })).body.last.rows;
    assert.deepEqual(rows, [{ region: 'emea', tier: 'gold' }]);
  });

  it('create-and-append: the first run creates the dataset, later runs append to the same one', async () => {
    const s = await createSchedule(bed, {
      query: { sql: 'SELECT 7 AS n, 1 AS k;', name: 'appender' },
      schedule: { schedule: '0 0 1 1 *' },
      output: { mode: 'create-and-append', dataset: 'appended_counts', description: 'test output' },
    });
    await bed.call('POST', `/schedules/${s.id}/runs`);
    await bed.platform.schedules.idle();
    await bed.call('POST', `/schedules/${s.id}/runs`);
    await bed.platform.schedules.idle();
    const runs = await runsOf(bed, s.id);
    assert.deepEqual(runs.map((r) => r.status), ['SUCCESS', 'SUCCESS'], JSON.stringify(runs));
    assert.ok(runs[0]!.datasetId && runs[0]!.datasetId === runs[1]!.datasetId, 'both runs wrote the same dataset');
    const dataset = (await bed.call('GET', `/datasets/${runs[0]!.datasetId}`)).body;
    assert.equal(dataset.name, 'appended_counts');
    const snapshots = (await bed.call('GET', `/datasets/${dataset.id}/snapshots`)).body.snapshots;
    assert.equal(snapshots.length, 2, 'one snapshot per run');
    assert.equal((await bed.call('POST', '/queries', { sql: 'SELECT count(*) AS c FROM appended_counts' })).body.last.rows[0].c, 2);
    const exists = await bed.call('POST', '/schedules', {
      query: { sql: 'SELECT 1 AS n', name: 'clash' },
      schedule: { schedule: '0 0 1 1 *' },
      output: { mode: 'create-and-append', dataset: 'appended_counts' },
    });
    assert.equal(exists.body.error.code, 'RT_DATASET_EXISTS');
  });

  it('append into an existing dataset, and refuses SQL that writes by itself', async () => {
    await bed.call('POST', '/queries', { sql: 'CREATE TABLE existing_out AS SELECT 1 AS n' });
    const s = await createSchedule(bed, {
      query: { sql: 'SELECT 2 AS n', name: 'append existing' },
      schedule: { schedule: '0 0 1 1 *' },
      output: { mode: 'append', dataset: 'existing_out' },
    });
    await bed.call('POST', `/schedules/${s.id}/runs`);
    await bed.platform.schedules.idle();
    const rows = (await bed.call('POST', '/queries', { sql: 'SELECT n FROM existing_out ORDER BY n' })).body.last.rows;
    assert.deepEqual(rows, [{ n: 1 }, { n: 2 }]);
    for (const sql of ['INSERT INTO existing_out SELECT 3 AS n', 'CREATE TABLE other_out AS SELECT 3 AS n', 'SELECT 1 AS n; SELECT 2 AS n', 'DELETE FROM existing_out']) {
      const refused = await bed.call('POST', '/schedules', { query: { sql, name: 'writer' }, schedule: { schedule: '0 0 1 1 *' }, output: { mode: 'append', dataset: 'existing_out' } });
      assert.deepEqual([refused.status, refused.body.error.code], [400, 'RT_SCHEDULE_OUTPUT_SQL'], sql);
    }
    const missing = await bed.call('POST', '/schedules', { query: { sql: 'SELECT 1 AS n', name: 'x' }, schedule: { schedule: '0 0 1 1 *' }, output: { mode: 'append', dataset: 'nope' } });
    assert.equal(missing.body.error.code, 'RT_DATASET_NOT_FOUND');
  });

  it('validates the create body and lists schedules with the reference filters', async () => {
    const both = await bed.call('POST', '/schedules', { query: { sql: 'SELECT 1', name: 'x' }, schedule: { schedule: '* * * * *', frequency: { type: 'hourly' } } });
    assert.equal(both.body.error.code, 'RT_SCHEDULE_INVALID');
    const noAt = await bed.call('POST', '/schedules', { query: { sql: 'SELECT 1', name: 'x' }, schedule: { frequency: { type: 'weekly', days: ['MON'] } } });
    assert.deepEqual([noAt.body.error.code, noAt.body.error.details.issues[0].path], ['RT_SCHEDULE_INVALID', 'schedule.frequency.at']);
    const delay = await bed.call('POST', '/schedules', { query: { sql: 'SELECT 1', name: 'x' }, schedule: { schedule: '* * * * *' }, alerts: { delayMinutes: 1441 } });
    assert.equal(delay.body.error.code, 'RT_REQUEST_INVALID');
    const weekly = await createSchedule(bed, { query: { sql: 'SELECT 1 AS x', name: 'weekly one' }, schedule: { frequency: { type: 'weekly', days: ['MON', 'FRI'], at: '07:00' } } });
    const listed = await bed.call('GET', `/schedules?property=name==weekly one&orderby=-created`);
    assert.deepEqual(listed.body.schedules.map((x: { id: string }) => x.id), [weekly.id]);
    assert.equal(listed.body.schedules[0].alerts.webhook, null);
    const quarantined = await bed.call('GET', '/schedules?property=state==QUARANTINED');
    assert.equal(quarantined.body._page.total, 0, 'the quarantined schedule was re-enabled then disabled');
    const all = await bed.call('GET', '/schedules?limit=2');
    assert.deepEqual([all.body._page.count, all.body._page.limit], [2, 2]);
    assert.ok(all.body._links.next);
  });
});

/** A query service stand-in whose runs end when the test says so. */
class GatedExecutor {
  private gates: (() => void)[] = [];
  calls: { sql: string; options: QueryOptions; principal: Principal }[] = [];
  readonly execute = async (principal: Principal, _sandbox: string, sql: string, options: QueryOptions): Promise<QueryOutcome> => {
    this.calls.push({ sql, options, principal });
    await new Promise<void>((resolve) => this.gates.push(resolve));
    const last = { statement: sql, kind: 'select' as const, columns: [], rows: [], rowCount: 0, truncated: false };
    return { queryId: `q_${this.calls.length}`, results: [last], last, durationMs: 1 };
  };
  /** Resolves once `n` runs have reached the query service (they start in the background). */
  async called(n: number): Promise<void> {
    while (this.calls.length < n) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  release(): void {
    for (const open of this.gates.splice(0)) open();
  }
}

describe('query schedules: one active run, delay alerts, restart and catch-up', () => {
  let bed: Bed;
  let hook: WebhookReceiver;
  before(async () => {
    bed = await createBed('2026-05-01T00:00:00.000Z');
    hook = await startWebhook();
  });
  after(async () => {
    await bed.dispose();
    await hook.close();
  });

  it('keeps one active run: an overlapping slot is skipped, a trigger and a delete are refused; delay alert after N minutes', async () => {
    const gated = new GatedExecutor();
    const { metadata, audit } = bed.platform;
    const schedules = new QuerySchedules({ metadata, audit, clock: bed.clock, execute: gated.execute, logLevel: 'silent' });
    const actor: Principal = { id: 'tester', name: 'tester', role: 'admin', sandboxes: ['*'] };
    bed.clock.set('2026-05-01T00:00:00.000Z');
    const s = await schedules.create(actor, 'prod', {
      query: { sql: 'SELECT 1 AS x', name: 'slow' },
      schedule: { schedule: '*/5 * * * *' },
      alerts: { webhook: { url: hook.url }, delayMinutes: 12 },
    });
    const report = await schedules.tick(bed.clock.set('2026-05-01T00:05:00.000Z'));
    assert.equal(report.started.length, 1);
    await gated.called(1);
    assert.deepEqual([gated.calls[0]!.options.client, gated.calls[0]!.options.executionClass, gated.calls[0]!.principal.id], ['schedule', 'batch', s.id]);
    const overlap = await schedules.tick(bed.clock.set('2026-05-01T00:10:00.000Z'));
    assert.deepEqual([overlap.started.length, overlap.skipped], [0, 1]);
    await assert.rejects(schedules.trigger(actor, 'prod', s.id), { code: 'RT_SCHEDULE_RUN_ACTIVE' });
    await schedules.patch(actor, 'prod', s.id, { op: 'disable' });
    await assert.rejects(schedules.delete(actor, 'prod', s.id), { code: 'RT_SCHEDULE_RUN_ACTIVE' });
    const runId = report.started[0]!;
    const delayAlerted = async () => (await metadata.queryScheduleRuns.get('prod', runId))?.delayAlerted;
    await schedules.tick(bed.clock.set('2026-05-01T00:16:59.000Z'));
    assert.equal(await delayAlerted(), false, 'not yet 12 minutes');
    await schedules.tick(bed.clock.set('2026-05-01T00:17:00.000Z'));
    assert.equal(await delayAlerted(), true);
    await schedules.tick(bed.clock.set('2026-05-01T00:18:00.000Z'));
    gated.release();
    await schedules.idle();
    assert.deepEqual(hook.events(s.id), ['start', 'delay', 'success'], 'one delay alert, then success');
    const runs = (await schedules.runs('prod', s.id)).reverse();
    assert.deepEqual(
      runs.map((r) => [r.slotAt, r.status]),
      [
        ['2026-05-01T00:05:00.000Z', 'SUCCESS'],
        ['2026-05-01T00:10:00.000Z', 'SKIPPED'],
      ],
    );
    assert.match(runs[1]!.message ?? '', /still active/);
    await schedules.delete(actor, 'prod', s.id);
  });

  it('a webhook that fails does not block runs', async () => {
    const broken = await startWebhook(500);
    const s = await createSchedule(bed, { query: { sql: 'SELECT 1 AS x', name: 'broken hook' }, schedule: { schedule: '0 0 1 1 *' }, alerts: { webhook: { url: broken.url } } });
    const closed = await createSchedule(bed, { query: { sql: 'SELECT 1 AS x', name: 'dead hook' }, schedule: { schedule: '0 0 1 1 *' }, alerts: { webhook: { url: 'http://127.0.0.1:9/none' } } });
    await bed.call('POST', `/schedules/${s.id}/runs`);
    await bed.call('POST', `/schedules/${closed.id}/runs`);
    await bed.platform.schedules.idle();
    assert.deepEqual((await runsOf(bed, s.id)).map((r) => r.status), ['SUCCESS']);
    assert.deepEqual((await runsOf(bed, closed.id)).map((r) => r.status), ['SUCCESS']);
    assert.deepEqual(broken.events(s.id), ['start', 'success'], 'delivered (and answered 500) without retries');
    await broken.close();
  });

  it('survives a restart and catches up once for the most recent missed slot, recording the skipped ones', async () => {
    bed.clock.set('2026-06-01T09:30:00.000Z');
    const s = await createSchedule(bed, { query: { sql: 'SELECT 1 AS x', name: 'survivor' }, schedule: { schedule: '0 * * * *' }, quarantine: true });
    await bed.tickAt('2026-06-01T10:00:00.000Z');
    // A run left active by a process that died: the next process marks it interrupted.
    const ghost = { id: 'run_ghost', status: 'RUNNING' as const };
    await bed.platform.metadata.queryScheduleRuns.create({
      sandbox: 'prod', id: ghost.id, scheduleId: s.id, trigger: 'manual', slotAt: null, status: ghost.status, queryId: null, datasetId: null, rowCount: null,
      message: null, errorCode: null, errorMessage: null, delayAlerted: false, createdAt: '2026-06-01T10:10:00.000Z', startedAt: '2026-06-01T10:10:00.000Z', endedAt: null,
    });
    assert.equal(await bed.platform.metadata.querySchedules.claimRun('prod', s.id, ghost.id), true);

    await bed.restart('2026-06-01T15:20:00.000Z');
    const view = (await bed.call('GET', `/schedules/${s.id}`)).body;
    assert.deepEqual([view.state, view.schedule.nextRunAt, view.activeRunId], ['ENABLED', '2026-06-01T11:00:00.000Z', null], 'state kept; the dead run released');
    assert.equal(view.quarantine.consecutiveFailures, 0, 'an interrupted run does not count toward quarantine');
    await bed.tickAt('2026-06-01T15:20:00.000Z');
    const runs = await runsOf(bed, s.id);
    assert.deepEqual(
      runs.map((r) => [r.slotAt, r.status, r.trigger]),
      [
        ['2026-06-01T10:00:00.000Z', 'SUCCESS', 'schedule'],
        [null, 'FAILED', 'manual'],
        ['2026-06-01T11:00:00.000Z', 'SKIPPED', 'schedule'],
        ['2026-06-01T12:00:00.000Z', 'SKIPPED', 'schedule'],
        ['2026-06-01T13:00:00.000Z', 'SKIPPED', 'schedule'],
        ['2026-06-01T14:00:00.000Z', 'SKIPPED', 'schedule'],
        ['2026-06-01T15:00:00.000Z', 'SUCCESS', 'catch-up'],
      ],
    );
    assert.equal(runs[1]!.errorCode, 'RT_SCHEDULE_RUN_INTERRUPTED');
    await bed.tickAt('2026-06-01T16:00:00.000Z');
    assert.equal((await runsOf(bed, s.id)).at(-1)!.trigger, 'schedule', 'back on the timetable');
  });
});

describe('job schedules: named platform jobs on the same timetable', () => {
  let bed: Bed;
  before(async () => {
    bed = await createBed('2026-03-01T00:00:00.000Z');
    // 300 customers with a few purchases each at pseudo-random days of 2025 (hash-spread, so the models can fit).
    const created = await bed.call('POST', '/queries', {
      sql: `CREATE TABLE tx AS SELECT 'c' || (hash(i) % 300)::VARCHAR AS customer, TIMESTAMP '2025-01-01' + to_days((hash(i * 7) % 360)::INTEGER) AS ts, 5 + (hash(i * 13) % 40)::DOUBLE AS amount FROM range(1500) t(i)`,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
  });
  after(() => bed.dispose());

  const predict = { input: { dataset: 'tx', customerId: 'customer', datetime: 'ts', monetary: 'amount' }, output: { dataset: 'clv_predictions' } };

  it('lists the job kinds and refuses an unknown kind, bad parameters or a job mixed with SQL, up front', async () => {
    const kinds = await bed.call('GET', '/schedules/job-kinds');
    assert.equal(kinds.status, 200);
    assert.ok((kinds.body.kinds as { kind: string }[]).some((k) => k.kind === 'clv.predict'));
    const timing = { frequency: { type: 'daily', at: '02:00' } };
    const unknown = await bed.call('POST', '/schedules', { job: { kind: 'clv.nope' }, schedule: timing });
    assert.equal(unknown.body.error.code, 'RT_JOB_KIND_UNKNOWN');
    const bad = await bed.call('POST', '/schedules', { job: { kind: 'clv.predict', params: { input: { dataset: 'tx' }, horizon: 'soon' } }, schedule: timing });
    assert.equal(bad.body.error.code, 'RT_SCHEDULE_INVALID');
    const mixed = await bed.call('POST', '/schedules', { job: { kind: 'clv.predict', params: predict }, query: { sql: 'SELECT 1', name: 'x' }, schedule: timing });
    assert.equal(mixed.body.error.code, 'RT_SCHEDULE_INVALID');
  });

  it('runs clv.predict daily: each run refits and writes the predictions dataset, recorded in the run history', async () => {
    const s = await createSchedule(bed, { job: { kind: 'clv.predict', params: predict, name: 'nightly CLV' }, schedule: { frequency: { type: 'daily', at: '02:00' } } });
    assert.deepEqual(s.job, { kind: 'clv.predict', params: predict });
    await bed.tickAt('2026-03-01T02:00:00.000Z');
    await bed.tickAt('2026-03-02T02:00:00.000Z');
    const runs = await runsOf(bed, s.id);
    assert.deepEqual(runs.map((r) => [r.slotAt, r.status]), [['2026-03-01T02:00:00.000Z', 'SUCCESS'], ['2026-03-02T02:00:00.000Z', 'SUCCESS']], JSON.stringify(runs));
    const customers = (await bed.call('POST', '/queries', { sql: 'SELECT count(DISTINCT customer) AS n FROM tx' })).body.last.rows[0].n as number;
    assert.match(runs[1]!.message ?? '', new RegExp(`^Predicted ${customers} customers .* into clv_predictions`));
    const snapshots = await bed.call('POST', '/queries', { sql: 'SELECT count(DISTINCT _rt_snapshot_id) AS runs, count(*) AS n FROM clv_predictions' });
    assert.deepEqual(snapshots.body.last.rows[0], { runs: 2, n: 2 * customers });
  });
});

describe('query schedules with PostgreSQL metadata (DATABASE_URL)', { skip: POSTGRES_SKIP }, () => {
  let bed: Bed;
  before(async () => {
    bed = await createBed('2026-07-01T00:00:00.000Z', { postgres: true });
  });
  after(() => bed.dispose());

  it('runs, survives a restart and catches up the same way', async () => {
    assert.equal(bed.platform.metadata.dialect, 'postgres');
    const s = await createSchedule(bed, {
      query: { sql: 'SELECT 5 AS n', name: 'pg' },
      schedule: { frequency: { type: 'hourly', minute: 30 } },
      output: { mode: 'create-and-append', dataset: 'pg_out' },
    });
    await bed.tickAt('2026-07-01T00:30:00.000Z');
    await bed.restart('2026-07-01T03:45:00.000Z');
    await bed.tickAt('2026-07-01T03:45:00.000Z');
    assert.deepEqual(
      (await runsOf(bed, s.id)).map((r) => [r.slotAt, r.status]),
      [
        ['2026-07-01T00:30:00.000Z', 'SUCCESS'],
        ['2026-07-01T01:30:00.000Z', 'SKIPPED'],
        ['2026-07-01T02:30:00.000Z', 'SKIPPED'],
        ['2026-07-01T03:30:00.000Z', 'SUCCESS'],
      ],
    );
    assert.equal((await bed.call('POST', '/queries', { sql: 'SELECT count(*) AS c FROM pg_out' })).body.last.rows[0].c, 2);
  });
});
