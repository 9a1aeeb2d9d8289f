/**
 * Pure parts of dashboards: the guided compiler on a model shape (the integration test runs the same kind of
 * widget on real CDPInsights tables), layout rules, query pro substitution and filter links, chart options.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildChart, defaultEncoding } from './chart.ts';
import { compileGuided } from './guided-sql.ts';
import type { DataModel } from './insights-port.ts';
import { place, validateLayout } from './layout.ts';
import { applyFilterLinks, chosenValues, substituteDates } from './pro-sql.ts';

const S = 'qsaccel.profile_agg';
const MODEL: DataModel = {
  name: 'CDPInsights',
  tables: [
    {
      name: `${S}.adwh_fact_profile_by_segment`,
      type: 'fact',
      columns: [
        { name: 'date_key', type: 'DATE' },
        { name: 'merge_policy_id', type: 'INTEGER' },
        { name: 'segment_id', type: 'INTEGER' },
        { name: 'count_of_profiles', type: 'BIGINT' },
      ],
      foreignKeys: [
        { columns: ['date_key'], references: { table: `${S}.adwh_dim_date`, columns: ['date_key'] } },
        { columns: ['merge_policy_id'], references: { table: `${S}.adwh_dim_merge_policies`, columns: ['merge_policy_id'] } },
        { columns: ['segment_id'], references: { table: `${S}.adwh_dim_segments`, columns: ['segment_id'] } },
      ],
    },
    { name: `${S}.adwh_dim_date`, type: 'dimension', columns: [{ name: 'date_key', type: 'DATE' }, { name: 'month_name', type: 'VARCHAR' }] },
    { name: `${S}.adwh_dim_merge_policies`, type: 'dimension', columns: [{ name: 'merge_policy_id', type: 'INTEGER' }, { name: 'merge_policy_name', type: 'VARCHAR' }] },
    {
      name: `${S}.adwh_dim_segments`,
      type: 'dimension',
      columns: [{ name: 'segment_id', type: 'INTEGER' }, { name: 'segment_name', type: 'VARCHAR' }, { name: 'platform_id', type: 'INTEGER' }],
      foreignKeys: [{ columns: ['platform_id'], references: { table: `${S}.adwh_dim_platform`, columns: ['id'] } }],
    },
    { name: `${S}.adwh_dim_platform`, type: 'dimension', columns: [{ name: 'id', type: 'INTEGER' }, { name: 'platform_name', type: 'VARCHAR' }] },
    { name: `${S}.adwh_dim_unrelated`, type: 'none', columns: [{ name: 'thing', type: 'VARCHAR' }] },
  ],
};

describe('guided widget compiler', () => {
  it('joins the two dimensions it needs through the foreign keys, filters, groups and orders deterministically', () => {
    const compiled = compileGuided(MODEL, {
      model: 'CDPInsights',
      table: 'adwh_fact_profile_by_segment',
      x: 'adwh_dim_segments.segment_name',
      y: { attribute: 'count_of_profiles' },
      color: 'merge_policy_name',
      filters: [{ attribute: 'segment_name', exclude: ['Inactive', null] }],
      dateFilter: { mode: 'recent' },
      marks: 'bars',
    });
    assert.equal(
      compiled.sql,
      [
        'SELECT adwh_dim_segments.segment_name AS segment_name, adwh_dim_merge_policies.merge_policy_name AS merge_policy_name, sum(adwh_fact_profile_by_segment.count_of_profiles) AS sum_count_of_profiles',
        `FROM ${S}.adwh_fact_profile_by_segment AS adwh_fact_profile_by_segment`,
        `LEFT OUTER JOIN ${S}.adwh_dim_merge_policies AS adwh_dim_merge_policies ON adwh_dim_merge_policies.merge_policy_id = adwh_fact_profile_by_segment.merge_policy_id`,
        `LEFT OUTER JOIN ${S}.adwh_dim_segments AS adwh_dim_segments ON adwh_dim_segments.segment_id = adwh_fact_profile_by_segment.segment_id`,
        `WHERE adwh_fact_profile_by_segment.date_key = (SELECT max(date_key) FROM ${S}.adwh_fact_profile_by_segment)`,
        "  AND (adwh_dim_segments.segment_name NOT IN ('Inactive') AND adwh_dim_segments.segment_name IS NOT NULL)",
        'GROUP BY adwh_dim_segments.segment_name, adwh_dim_merge_policies.merge_policy_name',
        'ORDER BY segment_name, merge_policy_name',
      ].join('\n'),
    );
    assert.deepEqual(compiled.roles, { x: 'segment_name', y: 'sum_count_of_profiles', color: 'merge_policy_name' });
  });

  it('follows a snowflake path (fact → segments → platform), chosen dates, count distinct, sort by y', () => {
    const { sql } = compileGuided(MODEL, {
      model: 'CDPInsights',
      table: `${S}.adwh_fact_profile_by_segment`,
      x: 'platform_name',
      y: { attribute: 'segment_id', aggregation: 'count_distinct' },
      dateFilter: { mode: 'dates', dates: ['2024-02-01', '2024-01-01', '2024-02-01'] },
      marks: 'lines',
      sort: { by: 'y', direction: 'desc' },
      limit: 5,
    });
    assert.match(sql, /LEFT OUTER JOIN qsaccel\.profile_agg\.adwh_dim_segments AS adwh_dim_segments ON adwh_dim_segments\.segment_id = adwh_fact_profile_by_segment\.segment_id\nLEFT OUTER JOIN qsaccel\.profile_agg\.adwh_dim_platform AS adwh_dim_platform ON adwh_dim_platform\.id = adwh_dim_segments\.platform_id/);
    assert.match(sql, /count\(DISTINCT adwh_fact_profile_by_segment\.segment_id\) AS count_distinct_segment_id/);
    assert.match(sql, /date_key IN \('2024-01-01', '2024-02-01'\)/);
    assert.match(sql, /ORDER BY count_distinct_segment_id DESC, platform_name\nLIMIT 5$/);
    assert.doesNotMatch(sql, /adwh_dim_merge_policies|adwh_dim_date/, 'only the joins needed');
  });

  it('refuses what it cannot compile, with the widget error code', () => {
    const base = { model: 'CDPInsights', table: 'adwh_fact_profile_by_segment', y: { attribute: 'count_of_profiles' }, marks: 'bars' as const };
    const code = (e: Error & { code?: string }) => e.code === 'RT_DASHBOARD_WIDGET_INVALID';
    assert.throws(() => compileGuided(MODEL, { ...base, x: 'adwh_dim_unrelated.thing' }), code, 'no foreign-key path');
    assert.throws(() => compileGuided(MODEL, { ...base, x: 'nope' }), code);
    assert.throws(() => compileGuided(MODEL, { ...base, table: 'missing', x: 'segment_id' }), code);
    assert.throws(() => compileGuided(MODEL, { ...base, x: 'segment_id', y: { attribute: 'segment_name', aggregation: 'sum' } }), code, 'sum of text');
    // date_key is in the fact and in adwh_dim_date: the fact wins for an unqualified name.
    assert.match(compileGuided(MODEL, { ...base, x: 'date_key' }).sql, /^SELECT adwh_fact_profile_by_segment\.date_key AS date_key/);
  });

  it('quotes values as literals', () => {
    const { sql } = compileGuided(MODEL, {
      model: 'CDPInsights',
      table: 'adwh_fact_profile_by_segment',
      x: 'segment_name',
      y: { attribute: 'count_of_profiles', aggregation: 'max' },
      filters: [{ attribute: 'segment_name', include: ["O'Brien'); DROP TABLE x; --", 3] }],
      marks: 'points',
    });
    assert.match(sql, /IN \('O''Brien''\); DROP TABLE x; --', 3\)/);
  });
});

describe('layout', () => {
  const at = (id: string, x: number, y: number, w: number, h: number) => ({ id, layout: { x, y, w, h } });
  it('refuses overlaps and positions off the 12-column grid, accepts touching widgets', () => {
    const code = (e: Error & { code?: string }) => e.code === 'RT_DASHBOARD_LAYOUT_INVALID';
    assert.throws(() => validateLayout([at('a', 0, 0, 6, 4), at('b', 5, 3, 6, 4)]), code);
    assert.throws(() => validateLayout([at('a', 8, 0, 6, 4)]), code);
    validateLayout([at('a', 0, 0, 6, 4), at('b', 6, 0, 6, 4), at('c', 0, 4, 12, 2)]);
  });
  it('places a new widget at the first free spot', () => {
    assert.deepEqual(place([]), { x: 0, y: 0, w: 6, h: 4 });
    assert.deepEqual(place([at('a', 0, 0, 6, 4)]), { x: 6, y: 0, w: 6, h: 4 });
    assert.deepEqual(place([at('a', 0, 0, 6, 4), at('b', 6, 0, 6, 4)]), { x: 0, y: 4, w: 6, h: 4 });
  });
});

describe('query pro SQL', () => {
  const filters = [{ id: 'tier', label: 'Tier', sql: 'SELECT 1 AS id, 1 AS value' }];
  it('substitutes $START_DATE/$END_DATE after checking them', () => {
    assert.equal(substituteDates("WHERE d BETWEEN '$START_DATE' AND '$end_date'", { start: '2024-01-01', end: '2024-01-31' }), "WHERE d BETWEEN '2024-01-01' AND '2024-01-31'");
    assert.throws(() => substituteDates('$START_DATE', { start: "2024-01-01' OR 1=1 --", end: '2024-01-31' }));
    assert.throws(() => substituteDates('$START_DATE', { start: '2024-02-01', end: '2024-01-31' }));
  });
  it('applies a column link as a filter on the result and a param link as literals (NULL when nothing is chosen)', () => {
    const byColumn = { sql: 'SELECT tier, n FROM t;', marks: 'bar' as const, filterLinks: [{ filterId: 'tier', column: 'tier' }] };
    assert.equal(applyFilterLinks(byColumn.sql, byColumn, filters, { tier: ['Top', 'High'] }), "SELECT * FROM (\nSELECT tier, n FROM t\n) AS w\nWHERE w.tier IN ('Top', 'High')");
    assert.equal(applyFilterLinks(byColumn.sql, byColumn, filters, {}), 'SELECT tier, n FROM t');
    const byParam = { sql: 'SELECT * FROM t WHERE ($tier_filter) IS NULL OR tier IN ($TIER_FILTER)', marks: 'bar' as const, filterLinks: [{ filterId: 'tier', param: 'TIER_FILTER' }] };
    assert.equal(applyFilterLinks(byParam.sql, byParam, filters, { tier: [1, 2] }), 'SELECT * FROM t WHERE (1, 2) IS NULL OR tier IN (1, 2)');
    assert.equal(applyFilterLinks(byParam.sql, byParam, filters, {}), 'SELECT * FROM t WHERE (NULL) IS NULL OR tier IN (NULL)');
  });
  it('merges chosen values over the defaults and refuses unknown filters', () => {
    assert.deepEqual(chosenValues([{ ...filters[0]!, selected: ['x'] }], undefined), { tier: ['x'] });
    assert.deepEqual(chosenValues([{ ...filters[0]!, selected: ['x'] }], '{"tier":["y"]}'), { tier: ['y'] });
    assert.throws(() => chosenValues(filters, '{"other":[1]}'), (e: Error & { code?: string }) => e.code === 'RT_DASHBOARD_FILTER_INVALID');
    assert.throws(() => chosenValues(filters, '{"tier":1}'), (e: Error & { code?: string }) => e.code === 'RT_DASHBOARD_FILTER_INVALID');
  });
});

describe('chart options', () => {
  const data = {
    columns: [{ name: 'decile', type: 'INTEGER' }, { name: 'tier', type: 'VARCHAR' }, { name: 'revenue', type: 'DOUBLE' }],
    rows: [
      { decile: 1, tier: 'Top', revenue: 100 },
      { decile: 2, tier: 'High', revenue: 60 },
      { decile: 3, tier: 'High', revenue: '40' },
    ],
    cached: false,
    ms: 1,
  };
  it('splits series by color and aligns values with the categories', () => {
    const option = buildChart(data, { title: 'R', marks: 'bars', encoding: { x: 'decile', y: ['revenue'], color: 'tier' }, properties: { legend: { placement: 'right', title: 'Tier' }, axisLabels: { y: 'Revenue' } } });
    assert.deepEqual((option.xAxis as { data: string[] }).data, ['1', '2', '3']);
    assert.deepEqual((option.series as { name: string; data: unknown[] }[]).map((s) => [s.name, s.data]), [['Top', [100, null, null]], ['High', [null, 60, 40]]]);
    assert.equal((option.legend as { orient: string }).orient, 'vertical');
    assert.equal((option.title as { text: string }[])[1]!.text, 'Tier');
    assert.equal((option.yAxis as { name: string }).name, 'Revenue');
  });
  it('defaults the encoding of query pro results and builds donut and big number', () => {
    assert.deepEqual(defaultEncoding(data, 'line'), { x: 'decile', y: ['revenue'] });
    const donut = buildChart(data, { title: 'D', marks: 'donut', encoding: defaultEncoding(data, 'donut', { color: 'tier' }) });
    assert.deepEqual((donut.series as { data: unknown[] }[])[0]!.data, [{ name: 'Top', value: 100 }, { name: 'High', value: 60 }, { name: 'High', value: 40 }]);
    const big = buildChart(data, { title: 'B', marks: 'big-number', encoding: { value: 'revenue' } });
    assert.equal((big.graphic as { style: { text: string } }[])[0]!.style.text, '100');
    assert.throws(() => buildChart(data, { title: 'x', marks: 'line', encoding: { x: 'nope', y: ['revenue'] } }), (e: Error & { code?: string }) => e.code === 'RT_DASHBOARD_WIDGET_INVALID');
  });
});
