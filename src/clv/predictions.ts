/**
 * Predictions for every customer of a summary. The model functions (₂F₁ series) have no SQL form, so they run
 * in JavaScript — but once per distinct input, not per customer: P(alive) per distinct (x, t_x, T) (the rows
 * the fit already read, `clv_patterns`), the horizon sums of a customer known to be alive per distinct (x, T)
 * (the costly series; a few thousand), expected spend per distinct (x, m) (`clv_spend_rows`). The values come back to DuckDB as
 * staged CSVs; the customers never leave the warehouse, where `value.ts#valueColumnsSql` multiplies the parts.
 * The CLV decile is NTILE(10) over predicted CLV (1 = top), ties broken by customer id.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { newId } from '../core/ids.ts';
import type { JsonRecord, SandboxWarehouse, WarehouseSession } from '../ports/warehouse.ts';
import type { RfmData, SpendRow } from './data.ts';
import { PATTERN_TABLE, SPEND_ROW_TABLE } from './fitting.ts';
import { SUMMARY_TABLE } from './inputs.ts';
import { conditionalExpectedSpend, type GammaGammaParams } from './models/gamma-gamma.ts';
import type { TransactionModel } from './models/index.ts';
import type { Params } from './models/types.ts';
import { quoteLiteral } from './sql/common.ts';
import { aliveHorizon, valueColumnsSql, type HorizonOptions } from './value.ts';

export const RESULT_TABLE = 'clv_result';

export interface PredictionTotals {
  customers: number;
  expectedPurchases: number;
  meanProbabilityAlive: number;
  predictedClv: number;
}

/** Shortest round-trip text of a double (DuckDB parses it back to the same value); empty = NULL. */
const csvNumber = (v: number) => (Number.isFinite(v) ? String(v) : '');

/** `SELECT <select>` over the CSV of `lines` (header first) staged in the sandbox's staging folder, as temp table `name`. */
async function stageTable(session: WarehouseSession, warehouse: SandboxWarehouse, name: string, lines: string[], types: Record<string, string>, select: (csv: string) => string): Promise<void> {
  const file = path.join(warehouse.stagingDir, `${newId(name)}.csv`);
  await writeFile(file, lines.join('\n'));
  try {
    const columns = `{${Object.entries(types).map(([c, t]) => `'${c}': '${t}'`).join(', ')}}`;
    await session.query(`CREATE OR REPLACE TEMP TABLE ${name} AS ${select(`read_csv(${quoteLiteral(file)}, header = true, columns = ${columns})`)}`);
  } finally {
    await rm(file, { force: true });
  }
}

/** P(alive) for the rows of `clv_patterns` (aligned with `patterns`), joined back by row number. */
async function aliveValues(session: WarehouseSession, warehouse: SandboxWarehouse, model: TransactionModel, params: Params, patterns: RfmData): Promise<void> {
  const lines = ['k,p_alive'];
  patterns.x.forEach((x, i) => lines.push(`${i + 1},${csvNumber(model.fn.pAlive(params, x, patterns.tx[i]!, patterns.T[i]!))}`));
  await stageTable(session, warehouse, 'clv_alive', lines, { k: 'BIGINT', p_alive: 'DOUBLE' }, (csv) => `SELECT p.x, p.t_x, p."T", v.p_alive FROM ${PATTERN_TABLE} p JOIN ${csv} v USING (k)`);
}

/** Horizon sums per distinct (x, T), keyed by the values themselves (few rows; doubles round-trip exactly). */
async function horizonValues(session: WarehouseSession, warehouse: SandboxWarehouse, model: TransactionModel, params: Params, patterns: RfmData, horizon: HorizonOptions): Promise<void> {
  const seen = new Set<string>();
  const lines = ['x,T,expected_if_alive,discounted_if_alive'];
  patterns.x.forEach((x, i) => {
    const T = patterns.T[i]!;
    const key = `${x},${csvNumber(T)}`;
    if (seen.has(key)) return;
    seen.add(key);
    const alive = aliveHorizon(model, params, x, T, horizon);
    lines.push(`${key},${csvNumber(alive.expected)},${csvNumber(alive.discounted)}`);
  });
  await stageTable(session, warehouse, 'clv_horizon', lines, { x: 'INTEGER', T: 'DOUBLE', expected_if_alive: 'DOUBLE', discounted_if_alive: 'DOUBLE' }, (csv) => `SELECT * FROM ${csv}`);
}

/** Expected spend per distinct (x, m) of the summary (`clv_spend_rows`, aligned with `rows`), joined back by row number. */
async function spendValues(session: WarehouseSession, warehouse: SandboxWarehouse, spend: GammaGammaParams, rows: readonly SpendRow[]): Promise<void> {
  const lines = ['k,expected_spend'];
  rows.forEach((r, i) => lines.push(`${i + 1},${csvNumber(conditionalExpectedSpend(spend, r.x, r.m))}`));
  await stageTable(session, warehouse, 'clv_spend', lines, { k: 'BIGINT', expected_spend: 'DOUBLE' }, (csv) => `SELECT s.x, s.m, v.expected_spend FROM ${SPEND_ROW_TABLE} s JOIN ${csv} v USING (k)`);
}

/**
 * Fills `clv_result` (summary columns + predictions + clv_decile) in the session; `patterns` and `spendRows` are
 * the rows of `clv_patterns` and `clv_spend_rows` as `readPatterns` and `readSpendRows` returned them.
 */
