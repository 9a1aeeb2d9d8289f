/**
 * Historical CLV attributes and decile buckets, as one SELECT (`reference/adobe-reference.md` §4.1, the airline
 * example), with two deliberate differences from the reference's SQL: windows are true [start, end) ranges —
 * the last 1, 3, 6, 9, 12 months before `asOf`, and everything before it — instead of "before the start of
 * month N" cut-offs; and NTILE ties are broken by customer id, so a rerun gives the same buckets.
 *
 * Per customer and window: revenue, orders (transaction rows), average order value and days since the last
 * order (from `asOf`). Per window and category (e.g. loyalty tier): NTILE(10) of revenue and of orders, 1 = top,
 * gathered into the decile map type `{decileMonth1 … decileMonthAll}` of `map<category, decile>`, so an
 * audience can ask `decilesRevenue.decileMonth3['GOLD'] <= 3`. Customers with no order in a window have no
 * entry in that window's map. The statement is plain DuckDB SQL that the query service runs as written, so it
 * can be saved as a query template and scheduled (`INSERT INTO clv_attributes <this select>`).
 */
import type { DECILE_WINDOWS } from '../../catalog/xdm/standard.ts';
import { dateLiteral, quoteIdent, quoteLiteral } from './common.ts';

/** Lookback windows in months; null = lifetime. Keys match the standard decile data type. */
export const LOOKBACK_WINDOWS: readonly { key: (typeof DECILE_WINDOWS)[number]; history: string; months: number | null }[] = [
  { key: 'decileMonth1', history: 'month1', months: 1 },
  { key: 'decileMonth3', history: 'month3', months: 3 },
  { key: 'decileMonth6', history: 'month6', months: 6 },
  { key: 'decileMonth9', history: 'month9', months: 9 },
  { key: 'decileMonth12', history: 'month12', months: 12 },
  { key: 'decileMonthAll', history: 'lifetime', months: null },
];

/** Category used when the data has no category column: every customer is ranked in one group. */
export const ALL_CATEGORY = 'ALL';

export interface AttributeSource {
  relation: string;
  customerId: string;
  day: string;
  monetary: string;
  /** Expression of the ranking category, or absent for one group. */
  category?: string;
}

export interface AttributeOptions {
  /** First day NOT included (exclusive end of every window), `YYYY-MM-DD`; or a SQL date expression. */
  asOf: string;
  /** The tenant object the fields go under, e.g. `_roundtrip`. */
  tenantKey: string;
}

/** `asOf` as SQL: a literal date, or `CURRENT_DATE` (for a scheduled template, evaluated at each run). */
export function asOfSql(asOf: string): string {
  return asOf.toUpperCase() === 'CURRENT_DATE' ? 'CURRENT_DATE' : dateLiteral(asOf, 'asOf');
}

const windowStart = (asOf: string, months: number | null): string => (months === null ? 'NULL' : `CAST(${asOf} - INTERVAL ${months} MONTH AS DATE)`);

/** The SELECT producing one row per customer with a single struct column named after the tenant object. */
export function attributesSql(source: AttributeSource, options: AttributeOptions): string {
  const asOf = asOfSql(options.asOf);
  const category = source.category ? `coalesce(CAST(${source.category} AS VARCHAR), ${quoteLiteral(ALL_CATEGORY)})` : quoteLiteral(ALL_CATEGORY);
  const windowRows = LOOKBACK_WINDOWS.map((w) => `(${quoteLiteral(w.key)}, ${windowStart(asOf, w.months)})`).join(', ');
  const pick = (w: string, expression: string) => `any_value(${expression}) FILTER (WHERE window_key = ${quoteLiteral(w)})`;
  const history = LOOKBACK_WINDOWS.map(
    (w) => `${w.history} := struct_pack(
        revenue := coalesce(${pick(w.key, 'c.revenue')}, 0),
        orders := coalesce(${pick(w.key, 'c.orders')}, 0),
        averageOrderValue := ${pick(w.key, 'c.revenue / c.orders')},
        daysSinceLastOrder := ${pick(w.key, `date_diff('day', c.last_day, ${asOf})`)})`,
  );
  const deciles = (metric: string) => LOOKBACK_WINDOWS.map((w) => `${w.key} := ${pick(w.key, `m.${metric}`)}`).join(', ');
  return `WITH tx AS (
  SELECT CAST(${source.customerId} AS VARCHAR) AS customer_id, ${source.day} AS day, coalesce(CAST(${source.monetary} AS DOUBLE), 0) AS value, ${category} AS category
  FROM ${source.relation} AS src
  WHERE ${source.customerId} IS NOT NULL
),
lookbacks(window_key, start_day) AS (VALUES ${windowRows}),
in_window AS (
  SELECT l.window_key, tx.* FROM tx JOIN lookbacks l ON tx.day < ${asOf} AND (l.start_day IS NULL OR tx.day >= l.start_day)
),
per_customer AS (
  SELECT window_key, customer_id, sum(value) AS revenue, count(*) AS orders, max(day) AS last_day FROM in_window GROUP BY ALL
),
ranked AS (
  SELECT window_key, customer_id, category,
         ntile(10) OVER (PARTITION BY window_key, category ORDER BY sum(value) DESC, customer_id) AS revenue_decile,
         ntile(10) OVER (PARTITION BY window_key, category ORDER BY count(*) DESC, customer_id) AS orders_decile
  FROM in_window GROUP BY window_key, customer_id, category
),
maps AS (
  SELECT window_key, customer_id,
         map(list(category ORDER BY category), list(revenue_decile ORDER BY category)) AS revenue,
         map(list(category ORDER BY category), list(orders_decile ORDER BY category)) AS orders
  FROM ranked GROUP BY window_key, customer_id
),
customers AS (SELECT DISTINCT customer_id FROM tx WHERE day < ${asOf}),
history AS (SELECT c.customer_id, struct_pack(
      ${history.join(',\n      ')}) AS history FROM per_customer c GROUP BY c.customer_id),
decile_maps AS (
  SELECT m.customer_id, struct_pack(${deciles('revenue')}) AS revenue, struct_pack(${deciles('orders')}) AS orders FROM maps m GROUP BY m.customer_id
)
SELECT struct_pack(
    customerId := customers.customer_id,
    asOf := ${asOf},
    clvHistory := h.history,
    decilesRevenue := d.revenue,
    decilesOrders := d.orders
  ) AS ${quoteIdent(options.tenantKey)}
FROM customers
JOIN history h USING (customer_id)
JOIN decile_maps d USING (customer_id)`;
}
