/**
 * The CDPInsights model (reference §8): the tables of `qsaccel.profile_agg` with exactly the column names the
 * §8.3 widget SQL uses, its keys (recorded like `ALTER TABLE … ADD PRIMARY|FOREIGN KEY … NOT ENFORCED`), and the
 * CLV extension. Only aggregates live here; per-profile working state stays in `_rt_insights_*` system tables
 * of the sandbox's main schema, outside the accelerated store.
 */

export const CDP_MODEL = 'CDPInsights';
export const CDP_DATABASE = 'qsaccel';
export const CDP_SCHEMA = 'qsaccel.profile_agg';

/** `"qsaccel.profile_agg"."t"`. */
export const cdp = (table: string): string => `"${CDP_SCHEMA}"."${table}"`;

const FACT_PROFILE = 'date_key DATE, merge_policy_id INTEGER, count_of_profiles BIGINT, count_of_Single_Identity_profiles BIGINT';
const FACT_NAMESPACE = 'date_key DATE, merge_policy_id INTEGER, namespace_id INTEGER, count_of_profiles BIGINT, count_of_Single_Identity_profiles BIGINT';
const FACT_SEGMENT = 'date_key DATE, merge_policy_id INTEGER, segment_id INTEGER, count_of_profiles BIGINT';
const FACT_SEGMENT_NAMESPACE = 'date_key DATE, merge_policy_id INTEGER, segment_id INTEGER, namespace_id INTEGER, count_of_profiles BIGINT';

/** Table → column DDL, in build order. */
export const CDP_TABLES: Record<string, string> = {
  adwh_dim_date: 'date_key DATE, year INTEGER, quarter INTEGER, month INTEGER, month_name VARCHAR, day_of_month INTEGER, day_of_week INTEGER, day_name VARCHAR, week_of_year INTEGER',
  adwh_dim_merge_policies: 'merge_policy_id INTEGER, merge_policy_name VARCHAR, merge_policy VARCHAR, is_default BOOLEAN',
  adwh_dim_namespaces: 'namespace_id INTEGER, merge_policy_id INTEGER, namespace_description VARCHAR',
  adwh_dim_overlap_namespaces: 'overlap_id INTEGER, merge_policy_id INTEGER, overlap_namespaces VARCHAR',
  adwh_dim_segments: 'segment_id INTEGER, segment VARCHAR, segment_name VARCHAR, create_date DATE',
  adwh_dim_destination_platform: 'destination_platform_id INTEGER, destination_platform_name VARCHAR',
  adwh_dim_destination: 'destination_id INTEGER, destination_name VARCHAR, destination VARCHAR, destination_status VARCHAR, destination_platform_id INTEGER',
  adwh_dim_br_segment_destinations: 'segment_id INTEGER, destination_id INTEGER, create_time TIMESTAMP, start_date DATE, end_date DATE',
  adwh_fact_profile: FACT_PROFILE,
  adwh_fact_profile_by_namespace: FACT_NAMESPACE,
  adwh_fact_profile_by_namespace_trendlines: FACT_NAMESPACE,
  adwh_fact_profile_by_segment: FACT_SEGMENT,
  adwh_fact_profile_by_segment_trendlines: FACT_SEGMENT,
  adwh_fact_profile_by_segment_and_namespace: FACT_SEGMENT_NAMESPACE,
  adwh_fact_profile_by_segment_and_namespace_trendlines: FACT_SEGMENT_NAMESPACE,
  adwh_fact_profile_overlap_of_namespace: 'date_key DATE, merge_policy_id INTEGER, overlap_id INTEGER, count_of_profiles BIGINT',
  adwh_fact_profile_overlap_of_namespace_by_segment: 'date_key DATE, merge_policy_id INTEGER, segment_id INTEGER, overlap_id INTEGER, count_of_profiles BIGINT',
  adwh_fact_profile_overlap_of_segments: 'date_key DATE, merge_policy_id INTEGER, Segment1 INTEGER, Segment2 INTEGER, count_of_overlap BIGINT',
  adwh_lkup_process_delta_log: 'process_name VARCHAR, merge_policy_id INTEGER, process_status VARCHAR, process_date DATE, create_ts TIMESTAMP, change_ts TIMESTAMP',
  // CLV extension.
  adwh_dim_clv_deciles: 'clv_decile INTEGER, clv_tier VARCHAR, decile_label VARCHAR',
  adwh_fact_clv_decile: 'date_key DATE, merge_policy_id INTEGER, clv_decile INTEGER, clv_tier VARCHAR, count_of_profiles BIGINT, predicted_clv DOUBLE, revenue DOUBLE',
  adwh_fact_clv_distribution: 'date_key DATE, merge_policy_id INTEGER, bucket INTEGER, bucket_floor DOUBLE, bucket_ceiling DOUBLE, count_of_profiles BIGINT',
  adwh_fact_profile_by_segment_and_clv_decile: 'date_key DATE, merge_policy_id INTEGER, segment_id INTEGER, clv_decile INTEGER, count_of_profiles BIGINT, predicted_clv DOUBLE',
};

