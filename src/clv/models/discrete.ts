/**
 * The discrete-time models: BG/BB (Fader, Hardie & Shang 2010) for non-contractual settings with transaction
 * opportunities (one donation a year), and the shifted-beta-geometric sBG (Fader & Hardie 2007, 2010) for
 * contractual retention (`reference/clv-science.md` §6–7). Both are sums of beta-function ratios, kept in logs.
 *
 * γ = 1 is a removable singularity of BG/BB's expectations (δ/(γ − 1) times a bracket that vanishes); there the
 * value is the mean of the two sides a hair away, which is exact to about 1e-7.
 */
import type { RfmData, SurvivalData } from '../data.ts';
import { totalWeight } from '../data.ts';
import { lbeta, lgamma, log2f1One, logSumExp } from '../math/special.ts';
import type { ModelSpec, PreparedLikelihood } from './types.ts';

export interface BgbbParams {
  alpha: number;
  beta: number;
  gamma: number;
  delta: number;
}

export interface SbgParams {
  gamma: number;
  delta: number;
}

const SINGULAR_GAP = 1e-7;

/** f(γ), evaluated as the average of both sides when γ is (numerically) 1. */
function acrossGammaOne(gamma: number, f: (g: number) => number): number {
  if (Math.abs(gamma - 1) >= SINGULAR_GAP) return f(gamma);
  return (f(1 - SINGULAR_GAP) + f(1 + SINGULAR_GAP)) / 2;
}

/** ln L for one (x, t_x, n) row ([FHS10] eq. 5), the sum over possible death periods in log-sum-exp. */
function bgbbLogLikelihood(p: BgbbParams, x: number, tx: number, n: number): number {
  const { alpha, beta, gamma, delta } = p;
  const base = -lbeta(alpha, beta) - lbeta(gamma, delta);
  const terms = [lbeta(alpha + x, beta + n - x) + lbeta(gamma, delta + n) + base];
  for (let i = 0; i <= n - tx - 1; i++) terms.push(lbeta(alpha + x, beta + tx - x + i) + lbeta(gamma + 1, delta + tx + i) + base);
  return logSumExp(terms);
}

function prepareBgbb(data: RfmData): PreparedLikelihood {
  const evaluate = (theta: readonly number[]): number => {
    const [alpha, beta, gamma, delta] = theta as [number, number, number, number];
    const p = { alpha, beta, gamma, delta };
    let sum = 0;
    for (let i = 0; i < data.x.length; i++) sum += data.w[i]! * bgbbLogLikelihood(p, data.x[i]!, data.tx[i]!, data.T[i]!);
    return sum;
  };
  return { evaluate, weight: totalWeight(data.w), size: data.x.length };
}

export const bgbbSpec: ModelSpec<RfmData> = {
  name: 'bgbb',
  title: 'BG/BB (discrete opportunities)',
  params: ['alpha', 'beta', 'gamma', 'delta'],
  start: [1, 1, 1, 1],
  prepare: prepareBgbb,
};

