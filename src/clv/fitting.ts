/**
 * Fitting each kind of model on what `inputs.ts` prepared, with the diagnostics that belong to it:
 * - transaction models (BG/NBD, Pareto/NBD, MBG/NBD, BG/BB) on the summary's distinct (x, t_x, T) rows, with
 *   the calibration histogram and χ², and when there is a holdout the per-frequency holdout table, the
 *   correlation of predicted and actual holdout counts and cumulative tracking by period;
 * - Gamma-Gamma on repeat buyers' (x, m), refused when spend and frequency are correlated;
 * - sBG on a retention curve, with fitted against actual survival (holdout periods included).
 * Only the distinct rows leave the warehouse; customers stay there.
 */
import { RoundtripError } from '../core/errors.ts';
import type { JsonValue, WarehouseSession } from '../ports/warehouse.ts';
import { rfmData, spendData, survivalData, type RfmData, type SpendRow } from './data.ts';
import { calibrationHistogram, cumulativeTracking, holdoutByFrequency, type HoldoutData } from './diagnostics.ts';
import { fitModel } from './fit.ts';
import { SUMMARY_TABLE, type SummaryInfo } from './inputs.ts';
import { conditionalExpectedSpend, expectedSpend, spendFrequencyCorrelation } from './models/gamma-gamma.ts';
import { sbg } from './models/discrete.ts';
import { RETENTION_MODEL, SPEND_MODEL, TRANSACTION_MODELS, type TransactionModelName } from './models/index.ts';
import type { Params } from './models/types.ts';
import { storedFit, type FittedModel } from './registry.ts';
import type { TimeUnit } from './units.ts';

/** A fit before the registry gives it an id, a source and a time. */
export type Fitted = Omit<FittedModel, 'id' | 'source' | 'createdAt'>;

/** Default |corr(frequency, spend)| above which Gamma-Gamma is refused. */
export const DEFAULT_MAX_CORRELATION = 0.3;

type Json = { [key: string]: JsonValue };
const asJson = (value: unknown): JsonValue => JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))) as JsonValue;

/** The session table of distinct (x, t_x, T) rows, numbered `k` = 1, 2, … in the order `readPatterns` returns them. */
export const PATTERN_TABLE = 'clv_patterns';

/**
 * The summary's distinct (x, t_x, T) rows with their weights, also kept as `clv_patterns` so predictions can
 * send values back for them by row number instead of reading them again.
 */
export async function readPatterns(session: WarehouseSession, discrete: boolean): Promise<RfmData> {
  await session.query(`CREATE OR REPLACE TEMP TABLE ${PATTERN_TABLE} AS
    SELECT row_number() OVER (ORDER BY x, t_x, "T") AS k, * FROM (SELECT x, t_x, "T", sum(w) AS w FROM ${SUMMARY_TABLE} GROUP BY ALL)`);
  const result = await session.query(`SELECT x, t_x, "T", w FROM ${PATTERN_TABLE} ORDER BY k`);
  return rfmData(
    result.rows.map((r) => ({ x: Number(r.x), tx: Number(r.t_x), T: Number(r.T), w: Number(r.w) })),
    { discrete, distinct: true },
  );
}

async function readHoldout(session: WarehouseSession): Promise<HoldoutData> {
  const result = await session.query(`SELECT x, t_x, "T", x_star, sum(w) AS w FROM ${SUMMARY_TABLE} GROUP BY ALL ORDER BY ALL`);
  const column = (key: string) => Float64Array.from(result.rows, (r) => Number(r[key]));
  return { x: column('x'), tx: column('t_x'), T: column('T'), xStar: column('x_star'), w: column('w') };
}

export interface TransactionFitOptions {
  penalizer?: number;
  /** Skip the holdout and tracking diagnostics (predictions fit on all the data). */
  calibrationOnly?: boolean;
}

/** Fits on the summary's distinct rows (`data`, when `readPatterns` already read them). */
export async function fitTransactions(session: WarehouseSession, name: TransactionModelName, info: SummaryInfo, options: TransactionFitOptions = {}, patterns?: RfmData): Promise<Fitted> {
  const model = TRANSACTION_MODELS[name];
  const data = patterns ?? (await readPatterns(session, model.discrete));
  const result = fitModel(model.spec, data, { penalizer: options.penalizer });
  const diagnostics: Json = { calibration: asJson(calibrationHistogram(model, result.params, data)) };
  if (info.holdoutLength !== null && !options.calibrationOnly) {
    const holdout = holdoutByFrequency(model, result.params, await readHoldout(session), info.holdoutLength);
    diagnostics.holdout = asJson(holdout);
    if (info.tracking && info.trackingPeriods) diagnostics.tracking = asJson(tracking(name, result.params, data, info));
  }
  return { model: name, fit: storedFit(result, info.unit, info.period), diagnostics };
}

