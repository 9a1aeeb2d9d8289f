/**
 * CLV request and response bodies: the one TypeBox source the HTTP routes validate with, the OpenAPI document
 * shows, and the service takes as `Static` types.
 */
import { Type, type Static } from 'typebox';

const column = (description = 'Column name, or a dotted path into a struct') => Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$', description });
/** Spelled out (not mapped from TIME_UNITS) so `Static` gives the literal union. */
const unit = (description?: string) => Type.Union([Type.Literal('day'), Type.Literal('week'), Type.Literal('month'), Type.Literal('year')], description ? { description } : {});
const IsoDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD' });

export const InputBody = Type.Object(
  {
    dataset: Type.Optional(Type.String({ minLength: 1, description: 'Dataset (name, id or table) holding the transactions' })),
    csv: Type.Optional(Type.String({ minLength: 1, description: 'CSV text with a header row (what `roundtrip clv --input FILE` sends)' })),
    format: Type.Optional(
      Type.Union([Type.Literal('transactions'), Type.Literal('summary'), Type.Literal('survival')], {
        description: 'transactions (one row per purchase), summary (one row per customer: frequency, recency, T[, weights, monetary_value, frequency_holdout]) or survival (a retention curve). Default: transactions, or summary when a CSV header has frequency/recency/T columns.',
      }),
    ),
    customerId: Type.Optional(column()),
    datetime: Type.Optional(column('Time of the purchase: date, timestamp, ISO text or YYYYMMDD')),
    monetary: Type.Optional(column('Value of the purchase')),
    category: Type.Optional(column('Ranking category for deciles, e.g. loyalty tier')),
    alive: Type.Optional(column('Survival input: customers (or %) still active at the start of each period')),
    periods: Type.Optional(Type.Integer({ minimum: 1, description: 'Survival input: fit on periods 1..periods only (the rest is shown as holdout)' })),
  },
  { additionalProperties: false },
);
export type InputSpec = Static<typeof InputBody>;

export const WindowBody = Type.Object(
  {
    unit: Type.Optional(unit('Time unit of recency, age and the model parameters (default week)')),
    period: Type.Optional(unit('Purchases within one period count once (default day)')),
    calibrationEnd: Type.Optional(IsoDate),
    observationEnd: Type.Optional(IsoDate),
    holdoutLength: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Summary input with a holdout column: length of the holdout window in `unit`' })),
  },
  { additionalProperties: false },
);
export type WindowSpec = Static<typeof WindowBody>;

export const FitBody = Type.Object(
  {
    model: Type.Union([Type.Literal('bgnbd'), Type.Literal('pnbd'), Type.Literal('mbgnbd'), Type.Literal('gg'), Type.Literal('bgbb'), Type.Literal('sbg')]),
    input: InputBody,
    window: Type.Optional(WindowBody),
    penalizer: Type.Optional(Type.Number({ minimum: 0, description: 'L2 penalty on the parameters (0 = plain maximum likelihood)' })),
    maxCorrelation: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Gamma-Gamma: refuse when |corr(frequency, spend)| is above this (default 0.3)' })),
    save: Type.Optional(Type.Boolean({ description: 'Keep the fit in the model registry (default true)' })),
  },
  { additionalProperties: false },
);
export type FitRequest = Static<typeof FitBody>;

export const FitView = Type.Object({
  modelId: Type.Union([Type.String(), Type.Null()]),
  model: Type.String(),
  title: Type.String(),
  params: Type.Record(Type.String(), Type.Number()),
  standardErrors: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()])),
  logLikelihood: Type.Number(),
  observations: Type.Number(),
  rows: Type.Integer(),
  penalizer: Type.Number(),
  converged: Type.Boolean(),
  seconds: Type.Number(),
  unit: Type.String(),
  source: Type.Record(Type.String(), Type.Unknown()),
  diagnostics: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Type.String(),
});
export type FitViewT = Static<typeof FitView>;

export const OutputBody = Type.Object(
  {
    dataset: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_ -]{0,62}$', description: 'Profile-enabled dataset to write (created if missing)' })),
    namespace: Type.Optional(Type.String({ description: 'Identity namespace of the customer id (default CRMID)' })),
  },
  { additionalProperties: false },
);

export const PredictBody = Type.Object(
  {
    input: InputBody,
    window: Type.Optional(WindowBody),
    modelId: Type.Optional(Type.String({ description: 'A registered transaction model; otherwise `model` is fitted on the input' })),
    model: Type.Optional(Type.Union([Type.Literal('bgnbd'), Type.Literal('pnbd'), Type.Literal('mbgnbd'), Type.Literal('bgbb')])),
    spendModelId: Type.Optional(Type.String({ description: 'A registered Gamma-Gamma model; otherwise one is fitted on the input' })),
    horizon: Type.Optional(Type.Integer({ minimum: 1, maximum: 1200, description: 'Steps of horizonUnit (default 12)' })),
    horizonUnit: Type.Optional(unit('Unit of the horizon steps and the discount rate (default month)')),
    discountRate: Type.Optional(Type.Number({ minimum: 0, maximum: 0.99, description: 'Per horizonUnit step (default 0.01)' })),
    margin: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Profit margin applied to spend (default 1)' })),
    penalizer: Type.Optional(Type.Number({ minimum: 0 })),
    maxCorrelation: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    output: Type.Optional(OutputBody),
    limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'Customers returned in the answer, highest CLV first (default 20)' })),
  },
  { additionalProperties: false },
);
export type PredictRequest = Static<typeof PredictBody>;

export const AttributesBody = Type.Object(
  {
    input: InputBody,
    asOf: Type.Optional(Type.String({ description: 'First day not included (YYYY-MM-DD), or CURRENT_DATE (default)' })),
    output: Type.Optional(OutputBody),
    sqlOnly: Type.Optional(Type.Boolean({ description: 'Return the INSERT statement (to save as a query template and schedule) instead of running it' })),
  },
  { additionalProperties: false },
);
export type AttributesRequest = Static<typeof AttributesBody>;

export const HorizonView = Type.Object({
  horizon: Type.Integer(),
  horizonUnit: Type.String(),
  discountRate: Type.Number(),
  modelUnit: Type.String(),
  margin: Type.Optional(Type.Number()),
});

export const ModelListQuery = Type.Object({
  model: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});
