/**
 * Query schedule payloads (reference §6.1-6.2): the request bodies of `POST /schedules` and `PATCH
 * /schedules/{id}`, and the schedule and run views. The create body keeps the reference's shape (`query`,
 * `schedule.schedule` for cron, `startDate`) and adds the UI's frequencies, output dataset, alerts and quarantine.
 */
import { Type, type Static } from 'typebox';
import { PageView } from '../templates/listing.ts';
import { QueryParameters } from '../templates/payloads.ts';
import { DAY_NAMES } from './cron.ts';
import { ALERT_EVENTS, MAX_DELAY_MINUTES } from './model.ts';

const Timestamp = Type.String({ format: 'date-time' });
const Link = Type.Object({ href: Type.String(), method: Type.Optional(Type.String()), body: Type.Optional(Type.Unknown()) });

export const FrequencyBody = Type.Object(
  {
    type: Type.Union([Type.Literal('hourly'), Type.Literal('daily'), Type.Literal('weekly'), Type.Literal('monthly'), Type.Literal('yearly')]),
    minute: Type.Optional(Type.Integer({ minimum: 0, maximum: 59, description: 'hourly: minute past the hour (default: the minute of the start date)' })),
    every: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, description: 'daily: every X days, counted from the start date (default 1)' })),
    days: Type.Optional(Type.Array(Type.Union(DAY_NAMES.map((d) => Type.Literal(d))), { minItems: 1, description: 'weekly: days of the week' })),
    day: Type.Optional(Type.Integer({ minimum: 1, maximum: 31, description: 'monthly, yearly: day of the month (past the end of a month: its last day)' })),
    month: Type.Optional(Type.Integer({ minimum: 1, maximum: 12, description: 'yearly: month' })),
    at: Type.Optional(Type.String({ description: 'daily, weekly, monthly, yearly: UTC time of day, HH:MM' })),
  },
  { additionalProperties: false },
);
export type FrequencyInput = Static<typeof FrequencyBody>;

export const TimingBody = Type.Object(
  {
    schedule: Type.Optional(Type.String({ description: 'Cron: 5 fields (minute hour day-of-month month day-of-week), or Quartz 6-7 fields; UTC' })),
    frequency: Type.Optional(FrequencyBody),
    startDate: Type.Optional(Type.String({ format: 'date-time', description: 'No run before this (default: now)' })),
    endDate: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'No run after this' })),
  },
  { additionalProperties: false },
);
export type TimingInput = Static<typeof TimingBody>;

export const OutputBody = Type.Object(
  {
    mode: Type.Union([Type.Literal('none'), Type.Literal('create-and-append'), Type.Literal('append')]),
    dataset: Type.Optional(Type.String({ minLength: 1, description: 'create-and-append: name of the new dataset (a-z, 0-9, _); append: id or name of an existing dataset' })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
export type OutputInput = Static<typeof OutputBody>;

export const WebhookBody = Type.Object(
  {
    url: Type.String({ format: 'uri', description: 'http(s) URL that receives alerts as JSON POSTs' }),
    secret: Type.Optional(Type.String({ minLength: 8, maxLength: 200, description: 'Signs each request (x-roundtrip-signature); never shown again' })),
  },
  { additionalProperties: false },
);

export const AlertsBody = Type.Object(
  {
    events: Type.Optional(Type.Array(Type.Union(ALERT_EVENTS.map((e) => Type.Literal(e))), { description: 'Sent to the webhook (default all); all are logged' })),
    delayMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_DELAY_MINUTES, description: 'Delay alert after a run has run this long (default 15)' })),
    webhook: Type.Optional(Type.Union([WebhookBody, Type.Null()])),
  },
  { additionalProperties: false },
);
export type AlertsInput = Static<typeof AlertsBody>;

export const JobBody = Type.Object(
  {
    kind: Type.String({ minLength: 1, description: 'A job kind of GET /schedules/job-kinds, e.g. clv.predict' }),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'The parameters of the job kind (its API body)' })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Schedule name (default: the job kind)' })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
export type JobInput = Static<typeof JobBody>;

