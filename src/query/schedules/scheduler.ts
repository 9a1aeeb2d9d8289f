/**
 * The scheduler: `tick(now)` finds the schedules whose next slot has come, records missed slots per the catch-up
 * rule, and starts one run each; runs execute in the background through the query service and record their
 * outcome, the failure streak (quarantine after 10) and alerts. A timer calls `tick` every few seconds in
 * `roundtrip serve` only; tests call it with their own clock.
 *
 * One active run per schedule: the run claims the schedule's `activeRunId` in metadata (compare-and-set), and a
 * slot that comes due while a run holds it is recorded as SKIPPED, not queued, so a slow query cannot build a
 * backlog. A run still marked active when a process starts (the server stopped mid-run) is marked FAILED with
 * `RT_SCHEDULE_RUN_INTERRUPTED` and not retried.
 */
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../../access/audit.ts';
import { isoNow, type Clock } from '../../core/clock.ts';
import { RoundtripError } from '../../core/errors.ts';
import type { MetadataStore, QueryScheduleRecord, QueryScheduleRunRecord } from '../../ports/metadata-store.ts';
import { asParams, mergeParams } from '../templates/parameters.ts';
import type { ExecuteQuery } from '../templates/templates.ts';
import type { QueryOutcome } from '../types.ts';
import type { AlertPayload, AlertSender } from './alerts.ts';
import { planCatchUp, type CatchUpPlan } from './catch-up.ts';
import { alertsOf, outputOf, QUARANTINE_AFTER, RUNS_KEPT, scheduleRunner, timingOf, type AlertEvent, type AlertSpec } from './model.ts';
import { outputQuery, outputStatement } from './output.ts';
import { nextSlot } from './timing.ts';
import type { JobRegistry } from '../../platform/jobs.ts';
import type { JsonValue } from '../../ports/warehouse.ts';

export interface SchedulerDeps {
  metadata: MetadataStore;
  audit: AuditLog;
  clock: Clock;
  execute: ExecuteQuery;
  alerts: AlertSender;
  jobs?: JobRegistry;
}

/** What a run did, for its history row. */
interface RunResult {
  queryId: string | null;
  rowCount: number | null;
  message: string | null;
  /** Table of the output dataset, when the run wrote one. */
  table: string | null;
}

export interface ScheduledJob {
  kind: string;
  params: Record<string, JsonValue>;
}

/** The job of a job schedule, or null for a SQL schedule. */
export function jobOf(s: QueryScheduleRecord): ScheduledJob | null {
  const job = s.job as { kind?: unknown; params?: unknown } | null;
  if (!job || typeof job.kind !== 'string') return null;
  return { kind: job.kind, params: (job.params ?? {}) as Record<string, JsonValue> };
}

export type RunTrigger = 'schedule' | 'catch-up' | 'manual';

export interface TickReport {
  /** Runs started by this tick. */
  started: string[];
  /** Slots recorded as skipped (missed or overlapping). */
  skipped: number;
}

interface ActiveRun {
  sandbox: string;
  scheduleId: string;
  runId: string;
  startedAt: number;
  alerts: AlertSpec;
  delayAlerted: boolean;
  done: Promise<void>;
}

interface PreparedRun {
  sql: string;
  params: Record<string, string>;
  /** Table of the output dataset, when the schedule writes one. */
  table: string | null;
}

interface PendingAlert {
  event: AlertEvent;
  message: string;
}

/** Individually recorded missed slots per catch-up; older ones are summarised in one row. */
const MISSED_ROWS = 50;
export const DEFAULT_TICK_MS = 15_000;

let runSequence = 0;
/** Run ids sort by creation within a process, so history rows written in one instant keep their order. */
function newRunId(): string {
  runSequence = (runSequence + 1) % 1296;
  return `run_${Date.now().toString(36).padStart(9, '0')}${runSequence.toString(36).padStart(2, '0')}${randomBytes(4).toString('hex')}`;
}

