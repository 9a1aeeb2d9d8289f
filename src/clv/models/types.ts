/**
 * What every CLV model gives the shared fit harness: its parameter names and start values, and a prepared
 * log-likelihood over its data. The harness (`../fit.ts`) does the rest the same way for all of them: log
 * parameters, optional L2 penalty, Nelder–Mead with restarts, standard errors from the Hessian.
 */

export const MODEL_NAMES = ['bgnbd', 'pnbd', 'mbgnbd', 'gg', 'bgbb', 'sbg'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** Natural (positive) parameters by name, e.g. `{ r, alpha, a, b }`. */
export type Params = Record<string, number>;

/** A log-likelihood prepared once for one data set; evaluated hundreds of times by the optimiser. */
export interface PreparedLikelihood {
  /** Σ wᵢ ln Lᵢ at natural parameters in `ModelSpec.params` order. */
  evaluate(theta: readonly number[]): number;
  /** Σ wᵢ: customers (or cohort members) behind the data. */
  weight: number;
  /** Distinct rows the likelihood loops over. */
  size: number;
  /** A systematic sample of at most `limit` rows, for a cheap first fit when `size` is very large. */
  thin?(limit: number): PreparedLikelihood;
}

export interface ModelSpec<D> {
  name: ModelName;
  title: string;
  /** Natural parameter names, in the order `evaluate` takes them. */
  params: readonly string[];
  /** Natural start values; the optimiser starts at their logs. */
  start: readonly number[];
  /** More starts tried besides `start` (surfaces with ridges, e.g. Pareto/NBD). */
  extraStarts?: readonly (readonly number[])[];
  prepare(data: D): PreparedLikelihood;
}

export function toParams(names: readonly string[], theta: readonly number[]): Params {
  return Object.fromEntries(names.map((n, i) => [n, theta[i]!]));
}

/**
 * The predictive functions of a transaction model. Every model's conditional expectation factors as
 * E[Y(t) | x, t_x, T] = P(alive | x, t_x, T) × E[Y(t) | alive at T, x, T]: recency only moves P(alive). The
 * second factor is the expensive one (a ₂F₁ series) and depends on (x, T) alone, so callers can share it.
 */
export interface TransactionFunctions<P> {
  pAlive(p: P, x: number, tx: number, T: number): number;
  /** Expected transactions in (T, T + t] of a customer known to be alive at T. */
  expectedIfAlive(p: P, t: number, x: number, T: number): number;
  /** E[X(t)] of a new customer. */
  expected(p: P, t: number): number;
  /** P(X(t) = n) for a new customer. */
  pmf(p: P, n: number, t: number): number;
}

/** E[Y(t) | x, t_x, T] = P(alive) × E[Y(t) | alive]. */
export function conditionalExpected<P>(fn: TransactionFunctions<P>, p: P, t: number, x: number, tx: number, T: number): number {
  return t <= 0 ? 0 : fn.pAlive(p, x, tx, T) * fn.expectedIfAlive(p, t, x, T);
}
