/**
 * Gamma-Gamma spend model (Fader, Hardie & Lee 2005b; Fader & Hardie 2013, note 025): each transaction's value
 * is Gamma(p, ν), ν ~ Gamma(q, γ) across customers, independent of the purchase process
 * (`reference/clv-science.md` §5). The likelihood is the full density of the mean z̄ of x values, including the
 * (px − 1) ln z̄ + px ln x terms some implementations drop (they depend on p, so they are not constants).
 *
 * The independence assumption is checked, not assumed: `spendFrequencyCorrelation` is what the fit refuses on.
 */
import type { SpendData } from '../data.ts';
import { thinRows, totalWeight, uniqueIndex } from '../data.ts';
import { correlation, lgamma } from '../math/special.ts';
import type { ModelSpec, PreparedLikelihood } from './types.ts';

export interface GammaGammaParams {
  p: number;
  q: number;
  gamma: number;
}

function prepare(data: SpendData): PreparedLikelihood {
  const xs = uniqueIndex(data.x);
  const n = data.x.length;
  const logM = Float64Array.from(data.m, Math.log);
  const logX = Float64Array.from(data.x, Math.log);
  const perX = new Float64Array(xs.values.length);
  const evaluate = (theta: readonly number[]): number => {
    const [p, q, gamma] = theta as [number, number, number];
    const head = -lgamma(q) + q * Math.log(gamma);
    xs.values.forEach((x, k) => (perX[k] = lgamma(p * x + q) - lgamma(p * x) + head));
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const x = data.x[i]!;
      const px = p * x;
      sum += data.w[i]! * (perX[xs.index[i]!]! + (px - 1) * logM[i]! + px * logX[i]! - (px + q) * Math.log(gamma + x * data.m[i]!));
    }
    return sum;
  };
  return { evaluate, weight: totalWeight(data.w), size: n, thin: (limit) => prepare(thinRows(data, limit)) };
}

export const gammaGammaSpec: ModelSpec<SpendData> = {
  name: 'gg',
  title: 'Gamma-Gamma (spend per transaction)',
  params: ['p', 'q', 'gamma'],
  start: [1, 1, 1],
  extraStarts: [[5, 3, 15]],
  prepare,
};

/**
 * E(M | x, z̄) = (γ + x z̄) p / (px + q − 1): a weighted mean of the customer's own mean and the population mean
 * pγ/(q − 1). For x = 0 that population mean; it needs q > 1, otherwise the mean spend is infinite (NaN here).
 */
export function conditionalExpectedSpend(params: GammaGammaParams, x: number, m: number): number {
  const { p, q, gamma } = params;
  if (x <= 0) return q > 1 ? (p * gamma) / (q - 1) : Number.NaN;
  const denominator = p * x + q - 1;
  return denominator > 0 ? ((gamma + x * m) * p) / denominator : Number.NaN;
}

/** Population mean spend per transaction pγ/(q − 1) (infinite when q ≤ 1). */
export function expectedSpend(params: GammaGammaParams): number {
  return params.q > 1 ? (params.p * params.gamma) / (params.q - 1) : Number.POSITIVE_INFINITY;
}

/** Weighted Pearson correlation of frequency and mean repeat spend among repeat buyers. */
export function spendFrequencyCorrelation(data: SpendData): number {
  return correlation(data.x, data.m, data.w);
}
