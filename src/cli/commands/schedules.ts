/**
 * Query template and schedule commands: `roundtrip template list|create|show|delete|run` and
 * `roundtrip schedule list|create|show|enable|disable|delete|runs|trigger`. Each maps onto one HTTP route.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { RoundtripError } from '../../core/errors.ts';
import type { ApiClient } from '../client.ts';
import type { CliContext } from '../context.ts';
import type { Printer, Row } from '../output.ts';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
const TEMPLATE_COLUMNS = ['id', 'name', 'parameters', 'userId', 'updated'];
const SCHEDULE_COLUMNS = ['id', 'name', 'state', 'when', 'nextRunAt', 'output', 'failures'];
const RUN_COLUMNS = ['id', 'trigger', 'slotAt', 'status', 'rowCount', 'errorCode', 'message', 'ended'];

/** `--param region=emea` (repeatable) → `{ region: 'emea' }`. */
function params(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new RoundtripError('RT_REQUEST_INVALID', `--param "${pair}" must be NAME=value.`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

function sqlFrom(opts: { sql?: string; file?: string }): string | undefined {
  if (opts.sql !== undefined && opts.file !== undefined) throw new RoundtripError('RT_REQUEST_INVALID', 'Give --sql or --file, not both.');
  return opts.file !== undefined ? readFileSync(opts.file, 'utf8') : opts.sql;
}

const path = (id: string): string => encodeURIComponent(id);

interface ScheduleView extends Row {
  id: string;
  name: string;
  state: string;
  schedule: { schedule?: string; frequency?: Row; nextRunAt: string | null };
  output: { mode: string; dataset?: string; datasetId?: string };
  quarantine: { enabled: boolean; consecutiveFailures: number };
}

function scheduleRow(s: ScheduleView): Row {
  const f = s.schedule.frequency;
  return {
    id: s.id,
    name: s.name,
    state: s.state,
    when: s.schedule.schedule ?? Object.values(f ?? {}).map(String).join(' '),
    nextRunAt: s.schedule.nextRunAt,
    output: s.output.mode === 'none' ? '' : `${s.output.mode} ${s.output.dataset ?? s.output.datasetId ?? ''}`,
    failures: s.quarantine.enabled ? `${s.quarantine.consecutiveFailures}/10` : String(s.quarantine.consecutiveFailures),
  };
}

function showSchedule(out: Printer, s: ScheduleView): void {
  if (out.json) return out.value(s);
  out.rows([scheduleRow(s)], SCHEDULE_COLUMNS);
}

function templateCommands(program: Command, ctx: CliContext): void {
  const template = program.command('template').description('Saved queries with $NAME parameters');
  template
    .command('list')
    .description('List query templates, newest first')
    .option('--name <name>', 'only templates with this name')
    .option('--limit <n>', 'how many', '50')
    .action((opts: { name?: string; limit: string }) =>
      ctx.withClient(async (api, out) => {
        const query = new URLSearchParams({ limit: opts.limit });
        if (opts.name) query.set('property', `name==${opts.name}`);
        out.rows((await api.request<{ templates: Row[] }>('GET', `/query-templates?${query.toString()}`)).templates, TEMPLATE_COLUMNS);
      }),
    );
  template
    .command('create')
    .description('Save a query template')
    .requiredOption('--name <name>', 'template name')
    .option('--sql <sql>', 'the SQL')
    .option('--file <path>', 'read the SQL from a file')
    .option('--param <NAME=value>', 'default value of a placeholder (repeat)', collect)
    .action((opts: { name: string; sql?: string; file?: string; param?: string[] }) =>
      ctx.withClient(async (api, out) => {
        const sql = sqlFrom(opts);
        if (!sql) throw new RoundtripError('RT_REQUEST_INVALID', 'Give the SQL with --sql or --file.');
        const created = await api.request<Row>('POST', '/query-templates', { name: opts.name, sql, queryParameters: params(opts.param) });
        if (out.json) return out.value(created);
        out.rows([created], TEMPLATE_COLUMNS);
      }),
    );
  template.command('show <id>').description('Show a template and its SQL').action((id: string) =>
    ctx.withClient(async (api, out) => {
      const found = await api.request<Row & { sql: string }>('GET', `/query-templates/${path(id)}`);
      if (out.json) return out.value(found);
      out.rows([found], TEMPLATE_COLUMNS);
      out.note(`\n${found.sql}`);
    }),
  );
  template.command('delete <id>').description('Delete a template (refused while a schedule runs it)').action((id: string) =>
    ctx.withClient(async (api, out) => {
      await api.request('DELETE', `/query-templates/${path(id)}`);
      out.note(`Template ${id} deleted.`);
    }),
  );
  template
    .command('run <id>')
    .description('Run a template and print its last result')
    .option('--param <NAME=value>', 'value of a placeholder (repeat)', collect)
    .option('--limit <n>', 'rows to print')
    .action((id: string, opts: { param?: string[]; limit?: string }) =>
      ctx.withClient(async (api, out) => {
        const body = { queryParameters: params(opts.param), ...(opts.limit ? { limit: Number(opts.limit) } : {}) };
        const outcome = await api.request<{ queryId: string; last: { rows: Row[]; message?: string } }>('POST', `/query-templates/${path(id)}/run`, body);
        if (out.json) return out.value(outcome);
        if (outcome.last.message) out.note(outcome.last.message);
        out.rows(outcome.last.rows);
      }),
    );
}

interface CreateOptions {
  name?: string;
  template?: string;
  sql?: string;
  file?: string;
  cron?: string;
  frequency?: string;
  minute?: string;
  every?: string;
  days?: string;
  day?: string;
  month?: string;
  at?: string;
  start?: string;
  end?: string;
  param?: string[];
  createDataset?: string;
  appendTo?: string;
  quarantine?: boolean;
  webhook?: string;
  webhookSecret?: string;
  alert?: string;
  delayMinutes?: string;
  disabled?: boolean;
}

const num = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value));

