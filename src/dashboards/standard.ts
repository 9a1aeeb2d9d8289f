/**
 * Standard dashboards: dashboards every sandbox gets, built from the CDPInsights tables (src/insights,
 * `docs/insights.md`). The CLV ones are registered here; later steps of the loop (the post-campaign widgets)
 * register theirs with `platform.dashboards.addStandardDashboard(…)`. They are query pro dashboards: their SQL
 * reads the latest snapshot itself (`max(date_key)`), as the reference's widget SQL does, so they show data
 * without any filter being set.
 */
import type { DashboardCreateT } from './payloads.ts';

export interface StandardDashboard {
  /** Stable key; the dashboard id is `dsh_std_<key>` and it is created once per sandbox. */
  key: string;
  build(): DashboardCreateT;
  /** Makes what the widgets read exist in the sandbox (e.g. empty fact tables) before the dashboard is created. */
  prepare?(sandbox: string): Promise<void>;
}

const S = 'qsaccel.profile_agg';

/** The latest snapshot of a fact table (the reference's "recent date") under the default merge policy. */
const current = (table: string, alias?: string) => {
  const p = alias ? `${alias}.` : '';
  return `${p}date_key = (SELECT max(date_key) FROM ${S}.${table})\n  AND ${p}merge_policy_id IN (SELECT merge_policy_id FROM ${S}.adwh_dim_merge_policies WHERE is_default)`;
};

/** CDPInsights' CLV extension (src/insights/cdp-model.ts). */
export const CLV_TABLES = {
  byDecile: 'adwh_fact_clv_decile',
  distribution: 'adwh_fact_clv_distribution',
  bySegmentAndDecile: 'adwh_fact_profile_by_segment_and_clv_decile',
} as const;

const D = CLV_TABLES.byDecile;

const clvOverview: StandardDashboard = {
  key: 'clv-overview',
  build: () => ({
    name: 'Customer lifetime value',
    description: 'Profiles, revenue and predicted CLV by CLV decile and tier on the latest snapshot, default merge policy (CDPInsights).',
    mode: 'query-pro',
    widgets: [
      {
        title: 'Profiles by CLV decile',
        layout: { x: 0, y: 0, w: 6, h: 4 },
        properties: { axisLabels: { x: 'CLV decile (1 = highest)', y: 'Profiles' } },
        queryPro: {
          marks: 'bar',
          sql: `SELECT clv_decile, sum(count_of_profiles) AS profiles\nFROM ${S}.${D}\nWHERE ${current(D)}\nGROUP BY clv_decile\nORDER BY clv_decile`,
        },
      },
      {
        title: 'Revenue by CLV decile and tier',
        layout: { x: 6, y: 0, w: 6, h: 4 },
        properties: { legend: { placement: 'top', title: 'Tier' }, axisLabels: { x: 'CLV decile', y: 'Revenue' } },
        queryPro: {
          marks: 'bar',
          encoding: { x: 'clv_decile', y: ['revenue'], color: 'clv_tier' },
          sql: `SELECT clv_decile, clv_tier, round(sum(revenue), 2) AS revenue\nFROM ${S}.${D}\nWHERE ${current(D)}\nGROUP BY clv_decile, clv_tier\nORDER BY clv_decile, clv_tier`,
        },
      },
      {
        title: 'Predicted CLV distribution',
        layout: { x: 0, y: 4, w: 6, h: 4 },
        properties: { axisLabels: { x: 'Predicted CLV (bucket floor)', y: 'Profiles' } },
        queryPro: {
          marks: 'bar',
          encoding: { x: 'bucket_floor', y: ['profiles'] },
          sql: `SELECT bucket, round(bucket_floor, 2) AS bucket_floor, sum(count_of_profiles) AS profiles\nFROM ${S}.${CLV_TABLES.distribution}\nWHERE ${current(CLV_TABLES.distribution)}\nGROUP BY bucket, bucket_floor\nORDER BY bucket`,
        },
      },
      {
        title: 'Share of revenue by tier',
        layout: { x: 6, y: 4, w: 3, h: 4 },
        queryPro: {
          marks: 'donut',
          encoding: { color: 'clv_tier', size: 'revenue' },
          sql: `SELECT clv_tier, round(sum(revenue), 2) AS revenue\nFROM ${S}.${D}\nWHERE ${current(D)}\nGROUP BY clv_tier\nORDER BY min(clv_decile)`,
        },
      },
      {
        title: 'Predicted CLV, all profiles',
        layout: { x: 9, y: 4, w: 3, h: 4 },
        queryPro: {
          marks: 'big-number',
          sql: `SELECT round(sum(predicted_clv)) AS predicted_clv\nFROM ${S}.${D}\nWHERE ${current(D)}`,
        },
      },
      {
        title: 'Deciles in detail',
        layout: { x: 0, y: 8, w: 12, h: 4 },
        queryPro: {
          marks: 'table',
          table: { defaultSort: { column: 'clv_decile', direction: 'asc' } },
          sql: `SELECT clv_decile, clv_tier, sum(count_of_profiles) AS profiles, round(sum(revenue), 2) AS revenue, round(sum(predicted_clv), 2) AS predicted_clv\nFROM ${S}.${D}\nWHERE ${current(D)}\nGROUP BY clv_decile, clv_tier`,
        },
      },
    ],
  }),
};

