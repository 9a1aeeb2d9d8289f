/**
 * Pareto/NBD (Schmittlein, Morrison & Colombo 1987) as in Fader & Hardie's notes 008/009/012: Poisson–gamma
 * purchases, exponential–gamma lifetimes (`reference/clv-science.md` §3).
 *
 * The likelihood's A₀ is a difference of two ₂F₁ terms. The α ≥ β / α < β branch keeps the argument in [0, 1);
 * both branches are ₂F₁(a, b; a + 1; z), whose Euler transform is (1 − z)^{1−b} ₂F₁(1, a + 1 − b; a + 1; z): a
 * series of positive, shrinking terms, summed without overflow however large x is. ln A₀ = l₁ + ln(1 − e^{l₂−l₁});
 * t_x = T gives A₀ = 0 (ln A₀ = −∞), which log-sum-exp then drops.
 */
import type { RfmData } from '../data.ts';
import { thinRows, totalWeight, uniqueIndex } from '../data.ts';
import { expit, expm1OverK, lbeta, lfactorial, lgamma, log2f1, log2f1One, logAddExp, logSubExp, logSumExp } from '../math/special.ts';
import type { ModelSpec, PreparedLikelihood, TransactionFunctions } from './types.ts';

export interface PnbdParams {
  r: number;
  alpha: number;
  s: number;
  beta: number;
}

/** ln of one A₀ term: ₂F₁(r+s+x, ·; r+s+x+1; |α−β|/(max+t)) / (max+t)^{r+s+x}, via the Euler transform. */
function logA0Term(p: PnbdParams, x: number, t: number): number {
  const { r, alpha, s, beta } = p;
  const a = r + s + x;
  const c = a + 1;
  const max = Math.max(alpha, beta);
  // α ≥ β: ₂F₁(a, s+1; c; z); α < β: ₂F₁(a, r+x; c; z). Euler: (1−z)^{c−a−b} ₂F₁(1, c−b; c; z).
  const b = alpha >= beta ? s + 1 : r + x;
  const z = Math.abs(alpha - beta) / (max + t);
  return (c - a - b) * Math.log1p(-z) + log2f1One(c - b, c, z) - a * Math.log(max + t);
}

function logA0(p: PnbdParams, x: number, tx: number, T: number): number {
  if (tx >= T) return -Infinity;
  return logSubExp(logA0Term(p, x, tx), logA0Term(p, x, T));
}

/** ln of the "died before T" odds against "alive at T" (eq. 36–37). */
function logDeathOdds(p: PnbdParams, x: number, tx: number, T: number): number {
  const { r, alpha, s, beta } = p;
  return Math.log(s) - Math.log(r + s + x) + (r + x) * Math.log(alpha + T) + s * Math.log(beta + T) + logA0(p, x, tx, T);
}

function logLikelihoodOne(p: PnbdParams, head: number, x: number, tx: number, T: number): number {
  const { r, alpha, s, beta } = p;
  const alive = -(r + x) * Math.log(alpha + T) - s * Math.log(beta + T);
  const died = Math.log(s) - Math.log(r + s + x) + logA0(p, x, tx, T);
  return head + logAddExp(alive, died);
}

function prepare(data: RfmData): PreparedLikelihood {
  const xs = uniqueIndex(data.x);
  const heads = new Float64Array(xs.values.length);
  const evaluate = (theta: readonly number[]): number => {
    const [r, alpha, s, beta] = theta as [number, number, number, number];
    const p = { r, alpha, s, beta };
    const common = -lgamma(r) + r * Math.log(alpha) + s * Math.log(beta);
    xs.values.forEach((x, k) => (heads[k] = lgamma(r + x) + common));
    let sum = 0;
    for (let i = 0; i < data.x.length; i++) sum += data.w[i]! * logLikelihoodOne(p, heads[xs.index[i]!]!, data.x[i]!, data.tx[i]!, data.T[i]!);
    return sum;
  };
  return { evaluate, weight: totalWeight(data.w), size: data.x.length, thin: (limit) => prepare(thinRows(data, limit)) };
}

/** (1 − (β/(β+t))^{s−1}) / (s − 1), continuous at s = 1 (where it is ln((β+t)/β)). */
function dropoutIntegral(s: number, beta: number, t: number): number {
  return -expm1OverK(s - 1, -Math.log1p(t / beta));
}

export const pnbd: TransactionFunctions<PnbdParams> = {
  pAlive: (p, x, tx, T) => expit(-logDeathOdds(p, x, tx, T)),
  /** E[X(t)] (eq. 27). */
  expected: (p, t) => (t <= 0 ? 0 : ((p.r * p.beta) / p.alpha) * dropoutIntegral(p.s, p.beta, t)),
  /** Eq. 41 without its P(alive) factor. */
  expectedIfAlive: (p, t, x, T) => (t <= 0 ? 0 : ((p.r + x) * (p.beta + T) * dropoutIntegral(p.s, p.beta + T, t)) / (p.alpha + T)),
  pmf: (p, n, t) => pnbdPmf(p, n, t),
};

/**
 * P(X(t) = n) (Fader & Hardie note 012, as BTYD's `pnbd.pmf.General` with t.start = 0): the "alive all along"
 * term plus the "died after n purchases" term B₁ − Σᵢ tⁱ/(i B(r+s, i)) B₂ᵢ, kept in logs until the subtraction.
 */
function pnbdPmf(p: PnbdParams, n: number, t: number): number {
  if (t <= 0) return n === 0 ? 1 : 0;
  const { r, alpha, s, beta } = p;
  const alive = Math.exp(lgamma(r + n) - lgamma(r) - lfactorial(n) + r * Math.log(alpha) - (r + n) * Math.log(alpha + t) + n * Math.log(t) + s * Math.log(beta) - s * Math.log(beta + t));
  const max = Math.max(alpha, beta);
  const b = alpha >= beta ? s + 1 : r + n;
  const c = r + s + n + 1;
  const diff = Math.abs(alpha - beta);
  const logB1 = log2f1(r + s, b, c, diff / max) - (r + s) * Math.log(max);
  const terms: number[] = [];
  for (let i = 0; i <= n; i++) {
    const logCoefficient = i === 0 ? 0 : i * Math.log(t) + lgamma(r + s + i) - lgamma(r + s) - lfactorial(i);
    terms.push(logCoefficient + log2f1(r + s + i, b, c, diff / (max + t)) - (r + s + i) * Math.log(max + t));
  }
  const logDied = r * Math.log(alpha) + s * Math.log(beta) + lbeta(r + n, s + 1) - lbeta(r, s) + logSubExp(logB1, logSumExp(terms));
  return alive + (Number.isFinite(logDied) ? Math.exp(logDied) : 0);
}

export const pnbdSpec: ModelSpec<RfmData> = {
  name: 'pnbd',
  title: 'Pareto/NBD',
  params: ['r', 'alpha', 's', 'beta'],
  start: [1, 1, 1, 1],
  extraStarts: [
    [0.5, 10, 0.5, 10],
    [1, 3, 1, 3],
  ],
  prepare,
};
