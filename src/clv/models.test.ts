/**
 * Acceptance: every number of `reference/clv-science.md` §0 (and the checks §10 suggests), recomputed from the
 * raw files in `../shared/data/` with the tolerances the sources use. Published values are the papers' (FHL05a,
 * FHL05b, FHS10, FH07), BTYD's walkthrough and man pages, and lifetimes' test asserts.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { rfmData, spendData, survivalData, type RfmData } from './data.ts';
import { calibrationHistogram, cumulativeTracking, holdoutByFrequency, holdoutPredictions, type HoldoutData } from './diagnostics.ts';
import { fitModel, type FitResult } from './fit.ts';
import { correlation } from './math/special.ts';
import { bgnbd, mbgnbd } from './models/bg-family.ts';
import { bgbb, sbg } from './models/discrete.ts';
import { conditionalExpectedSpend, spendFrequencyCorrelation } from './models/gamma-gamma.ts';
import { RETENTION_MODEL, SPEND_MODEL, TRANSACTION_MODELS } from './models/index.ts';
import { pnbd } from './models/pnbd.ts';
import { conditionalExpected, type Params } from './models/types.ts';
import { customerValue } from './value.ts';
import { near, readNumericCsv, SHARED_DATA_SKIP } from './testing.ts';

const BTYD_BGNBD = { r: 0.2425982, alpha: 4.413684, a: 0.7929899, b: 2.426167 };
const PAPER_BGNBD = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
const BTYD_PNBD = { r: 0.5533971, alpha: 10.5801985, s: 0.6060625, beta: 11.6562237 };
const BTYD_BGBB = { alpha: 1.203528, beta: 0.749726, gamma: 0.656781, delta: 2.783796 };

function nearParams(actual: Params, expected: Params, tolerance: number | Params, what: string): void {
  for (const [name, value] of Object.entries(expected)) near(actual[name]!, value, typeof tolerance === 'number' ? tolerance : tolerance[name]!, `${what} ${name}`);
}

describe('CLV models reproduce the published CDNOW, donations and retention numbers', { skip: SHARED_DATA_SKIP }, () => {
  let cbs: Record<string, number>[];
  let full: RfmData;
  let holdout: HoldoutData;
  let bg: FitResult;
  let pn: FitResult;
  let mbg: FitResult;
  const weeks20to25 = [20, 21, 22, 23, 24, 25];

  before(() => {
    cbs = readNumericCsv('cdnow/btyd_cdnowSummary_cbs.csv');
    full = rfmData(cbs.map((c) => ({ x: c.x!, tx: c.t_x!, T: c.T_cal! })));
    const column = (key: string) => Float64Array.from(cbs, (c) => c[key]!);
    holdout = { x: column('x'), tx: column('t_x'), T: column('T_cal'), xStar: column('x_star'), w: new Float64Array(cbs.length).fill(1) };
    bg = fitModel(TRANSACTION_MODELS.bgnbd.spec, full);
    pn = fitModel(TRANSACTION_MODELS.pnbd.spec, full);
    mbg = fitModel(TRANSACTION_MODELS.mbgnbd.spec, full);
  });

  describe('BG/NBD [FHL05a]', () => {
    it('fits r, α, a, b = 0.243, 4.414, 0.793, 2.426 with LL −9582.43 (BTYD full precision)', () => {
      nearParams(bg.params, PAPER_BGNBD, 5e-4, 'paper (3 dp)');
      nearParams(bg.params, BTYD_BGNBD, 1e-3, 'BTYD');
      near(bg.logLikelihood, -9582.429, 0.01, 'LL');
      assert.equal(bg.rows, 1016, '2,357 customers are 1,016 distinct (x, t_x, T) rows');
    });

    it("fits Hardie's 2-dp summary (lifetimes) and gives E[X*(39) | 2, 30.43, 38.86] = 1.226 and E[X(t)]", () => {
      const rows = readNumericCsv('cdnow/cdnow_customers_summary.csv');
      const fit = fitModel(TRANSACTION_MODELS.bgnbd.spec, rfmData(rows.map((r) => ({ x: r.frequency!, tx: r.recency!, T: r.T! }))));
      nearParams(fit.params, { r: 0.2426, alpha: 4.4135, a: 0.7929, b: 2.4258 }, 1e-3, '2-dp fit');
      near(fit.logLikelihood, -9582.426, 0.01, 'LL');
      near(conditionalExpected(bgnbd, fit.params as never, 39, 2, 30.43, 38.86), 1.226, 0.001, 'Hardie conditional expectation');
      const published = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576];
      [0.1429, 1, 3, 31.8571, 32, 78].forEach((t, i) => near(bgnbd.expected(fit.params as never, t), published[i]!, 1.5e-3, `E[X(${t})] (lifetimes decimal=3)`));
    });

    it("gives BTYD's walkthrough values: E[X(52)], customer 1516's E[X*(52)] and P(alive)", () => {
      near(bgnbd.expected(BTYD_BGNBD, 52), 1.444004, 1e-4, 'E[X(52)]');
      near(conditionalExpected(bgnbd, BTYD_BGNBD, 52, 26, 30.85714, 31), 25.75659, 0.005, 'customer 1516 E[X*(52)]');
      near(bgnbd.pAlive(BTYD_BGNBD, 26, 30.85714, 31), 0.9688523, 1e-5, 'customer 1516 P(alive)');
      const paradox = [0.3474606, 0.04283391, 0.004158973, 0.0003583685];
      [10, 15, 20, 25].forEach((x, i) => near(conditionalExpected(bgnbd, BTYD_BGNBD, 52, x, 20, 39) / paradox[i]!, 1, 2e-3, `increasing-frequency paradox x=${x} (relative)`));
    });

    it('gives the PMF lifetimes asserts "same as R BTYD"', () => {
      near(bgnbd.pmf(PAPER_BGNBD, 10, 2) / 1.07869e-7, 1, 1e-4, 'P(X(2)=10) relative');
      near(bgnbd.pmf(PAPER_BGNBD, 0, 39), 0.5737864, 1e-6, 'P(X(39)=0)');
      const p30 = [0.0019995214, 0.0015170236, 0.001163315, 0.0009003148, 0.0007023638, 0.0005517902, 0.0004361913, 0.0003467171, 0.0002769613, 0.000222226];
      p30.forEach((p, i) => near(bgnbd.pmf(PAPER_BGNBD, 11 + i, 30), p, 1.5e-5, `P(X(30)=${11 + i})`));
    });

    it('keeps P(alive) finite and exact at the edges', () => {
      assert.equal(bgnbd.pAlive(PAPER_BGNBD, 0, 0, 38.86), 1, 'BG/NBD: no repeat purchase means alive');
      const extreme = bgnbd.pAlive(PAPER_BGNBD, 1000, 10, 100);
      assert.ok(Number.isFinite(extreme) && extreme < 1e-300, `P(alive | 1000, 10, 100) = ${extreme}`);
      assert.ok(Number.isFinite(conditionalExpected(bgnbd, PAPER_BGNBD, 1000, 5000, 900, 1000)), 'huge x and horizon stay finite');
    });

    it('matches the calibration histogram (χ²₃ = 4.82) and the holdout (Σ 1653.4 of 1882, corr 0.626)', () => {
      const histogram = calibrationHistogram(TRANSACTION_MODELS.bgnbd, bg.params, full);
      [1407.7, 460.3, 192.5, 101.2, 59.8, 38.1, 25.5, 71.9].forEach((e, k) => near(histogram.bins[k]!.expected, e, 0.06, `expected customers with ${histogram.bins[k]!.frequency}`));
      assert.deepEqual(histogram.bins.map((b) => b.actual), [1411, 439, 214, 100, 62, 38, 29, 64]);
      near(histogram.chiSquare, 4.82, 0.005, 'χ²');
      assert.equal(histogram.degreesOfFreedom, 3);
      const fitted = holdoutByFrequency(TRANSACTION_MODELS.bgnbd, bg.params, holdout, 39);
      assert.equal(fitted.actualTotal, 1882);
      near(fitted.predictedTotal, 1653.4, 0.5, 'Σ E[X*]');
      [0.2251, 0.5231, 1.0441, 1.5203, 2.1638, 2.6538, 3.504, 6.157].forEach((e, k) => near(fitted.bins[k]!.predictedMean, e, 5e-4, `holdout bin ${k} predicted`));
      [0.2367, 0.697, 1.3925, 1.56, 2.5323, 2.9474, 3.8621, 6.3594].forEach((a, k) => near(fitted.bins[k]!.actualMean, a, 5e-5, `holdout bin ${k} actual`));
      near(fitted.correlation, 0.626, 5e-4, 'corr(predicted, actual x*)');
    });

    it("tracks cumulative repeat purchases as BTYD does (weeks 20–25) and under-forecasts week 78 by 4 %", () => {
      const actual = readNumericCsv('cdnow/btyd_cdnowSummary_cu_tracking.csv').map((r) => r.cum_repeat_transactions!);
      const points = cumulativeTracking(TRANSACTION_MODELS.bgnbd, BTYD_BGNBD, full, Array.from({ length: 78 }, (_, i) => i + 1), actual);
      [1312.458, 1387.346, 1460.392, 1531.713, 1601.418, 1669.6].forEach((e, i) => near(points[weeks20to25[i]! - 1]!.expected, e, 0.5, `week ${weeks20to25[i]}`));
      assert.deepEqual(weeks20to25.map((w) => points[w - 1]!.actual), [1359, 1414, 1484, 1517, 1573, 1672]);
      const fittedEnd = cumulativeTracking(TRANSACTION_MODELS.bgnbd, bg.params, full, [78])[0]!.expected;
      near(fittedEnd, 4165.7, 0.5, 'week 78');
      near((fittedEnd - 4339) / 4339, -0.04, 0.001, 'week-78 error');
    });
  });

  describe('Pareto/NBD [SMC87, FHL05a]', () => {
    it('fits r, α, s, β = 0.553, 10.578, 0.606, 11.669 with LL −9595.0 (BTYD −9594.976)', () => {
      nearParams(pn.params, { r: 0.553, alpha: 10.578, s: 0.606, beta: 11.669 }, { r: 5e-4, alpha: 5e-3, s: 5e-4, beta: 0.02 }, 'paper');
      nearParams(pn.params, { r: 0.5534, alpha: 10.578, s: 0.6061, beta: 11.66 }, { r: 2e-3, alpha: 2e-3 * 10.578, s: 2e-3, beta: 0.02 }, '§10');
      near(pn.logLikelihood, -9594.976, 0.01, 'LL');
    });

    it("gives BTYD's P(alive), customer 1516 and E[X(52)]; lifetimes' underflow guard", () => {
      near(pnbd.pAlive(BTYD_PNBD, 0, 0, 39), 0.2941633, 1e-6, 'P(alive | 0, 0, 39)');
      near(conditionalExpected(pnbd, BTYD_PNBD, 52, 26, 30.85714, 31), 25.45647, 0.005, 'customer 1516 E[X*(52)]');
      near(pnbd.pAlive(BTYD_PNBD, 26, 30.85714, 31), 0.997874, 1e-5, 'customer 1516 P(alive)');
      near(pnbd.expected(BTYD_PNBD, 52), 1.473434, 5e-4, 'E[X(52)]');
      const lt = { r: 0.55, alpha: 10.58, s: 0.61, beta: 11.67 };
      const e132 = conditionalExpected(pnbd, lt, 10, 132, 200, 200);
      const e133 = conditionalExpected(pnbd, lt, 10, 133, 200, 200);
      assert.ok(Math.abs(e132 - e133) < 0.05 && Number.isFinite(e132), `E[X(10) | 132/133, 200, 200] = ${e132}, ${e133}`);
      [0, 0.0508, 0.0992, 0.1454, 0.1898, 0.2325, 0.2736, 0.3134, 0.3518, 0.3891].forEach((e, t) => near(pnbd.expected(BTYD_PNBD, t), e, 0.01, `E[X(${t})]`));
      const paradox = [0.7062289, 0.1442396, 0.02250658, 0.00309267];
      [10, 15, 20, 25].forEach((x, i) => near(conditionalExpected(pnbd, BTYD_PNBD, 52, x, 20, 39) / paradox[i]!, 1, 1e-3, `paradox x=${x} (relative)`));
    });

    it('matches the holdout (Σ 1665.4, corr 0.630, corr with BG/NBD 0.996) and tracking (week 78 −1.5 %)', () => {
      const fitted = holdoutByFrequency(TRANSACTION_MODELS.pnbd, pn.params, holdout, 39);
      near(fitted.predictedTotal, 1665.4, 0.5, 'Σ E[X*]');
      [0.138, 0.6, 1.196, 1.714, 2.399, 2.907, 3.819, 6.403].forEach((e, k) => near(fitted.bins[k]!.predictedMean, e, 1e-3, `bin ${k}`));
      near(fitted.correlation, 0.63, 5e-4, 'corr(predicted, actual)');
      const both = correlation(holdoutPredictions(TRANSACTION_MODELS.bgnbd, bg.params, holdout, 39), holdoutPredictions(TRANSACTION_MODELS.pnbd, pn.params, holdout, 39));
      near(both, 0.996, 5e-4, 'corr(BG/NBD, Pareto/NBD)');
      const points = cumulativeTracking(TRANSACTION_MODELS.pnbd, BTYD_PNBD, full, weeks20to25);
      [1308.856, 1385.275, 1459.923, 1532.906, 1604.32, 1674.253].forEach((e, i) => near(points[i]!.expected, e, 0.5, `week ${weeks20to25[i]}`));
      near(cumulativeTracking(TRANSACTION_MODELS.pnbd, BTYD_PNBD, full, [78])[0]!.expected, 4274.4, 0.5, 'week 78 at BTYD parameters');
      const end = cumulativeTracking(TRANSACTION_MODELS.pnbd, pn.params, full, [78])[0]!.expected;
      near((end - 4339) / 4339, -0.015, 0.001, 'week-78 error of our fit');
    });

    it('has a P(X(t) = x) that sums to one', () => {
      let total = 0;
      for (let n = 0; n < 60; n++) total += pnbd.pmf(BTYD_PNBD, n, 39);
      near(total, 1, 1e-6, 'Σₙ P(X(39) = n)');
    });
  });

  describe('MBG/NBD [BDF07]', () => {
    it('fits r, α, a, b = 0.525, 6.183, 0.891, 1.614 (lifetimes, "close to BTYDplus")', () => {
      nearParams(mbg.params, { r: 0.525, alpha: 6.183, a: 0.891, b: 1.614 }, 1e-3, 'MBG/NBD');
      near(mbg.logLikelihood, -9582.13, 0.01, 'LL');
    });

    it('gives E[X*(39) | 2, 30.43, 38.86] ≈ 1.263 (lifetimes: within 0.05 of 1.226), P(alive | 0, 0, 38.86) = 0.390, Σ holdout 1576.7', () => {
      const e = conditionalExpected(mbgnbd, mbg.params as never, 39, 2, 30.43, 38.86);
      near(e, 1.2627, 1e-3, 'conditional expectation');
      assert.ok(Math.abs(e - 1.226) < 0.05);
      near(mbgnbd.pAlive(mbg.params as never, 0, 0, 38.86), 0.39, 5e-4, 'P(alive) with no repeat purchase');
      near(holdoutByFrequency(TRANSACTION_MODELS.mbgnbd, mbg.params, holdout, 39).predictedTotal, 1576.7, 0.5, 'Σ E[X*]');
      let total = 0;
      for (let n = 0; n < 80; n++) total += mbgnbd.pmf(mbg.params as never, n, 39);
      near(total, 1, 1e-6, 'Σₙ P(X(39) = n)');
    });
  });

  describe('Gamma-Gamma [FHL05b, FH-n025]', () => {
    const hardie = () => readNumericCsv('cdnow/cdnow_customers_summary_with_transactions.csv');

    it("fits p, q, γ = 6.25, 3.74, 15.44 on Hardie's 946 repeaters, LL −4055.92, corr(x, z̄) = 0.1139", () => {
      const data = spendData(hardie().map((r) => ({ x: r.x!, m: r.zbar! })));
      assert.equal(data.x.length, 946);
      const fit = fitModel(SPEND_MODEL, data);
      nearParams(fit.params, { p: 6.25, q: 3.74, gamma: 15.44 }, 1.5e-2, 'lifetimes decimal=2');
      nearParams(fit.params, { p: 6.2488, q: 3.7446, gamma: 15.4477 }, 0.01, '§10');
      near(fit.logLikelihood, -4055.92, 0.01, 'LL');
      near(spendFrequencyCorrelation(data), 0.1139, 1e-4, 'correlation');
    });

    it("gives the spreadsheet's E(M | x, z̄) for customers 1..10 and the Quickstart's mean 35.253", () => {
      const rows = hardie();
      const fit = fitModel(SPEND_MODEL, spendData(rows.map((r) => ({ x: r.x!, m: r.zbar! }))));
      const params = fit.params as { p: number; q: number; gamma: number };
      [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17].forEach((e, i) => near(conditionalExpectedSpend(params, rows[i]!.x!, rows[i]!.zbar!), e, 0.02, `customer ${i + 1}`));
      const mean = rows.reduce((s, r) => s + conditionalExpectedSpend(params, r.x!, r.zbar!), 0) / rows.length;
      near(mean, 35.253, 2e-3, 'mean over 2,357 customers');
      near(conditionalExpectedSpend({ p: 6.25, q: 3.74, gamma: 15.44 }, 0, 0), 35.22, 0.005, 'rounded parameters move E(M | x = 0) (§9.5)');
    });
  });

  describe('CLV roll-up with explicit units (§9.6)', () => {
    it("gives customer 1 a 12-month CLV of 36.28 at 1 % a month in weeks; reading months as 30 model units is the Quickstart's 140.10", () => {
      const rows = readNumericCsv('cdnow/cdnow_customers_summary_with_transactions.csv');
      const bgFit = fitModel(TRANSACTION_MODELS.bgnbd.spec, rfmData(rows.map((r) => ({ x: r.x!, tx: r.t_x!, T: r.T! }))), { skipStandardErrors: true });
      const ggFit = fitModel(SPEND_MODEL, spendData(rows.map((r) => ({ x: r.x!, m: r.zbar! }))), { skipStandardErrors: true });
      const one = rows[0]!;
      const spend = conditionalExpectedSpend(ggFit.params as { p: number; q: number; gamma: number }, one.x!, one.zbar!);
      const value = (modelUnit: 'week' | 'day') =>
        customerValue(TRANSACTION_MODELS.bgnbd, bgFit.params, one.x!, one.t_x!, one.T!, spend, { horizon: 12, horizonUnit: 'month', discountRate: 0.01, modelUnit }).clv;
      // lifetimes steps 4.345 weeks a month, we 365.25 / 12 / 7 = 4.348.
      near(value('week'), 36.28, 0.05, 'weekly model, monthly horizon');
      // Treating weekly data as daily makes each month 30.44 weeks: about four times the value.
      near(value('day') / 140.1, 1, 0.015, 'the mistaken reading (30.44 rather than 30 units a month)');
    });
  });

  describe('BG/BB on the donations [FHS10]', () => {
    const donations = () => readNumericCsv('donations/donations.csv');
    let fit: FitResult;
    before(() => {
      fit = fitModel(TRANSACTION_MODELS.bgbb.spec, rfmData(donations().map((d) => ({ x: d.frequency!, tx: d.recency!, T: d.periods!, w: d.weights! })), { discrete: true }));
    });

    it('fits α, β, γ, δ = 1.204, 0.750, 0.657, 2.783 with LL −33,225.58', () => {
      nearParams(fit.params, { alpha: 1.2035, beta: 0.7497, gamma: 0.6567, delta: 2.7838 }, 1e-3, '§10');
      nearParams(fit.params, { alpha: 1.204, beta: 0.75, gamma: 0.657, delta: 2.783 }, { alpha: 1e-3, beta: 1e-3, gamma: 1e-3, delta: 1.5e-3 }, 'paper');
      near(fit.logLikelihood, -33225.58, 0.01, 'LL');
    });

    it('gives P(alive in 2002), the 2002–06 forecast 12,884.2 and the expected 0 / 6 repeat donors', () => {
      const p = fit.params as typeof BTYD_BGBB;
      [[0, 0, 0.108], [2, 4, 0.59], [6, 6, 0.93]].forEach(([x, tx, e]) => near(bgbb.pAlive(p, x!, tx!, 6), e!, 1e-3, `P(alive | ${x}, ${tx})`));
      const forecast = donations().reduce((s, d) => s + d.weights! * conditionalExpected(bgbb, p, 5, d.frequency!, d.recency!, 6), 0);
      near(forecast, 12884.2, 0.5, 'Σ E[X(6, 11)]');
      near(11104 * bgbb.pmf(p, 0, 6), 3454.9, 0.1, 'donors with 0');
      near(11104 * bgbb.pmf(p, 6, 6), 1253.1, 0.1, 'donors with 6');
    });

    it("gives BTYD's E[X(10)], conditional expectations, annual transactions and per-bin holdout", () => {
      near(bgbb.expected(BTYD_BGBB, 10), 3.179805, 5e-5, 'E[X(10)]');
      near(conditionalExpected(bgbb, BTYD_BGBB, 10, 0, 0, 6), 0.1302169, 5e-6, 'E[X(6,16) | 0, 0, 6]');
      near(conditionalExpected(bgbb, BTYD_BGBB, 10, 4, 5, 6), 3.627858, 5e-4, 'E[X(6,16) | 4, 5, 6]');
      const annual = [5535.833, 4717.059, 4147.621, 3724.665, 3395.888, 3131.647, 2913.778, 2730.482, 2573.731, 2437.854, 2318.727];
      annual.forEach((e, i) => near(11104 * (bgbb.expected(BTYD_BGBB, i + 1) - bgbb.expected(BTYD_BGBB, i)), e, 0.1, `year ${1996 + i}`));
      const matrix = readNumericCsv('donations/btyd_donations_rf_matrix_cal_with_holdout.csv');
      const expectedBins = [0.0729, 0.3249, 0.7089, 1.3337, 2.0312, 2.7845, 3.7525];
      const actualBins = [0.1744, 0.4328, 0.8126, 1.3899, 2.0618, 2.6425, 3.5345];
      for (let x = 0; x <= 6; x++) {
        const rows = matrix.filter((r) => r.x === x);
        const n = rows.reduce((s, r) => s + r.custs!, 0);
        near(rows.reduce((s, r) => s + r.custs! * conditionalExpected(bgbb, BTYD_BGBB, 5, x, r.t_x!, 6), 0) / n, expectedBins[x]!, 5e-4, `bin ${x} expected`);
        near(rows.reduce((s, r) => s + r.x_star_total!, 0) / n, actualBins[x]!, 5e-5, `bin ${x} actual`);
      }
    });
  });

  describe('sBG on the Fader & Hardie (2007) retention curves', () => {
    const curve = (column: string, years: number) => readNumericCsv('retention_sbg/fader_hardie_2007_retention.csv').slice(0, years + 1).map((r) => Math.round(r[column]! * 10));

    it('fits regular γ, δ = 0.704, 1.182 and high end 0.668, 3.806 on years 1–7', () => {
      const regular = fitModel(RETENTION_MODEL, survivalData(curve('regular_pct_alive', 7)));
      const high = fitModel(RETENTION_MODEL, survivalData(curve('highend_pct_alive', 7)));
      nearParams(regular.params, { gamma: 0.704, delta: 1.182 }, 1e-3, 'regular');
      nearParams(high.params, { gamma: 0.668, delta: 3.806 }, 1e-3, 'high end');
      near(regular.logLikelihood, -1680.27, 0.01, 'regular LL');
      near(high.logLikelihood, -1611.16, 0.01, 'high-end LL');
      const p = high.params as { gamma: number; delta: number };
      [0.46, 0.436, 0.414, 0.395, 0.378].forEach((e, i) => near(sbg.survival(p, 8 + i), e, 5e-4, `high end S(${8 + i})`));
      const r = regular.params as { gamma: number; delta: number };
      [0.22, 0.204, 0.191, 0.18, 0.17].forEach((e, i) => near(sbg.survival(r, 8 + i), e, 6e-4, `regular S(${8 + i})`));
      near(sbg.derl(p, 0.1, 7), 7.53, 1e-3, 'high-end DERL(0.10) after 7 renewals');
      near(sbg.derl(r, 0.1, 7), 6.842, 1e-3, 'regular DERL(0.10) after 7 renewals');
      assert.ok(sbg.retention(p, 2) < sbg.retention(p, 8), 'retention rises with tenure');
    });

    it("fits the high end's first 4 years as R foretell does (1.281009, 7.790563)", () => {
      const fit = fitModel(RETENTION_MODEL, survivalData(curve('highend_pct_alive', 4)));
      nearParams(fit.params, { gamma: 1.281009, delta: 7.790563 }, 1e-3, 'foretell');
      const p = fit.params as { gamma: number; delta: number };
      [53.44303, 48.57783, 44.44895, 40.90608, 37.83658, 35.15453].forEach((e, i) => near(100 * sbg.survival(p, 5 + i), e, 1e-3, `S(${5 + i}) %`));
    });
  });
});
