/**
 * Builds and refreshes CDPInsights, incrementally and atomically.
 *
 * Meaning of the facts: for each merge policy and each date of the window (the 30 days up to the process
 * date), the profiles as of the end of that day, restated under today's identity graph: a profile counts from
 * its first record's date (an event's time, or the commit date of the snapshot that brought a profile record),
 * with the namespaces and CLV it has now. Audience facts replay the membership transitions (history, plus
 * current rows that have none) day by day. Overlaps and CLV facts are stated for the process date.
 *
 * Incremental: per source dataset a checkpoint holds the last snapshot processed. A refresh finds the records
 * of the snapshots committed since, the profiles they touch (and every node of those graphs, which covers
 * profile ids that a merge made disappear), recomputes only those profiles' rows in `_rt_insights_profiles`,
 * turns the old and new rows into a per-first-date delta of `_rt_insights_daily`, and recomputes the facts of
 * the dates from the earliest date the delta touches (a late-arriving record for an old date reprocesses that
 * date and the days after it). Audience, overlap and CLV facts are small aggregates recomputed each time.
 *
 * Atomic: everything (state tables, facts, dimensions, checkpoints, the delta log) is written in one DuckDB
 * transaction on one connection; other connections read the previous model until COMMIT, and a failure
 * rolls all of it back.
 */
import { RoundtripError } from '../core/errors.ts';
import { MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE } from '../audiences/membership-tables.ts';
import { NODES, RECORDS } from '../identity/store.ts';
import { positionedRowsSql } from '../identity/positions.ts';
import type { DatasetRecord, MergePolicyRecord } from '../ports/metadata-store.ts';
import type { ColumnSpec, WarehouseSession } from '../ports/warehouse.ts';
import { registerAcceleratedDatabase } from '../query/accelerated.ts';
import { CDP_DATABASE, CDP_MODEL, CDP_SCHEMA, CDP_TABLES, cdp, clvTierSql, constraintRows, CLV_TIERS } from './cdp-model.ts';
import type { RefreshStep } from './types.ts';

export const PROFILE_STATE = '_rt_insights_profiles';
export const DAILY_STATE = '_rt_insights_daily';
export const CHECKPOINTS = '_rt_insights_checkpoints';
export const MODEL_STATE = '_rt_insights_state';
const CONSTRAINTS = '_rt_table_constraints';

export const WINDOW_DAYS = 30;

/** The UTC day of a TIMESTAMPTZ, without a time-zone conversion per row. */
const utcDay = (ts: string) => `(DATE '1970-01-01' + floor(epoch(${ts}) / 86400)::INTEGER)`;
const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

const SETUP = [
  `CREATE TABLE IF NOT EXISTS ${PROFILE_STATE} (merge_policy_id INTEGER, profile_id BIGINT, first_date DATE, namespaces VARCHAR[], identity_count INTEGER, clv_decile INTEGER, predicted_clv DOUBLE, revenue DOUBLE)`,
  `CREATE TABLE IF NOT EXISTS ${DAILY_STATE} (merge_policy_id INTEGER, first_date DATE, namespaces VARCHAR[], single BOOLEAN, n BIGINT)`,
  `CREATE TABLE IF NOT EXISTS ${CHECKPOINTS} (model VARCHAR, dataset_id VARCHAR, table_name VARCHAR, snapshot_id BIGINT)`,
  `CREATE TABLE IF NOT EXISTS ${MODEL_STATE} (model VARCHAR, signature VARCHAR, graph_version BIGINT, process_date DATE, refreshed_at TIMESTAMPTZ, audience_fingerprint VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS ${CONSTRAINTS} (table_name VARCHAR, kind VARCHAR, columns VARCHAR[], ref_table VARCHAR, ref_columns VARCHAR[], created_at TIMESTAMPTZ)`,
];

/** A 32-bit signed id from a text id (the reference's ids are int hashes of the source ids). */
const HASH_MACRO = `CREATE OR REPLACE TEMP MACRO rt_hash32(x) AS ((hash(x::VARCHAR) % 4294967296)::BIGINT - 2147483648)::INTEGER`;

export interface ClvSource {
  dataset: DatasetRecord;
  /** The tenant struct column holding `customerId`, `clvPrediction`/`clvHistory`. */
  column: string;
  kind: 'predictions' | 'attributes';
}

