/**
 * Builds and refreshes CDPInsights, incrementally and atomically.
 *
 * Meaning of the facts: for each merge policy and each date of the window (the 30 days up to the process
 * date), the profiles as of the end of that day, restated under today's identity graph: a profile counts from
 * its first record's date (an event's time, or the commit date of the snapshot that brought a profile record),
 * with the namespaces and CLV it has now. Audience facts replay the membership transitions (history, plus
 * current rows that have none) day by day. Overlaps and CLV facts are stated for the process date.
 *
 * Incremental: the refresh takes the snapshots the identity graph applied since the last one (and makes itself
 * full when the graph changed in a way they do not explain: an unmerge, a privacy delete, a rebuild). The
 * profiles of the touched graphs are recomputed from a copy of those graphs' nodes (read from the identity
 * graph's change log when it lists every version since, else found by scanning the nodes): first dates fold from the
 * old rows of the profiles a graph now covers and the new records' dates (merges only join whole profiles),
 * CLV from per-identity state (latest value); the old and new rows turn into a per-first-date delta of
 * `_rt_insights_daily`; the facts of the dates from the earliest date the delta touches are recomputed (a
 * late-arriving record for an old date reprocesses that date and the days after it). Audience facts keep
 * membership intervals and their day deltas as state and recompute only the profiles with new transitions (or
 * changed profiles) while the membership tables only grew, from their old intervals and the transitions since
 * the checkpoint (never their whole history); CLV facts are recomputed when a profile's CLV changed.
 *
 * Atomic: everything (state tables, facts, dimensions, checkpoints, the delta log) is written in one DuckDB
 * transaction on one connection; other connections read the previous model until COMMIT, and a failure
 * rolls all of it back.
 */
import { RoundtripError } from '../core/errors.ts';
import { MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE } from '../audiences/membership-tables.ts';
import { ACTIVATION_LOG_TABLE, ACTIVATION_MAPPINGS_TABLE } from '../activation/activation-log.ts';
import { APPLIED, CHANGE_LOG, CHANGES, NODES, RECORDS, STATE } from '../identity/store.ts';
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
/**
 * Per anchor identity (a node with a record of its own) the date of its first record was kept here: profiles now
 * fold their first dates (see `profileRowsSql`), and a full rebuild drops the table left by older versions.
 */
const OLD_NODE_STATE = '_rt_insights_nodes';
/** Per identity and CLV kind: the latest non-null decile and value of its CLV records, with their positions. */
export const NODE_CLV = '_rt_insights_node_clv';
/** Namespace sets by id (the 32-bit hash of the sorted, comma-joined namespaces, like the model's overlap ids). */
export const NS_SETS = '_rt_insights_ns_sets';
/** Realized membership intervals per (audience, policy, profile), with the profile's namespace set and CLV then. */
export const MEMBER_STATE = '_rt_insights_members';
/** Per policy, audience and day: intervals starting (+) and ending (−) that day; summed up to a date, the members then. */
export const SEGMENT_DAYS = '_rt_insights_segment_days';
/** The same per namespace of the members' profiles. */
export const SEGMENT_NS_DAYS = '_rt_insights_segment_ns_days';
const CONSTRAINTS = '_rt_table_constraints';

export const WINDOW_DAYS = 30;

/** The UTC day of a TIMESTAMPTZ, without a time-zone conversion per row. */
const utcDay = (ts: string) => `(DATE '1970-01-01' + floor(epoch(${ts}) / 86400)::INTEGER)`;
const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
/** A filter on a time column from a checkpoint's time on (none: everything). */
const sinceSql = (column: string, at: string | null) => (at === null ? 'true' : `${column} >= ${lit(at)}::TIMESTAMPTZ`);
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

const SETUP = [
  // The namespaces of a profile as the id of their set (`_rt_insights_ns_sets`): an integer scans far faster than a list.
  `CREATE TABLE IF NOT EXISTS ${PROFILE_STATE} (merge_policy_id INTEGER, profile_id BIGINT, first_date DATE, ns_set INTEGER, identity_count INTEGER, clv_decile INTEGER, predicted_clv DOUBLE, revenue DOUBLE)`,
  `CREATE TABLE IF NOT EXISTS ${NS_SETS} (ns_set INTEGER, namespaces VARCHAR[])`,
  `CREATE TABLE IF NOT EXISTS ${MEMBER_STATE} (segment_id INTEGER, merge_policy_id INTEGER, profile_id BIGINT, day DATE, until DATE, ns_set INTEGER, clv_decile INTEGER, predicted_clv DOUBLE)`,
  `CREATE TABLE IF NOT EXISTS ${SEGMENT_DAYS} (merge_policy_id INTEGER, segment_id INTEGER, d DATE, n BIGINT)`,
  `CREATE TABLE IF NOT EXISTS ${SEGMENT_NS_DAYS} (merge_policy_id INTEGER, segment_id INTEGER, ns VARCHAR, d DATE, n BIGINT)`,
  `CREATE TABLE IF NOT EXISTS ${DAILY_STATE} (merge_policy_id INTEGER, first_date DATE, namespaces VARCHAR[], single BOOLEAN, n BIGINT)`,
  `CREATE TABLE IF NOT EXISTS ${CHECKPOINTS} (model VARCHAR, dataset_id VARCHAR, table_name VARCHAR, snapshot_id BIGINT)`,
  `CREATE TABLE IF NOT EXISTS ${MODEL_STATE} (model VARCHAR, signature VARCHAR, graph_version BIGINT, process_date DATE, refreshed_at TIMESTAMPTZ, audience_fingerprint VARCHAR)`,
  `ALTER TABLE ${MODEL_STATE} ADD COLUMN IF NOT EXISTS graph_pos BIGINT`,
  `ALTER TABLE ${MODEL_STATE} ADD COLUMN IF NOT EXISTS audience_checkpoint VARCHAR`,
  `ALTER TABLE ${MODEL_STATE} ADD COLUMN IF NOT EXISTS destinations_signature VARCHAR`,
  `CREATE TABLE IF NOT EXISTS ${NODE_CLV} (node BIGINT, kind VARCHAR, decile INTEGER, decile_pos BIGINT, value DOUBLE, value_pos BIGINT)`,
  `CREATE TABLE IF NOT EXISTS ${CONSTRAINTS} (table_name VARCHAR, kind VARCHAR, columns VARCHAR[], ref_table VARCHAR, ref_columns VARCHAR[], created_at TIMESTAMPTZ)`,
];

/** A 32-bit signed id from a text id (the reference's ids are int hashes of the source ids). */
const HASH_MACRO = `CREATE OR REPLACE TEMP MACRO rt_hash32(x) AS ((hash(x::VARCHAR) % 4294967296)::BIGINT - 2147483648)::INTEGER`;

/** The identities whose profiles an incremental refresh recomputes, for a policy (see `updateProfiles`). */
const staleOf = (policy: MergePolicyRecord) => (policy.idStitching === 'none' ? 'rt_ins_stale_nodes' : 'rt_ins_stale_graphs');

/** Where the audience facts' incremental state stands in the membership tables (see `audienceFacts`). */
interface AudienceCheckpoint {
  /** The latest history time (text of a TIMESTAMPTZ), and how many history rows are older. */
  at: string | null;
  before: number;
  /** How many history rows are at or before `at` (absent in older checkpoints): unchanged, the rows at `at` are not new. */
  through?: number;
  /** The latest `last_qualification_time` of the current rows. */
  lqt: string | null;
  /** Current rows without history when the state was rebuilt (they make the state non-incremental). */
  orphans: number;
}

/** The filter of the transitions since an audience checkpoint on a history time column (see `audienceAppendOnly`). */
type NewTransitions = (column: string) => string;

export interface ClvSource {
  dataset: DatasetRecord;
  /** The tenant struct column holding `customerId`, `clvPrediction`/`clvHistory`. */
  column: string;
  kind: 'predictions' | 'attributes';
}

export interface DestinationAccount {
  id: string;
  name: string;
  type: string;
  platform: string;
}

export interface RefreshInput {
  session: WarehouseSession;
  policies: MergePolicyRecord[];
  /** Profile-enabled datasets: their committed snapshots, with the UTC commit date. */
  sources: { dataset: DatasetRecord; snapshots: { snapshotId: number; date: string }[] }[];
  clv: ClvSource[];
  /** Destination accounts (`metadata.documents`, kind `destination-account`), with their catalog title as platform. */
  destinations: DestinationAccount[];
  processDate: string;
  full: boolean;
  /** Called before each step (tests inject failures here). */
  beforeStep: (step: string) => Promise<void> | void;
}

export interface RefreshOutcome {
  mode: 'full' | 'incremental';
  checkpoints: { datasetId: string; table: string; from: number; to: number }[];
  datesRecomputed: number;
  profilesRecomputed: number;
  audiences: 'kept' | 'incremental' | 'rebuilt';
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
    // The layout of the working state (4: per-identity first dates and CLV, namespace-set ids, membership
    // intervals); a new layout rebuilds once.
    state: 5,
  });
}

