/**
 * The RFM summary in the warehouse, in one SQL statement over any transaction relation
 * (`reference/clv-science.md` §1, the lifetimes/BTYD construction):
 * 1. each transaction's time → calendar day → period (day, week, month or year); transactions after the
 *    observation end are dropped; several in one period merge into one, their values summed;
 * 2. per customer the first period is the birth, not counted: x = calibration periods − 1, t_x = first → last
 *    calibration period, T = first period → calibration end, m = mean value of the x repeat periods (0 if x = 0);
 *    customers born after the calibration end are absent;
 * 3. holdout: x* = periods in (calibration end, observation end], counting every one, m* their mean value.
 * Times are measured between period starts in an explicit unit (`common.ts#elapsed`).
 */
import type { TimeUnit } from '../units.ts';
import { dateLiteral, elapsed, periodStart } from './common.ts';

/** Where the transactions are and which expressions (already quoted) give id, day and value. */
export interface TransactionRelation {
  /** A table name or a parenthesised query, aliased `src` by the builder. */
  relation: string;
  customerId: string;
  /** Calendar-day expression over `src` (see `dayExpression`). */
  day: string;
  /** Value expression; absent = no monetary column (m = 0). */
  monetary?: string;
}

export interface SummaryWindow {
  /** Time unit of t_x, T and the holdout duration. */
  unit: TimeUnit;
  /** Granularity of merging: purchases in one period count once (default day). */
  period: TimeUnit;
  /** Last day of the calibration window (inclusive); default = observation end (no holdout). */
  calibrationEnd?: string;
  /** Last day observed (inclusive); default = the latest transaction. */
  observationEnd?: string;
}

/** The CTEs both statements share: raw rows, the window's bounds, and per-period values. */
function periodCtes(source: TransactionRelation, window: SummaryWindow): string {
  const { period } = window;
  const obs = window.observationEnd ? dateLiteral(window.observationEnd, 'The observation end') : 'max_day';
  const cal = window.calibrationEnd ? dateLiteral(window.calibrationEnd, 'The calibration end') : obs;
  const value = source.monetary ? `CAST(${source.monetary} AS DOUBLE)` : 'CAST(0 AS DOUBLE)';
  return `WITH raw AS (
  SELECT CAST(${source.customerId} AS VARCHAR) AS customer_id, ${source.day} AS day, ${value} AS value
  FROM ${source.relation} AS src
  WHERE ${source.customerId} IS NOT NULL
),
bounds AS (
  SELECT ${periodStart(obs, period)} AS obs_period, ${periodStart(cal, period)} AS cal_period, ${obs} AS obs_day, ${cal} AS cal_day
  FROM (SELECT max(day) AS max_day FROM raw) AS limits
),
periods AS (
  SELECT customer_id, ${periodStart('day', period)} AS period, fsum(coalesce(value, 0)) AS value
  FROM raw, bounds WHERE day IS NOT NULL AND day <= obs_day
  GROUP BY ALL
)`;
}

/**
 * Columns of the summary: customer_id, x, t_x, T, m, x_star, m_star, duration_holdout, first_day, last_day,
 * calibration_end (the last day of the calibration window). One aggregation per customer over its periods:
 * the repeat value is the calibration total minus the first period's value.
 */
export function summarySql(source: TransactionRelation, window: SummaryWindow): string {
  const { period, unit } = window;
  return `${periodCtes(source, window)},
customers AS (
  SELECT customer_id, min(period) AS first_period,
         max(period) FILTER (WHERE period <= cal_period) AS last_period,
         count(*) FILTER (WHERE period <= cal_period) - 1 AS x,
         fsum(value) FILTER (WHERE period <= cal_period) - arg_min(value, period) AS repeat_value,
         count(*) FILTER (WHERE period > cal_period) AS x_star,
         fsum(value) FILTER (WHERE period > cal_period) AS value_star
  FROM periods, bounds
  GROUP BY customer_id
  HAVING min(period) <= any_value(cal_period)
)
SELECT c.customer_id,
       CAST(c.x AS INTEGER) AS x,
       ${elapsed('c.first_period', 'c.last_period', period, unit)} AS t_x,
       ${elapsed('c.first_period', 'bounds.cal_period', period, unit)} AS "T",
       CASE WHEN c.x > 0 THEN c.repeat_value / c.x ELSE 0 END AS m,
       CAST(c.x_star AS INTEGER) AS x_star,
       CASE WHEN c.x_star > 0 THEN c.value_star / c.x_star ELSE 0 END AS m_star,
       ${elapsed('bounds.cal_period', 'bounds.obs_period', period, unit)} AS duration_holdout,
       c.first_period AS first_day,
       c.last_period AS last_day,
       bounds.cal_day AS calibration_end
FROM customers c CROSS JOIN bounds`;
}

/**
 * Repeat transactions of the calibration cohort per time bucket since the first birth, for cumulative
 * tracking: bucket k holds those in [k − 1, k) units after it (BTYD's `cu.tracking` at week k counts the ones
 * before day 7k). Columns: bucket, n, periods (buckets up to the observation end).
 */
export function trackingSql(source: TransactionRelation, window: SummaryWindow): string {
  const { period, unit } = window;
  return `${periodCtes(source, window)},
births AS (
  SELECT customer_id, min(period) AS first_period FROM periods, bounds GROUP BY customer_id HAVING min(period) <= any_value(bounds.cal_period)
),
origin AS (SELECT min(first_period) AS first FROM births)
SELECT CAST(floor(${elapsed('origin.first', 'p.period', period, unit)}) AS INTEGER) + 1 AS bucket, count(*) AS n,
       CAST(ceil(any_value(${elapsed('origin.first', 'bounds.obs_period', period, unit)})) AS INTEGER) AS periods
FROM periods p JOIN births b USING (customer_id), origin, bounds
WHERE p.period > b.first_period
GROUP BY 1 ORDER BY 1`;
}
