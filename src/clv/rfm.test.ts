/**
 * The RFM summary built in the warehouse equals the published summaries: BTYD's CBS of the CDNOW sample
 * (full precision), Hardie's 2-dp spreadsheet (lifetimes), the Gamma-Gamma input statistics lifetimes asserts,
 * the lifetimes Quickstart rows of its example transactions (a dataset with text dates), BTYD's cumulative
 * tracking counts, and BTYD's 78-week Pareto/NBD fit. Also: week/month periods merge and count as documented.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { WarehouseSession } from '../ports/warehouse.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { readPatterns } from './fitting.ts';
import { fitModel } from './fit.ts';
import { buildSummary, openInput, SUMMARY_TABLE, windowOf } from './inputs.ts';
import { TRANSACTION_MODELS } from './models/index.ts';
import type { InputSpec, WindowSpec } from './payloads.ts';
import { loadCsvDataset, near, readNumericCsv, SHARED_DATA_SKIP, sharedFile } from './testing.ts';

type Row = Record<string, number | string>;

describe('RFM summary in the warehouse', { skip: SHARED_DATA_SKIP }, () => {
  let t: TestPlatform;
  let elog: string;

  before(async () => {
    t = await createTestPlatform();
    elog = readFileSync(sharedFile('cdnow/cdnowElog.csv'), 'utf8');
  });
  after(() => t.dispose());

  /** Builds `clv_summary` for the input and returns its rows ordered by customer id, plus the summary info. */
  async function summarise(input: InputSpec, window: WindowSpec, options: { withTracking?: boolean } = {}) {
    const warehouse = await t.platform.warehouse.sandbox('prod');
    const session: WarehouseSession = await warehouse.openSession();
    try {
      const opened = await openInput(warehouse, session, t.platform.datasets, 'prod', input);
      try {
        const info = await buildSummary(session, opened, input, windowOf(window), { withTracking: options.withTracking });
        const rows = (await session.query(`SELECT * FROM ${SUMMARY_TABLE} ORDER BY try_cast(customer_id AS INTEGER), customer_id`)).rows as Row[];
        const patterns = await readPatterns(session, false);
        return { rows, info, patterns };
      } finally {
        await opened.close();
      }
    } finally {
      session.close();
    }
  }

  const cdnowInput: InputSpec = { csv: '', customerId: 'sampleid', datetime: 'date', monetary: 'sales' };
  const cdnowWindow: WindowSpec = { unit: 'week', calibrationEnd: '1997-09-30', observationEnd: '1998-06-30' };

  it("rebuilds BTYD's CDNOW CBS exactly, and Hardie's 2-dp summary and z̄ within rounding", async () => {
    const { rows } = await summarise({ ...cdnowInput, csv: elog }, cdnowWindow);
    const cbs = readNumericCsv('cdnow/btyd_cdnowSummary_cbs.csv');
    assert.equal(rows.length, 2357);
    let worst = 0;
    cbs.forEach((c, i) => {
      const r = rows[i]!;
      assert.equal(Number(r.customer_id), c.cust);
      for (const [ours, theirs] of [['x', 'x'], ['t_x', 't_x'], ['T', 'T_cal'], ['x_star', 'x_star'], ['m', 'm_x']] as const) worst = Math.max(worst, Math.abs(Number(r[ours]) - c[theirs]!));
    });
    assert.ok(worst < 1e-9, `largest difference from BTYD's CBS: ${worst}`);
    const hardie = readNumericCsv('cdnow/cdnow_customers_summary_with_transactions.csv');
    hardie.forEach((h, i) => {
      const r = rows[i]!;
      assert.equal(Number(r.x), h.x);
      near(Number(r.t_x), h.t_x!, 0.005 + 1e-9, `customer ${h.ID} t_x`);
      near(Number(r.T), h.T!, 0.005 + 1e-9, `customer ${h.ID} T`);
      near(Number(r.m), h.zbar!, 0.005 + 1e-9, `customer ${h.ID} z̄`);
    });
    const repeaters = rows.filter((r) => Number(r.x) > 0).map((r) => Number(r.m)).sort((a, b) => a - b);
    assert.equal(repeaters.length, 946);
    const mean = repeaters.reduce((s, v) => s + v, 0) / repeaters.length;
    const sd = Math.sqrt(repeaters.reduce((s, v) => s + (v - mean) ** 2, 0) / (repeaters.length - 1));
    near(mean, 35.08, 0.005, 'mean z̄');
    near(sd, 30.28, 0.005, 'sd z̄');
    near(repeaters[0]!, 2.99, 0.005, 'min');
    near((repeaters[472]! + repeaters[473]!) / 2, 27.4975, 1e-9, 'median');
    near(repeaters[945]!, 299.63, 0.005, 'max');
  });

  it("counts repeat transactions per week as BTYD's cu.tracking does", async () => {
    const { info } = await summarise({ ...cdnowInput, csv: elog }, cdnowWindow, { withTracking: true });
    assert.equal(info.trackingPeriods, 78);
    assert.equal(info.holdoutLength, 39);
    const perWeek = new Map(info.tracking!.map((b) => [b.bucket, b.count]));
    let running = 0;
    const cumulative = Array.from({ length: 78 }, (_, i) => (running += perWeek.get(i + 1) ?? 0));
    assert.deepEqual(cumulative, readNumericCsv('cdnow/btyd_cdnowSummary_cu_tracking.csv').map((r) => r.cum_repeat_transactions));
  });

  it("fits BTYD's 78-week Pareto/NBD (0.5630, 12.5592, 0.4081, 10.5145; LL −17,135.84)", async () => {
    const { patterns } = await summarise({ ...cdnowInput, csv: elog }, { unit: 'week', calibrationEnd: '1998-06-30' });
    const fit = fitModel(TRANSACTION_MODELS.pnbd.spec, patterns, { skipStandardErrors: true });
    near(fit.params.r!, 0.563, 2e-3, 'r');
    near(fit.params.alpha!, 12.5592, 0.03, 'α');
    near(fit.params.s!, 0.4081, 2e-3, 's');
    near(fit.params.beta!, 10.5145, 0.05, 'β');
    near(fit.logLikelihood, -17135.84, 0.01, 'LL');
  });

  it('reproduces the lifetimes Quickstart summary rows from a dataset with text dates (day unit)', async () => {
    const text = readFileSync(sharedFile('lifetimes_example/example_transactions.csv'), 'utf8');
    await loadCsvDataset(t, 'lifetimes_tx', text, { date: 'string', id: 'string' });
    const input: InputSpec = { dataset: 'lifetimes_tx', customerId: 'id', datetime: 'date' };
    const all = await summarise(input, { unit: 'day', observationEnd: '2014-12-31' });
    const byId = new Map(all.rows.map((r) => [String(r.customer_id), r]));
    const rfm = (id: string, rows = byId) => [rows.get(id)!.x, rows.get(id)!.t_x, rows.get(id)!.T].map(Number);
    assert.equal(all.rows.length, 5000);
    assert.deepEqual([rfm('0'), rfm('1'), rfm('2'), rfm('3'), rfm('4')], [[0, 0, 298], [0, 0, 224], [6, 142, 292], [0, 0, 147], [2, 9, 183]]);
    const split = await summarise(input, { unit: 'day', calibrationEnd: '2014-09-01', observationEnd: '2014-12-31' });
    const rows = new Map(split.rows.map((r) => [String(r.customer_id), r]));
    assert.deepEqual([...rfm('0', rows), Number(rows.get('0')!.x_star)], [0, 0, 177, 0]);
    assert.deepEqual([...rfm('2', rows), Number(rows.get('2')!.x_star)], [6, 142, 171, 0]);
    assert.equal(split.info.holdoutLength, 121);
    const fit = fitModel(TRANSACTION_MODELS.bgnbd.spec, all.patterns, { skipStandardErrors: true });
    [['r', 0.164], ['alpha', 1.864], ['a', 1.85], ['b', 3.181]].forEach(([name, value]) => near(fit.params[name as string]!, value as number, 2e-3, `Quickstart ${name as string}`));
  });

  it('merges purchases per period and measures whole months and years exactly', async () => {
    const csv = ['customer,at,amount', 'a,2024-01-01,10', 'a,2024-01-03,5', 'a,2024-01-20,7', 'a,2024-03-15,1', 'b,2024-02-10T13:00:00Z,4'].join('\n');
    const weekly = await summarise({ csv, customerId: 'customer', datetime: 'at', monetary: 'amount' }, { unit: 'week', period: 'week', observationEnd: '2024-03-31' });
    const a = weekly.rows.find((r) => r.customer_id === 'a')!;
    // 2024-01-01 and 01-03 share the ISO week starting Monday 2024-01-01: three purchase weeks, two repeats.
    assert.deepEqual([a.x, a.t_x, a.T, a.m].map(Number), [2, 10, 12, 4]);
    const monthly = await summarise({ csv, customerId: 'customer', datetime: 'at', monetary: 'amount' }, { unit: 'month', period: 'month', observationEnd: '2024-03-31' });
    const am = monthly.rows.find((r) => r.customer_id === 'a')!;
    const bm = monthly.rows.find((r) => r.customer_id === 'b')!;
    assert.deepEqual([am.x, am.t_x, am.T, am.m].map(Number), [1, 2, 2, 1]);
    assert.deepEqual([bm.x, bm.t_x, bm.T].map(Number), [0, 0, 1]);
  });
});
