/**
 * How well a fitted transaction model describes the data (the checks of [FHL05a] §7 and BTYD's plots):
 * - the calibration histogram: customers with 0, 1, … , K+ repeat purchases, actual against Σᵢ P(X(Tᵢ) = k),
 *   with Pearson's χ² on bins − 1 − parameters degrees of freedom;
 * - the holdout by calibration frequency: mean actual x* against mean E[X* | x, t_x, T] per bin, the totals,
 *   and the correlation of predicted and actual holdout counts over customers;
 * - cumulative tracking by period, BTYD's convention: every customer's clock starts max(T) − T after the first
 *   customer's, so period i contributes E[X(i − birth)] (§9.8).
 */
import type { RfmData } from './data.ts';
import { uniqueIndex } from './data.ts';
import { chiSquareSurvival, correlation } from './math/special.ts';
import type { TransactionModel } from './models/index.ts';
import { conditionalExpected, type Params } from './models/types.ts';

export interface HistogramBin {
  /** `0`, `1`, … and the last, open bin `K+`. */
  frequency: string;
  actual: number;
  expected: number;
}

export interface CalibrationFit {
  bins: HistogramBin[];
  chiSquare: number;
  degreesOfFreedom: number;
  pValue: number;
}

/** Weights summed per distinct T: the histogram's model side needs P(X(T) = k) once per age, not per customer. */
function weightByAge(data: RfmData): { ages: Float64Array; weights: Float64Array } {
  const { values, index } = uniqueIndex(data.T);
  const weights = new Float64Array(values.length);
  index.forEach((k, i) => (weights[k]! += data.w[i]!));
  return { ages: values, weights };
}

export function calibrationHistogram(model: TransactionModel, params: Params, data: RfmData, openBin = 7): CalibrationFit {
  const actual = new Array<number>(openBin + 1).fill(0);
  data.x.forEach((x, i) => (actual[Math.min(x, openBin)]! += data.w[i]!));
  const expected = new Array<number>(openBin + 1).fill(0);
  const { ages, weights } = weightByAge(data);
  ages.forEach((T, j) => {
    let below = 0;
    for (let k = 0; k < openBin; k++) {
      const pk = model.fn.pmf(params, k, T);
      expected[k]! += weights[j]! * pk;
      below += pk;
    }
    expected[openBin]! += weights[j]! * Math.max(0, 1 - below);
  });
  let chiSquare = 0;
  for (let k = 0; k <= openBin; k++) chiSquare += (actual[k]! - expected[k]!) ** 2 / expected[k]!;
  const degreesOfFreedom = openBin + 1 - 1 - model.spec.params.length;
  return {
    bins: actual.map((a, k) => ({ frequency: k === openBin ? `${k}+` : String(k), actual: a, expected: expected[k]! })),
    chiSquare,
    degreesOfFreedom,
    pValue: chiSquareSurvival(chiSquare, degreesOfFreedom),
  };
}

/** Calibration summary rows with what each customer did in the holdout window. */
export interface HoldoutData extends RfmData {
  xStar: Float64Array;
}

export interface HoldoutBin {
  frequency: string;
  customers: number;
  actualMean: number;
  predictedMean: number;
}

export interface HoldoutFit {
  /** Length of the holdout window, in the model's time unit. */
  duration: number;
  bins: HoldoutBin[];
  actualTotal: number;
  predictedTotal: number;
  /** (predicted − actual) / actual over the whole holdout. */
  relativeError: number;
  /** Pearson correlation of E[X*] and x* over customers. */
  correlation: number;
}

/** E[X* | x, t_x, T] per row: the holdout predictions the bins and the correlation compare. */
export function holdoutPredictions(model: TransactionModel, params: Params, data: RfmData, duration: number): Float64Array {
  return Float64Array.from(data.x, (x, i) => conditionalExpected(model.fn, params, duration, x, data.tx[i]!, data.T[i]!));
}

export function holdoutByFrequency(model: TransactionModel, params: Params, data: HoldoutData, duration: number, openBin = 7): HoldoutFit {
  const predicted = holdoutPredictions(model, params, data, duration);
  const customers = new Array<number>(openBin + 1).fill(0);
  const actualSum = new Array<number>(openBin + 1).fill(0);
  const predictedSum = new Array<number>(openBin + 1).fill(0);
  let actualTotal = 0;
  let predictedTotal = 0;
  data.x.forEach((x, i) => {
    const k = Math.min(x, openBin);
    const w = data.w[i]!;
    customers[k]! += w;
    actualSum[k]! += w * data.xStar[i]!;
    predictedSum[k]! += w * predicted[i]!;
    actualTotal += w * data.xStar[i]!;
    predictedTotal += w * predicted[i]!;
  });
  return {
    duration,
    bins: customers.map((n, k) => ({ frequency: k === openBin ? `${k}+` : String(k), customers: n, actualMean: actualSum[k]! / n, predictedMean: predictedSum[k]! / n })),
    actualTotal,
    predictedTotal,
    relativeError: (predictedTotal - actualTotal) / actualTotal,
    correlation: correlation(predicted, data.xStar, data.w),
  };
}

export interface TrackingPoint {
  /** End of the period, in model time units since the first customer's birth. */
  period: number;
  expected: number;
  actual?: number;
}

/**
 * Expected cumulative repeat transactions of the whole cohort at each time in `periods` (BTYD's
 * `*.ExpectedCumulativeTransactions`), optionally beside the actual cumulative counts.
 */
export function cumulativeTracking(model: TransactionModel, params: Params, data: RfmData, periods: readonly number[], actual?: readonly number[]): TrackingPoint[] {
  const { ages, weights } = weightByAge(data);
  let oldest = 0;
  for (const T of ages) oldest = Math.max(oldest, T);
  return periods.map((period, i) => {
    let expected = 0;
    ages.forEach((T, j) => {
      const elapsed = period - (oldest - T);
      if (elapsed > 0) expected += weights[j]! * model.fn.expected(params, elapsed);
    });
    return actual?.[i] === undefined ? { period, expected } : { period, expected, actual: actual[i] };
  });
}
