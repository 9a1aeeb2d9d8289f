/**
 * CLV through the HTTP API and the CLI: fits from an uploaded CSV, a summary file, a retention curve and a
 * dataset land in the model registry with their data snapshot; a prediction job writes the profile-enabled
 * `clv_predictions` dataset whose rows name the models that made them and whose CLV equals the formulas;
 * Gamma-Gamma refuses correlated data with the measured correlation; roles and bad inputs get stable codes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { tempDir } from '../testing/temp.ts';
import { conditionalExpectedSpend } from './models/gamma-gamma.ts';
import { TRANSACTION_MODELS } from './models/index.ts';
import { loadCsvDataset, near, SHARED_DATA_SKIP, sharedFile } from './testing.ts';
import { customerValue } from './value.ts';

const CDNOW_COLUMNS = { customerId: 'sampleid', datetime: 'date', monetary: 'sales' };
const CALIBRATION = { unit: 'week', calibrationEnd: '1997-09-30', observationEnd: '1998-06-30' };

describe('CLV API', { skip: SHARED_DATA_SKIP }, () => {
  let t: TestPlatform;
  let elog: string;
  let analyst: string;

  before(async () => {
    t = await createTestPlatform();
    elog = readFileSync(sharedFile('cdnow/cdnowElog.csv'), 'utf8');
    await loadCsvDataset(t, 'cdnow', elog, { masterid: 'string', sampleid: 'string', date: 'string', cds: 'number', sales: 'number' });
    analyst = (await t.platform.apiKeys.create(LOCAL_OPERATOR, { name: 'analyst', role: 'analyst', sandboxes: ['prod'] })).token;
  });
  after(() => t.dispose());

  it('fits BG/NBD on an uploaded CSV with diagnostics and keeps it in the registry with the file digest', async () => {
    const fit = await t.call('POST', '/clv/fit', { body: { model: 'bgnbd', input: { csv: elog, ...CDNOW_COLUMNS }, window: CALIBRATION } });
    assert.equal(fit.status, 200, JSON.stringify(fit.body));
    near(fit.body.params.r, 0.2426, 1e-3, 'r');
    near(fit.body.logLikelihood, -9582.43, 0.01, 'LL');
    near(fit.body.diagnostics.calibration.chiSquare, 4.82, 0.005, 'χ²');
    near(fit.body.diagnostics.holdout.predictedTotal, 1653.4, 0.5, 'holdout Σ');
    near(fit.body.diagnostics.tracking.finalRelativeError, -0.04, 0.001, 'week-78 error');
    assert.equal(fit.body.source.kind, 'upload');
    assert.match(fit.body.source.sha256, /^[0-9a-f]{64}$/);
    const stored = await t.call('GET', `/clv/models/${fit.body.modelId}`);
    assert.deepEqual(stored.body.params, fit.body.params);
    const listed = await t.call('GET', '/clv/models?model=bgnbd');
    assert.ok(listed.body.models.some((m: { modelId: string }) => m.modelId === fit.body.modelId));
  });

  it('fits BG/BB on a summary file (weights) and sBG on a retention curve', async () => {
    const donations = readFileSync(sharedFile('donations/donations.csv'), 'utf8');
    const bgbb = await t.call('POST', '/clv/fit', { body: { model: 'bgbb', input: { csv: donations }, window: { unit: 'year' }, save: false } });
    assert.equal(bgbb.status, 200, JSON.stringify(bgbb.body));
    assert.equal(bgbb.body.modelId, null);
    assert.equal(bgbb.body.source.format, 'summary');
    near(bgbb.body.params.delta, 2.7838, 1e-3, 'δ');
    near(bgbb.body.logLikelihood, -33225.58, 0.01, 'LL');
    const curve = readFileSync(sharedFile('retention_sbg/fader_hardie_2007_retention.csv'), 'utf8');
    const sbg = await t.call('POST', '/clv/fit', { body: { model: 'sbg', input: { csv: curve, alive: 'highend_pct_alive', periods: 7 }, window: { unit: 'year' } } });
    assert.equal(sbg.status, 200, JSON.stringify(sbg.body));
    near(sbg.body.params.gamma, 0.668, 1e-3, 'γ');
    near(sbg.body.params.delta, 3.806, 1e-3, 'δ');
    const year12 = sbg.body.diagnostics.survival[12];
    assert.equal(year12.holdout, true);
    near(year12.fitted, 0.378, 5e-4, 'projected S(12)');
  });

  it('writes clv_predictions from a dataset: profile-enabled rows that name their models and match the formulas', async () => {
    const body = {
      input: { dataset: 'cdnow', ...CDNOW_COLUMNS },
      window: { unit: 'week' },
      model: 'bgnbd',
      horizon: 12,
      horizonUnit: 'month',
      discountRate: 0.01,
      output: { dataset: 'clv_predictions' },
      limit: 5,
    };
    const result = await t.call('POST', '/clv/predict', { body });
    assert.equal(result.status, 200, JSON.stringify(result.body));
    const { modelId, spendModelId, output, customers, totals } = result.body;
    assert.equal(totals.customers, 2357);
    assert.equal(output.rowCount, 2357);
    assert.equal(customers.length, 5);
    assert.ok(customers[0].predictedClv >= customers[4].predictedClv, 'highest CLV first');
    const transaction = (await t.call('GET', `/clv/models/${modelId}`)).body;
    const spend = (await t.call('GET', `/clv/models/${spendModelId}`)).body;
    assert.equal(transaction.model, 'bgnbd');
    assert.equal(spend.model, 'gg');
    assert.equal(transaction.source.kind, 'dataset');
    assert.equal(transaction.source.snapshotId, 1, 'the fit names the data snapshot it read');
    const dataset = await t.platform.datasets.get('prod', 'clv_predictions');
    assert.equal(dataset.profileEnabled && dataset.upsert, true);
    const rows = await t.platform.queries.execute(
      LOCAL_OPERATOR,
      'prod',
      `SELECT _roundtrip.customerId AS id, _roundtrip.clvPrediction AS p FROM clv_predictions WHERE _roundtrip.customerId IN ('1', '1516') ORDER BY id`,
    );
    for (const row of rows.last.rows as { id: string; p: Record<string, number | string> }[]) {
      assert.equal(row.p.modelId, modelId);
      assert.equal(row.p.spendModelId, spendModelId);
      assert.equal(row.p.asOf, '1998-06-30');
      const spendValue = conditionalExpectedSpend(spend.params, Number(row.p.frequency), Number(row.p.monetaryValue));
      const value = customerValue(TRANSACTION_MODELS.bgnbd, transaction.params, Number(row.p.frequency), Number(row.p.recency), Number(row.p.age), spendValue, {
        horizon: 12,
        horizonUnit: 'month',
        discountRate: 0.01,
        modelUnit: 'week',
      });
      near(Number(row.p.predictedClv), value.clv, 1e-9 * value.clv, `customer ${row.id} CLV`);
      near(Number(row.p.probabilityAlive), value.probabilityAlive, 1e-12, `customer ${row.id} P(alive)`);
    }
    const deciles = await t.platform.queries.execute(LOCAL_OPERATOR, 'prod', `SELECT _roundtrip.clvPrediction.clvDecile AS d, count(*) AS n FROM clv_predictions GROUP BY 1 ORDER BY 1`);
    assert.deepEqual(deciles.last.rows.map((r) => r.n), [236, 236, 236, 236, 236, 236, 236, 235, 235, 235]);
  });

  it('predicts with registered models for a read-only role, and refuses it a fit into the registry', async () => {
    const bg = await t.call('POST', '/clv/fit', { body: { model: 'bgnbd', input: { dataset: 'cdnow', ...CDNOW_COLUMNS } } });
    const gg = await t.call('POST', '/clv/fit', { body: { model: 'gg', input: { dataset: 'cdnow', ...CDNOW_COLUMNS } } });
    assert.equal(gg.status, 200, JSON.stringify(gg.body));
    assert.ok(Math.abs(gg.body.diagnostics.correlation) < 0.3, 'spend and frequency are independent enough on CDNOW');
    const refused = await t.call('POST', '/clv/fit', { token: analyst, body: { model: 'bgnbd', input: { dataset: 'cdnow', ...CDNOW_COLUMNS } } });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'RT_FORBIDDEN_ROLE');
    const predicted = await t.call('POST', '/clv/predict', {
      token: analyst,
      body: { input: { dataset: 'cdnow', ...CDNOW_COLUMNS }, modelId: bg.body.modelId, spendModelId: gg.body.modelId, limit: 1 },
    });
    assert.equal(predicted.status, 200, JSON.stringify(predicted.body));
    assert.deepEqual(predicted.body.transactionModel.params, bg.body.params);
    const writing = await t.call('POST', '/clv/predict', { token: analyst, body: { input: { dataset: 'cdnow', ...CDNOW_COLUMNS }, output: {} } });
    assert.equal(writing.status, 403);
  });

  it('refuses Gamma-Gamma when spend follows frequency, with the correlation', async () => {
    // Customer k buys k + 1 times, each time for 10·k: the mean spend rises with frequency.
    const lines = ['id,day,value'];
    for (let k = 1; k <= 30; k++) for (let j = 0; j <= k; j++) lines.push(`c${k},2024-01-${String(1 + j).padStart(2, '0')},${10 * k}`);
    const refused = await t.call('POST', '/clv/fit', { body: { model: 'gg', input: { csv: lines.join('\n'), customerId: 'id', datetime: 'day', monetary: 'value' } } });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.error.code, 'RT_CLV_ASSUMPTION_VIOLATED');
    assert.ok(refused.body.error.details.correlation > 0.9);
    const forced = await t.call('POST', '/clv/fit', { body: { model: 'gg', input: { csv: lines.join('\n'), customerId: 'id', datetime: 'day', monetary: 'value' }, maxCorrelation: 1, save: false } });
    assert.equal(forced.status, 200);
  });

  it('names the problem of a bad input or an unknown model', async () => {
    const missing = await t.call('POST', '/clv/fit', { body: { model: 'bgnbd', input: { dataset: 'cdnow', customerId: 'nope', datetime: 'date' } } });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'RT_CLV_INPUT_INVALID');
    assert.match(missing.body.error.message, /sampleid/, 'lists the columns there are');
    const unknown = await t.call('POST', '/clv/predict', { body: { input: { dataset: 'cdnow', ...CDNOW_COLUMNS }, modelId: 'clv_missing' } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'RT_CLV_MODEL_NOT_FOUND');
    const both = await t.call('POST', '/clv/fit', { body: { model: 'bgnbd', input: { dataset: 'cdnow', csv: 'a,b' } } });
    assert.equal(both.body.error.code, 'RT_CLV_INPUT_INVALID');
  });
});

describe('roundtrip clv (CLI)', { skip: SHARED_DATA_SKIP }, () => {
  const temp = tempDir();
  const env = { ...process.env, ROUNDTRIP_DATA_DIR: path.join(temp.dir, 'data'), DATABASE_URL: '', ROUNDTRIP_API_KEY: '', ROUNDTRIP_LOG_LEVEL: 'warn' };
  const bin = path.resolve(import.meta.dirname, '../../bin/roundtrip.js');
  const cli = (...args: string[]) => promisify(execFile)(process.execPath, [bin, ...args], { env });
  after(() => temp.remove());

  it('prints parameters, log-likelihood and diagnostics of a fit on a CSV file', async () => {
    await cli('init');
    const { stdout } = await cli(
      'clv', 'fit', '--model', 'bgnbd', '--input', sharedFile('cdnow/cdnowElog.csv'), '--customer-id', 'sampleid', '--datetime', 'date', '--monetary', 'sales',
      '--calibration-end', '1997-09-30', '--observation-end', '1998-06-30',
    );
    assert.match(stdout, /^r\s+0\.24259\d\s+0\.0125/m);
    assert.match(stdout, /log-likelihood -9582\.429 on 2357 observations/);
    assert.match(stdout, /chi-square 4\.82 on 3 df/);
    assert.match(stdout, /total actual 1882, predicted 1653\.4/);
  });
});
