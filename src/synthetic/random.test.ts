/**
 * The seeded randomness: streams depend only on (seed, aspect, index), and the samplers have the mean and
 * variance of their distributions (gamma below and above shape 1, beta, Poisson, exponential), within 5
 * standard errors over 200,000 draws.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, cumulative, mix32, seedKey } from './random.ts';

const N = 200_000;

function moments(draw: () => number): { mean: number; variance: number; fourth: number } {
  let sum = 0;
  const values = new Float64Array(N);
  for (let i = 0; i < N; i++) sum += values[i] = draw();
  const mean = sum / N;
  let m2 = 0;
  let m4 = 0;
  for (const v of values) {
    const d = (v - mean) ** 2;
    m2 += d;
    m4 += d * d;
  }
  return { mean, variance: m2 / (N - 1), fourth: m4 / N };
}

/** Mean and variance within 5 standard errors of the sample statistics. */
function hasMoments(draw: () => number, mean: number, variance: number, what: string): void {
  const m = moments(draw);
  const meanSe = Math.sqrt(variance / N);
  const varianceSe = Math.sqrt((m.fourth - m.variance ** 2) / N);
  assert.ok(Math.abs(m.mean - mean) <= 5 * meanSe, `${what}: mean ${m.mean} vs ${mean}`);
  assert.ok(Math.abs(m.variance - variance) <= 5 * varianceSe, `${what}: variance ${m.variance} vs ${variance}`);
}

const sequence = (rng: Rng, n = 8): number[] => Array.from({ length: n }, () => rng.nextU32());

describe('seeded streams', () => {
  it('depend only on seed, aspect and index', () => {
    const a = new Rng(42, 3);
    const b = new Rng(42, 3);
    const first = sequence(a.reseed(7, 1));
    sequence(b.reseed(8, 1), 100);
    assert.deepEqual(sequence(b.reseed(7, 1)), first, 'draws of other indices in between change nothing');
    assert.notDeepEqual(sequence(a.reseed(8, 1)), first);
    assert.notDeepEqual(sequence(a.reseed(7, 2)), first);
    assert.notDeepEqual(sequence(new Rng(43, 3).reseed(7, 1)), first);
    assert.notDeepEqual(sequence(new Rng(42 + 2 ** 40, 3).reseed(7, 1)), first, 'the high bits of the seed count');
  });

  it('mixes bijectively and draws uniforms strictly inside (0, 1)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 100_000; i++) seen.add(mix32(i));
    assert.equal(seen.size, 100_000);
    assert.notEqual(seedKey(1), seedKey(2 ** 32 + 1));
    const rng = new Rng(1, 1).reseed(0, 0);
    hasMoments(() => rng.uniform(), 0.5, 1 / 12, 'uniform');
    for (let i = 0; i < N; i++) {
      const u = rng.uniform();
      assert.ok(u > 0 && u < 1);
    }
  });
});

describe('samplers', () => {
  const rng = new Rng(2024, 1).reseed(1, 0);

  it('draw Gamma(shape, rate) below and above shape 1 (Marsaglia–Tsang with the boost)', () => {
    for (const [shape, rate] of [[0.243, 4.414], [0.7, 1], [1, 2], [3.74, 15.44], [6.25, 0.25]] as const) {
      hasMoments(() => rng.gamma(shape, rate), shape / rate, shape / rate ** 2, `Gamma(${shape}, ${rate})`);
    }
  });

  it('draw Beta(a, b) as a ratio of gammas', () => {
    for (const [a, b] of [[0.793, 2.426], [2, 5], [0.5, 0.5]] as const) {
      hasMoments(() => rng.beta(a, b), a / (a + b), (a * b) / ((a + b) ** 2 * (a + b + 1)), `Beta(${a}, ${b})`);
    }
  });

  it('draw Poisson and exponential variables', () => {
    for (const mean of [0.3, 1.7, 12, 45]) hasMoments(() => rng.poisson(mean), mean, mean, `Poisson(${mean})`);
    hasMoments(() => rng.exponential(0.055), 1 / 0.055, 1 / 0.055 ** 2, 'Exp(0.055)');
  });

  it('picks indices with cumulative weights', () => {
    const weights = [45, 32, 16, 7];
    const table = cumulative(weights);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < N; i++) counts[rng.pick(table)]!++;
    counts.forEach((count, i) => {
      const p = weights[i]! / 100;
      assert.ok(Math.abs(count / N - p) <= 5 * Math.sqrt((p * (1 - p)) / N), `index ${i}: ${count}`);
    });
  });
});