export const bgbb = {
  /** P(alive at opportunity n + 1 | x, t_x, n). */
  pAlive(p: BgbbParams, x: number, tx: number, n: number): number {
    const { alpha, beta, gamma, delta } = p;
    return Math.exp(lbeta(alpha + x, beta + n - x) - lbeta(alpha, beta) + lbeta(gamma, delta + n + 1) - lbeta(gamma, delta) - bgbbLogLikelihood(p, x, tx, n));
  },
  /** E[X(n)]: transactions of a new customer in n opportunities. */
  expected(p: BgbbParams, n: number): number {
    const { alpha, beta, delta } = p;
    return acrossGammaOne(p.gamma, (gamma) => {
      const d = lgamma(gamma + delta) - lgamma(gamma + delta + n) + lgamma(1 + delta + n) - lgamma(1 + delta);
      return ((alpha / (alpha + beta)) * delta * -Math.expm1(d)) / (gamma - 1);
    });
  },
  /**
   * [FHS10] eq. 13 (transactions in the next n* opportunities) divided by P(alive at n + 1): the 1/L and the
   * beta terms they share cancel, leaving a function of x and n only.
   */
  expectedIfAlive(p: BgbbParams, nStar: number, x: number, n: number): number {
    if (nStar <= 0) return 0;
    const { alpha, beta, gamma: g, delta } = p;
    const lead = lbeta(alpha + x + 1, beta + n - x) - lbeta(alpha + x, beta + n - x) - lbeta(g, delta + n + 1) + lbeta(g, delta);
    return acrossGammaOne(g, (gamma) => {
      const e1 = lgamma(1 + delta + n) - lgamma(gamma + delta + n);
      const e2 = lgamma(1 + delta + n + nStar) - lgamma(gamma + delta + n + nStar);
      const scale = Math.exp(lead + lgamma(gamma + delta) - lgamma(1 + delta) + e1);
      return (scale * delta * -Math.expm1(e2 - e1)) / (gamma - 1);
    });
  },
  /** P(X(n) = x) for a new customer ([FHS10] eq. 7). */
  pmf(p: BgbbParams, x: number, n: number): number {
    const { alpha, beta, gamma, delta } = p;
    const base = -lbeta(alpha, beta) - lbeta(gamma, delta);
    const logChoose = (k: number, j: number) => lgamma(k + 1) - lgamma(j + 1) - lgamma(k - j + 1);
    const terms = [logChoose(n, x) + lbeta(alpha + x, beta + n - x) + lbeta(gamma, delta + n) + base];
    for (let i = x; i <= n - 1; i++) terms.push(logChoose(i, x) + lbeta(alpha + x, beta + i - x) + lbeta(gamma + 1, delta + i) + base);
    return Math.exp(logSumExp(terms));
  },
};

function prepareSbg(data: SurvivalData): PreparedLikelihood {
  const { alive } = data;
  const k = alive.length - 1;
  const evaluate = (theta: readonly number[]): number => {
    const [gamma, delta] = theta as [number, number];
    const p = { gamma, delta };
    let sum = alive[k]! * Math.log(sbg.survival(p, k));
    for (let t = 1; t <= k; t++) {
      const churned = alive[t - 1]! - alive[t]!;
      if (churned > 0) sum += churned * Math.log(sbg.churnProbability(p, t));
    }
    return sum;
  };
  return { evaluate, weight: alive[0]!, size: k };
}

export const sbgSpec: ModelSpec<SurvivalData> = {
  name: 'sbg',
  title: 'sBG (shifted-beta-geometric contractual retention)',
  params: ['gamma', 'delta'],
  start: [1, 1],
  prepare: prepareSbg,
};

export const sbg = {
  /** P(T = t): churn in period t ≥ 1, B(γ+1, δ+t−1)/B(γ,δ). */
  churnProbability: (p: SbgParams, t: number) => Math.exp(lbeta(p.gamma + 1, p.delta + t - 1) - lbeta(p.gamma, p.delta)),
  /** S(t) = B(γ, δ+t)/B(γ,δ): share still active after t periods. */
  survival: (p: SbgParams, t: number) => Math.exp(lbeta(p.gamma, p.delta + t) - lbeta(p.gamma, p.delta)),
  /** r(t) = S(t)/S(t−1) = (δ+t−1)/(γ+δ+t−1): rises with t as the likely churners leave (sorting). */
  retention: (p: SbgParams, t: number) => (p.delta + t - 1) / (p.gamma + p.delta + t - 1),
  /**
   * Discounted expected residual lifetime of a customer who has made `renewals` renewals ([FH10]):
   * (δ+n−1)/(γ+δ+n−1) · ₂F₁(1, δ+n; γ+δ+n; 1/(1+d)) with n = renewals + 1. Needs d > 0: undiscounted, the
   * expected lifetime is infinite whenever γ ≤ 1.
   */
  derl(p: SbgParams, discount: number, renewals: number): number {
    if (!(discount > 0)) return Number.POSITIVE_INFINITY;
    const n = renewals + 1;
    const { gamma, delta } = p;
    return ((delta + n - 1) / (gamma + delta + n - 1)) * Math.exp(log2f1One(delta + n, gamma + delta + n, 1 / (1 + discount)));
  },
};