/** The tenant struct of a CLV dataset's table: the column holding `field` (e.g. `clvPrediction`). */
export function tenantColumn(columns: readonly ColumnSpec[], field: string): string | undefined {
  return columns.find((c) => c.type.kind === 'struct' && c.type.fields.some((f) => f.name === field))?.name;
}

export class CdpRefresh {
  private readonly steps: RefreshStep[] = [];
  private graph = { version: 0, pos: 1 };
  /** The graph versions since the last refresh, when the identity graph's change log lists them all (see `staleGraphsSql`). */
  private logged: { from: number; to: number } | null = null;
  /** Whether the identity graph's change log tables exist (an older sandbox gets them at its next sync). */
  private logPresent = false;
  /** Whether the set of (policy, namespace set) of the daily state changed (a full refresh: always). */
  private namespacesChanged = true;
  /** The signature of the destination dimensions' sources (see `destinationStatements`), kept with the model state. */
  private destinationsSignature: string | null = null;
  private readonly tracing: boolean;
  private audienceMode: 'incremental' | 'rebuilt' = 'rebuilt';
  /** Per dataset, the snapshots of this incremental refresh. */
  private applied = new Map<string, number[]>();
  private readonly q: (sql: string) => Promise<Record<string, unknown>[]>;

  constructor(private readonly input: RefreshInput) {
    // ROUNDTRIP_INSIGHTS_TRACE=1 prints each statement's time (profiling the refresh; see bench/insights.ts).
    // ROUNDTRIP_INSIGHTS_TRACE=explain also prints the EXPLAIN ANALYZE plan of every INSERT … SELECT and CREATE … AS SELECT.
    const explain = process.env.ROUNDTRIP_INSIGHTS_TRACE === 'explain';
    const trace = explain || process.env.ROUNDTRIP_INSIGHTS_TRACE === '1';
    this.tracing = trace;
    this.q = async (sql) => {
      try {
        const started = performance.now();
        const select = explain ? /^\s*(?:INSERT INTO \S+|CREATE OR REPLACE TEMP TABLE \S+ AS)\s+((?:WITH|SELECT)\b[\s\S]*)$/.exec(sql)?.[1] : undefined;
        if (select) console.error((await input.session.query(`EXPLAIN ANALYZE ${select}`)).rows.map((r) => String(Object.values(r).at(-1) as string)).join('\n'));
        const rows = (await input.session.query(sql)).rows;
        if (trace) console.error(`[insights] ${(performance.now() - started).toFixed(1).padStart(8)} ms  ${sql.replace(/\s+/g, ' ').trim().slice(0, 160)}`);
        return rows;
      } catch (error) {
        if (error instanceof RoundtripError) throw new RoundtripError(error.code, error.message, { statement: sql.trim().slice(0, 300) });
        throw error;
      }
    };
  }

