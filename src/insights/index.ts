/**
 * Insights: the accelerated store (aggregates only, `CREATE DATABASE … WITH (TYPE=QSACCEL)`), data models over
 * its tables (fact / dimension / none, keys from `ALTER TABLE … ADD PRIMARY|FOREIGN KEY … NOT ENFORCED`), the
 * built-in CDPInsights model (`qsaccel.profile_agg.adwh_*`, reference §8) with its CLV extension, its incremental
 * and atomic refresh, and the accelerated-queries API (sql xor templateId, 4 slots per sandbox, result cache).
 *
 * Exposed as `platform.insights`; `src/dashboards` builds widgets on it.
 */
export { InsightsService, type InsightsDeps } from './service.ts';
export { insightsJobKinds } from './jobs.ts';
export type * from './types.ts';
