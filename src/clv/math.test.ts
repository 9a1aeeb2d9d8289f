/**
 * The hand-written numerics: lgamma and friends against known values, ₂F₁ against closed forms and its own
 * Euler transform, the singular points the models divide by zero at, the χ² tail, and the optimiser.
 */
import assert from 'node:assert/strict';
import { Rng } from '../synthetic/random.ts';
import { describe, it } from 'node:test';
import { rfmData, thinRows } from './data.ts';
import { fitModel } from './fit.ts';
import { hessian, invertPositiveDefinite, minimize } from './math/optimize.ts';
import {
  bgExpectationBracket,
  chiSquareSurvival,
  expit,
  expm1OverK,
  hyp2f1,
  lbeta,
  lgamma,
  log2f1,
  log2f1One,
  logAddExp,
  logSubExp,
  nbdUpperTail,
} from './math/special.ts';
import { bgnbd } from './models/bg-family.ts';
import { bgbb } from './models/discrete.ts';
import { TRANSACTION_MODELS } from './models/index.ts';
import { pnbd } from './models/pnbd.ts';
import { near } from './testing.ts';

describe('special functions', () => {
  it('lgamma matches known values, including small and large arguments', () => {
    near(lgamma(1), 0, 1e-14, 'lnΓ(1)');
    near(lgamma(2), 0, 1e-14, 'lnΓ(2)');
    near(lgamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-14, 'lnΓ(1/2)');
    near(lgamma(10), Math.log(362880), 1e-12, 'lnΓ(10)');
    near(lgamma(0.25), Math.log(3.625609908221908), 1e-13, 'lnΓ(1/4)');
    near(lgamma(1 / 3), Math.log(2.678938534707747), 1e-13, 'lnΓ(1/3)');
    near(lgamma(171.5), 171 * Math.log(171.5) - 171.5 + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * 171.5), 1e-8, 'lnΓ(171.5) (Γ itself overflows)');
    near(lgamma(1e6), 1e6 * Math.log(1e6) - 1e6 - 0.5 * Math.log(1e6) + 0.5 * Math.log(2 * Math.PI) + 1 / 12e6, 1e-6, 'Stirling at 1e6');
    near(lbeta(2, 3), Math.log(1 / 12), 1e-14, 'ln B(2, 3)');
  });

  it('log-space helpers do not overflow and are exact at their edges', () => {
    near(logAddExp(1000, 1000), 1000 + Math.LN2, 1e-12, 'logAddExp');
    assert.equal(logAddExp(-Infinity, 3), 3);
    assert.equal(logSubExp(5, 5), -Infinity);
    near(logSubExp(0, -1e-12), Math.log(1e-12), 1e-6, 'logSubExp of near-equal terms keeps its digits');
    assert.equal(expit(-800), 0);
    assert.equal(expit(800), 1);
    near(expm1OverK(0, 2.5), 2.5, 0, 'k = 0 limit');
    near(expm1OverK(1e-9, 2.5), 2.5, 1e-8, 'k → 0 continuity');
  });

  it('₂F₁ matches closed forms, and the Euler transform agrees with the direct series', () => {
    // ₂F₁(1, 1; 2; z) = −ln(1 − z)/z; ₂F₁(a, b; b; z) = (1 − z)^(−a).
    for (const z of [0.1, 0.5, 0.9, 0.99]) {
      near(hyp2f1(1, 1, 2, z), -Math.log1p(-z) / z, 1e-12, `₂F₁(1,1;2;${z})`);
      near(log2f1(2.5, 1.3, 1.3, z), -2.5 * Math.log1p(-z), 1e-10, `₂F₁(2.5,1.3;1.3;${z})`);
      near(Math.exp(log2f1One(1, 2, z)), -Math.log1p(-z) / z, 1e-12, `₂F₁(1,1;2;${z}) one-series`);
    }
    const [a, b, c, z] = [0.3, 2.4, 3.1, 0.93];
    near(log2f1(a, b, c, z), (c - a - b) * Math.log1p(-z) + log2f1(c - a, c - b, c, z), 1e-10, 'Euler transform identity');
    assert.ok(Number.isFinite(log2f1(800.5, 800.2, 801.5, 0.8)), 'rescaled series does not overflow');
  });

  it('the BG/NBD bracket is continuous through a = 1', () => {
    const left = bgExpectationBracket(1 - 1e-7, 1.7, 2.5, 0.6);
    const at = bgExpectationBracket(1, 1.7, 2.5, 0.6);
    const right = bgExpectationBracket(1 + 1e-7, 1.7, 2.5, 0.6);
    near(at, (left + right) / 2, 1e-6, 'a = 1');
    const p = { r: 0.25, alpha: 4, a: 1, b: 2.5 };
    assert.ok(Number.isFinite(bgnbd.expected(p, 39)) && bgnbd.expected(p, 39) > 0, 'E[X(t)] at a = 1');
  });

  it('Pareto/NBD at s = 1 and BG/BB at γ = 1 take their limits', () => {
    const p = { r: 0.5, alpha: 10, s: 1, beta: 12 };
    near(pnbd.expected(p, 20), ((0.5 * 12) / 10) * Math.log((12 + 20) / 12), 1e-12, 'E[X(t)] at s = 1');
    const q = { alpha: 1.2, beta: 0.75, gamma: 1, delta: 2.8 };
    const near1 = (g: number) => bgbb.expected({ ...q, gamma: g }, 6);
    near(near1(1), (near1(1 - 1e-4) + near1(1 + 1e-4)) / 2, 1e-6, 'E[X(n)] at γ = 1');
  });

  it('NBD tail keeps tiny probabilities and the χ² tail is right', () => {
    const stay = Math.log(4.414 / 6.414);
    const go = Math.log(2 / 6.414);
    let lower = 0;
    for (let j = 0; j < 3; j++) lower += Math.exp(lgamma(0.243 + j) - lgamma(0.243) - lgamma(j + 1) + 0.243 * stay + j * go);
    near(nbdUpperTail(0.243, stay, go, 3), 1 - lower, 1e-14, 'P(N ≥ 3)');
    assert.ok(nbdUpperTail(0.243, stay, go, 40) > 0, 'far tail is positive, not 1 − 1');
    near(chiSquareSurvival(4.82, 3), 0.1855, 1e-3, 'χ²₃ = 4.82');
    near(chiSquareSurvival(3.841459, 1), 0.05, 1e-6, 'χ²₁ 95 %');
  });
});