  /** Runs statements in one round trip (one by one when tracing, to time each). */
  private async batch(statements: string[]): Promise<void> {
    if (this.tracing) for (const statement of statements) await this.q(statement);
    else if (statements.length) await this.q(statements.join(';\n'));
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
    // Probed outside the transaction: a failed probe (a missing table) would abort it.
    const missing = await this.tablesMissing();
    await session.query('BEGIN TRANSACTION');
    try {
      const outcome = await this.build(missing);
      await this.input.beforeStep('commit');
      await this.q('COMMIT');
      return outcome;
    } catch (error) {
      await session.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private async build(missing: boolean): Promise<RefreshOutcome> {
    const { input } = this;
    await this.step('setup', async () => {
      if (missing) {
        await this.q(`CREATE SCHEMA IF NOT EXISTS ${ident(CDP_DATABASE)}; CREATE SCHEMA IF NOT EXISTS ${ident(CDP_SCHEMA)}`);
        await registerAcceleratedDatabase(input.session, CDP_DATABASE, 'acp_query_batch');
        await this.batch([...Object.entries(CDP_TABLES).map(([table, columns]) => `CREATE TABLE IF NOT EXISTS ${cdp(table)} (${columns})`), ...SETUP]);
      }
      await this.loadReferenceTables();
    });
    // The previous run's state with its checkpoints (without a state row the refresh is full: no checkpoints needed).
    const previous = (
      await this.q(`SELECT signature, graph_version, graph_pos, strftime(process_date, '%Y-%m-%d') AS process_date, audience_fingerprint, audience_checkpoint, destinations_signature,
          (SELECT to_json(coalesce(list([dataset_id, snapshot_id::VARCHAR]), [])) FROM ${CHECKPOINTS} WHERE model = ${lit(CDP_MODEL)})::VARCHAR AS checkpoints
        FROM ${MODEL_STATE} WHERE model = ${lit(CDP_MODEL)}`)
    )[0];
    const checkpoints = new Map(previous ? (JSON.parse(previous.checkpoints as string) as [string, string][]).map(([ds, snap]) => [ds, Number(snap)]) : []);
    this.graph = await this.graphState();
    const since = previous ? await this.graphSince(Number(previous.graph_version), previous.graph_pos === null ? null : Number(previous.graph_pos)) : null;
    const full =
      input.full ||
      previous === undefined ||
      since === null ||
      previous.signature !== signatureOf(input) ||
      (previous.process_date as string) > input.processDate;

    const windowStart = addDays(input.processDate, -(WINDOW_DAYS - 1));
    const fingerprint = await this.audienceFingerprint();
    const sameDay = !full && previous.process_date === input.processDate;
    const audienceBefore = full || previous.audience_checkpoint === null ? null : (JSON.parse(previous.audience_checkpoint as string) as AudienceCheckpoint);
    // When the audience facts are recomputed anyway (the membership tables changed, or a new day), which
    // transitions are new is settled first: the profiles step then reads exactly their profiles' rows.
    const newTransitions = audienceBefore !== null && (!sameDay || previous.audience_fingerprint !== fingerprint) ? await this.audienceAppendOnly(audienceBefore) : undefined;
    let fromDate = windowStart;
    let profiles = 0;
    let clvChanged = true;
    if (full) {
      profiles = await this.step('profiles', () => this.rebuildProfiles());
    } else {
      // Unsettled, every transition from the checkpoint's time on (a superset); a rebuild needs none.
      const members = newTransitions === undefined ? (audienceBefore === null ? null : sinceSql('"at"', audienceBefore.at)) : newTransitions === null ? null : newTransitions('"at"');
      const touched = await this.step('profiles', () => this.updateProfiles(since, members));
      profiles = touched.profiles;
      clvChanged = touched.clvChanged;
      const previousNext = addDays(previous.process_date as string, 1);
      const earliest = [touched.earliest, previousNext].filter((d): d is string => d !== null).sort()[0] ?? previousNext;
      fromDate = earliest > windowStart ? earliest : windowStart;
    }
    const dates = fromDate <= input.processDate ? Math.round((Date.parse(input.processDate) - Date.parse(fromDate)) / 86_400_000) + 1 : 0;
    // Audience facts depend on the membership tables, the process date and the members' namespaces and CLV only
    // (the fingerprint is checked first: when the tables changed, the members need no look-up).
    const audiencesCurrent = sameDay && previous.audience_fingerprint === fingerprint && !(await this.membersChanged());
    await this.step('dimensions', () => this.dimensions(windowStart, !sameDay, full ? null : ((previous.destinations_signature as string | null) ?? null)));
    await this.step('profile facts', () => this.profileFacts(windowStart, fromDate));
    let audience = full ? null : ((previous.audience_checkpoint as string | null) ?? null);
    if (!audiencesCurrent) audience = await this.step('audience facts', () => this.audienceFacts(audience === null ? null : (JSON.parse(audience) as AudienceCheckpoint), sameDay, newTransitions));
    const audiences = audiencesCurrent ? 'kept' : this.audienceMode;
    // CLV facts are stated for the process date from the profiles' CLV: kept while neither changed.
    if (!sameDay || clvChanged) await this.step('clv facts', () => this.clvFacts());
    await this.step('checkpoint', () => this.checkpoint(fingerprint, audience));
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
      audiences,
      steps: this.steps,
    };
  }

  /**
   * Whether a table of the model or of the working state (or a column added later) is missing: a first refresh,
   * or one was dropped. Binding a query over all of them is cheap; the catalog functions (`duckdb_tables()`) took
   * up to 200 ms right after large writes.
   */
  private async tablesMissing(): Promise<boolean> {
    const state = [PROFILE_STATE, DAILY_STATE, CHECKPOINTS, NODE_CLV, NS_SETS, MEMBER_STATE, SEGMENT_DAYS, SEGMENT_NS_DAYS, CONSTRAINTS];
    const probes = [
      ...Object.keys(CDP_TABLES).map((table) => `(SELECT 1 FROM ${cdp(table)} LIMIT 0)`),
      ...state.map((table) => `(SELECT 1 FROM ${table} LIMIT 0)`),
      `(SELECT 1 FROM ${MODEL_STATE} WHERE graph_pos IS NULL AND audience_checkpoint IS NULL AND destinations_signature IS NULL LIMIT 0)`,
    ];
    const started = performance.now();
    const log = `(SELECT 1 FROM ${CHANGE_LOG} LIMIT 0) UNION ALL (SELECT 1 FROM ${CHANGES} LIMIT 0)`;
    const probe = (sql: string) => this.input.session.query(sql).then(() => true, () => false);
    // One round trip when everything is there; the log tables are probed apart only when something is missing.
    let missing = !(await probe([...probes, log].join(' UNION ALL ')));
    this.logPresent = !missing;
    if (missing) {
      missing = !(await probe(probes.join(' UNION ALL ')));
      this.logPresent = await probe(log);
    }
    if (this.tracing) console.error(`[insights] ${(performance.now() - started).toFixed(1).padStart(8)} ms  (tables probe${missing ? ': missing' : ''})`);
    return missing;
  }

  /** The identity graph's change counter and next snapshot position, read inside the refresh's transaction. */
  private async graphState(): Promise<{ version: number; pos: number }> {
    const row = (await this.input.session.query(`SELECT version, next_pos FROM ${STATE}`).catch(() => ({ rows: [] as Record<string, unknown>[] }))).rows[0];
    return { version: Number(row?.version ?? 0), pos: Number(row?.next_pos ?? 1) };
  }

  /**
   * The snapshots the graph applied since the last refresh, or null when the graph also changed in a way no
   * snapshot explains (an unmerge, a relink, a privacy delete, a rebuild): then which profiles moved is
   * unknown and the refresh is full. Every sync that applies snapshots bumps the version once and stamps its
   * `_rt_identity_applied` rows with its transaction time, so the bumps snapshots explain are the distinct
   * stamps of the positions from the last refresh's `next_pos` on; any other bump is unexplained.
   */
  private async graphSince(version: number, pos: number | null): Promise<{ ds: string; snap: number }[] | null> {
    if (pos === null || this.graph.pos < pos || this.graph.version < version) return null;
    if (this.graph.version === version) return [];
    const range = `version > ${version} AND version <= ${this.graph.version}`;
    // With the rows, whether the change log lists every version of the range (see `staleGraphsSql`).
    const logged = this.logPresent
      ? `(SELECT coalesce(count(*) = ${this.graph.version - version} AND bool_and(listed), false) FROM ${CHANGE_LOG} WHERE ${range})`
      : 'false';
    const rows = await this.q(`SELECT ds, snap, applied_at::VARCHAR AS applied_at, ${logged} AS logged FROM ${APPLIED} WHERE pos >= ${pos}`);
    const syncs = new Set(rows.map((r) => r.applied_at as string)).size;
    if (this.graph.version - version !== syncs) return null;
    this.logged = rows[0]?.logged === true ? { from: version, to: this.graph.version } : null;
    return rows.map((r) => ({ ds: r.ds as string, snap: Number(r.snap) }));
  }

  /**
   * Every identity (node, graph, ns) of the graphs the new records are in: from the identity graph's change
   * log when it lists every version since the last refresh (the identities each version's graphs held then, each
   * one's latest row being where it is now), else by two scans of `_rt_identity_nodes` (the graphs of the
   * records' identities, then their identities).
   */
  private staleGraphsSql(): string {
    if (this.logged) {
      const { from, to } = this.logged;
      // One version (one sync since the last refresh) lists each identity once.
      if (to === from + 1) return `SELECT node, graph, ns FROM ${CHANGES} WHERE version = ${to}`;
      return `SELECT node, arg_max(graph, version) AS graph, arg_max(ns, version) AS ns FROM ${CHANGES} WHERE version > ${from} AND version <= ${to} GROUP BY node`;
    }
    return `SELECT node, graph, ns FROM ${NODES} WHERE graph IN (SELECT DISTINCT graph FROM ${NODES} WHERE node IN (SELECT node FROM rt_ins_recs))`;
  }

  /** Policies and snapshot dates as temp tables; `rt_ins_snaps` also says which datasets feed profiles. */
  private async loadReferenceTables(): Promise<void> {
    const { policies, sources } = this.input;
    const policyRows = policies.map((p) => `(${lit(p.id)}, rt_hash32(${lit(p.id)}), ${lit(p.name)}, ${lit(p.idStitching)}, ${p.isDefault})`);
    const snapRows = sources.flatMap((s) => s.snapshots.map((x) => `(${lit(s.dataset.id)}, ${x.snapshotId}, DATE ${lit(x.date)})`));
    // Created from their rows where there are some (one statement instead of two), in chunks of 5,000 rows.
    const table = (name: string, columns: [string, string][], rows: string[]) => {
      if (!rows.length) return [`CREATE OR REPLACE TEMP TABLE ${name} (${columns.map(([column, type]) => `${column} ${type}`).join(', ')})`];
      const chunks = [];
      for (let i = 0; i < rows.length; i += 5000) chunks.push(rows.slice(i, i + 5000).join(', '));
      return [
        `CREATE OR REPLACE TEMP TABLE ${name} AS SELECT ${columns.map(([column, type]) => `${column}::${type} AS ${column}`).join(', ')}
          FROM (VALUES ${chunks[0]}) v(${columns.map(([column]) => column).join(', ')})`,
        ...chunks.slice(1).map((chunk) => `INSERT INTO ${name} VALUES ${chunk}`),
      ];
    };
    await this.batch([
      HASH_MACRO,
      ...table('rt_ins_policies', [['policy', 'VARCHAR'], ['merge_policy_id', 'INTEGER'], ['name', 'VARCHAR'], ['stitching', 'VARCHAR'], ['is_default', 'BOOLEAN']], policyRows),
      ...table('rt_ins_snaps', [['ds', 'VARCHAR'], ['snap', 'BIGINT'], ['d', 'DATE']], snapRows),
    ]);
  }


  /**
   * Statements computing the profile rows of every policy (scoped to `rt_ins_stale_*` or not) into the temp table
   * `rt_ins_fresh` (with their `namespaces` list) and writing them to `_rt_insights_profiles`, adding new
   * namespace sets to their dictionary on the way.
   */
  private writeProfileRows(scoped: boolean): string[] {
    const rows = this.input.policies.length
      ? this.input.policies.map((p) => `SELECT * FROM (${this.profileRowsSql(p, scoped)})`).join(' UNION ALL ')
      : `SELECT *, NULL::VARCHAR[] AS namespaces FROM ${PROFILE_STATE} WHERE false`;
    return [
      `CREATE OR REPLACE TEMP TABLE rt_ins_fresh AS ${rows}`,
      `INSERT INTO ${NS_SETS} SELECT DISTINCT ns_set, namespaces FROM rt_ins_fresh WHERE ns_set NOT IN (SELECT ns_set FROM ${NS_SETS})`,
      `INSERT INTO ${PROFILE_STATE} SELECT * EXCLUDE (namespaces) FROM rt_ins_fresh`,
    ];
  }


  /**
   * The SELECT of `_rt_insights_profiles` rows of one policy (plus the `namespaces` list), optionally only for
   * the identities in `rt_ins_stale_*` (every node of the profiles to recompute). First dates come from the
   * records read (`rt_ins_nf`: all of them, or the new ones) and, scoped, from the old rows of the profiles
   * recomputed (`rt_ins_old`): a profile's first date is the minimum over its anchors, and merges only join
   * whole old profiles (an unmerge makes the refresh full), so the minimum of the old profiles a profile now
   * covers and of its new records' dates equals the minimum over all its records.
   */
  private profileRowsSql(policy: MergePolicyRecord, scoped: boolean): string {
    const members = policy.idStitching === 'none' ? 'node' : 'graph';
    const profile = `n.${members}`;
    // Scoped, the nodes come from the small copy of the graphs to recompute instead of the whole graph.
    const nodes = scoped ? staleOf(policy) : NODES;
    const from = (state: string) => `${nodes} n JOIN ${state} x ON x.node = n.node`;
    const folded = scoped
      ? ` UNION ALL SELECT ${profile}, o.first_date FROM ${nodes} n JOIN rt_ins_old o ON o.merge_policy_id = rt_hash32(${lit(policy.id)}) AND o.profile_id = n.node`
      : '';
    // Profiles are the graphs (nodes) with an anchor: the join with `anchors` keeps those (`members` aggregates all).
    return `WITH anchors AS (SELECT profile_id, min(first_date) AS first_date FROM (SELECT ${profile} AS profile_id, x.first_date FROM ${from('rt_ins_nf')}${folded}) GROUP BY 1),
      members AS (
        SELECT ${members} AS profile_id, list_sort(list(DISTINCT lower(ns))) AS namespaces, rt_hash32(array_to_string(namespaces, ',')) AS ns_set, count(*)::INTEGER AS identity_count
        FROM ${nodes} GROUP BY 1),
      clv AS (
        SELECT ${profile} AS profile_id, min(x.decile) FILTER (WHERE x.kind = 'predictions') AS clv_decile,
          sum(x.value) FILTER (WHERE x.kind = 'predictions') AS predicted_clv, sum(x.value) FILTER (WHERE x.kind = 'attributes') AS revenue
        FROM ${from(NODE_CLV)} GROUP BY 1)
      SELECT rt_hash32(${lit(policy.id)}) AS merge_policy_id, a.profile_id, a.first_date, m.ns_set, m.identity_count, c.clv_decile, c.predicted_clv, c.revenue, m.namespaces
      FROM anchors a JOIN members m USING (profile_id) LEFT JOIN clv c USING (profile_id)`;
  }

  /**
   * Statements reading records into per-identity state: `records` is a relation of `_rt_identity_records` rows (all of
   * them, or the new snapshots'), `clvSnapshots` which snapshots of each CLV dataset to read (all: undefined).
   * The first date of each anchor among them goes to the temp table `rt_ins_nf` (profiles fold it, see
   * `profileRowsSql`); CLV takes the latest non-null value by (snapshot, position), which folds, so adding new
   * records to `_rt_insights_node_clv` equals computing it from all records.
   */
  private foldNodeState(records: string, clvSnapshots: (ds: string) => number[] | undefined, fold: boolean): string[] {
    const statements = [
      `CREATE OR REPLACE TEMP TABLE rt_ins_nf AS SELECT r.node, min(coalesce(${utcDay('r.ts')}, s.d)) AS first_date
        FROM ${records} r JOIN rt_ins_snaps s ON s.ds = r.ds AND s.snap = r.snap WHERE r.ord = 0 GROUP BY r.node`,
    ];
    const clv = this.input.clv.flatMap((c) => {
      const snaps = clvSnapshots(c.dataset.id);
      if (snaps?.length === 0) return [];
      const t = ident(c.column);
      const value = c.kind === 'predictions' ? `t.${t}.clvPrediction.predictedClv` : `t.${t}.clvHistory.lifetime.revenue`;
      const decile = c.kind === 'predictions' ? `t.${t}.clvPrediction.clvDecile` : 'NULL::INTEGER';
      const pos = `t."_rt_snapshot_id" * 4294967296 + t._rt_seq`;
      return [`SELECT r.node, ${lit(c.kind)} AS kind, ${decile} AS decile, CASE WHEN ${decile} IS NOT NULL THEN ${pos} END AS decile_pos,
          ${value}::DOUBLE AS value, CASE WHEN ${value} IS NOT NULL THEN ${pos} END AS value_pos
        FROM ${positionedRowsSql(c.dataset.tableName, snaps ? { only: snaps } : {})} t
        JOIN ${records} r ON r.ds = ${lit(c.dataset.id)} AND r.snap = t."_rt_snapshot_id" AND r.seq = t._rt_seq AND r.ord = 0`];
    });
    if (!clv.length) return statements;
    const latest = `SELECT node, kind, arg_max(decile, decile_pos) AS decile, max(decile_pos) AS decile_pos, arg_max(value, value_pos) AS value, max(value_pos) AS value_pos`;
    if (!fold) return [...statements, `INSERT INTO ${NODE_CLV} ${latest} FROM (${clv.join(' UNION ALL ')}) GROUP BY ALL`];
    return [
      ...statements,
      `CREATE OR REPLACE TEMP TABLE rt_ins_new_clv AS ${clv.join(' UNION ALL ')}`,
      `CREATE OR REPLACE TEMP TABLE rt_ins_nc AS ${latest}
        FROM (SELECT * FROM rt_ins_new_clv UNION ALL SELECT c.* FROM ${NODE_CLV} c SEMI JOIN rt_ins_new_clv n ON n.node = c.node AND n.kind = c.kind) GROUP BY ALL`,
      `DELETE FROM ${NODE_CLV} c USING rt_ins_nc n WHERE c.node = n.node AND c.kind = n.kind`,
      `INSERT INTO ${NODE_CLV} SELECT node, kind, decile, decile_pos, value, value_pos FROM rt_ins_nc`,
    ];
  }


  private async rebuildProfiles(): Promise<number> {
    await this.batch([
      `DROP TABLE IF EXISTS ${OLD_NODE_STATE}`,
      `DELETE FROM ${NODE_CLV}`,
      ...this.foldNodeState(RECORDS, () => undefined, false),
      `DELETE FROM ${PROFILE_STATE}`,
      ...this.writeProfileRows(false),
      `DELETE FROM ${DAILY_STATE}`,
      `INSERT INTO ${DAILY_STATE} SELECT merge_policy_id, first_date, s.namespaces, single, n FROM (
        SELECT merge_policy_id, first_date, ns_set, identity_count = 1 AS single, count(*) AS n FROM ${PROFILE_STATE} GROUP BY ALL) JOIN ${NS_SETS} s USING (ns_set)`,
    ]);
    return Number((await this.q(`SELECT count(*) AS n FROM ${PROFILE_STATE}`))[0]?.n ?? 0);
  }


  /**
   * The statement collecting the records of the snapshots the graph applied since the last refresh. Per dataset the filter is on
   * constants (`snap >= first`), so DuckDB skips the row groups of older snapshots by their zone maps
   * instead of scanning the whole index (records are appended in the order the graph applies them). A view when
   * the touched graphs come from the change log (read once or twice, that read is cheaper than a copy), a copy
   * when two scans of the nodes read it too.
   */
  private newRecords(applied: { ds: string; snap: number }[]): string {
    const byDataset = new Map<string, number[]>();
    for (const a of applied) byDataset.set(a.ds, [...(byDataset.get(a.ds) ?? []), a.snap]);
    this.applied = byDataset;
    const parts = [...byDataset].map(([ds, snaps]) => `SELECT * FROM ${RECORDS} WHERE ds = ${lit(ds)} AND snap >= ${Math.min(...snaps)} AND snap IN (${snaps.join(', ')})`);
    return `CREATE OR REPLACE TEMP ${this.logged ? 'VIEW' : 'TABLE'} rt_ins_recs AS ${parts.length ? parts.join(' UNION ALL ') : `SELECT * FROM ${RECORDS} WHERE false`}`;
  }


  /**
   * Whether a profile whose audience-relevant state changed in this (incremental) refresh has membership
   * intervals: the audience facts come from the intervals only, so the other changes leave them as they are.
   */
  private async membersChanged(): Promise<boolean> {
    const row = (await this.q(`SELECT EXISTS (SELECT 1 FROM ${MEMBER_STATE} WHERE profile_id IN (SELECT profile_id FROM rt_ins_changed)) AS changed`))[0];
    return row?.changed === true;
  }

  /**
   * Recomputes the profiles the new snapshots touch; returns how many and the earliest date their change affects.
   * `members` filters the history rows (on `"at"`) whose profiles the audience step will recompute (null: none).
   */
  private async updateProfiles(applied: { ds: string; snap: number }[], members: string | null): Promise<{ profiles: number; earliest: string | null; clvChanged: boolean }> {
    // Profiles whose audience-relevant state (existence, namespaces, CLV) changed.
    const relevant = 'merge_policy_id, profile_id, ns_set, clv_decile, predicted_clv';
    const { policies } = this.input;
    const own = policies.map((policy) => `(merge_policy_id = rt_hash32(${lit(policy.id)}) AND profile_id IN (SELECT node FROM ${staleOf(policy)}))`);
    // The profile rows read once (`rt_ins_pstate`): those to recompute (every policy's are among the touched
    // graphs' nodes) and those of the members with the transitions `members` selects (the ones the audience step
    // reads, or a superset), whose namespaces and CLV the new intervals take.
    // Tests see which way the touched graphs are found.
    await this.input.beforeStep(this.logged ? 'stale graphs from the change log' : 'stale graphs from the nodes');
    const transitions = members === null ? '' : ` UNION ALL SELECT profile_id FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE ${members}`;
    await this.batch([
      this.newRecords(applied),
      ...this.foldNodeState('rt_ins_recs', (ds) => this.applied.get(ds) ?? [], true),
      // The identities whose profiles to recompute: per node (no stitching), or every node of a touched graph
      // (an old profile id that a merge absorbed is one of them).
      // Both copy the nodes' rows (node, graph, ns), so the recomputation reads them instead of the whole graph.
      `CREATE OR REPLACE TEMP TABLE rt_ins_stale_graphs AS ${this.staleGraphsSql()}`,
      ...(policies.some((p) => staleOf(p) === 'rt_ins_stale_nodes')
        ? [`CREATE OR REPLACE TEMP TABLE rt_ins_stale_nodes AS SELECT * FROM rt_ins_stale_graphs WHERE node IN (SELECT node FROM rt_ins_recs)`]
        : []),
      // The old rows of the profiles to recompute, then those rows deleted (one scan for all policies each).
      `CREATE OR REPLACE TEMP TABLE rt_ins_pstate AS SELECT * FROM ${PROFILE_STATE} WHERE profile_id IN (SELECT node FROM rt_ins_stale_graphs${transitions})`,
      `CREATE OR REPLACE TEMP TABLE rt_ins_old AS SELECT * FROM rt_ins_pstate WHERE ${own.join(' OR ') || 'false'}`,
      `DELETE FROM ${PROFILE_STATE} p USING rt_ins_old o WHERE p.merge_policy_id = o.merge_policy_id AND p.profile_id = o.profile_id`,
      ...this.writeProfileRows(true),
      // Old and new contributions net out per (policy, first date, namespaces, single); zero rows disappear.
      `CREATE OR REPLACE TEMP TABLE rt_ins_delta AS SELECT merge_policy_id, first_date, s.namespaces, single, n FROM (
          SELECT merge_policy_id, first_date, ns_set, single, sum(n)::BIGINT AS n FROM (
            SELECT merge_policy_id, first_date, ns_set, identity_count = 1 AS single, -1 AS n FROM rt_ins_old
            UNION ALL SELECT merge_policy_id, first_date, ns_set, identity_count = 1, 1 FROM rt_ins_fresh) GROUP BY ALL HAVING sum(n) <> 0)
        JOIN ${NS_SETS} s USING (ns_set)`,
      `CREATE OR REPLACE TEMP TABLE rt_ins_daily AS SELECT merge_policy_id, first_date, namespaces, single, sum(n)::BIGINT AS n
        FROM (SELECT * FROM ${DAILY_STATE} UNION ALL SELECT * FROM rt_ins_delta) GROUP BY ALL HAVING sum(n) <> 0`,
      `DELETE FROM ${DAILY_STATE}`,
      `INSERT INTO ${DAILY_STATE} SELECT * FROM rt_ins_daily`,
      `CREATE OR REPLACE TEMP TABLE rt_ins_changed AS SELECT DISTINCT merge_policy_id, profile_id FROM (
          (SELECT ${relevant} FROM rt_ins_old EXCEPT SELECT ${relevant} FROM rt_ins_fresh) UNION ALL (SELECT ${relevant} FROM rt_ins_fresh EXCEPT SELECT ${relevant} FROM rt_ins_old))`,
    ]);
    // A row with CLV that is not among the other side's rows with CLV (rows without are never compared).
    const clv = (from: string) => `SELECT merge_policy_id, profile_id, clv_decile, predicted_clv, revenue FROM ${from} WHERE clv_decile IS NOT NULL OR predicted_clv IS NOT NULL OR revenue IS NOT NULL`;
    // Whether a (policy, namespace set) appeared in or left the daily state (the namespace dimensions list them):
    // per key of the new daily state and the delta, the count now and before (now minus the delta).
    const presence = `SELECT merge_policy_id, namespaces, bool_or(coalesce(d.n, 0) <> 0) AS now, bool_or(coalesce(d.n, 0) - coalesce(x.n, 0) <> 0) AS was
      FROM rt_ins_daily d FULL JOIN rt_ins_delta x USING (merge_policy_id, first_date, namespaces, single) GROUP BY ALL`;
    const stats = (
      await this.q(`SELECT (SELECT count(*) FROM rt_ins_fresh) AS profiles, (SELECT strftime(min(first_date), '%Y-%m-%d') FROM rt_ins_delta) AS earliest,
        EXISTS (SELECT 1 FROM ((${clv('rt_ins_old')} EXCEPT ${clv('rt_ins_fresh')}) UNION ALL (${clv('rt_ins_fresh')} EXCEPT ${clv('rt_ins_old')}))) AS clv,
        EXISTS (SELECT 1 FROM (${presence}) WHERE now <> was) AS namespaces`)
    )[0]!;
    this.namespacesChanged = stats.namespaces === true;
    return { profiles: Number(stats.profiles), earliest: (stats.earliest as string | null) ?? null, clvChanged: stats.clv === true };
  }


  /**
   * Dimensions are small: rewritten when their inputs may have changed (a new process date or a full refresh:
   * all of them; otherwise the namespace ones when the daily state's namespace sets changed, the destination
   * ones when their sources' signature did).
   */
  private async dimensions(windowStart: string, calendar: boolean, destinationsBefore: string | null): Promise<void> {
    const { processDate } = this.input;
    const statements: string[] = [];
    const replace = (table: string, select: string) => statements.push(`DELETE FROM ${cdp(table)}`, `INSERT INTO ${cdp(table)} ${select}`);
    // Dates, policies and deciles change with the process date or in a full refresh (policies are in the signature).
    if (calendar) {
      replace(
        'adwh_dim_date',
        `SELECT d::DATE, year(d), quarter(d), month(d), monthname(d), day(d), isodow(d), dayname(d), weekofyear(d)
         FROM range(DATE ${lit(windowStart)}, DATE ${lit(processDate)} + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)`,
      );
      replace('adwh_dim_merge_policies', `SELECT merge_policy_id, name, policy, is_default FROM rt_ins_policies`);
      const tiers = CLV_TIERS.flatMap((t) => Array.from({ length: t.to - t.from + 1 }, (_, i) => `(${t.from + i}, ${lit(t.tier)}, ${lit(`Decile ${t.from + i}`)})`));
      replace('adwh_dim_clv_deciles', `VALUES ${tiers.join(', ')}`);
    }
    // The namespace dimensions come from the (policy, namespace set) pairs of the daily state only.
    if (calendar || this.namespacesChanged) {
      replace('adwh_dim_namespaces', `SELECT DISTINCT rt_hash32(ns), merge_policy_id, ns FROM (SELECT merge_policy_id, unnest(namespaces) AS ns FROM ${DAILY_STATE})`);
      replace(
        'adwh_dim_overlap_namespaces',
        `SELECT DISTINCT rt_hash32(array_to_string(namespaces, ',')), merge_policy_id, unnest(namespaces) FROM ${DAILY_STATE} WHERE len(namespaces) > 1`,
      );
    }
    statements.push(...(await this.destinationStatements(calendar ? null : destinationsBefore)));
    await this.batch(statements);
    if (!calendar) return;
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

  /**
   * The destination dimensions (reference §8.3 destination widgets), rebuilt in full on every refresh: they are
   * small (accounts × audiences) and read activation's own tables, which have no checkpoint of their own.
   * Destinations are the accounts (plus any account a dataflow mapping still names), `enabled` while an
   * enabled dataflow uses them; platforms are the account types; the bridge is one row per (audience,
   * account) of the current dataflow mappings: `create_time` the first successful export of that audience to
   * that account in `_rt_activation_log` (the mapping's time before any), `start_date`/`end_date` the schedule's
   * first and last active days (the mapping's end date is excluded, hence − 1; none: 9999-12-31).
   */
  private async destinationStatements(before: string | null): Promise<string[]> {
    const present = new Set(
      (await this.q(`SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'
        AND table_name IN (${lit(ACTIVATION_MAPPINGS_TABLE)}, ${lit(ACTIVATION_LOG_TABLE)})`)).map((r) => r.table_name as string),
    );
    const accounts = this.input.destinations.map((d) => `(${[d.id, d.name, d.type, d.platform].map(lit).join(', ')})`);
    const mappings = present.has(ACTIVATION_MAPPINGS_TABLE)
      ? `SELECT destination_id, destination_name, destination_type, destination_status, segment_id, start_date, end_date, created_at FROM ${ACTIVATION_MAPPINGS_TABLE}`
      : `SELECT NULL::VARCHAR, NULL::VARCHAR, NULL::VARCHAR, NULL::VARCHAR, NULL::VARCHAR, NULL::DATE, NULL::DATE, NULL::TIMESTAMPTZ WHERE false`;
    const exported = present.has(ACTIVATION_LOG_TABLE)
      ? `SELECT destination_id, segment_id, min(finished_at) AS first_at FROM ${ACTIVATION_LOG_TABLE} WHERE status = 'succeeded' GROUP BY ALL`
      : `SELECT NULL::VARCHAR, NULL::VARCHAR, NULL::TIMESTAMPTZ WHERE false`;
    // Everything the destination dimensions read, as one hash (the tables are small): unchanged, they are kept.
    const rows = (from: string) => `coalesce((SELECT string_agg(j, '|' ORDER BY j) FROM (SELECT to_json(x)::VARCHAR AS j FROM (${from}) x)), '')`;
    const signed = await this.q(`SELECT md5(${lit(JSON.stringify(['destinations-1', this.input.destinations]))} || '|' || ${rows(mappings)} || '|' || ${rows(exported)}) AS signature`);
    this.destinationsSignature = (signed[0]?.signature as string | undefined) ?? null;
    if (before !== null && before === this.destinationsSignature) return [];
    const replace = (table: string, select: string) => [`DELETE FROM ${cdp(table)}`, `INSERT INTO ${cdp(table)} ${select}`];
    return [
      accounts.length
        ? `CREATE OR REPLACE TEMP TABLE rt_ins_accounts AS SELECT id::VARCHAR AS id, name::VARCHAR AS name, type::VARCHAR AS type, platform::VARCHAR AS platform
            FROM (VALUES ${accounts.join(', ')}) v(id, name, type, platform)`
        : `CREATE OR REPLACE TEMP TABLE rt_ins_accounts (id VARCHAR, name VARCHAR, type VARCHAR, platform VARCHAR)`,
      `CREATE OR REPLACE TEMP TABLE rt_ins_mappings AS SELECT destination_id::VARCHAR AS destination_id, destination_name::VARCHAR AS destination_name,
          destination_type::VARCHAR AS destination_type, destination_status::VARCHAR AS destination_status, segment_id::VARCHAR AS segment_id,
          start_date::DATE AS start_date, end_date::DATE AS end_date, created_at::TIMESTAMPTZ AS created_at
        FROM (${mappings}) m(destination_id, destination_name, destination_type, destination_status, segment_id, start_date, end_date, created_at)`,
      // An account's own name and type win over the copy a mapping took when its dataflow was written.
      `CREATE OR REPLACE TEMP TABLE rt_ins_destinations AS SELECT id, arg_min(name, rank) AS name, arg_min(type, rank) AS type, arg_min(platform, rank) AS platform,
          CASE WHEN id IN (SELECT destination_id FROM rt_ins_mappings WHERE destination_status = 'enabled') THEN 'enabled' ELSE 'disabled' END AS status
        FROM (SELECT id, name, type, platform, 0 AS rank FROM rt_ins_accounts
          UNION ALL SELECT DISTINCT destination_id, destination_name, destination_type, destination_type, 1 FROM rt_ins_mappings) GROUP BY id`,
      ...replace('adwh_dim_destination_platform', `SELECT DISTINCT rt_hash32(type), platform FROM rt_ins_destinations`),
      ...replace('adwh_dim_destination', `SELECT rt_hash32(id), name, id, status, rt_hash32(type) FROM rt_ins_destinations`),
      ...replace(
        'adwh_dim_br_segment_destinations',
        `SELECT rt_hash32(m.segment_id), rt_hash32(m.destination_id), timezone('UTC', coalesce(any_value(x.first_at), min(m.created_at))),
           min(m.start_date), max(coalesce(m.end_date - 1, DATE '9999-12-31'))
         FROM rt_ins_mappings m LEFT JOIN (${exported}) x(destination_id, segment_id, first_at) USING (destination_id, segment_id) GROUP BY m.segment_id, m.destination_id`,
      ),
    ];
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
    await this.batch([
      ...Object.entries(facts).flatMap(([table, select]) => [
        `DELETE FROM ${cdp(table)} WHERE date_key >= DATE ${lit(fromDate)} OR date_key < DATE ${lit(windowStart)}`,
        `INSERT INTO ${cdp(table)} ${select} HAVING sum(n) <> 0`,
      ]),
      `DELETE FROM ${cdp('adwh_fact_profile_by_namespace_trendlines')}`,
      `INSERT INTO ${cdp('adwh_fact_profile_by_namespace_trendlines')} SELECT * FROM ${cdp('adwh_fact_profile_by_namespace')}`,
    ]);
  }

  /**
   * Realized membership intervals from the transitions (history, plus current rows that have none): per
   * (audience, policy, profile) and day the last status; an interval runs from a day whose last status is
   * realized to the next day with a transition.
   */
  private intervalsSql(): string {
    const transitions = `SELECT segment_id, merge_policy_id, profile_id, status, "at" FROM ${MEMBERSHIP_HISTORY_TABLE}
        UNION ALL
        SELECT m.segment_id, m.merge_policy_id, m.profile_id, m.status, m.last_qualification_time FROM ${MEMBERSHIP_TABLE} m
        WHERE NOT EXISTS (SELECT 1 FROM ${MEMBERSHIP_HISTORY_TABLE} h WHERE h.segment_id = m.segment_id AND h.merge_policy_id = m.merge_policy_id AND h.profile_id = m.profile_id)`;
    return `WITH transitions AS (${transitions}),
      daily AS (
        SELECT segment_id, merge_policy_id, profile_id, ${utcDay('"at"')} AS day, arg_max(status, "at") AS status FROM transitions GROUP BY ALL),
      intervals AS (
        SELECT *, lead(day) OVER (PARTITION BY segment_id, merge_policy_id, profile_id ORDER BY day) AS until FROM daily)
      SELECT rt_hash32(i.segment_id) AS segment_id, p.merge_policy_id, i.profile_id, i.day, i.until, x.ns_set, x.clv_decile, x.predicted_clv
      FROM intervals i JOIN rt_ins_policies p ON p.policy = i.merge_policy_id
        LEFT JOIN ${PROFILE_STATE} x ON x.merge_policy_id = p.merge_policy_id AND x.profile_id = i.profile_id
      WHERE i.status = 'realized'`;
  }

  /**
   * The intervals of the recomputed profiles (see `audienceFacts`) after the new transitions `rt_ins_t` (per key and day, the
   * last status of the transitions since the checkpoint), from their old intervals `rt_ins_am_old` instead of
   * their whole history. Every older transition is at or before the checkpoint's time, so on or before the
   * first day `first` of a key's new transitions: the key's old intervals starting before `first` stay (an
   * open one now ends on `first`), the ones starting on `first` give way to that day's new last status, and
   * the new days make intervals of their own, as in `intervalsSql`. Every interval takes its profile's
   * current namespaces and CLV.
   */
  private static mergedIntervalsSql(): string {
    return `WITH firsts AS (SELECT segment_id, merge_policy_id, profile_id, min(day) AS first FROM rt_ins_t GROUP BY ALL),
      kept AS (
        SELECT o.segment_id, o.merge_policy_id, o.profile_id, o.day, CASE WHEN f.first IS NULL THEN o.until ELSE coalesce(o.until, f.first) END AS until
        FROM rt_ins_am_old o LEFT JOIN firsts f USING (segment_id, merge_policy_id, profile_id)
        WHERE f.first IS NULL OR o.day < f.first),
      fresh AS (
        SELECT a.segment_id, a.merge_policy_id, a.profile_id, a.day, min(b.day) AS until FROM rt_ins_t a
        LEFT JOIN rt_ins_t b ON b.segment_id = a.segment_id AND b.merge_policy_id = a.merge_policy_id AND b.profile_id = a.profile_id AND b.day > a.day
        WHERE a.status = 'realized' GROUP BY ALL),
      intervals AS (SELECT * FROM kept UNION ALL SELECT * FROM fresh)
      SELECT i.segment_id, i.merge_policy_id, i.profile_id, i.day, i.until, x.ns_set, x.clv_decile, x.predicted_clv
      FROM intervals i LEFT JOIN (${CdpRefresh.prefetchedProfilesSql()}) x ON x.merge_policy_id = i.merge_policy_id AND x.profile_id = i.profile_id`;
  }

  /**
   * The current `_rt_insights_profiles` rows of the audience step's profiles without reading it again: the
   * recomputed rows, and the prefetched rows (`rt_ins_pstate`, see `updateProfiles`) of the others.
   */
  private static prefetchedProfilesSql(): string {
    const columns = 'merge_policy_id, profile_id, ns_set, clv_decile, predicted_clv';
    return `SELECT ${columns} FROM rt_ins_fresh UNION ALL SELECT ${columns} FROM rt_ins_pstate p
      WHERE NOT EXISTS (SELECT 1 FROM rt_ins_old o WHERE o.merge_policy_id = p.merge_policy_id AND o.profile_id = p.profile_id)`;
  }

  /** Day deltas of membership intervals (`from`), counted `sign` times: +1 where one starts, −1 where it ends; per namespace too. */
  private static dayDeltas(from: string, sign: number, perNamespace: boolean): string {
    if (!perNamespace) {
      return `SELECT merge_policy_id, segment_id, day AS d, ${sign} AS n FROM ${from}
        UNION ALL SELECT merge_policy_id, segment_id, until, ${-sign} FROM ${from} WHERE until IS NOT NULL`;
    }
    const members = `(SELECT m.merge_policy_id, m.segment_id, unnest(s.namespaces) AS ns, m.day, m.until FROM ${from} m JOIN ${NS_SETS} s USING (ns_set))`;
    return `SELECT merge_policy_id, segment_id, ns, day AS d, ${sign} AS n FROM ${members}
      UNION ALL SELECT merge_policy_id, segment_id, ns, until, ${-sign} FROM ${members} WHERE until IS NOT NULL`;
  }

  /**
   * Whether the membership tables changed only by appending since `checkpoint`: history rows before its time
   * unchanged in number (no deletes, nothing back-dated), no current row without history then or now. Returns
   * the filter of the new transitions on a history time column, or null when the state must be rebuilt: after
   * `at` when the rows at `at` are still the ones counted then (a segment job stamps a whole run with one time,
   * so re-reading them would redo the previous run), else from `at` on.
   */
  private async audienceAppendOnly(checkpoint: AudienceCheckpoint): Promise<NewTransitions | null> {
    const at = checkpoint.at === null ? null : `${lit(checkpoint.at)}::TIMESTAMPTZ`;
    // "at" is NOT NULL: the rows before (through) the checkpoint's time are all of them minus those at or after
    // (after) it, which zone maps find in the newest row groups, instead of a count over the whole history.
    const row = (
      await this.q(`SELECT (SELECT count(*) FROM ${MEMBERSHIP_HISTORY_TABLE}) - (SELECT count(*) FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE ${sinceSql('"at"', checkpoint.at)}) AS before,
        (SELECT count(*) FROM ${MEMBERSHIP_HISTORY_TABLE}) - (SELECT count(*) FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE ${at === null ? 'true' : `"at" > ${at}`}) AS through,
        (SELECT count(*) FROM (SELECT segment_id, merge_policy_id, profile_id FROM ${MEMBERSHIP_TABLE} WHERE ${sinceSql('last_qualification_time', checkpoint.lqt)}) m
          ANTI JOIN (SELECT segment_id, merge_policy_id, profile_id FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE ${sinceSql('"at"', checkpoint.at)}) h USING (segment_id, merge_policy_id, profile_id)) AS orphans`)
    )[0];
    if (checkpoint.orphans !== 0 || Number(row?.before) !== checkpoint.before || Number(row?.orphans) !== 0) return null;
    if (at === null) return () => 'true';
    const strict = checkpoint.through !== undefined && Number(row?.through) === checkpoint.through;
    return (column) => `${column} ${strict ? '>' : '>='} ${at}`;
  }

  /**
   * Audience facts. The membership intervals live in `_rt_insights_members` and their day deltas in
   * `_rt_insights_segment_[ns_]days`: with a usable checkpoint only the profiles with new transitions since (and
   * those whose namespaces, CLV or existence changed in this refresh) are recomputed and their deltas applied;
   * otherwise everything is rebuilt. The per-day facts are the deltas summed up to each date of the window;
   * the facts of the process date come from the intervals covering it. Returns the new checkpoint.
   */
  private async audienceFacts(checkpoint: AudienceCheckpoint | null, sameDay: boolean, settled: NewTransitions | null | undefined): Promise<string> {
    const pd = `DATE ${lit(this.input.processDate)}`;
    const newSince = checkpoint === null ? null : settled !== undefined ? settled : await this.audienceAppendOnly(checkpoint);
    const incremental = newSince !== null;
    this.audienceMode = incremental ? 'incremental' : 'rebuilt';
    const merge = (table: string, keys: string, perNamespace: boolean) => [
      `CREATE OR REPLACE TEMP TABLE rt_ins_days AS SELECT ${keys}, d, sum(n)::BIGINT AS n FROM (
        SELECT * FROM ${table} UNION ALL ${CdpRefresh.dayDeltas('rt_ins_am_old', -1, perNamespace)} UNION ALL ${CdpRefresh.dayDeltas('rt_ins_am_new', 1, perNamespace)})
        GROUP BY ALL HAVING sum(n) <> 0`,
      `DELETE FROM ${table}`,
      `INSERT INTO ${table} SELECT * FROM rt_ins_days`,
    ];
    if (incremental) {
      // The profiles whose intervals are recomputed: those with new transitions and those that changed.
      const recomputed = 'SELECT profile_id FROM rt_ins_t UNION ALL SELECT profile_id FROM rt_ins_changed';
      await this.batch([
        // Current rows changed since have history since (checked above): the transitions since the checkpoint
        // (read by zone maps, the history being appended in time order) are all that is new.
        `CREATE OR REPLACE TEMP TABLE rt_ins_t AS SELECT rt_hash32(h.segment_id) AS segment_id, p.merge_policy_id, h.profile_id, ${utcDay('h."at"')} AS day,
            arg_max(h.status, h."at") AS status
          FROM ${MEMBERSHIP_HISTORY_TABLE} h JOIN rt_ins_policies p ON p.policy = h.merge_policy_id WHERE ${newSince('h."at"')} GROUP BY ALL`,
        `CREATE OR REPLACE TEMP TABLE rt_ins_am_old AS SELECT * FROM ${MEMBER_STATE} WHERE profile_id IN (${recomputed})`,
        `DELETE FROM ${MEMBER_STATE} WHERE profile_id IN (${recomputed})`,
        `CREATE OR REPLACE TEMP TABLE rt_ins_am_new AS ${CdpRefresh.mergedIntervalsSql()}`,
        `INSERT INTO ${MEMBER_STATE} SELECT * FROM rt_ins_am_new`,
        ...merge(SEGMENT_DAYS, 'merge_policy_id, segment_id', false),
        ...merge(SEGMENT_NS_DAYS, 'merge_policy_id, segment_id, ns', true),
        // A new audience's first transition is one of the new ones (older ones would have failed the check).
        `INSERT INTO ${cdp('adwh_dim_segments')} SELECT rt_hash32(segment_id), segment_id, segment_id, min("at")::DATE FROM ${MEMBERSHIP_HISTORY_TABLE}
          WHERE ${newSince('"at"')} AND rt_hash32(segment_id) NOT IN (SELECT segment_id FROM ${cdp('adwh_dim_segments')}) GROUP BY segment_id`,
      ]);
    } else {
      const rebuild = (table: string, keys: string, perNamespace: boolean) => [
        `DELETE FROM ${table}`,
        `INSERT INTO ${table} SELECT ${keys}, d, sum(n)::BIGINT FROM (${CdpRefresh.dayDeltas(MEMBER_STATE, 1, perNamespace)}) GROUP BY ALL HAVING sum(n) <> 0`,
      ];
      await this.batch([
        `DELETE FROM ${MEMBER_STATE}`,
        `INSERT INTO ${MEMBER_STATE} ${this.intervalsSql()}`,
        // Audiences: their ids from the membership tables; names come with the audiences' definitions (none yet).
        `DELETE FROM ${cdp('adwh_dim_segments')}`,
        `INSERT INTO ${cdp('adwh_dim_segments')} SELECT rt_hash32(segment_id), segment_id, segment_id, min("at")::DATE FROM (
           SELECT segment_id, "at" FROM ${MEMBERSHIP_HISTORY_TABLE} UNION ALL SELECT segment_id, last_qualification_time FROM ${MEMBERSHIP_TABLE}) GROUP BY segment_id`,
        ...rebuild(SEGMENT_DAYS, 'merge_policy_id, segment_id', false),
        ...rebuild(SEGMENT_NS_DAYS, 'merge_policy_id, segment_id, ns', true),
      ]);
    }
    const perDay = (table: string, keys: string) => `SELECT dd.date_key, ${keys}, sum(x.n) FROM ${cdp('adwh_dim_date')} dd JOIN ${table} x ON x.d <= dd.date_key GROUP BY ALL HAVING sum(x.n) <> 0`;
    const current = (from: string) => `(SELECT * FROM ${from} WHERE day <= ${pd} AND (until IS NULL OR until > ${pd}))`;
    const pairs = (from: string) => `SELECT a.merge_policy_id, a.segment_id AS s1, b.segment_id AS s2, count(*) AS n FROM ${current(from)} a
      JOIN ${current(from)} b ON b.merge_policy_id = a.merge_policy_id AND b.profile_id = a.profile_id AND b.segment_id > a.segment_id GROUP BY ALL`;
    // Audience overlaps pair the audiences of one profile: for the same process date, the pairs of the recomputed
    // profiles replace theirs in the counts (integers, exact); otherwise they are counted again.
    const overlaps = incremental && sameDay
      ? `SELECT ${pd}, merge_policy_id, s1, s2, sum(n) FROM (
          SELECT merge_policy_id, Segment1 AS s1, Segment2 AS s2, count_of_overlap AS n FROM ${cdp('adwh_fact_profile_overlap_of_segments')}
          UNION ALL SELECT merge_policy_id, s1, s2, -n FROM (${pairs('rt_ins_am_old')}) UNION ALL ${pairs('rt_ins_am_new')}) GROUP BY ALL HAVING sum(n) <> 0`
      : `SELECT ${pd}, merge_policy_id, s1, s2, n FROM (${pairs(MEMBER_STATE)})`;
    const facts: Record<string, string> = {
      adwh_fact_profile_by_segment: perDay(SEGMENT_DAYS, 'x.merge_policy_id, x.segment_id'),
      adwh_fact_profile_by_segment_and_namespace: perDay(SEGMENT_NS_DAYS, 'x.merge_policy_id, x.segment_id, rt_hash32(x.ns)'),
      // A namespace set's id is the hash of its comma-joined namespaces, which is the overlap id.
      adwh_fact_profile_overlap_of_namespace_by_segment: 'SELECT * FROM rt_ins_ns_overlaps',
      adwh_fact_profile_by_segment_and_clv_decile: `SELECT ${pd}, merge_policy_id, segment_id, clv_decile, count(*), sum(predicted_clv)
        FROM ${current(MEMBER_STATE)} WHERE clv_decile IS NOT NULL GROUP BY ALL`,
    };
    // Members by namespace overlap on the process date: the same, counts of the recomputed profiles replaced.
    const nsOverlaps = (from: string) => `SELECT merge_policy_id, segment_id, ns_set, count(*) AS n FROM ${current(from)}
      WHERE ns_set IN (SELECT ns_set FROM ${NS_SETS} WHERE len(namespaces) > 1) GROUP BY ALL`;
    const namespaceOverlaps = incremental && sameDay
      ? `SELECT ${pd}, merge_policy_id, segment_id, ns_set, sum(n) FROM (
          SELECT merge_policy_id, segment_id, overlap_id AS ns_set, count_of_profiles AS n FROM ${cdp('adwh_fact_profile_overlap_of_namespace_by_segment')}
          UNION ALL SELECT merge_policy_id, segment_id, ns_set, -n FROM (${nsOverlaps('rt_ins_am_old')}) UNION ALL ${nsOverlaps('rt_ins_am_new')}) GROUP BY ALL HAVING sum(n) <> 0`
      : `SELECT ${pd}, merge_policy_id, segment_id, ns_set, n FROM (${nsOverlaps(MEMBER_STATE)})`;
    await this.batch([`CREATE OR REPLACE TEMP TABLE rt_ins_overlaps AS ${overlaps}`, `CREATE OR REPLACE TEMP TABLE rt_ins_ns_overlaps AS ${namespaceOverlaps}`]);
    facts.adwh_fact_profile_overlap_of_segments = 'SELECT * FROM rt_ins_overlaps';
    // For the same process date, CLV by audience changes only with intervals of members that have a decile.
    if (incremental && sameDay) {
      const clv = (from: string) => `EXISTS (SELECT 1 FROM ${from} WHERE clv_decile IS NOT NULL)`;
      if ((await this.q(`SELECT ${clv('rt_ins_am_old')} OR ${clv('rt_ins_am_new')} AS touched`))[0]?.touched !== true) delete facts.adwh_fact_profile_by_segment_and_clv_decile;
    }
    await this.batch([
      ...Object.entries(facts).flatMap(([table, select]) => [`DELETE FROM ${cdp(table)}`, `INSERT INTO ${cdp(table)} ${select}`]),
      ...['adwh_fact_profile_by_segment', 'adwh_fact_profile_by_segment_and_namespace'].flatMap((table) => [
        `DELETE FROM ${cdp(`${table}_trendlines`)}`,
        `INSERT INTO ${cdp(`${table}_trendlines`)} SELECT * FROM ${cdp(table)}`,
      ]),
    ]);
    // The new checkpoint: the latest transition, how many came before it, the latest current row, and
    // (rebuilding) how many current rows have no history; appending keeps that at zero.
    if (checkpoint !== null && incremental) {
      // Appending moved the checkpoint only over the new rows (both reads skip older row groups by zone maps).
      const next = (
        await this.q(`WITH latest AS (SELECT max("at") AS latest_at FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE ${sinceSql('"at"', checkpoint.at)})
          SELECT (SELECT latest_at::VARCHAR FROM latest) AS at,
            (SELECT count(*) FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE ${sinceSql('"at"', checkpoint.at)} AND "at" < (SELECT latest_at FROM latest)) AS added,
            (SELECT count(*) FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE ${sinceSql('"at"', checkpoint.at)}) AS since,
            (SELECT max(last_qualification_time)::VARCHAR FROM ${MEMBERSHIP_TABLE} WHERE ${sinceSql('last_qualification_time', checkpoint.lqt)}) AS lqt`)
      )[0]!;
      const out: AudienceCheckpoint = {
        at: (next.at as string | null) ?? checkpoint.at,
        before: next.at === null ? checkpoint.before : checkpoint.before + Number(next.added),
        through: next.at === null ? checkpoint.through : checkpoint.before + Number(next.since),
        lqt: (next.lqt as string | null) ?? checkpoint.lqt,
        orphans: 0,
      };
      return JSON.stringify(out);
    }
    const next = (
      await this.q(`SELECT (SELECT max("at")::VARCHAR FROM ${MEMBERSHIP_HISTORY_TABLE}) AS at,
        (SELECT count(*) FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE "at" < (SELECT max("at") FROM ${MEMBERSHIP_HISTORY_TABLE})) AS before,
        (SELECT count(*) FROM ${MEMBERSHIP_HISTORY_TABLE}) AS through,
        (SELECT max(last_qualification_time)::VARCHAR FROM ${MEMBERSHIP_TABLE}) AS lqt,
        (SELECT count(*) FROM ${MEMBERSHIP_TABLE} m WHERE NOT EXISTS (SELECT 1 FROM ${MEMBERSHIP_HISTORY_TABLE} h WHERE h.segment_id = m.segment_id AND h.merge_policy_id = m.merge_policy_id AND h.profile_id = m.profile_id)) AS orphans`)
    )[0]!;
    const out: AudienceCheckpoint = { at: (next.at as string | null) ?? null, before: Number(next.before), through: Number(next.through), lqt: (next.lqt as string | null) ?? null, orphans: Number(next.orphans) };
    return JSON.stringify(out);
  }


  /** CLV by decile and tier, the predicted-CLV distribution (20 equal-width buckets up to the maximum). */
  private async clvFacts(): Promise<void> {
    const date = `DATE ${lit(this.input.processDate)}`;
    const bucket = 'least(floor(greatest(p.predicted_clv, 0) / b.width), 19)';
    await this.batch([
      `DELETE FROM ${cdp('adwh_fact_clv_decile')}`,
      `INSERT INTO ${cdp('adwh_fact_clv_decile')} SELECT ${date}, merge_policy_id, clv_decile, ${clvTierSql('clv_decile')}, count(*), sum(predicted_clv), sum(revenue)
        FROM ${PROFILE_STATE} WHERE clv_decile IS NOT NULL GROUP BY ALL`,
      `DELETE FROM ${cdp('adwh_fact_clv_distribution')}`,
      `INSERT INTO ${cdp('adwh_fact_clv_distribution')}
        WITH bounds AS (SELECT merge_policy_id, greatest(max(predicted_clv), 1e-9) / 20 AS width FROM ${PROFILE_STATE} WHERE predicted_clv IS NOT NULL GROUP BY 1)
        SELECT ${date}, p.merge_policy_id, ${bucket}::INTEGER AS bucket, ${bucket} * b.width, (${bucket} + 1) * b.width, count(*)
        FROM ${PROFILE_STATE} p JOIN bounds b USING (merge_policy_id) WHERE p.predicted_clv IS NOT NULL GROUP BY ALL`,
    ]);
  }


  /** Changes to the membership tables show in their row counts, versions and latest times. */
  private async audienceFingerprint(): Promise<string> {
    const rows = await this.q(`SELECT (SELECT count(*) || '/' || coalesce(sum(version), 0) || '/' || coalesce(max(last_qualification_time)::VARCHAR, '') FROM ${MEMBERSHIP_TABLE})
      || '|' || (SELECT count(*) || '/' || coalesce(max("at")::VARCHAR, '') FROM ${MEMBERSHIP_HISTORY_TABLE}) AS f`);
    return (rows[0]?.f as string | undefined) ?? '';
  }

  /** Checkpoints, model state and the process log, in the same transaction as the facts. */
  private async checkpoint(fingerprint: string, audience: string | null): Promise<void> {
    const { input } = this;
    const rows = input.sources.map((s) => `(${lit(CDP_MODEL)}, ${lit(s.dataset.id)}, ${lit(s.dataset.tableName)}, ${s.snapshots[s.snapshots.length - 1]?.snapshotId ?? 0})`);
    const day = `DATE ${lit(input.processDate)}`;
    await this.batch([
      `DELETE FROM ${CHECKPOINTS} WHERE model = ${lit(CDP_MODEL)}`,
      ...(rows.length ? [`INSERT INTO ${CHECKPOINTS} VALUES ${rows.join(', ')}`] : []),
      `DELETE FROM ${MODEL_STATE} WHERE model = ${lit(CDP_MODEL)}`,
      `INSERT INTO ${MODEL_STATE} (model, signature, graph_version, graph_pos, process_date, refreshed_at, audience_fingerprint, audience_checkpoint, destinations_signature)
        VALUES (${lit(CDP_MODEL)}, ${lit(signatureOf(input))}, ${this.graph.version}, ${this.graph.pos}, ${day}, now(), ${lit(fingerprint)}, ${audience === null ? 'NULL' : lit(audience)},
          ${this.destinationsSignature === null ? 'NULL' : lit(this.destinationsSignature)})`,
      `DELETE FROM ${cdp('adwh_lkup_process_delta_log')} WHERE process_name = 'FACT_TABLES_PROCESSING' AND process_date = ${day}`,
      `INSERT INTO ${cdp('adwh_lkup_process_delta_log')} SELECT 'FACT_TABLES_PROCESSING', merge_policy_id, 'SUCCESSFUL', ${day}, now()::TIMESTAMP, now()::TIMESTAMP FROM rt_ins_policies`,
    ]);
  }

}
