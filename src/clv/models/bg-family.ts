/**
 * BG/NBD (Fader, Hardie & Lee 2005a) and MBG/NBD (Batislam, Denizel & Filiztekin 2007) in one place: the same
 * Poisson–gamma purchases and beta-geometric drop-out, differing only in whether a customer may also drop out
 * right after the first purchase (MBG/NBD). That difference is a shift of one in b's offsets and one
 * "can die at x = 0" switch, so both models share every formula here (`reference/clv-science.md` §2, §4).
 *
 * Everything is in log space; P(alive) is expit of a log ratio, and the expectations use the Euler-transformed
 * ₂F₁ ([FH-n027]) through `bgExpectationBracket`, which is also finite at a = 1.
 */
import type { RfmData } from '../data.ts';
import { uniqueIndex } from '../data.ts';
import { bgExpectationBracket, expit, lbeta, lfactorial, lgamma, logAddExp, nbdUpperTail } from '../math/special.ts';
import type { ModelSpec, PreparedLikelihood, TransactionFunctions } from './types.ts';
import { thinRows, totalWeight } from '../data.ts';

export interface BgParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

/** BG/NBD: shift 0, no drop-out at time 0. MBG/NBD: shift 1, drop-out possible at time 0. */
interface Variant {
  shift: 0 | 1;
}
const BG: Variant = { shift: 0 };
const MBG: Variant = { shift: 1 };

/** Whether the "dropped out after the last purchase" branch exists for a customer with x repeat purchases. */
const canHaveDied = (v: Variant, x: number) => x > 0 || v.shift === 1;

function prepare(v: Variant, data: RfmData): PreparedLikelihood {
  const xs = uniqueIndex(data.x);
  const Ts = uniqueIndex(data.T);
  const txs = uniqueIndex(data.tx);
  const n = data.x.length;
  const perX = new Float64Array(xs.values.length);
  const deathX = new Float64Array(xs.values.length);
  const logT = new Float64Array(Ts.values.length);
  const logTx = new Float64Array(txs.values.length);
  const evaluate = (theta: readonly number[]): number => {
    const [r, alpha, a, b] = theta as [number, number, number, number];
    const head = -lgamma(r) + r * Math.log(alpha) - lbeta(a, b);
    xs.values.forEach((x, k) => {
      perX[k] = lgamma(r + x) + head + lbeta(a, b + x + v.shift);
      deathX[k] = canHaveDied(v, x) ? Math.log(a) - Math.log(b + x - 1 + v.shift) : -Infinity;
    });
    Ts.values.forEach((T, k) => (logT[k] = Math.log(alpha + T)));
    txs.values.forEach((tx, k) => (logTx[k] = Math.log(alpha + tx)));
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const k = xs.index[i]!;
      const rx = r + data.x[i]!;
      const alive = -rx * logT[Ts.index[i]!]!;
      const died = deathX[k]! - rx * logTx[txs.index[i]!]!;
      sum += data.w[i]! * (perX[k]! + logAddExp(alive, died));
    }
    return sum;
  };
  return { evaluate, weight: totalWeight(data.w), size: n, thin: (limit) => prepare(v, thinRows(data, limit)) };
}

/** ln of P(died after the last purchase) / P(alive) odds: the log ratio whose expit is P(alive). */
function logDeathOdds(v: Variant, p: BgParams, x: number, tx: number, T: number): number {
  if (!canHaveDied(v, x)) return -Infinity;
  return Math.log(p.a) - Math.log(p.b + x - 1 + v.shift) + (p.r + x) * (Math.log(p.alpha + T) - Math.log(p.alpha + tx));
}

function pAlive(v: Variant, p: BgParams, x: number, tx: number, T: number): number {
  return expit(-logDeathOdds(v, p, x, tx, T));
}

/** E[X(t)] for a new customer ([FHL05a] eq. 9; BDF07). */
function expected(v: Variant, p: BgParams, t: number): number {
  if (t <= 0) return 0;
  const { r, alpha, a, b } = p;
  const lead = v.shift ? b : a + b - 1;
  return lead * bgExpectationBracket(a, a + b - 1 - r + v.shift, a + b - 1 + v.shift, t / (alpha + t));
}

/** E[Y(t) | alive at T, x, T]: [FHL05a] eq. 10 without its P(alive) factor, in the Euler-transformed form. */
function expectedIfAlive(v: Variant, p: BgParams, t: number, x: number, T: number): number {
  if (t <= 0) return 0;
  const { r, alpha, a, b } = p;
  const c = a + b + x - 1 + v.shift;
  return c * bgExpectationBracket(a, a + b - 1 - r + v.shift, c, t / (alpha + T + t));
}

/** P(X(t) = n) for a new customer ([FHL05a] eq. 8). */
function pmf(v: Variant, p: BgParams, n: number, t: number): number {
  if (t <= 0) return n === 0 ? 1 : 0;
  const { r, alpha, a, b } = p;
  const logStay = Math.log(alpha / (alpha + t));
  const logGo = Math.log(t / (alpha + t));
  const nbd = lgamma(r + n) - lgamma(r) - lfactorial(n) + r * logStay + n * logGo;
  const aliveTerm = Math.exp(lbeta(a, b + n + v.shift) - lbeta(a, b) + nbd);
  if (!canHaveDied(v, n)) return aliveTerm;
  return aliveTerm + Math.exp(lbeta(a + 1, b + n - 1 + v.shift) - lbeta(a, b)) * nbdUpperTail(r, logStay, logGo, n);
}

function spec(v: Variant, name: 'bgnbd' | 'mbgnbd', title: string): ModelSpec<RfmData> {
  return { name, title, params: ['r', 'alpha', 'a', 'b'], start: [1, 3, 1, 3], prepare: (data) => prepare(v, data) };
}

export const bgnbdSpec = spec(BG, 'bgnbd', 'BG/NBD (beta-geometric / negative binomial)');
export const mbgnbdSpec = spec(MBG, 'mbgnbd', 'MBG/NBD (modified BG/NBD: drop-out also possible at time 0)');

const functions = (v: Variant): TransactionFunctions<BgParams> => ({
  pAlive: (p, x, tx, T) => pAlive(v, p, x, tx, T),
  expectedIfAlive: (p, t, x, T) => expectedIfAlive(v, p, t, x, T),
  expected: (p, t) => expected(v, p, t),
  pmf: (p, n, t) => pmf(v, p, n, t),
});

export const bgnbd = functions(BG);
export const mbgnbd = functions(MBG);