const audiences: StandardDashboard = {
  key: 'audiences',
  build: () => ({
    name: 'Audiences',
    description: 'Audience sizes on the latest snapshot, their trend over the last 30 days, and audiences by CLV decile; default merge policy (CDPInsights).',
    mode: 'query-pro',
    filters: [{ id: 'audience', label: 'Audience', sql: `SELECT segment_name AS id, segment_name AS value\nFROM ${S}.adwh_dim_segments\nORDER BY segment_name` }],
    widgets: [
      {
        title: 'Audience size',
        layout: { x: 0, y: 0, w: 6, h: 4 },
        properties: { axisLabels: { x: 'Audience', y: 'Profiles' } },
        queryPro: {
          marks: 'bar',
          filterLinks: [{ filterId: 'audience', column: 'segment_name' }],
          sql: `SELECT d.segment_name, sum(f.count_of_profiles) AS count_of_profiles\nFROM ${S}.adwh_fact_profile_by_segment f\nLEFT OUTER JOIN ${S}.adwh_dim_segments d ON f.segment_id = d.segment_id\nWHERE ${current('adwh_fact_profile_by_segment', 'f')}\nGROUP BY d.segment_name\nORDER BY count_of_profiles DESC, d.segment_name\nLIMIT 20`,
        },
      },
      {
        title: 'Audience size trend (30 days)',
        layout: { x: 6, y: 0, w: 6, h: 4 },
        properties: { legend: { placement: 'bottom', title: 'Audience' }, axisLabels: { x: 'Date', y: 'Profiles' } },
        queryPro: {
          marks: 'line',
          encoding: { x: 'date_key', y: ['count_of_profiles'], color: 'segment_name' },
          filterLinks: [{ filterId: 'audience', column: 'segment_name' }],
          sql: `SELECT CAST(f.date_key AS VARCHAR) AS date_key, d.segment_name, sum(f.count_of_profiles) AS count_of_profiles\nFROM ${S}.adwh_fact_profile_by_segment_trendlines f\nJOIN ${S}.adwh_dim_segments d ON f.segment_id = d.segment_id\nWHERE f.date_key > (SELECT max(date_key) FROM ${S}.adwh_fact_profile_by_segment_trendlines) - INTERVAL 30 DAY\n  AND f.merge_policy_id IN (SELECT merge_policy_id FROM ${S}.adwh_dim_merge_policies WHERE is_default)\nGROUP BY f.date_key, d.segment_name\nORDER BY f.date_key, d.segment_name`,
        },
      },
      {
        title: 'Audiences by CLV decile',
        layout: { x: 0, y: 4, w: 12, h: 4 },
        properties: { legend: { placement: 'right', title: 'Audience' }, axisLabels: { x: 'CLV decile', y: 'Profiles' } },
        queryPro: {
          marks: 'bar',
          encoding: { x: 'clv_decile', y: ['count_of_profiles'], color: 'segment_name' },
          filterLinks: [{ filterId: 'audience', column: 'segment_name' }],
          sql: `SELECT f.clv_decile, d.segment_name, sum(f.count_of_profiles) AS count_of_profiles\nFROM ${S}.${CLV_TABLES.bySegmentAndDecile} f\nJOIN ${S}.adwh_dim_segments d ON f.segment_id = d.segment_id\nWHERE ${current(CLV_TABLES.bySegmentAndDecile, 'f')}\nGROUP BY f.clv_decile, d.segment_name\nORDER BY f.clv_decile, d.segment_name`,
        },
      },
    ],
  }),
};

export const CLV_STANDARD_DASHBOARDS: readonly StandardDashboard[] = [clvOverview, audiences];
