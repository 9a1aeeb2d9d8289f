/**
 * Closed-form expectations of the simulated process (`reference/clv-science.md` §2 and §5), so tests can
 * compare generated data with what the model says at any scale: BG/NBD E[X(t)] and P(X(t) = 0) for a customer
 * observed for t weeks, and the Gamma-Gamma mean transaction value.
 */
import type { BgNbdParams, GammaGammaParams } from './options.ts';

/**
 * Gauss's hypergeometric ₂F₁(a, b; c; z) for 0 ≤ z < 1 by its power series. The terms shrink like zⁿ, so near
 * z = 1 (long horizons) it takes thousands of terms; that is fine for checks, not for fitting.
 */
export function hyp2f1(a: number, b: number, c: number, z: number): number {
  if (!(z >= 0 && z < 1)) throw new RangeError(`hyp2f1 needs 0 <= z < 1 (got ${z})`);
  let term = 1;
  let sum = 1;
  for (let n = 0; n < 1_000_000; n++) {
    term *= ((a + n) * (b + n) * z) / ((c + n) * (n + 1));
    sum += term;
    if (Math.abs(term) <= 1e-15 * Math.abs(sum)) return sum;
  }
  throw new RangeError(`hyp2f1(${a}, ${b}; ${c}; ${z}) did not converge`);
}

/** BG/NBD expected repeat transactions of a new customer in t weeks ([FHL05a] eq. 9). */
export function expectedRepeatTransactions(params: BgNbdParams, t: number): number {
  const { r, alpha, a, b } = params;
  if (t <= 0) return 0;
  const z = t / (alpha + t);
  return ((a + b - 1) / (a - 1)) * (1 - Math.pow(alpha / (alpha + t), r) * hyp2f1(r, b, a + b - 1, z));
}

/** BG/NBD probability of no repeat transaction in t weeks: P(X(t) = 0) = (α / (α + t))^r. */
export function probabilityNoRepeat(params: BgNbdParams, t: number): number {
  return Math.pow(params.alpha / (params.alpha + t), params.r);
}

/** Gamma-Gamma mean transaction value E[z] = pγ / (q − 1) (finite only for q > 1). */
export function expectedSpend(params: GammaGammaParams): number {
  return params.q > 1 ? (params.p * params.gamma) / (params.q - 1) : Number.POSITIVE_INFINITY;
}