export const ScheduleBody = Type.Object(
  {
    job: Type.Optional(JobBody),
    query: Type.Optional(Type.Object(
      {
        templateId: Type.Optional(Type.String({ description: 'The template to run (or give sql)' })),
        sql: Type.Optional(Type.String({ minLength: 1, maxLength: 1_000_000 })),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Schedule name (default: the template name)' })),
        description: Type.Optional(Type.String({ maxLength: 2000 })),
        dbName: Type.Optional(Type.String({ description: 'Accepted and ignored: the sandbox is the database' })),
      },
      { additionalProperties: false },
    )),
    schedule: TimingBody,
    queryParameters: Type.Optional(QueryParameters),
    output: Type.Optional(OutputBody),
    alerts: Type.Optional(AlertsBody),
    quarantine: Type.Optional(Type.Boolean({ description: 'Quarantine after 10 consecutive failed runs (default false)' })),
    state: Type.Optional(Type.Union([Type.Literal('ENABLED'), Type.Literal('DISABLED')], { description: 'Default ENABLED' })),
  },
  { additionalProperties: false },
);
export type ScheduleInput = Static<typeof ScheduleBody>;

export const PatchOperation = Type.Object(
  {
    op: Type.Union([Type.Literal('replace'), Type.Literal('add')]),
    path: Type.String({ description: '/state, /schedule/schedule, /schedule/frequency, /schedule/startDate, /schedule/endDate, /queryParameters, /alerts, /quarantine, /name, /description' }),
    value: Type.Unknown(),
  },
  { additionalProperties: false },
);
export type PatchOperationT = Static<typeof PatchOperation>;

export const SchedulePatch = Type.Object(
  {
    op: Type.Optional(Type.Union([Type.Literal('enable'), Type.Literal('disable')])),
    body: Type.Optional(Type.Array(PatchOperation, { minItems: 1 })),
  },
  { additionalProperties: false },
);
export type SchedulePatchT = Static<typeof SchedulePatch>;

export const ScheduleView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  state: Type.String({ description: 'ENABLED, DISABLED or QUARANTINED' }),
  query: Type.Object({ templateId: Type.Union([Type.String(), Type.Null()]), sql: Type.Union([Type.String(), Type.Null()]) }),
  job: Type.Union([Type.Object({ kind: Type.String(), params: Type.Record(Type.String(), Type.Unknown()) }), Type.Null()], { description: 'The job a job schedule runs (null for SQL)' }),
  schedule: Type.Object({
    schedule: Type.Optional(Type.String()),
    frequency: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    startDate: Timestamp,
    endDate: Type.Union([Timestamp, Type.Null()]),
    maxActiveRuns: Type.Integer(),
    nextRunAt: Type.Union([Timestamp, Type.Null()], { description: 'Null once the end date is passed' }),
    lastSlotAt: Type.Union([Timestamp, Type.Null()]),
  }),
  queryParameters: Type.Record(Type.String(), Type.String()),
  output: Type.Record(Type.String(), Type.Unknown()),
  alerts: Type.Object({
    events: Type.Array(Type.String()),
    delayMinutes: Type.Integer(),
    webhook: Type.Union([Type.Object({ url: Type.String(), signed: Type.Boolean() }), Type.Null()]),
  }),
  quarantine: Type.Object({ enabled: Type.Boolean(), consecutiveFailures: Type.Integer(), threshold: Type.Integer() }),
  activeRunId: Type.Union([Type.String(), Type.Null()]),
  userId: Type.String(),
  created: Timestamp,
  updated: Timestamp,
  _links: Type.Record(Type.String(), Link),
});
export type ScheduleViewT = Static<typeof ScheduleView>;

export const ScheduleList = Type.Object({ schedules: Type.Array(ScheduleView), _page: PageView, _links: Type.Object({ next: Type.Optional(Link) }) });

export const RunView = Type.Object({
  id: Type.String(),
  scheduleId: Type.String(),
  trigger: Type.String({ description: 'schedule, catch-up or manual' }),
  slotAt: Type.Union([Timestamp, Type.Null()]),
  status: Type.String({ description: 'RUNNING, SUCCESS, FAILED or SKIPPED' }),
  queryId: Type.Union([Type.String(), Type.Null()]),
  datasetId: Type.Union([Type.String(), Type.Null()]),
  rowCount: Type.Union([Type.Integer(), Type.Null()]),
  message: Type.Union([Type.String(), Type.Null()]),
  errorCode: Type.Union([Type.String(), Type.Null()]),
  errorMessage: Type.Union([Type.String(), Type.Null()]),
  created: Timestamp,
  started: Type.Union([Timestamp, Type.Null()]),
  ended: Type.Union([Timestamp, Type.Null()]),
});
export type RunViewT = Static<typeof RunView>;

export const RunList = Type.Object({ runs: Type.Array(RunView), _page: Type.Object({ start: Type.Integer(), limit: Type.Integer(), count: Type.Integer() }) });
export const RunsQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 20 })), start: Type.Optional(Type.Integer({ minimum: 0 })) },
  { additionalProperties: false },
);