function createBody(opts: CreateOptions): Row {
  const sql = sqlFrom(opts);
  const frequency = opts.frequency
    ? {
        type: opts.frequency,
        minute: num(opts.minute),
        every: num(opts.every),
        days: opts.days?.split(',').map((d) => d.trim().toUpperCase()),
        day: num(opts.day),
        month: num(opts.month),
        at: opts.at,
      }
    : undefined;
  const output = opts.createDataset
    ? { mode: 'create-and-append', dataset: opts.createDataset }
    : opts.appendTo
      ? { mode: 'append', dataset: opts.appendTo }
      : undefined;
  const alerts =
    opts.webhook || opts.alert || opts.delayMinutes
      ? {
          events: opts.alert?.split(',').map((e) => e.trim()),
          delayMinutes: num(opts.delayMinutes),
          webhook: opts.webhook ? { url: opts.webhook, secret: opts.webhookSecret } : undefined,
        }
      : undefined;
  // JSON drops the undefined fields, so the server sees only what was given.
  return JSON.parse(
    JSON.stringify({
      query: { templateId: opts.template, sql, name: opts.name },
      schedule: { schedule: opts.cron, frequency, startDate: opts.start, endDate: opts.end },
      queryParameters: params(opts.param),
      output,
      alerts,
      quarantine: opts.quarantine,
      state: opts.disabled ? 'DISABLED' : undefined,
    }),
  ) as Row;
}

async function setState(api: ApiClient, out: Printer, id: string, op: 'enable' | 'disable'): Promise<void> {
  const answer = await api.request<{ schedule: ScheduleView }>('PATCH', `/schedules/${path(id)}`, { op });
  showSchedule(out, answer.schedule);
}