describe('optimiser and fit harness', () => {
  it('Nelder–Mead with restarts finds the Rosenbrock minimum', () => {
    const rosenbrock = (v: readonly number[]) => (1 - v[0]!) ** 2 + 100 * (v[1]! - v[0]! ** 2) ** 2;
    const result = minimize(rosenbrock, [-1.2, 1]);
    near(result.x[0]!, 1, 1e-5, 'x');
    near(result.x[1]!, 1, 1e-5, 'y');
    assert.ok(result.converged);
  });

  it('inverts the Hessian of a quadratic', () => {
    const H = hessian((v) => 2 * v[0]! ** 2 + v[0]! * v[1]! + v[1]! ** 2, [0.3, -0.2]);
    const inverse = invertPositiveDefinite(H)!;
    near(inverse[0]![0]!, 2 / 7, 1e-6, 'H⁻¹₀₀');
    near(inverse[0]![1]!, -1 / 7, 1e-6, 'H⁻¹₀₁');
    assert.equal(invertPositiveDefinite([[1, 2], [2, 1]]), undefined, 'not positive definite');
  });

  it('recovers BG/NBD parameters from data simulated by the model, with and without the sampled first pass', () => {
    const truth = { r: 0.5, alpha: 5, a: 0.7, b: 2.5 };
    const rows = simulateBgNbd(truth, 20_000, 7);
    const data = rfmData(rows);
    const direct = fitModel(TRANSACTION_MODELS.bgnbd.spec, data);
    const sampled = fitModel(TRANSACTION_MODELS.bgnbd.spec, data, { sampleAbove: 1000 });
    for (const name of ['r', 'alpha', 'a', 'b']) {
      near(sampled.params[name]!, direct.params[name]!, 1e-3 * direct.params[name]!, `sampled pass ends at the full-data optimum (${name})`);
      near(direct.params[name]!, truth[name as keyof typeof truth], 4 * direct.standardErrors[name]!, `${name} within 4 standard errors`);
    }
    assert.equal(thinRows(data, 1000).w.reduce((s, w) => s + w, 0) >= data.w.reduce((s, w) => s + w, 0) * 0.9, true, 'thinned weights represent everyone');
  });

  it('the L2 penalizer shrinks the parameters', () => {
    const data = rfmData(simulateBgNbd({ r: 0.5, alpha: 5, a: 0.7, b: 2.5 }, 3000, 11));
    const plain = fitModel(TRANSACTION_MODELS.bgnbd.spec, data, { skipStandardErrors: true });
    const penalised = fitModel(TRANSACTION_MODELS.bgnbd.spec, data, { penalizer: 0.01, skipStandardErrors: true });
    assert.ok(penalised.params.alpha! < plain.params.alpha!, 'α shrinks');
    assert.ok(penalised.logLikelihood < plain.logLikelihood, 'at a lower likelihood');
  });
});

/** A small deterministic BG/NBD simulation (the synthetic brand's seeded Rng), T uniform in (10, 60) weeks. */
function simulateBgNbd(p: { r: number; alpha: number; a: number; b: number }, customers: number, seed: number) {
  const rng = new Rng(seed, 1).reseed(0, 0);
  const uniform = () => rng.uniform();
  const gamma = (shape: number) => rng.gamma(shape, 1);
  return Array.from({ length: customers }, () => {
    const lambda = gamma(p.r) / p.alpha;
    const x1 = gamma(p.a);
    const drop = x1 / (x1 + gamma(p.b));
    const T = 10 + 50 * uniform();
    let t = 0;
    let x = 0;
    let tx = 0;
    for (;;) {
      t += -Math.log(uniform()) / lambda;
      if (t > T) break;
      x++;
      tx = t;
      if (uniform() < drop) break;
    }
    return { x, tx, T };
  });
}