function errorInfo(error: unknown): { code: string; message: string } {
  if (error instanceof RoundtripError) return { code: error.code, message: error.message };
  return { code: 'RT_INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

export class Scheduler {
  private readonly active = new Map<string, ActiveRun>();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private recovery: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly deps: SchedulerDeps) {}

  /** Handles every schedule due at `now`. Ticks never overlap: a second call waits for the first. */
  tick(now: Date = this.deps.clock.now()): Promise<TickReport> {
    const result = this.chain.then(() => this.runTick(now));
    this.chain = result.catch(() => undefined);
    return result;
  }

  /** Calls `tick` now and every `intervalMs` (the `roundtrip serve` loop). */
  start(intervalMs = DEFAULT_TICK_MS): void {
    if (this.timer) return;
    this.stopped = false;
    const tick = (): void => {
      this.tick().catch((error: unknown) => this.deps.alerts.log.error({ error: errorInfo(error) }, 'Scheduler tick failed; the next tick retries.'));
    };
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    tick();
  }

  /** Stops the timer and waits for the runs and alert deliveries in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stopped = true;
    await this.chain;
    await this.idle();
  }

  /** Resolves when no run started by this process is in flight and every alert delivery has ended. */
  async idle(): Promise<void> {
    while (this.active.size) await Promise.all([...this.active.values()].map((a) => a.done));
    await this.deps.alerts.idle();
  }

  /** Marks runs left active by a stopped process as interrupted; once per process, before anything else runs. */
  recover(): Promise<void> {
    this.recovery ??= this.recoverInterrupted();
    return this.recovery;
  }

  /** Starts a run now, outside the timetable; refused while another run is active. */
  async trigger(s: QueryScheduleRecord): Promise<QueryScheduleRunRecord> {
    await this.recover();
    return this.startRun(s, 'manual', null);
  }

  private async runTick(now: Date): Promise<TickReport> {
    await this.recover();
    await this.alertDelays(now);
    const report: TickReport = { started: [], skipped: 0 };
    if (this.stopped) return report;
    for (const s of await this.deps.metadata.querySchedules.due(now.toISOString())) {
      try {
        await this.fire(s, now, report);
      } catch (error) {
        this.deps.alerts.log.error({ scheduleId: s.id, sandbox: s.sandbox, error: errorInfo(error) }, 'Could not start a scheduled run.');
      }
    }
    return report;
  }

  private async fire(s: QueryScheduleRecord, now: Date, report: TickReport): Promise<void> {
    const timing = timingOf(s);
    const plan = planCatchUp(timing, new Date(s.nextRunAt ?? now.toISOString()), now);
    const next = nextSlot(timing, now);
    // Advance first: whatever happens to this run, the same slot is never fired twice.
    await this.deps.metadata.querySchedules.update(s.sandbox, s.id, { nextRunAt: next?.toISOString() ?? null, lastSlotAt: plan.slot?.toISOString() ?? s.lastSlotAt });
    if (!plan.slot) return;
    report.skipped += await this.recordMissed(s, plan);
    const run = await this.startRun(s, plan.missed.length || plan.earlier ? 'catch-up' : 'schedule', plan.slot);
    if (run.status === 'RUNNING') report.started.push(run.id);
    else report.skipped++;
  }

  private async recordMissed(s: QueryScheduleRecord, plan: CatchUpPlan): Promise<number> {
    const rows: { slotAt: Date; message: string }[] = [];
    if (plan.earlier) {
      rows.push({
        slotAt: plan.earlier.from,
        message: `Missed: slots from ${plan.earlier.from.toISOString()} to ${plan.earlier.to.toISOString()} passed while the scheduler was not running (not listed one by one).`,
      });
    }
    const summarised = plan.missed.slice(0, Math.max(0, plan.missed.length - MISSED_ROWS));
    if (summarised.length) {
      rows.push({
        slotAt: summarised[0]!,
        message: `Missed: ${summarised.length} slots from ${summarised[0]!.toISOString()} to ${summarised[summarised.length - 1]!.toISOString()} passed while the scheduler was not running.`,
      });
    }
    for (const slot of plan.missed.slice(summarised.length)) {
      rows.push({ slotAt: slot, message: 'Missed: the scheduler was not running at this slot; only the most recent missed slot runs.' });
    }
    const at = isoNow(this.deps.clock);
    for (const row of rows) {
      await this.deps.metadata.queryScheduleRuns.create(this.runRecord(s, 'schedule', row.slotAt, at, { status: 'SKIPPED', message: row.message, startedAt: null, endedAt: at }));
    }
    if (rows.length) this.deps.alerts.log.warn({ scheduleId: s.id, sandbox: s.sandbox, missed: plan.missed.length }, `Schedule "${s.name}" caught up: ran the latest missed slot only.`);
    return rows.length;
  }

  private runRecord(s: QueryScheduleRecord, trigger: RunTrigger, slot: Date | null, at: string, overrides: Partial<QueryScheduleRunRecord> = {}): QueryScheduleRunRecord {
    return {
      sandbox: s.sandbox,
      id: newRunId(),
      scheduleId: s.id,
      trigger,
      slotAt: slot?.toISOString() ?? null,
      status: 'RUNNING',
      queryId: null,
      datasetId: null,
      rowCount: null,
      message: null,
      errorCode: null,
      errorMessage: null,
      delayAlerted: false,
      createdAt: at,
      startedAt: at,
      endedAt: null,
      ...overrides,
    };
  }

  private async startRun(s: QueryScheduleRecord, trigger: RunTrigger, slot: Date | null): Promise<QueryScheduleRunRecord> {
    const at = isoNow(this.deps.clock);
    const run = this.runRecord(s, trigger, slot, at);
    if (!(await this.deps.metadata.querySchedules.claimRun(s.sandbox, s.id, run.id))) return this.skipOverlap(s, run, at);
    await this.deps.metadata.queryScheduleRuns.create(run);
    this.alert(s, 'start', run, `Schedule "${s.name}" started run ${run.id} (${trigger}).`);
    const entry: ActiveRun = { sandbox: s.sandbox, scheduleId: s.id, runId: run.id, startedAt: Date.parse(at), alerts: alertsOf(s), delayAlerted: false, done: Promise.resolve() };
    entry.done = this.runToEnd(s, run)
      .catch((error: unknown) => this.deps.alerts.log.error({ scheduleId: s.id, runId: run.id, error: errorInfo(error) }, 'Could not record the end of a scheduled run.'))
      .finally(() => this.active.delete(run.id));
    this.active.set(run.id, entry);
    return run;
  }

  private async skipOverlap(s: QueryScheduleRecord, run: QueryScheduleRunRecord, at: string): Promise<QueryScheduleRunRecord> {
    const holder = (await this.deps.metadata.querySchedules.get(s.sandbox, s.id))?.activeRunId ?? 'another run';
    if (run.trigger === 'manual') {
      throw new RoundtripError('RT_SCHEDULE_RUN_ACTIVE', `Schedule "${s.id}" has run ${holder} in progress; one run at a time.`, { activeRunId: holder });
    }
    const skipped = { ...run, status: 'SKIPPED' as const, startedAt: null, endedAt: at, message: `Skipped: run ${holder} was still active (one active run at a time).` };
    await this.deps.metadata.queryScheduleRuns.create(skipped);
    this.deps.alerts.log.warn({ scheduleId: s.id, sandbox: s.sandbox, runId: skipped.id, activeRunId: holder }, `Schedule "${s.name}" skipped a slot: a run was still active.`);
    return skipped;
  }

  private async runToEnd(s: QueryScheduleRecord, run: QueryScheduleRunRecord): Promise<void> {
    let pending: PendingAlert[] = [];
    try {
      const current = (await this.deps.metadata.querySchedules.get(s.sandbox, s.id)) ?? s;
      const job = jobOf(current);
      pending = await this.succeed(current, run, job ? await this.runJob(current, run, job) : await this.runQuery(current, run));
    } catch (error) {
      pending = await this.fail(s, run, error);
    } finally {
      await this.deps.metadata.querySchedules.releaseRun(s.sandbox, s.id, run.id);
      await this.deps.metadata.queryScheduleRuns.prune(s.sandbox, s.id, RUNS_KEPT);
    }
    const ended = await this.deps.metadata.queryScheduleRuns.get(s.sandbox, run.id);
    const latest = (await this.deps.metadata.querySchedules.get(s.sandbox, s.id)) ?? s;
    for (const a of pending) this.alert(latest, a.event, ended ?? run, a.message);
  }

  private async runQuery(s: QueryScheduleRecord, run: QueryScheduleRunRecord): Promise<RunResult> {
    const prepared = await this.prepare(s);
    const outcome: QueryOutcome = await this.deps.execute(scheduleRunner(s), s.sandbox, prepared.sql, {
      params: prepared.params,
      executionClass: 'batch',
      client: 'schedule',
      label: `schedule ${s.id} run ${run.id}`,
    });
    return { queryId: outcome.queryId, rowCount: outcome.last.rowCount, message: outcome.last.message ?? null, table: prepared.table };
  }

  private async runJob(s: QueryScheduleRecord, run: QueryScheduleRunRecord, job: ScheduledJob): Promise<RunResult> {
    if (!this.deps.jobs) throw new RoundtripError('RT_JOB_KIND_UNKNOWN', `No job kind "${job.kind}" on this platform.`, { kind: job.kind });
    const outcome = await this.deps.jobs.get(job.kind).run({ principal: scheduleRunner(s), sandbox: s.sandbox, params: job.params, scheduledFor: run.slotAt ?? isoNow(this.deps.clock) });
    return { queryId: null, rowCount: outcome.rowCount ?? null, message: outcome.message ?? null, table: null };
  }

  /** The statement to execute and its parameter values, read fresh so edits to the template apply to the next run. */
  private async prepare(s: QueryScheduleRecord): Promise<PreparedRun> {
    let sql = s.sql ?? '';
    let defaults: Record<string, string> = {};
    if (s.templateId) {
      const template = await this.deps.metadata.queryTemplates.get(s.sandbox, s.templateId);
      if (!template) throw new RoundtripError('RT_TEMPLATE_NOT_FOUND', `Query template "${s.templateId}" of this schedule no longer exists.`);
      sql = template.sql;
      defaults = asParams(template.queryParameters);
    }
    const params = mergeParams(defaults, asParams(s.parameters));
    const output = outputOf(s);
    if (output.mode === 'none') return { sql, params, table: null };
    const query = outputQuery(sql);
    if (output.mode === 'append') {
      const dataset = await this.deps.metadata.datasets.get(s.sandbox, output.datasetId);
      if (!dataset) throw new RoundtripError('RT_DATASET_NOT_FOUND', `The output dataset "${output.datasetId}" of this schedule no longer exists.`);
      return { sql: outputStatement(dataset.tableName, query, true), params, table: dataset.tableName };
    }
    const existing = await this.findDataset(s.sandbox, output.dataset);
    return { sql: outputStatement(existing?.tableName ?? output.dataset, query, existing !== undefined), params, table: existing?.tableName ?? output.dataset };
  }

  private async findDataset(sandbox: string, name: string) {
    return (await this.deps.metadata.datasets.getByTable(sandbox, name)) ?? (await this.deps.metadata.datasets.getByName(sandbox, name));
  }

  private async succeed(s: QueryScheduleRecord, run: QueryScheduleRunRecord, outcome: RunResult): Promise<PendingAlert[]> {
    const datasetId = outcome.table ? ((await this.findDataset(s.sandbox, outcome.table))?.id ?? null) : null;
    await this.deps.metadata.queryScheduleRuns.update(s.sandbox, run.id, {
      status: 'SUCCESS',
      queryId: outcome.queryId,
      rowCount: outcome.rowCount,
      message: outcome.message,
      datasetId,
      endedAt: isoNow(this.deps.clock),
    });
    const fresh = await this.deps.metadata.querySchedules.get(s.sandbox, s.id);
    if (fresh && fresh.consecutiveFailures !== 0) await this.deps.metadata.querySchedules.update(s.sandbox, s.id, { consecutiveFailures: 0 });
    return [{ event: 'success', message: `Schedule "${s.name}" run ${run.id} succeeded (${outcome.rowCount ?? 0} rows).` }];
  }

  private async fail(s: QueryScheduleRecord, run: QueryScheduleRunRecord, error: unknown): Promise<PendingAlert[]> {
    const { code, message } = errorInfo(error);
    await this.deps.metadata.queryScheduleRuns.update(s.sandbox, run.id, { status: 'FAILED', errorCode: code, errorMessage: message, endedAt: isoNow(this.deps.clock) });
    const fresh = await this.deps.metadata.querySchedules.get(s.sandbox, s.id);
    if (!fresh) return [];
    const failures = fresh.consecutiveFailures + 1;
    const quarantine = fresh.quarantineEnabled && fresh.state === 'ENABLED' && failures >= QUARANTINE_AFTER;
    await this.deps.metadata.querySchedules.update(s.sandbox, s.id, {
      consecutiveFailures: failures,
      ...(quarantine ? { state: 'QUARANTINED' as const, updatedAt: isoNow(this.deps.clock) } : {}),
    });
    const pending: PendingAlert[] = [{ event: 'failure', message: `Schedule "${s.name}" run ${run.id} failed (${failures} in a row): ${code}: ${message}` }];
    if (quarantine) {
      await this.deps.audit.record(scheduleRunner(fresh), {
        sandbox: s.sandbox,
        action: 'schedule.quarantine',
        resourceType: 'query-schedule',
        resourceId: s.id,
        details: { consecutiveFailures: failures },
      });
      pending.push({ event: 'quarantine', message: `Schedule "${s.name}" is quarantined after ${failures} consecutive failures; enable it again once fixed.` });
    }
    return pending;
  }

  private async alertDelays(now: Date): Promise<void> {
    for (const a of this.active.values()) {
      if (a.delayAlerted || now.getTime() - a.startedAt < a.alerts.delayMinutes * 60_000) continue;
      a.delayAlerted = true;
      await this.deps.metadata.queryScheduleRuns.update(a.sandbox, a.runId, { delayAlerted: true });
      const s = await this.deps.metadata.querySchedules.get(a.sandbox, a.scheduleId);
      const run = await this.deps.metadata.queryScheduleRuns.get(a.sandbox, a.runId);
      if (s && run) this.alert(s, 'delay', run, `Schedule "${s.name}" run ${a.runId} has been running for more than ${a.alerts.delayMinutes} minutes.`);
    }
  }

  private alert(s: QueryScheduleRecord, event: AlertEvent, run: QueryScheduleRunRecord, message: string): void {
    const payload: AlertPayload = {
      event,
      at: isoNow(this.deps.clock),
      sandbox: s.sandbox,
      schedule: { id: s.id, name: s.name, state: s.state },
      run: {
        id: run.id,
        trigger: run.trigger,
        slotAt: run.slotAt,
        status: run.status,
        queryId: run.queryId,
        errorCode: run.errorCode,
        errorMessage: run.errorMessage,
        startedAt: run.startedAt,
        endedAt: run.endedAt,
      },
      message,
    };
    this.deps.alerts.send(alertsOf(s), payload);
  }

  private async recoverInterrupted(): Promise<void> {
    for (const s of await this.deps.metadata.querySchedules.withActiveRun()) {
      const runId = s.activeRunId!;
      if (this.active.has(runId)) continue;
      const run = await this.deps.metadata.queryScheduleRuns.get(s.sandbox, runId);
      if (run?.status === 'RUNNING') {
        await this.deps.metadata.queryScheduleRuns.update(s.sandbox, runId, {
          status: 'FAILED',
          errorCode: 'RT_SCHEDULE_RUN_INTERRUPTED',
          errorMessage: 'The run was in progress when the server stopped; it was not retried.',
          endedAt: isoNow(this.deps.clock),
        });
      }
      await this.deps.metadata.querySchedules.releaseRun(s.sandbox, s.id, runId);
      this.deps.alerts.log.warn({ scheduleId: s.id, sandbox: s.sandbox, runId }, 'A scheduled run was interrupted by a stop and marked failed.');
    }
  }
}
