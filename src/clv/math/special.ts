/**
 * Special functions the CLV models need, written for log space (`reference/clv-science.md` §8–9): JavaScript
 * has no lgamma, no Gauss ₂F₁ and no incomplete gamma. Every likelihood is a sum of logs of products of Γ and
 * B functions, so Γ itself is never formed (it overflows at x ≈ 171); sums of two terms go through log-sum-exp.
 */

const LANCZOS_G = 7;
/** Lanczos coefficients for g = 7, n = 9: about 15 significant digits of Γ for positive arguments. */
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (reflection below 1/2 keeps small shape parameters accurate). */
export function lgamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
  const y = x - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i]! / (y + i);
  const t = y + LANCZOS_G + 0.5;
  return HALF_LOG_2PI + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln B(a, b) = lnΓ(a) + lnΓ(b) − lnΓ(a + b). */
export function lbeta(a: number, b: number): number {
  return lgamma(a) + lgamma(b) - lgamma(a + b);
}

/** ln x! */
export function lfactorial(n: number): number {
  return lgamma(n + 1);
}

/** ln(eᵃ + eᵇ) without overflow; −∞ terms drop out. */
export function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** ln Σ eˣⁱ. */
export function logSumExp(values: readonly number[]): number {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  if (max === -Infinity || !Number.isFinite(max)) return max;
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  return max + Math.log(sum);
}

/** ln(eᵃ − eᵇ) for a ≥ b, as a + ln(1 − e^{b−a}); −∞ when they are equal. */
export function logSubExp(a: number, b: number): number {
  if (b === -Infinity) return a;
  const d = b - a;
  if (d >= 0) return -Infinity;
  // log1p(−eᵈ) loses digits when eᵈ is near 1; log(−expm1(d)) does not.
  return a + (d > -Math.LN2 ? Math.log(-Math.expm1(d)) : Math.log1p(-Math.exp(d)));
}