export interface RefreshInput {
  session: WarehouseSession;
  policies: MergePolicyRecord[];
  /** Profile-enabled datasets: their committed snapshots, with the UTC commit date. */
  sources: { dataset: DatasetRecord; snapshots: { snapshotId: number; date: string }[] }[];
  clv: ClvSource[];
  processDate: string;
  graphVersion: number;
  full: boolean;
  /** Called before each step (tests inject failures here). */
  beforeStep: (step: string) => Promise<void> | void;
}

export interface RefreshOutcome {
  mode: 'full' | 'incremental';
  checkpoints: { datasetId: string; table: string; from: number; to: number }[];
  datesRecomputed: number;
  profilesRecomputed: number;
  steps: RefreshStep[];
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** What makes earlier state unusable: the policies, the source datasets, the CLV columns, the window. */
function signatureOf(input: RefreshInput): string {
  return JSON.stringify({
    policies: input.policies.map((p) => [p.id, p.idStitching, p.name]),
    sources: input.sources.map((s) => s.dataset.id).sort(),
    clv: input.clv.map((c) => [c.dataset.id, c.column, c.kind]),
    window: WINDOW_DAYS,
  });
}

/** The tenant struct of a CLV dataset's table: the column holding `field` (e.g. `clvPrediction`). */
export function tenantColumn(columns: readonly ColumnSpec[], field: string): string | undefined {
  return columns.find((c) => c.type.kind === 'struct' && c.type.fields.some((f) => f.name === field))?.name;
}

export class CdpRefresh {
  private readonly steps: RefreshStep[] = [];
  private readonly q: (sql: string) => Promise<Record<string, unknown>[]>;

  constructor(private readonly input: RefreshInput) {
    this.q = async (sql) => {
      try {
        return (await input.session.query(sql)).rows;
      } catch (error) {
        if (error instanceof RoundtripError) throw new RoundtripError(error.code, error.message, { statement: sql.trim().slice(0, 300) });
        throw error;
      }
    };
  }

  private async step<T>(name: string, work: () => Promise<T>): Promise<T> {
    await this.input.beforeStep(name);
    const started = performance.now();
    const out = await work();
    this.steps.push({ name, ms: Math.round((performance.now() - started) * 10) / 10 });
    return out;
  }

