/**
 * Spark and Postgres functions of the Data Distiller workflow that DuckDB spells differently, defined once per
 * sandbox database as DuckDB macros (so they cost nothing at query time). Spellings that need a keyword
 * argument or a different syntax (`dateadd(DAY, …)`, `STRUCT(x AS a)`, `inline`) are token rewrites instead.
 */
export const DIALECT_MACROS: readonly string[] = [
  // MAP_FROM_ARRAYS(keys, values) — Spark
  `CREATE OR REPLACE MACRO map_from_arrays(k, v) AS map(k, v)`,
  // COLLECT_LIST(x) — Spark's list aggregate skips NULLs; DuckDB's list() keeps them
  `CREATE OR REPLACE MACRO collect_list(x) AS list(x) FILTER (WHERE x IS NOT NULL)`,
  `CREATE OR REPLACE MACRO collect_set(x) AS list(DISTINCT x) FILTER (WHERE x IS NOT NULL)`,
  // MAKE_YM_INTERVAL(years, months)
  `CREATE OR REPLACE MACRO make_ym_interval(y, m) AS to_months(CAST(y AS INTEGER) * 12 + CAST(m AS INTEGER))`,
  // Unix_timestamp() / Unix_timestamp(ts): seconds since the epoch
  `CREATE OR REPLACE MACRO unix_timestamp() AS CAST(epoch(current_timestamp) AS BIGINT), (x) AS CAST(epoch(CAST(x AS TIMESTAMPTZ)) AS BIGINT)`,
  `CREATE OR REPLACE MACRO stdevp(x) AS stddev_pop(x)`,
  `CREATE OR REPLACE MACRO to_date(x) AS CAST(x AS DATE)`,
  `CREATE OR REPLACE MACRO to_timestamp_ntz(x) AS CAST(x AS TIMESTAMP)`,
  `CREATE OR REPLACE MACRO nvl(a, b) AS coalesce(a, b)`,
  `CREATE OR REPLACE MACRO size(x) AS len(x)`,
];
