/**
 * TypeBox schemas of the insights API: accelerated queries (reference §7.3 shape), data models, refresh runs.
 */
import { Type, type Static } from 'typebox';

export const AcceleratedQueryBody = Type.Object(
  {
    dbName: Type.Optional(Type.String({ description: '`{SANDBOX}:{DATABASE}.{SCHEMA}`; the sandbox must be the one of x-sandbox-name' })),
    sql: Type.Optional(Type.String({ maxLength: 1_000_000, description: 'One SELECT over accelerated-store tables (database.schema.table)' })),
    templateId: Type.Optional(Type.String({ description: 'A saved query template to run instead of sql (never both)' })),
    queryParameters: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Values of $NAME / ${name} placeholders' })),
    name: Type.Optional(Type.String()),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);
export type AcceleratedQueryBodyT = Static<typeof AcceleratedQueryBody>;

const Property = Type.Object({ type: Type.String(), meta: Type.Object({ xdmType: Type.String() }) });

export const AcceleratedQueryView = Type.Object({
  queryId: Type.String(),
  resultsMeta: Type.Object({ _adhoc: Type.Object({ type: Type.Literal('object'), meta: Type.Object({ xdmType: Type.Literal('object') }), properties: Type.Record(Type.String(), Property) }) }),
  results: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  cached: Type.Boolean(),
  ms: Type.Number(),
  request: Type.Object({ dbName: Type.Optional(Type.String()), sql: Type.Optional(Type.String()), templateId: Type.Optional(Type.String()), name: Type.Optional(Type.String()) }),
});

const ColumnView = Type.Object({ name: Type.String(), type: Type.String() });
export const DataModelTableView = Type.Object({
  name: Type.String(),
  type: Type.Union([Type.Literal('fact'), Type.Literal('dimension'), Type.Literal('none')]),
  columns: Type.Array(ColumnView),
  primaryKey: Type.Array(Type.String()),
  foreignKeys: Type.Array(Type.Object({ columns: Type.Array(Type.String()), references: Type.Object({ table: Type.String(), columns: Type.Array(Type.String()) }) })),
  recordCount: Type.Integer(),
  lookups: Type.Array(Type.String()),
});
export const DataModelView = Type.Object({
  name: Type.String(),
  description: Type.String(),
  schema: Type.String(),
  tables: Type.Array(DataModelTableView),
  refreshedAt: Type.Union([Type.String(), Type.Null()]),
});

export const SampleQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 20 })) });

export const RefreshBody = Type.Object(
  {
    full: Type.Optional(Type.Boolean({ description: 'Rebuild from scratch instead of processing the snapshots since the checkpoints' })),
    processDate: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Date the facts are stated for (UTC today by default)' })),
  },
  { additionalProperties: false },
);

export const RefreshRunView = Type.Object({
  id: Type.String(),
  sandbox: Type.String(),
  model: Type.String(),
  mode: Type.Union([Type.Literal('full'), Type.Literal('incremental')]),
  status: Type.Union([Type.Literal('running'), Type.Literal('success'), Type.Literal('failed')]),
  processDate: Type.String(),
  checkpoints: Type.Array(Type.Object({ datasetId: Type.String(), table: Type.String(), from: Type.Integer(), to: Type.Integer() })),
  datesRecomputed: Type.Integer(),
  profilesRecomputed: Type.Integer(),
  audiences: Type.Optional(Type.Union([Type.Literal('kept'), Type.Literal('incremental'), Type.Literal('rebuilt')], { description: 'Audience facts: kept as they were, updated for the profiles with new transitions, or rebuilt' })),
  steps: Type.Array(Type.Object({ name: Type.String(), ms: Type.Number(), rows: Type.Optional(Type.Integer()) })),
  startedAt: Type.String(),
  endedAt: Type.Union([Type.String(), Type.Null()]),
  ms: Type.Union([Type.Number(), Type.Null()]),
  actor: Type.String(),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
});
