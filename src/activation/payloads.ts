/**
 * Activation request and response bodies (the batch activation wizard of reference §12.2 and the streaming one
 * of §12.3, as an API): one TypeBox source for route validation, OpenAPI and the service's types.
 */
import { Type, type Static } from 'typebox';

const IsoDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD (UTC)' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const FieldPath = Type.String({
  pattern: '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$',
  description: 'Dotted XDM path of a profile attribute (e.g. personalEmail.address), or segmentMembership.status',
});

export const ScheduleBody = Type.Object(
  {
    exportType: Type.Union([Type.Literal('full'), Type.Literal('incremental')], { description: 'full: every active member; incremental: changes since the last export (the first one is a full backfill)' }),
    // Spelled out (not mapped from FREQUENCIES) so `Static` keeps the literal union.
    frequency: Type.Union(
      [Type.Literal('once'), Type.Literal('daily'), Type.Literal('every-3-hours'), Type.Literal('every-6-hours'), Type.Literal('every-8-hours'), Type.Literal('every-12-hours')],
      { description: 'full: once or daily; incremental: daily or every-3/6/8/12-hours' },
    ),
    trigger: Type.Optional(Type.Union([Type.Literal('scheduled'), Type.Literal('after-segment-evaluation')], { description: 'Default scheduled (at `time`)' })),
    time: Type.Optional(Type.String({ pattern: '^\\d{2}:\\d{2}$', description: 'HH:MM UTC (default 00:00)' })),
    startDate: IsoDate,
    endDate: Type.Optional(Nullable(IsoDate)),
  },
  { additionalProperties: false, description: 'Batch schedule of one audience' },
);

export const StreamingScheduleBody = Type.Object(
  {
    exportType: Type.Literal('streaming'),
    startDate: IsoDate,
    endDate: Type.Optional(Nullable(IsoDate)),
  },
  { additionalProperties: false, description: 'Streaming activation window of one audience (API destinations)' },
);

export const AudienceBody = Type.Object(
  {
    segmentId: Type.String({ minLength: 1 }),
    schedule: Type.Union([ScheduleBody, StreamingScheduleBody]),
    fileNameTemplate: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description: 'File name editor (reference §12.2) with macros {destination} {segmentId} (both mandatory) {segmentName} {timestamp} {datetime} {unixtime}; default {destination}_segment{segmentId}_{timestamp}; without a date-time each export overwrites the last',
      }),
    ),
  },
  { additionalProperties: false },
);

export const FieldBody = Type.Object(
  {
    source: Type.Union([Type.Object({ attribute: FieldPath }, { additionalProperties: false }), Type.Object({ identity: Type.String({ minLength: 1, description: 'Identity namespace code' }) }, { additionalProperties: false })]),
    target: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[^,"\\r\\n]+$', description: 'Column (file) or field (API) name at the destination; default the source path or namespace' })),
    mandatory: Type.Optional(Type.Boolean({ description: 'Profiles without a value are skipped and counted' })),
    hash: Type.Optional(Type.Literal('sha256', { description: 'SHA-256 hex of the value; emails are lower-cased and trimmed first' })),
  },
  { additionalProperties: false },
);

export const DeduplicationBody = Type.Union([
  Type.Object({ namespace: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  Type.Object({ attributes: Type.Array(FieldPath, { minItems: 1, maxItems: 2 }) }, { additionalProperties: false }),
]);

export const DataflowBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    destinationId: Type.String({ minLength: 1, description: 'A destination account id' }),
    mergePolicyId: Type.Optional(Type.String({ description: 'Profiles and memberships of this merge policy (default: the default policy)' })),
    audiences: Type.Array(AudienceBody, { minItems: 1, maxItems: 250 }),
    fields: Type.Array(FieldBody, { minItems: 1, maxItems: 51, description: 'Attributes and identity to export (at most 50 mapped attributes besides segmentMembership.status)' }),
    deduplication: Type.Optional(Nullable(DeduplicationBody)),
    state: Type.Optional(Type.Union([Type.Literal('enabled'), Type.Literal('disabled')])),
    /** Rows per file before the next part starts (reference: 5,000,000). */
    splitRows: Type.Optional(Type.Integer({ minimum: 1, maximum: 5_000_000 })),
  },
  { additionalProperties: false },
);
export type DataflowInput = Static<typeof DataflowBody>;
export type AudienceInput = Static<typeof AudienceBody>;
export type FieldInput = Static<typeof FieldBody>;

export const DataflowView = Type.Object({
  id: Type.String(),
  mode: Type.Union([Type.Literal('batch'), Type.Literal('streaming')]),
  ...DataflowBody.properties,
  state: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]),
  version: Type.Integer(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  createdBy: Type.String(),
});

export const RunRequestBody = Type.Object(
  {
    segmentIds: Type.Optional(Type.Array(Type.String(), { minItems: 1, description: 'Only these audiences of the dataflow (default all)' })),
  },
  { additionalProperties: false },
);
export type RunRequest = Static<typeof RunRequestBody>;

const Skipped = Type.Record(Type.String(), Type.Integer(), { description: 'Profiles left out, by reason: consent, missingMandatory, duplicate, tooManyIdentities, profileMissing' });

export const AudienceRunView = Type.Object({
  segmentId: Type.String(),
  slot: Type.String({ description: 'The schedule slot exported (ISO); file names derive from it' }),
  exportType: Type.String({ description: 'full, incremental (backfill: the first incremental) or streaming' }),
  backfill: Type.Boolean(),
  status: Type.String({ description: 'succeeded, failed, skipped (slot already exported) or blocked' }),
  since: Nullable(Type.String()),
  cutoff: Type.String(),
  profiles: Type.Integer({ description: 'Profiles exported (active and exited)' }),
  exited: Type.Integer(),
  rows: Type.Integer(),
  skipped: Skipped,
  failed: Type.Integer(),
  files: Type.Array(Type.Object({ name: Type.String(), rows: Type.Integer(), bytes: Type.Integer(), delivered: Type.Boolean(), skippedAsDuplicate: Type.Boolean() })),
  bytes: Type.Integer(),
  durationMs: Type.Integer(),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  warnings: Type.Array(Type.String()),
});

export const RunView = Type.Object({
  id: Type.String(),
  dataflowId: Type.String(),
  trigger: Type.String({ description: 'manual, schedule or retry' }),
  scheduledFor: Type.String(),
  status: Type.String({ description: 'running, succeeded, partial, failed, blocked or idle (nothing due)' }),
  attempts: Type.Integer(),
  startedAt: Type.String(),
  finishedAt: Nullable(Type.String()),
  durationMs: Nullable(Type.Integer()),
  profiles: Type.Integer(),
  skipped: Skipped,
  failed: Type.Integer(),
  files: Type.Integer(),
  bytes: Type.Integer(),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) })),
  audiences: Type.Array(AudienceRunView),
});

export const LabelsBody = Type.Object(
  {
    fields: Type.Record(Type.String(), Type.Array(Type.String()), { description: 'XDM field path → labels (C1…C12, S1, S2, I1, I2); covers the fields under it' }),
    namespaces: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()), { description: 'Identity namespace → labels' })),
  },
  { additionalProperties: false },
);
export type LabelsInput = Static<typeof LabelsBody>;
