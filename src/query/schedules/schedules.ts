/**
 * Query schedules (reference §6.1-6.2): register a template or inline SQL to run by cron or by frequency, with
 * persisted parameter values, an optional output dataset, alerts and opt-in quarantine; enable, disable, patch,
 * delete (only when not enabled), trigger now and read the run history. The state lives in metadata, so
 * schedules survive restarts; the `Scheduler` does the running.
 */
import type { AuditLog } from '../../access/audit.ts';
import type { Principal } from '../../access/principal.ts';
import type { Clock } from '../../core/clock.ts';
import { RoundtripError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import { assertValid } from '../../core/validation.ts';
import type { MetadataStore, QueryScheduleChanges, QueryScheduleRecord, QueryScheduleRunRecord, QueryScheduleState } from '../../ports/metadata-store.ts';
import { listPage, type ListParams, type Page } from '../templates/listing.ts';
import { asParams, mergeParams, normaliseParams, placeholders } from '../templates/parameters.ts';
import { QueryParameters } from '../templates/payloads.ts';
import type { ExecuteQuery } from '../templates/templates.ts';
import { AlertSender, stderrLogger, type FetchLike, type LogLevel, type ScheduleLogger } from './alerts.ts';
import {
  alertsOf,
  asJson,
  DEFAULT_ALERTS,
  MAX_ACTIVE_RUNS,
  outputOf,
  QUARANTINE_AFTER,
  timingOf,
  type AlertSpec,
  type OutputSpec,
} from './model.ts';
import { DATASET_NAME, outputQuery } from './output.ts';
import {
  AlertsBody,
  FrequencyBody,
  type AlertsInput,
  type FrequencyInput,
  type OutputInput,
  type PatchOperationT,
  type RunViewT,
  type ScheduleInput,
  type SchedulePatchT,
  type ScheduleViewT,
  type TimingInput,
} from './payloads.ts';
import { jobOf, Scheduler, type TickReport } from './scheduler.ts';
import type { JobRegistry } from '../../platform/jobs.ts';
import type { JsonValue } from '../../ports/warehouse.ts';
import { nextSlot, validateTiming, type Frequency, type Timing, type TimingSpec } from './timing.ts';

type ScheduledWork = Pick<QueryScheduleRecord, 'name' | 'description' | 'templateId' | 'sql' | 'job' | 'parameters' | 'output'>;

export interface ScheduleDeps {
  /** Job kinds a schedule may run instead of SQL. */
  jobs?: JobRegistry;
  metadata: MetadataStore;
  audit: AuditLog;
  clock: Clock;
  execute: ExecuteQuery;
  logLevel?: LogLevel;
  /** Webhook transport; tests may replace it. */
  fetch?: FetchLike;
}

const SORT_FIELDS: Record<string, (s: QueryScheduleRecord) => string | null> = {
  created: (s) => s.createdAt,
  updated: (s) => s.updatedAt,
  name: (s) => s.name,
  templateId: (s) => s.templateId,
  userId: (s) => s.createdBy,
  state: (s) => s.state,
  nextRunAt: (s) => s.nextRunAt,
};

function invalid(path: string, message: string): RoundtripError {
  return new RoundtripError('RT_SCHEDULE_INVALID', `${path} ${message}`, { issues: [{ path, message }] });
}

function frequencyOf(f: FrequencyInput, startDate: Date): Frequency {
  const need = <T>(value: T | undefined, field: string): T => {
    if (value === undefined) throw invalid(`schedule.frequency.${field}`, `is required for a ${f.type} schedule.`);
    return value;
  };
  switch (f.type) {
    case 'hourly':
      return { type: 'hourly', minute: f.minute ?? startDate.getUTCMinutes() };
    case 'daily':
      return { type: 'daily', every: f.every ?? 1, at: need(f.at, 'at') };
    case 'weekly':
      return { type: 'weekly', days: need(f.days, 'days'), at: need(f.at, 'at') };
    case 'monthly':
      return { type: 'monthly', day: need(f.day, 'day'), at: need(f.at, 'at') };
    case 'yearly':
      return { type: 'yearly', month: need(f.month, 'month'), day: need(f.day, 'day'), at: need(f.at, 'at') };
  }
}

function timingFrom(input: TimingInput, now: Date): Timing {
  if ((input.schedule === undefined) === (input.frequency === undefined)) {
    throw invalid('schedule', 'needs exactly one of `schedule` (cron) or `frequency`.');
  }
  const startDate = input.startDate ? new Date(input.startDate) : now;
  const spec: TimingSpec = input.schedule !== undefined ? { cron: input.schedule.trim() } : { frequency: frequencyOf(input.frequency!, startDate) };
  return { spec, startDate, endDate: input.endDate ? new Date(input.endDate) : null };
}

function alertsFrom(input: AlertsInput | undefined, current: AlertSpec = DEFAULT_ALERTS): AlertSpec {
  if (!input) return current;
  let webhook = current.webhook;
  if (input.webhook === null) webhook = null;
  else if (input.webhook) {
    if (!/^https?:\/\//i.test(input.webhook.url)) throw invalid('alerts.webhook.url', 'must be an http or https URL.');
    // A patch that repeats the URL without the secret keeps the stored secret.
    const keep = current.webhook?.url === input.webhook.url ? current.webhook.secret : null;
    webhook = { url: input.webhook.url, secret: input.webhook.secret ?? keep };
  }
  return { events: input.events ?? current.events, delayMinutes: input.delayMinutes ?? current.delayMinutes, webhook };
}

export class QuerySchedules {
  readonly scheduler: Scheduler;
  private readonly alerts: AlertSender;

  constructor(private readonly deps: ScheduleDeps) {
    this.alerts = new AlertSender(stderrLogger(deps.logLevel ?? 'info'), deps.fetch);
    this.scheduler = new Scheduler({ metadata: deps.metadata, audit: deps.audit, clock: deps.clock, execute: deps.execute, alerts: this.alerts, jobs: deps.jobs });
  }

  // ---- the engine, as the platform and `roundtrip serve` see it

  tick(now?: Date): Promise<TickReport> {
    return this.scheduler.tick(now);
  }

  /** Starts the background timer (only `roundtrip serve` does); alerts go to `logger` when given. */
  start(options: { intervalMs?: number; logger?: ScheduleLogger } = {}): void {
    if (options.logger) this.alerts.setLogger(options.logger);
    this.scheduler.start(options.intervalMs);
  }

  stop(): Promise<void> {
    return this.scheduler.stop();
  }

  idle(): Promise<void> {
    return this.scheduler.idle();
  }

  // ---- schedules

  async create(actor: Principal, sandbox: string, input: ScheduleInput): Promise<QueryScheduleRecord> {
    const now = this.deps.clock.now();
    const what = input.job ? this.jobPart(input) : await this.queryPart(sandbox, input);
    const timing = timingFrom(input.schedule, now);
    validateTiming(timing, now);
    const at = now.toISOString();
    const record: QueryScheduleRecord = {
      sandbox,
      id: newId('sched'),
      ...what,
      timing: asJson(timing.spec),
      startDate: timing.startDate.toISOString(),
      endDate: timing.endDate?.toISOString() ?? null,
      alerts: asJson(alertsFrom(input.alerts)),
      quarantineEnabled: input.quarantine ?? false,
      state: input.state ?? 'ENABLED',
      consecutiveFailures: 0,
      nextRunAt: nextSlot(timing, now)?.toISOString() ?? null,
      lastSlotAt: null,
      activeRunId: null,
      createdBy: actor.id,
      createdAt: at,
      updatedAt: at,
    };
    await this.deps.metadata.querySchedules.create(record);
    await this.deps.audit.record(actor, {
      sandbox,
      action: 'schedule.create',
      resourceType: 'query-schedule',
      resourceId: record.id,
      details: { name: record.name, templateId: record.templateId, timing: record.timing },
    });
    return record;
  }

  async list(sandbox: string, params: ListParams): Promise<Page<QueryScheduleRecord>> {
    await this.scheduler.recover();
    return listPage(await this.deps.metadata.querySchedules.list(sandbox), params, SORT_FIELDS);
  }

  async get(sandbox: string, id: string): Promise<QueryScheduleRecord> {
    await this.scheduler.recover();
    const found = await this.deps.metadata.querySchedules.get(sandbox, id);
    if (!found) throw new RoundtripError('RT_SCHEDULE_NOT_FOUND', `Query schedule "${id}" does not exist in this sandbox; \`roundtrip schedule list\` shows them.`);
    return found;
  }

  /** `{ op: enable|disable }` or the reference's JSON-Patch-like `{ body: [{ op, path, value }] }` (both may be given). */
  async patch(actor: Principal, sandbox: string, id: string, patch: SchedulePatchT): Promise<QueryScheduleRecord> {
    const current = await this.get(sandbox, id);
    const ops: PatchOperationT[] = [...(patch.body ?? [])];
    if (patch.op) ops.push({ op: 'replace', path: '/state', value: patch.op });
    if (ops.length === 0) throw new RoundtripError('RT_REQUEST_INVALID', 'Nothing to change: give `op` (enable|disable) or a `body` of patch operations.');
    const now = this.deps.clock.now();
    let draft = { ...current };
    for (const op of ops) draft = this.applyOperation(draft, op);
    const changes = this.finishPatch(current, draft, now);
    if (JSON.stringify(draft.parameters) !== JSON.stringify(current.parameters)) {
      const source = await this.source(sandbox, current.templateId ? { templateId: current.templateId } : { sql: current.sql ?? '', name: current.name });
      this.checkParameters(source.sql, mergeParams(source.defaults, asParams(draft.parameters)));
    }
    await this.deps.metadata.querySchedules.update(sandbox, id, changes);
    await this.deps.audit.record(actor, {
      sandbox,
      action: 'schedule.update',
      resourceType: 'query-schedule',
      resourceId: id,
      details: { paths: ops.map((o) => o.path), state: draft.state },
    });
    return { ...current, ...changes };
  }

  async delete(actor: Principal, sandbox: string, id: string): Promise<void> {
    const current = await this.get(sandbox, id);
    if (current.state === 'ENABLED') {
      throw new RoundtripError('RT_SCHEDULE_STATE', `Schedule "${id}" is enabled; disable it first (PATCH {"op":"disable"} or \`roundtrip schedule disable\`).`, {
        state: current.state,
      });
    }
    if (current.activeRunId) {
      throw new RoundtripError('RT_SCHEDULE_RUN_ACTIVE', `Schedule "${id}" has run ${current.activeRunId} in progress; delete it when the run ends.`, {
        activeRunId: current.activeRunId,
      });
    }
    await this.deps.metadata.querySchedules.delete(sandbox, id);
    await this.deps.audit.record(actor, { sandbox, action: 'schedule.delete', resourceType: 'query-schedule', resourceId: id, details: { name: current.name } });
  }

  /** Starts a run now, whatever the state (a quarantined schedule can be tried before it is enabled again). */
  async trigger(actor: Principal, sandbox: string, id: string): Promise<QueryScheduleRunRecord> {
    const schedule = await this.get(sandbox, id);
    const run = await this.scheduler.trigger(schedule);
    await this.deps.audit.record(actor, { sandbox, action: 'schedule.trigger', resourceType: 'query-schedule', resourceId: id, details: { runId: run.id } });
    return run;
  }

  async runs(sandbox: string, id: string, page: { limit?: number; start?: number } = {}): Promise<QueryScheduleRunRecord[]> {
    await this.get(sandbox, id);
    return this.deps.metadata.queryScheduleRuns.list(sandbox, id, { limit: page.limit ?? 20, start: page.start ?? 0 });
  }

  async run(sandbox: string, id: string, runId: string): Promise<QueryScheduleRunRecord> {
    await this.get(sandbox, id);
    const run = await this.deps.metadata.queryScheduleRuns.get(sandbox, runId);
    if (!run || run.scheduleId !== id) throw new RoundtripError('RT_SCHEDULE_NOT_FOUND', `Schedule "${id}" has no run "${runId}".`);
    return run;
  }

  // ---- views

  view(s: QueryScheduleRecord): ScheduleViewT {
    const timing = timingOf(s);
    const alerts = alertsOf(s);
    const self = `/schedules/${s.id}`;
    return {
      id: s.id,
      name: s.name,
      description: s.description,
      state: s.state,
      query: { templateId: s.templateId, sql: s.sql },
      job: jobOf(s),
      schedule: {
        ...(timing.spec.cron !== undefined ? { schedule: timing.spec.cron } : { frequency: { ...timing.spec.frequency } }),
        startDate: s.startDate,
        endDate: s.endDate,
        maxActiveRuns: MAX_ACTIVE_RUNS,
        nextRunAt: s.nextRunAt,
        lastSlotAt: s.lastSlotAt,
      },
      queryParameters: asParams(s.parameters),
      output: { ...outputOf(s) },
      alerts: { events: alerts.events, delayMinutes: alerts.delayMinutes, webhook: alerts.webhook && { url: alerts.webhook.url, signed: alerts.webhook.secret !== null } },
      quarantine: { enabled: s.quarantineEnabled, consecutiveFailures: s.consecutiveFailures, threshold: QUARANTINE_AFTER },
      activeRunId: s.activeRunId,
      userId: s.createdBy,
      created: s.createdAt,
      updated: s.updatedAt,
      _links: {
        self: { href: self },
        enable: { href: self, method: 'PATCH', body: { op: 'enable' } },
        disable: { href: self, method: 'PATCH', body: { op: 'disable' } },
        runs: { href: `${self}/runs`, method: 'GET' },
        trigger: { href: `${self}/runs`, method: 'POST' },
        delete: { href: self, method: 'DELETE' },
      },
    };
  }

  runView(r: QueryScheduleRunRecord): RunViewT {
    return {
      id: r.id,
      scheduleId: r.scheduleId,
      trigger: r.trigger,
      slotAt: r.slotAt,
      status: r.status,
      queryId: r.queryId,
      datasetId: r.datasetId,
      rowCount: r.rowCount,
      message: r.message,
      errorCode: r.errorCode,
      errorMessage: r.errorMessage,
      created: r.createdAt,
      started: r.startedAt,
      ended: r.endedAt,
    };
  }

  // ---- helpers

  /** What a SQL schedule runs: a template or inline SQL, parameters and output. */
  private async queryPart(sandbox: string, input: ScheduleInput): Promise<ScheduledWork> {
    if (!input.query) throw invalid('query', 'or `job` is required.');
    const source = await this.source(sandbox, input.query);
    const output = await this.outputFrom(sandbox, input.output);
    if (output.mode !== 'none') outputQuery(source.sql);
    const parameters = normaliseParams(input.queryParameters);
    this.checkParameters(source.sql, mergeParams(source.defaults, parameters));
    return {
      name: input.query.name ?? source.name,
      description: input.query.description ?? '',
      templateId: source.templateId,
      sql: source.templateId ? null : source.sql,
      job: null,
      parameters,
      output: asJson(output),
    };
  }

  /** What a job schedule runs: a registered job kind with its parameters, checked now rather than at the first run. */
  private jobPart(input: ScheduleInput): ScheduledWork {
    const job = input.job!;
    if (input.query || input.queryParameters || (input.output && input.output.mode !== 'none')) {
      throw invalid('job', 'cannot be combined with `query`, `queryParameters` or `output`: a job writes what its kind writes.');
    }
    if (!this.deps.jobs) throw new RoundtripError('RT_JOB_KIND_UNKNOWN', 'This platform has no job kinds.', { kind: job.kind });
    const kind = this.deps.jobs.get(job.kind);
    const params = (job.params ?? {}) as Record<string, JsonValue>;
    kind.validate?.(params);
    return { name: job.name ?? kind.kind, description: job.description ?? kind.description, templateId: null, sql: null, job: { kind: kind.kind, params }, parameters: {}, output: asJson({ mode: 'none' }) };
  }

  private async source(sandbox: string, query: NonNullable<ScheduleInput['query']>): Promise<{ templateId: string | null; sql: string; name: string; defaults: Record<string, string> }> {
    if ((query.templateId === undefined) === (query.sql === undefined)) throw invalid('query', 'needs exactly one of `templateId` or `sql`.');
    if (query.templateId !== undefined) {
      const template = await this.deps.metadata.queryTemplates.get(sandbox, query.templateId);
      if (!template) throw new RoundtripError('RT_TEMPLATE_NOT_FOUND', `Query template "${query.templateId}" does not exist in this sandbox.`);
      return { templateId: template.id, sql: template.sql, name: template.name, defaults: asParams(template.queryParameters) };
    }
    if (query.name === undefined) throw invalid('query.name', 'is required with inline SQL.');
    return { templateId: null, sql: query.sql!, name: query.name, defaults: {} };
  }

  /** Refuses a schedule whose runs would all be refused for a placeholder without a value. */
  private checkParameters(sql: string, values: Record<string, string>): void {
    const missing = placeholders(sql).filter((name) => values[name] === undefined);
    if (missing.length) {
      throw new RoundtripError('RT_QUERY_PARAMETER_MISSING', `No value for ${missing.map((n) => `$${n}`).join(', ')}; give it in queryParameters of the schedule.`, {
        missing,
      });
    }
  }

  private async outputFrom(sandbox: string, input: OutputInput | undefined): Promise<OutputSpec> {
    if (!input || input.mode === 'none') return { mode: 'none' };
    if (!input.dataset) throw invalid('output.dataset', `is required for ${input.mode}.`);
    if (input.mode === 'append') {
      const ref = input.dataset;
      const dataset =
        (await this.deps.metadata.datasets.get(sandbox, ref)) ??
        (await this.deps.metadata.datasets.getByName(sandbox, ref)) ??
        (await this.deps.metadata.datasets.getByTable(sandbox, ref));
      if (!dataset) throw new RoundtripError('RT_DATASET_NOT_FOUND', `Dataset "${ref}" does not exist in this sandbox; "append" needs an existing dataset.`);
      return { mode: 'append', datasetId: dataset.id };
    }
    if (!DATASET_NAME.test(input.dataset)) throw invalid('output.dataset', 'must be 1-63 of a-z, 0-9 and _, not starting with a digit (it becomes the table name).');
    if ((await this.deps.metadata.datasets.getByTable(sandbox, input.dataset)) || (await this.deps.metadata.datasets.getByName(sandbox, input.dataset))) {
      throw new RoundtripError('RT_DATASET_EXISTS', `A dataset "${input.dataset}" already exists; use output mode "append" to write into it.`);
    }
    return { mode: 'create-and-append', dataset: input.dataset, description: input.description ?? '' };
  }

  private applyOperation(draft: QueryScheduleRecord, op: PatchOperationT): QueryScheduleRecord {
    const timing = timingOf(draft);
    const value = op.value;
    const text = (what: string): string => {
      if (typeof value !== 'string') throw invalid(op.path, `needs a ${what} string value.`);
      return value;
    };
    switch (op.path) {
      case '/state':
        return { ...draft, state: this.stateFrom(value) };
      case '/schedule/schedule':
        return { ...draft, timing: { cron: text('cron').trim() } };
      case '/schedule/frequency': {
        const f = assertValid<FrequencyInput>(FrequencyBody, value, 'RT_SCHEDULE_INVALID', 'schedule.frequency');
        return { ...draft, timing: asJson({ frequency: frequencyOf(f, timing.startDate) }) };
      }
      case '/schedule/startDate':
        return { ...draft, startDate: this.date(op.path, text('date-time')) };
      case '/schedule/endDate':
        return { ...draft, endDate: value === null ? null : this.date(op.path, text('date-time')) };
      case '/queryParameters':
        if (draft.job) throw invalid(op.path, 'does not apply to a job schedule; delete it and create it with new `job.params`.');
        return { ...draft, parameters: normaliseParams(assertValid(QueryParameters, value, 'RT_SCHEDULE_INVALID', 'queryParameters')) };
      case '/alerts':
        return { ...draft, alerts: asJson(alertsFrom(assertValid<AlertsInput>(AlertsBody, value, 'RT_SCHEDULE_INVALID', 'alerts'), alertsOf(draft))) };
      case '/quarantine':
        if (typeof value !== 'boolean') throw invalid(op.path, 'needs true or false.');
        return { ...draft, quarantineEnabled: value };
      case '/name':
      case '/description':
        return { ...draft, [op.path.slice(1)]: text('text') };
      default:
        throw invalid(op.path, 'cannot be patched; see docs/query-schedules.md for the paths that can.');
    }
  }

  private stateFrom(value: unknown): QueryScheduleState {
    const v = typeof value === 'string' ? value.toLowerCase() : '';
    if (v === 'enable' || v === 'enabled') return 'ENABLED';
    if (v === 'disable' || v === 'disabled') return 'DISABLED';
    throw invalid('/state', 'must be "enable" or "disable".');
  }

  private date(path: string, value: string): string {
    const t = Date.parse(value);
    if (Number.isNaN(t)) throw invalid(path, `is not an ISO date-time: "${value}".`);
    return new Date(t).toISOString();
  }

  /** Validates the patched schedule as a whole and works out what to store. */
  private finishPatch(current: QueryScheduleRecord, draft: QueryScheduleRecord, now: Date): QueryScheduleChanges {
    const timing = timingOf(draft);
    const timingChanged = JSON.stringify([current.timing, current.startDate, current.endDate]) !== JSON.stringify([draft.timing, draft.startDate, draft.endDate]);
    if (timingChanged) validateTiming(timing, now);
    const enabling = draft.state === 'ENABLED' && current.state !== 'ENABLED';
    const changes: QueryScheduleChanges = {
      name: draft.name,
      description: draft.description,
      parameters: draft.parameters,
      timing: draft.timing,
      startDate: draft.startDate,
      endDate: draft.endDate,
      alerts: draft.alerts,
      quarantineEnabled: draft.quarantineEnabled,
      state: draft.state,
      updatedAt: now.toISOString(),
    };
    // Enabling (also out of quarantine) starts from now: slots missed while not enabled are not caught up.
    if (timingChanged || enabling) changes.nextRunAt = nextSlot(timing, now)?.toISOString() ?? null;
    if (current.state === 'QUARANTINED' && draft.state !== 'QUARANTINED') changes.consecutiveFailures = 0;
    return changes;
  }
}