  /** Runs the whole refresh in one transaction. */
  async run(): Promise<RefreshOutcome> {
    const { session } = this.input;
    await session.query('BEGIN TRANSACTION');
    try {
      const outcome = await this.build();
      await this.input.beforeStep('commit');
      await session.query('COMMIT');
      return outcome;
    } catch (error) {
      await session.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private async build(): Promise<RefreshOutcome> {
    const { input } = this;
    await this.step('setup', async () => {
      await this.q(`CREATE SCHEMA IF NOT EXISTS ${ident(CDP_DATABASE)}; CREATE SCHEMA IF NOT EXISTS ${ident(CDP_SCHEMA)}`);
      await registerAcceleratedDatabase(input.session, CDP_DATABASE, 'acp_query_batch');
      for (const [table, columns] of Object.entries(CDP_TABLES)) await this.q(`CREATE TABLE IF NOT EXISTS ${cdp(table)} (${columns})`);
      for (const statement of SETUP) await this.q(statement);
      await this.q(HASH_MACRO);
      await this.loadReferenceTables();
    });
    const previous = (await this.q(`SELECT signature, graph_version, strftime(process_date, '%Y-%m-%d') AS process_date, audience_fingerprint FROM ${MODEL_STATE} WHERE model = ${lit(CDP_MODEL)}`))[0];
    const checkpoints = new Map((await this.q(`SELECT dataset_id, snapshot_id FROM ${CHECKPOINTS} WHERE model = ${lit(CDP_MODEL)}`)).map((r) => [r.dataset_id as string, Number(r.snapshot_id)]));
    const newSnapshots = input.sources.flatMap((s) => s.snapshots.filter((x) => x.snapshotId > (checkpoints.get(s.dataset.id) ?? 0)).map((x) => ({ ds: s.dataset.id, snap: x.snapshotId })));
    const graphMoved = previous !== undefined && Number(previous.graph_version) !== input.graphVersion;
    const full =
      input.full ||
      previous === undefined ||
      previous.signature !== signatureOf(input) ||
      (previous.process_date as string) > input.processDate ||
      // The graph changed without new records (an unmerge, a privacy delete): which profiles moved is unknown.
      (graphMoved && newSnapshots.length === 0);

    const windowStart = addDays(input.processDate, -(WINDOW_DAYS - 1));
    let fromDate = windowStart;
    let profiles = 0;
    let membersChanged = true;
    if (full) {
      profiles = await this.step('profiles', () => this.rebuildProfiles());
    } else {
      const touched = await this.step('profiles', () => this.updateProfiles(newSnapshots));
      profiles = touched.profiles;
      membersChanged = touched.membersChanged;
      const previousNext = addDays(previous.process_date as string, 1);
      const earliest = [touched.earliest, previousNext].filter((d): d is string => d !== null).sort()[0] ?? previousNext;
      fromDate = earliest > windowStart ? earliest : windowStart;
    }
    const dates = fromDate <= input.processDate ? Math.round((Date.parse(input.processDate) - Date.parse(fromDate)) / 86_400_000) + 1 : 0;
    await this.step('dimensions', () => this.dimensions(windowStart));
    await this.step('profile facts', () => this.profileFacts(windowStart, fromDate));
    const fingerprint = await this.audienceFingerprint();
    // Audience facts depend on the membership tables, the process date and the members' namespaces and CLV only.
    const audiencesCurrent = !full && !membersChanged && previous?.audience_fingerprint === fingerprint && previous.process_date === input.processDate;
    if (!audiencesCurrent) await this.step('audience facts', () => this.audienceFacts(windowStart));
    await this.step('clv facts', () => this.clvFacts());
    await this.step('checkpoint', () => this.checkpoint(fingerprint));
    return {
      mode: full ? 'full' : 'incremental',
      checkpoints: input.sources.map((s) => ({
        datasetId: s.dataset.id,
        table: s.dataset.tableName,
        from: full ? 0 : (checkpoints.get(s.dataset.id) ?? 0),
        to: s.snapshots[s.snapshots.length - 1]?.snapshotId ?? 0,
      })),
      datesRecomputed: dates,
      profilesRecomputed: profiles,
      steps: this.steps,
    };
  }

  /** Policies and snapshot dates as temp tables; `rt_ins_snaps` also says which datasets feed profiles. */
  private async loadReferenceTables(): Promise<void> {
    const { policies, sources } = this.input;
    const policyRows = policies.map((p) => `(${lit(p.id)}, rt_hash32(${lit(p.id)}), ${lit(p.name)}, ${lit(p.idStitching)}, ${p.isDefault})`);
    await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_policies (policy VARCHAR, merge_policy_id INTEGER, name VARCHAR, stitching VARCHAR, is_default BOOLEAN)`);
    if (policyRows.length) await this.q(`INSERT INTO rt_ins_policies VALUES ${policyRows.join(', ')}`);
    await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_snaps (ds VARCHAR, snap BIGINT, d DATE)`);
    const snapRows = sources.flatMap((s) => s.snapshots.map((x) => `(${lit(s.dataset.id)}, ${x.snapshotId}, DATE ${lit(x.date)})`));
    for (let i = 0; i < snapRows.length; i += 5000) await this.q(`INSERT INTO rt_ins_snaps VALUES ${snapRows.slice(i, i + 5000).join(', ')}`);
  }

  /** The SELECT of `_rt_insights_profiles` rows of one policy, optionally only for the profiles in `rt_ins_scope`. */
  private profileRowsSql(policy: MergePolicyRecord, scoped: boolean): string {
    const graph = policy.idStitching === 'none' ? 'node' : 'graph';
    const of = (alias: string) => `${alias}.${graph}`;
    const scope = (expr: string) => (scoped ? `AND ${expr} IN (SELECT profile_id FROM rt_ins_scope)` : '');
    const clv = this.input.clv.map((c) => {
      const t = ident(c.column);
      const value = c.kind === 'predictions' ? `t.${t}.clvPrediction.predictedClv` : `t.${t}.clvHistory.lifetime.revenue`;
      const decile = c.kind === 'predictions' ? `t.${t}.clvPrediction.clvDecile` : 'NULL::INTEGER';
      return `SELECT ${of('n')} AS profile_id, r.node, ${lit(c.kind)} AS kind, arg_max(${decile}, t."_rt_snapshot_id" * 4294967296 + t._rt_seq) AS decile,
          arg_max(${value}, t."_rt_snapshot_id" * 4294967296 + t._rt_seq)::DOUBLE AS value
        FROM ${positionedRowsSql(c.dataset.tableName)} t JOIN ${RECORDS} r ON r.ds = ${lit(c.dataset.id)} AND r.snap = t."_rt_snapshot_id" AND r.seq = t._rt_seq AND r.ord = 0
        JOIN ${NODES} n ON n.node = r.node WHERE true ${scope(of('n'))} GROUP BY ALL`;
    });
    const clvSelect = clv.length
      ? `SELECT profile_id, min(decile) FILTER (WHERE kind = 'predictions') AS clv_decile, sum(value) FILTER (WHERE kind = 'predictions') AS predicted_clv,
          sum(value) FILTER (WHERE kind = 'attributes') AS revenue FROM (${clv.join(' UNION ALL ')}) GROUP BY profile_id`
      : `SELECT NULL::BIGINT AS profile_id, NULL::INTEGER AS clv_decile, NULL::DOUBLE AS predicted_clv, NULL::DOUBLE AS revenue WHERE false`;
    return `WITH anchors AS (
        SELECT ${of('n')} AS profile_id, min(coalesce(${utcDay('r.ts')}, s.d)) AS first_date
        FROM ${RECORDS} r JOIN ${NODES} n ON n.node = r.node JOIN rt_ins_snaps s ON s.ds = r.ds AND s.snap = r.snap
        WHERE r.ord = 0 ${scope(of('n'))} GROUP BY 1),
      members AS (
        SELECT ${graph} AS profile_id, list_sort(list(DISTINCT lower(ns))) AS namespaces, count(*)::INTEGER AS identity_count
        FROM ${NODES} WHERE ${graph} IN (SELECT profile_id FROM anchors) GROUP BY 1),
      clv AS (${clvSelect})
      SELECT rt_hash32(${lit(policy.id)}) AS merge_policy_id, a.profile_id, a.first_date, m.namespaces, m.identity_count, c.clv_decile, c.predicted_clv, c.revenue
      FROM anchors a JOIN members m USING (profile_id) LEFT JOIN clv c USING (profile_id)`;
  }

  private async rebuildProfiles(): Promise<number> {
    await this.q(`DELETE FROM ${PROFILE_STATE}`);
    for (const policy of this.input.policies) await this.q(`INSERT INTO ${PROFILE_STATE} ${this.profileRowsSql(policy, false)}`);
    await this.q(`DELETE FROM ${DAILY_STATE}`);
    await this.q(`INSERT INTO ${DAILY_STATE} SELECT merge_policy_id, first_date, namespaces, identity_count = 1, count(*) FROM ${PROFILE_STATE} GROUP BY ALL`);
    return Number((await this.q(`SELECT count(*) AS n FROM ${PROFILE_STATE}`))[0]?.n ?? 0);
  }

  /** Recomputes the profiles the new snapshots touch; returns how many and the earliest date their change affects. */
  private async updateProfiles(newSnapshots: { ds: string; snap: number }[]): Promise<{ profiles: number; earliest: string | null; membersChanged: boolean }> {
    await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_new (ds VARCHAR, snap BIGINT)`);
    for (let i = 0; i < newSnapshots.length; i += 5000) {
      await this.q(`INSERT INTO rt_ins_new VALUES ${newSnapshots.slice(i, i + 5000).map((s) => `(${lit(s.ds)}, ${s.snap})`).join(', ')}`);
    }
    await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_touched AS SELECT DISTINCT r.node FROM ${RECORDS} r JOIN rt_ins_new s ON s.ds = r.ds AND s.snap = r.snap`);
    await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_delta (merge_policy_id INTEGER, first_date DATE, namespaces VARCHAR[], single BOOLEAN, n BIGINT)`);
    await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_old AS SELECT * FROM ${PROFILE_STATE} WHERE false`);
    await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_fresh AS SELECT * FROM ${PROFILE_STATE} WHERE false`);
    let profiles = 0;
    for (const policy of this.input.policies) {
      const mp = `rt_hash32(${lit(policy.id)})`;
      if (policy.idStitching === 'none') {
        await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_scope AS SELECT node AS profile_id FROM rt_ins_touched`);
        await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_stale AS SELECT profile_id FROM rt_ins_scope`);
      } else {
        await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_scope AS SELECT DISTINCT graph AS profile_id FROM ${NODES} WHERE node IN (SELECT node FROM rt_ins_touched)`);
        // Every node of a touched graph: an old profile id that a merge absorbed is one of them.
        await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_stale AS SELECT node AS profile_id FROM ${NODES} WHERE graph IN (SELECT profile_id FROM rt_ins_scope)`);
      }
      const own = `merge_policy_id = ${mp} AND profile_id IN`;
      await this.q(`INSERT INTO rt_ins_delta SELECT merge_policy_id, first_date, namespaces, identity_count = 1, -count(*) FROM ${PROFILE_STATE} WHERE ${own} (SELECT profile_id FROM rt_ins_stale) GROUP BY ALL`);
      await this.q(`INSERT INTO rt_ins_old SELECT * FROM ${PROFILE_STATE} WHERE ${own} (SELECT profile_id FROM rt_ins_stale)`);
      await this.q(`DELETE FROM ${PROFILE_STATE} WHERE ${own} (SELECT profile_id FROM rt_ins_stale)`);
      await this.q(`INSERT INTO rt_ins_fresh ${this.profileRowsSql(policy, true)}`);
      await this.q(`INSERT INTO ${PROFILE_STATE} SELECT * FROM rt_ins_fresh WHERE merge_policy_id = ${mp}`);
      const added = await this.q(`INSERT INTO rt_ins_delta SELECT merge_policy_id, first_date, namespaces, identity_count = 1, count(*) FROM ${PROFILE_STATE} WHERE ${own} (SELECT profile_id FROM rt_ins_scope) GROUP BY ALL RETURNING n`);
      profiles += added.reduce((sum, r) => sum + Number(r.n), 0);
    }
    // Old and new contributions net out per (policy, first date, namespaces, single); zero rows disappear.
    await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_daily AS SELECT merge_policy_id, first_date, namespaces, single, sum(n)::BIGINT AS n
      FROM (SELECT * FROM ${DAILY_STATE} UNION ALL SELECT * FROM rt_ins_delta) GROUP BY ALL HAVING sum(n) <> 0`);
    await this.q(`DELETE FROM ${DAILY_STATE}`);
    await this.q(`INSERT INTO ${DAILY_STATE} SELECT * FROM rt_ins_daily`);
    const earliest = (await this.q(`SELECT strftime(min(first_date), '%Y-%m-%d') AS d FROM (SELECT first_date FROM rt_ins_delta GROUP BY ALL HAVING sum(n) <> 0)`))[0]?.d;
    // Profiles whose audience-relevant state (existence, namespaces, CLV) changed, and whether any is a member.
    const relevant = 'merge_policy_id, profile_id, namespaces, clv_decile, predicted_clv';
    const members = await this.q(`SELECT count(*) AS n FROM ((SELECT ${relevant} FROM rt_ins_old EXCEPT SELECT ${relevant} FROM rt_ins_fresh)
      UNION (SELECT ${relevant} FROM rt_ins_fresh EXCEPT SELECT ${relevant} FROM rt_ins_old)) c
      WHERE c.profile_id IN (SELECT profile_id FROM ${MEMBERSHIP_TABLE}) OR c.profile_id IN (SELECT profile_id FROM ${MEMBERSHIP_HISTORY_TABLE})`);
    return { profiles, earliest: (earliest as string | null) ?? null, membersChanged: Number(members[0]?.n ?? 0) > 0 };
  }

  /** Dimensions are small: rewritten every time. */
  private async dimensions(windowStart: string): Promise<void> {
    const { processDate } = this.input;
    const replace = async (table: string, select: string) => {
      await this.q(`DELETE FROM ${cdp(table)}`);
      await this.q(`INSERT INTO ${cdp(table)} ${select}`);
    };
    await replace(
      'adwh_dim_date',
      `SELECT d::DATE, year(d), quarter(d), month(d), monthname(d), day(d), isodow(d), dayname(d), weekofyear(d)
       FROM range(DATE ${lit(windowStart)}, DATE ${lit(processDate)} + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)`,
    );
    await replace('adwh_dim_merge_policies', `SELECT merge_policy_id, name, policy, is_default FROM rt_ins_policies`);
    await replace('adwh_dim_namespaces', `SELECT DISTINCT rt_hash32(ns), merge_policy_id, ns FROM (SELECT merge_policy_id, unnest(namespaces) AS ns FROM ${DAILY_STATE})`);
    await replace(
      'adwh_dim_overlap_namespaces',
      `SELECT DISTINCT rt_hash32(array_to_string(namespaces, ',')), merge_policy_id, unnest(namespaces) FROM ${DAILY_STATE} WHERE len(namespaces) > 1`,
    );
    const tiers = CLV_TIERS.flatMap((t) => Array.from({ length: t.to - t.from + 1 }, (_, i) => `(${t.from + i}, ${lit(t.tier)}, ${lit(`Decile ${t.from + i}`)})`));
    await replace('adwh_dim_clv_deciles', `VALUES ${tiers.join(', ')}`);
    // Audiences: their ids from the membership tables; names come with the audiences' definitions (none yet).
    await replace(
      'adwh_dim_segments',
      `SELECT rt_hash32(segment_id), segment_id, segment_id, min("at")::DATE FROM (
         SELECT segment_id, "at" FROM ${MEMBERSHIP_HISTORY_TABLE} UNION ALL SELECT segment_id, last_qualification_time FROM ${MEMBERSHIP_TABLE}) GROUP BY segment_id`,
    );
    const rows = constraintRows();
    const recorded = await this.q(`SELECT count(DISTINCT (table_name, kind, columns)) AS n FROM ${CONSTRAINTS} WHERE starts_with(table_name, ${lit(`${CDP_SCHEMA}.`)})`);
    if (Number(recorded[0]?.n ?? 0) >= rows.length) return;
    for (const row of rows) {
      const exists = await this.q(`SELECT 1 FROM ${CONSTRAINTS} WHERE table_name = ${lit(row.table)} AND kind = ${lit(row.kind)} AND columns = [${row.columns.map(lit).join(', ')}]::VARCHAR[]`);
      if (exists.length) continue;
      const refs = row.refColumns ? `[${row.refColumns.map(lit).join(', ')}]::VARCHAR[]` : 'NULL';
      await this.q(`INSERT INTO ${CONSTRAINTS} VALUES (${lit(row.table)}, ${lit(row.kind)}, [${row.columns.map(lit).join(', ')}]::VARCHAR[], ${row.refTable ? lit(row.refTable) : 'NULL'}, ${refs}, now())`);
    }
  }

  /** Profile, namespace and namespace-overlap facts of the dates from `fromDate`, cumulated from the daily state. */
  private async profileFacts(windowStart: string, fromDate: string): Promise<void> {
    const { processDate } = this.input;
    await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_dates AS SELECT d::DATE AS date_key FROM range(DATE ${lit(fromDate)}, DATE ${lit(processDate)} + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)`);
    const cumulative = `(SELECT d.date_key, x.* FROM rt_ins_dates d JOIN ${DAILY_STATE} x ON x.first_date <= d.date_key)`;
    const facts: Record<string, string> = {
      adwh_fact_profile: `SELECT date_key, merge_policy_id, sum(n), coalesce(sum(n) FILTER (WHERE single), 0) FROM ${cumulative} GROUP BY ALL`,
      adwh_fact_profile_by_namespace: `SELECT date_key, merge_policy_id, rt_hash32(ns), sum(n), coalesce(sum(n) FILTER (WHERE single), 0)
        FROM (SELECT date_key, merge_policy_id, unnest(namespaces) AS ns, n, single FROM ${cumulative}) GROUP BY ALL`,
      adwh_fact_profile_overlap_of_namespace: `SELECT date_key, merge_policy_id, rt_hash32(array_to_string(namespaces, ',')), sum(n) FROM ${cumulative} WHERE len(namespaces) > 1 GROUP BY ALL`,
    };
    for (const [table, select] of Object.entries(facts)) {
      await this.q(`DELETE FROM ${cdp(table)} WHERE date_key >= DATE ${lit(fromDate)} OR date_key < DATE ${lit(windowStart)}`);
      await this.q(`INSERT INTO ${cdp(table)} ${select} HAVING sum(n) <> 0`);
    }
    await this.q(`DELETE FROM ${cdp('adwh_fact_profile_by_namespace_trendlines')}`);
    await this.q(`INSERT INTO ${cdp('adwh_fact_profile_by_namespace_trendlines')} SELECT * FROM ${cdp('adwh_fact_profile_by_namespace')}`);
  }

  /**
   * Audience facts from the membership transitions: per (audience, policy, profile) and day the last status,
   * as intervals; a profile is a member on day D when a realized interval covers D.
   */
  private async audienceFacts(windowStart: string): Promise<void> {
    const { processDate } = this.input;
    await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_members AS
      WITH transitions AS (
        SELECT segment_id, merge_policy_id, profile_id, status, "at" FROM ${MEMBERSHIP_HISTORY_TABLE}
        UNION ALL
        SELECT m.segment_id, m.merge_policy_id, m.profile_id, m.status, m.last_qualification_time FROM ${MEMBERSHIP_TABLE} m
        WHERE NOT EXISTS (SELECT 1 FROM ${MEMBERSHIP_HISTORY_TABLE} h WHERE h.segment_id = m.segment_id AND h.merge_policy_id = m.merge_policy_id AND h.profile_id = m.profile_id)),
      daily AS (
        SELECT segment_id, merge_policy_id, profile_id, ${utcDay('"at"')} AS day, arg_max(status, "at") AS status FROM transitions GROUP BY ALL),
      intervals AS (
        SELECT *, lead(day) OVER (PARTITION BY segment_id, merge_policy_id, profile_id ORDER BY day) AS until FROM daily)
      SELECT rt_hash32(i.segment_id) AS segment_id, p.merge_policy_id, i.profile_id, i.day, i.until
      FROM intervals i JOIN rt_ins_policies p ON p.policy = i.merge_policy_id WHERE i.status = 'realized'`);
    const ws = `DATE ${lit(windowStart)}`;
    const pd = `DATE ${lit(processDate)}`;
    // Intervals that matter for the window; a day before it counts from its first date.
    await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_window AS SELECT segment_id, merge_policy_id, profile_id, greatest(day, ${ws}) AS day, until
      FROM rt_ins_members WHERE day <= ${pd} AND (until IS NULL OR until > ${ws})`);
    await this.q(`CREATE OR REPLACE TEMP TABLE rt_ins_current AS SELECT segment_id, merge_policy_id, profile_id FROM rt_ins_window WHERE until IS NULL OR until > ${pd}`);
    // Members per day without materialising member-days: +1 where an interval starts, -1 where it ends, summed up to each date.
    const perDay = (keys: string, from: string) => `WITH delta AS (
        SELECT ${keys}, day AS d, count(*) AS n FROM ${from} GROUP BY ALL
        UNION ALL SELECT ${keys}, until AS d, -count(*) AS n FROM ${from} WHERE until IS NOT NULL AND until <= ${pd} GROUP BY ALL)
      SELECT dd.date_key, ${keys.split(', ').map((k) => `x.${k}`).join(', ')}, sum(x.n) AS count_of_profiles FROM ${cdp('adwh_dim_date')} dd JOIN delta x ON x.d <= dd.date_key
      GROUP BY ALL HAVING sum(x.n) <> 0`;
    const withProfile = (from: string) => `${from} m JOIN ${PROFILE_STATE} p ON p.merge_policy_id = m.merge_policy_id AND p.profile_id = m.profile_id`;
    const facts: Record<string, string> = {
      adwh_fact_profile_by_segment: `SELECT date_key, merge_policy_id, segment_id, count_of_profiles FROM (${perDay('merge_policy_id, segment_id', 'rt_ins_window')})`,
      adwh_fact_profile_by_segment_and_namespace: `SELECT date_key, merge_policy_id, segment_id, rt_hash32(ns), count_of_profiles FROM (${perDay(
        'merge_policy_id, segment_id, ns',
        `(SELECT m.merge_policy_id, m.segment_id, unnest(p.namespaces) AS ns, m.day, m.until FROM ${withProfile('rt_ins_window')})`,
      )})`,
      adwh_fact_profile_overlap_of_namespace_by_segment: `SELECT ${pd}, m.merge_policy_id, m.segment_id, rt_hash32(array_to_string(p.namespaces, ',')), count(*)
        FROM ${withProfile('rt_ins_current')} WHERE len(p.namespaces) > 1 GROUP BY ALL`,
      adwh_fact_profile_overlap_of_segments: `SELECT ${pd}, a.merge_policy_id, a.segment_id, b.segment_id, count(*) FROM rt_ins_current a
        JOIN rt_ins_current b ON b.merge_policy_id = a.merge_policy_id AND b.profile_id = a.profile_id AND b.segment_id > a.segment_id GROUP BY ALL`,
      adwh_fact_profile_by_segment_and_clv_decile: `SELECT ${pd}, m.merge_policy_id, m.segment_id, p.clv_decile, count(*), sum(p.predicted_clv)
        FROM ${withProfile('rt_ins_current')} WHERE p.clv_decile IS NOT NULL GROUP BY ALL`,
    };
    for (const [table, select] of Object.entries(facts)) {
      await this.q(`DELETE FROM ${cdp(table)}`);
      await this.q(`INSERT INTO ${cdp(table)} ${select}`);
    }
    for (const table of ['adwh_fact_profile_by_segment', 'adwh_fact_profile_by_segment_and_namespace']) {
      await this.q(`DELETE FROM ${cdp(`${table}_trendlines`)}`);
      await this.q(`INSERT INTO ${cdp(`${table}_trendlines`)} SELECT * FROM ${cdp(table)}`);
    }
  }

  /** CLV by decile and tier, the predicted-CLV distribution (20 equal-width buckets up to the maximum). */
  private async clvFacts(): Promise<void> {
    const date = `DATE ${lit(this.input.processDate)}`;
    await this.q(`DELETE FROM ${cdp('adwh_fact_clv_decile')}`);
    await this.q(`INSERT INTO ${cdp('adwh_fact_clv_decile')} SELECT ${date}, merge_policy_id, clv_decile, ${clvTierSql('clv_decile')}, count(*), sum(predicted_clv), sum(revenue)
      FROM ${PROFILE_STATE} WHERE clv_decile IS NOT NULL GROUP BY ALL`);
    await this.q(`DELETE FROM ${cdp('adwh_fact_clv_distribution')}`);
    await this.q(`INSERT INTO ${cdp('adwh_fact_clv_distribution')}
      WITH bounds AS (SELECT merge_policy_id, greatest(max(predicted_clv), 1e-9) / 20 AS width FROM ${PROFILE_STATE} WHERE predicted_clv IS NOT NULL GROUP BY 1)
      SELECT ${date}, p.merge_policy_id, least(floor(greatest(p.predicted_clv, 0) / b.width), 19)::INTEGER AS bucket,
        least(floor(greatest(p.predicted_clv, 0) / b.width), 19) * b.width, (least(floor(greatest(p.predicted_clv, 0) / b.width), 19) + 1) * b.width, count(*)
      FROM ${PROFILE_STATE} p JOIN bounds b USING (merge_policy_id) WHERE p.predicted_clv IS NOT NULL GROUP BY ALL`);
  }

  /** Checkpoints, model state and the process log, in the same transaction as the facts. */
  /** Changes to the membership tables show in their row counts, versions and latest times. */
  private async audienceFingerprint(): Promise<string> {
    const rows = await this.q(`SELECT (SELECT count(*) || '/' || coalesce(sum(version), 0) || '/' || coalesce(max(last_qualification_time)::VARCHAR, '') FROM ${MEMBERSHIP_TABLE})
      || '|' || (SELECT count(*) || '/' || coalesce(max("at")::VARCHAR, '') FROM ${MEMBERSHIP_HISTORY_TABLE}) AS f`);
    return (rows[0]?.f as string | undefined) ?? '';
  }

  private async checkpoint(fingerprint: string): Promise<void> {
    const { input } = this;
    await this.q(`DELETE FROM ${CHECKPOINTS} WHERE model = ${lit(CDP_MODEL)}`);
    const rows = input.sources.map((s) => `(${lit(CDP_MODEL)}, ${lit(s.dataset.id)}, ${lit(s.dataset.tableName)}, ${s.snapshots[s.snapshots.length - 1]?.snapshotId ?? 0})`);
    if (rows.length) await this.q(`INSERT INTO ${CHECKPOINTS} VALUES ${rows.join(', ')}`);
    await this.q(`DELETE FROM ${MODEL_STATE} WHERE model = ${lit(CDP_MODEL)}`);
    await this.q(`INSERT INTO ${MODEL_STATE} VALUES (${lit(CDP_MODEL)}, ${lit(signatureOf(input))}, ${input.graphVersion}, DATE ${lit(input.processDate)}, now(), ${lit(fingerprint)})`);
    await this.q(`DELETE FROM ${cdp('adwh_lkup_process_delta_log')} WHERE process_name = 'FACT_TABLES_PROCESSING' AND process_date = DATE ${lit(input.processDate)}`);
    await this.q(`INSERT INTO ${cdp('adwh_lkup_process_delta_log')} SELECT 'FACT_TABLES_PROCESSING', merge_policy_id, 'SUCCESSFUL', DATE ${lit(input.processDate)}, now()::TIMESTAMP, now()::TIMESTAMP FROM rt_ins_policies`);
  }
}
