/**
 * Customer value over a horizon: discounted expected future transactions × expected spend per transaction
 * (× margin). The horizon is a whole number of steps of an explicit unit (e.g. 12 months), the discount rate is
 * per step, and each step's length is converted into the transaction model's unit, so a weekly model and a
 * monthly horizon combine correctly (lifetimes' `customer_lifetime_value` with the unit carried explicitly).
 */
import { RoundtripError } from '../core/errors.ts';
import type { TransactionModel } from './models/index.ts';
import type { Params } from './models/types.ts';
import { unitsPer, type TimeUnit } from './units.ts';

export interface HorizonOptions {
  /** Whole steps, e.g. 12. */
  horizon: number;
  horizonUnit: TimeUnit;
  /** Per step: 0.01 a month ≈ 12.7 % a year. */
  discountRate: number;
  /** The fitted transaction model's time unit. */
  modelUnit: TimeUnit;
  /** Multiplies spend into profit (default 1 = revenue). */
  margin?: number;
}

export interface CustomerValue {
  /** E[X(horizon) | x, t_x, T], undiscounted. */
  expectedPurchases: number;
  probabilityAlive: number;
  /** Discounted expected purchases: Σₖ ΔE[X]ₖ / (1 + d)ᵏ. */
  discountedPurchases: number;
  /** Expected spend per transaction (E(M | x, m)). */
  expectedSpend: number;
  clv: number;
}

export function checkHorizon(options: HorizonOptions): void {
  if (!Number.isInteger(options.horizon) || options.horizon < 1 || options.horizon > 1200) {
    throw new RoundtripError('RT_CLV_INPUT_INVALID', `The horizon must be a whole number of ${options.horizonUnit}s from 1 to 1200 (got ${options.horizon}).`);
  }
  if (!(options.discountRate >= 0 && options.discountRate < 1)) {
    throw new RoundtripError('RT_CLV_INPUT_INVALID', `The discount rate is per ${options.horizonUnit} and must be in [0, 1) (got ${options.discountRate}).`);
  }
}

/** Step length of the horizon in model time units. */
export function stepLength(options: HorizonOptions): number {
  return unitsPer(options.horizonUnit, options.modelUnit);
}

/** Undiscounted and discounted expected purchases over the horizon of a customer known to be alive at T. */
export interface AliveHorizon {
  expected: number;
  discounted: number;
}

/**
 * The horizon sums of E[Y(t) | alive, x, T] — the costly part of a prediction (one ₂F₁ series per step), which
 * depends on (x, T) only, so it is computed once per distinct (x, T).
 */
export function aliveHorizon(model: TransactionModel, params: Params, x: number, T: number, options: HorizonOptions): AliveHorizon {
  const step = stepLength(options);
  let previous = 0;
  let discounted = 0;
  for (let k = 1; k <= options.horizon; k++) {
    const cumulative = model.fn.expectedIfAlive(params, k * step, x, T);
    discounted += (cumulative - previous) / Math.pow(1 + options.discountRate, k);
    previous = cumulative;
  }
  return { expected: previous, discounted };
}

/** Value of one customer (x, t_x, T) whose expected spend per transaction is `expectedSpend`. */
export function customerValue(
  model: TransactionModel,
  params: Params,
  x: number,
  tx: number,
  T: number,
  expectedSpend: number,
  options: HorizonOptions,
  alive: AliveHorizon = aliveHorizon(model, params, x, T, options),
): CustomerValue {
  const probabilityAlive = model.fn.pAlive(params, x, tx, T);
  const discountedPurchases = probabilityAlive * alive.discounted;
  return {
    expectedPurchases: probabilityAlive * alive.expected,
    probabilityAlive,
    discountedPurchases,
    expectedSpend,
    clv: (options.margin ?? 1) * expectedSpend * discountedPurchases,
  };
}

/**
 * The composition of `customerValue` over SQL columns p_alive, expected_if_alive, discounted_if_alive and
 * expected_spend (what `predictions.ts` computes per distinct input): the same products, per customer row.
 */
export function valueColumnsSql(margin: number): string {
  return [
    'p_alive * expected_if_alive AS expected_purchases',
    'p_alive',
    'expected_spend',
    'p_alive * discounted_if_alive AS discounted_purchases',
    `CAST(${Number(margin)} AS DOUBLE) * expected_spend * p_alive * discounted_if_alive AS clv`,
  ].join(', ');
}
