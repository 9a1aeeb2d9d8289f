/**
 * Seeded randomness for the synthetic brand: a 32-bit mixing function, a small fast generator
 * (xoshiro128**) that is re-seeded per (person, aspect), and the samplers the simulation needs (exponential,
 * normal, gamma, beta, Poisson, categorical).
 *
 * Counter-based seeding: the stream of person i for aspect k depends only on (seed, k, i), never on how many
 * draws other people used, so a person's data is the same whatever the part size or the order of generation,
 * and changing how web events are drawn never moves a single transaction.
 */

/** murmur3's 32-bit finaliser: a bijection on uint32 with full avalanche. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Folds a non-negative safe integer seed (up to 2^53 - 1) into 32 bits without losing its high part. */
export function seedKey(seed: number): number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
  return mix32(lo ^ mix32(hi ^ 0x9e3779b9));
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));
const TWO_POW_26 = 67_108_864;
const TWO_POW_53 = 9_007_199_254_740_992;

/**
 * xoshiro128** with counter-based seeding. One instance is re-seeded for every (person, aspect) so the hot loop
 * allocates nothing.
 */
export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  private spareNormal: number | undefined;
  private readonly keys: Uint32Array;

  /** `aspects` = how many independent stream families the caller uses (keys are derived per aspect). */
  constructor(seed: number, aspects: number) {
    const base = seedKey(seed);
    this.keys = new Uint32Array(aspects * 4);
    for (let i = 0; i < this.keys.length; i++) this.keys[i] = mix32(base + Math.imul(i + 1, 0x9e3779b9));
  }

  /**
   * Starts the stream of `index` (< 2^32) in stream family `aspect`. The first state word is a bijection of
   * the index, so two people never share a state.
   */
  reseed(index: number, aspect: number): this {
    const k = aspect * 4;
    this.a = mix32(index ^ this.keys[k]!);
    this.b = mix32(this.a ^ this.keys[k + 1]!);
    this.c = mix32(this.b ^ this.keys[k + 2]!);
    this.d = mix32(this.c ^ this.keys[k + 3]!) | 1;
    this.spareNormal = undefined;
    return this;
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in the open interval (0, 1) with 53 bits, so logs and powers never see 0 or 1. */
  uniform(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * TWO_POW_26 + lo + 0.5) / TWO_POW_53;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.uniform() < p;
  }

  /** Exponential with the given rate. */
  exponential(rate: number): number {
    return -Math.log(this.uniform()) / rate;
  }

  /** Standard normal (Box–Muller, the second value kept for the next call). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const spare = this.spareNormal;
      this.spareNormal = undefined;
      return spare;
    }
    const radius = Math.sqrt(-2 * Math.log(this.uniform()));
    const angle = 2 * Math.PI * this.uniform();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /**
   * Gamma(shape, rate), mean shape/rate. Marsaglia & Tsang (2000) for shape >= 1; below 1 the usual boost
   * Gamma(k) = Gamma(k + 1) · U^(1/k), which BG/NBD's r ≈ 0.24 needs.
   */
  gamma(shape: number, rate: number): number {
    if (shape < 1) return (this.gamma(shape + 1, 1) * Math.pow(this.uniform(), 1 / shape)) / rate;
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return (d * v) / rate;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return (d * v) / rate;
    }
  }

  /** Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
  beta(a: number, b: number): number {
    for (;;) {
      const x = this.gamma(a, 1);
      const y = this.gamma(b, 1);
      // Both can underflow to 0 for tiny shapes; draw again rather than return NaN.
      if (x + y > 0) return x / (x + y);
    }
  }

  /** Poisson(mean): multiplication method below 30, a rounded normal above (only small means are used). */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean >= 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let k = 0;
    let product = this.uniform();
    while (product > limit) {
      k++;
      product *= this.uniform();
    }
    return k;
  }

  /** Index drawn from cumulative weights (the last entry is the total). */
  pick(cumulative: readonly number[]): number {
    const u = this.uniform() * cumulative[cumulative.length - 1]!;
    let i = 0;
    while (i < cumulative.length - 1 && u >= cumulative[i]!) i++;
    return i;
  }
}

/** Running sums of weights, for `Rng.pick`. */
export function cumulative(weights: readonly number[]): number[] {
  let sum = 0;
  return weights.map((w) => (sum += w));
}