/** 1 / (1 + e⁻ˣ), never overflowing: P(alive) as expit(−log ratio). */
export function expit(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * (e^{kL} − 1) / k, continuous at k = 0 (where it is L). This is the shape every "(1 − ratio^k)/k" term of the
 * models takes, and it is why a = 1 (BG/NBD), s = 1 (Pareto/NBD) and γ = 1 (BG/BB) need no special case.
 */
export function expm1OverK(k: number, L: number): number {
  const kl = k * L;
  if (Math.abs(kl) < 1e-10) return L * (1 + kl / 2);
  return Math.expm1(kl) / k;
}

/** How many series terms any ₂F₁ here may add before it stops (only reached with z extremely close to 1). */
const SERIES_TERM_CAP = 200_000;
const SERIES_EPS = 1e-17;

/**
 * ln ₂F₁(a, b; c; z) for 0 ≤ z < 1 when every term is positive (a, b, c > 0), by the power series with
 * rescaling, so a sum like (1 − z)^{−(r+x)} with x in the hundreds does not overflow. When z > 1/2 and the
 * Euler transform ₂F₁(a,b;c;z) = (1−z)^{c−a−b} ₂F₁(c−a, c−b; c; z) has smaller positive parameters, that form
 * is summed instead: its terms start small rather than climbing for hundreds of steps.
 */
export function log2f1(a: number, b: number, c: number, z: number): number {
  if (!(z >= 0 && z < 1)) return Number.NaN;
  if (z === 0) return 0;
  const ea = c - a;
  const eb = c - b;
  if (z > 0.5 && ea > 0 && eb > 0 && ea + eb < a + b) return (c - a - b) * Math.log1p(-z) + logPositiveSeries(ea, eb, c, z);
  return logPositiveSeries(a, b, c, z);
}

/** ₂F₁(a, b; c; z) for 0 ≤ z < 1 and positive parameters. */
export function hyp2f1(a: number, b: number, c: number, z: number): number {
  return Math.exp(log2f1(a, b, c, z));
}

/** ln Σₙ (a)ₙ(b)ₙ/((c)ₙ n!) zⁿ with positive terms; rescales when the partial sum grows large. */
function logPositiveSeries(a: number, b: number, c: number, z: number): number {
  let term = 1;
  let sum = 1;
  let logScale = 0;
  for (let n = 0; n < SERIES_TERM_CAP; n++) {
    term *= ((a + n) * (b + n) * z) / ((c + n) * (n + 1));
    sum += term;
    if (term <= SERIES_EPS * sum) break;
    if (sum > 1e280) {
      sum *= 1e-280;
      term *= 1e-280;
      logScale += 280 * Math.LN10;
    }
  }
  return logScale + Math.log(sum);
}

/**
 * ln ₂F₁(1, b; c; z) for 0 ≤ z < 1 and 0 < b < c: the Euler-transformed Pareto/NBD hypergeometric. Each term is
 * the one before times (b + n) z / (c + n) < z, so it shrinks from the start and needs no rescaling.
 */
export function log2f1One(b: number, c: number, z: number): number {
  if (z === 0) return 0;
  let term = 1;
  let sum = 1;
  for (let n = 0; n < SERIES_TERM_CAP; n++) {
    term *= ((b + n) * z) / (c + n);
    sum += term;
    if (term <= SERIES_EPS * sum) break;
  }
  return Math.log(sum);
}

/**
 * [1 − (1−z)^{a−1} ₂F₁(A, a−1; c; z)] / (a − 1), the bracket of the BG/NBD and MBG/NBD expectations after the
 * Euler transform ([FH-n027]). With (a−1)ₙ = (a−1)(a)ₙ₋₁ the series is 1 + (a−1)G, so the bracket is
 * −(e^{(a−1)L} − 1)/(a−1) − e^{(a−1)L} G with L = ln(1−z): finite and smooth through a = 1, where the printed
 * formula divides 0 by 0. G's terms fall like zⁿ; A may be negative (then they alternate).
 */
export function bgExpectationBracket(a: number, A: number, c: number, z: number): number {
  if (z <= 0) return 0;
  const L = Math.log1p(-z);
  const k = a - 1;
  let term = (A * z) / c;
  let sum = term;
  for (let n = 1; n < SERIES_TERM_CAP && term !== 0; n++) {
    term *= ((A + n) * (a + n - 1) * z) / ((c + n) * (n + 1));
    sum += term;
    if (Math.abs(term) <= SERIES_EPS * Math.abs(sum)) break;
  }
  return -expm1OverK(k, L) - Math.exp(k * L) * sum;
}

/**
 * P(N ≥ x) for N ~ NBD(r, p) (P(N = j) = Γ(r+j)/(Γ(r) j!) (1−p)^r p^j), the "has made at least x purchases"
 * term of the BG/NBD family's P(X(t) = x). Sums whichever side is smaller, so a tail of 1e-8 keeps its digits.
 */
export function nbdUpperTail(r: number, logOneMinusP: number, logP: number, x: number): number {
  if (x <= 0) return 1;
  let lower = 0;
  let logTerm = r * logOneMinusP;
  for (let j = 0; j < x; j++) {
    lower += Math.exp(logTerm);
    logTerm += Math.log(r + j) - Math.log(j + 1) + logP;
  }
  if (lower < 0.5) return 1 - lower;
  // The tail directly: terms from j = x on, each the one before times (r + j) p / (j + 1).
  let tail = 0;
  let term = Math.exp(logTerm);
  const p = Math.exp(logP);
  for (let j = x; j < x + SERIES_TERM_CAP && term > 0; j++) {
    tail += term;
    if (term <= SERIES_EPS * tail) break;
    term *= ((r + j) * p) / (j + 1);
  }
  return tail;
}

/** Regularised lower incomplete gamma P(a, x) (series below a + 1, continued fraction above). */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  const logPrefix = -x + a * Math.log(x) - lgamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return Math.min(1, sum * Math.exp(logPrefix));
  }
  // Lentz's continued fraction for Q(a, x).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.max(0, 1 - Math.exp(logPrefix) * h);
}

/** Upper tail of the χ² distribution with `df` degrees of freedom: the p-value of a χ² statistic. */
export function chiSquareSurvival(statistic: number, df: number): number {
  if (df <= 0) return Number.NaN;
  return 1 - gammaP(df / 2, statistic / 2);
}

/** Pearson correlation of two equally long series (weights optional); NaN when either is constant. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>, w?: ArrayLike<number>): number {
  let sw = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) {
    const wi = w ? w[i]! : 1;
    sw += wi;
    sa += wi * a[i]!;
    sb += wi * b[i]!;
  }
  const ma = sa / sw;
  const mb = sb / sw;
  let cab = 0;
  let caa = 0;
  let cbb = 0;
  for (let i = 0; i < a.length; i++) {
    const wi = w ? w[i]! : 1;
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    cab += wi * da * db;
    caa += wi * da * da;
    cbb += wi * db * db;
  }
  return cab / Math.sqrt(caa * cbb);
}