export async function computePredictions(
  session: WarehouseSession,
  warehouse: SandboxWarehouse,
  model: TransactionModel,
  params: Params,
  spend: GammaGammaParams,
  horizon: HorizonOptions,
  patterns: RfmData,
  spendRows: readonly SpendRow[],
): Promise<PredictionTotals> {
  await aliveValues(session, warehouse, model, params, patterns);
  await horizonValues(session, warehouse, model, params, patterns, horizon);
  await spendValues(session, warehouse, spend, spendRows);
  await session.query(`CREATE OR REPLACE TEMP TABLE ${RESULT_TABLE} AS
    SELECT *, ntile(10) OVER (ORDER BY clv DESC NULLS LAST, customer_id) AS clv_decile FROM (
      SELECT s.customer_id, s.x, s.t_x, s."T", s.m, s.calibration_end, ${valueColumnsSql(horizon.margin ?? 1)}
      FROM ${SUMMARY_TABLE} s JOIN clv_alive USING (x, t_x, "T") JOIN clv_horizon USING (x, "T") JOIN clv_spend USING (x, m))`);
  const totals = await session.query(`SELECT count(*) AS n, sum(expected_purchases) AS e, avg(p_alive) AS a, sum(clv) AS c FROM ${RESULT_TABLE}`);
  const t = totals.rows[0] ?? {};
  return { customers: Number(t.n ?? 0), expectedPurchases: Number(t.e ?? 0), meanProbabilityAlive: Number(t.a ?? 0), predictedClv: Number(t.c ?? 0) };
}

/** The highest-CLV customers, for the answer and the CLI. */
export async function topPredictions(session: WarehouseSession, limit: number): Promise<JsonRecord[]> {
  if (limit <= 0) return [];
  const result = await session.query(`SELECT customer_id AS "customerId", x AS frequency, t_x AS recency, "T" AS age, m AS "monetaryValue",
      expected_purchases AS "expectedPurchases", p_alive AS "probabilityAlive", expected_spend AS "expectedSpend", clv AS "predictedClv", clv_decile AS "clvDecile"
    FROM ${RESULT_TABLE} ORDER BY clv DESC NULLS LAST, customer_id LIMIT ${Math.trunc(limit)}`);
  return result.rows;
}

/** What each written prediction row records besides the numbers: the models and settings behind it. */
export interface PredictionStamp {
  modelId: string;
  spendModelId: string;
  timeUnit: string;
  horizon: HorizonOptions;
}

/** The SELECT that shapes `clv_result` into the prediction dataset's tenant struct. */
export function predictionRowsSql(tenantKey: string, stamp: PredictionStamp): string {
  const h = stamp.horizon;
  return `SELECT r.customer_id AS _id, struct_pack(
      customerId := r.customer_id,
      clvPrediction := struct_pack(
        modelId := ${quoteLiteral(stamp.modelId)},
        spendModelId := ${quoteLiteral(stamp.spendModelId)},
        asOf := CAST(r.calibration_end AS DATE),
        timeUnit := ${quoteLiteral(stamp.timeUnit)},
        horizon := CAST(${h.horizon} AS BIGINT),
        horizonUnit := ${quoteLiteral(h.horizonUnit)},
        discountRate := CAST(${h.discountRate} AS DOUBLE),
        margin := CAST(${h.margin ?? 1} AS DOUBLE),
        frequency := CAST(r.x AS BIGINT),
        recency := r.t_x,
        age := r."T",
        monetaryValue := r.m,
        expectedPurchases := r.expected_purchases,
        probabilityAlive := r.p_alive,
        expectedSpend := r.expected_spend,
        predictedClv := r.clv,
        clvDecile := CAST(r.clv_decile AS BIGINT))) AS "${tenantKey}"
    FROM ${RESULT_TABLE} r`;
}

/** Field definitions of the prediction dataset (under the tenant object), in the order the SELECT builds them. */
export const PREDICTION_FIELDS = {
  customerId: { type: 'string', description: 'Customer id (the primary identity)' },
  clvPrediction: {
    type: 'object',
    properties: {
      modelId: { type: 'string', description: 'Registry id of the transaction model' },
      spendModelId: { type: 'string', description: 'Registry id of the Gamma-Gamma model' },
      asOf: { type: 'string', format: 'date', description: 'Last day of the data the prediction starts from' },
      timeUnit: { type: 'string', description: 'Unit of recency and age' },
      horizon: { type: 'integer' },
      horizonUnit: { type: 'string' },
      discountRate: { type: 'number', description: 'Per horizon unit' },
      margin: { type: 'number' },
      frequency: { type: 'integer', description: 'Repeat purchase periods' },
      recency: { type: 'number' },
      age: { type: 'number' },
      monetaryValue: { type: 'number', description: 'Mean value of the repeat purchases' },
      expectedPurchases: { type: 'number', description: 'Expected purchases over the horizon' },
      probabilityAlive: { type: 'number' },
      expectedSpend: { type: 'number', description: 'Expected spend per purchase (Gamma-Gamma)' },
      predictedClv: { type: 'number', description: 'Discounted expected purchases × expected spend × margin' },
      clvDecile: { type: 'integer', minimum: 1, maximum: 10, description: '1 = top 10 % by predicted CLV' },
    },
  },
};
