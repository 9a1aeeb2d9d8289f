/**
 * Uplift statistics: the effect of a campaign as treated minus holdout, with a 95 % confidence interval.
 *
 * - Conversion (a share): difference of two proportions with the unpooled Wald standard error,
 *   √(p₁(1−p₁)/n₁ + p₀(1−p₀)/n₀). Good when each group has at least a handful of conversions and
 *   non-conversions, which is what a holdout of a real audience gives.
 * - Revenue (and CLV change) per person: difference of means with Welch's standard error √(s₁²/n₁ + s₀²/n₀) and
 *   Welch–Satterthwaite degrees of freedom; revenue per person is mostly zeros with a long tail, where Welch
 *   keeps its coverage because the groups need not share a variance.
 */

export interface Interval {
  /** Treated minus holdout. */
  difference: number;
  low: number;
  high: number;
  standardError: number;
  /** Relative uplift (difference / holdout value); null when the holdout value is 0. */
  relative: number | null;
}

/** Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1, got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) => (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** Student t quantile: exact for 1 and 2 degrees of freedom, Cornish–Fisher expansion beyond (error < 1e-4 from 3 on). */
export function tQuantile(p: number, df: number): number {
  if (!Number.isFinite(df) || df > 1e7) return normalQuantile(p);
  if (df <= 1) return Math.tan(Math.PI * (p - 0.5));
  if (df <= 2) return (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
  const z = normalQuantile(p);
  const z2 = z * z;
  const g1 = (z2 + 1) * z / 4;
  const g2 = ((5 * z2 + 16) * z2 + 3) * z / 96;
  const g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384;
  const g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160;
  return z + g1 / df + g2 / df ** 2 + g3 / df ** 3 + g4 / df ** 4;
}

const relative = (difference: number, base: number): number | null => (base === 0 ? null : difference / base);

/** Conversions x of n, treated (1) vs holdout (0). */
export function proportionDifference(x1: number, n1: number, x0: number, n0: number, level = 0.95): Interval {
  if (n1 <= 0 || n0 <= 0) return { difference: NaN, low: NaN, high: NaN, standardError: NaN, relative: null };
  const p1 = x1 / n1;
  const p0 = x0 / n0;
  const se = Math.sqrt((p1 * (1 - p1)) / n1 + (p0 * (1 - p0)) / n0);
  const z = normalQuantile(1 - (1 - level) / 2);
  const difference = p1 - p0;
  return { difference, low: difference - z * se, high: difference + z * se, standardError: se, relative: relative(difference, p0) };
}

export interface Moments {
  n: number;
  mean: number;
  /** Sample variance (n − 1 in the denominator). */
  variance: number;
}

export function moments(values: readonly number[]): Moments {
  const n = values.length;
  const mean = n ? values.reduce((s, v) => s + v, 0) / n : NaN;
  const variance = n > 1 ? values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) : NaN;
  return { n, mean, variance };
}

/** Welch's interval for the difference of means (treated minus holdout); `df` is Welch–Satterthwaite. */
export function welchDifference(treated: Moments, holdout: Moments, level = 0.95): Interval & { df: number } {
  const a = treated.variance / treated.n;
  const b = holdout.variance / holdout.n;
  const se = Math.sqrt(a + b);
  const difference = treated.mean - holdout.mean;
  if (!(treated.n > 1 && holdout.n > 1)) return { difference, low: NaN, high: NaN, standardError: NaN, relative: relative(difference, holdout.mean), df: NaN };
  // Both groups constant: no uncertainty to speak of.
  const df = se === 0 ? Infinity : (a + b) ** 2 / (a ** 2 / (treated.n - 1) + b ** 2 / (holdout.n - 1));
  const t = tQuantile(1 - (1 - level) / 2, df);
  return { difference, low: difference - t * se, high: difference + t * se, standardError: se, relative: relative(difference, holdout.mean), df };
}