/** Expected against actual cumulative repeat transactions per period, and the relative error at the end. */
function tracking(name: TransactionModelName, params: Params, data: RfmData, info: SummaryInfo) {
  const periods = Array.from({ length: info.trackingPeriods! }, (_, i) => i + 1);
  const perBucket = new Map(info.tracking!.map((b) => [b.bucket, b.count]));
  let running = 0;
  const actual = periods.map((p) => (running += perBucket.get(p) ?? 0));
  const points = cumulativeTracking(TRANSACTION_MODELS[name], params, data, periods, actual);
  const last = points[points.length - 1]!;
  return { unit: info.unit, points, finalRelativeError: (last.expected - last.actual!) / last.actual! };
}

export interface SpendFitOptions {
  penalizer?: number;
  maxCorrelation?: number;
}

/** The session table of every distinct (x, m) of the summary, numbered `k` in the order `readSpendRows` returns them. */
export const SPEND_ROW_TABLE = 'clv_spend_rows';

/**
 * Every distinct (x, m) of the summary with its weight — also x = 0 and zero-valued repeats, which predictions
 * need and the Gamma-Gamma fit leaves out — kept as `clv_spend_rows` for values sent back by row number.
 */
export async function readSpendRows(session: WarehouseSession): Promise<SpendRow[]> {
  await session.query(`CREATE OR REPLACE TEMP TABLE ${SPEND_ROW_TABLE} AS
    SELECT row_number() OVER (ORDER BY x, m) AS k, * FROM (SELECT x, m, sum(w) AS w FROM ${SUMMARY_TABLE} GROUP BY ALL)`);
  const result = await session.query(`SELECT x, m, w FROM ${SPEND_ROW_TABLE} ORDER BY k`);
  return result.rows.map((r) => ({ x: Number(r.x), m: Number(r.m), w: Number(r.w) }));
}

/** Gamma-Gamma on the repeat buyers of the summary (`rows`, when `readSpendRows` already read them). */
export async function fitSpend(session: WarehouseSession, info: SummaryInfo, options: SpendFitOptions = {}, rows?: SpendRow[]): Promise<Fitted> {
  const data = spendData(rows ?? (await readSpendRows(session)));
  const threshold = options.maxCorrelation ?? DEFAULT_MAX_CORRELATION;
  const correlation = spendFrequencyCorrelation(data);
  if (Math.abs(correlation) > threshold) {
    throw new RoundtripError(
      'RT_CLV_ASSUMPTION_VIOLATED',
      `Gamma-Gamma assumes spend per transaction is independent of how often a customer buys, but their correlation here is ${correlation.toFixed(3)} (threshold ${threshold}); the spend predictions would be biased. Raise maxCorrelation to fit anyway.`,
      { correlation, threshold },
    );
  }
  const fit = fitModel(SPEND_MODEL, data, { penalizer: options.penalizer });
  const params = fit.params as { p: number; q: number; gamma: number };
  let weight = 0;
  let observed = 0;
  let predicted = 0;
  data.x.forEach((x, i) => {
    const w = data.w[i]!;
    weight += w;
    observed += w * data.m[i]!;
    predicted += w * conditionalExpectedSpend(params, x, data.m[i]!);
  });
  const diagnostics: Json = asJson({
    repeatCustomers: weight,
    correlation,
    correlationThreshold: threshold,
    meanObservedSpend: observed / weight,
    meanConditionalSpend: predicted / weight,
    populationMeanSpend: expectedSpend(params),
    note: params.q > 1 ? null : 'q ≤ 1: the population mean spend is infinite; spend predictions for customers without repeat purchases are undefined.',
  }) as Json;
  return { model: 'gg', fit: storedFit(fit, info.unit, info.period), diagnostics };
}

/** sBG on periods 0..`periods` of the curve; later periods are shown against the projection. */
export function fitRetention(curve: readonly number[], periods: number | undefined, unit: TimeUnit, options: { penalizer?: number } = {}): Fitted {
  const k = Math.min(periods ?? curve.length - 1, curve.length - 1);
  const data = survivalData(curve.slice(0, k + 1));
  const fit = fitModel(RETENTION_MODEL, data, { penalizer: options.penalizer });
  const params = fit.params as { gamma: number; delta: number };
  const rows = curve.map((alive, t) => ({
    period: t,
    actual: alive / curve[0]!,
    fitted: sbg.survival(params, t),
    retention: t > 0 ? sbg.retention(params, t) : null,
    holdout: t > k,
  }));
  const diagnostics = asJson({ survival: rows, calibrationPeriods: k, cohort: curve[0] }) as Json;
  return { model: 'sbg', fit: storedFit(fit, unit, unit), diagnostics };
}
