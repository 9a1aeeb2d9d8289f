/**
 * The inputs of the CLV models, in the shape the likelihoods want: columns of numbers, identical rows merged
 * into one with a weight (`reference/clv-science.md` §1: CDNOW's 2,357 customers are 1,016 distinct
 * (x, t_x, T) rows, the 11,104 donors 22), and the checks that catch a wrongly built summary before it biases
 * a fit silently (§9.7).
 */
import { RoundtripError } from '../core/errors.ts';

/** Non-contractual summary: repeat purchases x, recency t_x and age T (for BG/BB: n opportunities), with weights. */
export interface RfmData {
  x: Float64Array;
  tx: Float64Array;
  T: Float64Array;
  w: Float64Array;
}

/** Gamma-Gamma input: repeat purchases x ≥ 1 and the mean value m > 0 of those repeat purchases. */
export interface SpendData {
  x: Float64Array;
  m: Float64Array;
  w: Float64Array;
}

/** Contractual cohort: `alive[t]` customers still active at the start of period t (`alive[0]` = cohort size). */
export interface SurvivalData {
  alive: number[];
}

export interface RfmRow {
  x: number;
  tx: number;
  T: number;
  /** How many customers have this row (1 when not compressed). */
  w?: number;
}

export interface SpendRow {
  x: number;
  m: number;
  w?: number;
}

function invalid(message: string, details?: unknown): RoundtripError {
  return new RoundtripError('RT_CLV_INPUT_INVALID', message, details);
}

/** Checks one summary row the way lifetimes' `_check_inputs` does; `discrete` = BG/BB (integers, t_x ≤ n). */
function checkRfmRow(row: RfmRow, index: number, discrete = false): void {
  const { x, tx, T } = row;
  const at = `row ${index + 1}`;
  if (!Number.isInteger(x) || x < 0) throw invalid(`${at}: frequency ${x} must be a whole number ≥ 0 (repeat purchase periods).`);
  if (!(tx >= 0) || !(T >= 0) || !Number.isFinite(T)) throw invalid(`${at}: recency ${tx} and age ${T} must be finite numbers ≥ 0.`);
  if (tx > T + 1e-9) throw invalid(`${at}: recency ${tx} is after the end of the window (age ${T}); recency is first-to-last purchase, not time since the last one.`);
  if (x === 0 && tx !== 0) throw invalid(`${at}: recency must be 0 when frequency is 0 (got ${tx}).`);
  if (x > 0 && tx <= 0 && !discrete) throw invalid(`${at}: a customer with ${x} repeat purchases has recency 0; repeat purchases in the first period are merged with it.`);
  if (discrete && (!Number.isInteger(tx) || !Number.isInteger(T) || x > tx || x > T)) {
    throw invalid(`${at}: BG/BB needs whole periods with frequency ≤ recency ≤ opportunities (got ${x}, ${tx}, ${T}).`);
  }
}

/**
 * Merges identical (x, t_x, T) rows into weighted patterns after checking each row; `distinct` says the rows
 * are already distinct (grouped in SQL), so they are only checked.
 */
export function rfmData(rows: readonly RfmRow[], options: { discrete?: boolean; distinct?: boolean } = {}): RfmData {
  const merged = new Map<string, { x: number; tx: number; T: number; w: number }>();
  const list: { x: number; tx: number; T: number; w: number }[] = [];
  rows.forEach((row, i) => {
    checkRfmRow(row, i, options.discrete);
    const w = row.w ?? 1;
    if (!(w > 0)) throw invalid(`row ${i + 1}: weight ${w} must be positive.`);
    if (options.distinct) {
      list.push({ x: row.x, tx: row.tx, T: row.T, w });
      return;
    }
    const key = `${row.x}|${row.tx}|${row.T}`;
    const found = merged.get(key);
    if (found) found.w += w;
    else merged.set(key, { x: row.x, tx: row.tx, T: row.T, w });
  });
  if (!options.distinct) for (const row of merged.values()) list.push(row);
  if (list.length === 0) throw invalid('The summary has no customers.');
  return {
    x: Float64Array.from(list, (r) => r.x),
    tx: Float64Array.from(list, (r) => r.tx),
    T: Float64Array.from(list, (r) => r.T),
    w: Float64Array.from(list, (r) => r.w),
  };
}

/** Gamma-Gamma input from rows: keeps x ≥ 1 and m > 0 (zero or negative means would bias the fit, §9.7). */
export function spendData(rows: readonly SpendRow[]): SpendData {
  const kept = rows.filter((r) => r.x >= 1 && r.m > 0 && Number.isFinite(r.m));
  if (kept.length === 0) throw invalid('Gamma-Gamma needs customers with at least one repeat purchase and a positive mean repeat value; there are none.');
  return {
    x: Float64Array.from(kept, (r) => r.x),
    m: Float64Array.from(kept, (r) => r.m),
    w: Float64Array.from(kept, (r) => r.w ?? 1),
  };
}

/** A survival curve as counts: alive[0] ≥ alive[1] ≥ … ≥ 0. Percentages work too (the fit is the same). */
export function survivalData(alive: readonly number[]): SurvivalData {
  if (alive.length < 2) throw invalid('A retention curve needs the cohort size and at least one later period.');
  for (let t = 0; t < alive.length; t++) {
    const v = alive[t]!;
    if (!(v >= 0) || (t > 0 && v > alive[t - 1]! + 1e-9)) throw invalid(`Period ${t}: alive ${v} must be ≥ 0 and not above the period before (${alive[t - 1] ?? '-'}).`);
  }
  return { alive: [...alive] };
}

/** Sum of weights: the number of customers behind the patterns. */
export function totalWeight(w: Float64Array): number {
  let s = 0;
  for (const v of w) s += v;
  return s;
}

/** Distinct values of a column and, per row, the index of its value: lets a likelihood take one log per value. */
export function uniqueIndex(values: Float64Array): { values: Float64Array; index: Uint32Array } {
  const positions = new Map<number, number>();
  const index = new Uint32Array(values.length);
  const distinct: number[] = [];
  values.forEach((v, i) => {
    let at = positions.get(v);
    if (at === undefined) {
      at = distinct.length;
      positions.set(v, at);
      distinct.push(v);
    }
    index[i] = at;
  });
  return { values: Float64Array.from(distinct), index };
}

/**
 * Every k-th row, its weight multiplied by k: a representative start for fits on very many patterns (rows come
 * sorted from SQL, so a systematic sample spreads over the whole range of every column).
 */
export function thinRows<T extends { w: Float64Array }>(data: T, limit: number): T {
  const n = data.w.length;
  const stride = Math.ceil(n / limit);
  if (stride <= 1) return data;
  const out = { ...data };
  for (const key of Object.keys(data) as (keyof T)[]) {
    const column = data[key];
    if (!(column instanceof Float64Array)) continue;
    const thinned = new Float64Array(Math.ceil(n / stride));
    for (let i = 0, j = 0; i < n; i += stride, j++) thinned[j] = key === 'w' ? column[i]! * stride : column[i]!;
    out[key] = thinned as T[keyof T];
  }
  return out;
}