/** The destination tables: rebuilt in full by every refresh from activation's mappings and log (`CdpRefresh.destinationStatements`). */
export const DESTINATION_TABLES = ['adwh_dim_destination_platform', 'adwh_dim_destination', 'adwh_dim_br_segment_destinations'];

/** CLV tiers by decile (1 = top 10 % by predicted CLV). */
export const CLV_TIERS: readonly { from: number; to: number; tier: string }[] = [
  { from: 1, to: 1, tier: 'Top' },
  { from: 2, to: 3, tier: 'High' },
  { from: 4, to: 7, tier: 'Medium' },
  { from: 8, to: 10, tier: 'Low' },
];

export const clvTierSql = (decile: string): string =>
  `CASE ${CLV_TIERS.map((t) => `WHEN ${decile} BETWEEN ${t.from} AND ${t.to} THEN '${t.tier}'`).join(' ')} END`;

interface Key {
  table: string;
  kind: 'PRIMARY KEY' | 'FOREIGN KEY';
  columns: string[];
  ref?: { table: string; columns: string[] };
}

const fk = (table: string, columns: string[], refTable: string, refColumns = columns): Key => ({ table, kind: 'FOREIGN KEY', columns, ref: { table: refTable, columns: refColumns } });
const pk = (table: string, ...columns: string[]): Key => ({ table, kind: 'PRIMARY KEY', columns });

/** The model's keys, as `ALTER TABLE … NOT ENFORCED` would record them. */
export const CDP_KEYS: readonly Key[] = [
  pk('adwh_dim_date', 'date_key'),
  pk('adwh_dim_merge_policies', 'merge_policy_id'),
  pk('adwh_dim_namespaces', 'namespace_id', 'merge_policy_id'),
  pk('adwh_dim_segments', 'segment_id'),
  pk('adwh_dim_destination', 'destination_id'),
  pk('adwh_dim_destination_platform', 'destination_platform_id'),
  pk('adwh_dim_clv_deciles', 'clv_decile'),
  fk('adwh_dim_destination', ['destination_platform_id'], 'adwh_dim_destination_platform'),
  fk('adwh_dim_br_segment_destinations', ['segment_id'], 'adwh_dim_segments'),
  fk('adwh_dim_br_segment_destinations', ['destination_id'], 'adwh_dim_destination'),
  ...['adwh_fact_profile', 'adwh_fact_profile_by_namespace', 'adwh_fact_profile_by_namespace_trendlines', 'adwh_fact_profile_by_segment', 'adwh_fact_profile_by_segment_trendlines',
    'adwh_fact_profile_by_segment_and_namespace', 'adwh_fact_profile_by_segment_and_namespace_trendlines', 'adwh_fact_profile_overlap_of_namespace',
    'adwh_fact_profile_overlap_of_namespace_by_segment', 'adwh_fact_profile_overlap_of_segments', 'adwh_fact_clv_decile', 'adwh_fact_clv_distribution',
    'adwh_fact_profile_by_segment_and_clv_decile'].flatMap((t) => [fk(t, ['date_key'], 'adwh_dim_date'), fk(t, ['merge_policy_id'], 'adwh_dim_merge_policies')]),
  ...['adwh_fact_profile_by_namespace', 'adwh_fact_profile_by_namespace_trendlines', 'adwh_fact_profile_by_segment_and_namespace', 'adwh_fact_profile_by_segment_and_namespace_trendlines'].map((t) =>
    fk(t, ['namespace_id', 'merge_policy_id'], 'adwh_dim_namespaces'),
  ),
  ...['adwh_fact_profile_by_segment', 'adwh_fact_profile_by_segment_trendlines', 'adwh_fact_profile_by_segment_and_namespace', 'adwh_fact_profile_by_segment_and_namespace_trendlines',
    'adwh_fact_profile_overlap_of_namespace_by_segment', 'adwh_fact_profile_by_segment_and_clv_decile'].map((t) => fk(t, ['segment_id'], 'adwh_dim_segments')),
  fk('adwh_fact_clv_decile', ['clv_decile'], 'adwh_dim_clv_deciles'),
  fk('adwh_fact_profile_by_segment_and_clv_decile', ['clv_decile'], 'adwh_dim_clv_deciles'),
];

/** Rows for `_rt_table_constraints` (qualified table names). */
export function constraintRows(): { table: string; kind: string; columns: string[]; refTable: string | null; refColumns: string[] | null }[] {
  return CDP_KEYS.map((k) => ({
    table: `${CDP_SCHEMA}.${k.table}`,
    kind: k.kind,
    columns: k.columns,
    refTable: k.ref ? `${CDP_SCHEMA}.${k.ref.table}` : null,
    refColumns: k.ref?.columns ?? null,
  }));
}