function scheduleCommands(program: Command, ctx: CliContext): void {
  const schedule = program.command('schedule').description('Run templates or SQL on a timetable (UTC)');
  schedule
    .command('list')
    .description('List query schedules, newest first')
    .option('--template <id>', 'only schedules of this template')
    .option('--limit <n>', 'how many', '50')
    .action((opts: { template?: string; limit: string }) =>
      ctx.withClient(async (api, out) => {
        const query = new URLSearchParams({ limit: opts.limit });
        if (opts.template) query.set('property', `templateId==${opts.template}`);
        const { schedules } = await api.request<{ schedules: ScheduleView[] }>('GET', `/schedules?${query.toString()}`);
        if (out.json) return out.value(schedules);
        out.rows(schedules.map(scheduleRow), SCHEDULE_COLUMNS);
      }),
    );
  schedule
    .command('create')
    .description('Schedule a template (--template) or SQL (--sql/--file) by --cron or --frequency')
    .option('--name <name>', 'schedule name (required with SQL; default the template name)')
    .option('--template <id>', 'template to run')
    .option('--sql <sql>', 'SQL to run')
    .option('--file <path>', 'read the SQL from a file')
    .option('--cron <expr>', 'cron: minute hour day-of-month month day-of-week (UTC)')
    .option('--frequency <type>', 'hourly, daily, weekly, monthly or yearly')
    .option('--minute <m>', 'hourly: minute past the hour')
    .option('--every <days>', 'daily: every X days')
    .option('--days <list>', 'weekly: e.g. MON,THU')
    .option('--day <d>', 'monthly/yearly: day of the month')
    .option('--month <m>', 'yearly: month 1-12')
    .option('--at <HH:MM>', 'daily/weekly/monthly/yearly: UTC time of day')
    .option('--start <iso>', 'start date (default now)')
    .option('--end <iso>', 'end date')
    .option('--param <NAME=value>', 'persisted placeholder value (repeat)', collect)
    .option('--create-dataset <name>', 'output: create this dataset on the first run, append later')
    .option('--append-to <dataset>', 'output: append into this existing dataset')
    .option('--quarantine', 'quarantine after 10 consecutive failures')
    .option('--webhook <url>', 'POST alerts here')
    .option('--webhook-secret <secret>', 'sign webhook requests with this secret')
    .option('--alert <events>', 'webhook events: start,success,failure,quarantine,delay (default all)')
    .option('--delay-minutes <n>', 'delay alert after a run has run this long (default 15, max 1440)')
    .option('--disabled', 'create it disabled')
    .action((opts: CreateOptions) =>
      ctx.withClient(async (api, out) => {
        showSchedule(out, await api.request<ScheduleView>('POST', '/schedules', createBody(opts)));
      }),
    );
  schedule.command('show <id>').description('Show a schedule').action((id: string) =>
    ctx.withClient(async (api, out) => showSchedule(out, await api.request<ScheduleView>('GET', `/schedules/${path(id)}`))),
  );
  schedule.command('enable <id>').description('Enable a schedule (also out of quarantine)').action((id: string) => ctx.withClient((api, out) => setState(api, out, id, 'enable')));
  schedule.command('disable <id>').description('Disable a schedule').action((id: string) => ctx.withClient((api, out) => setState(api, out, id, 'disable')));
  schedule.command('delete <id>').description('Delete a disabled schedule and its history').action((id: string) =>
    ctx.withClient(async (api, out) => {
      await api.request('DELETE', `/schedules/${path(id)}`);
      out.note(`Schedule ${id} deleted.`);
    }),
  );
  schedule
    .command('runs <id>')
    .description('Run history, newest first')
    .option('--limit <n>', 'how many', '20')
    .action((id: string, opts: { limit: string }) =>
      ctx.withClient(async (api, out) => {
        const { runs } = await api.request<{ runs: Row[] }>('GET', `/schedules/${path(id)}/runs?limit=${encodeURIComponent(opts.limit)}`);
        out.rows(runs, RUN_COLUMNS);
      }),
    );
  schedule
    .command('trigger <id>')
    .description('Run a schedule now and wait for the run to end')
    .option('--no-wait', 'return as soon as the run has started')
    .action((id: string, opts: { wait: boolean }) =>
      ctx.withClient(async (api, out) => {
        let run = await api.request<Row & { id: string; status: string }>('POST', `/schedules/${path(id)}/runs`);
        while (opts.wait && run.status === 'RUNNING') {
          await new Promise((resolve) => setTimeout(resolve, 250));
          run = await api.request('GET', `/schedules/${path(id)}/runs/${path(run.id)}`);
        }
        out.rows([run], RUN_COLUMNS);
        if (run.status === 'FAILED') process.exitCode = 1;
      }),
    );
}

export function scheduleCliCommands(program: Command, ctx: CliContext): void {
  templateCommands(program, ctx);
  scheduleCommands(program, ctx);
}
