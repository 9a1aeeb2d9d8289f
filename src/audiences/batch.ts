/**
 * Batch evaluation: segments of one merge policy compiled to SQL and evaluated over the policy's profile table
 * in dependency layers (segments that read others through `inSegment` run after them, reading the membership
 * they just wrote), then turned into membership transitions in one diff per layer.
 *
 * The events relation is materialised once per run (a TEMP table sorted by profile) when some segment reads
 * events, with only the event columns the compiled segments read (`eventColumnsRead`; all when one uses whole
 * rows), so that `identityMap` and unread field groups are never read. It is dropped before the profile maps
 * are rebuilt: that rebuild (one `list()` aggregate per profile) was what ran out of memory, and now works in
 * profile-id ranges sized to the memory limit (`refreshProfileMaps`), so that a job over 1M profiles and 20M
 * events runs at the default 4 GB.
 *
 * Within a layer each segment is one `INSERT … SELECT` into the qualified pairs: measured against one SELECT
 * carrying every segment's boolean (`ROUNDTRIP_AUDIENCE_ONE_PASS=1`), separate statements were about 2×
 * faster at 50 audiences, since DuckDB decorrelates each subquery into its own join either way and the single
 * wide plan only adds work. `bench/audiences.ts` compares this with hand-written SQL.
 */
import type { IdentityGraph } from '../identity/graph.ts';
import { quoteIdent, quoteLiteral } from '../identity/sql.ts';
import { RoundtripError, isRoundtripError } from '../core/errors.ts';
import type { DatasetRecord, MergePolicyRecord } from '../ports/metadata-store.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { toSql, type Prepared } from './engine.ts';
import { eventColumnsRead } from './pql/index.ts';
import { eventsRelationSql, materialiseEvents } from './events-relation.ts';
import { MEMBERSHIP_TABLE, ensureMembershipTables } from './membership-tables.ts';
import { applyQualified, refreshProfileMaps, type Transitions } from './membership.ts';

export const EVENTS_TEMP = '_rt_aud_events';
export const MEMBERSHIP_VIEW = '_rt_aud_membership';
const QUALIFIED_TEMP = '_rt_aud_qualified';
const CHANGES_TEMP = '_rt_aud_changes';
const CHANGED_TEMP = '_rt_aud_changed';
/** `ROUNDTRIP_AUDIENCE_ONE_PASS=1`: all segments of a layer in one SELECT (for the benchmark's comparison). */
const ONE_PASS = process.env.ROUNDTRIP_AUDIENCE_ONE_PASS === '1';

export interface BatchSegment {
  id: string;
  prepared: Prepared;
}

export interface BatchInput {
  warehouse: SandboxWarehouse;
  graph: IdentityGraph;
  policy: MergePolicyRecord;
  eventDatasets: readonly DatasetRecord[];
  /** In dependency order: each inner list may run in one pass. */
  layers: BatchSegment[][];
  now: Date;
  source: string;
  /** SQL relation (`profile_id`) restricting the evaluation to some profiles; undefined: all. */
  profiles?: string;
}

export interface BatchResult {
  totalProfiles: number;
  events: number;
  /** Per segment: realized members after the run (in scope), entered, exited. */
  segments: Map<string, { realized: number; entered: number; exited: number }>;
  timings: { eventsMs: number; evaluateMs: number; writeMs: number; mapsMs: number };
}

/** The SELECT of qualified `(segment_id, profile_id)` pairs for segments evaluated in one pass. */
export function onePassSql(profileTable: string, segments: readonly { id: string; sql: string }[], where = ''): string {
  const flags = segments.map((s) => `CASE WHEN (${s.sql}) THEN ${quoteLiteral(s.id)} END`).join(',\n  ');
  return `SELECT profile_id, segment_id FROM (SELECT profile_id, unnest(list_filter([${flags}], x -> x IS NOT NULL)) AS segment_id FROM ${quoteIdent(profileTable)} p ${where})`;
}

/** The event columns the compiled segments read together; null (all) when one of them uses whole rows. */
function eventColumnsOf(sqls: readonly string[]): string[] | null {
  const columns = new Set<string>();
  for (const sql of sqls) {
    const read = eventColumnsRead(sql, EVENTS_TEMP);
    if (read === null) return null;
    for (const c of read) columns.add(c);
  }
  return [...columns];
}

/** Runs a statement built from compiled PQL; the engine's refusal becomes a user error naming the segment. */
async function compiled<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const message = isRoundtripError(error) || error instanceof Error ? error.message : String(error);
    throw new RoundtripError('RT_SEGMENT_EVALUATION_FAILED', `Evaluating ${what} failed: ${message}`);
  }
}

export async function evaluateBatch(input: BatchInput): Promise<BatchResult> {
  const { warehouse, policy, now } = input;
  await ensureMembershipTables(warehouse);
  const session = await warehouse.openSession();
  const timings = { eventsMs: 0, evaluateMs: 0, writeMs: 0, mapsMs: 0 };
  const segments = new Map<string, { realized: number; entered: number; exited: number }>();
  try {
    const compiledLayers = input.layers.map((layer) => layer.map((s) => ({ id: s.id, sql: toSql(s.prepared, { profileAlias: 'p', eventsTable: EVENTS_TEMP, membershipTable: MEMBERSHIP_VIEW, now }) })));
    const scope = input.profiles ? `WHERE p.profile_id IN (${input.profiles})` : '';
    let t = performance.now();
    let events = 0;
    if (input.layers.flat().some((s) => s.prepared.features.eventReferences > 0)) {
      const columns = eventColumnsOf(compiledLayers.flat().map((c) => c.sql));
      events = await materialiseEvents(session, EVENTS_TEMP, policy, input.eventDatasets, { columns, profiles: input.profiles });
    } else {
      await session.query(`CREATE OR REPLACE TEMP TABLE ${EVENTS_TEMP} AS ${eventsRelationSql(policy, [])}`);
    }
    timings.eventsMs = performance.now() - t;
    await session.query(`CREATE OR REPLACE TEMP VIEW ${MEMBERSHIP_VIEW} AS SELECT segment_id, profile_id, status FROM ${MEMBERSHIP_TABLE} WHERE merge_policy_id = ${quoteLiteral(policy.id)}`);
    await session.query(`CREATE OR REPLACE TEMP TABLE ${CHANGED_TEMP} (profile_id BIGINT)`);
    const totalProfiles = Number((await session.query(`SELECT count(*) AS n FROM ${quoteIdent(policy.snapshotTable)} p ${scope}`)).rows[0]?.n ?? 0);
    for (const [index, layer] of input.layers.entries()) {
      t = performance.now();
      const sqls = compiledLayers[index]!;
      await session.query(`CREATE OR REPLACE TEMP TABLE ${QUALIFIED_TEMP} (profile_id BIGINT, segment_id VARCHAR)`);
      if (ONE_PASS) {
        await compiled(`segments ${layer.map((s) => s.id).join(', ')}`, () => session.query(`INSERT INTO ${QUALIFIED_TEMP} ${onePassSql(policy.snapshotTable, sqls, scope)}`));
      } else {
        // One statement per segment: DuckDB plans each EXISTS/aggregate subquery as its own join, as
        // hand-written SQL would; one SELECT with fifty of them measured about 2× slower (bench/audiences.ts).
        for (const s of sqls) {
          const where = `WHERE (${s.sql})${scope ? ` AND ${scope.slice('WHERE '.length)}` : ''}`;
          await compiled(`segment ${s.id}`, () => session.query(`INSERT INTO ${QUALIFIED_TEMP} SELECT p.profile_id, ${quoteLiteral(s.id)} FROM ${quoteIdent(policy.snapshotTable)} p ${where}`));
        }
      }
      timings.evaluateMs += performance.now() - t;
      t = performance.now();
      const transitions: Transitions = await applyQualified(session, {
        policy,
        segments: layer.map((s) => s.id),
        qualified: QUALIFIED_TEMP,
        profiles: input.profiles,
        now,
        source: input.source,
        scratch: CHANGES_TEMP,
        unique: true,
      });
      if (transitions.total > 0) await session.query(`INSERT INTO ${CHANGED_TEMP} SELECT DISTINCT profile_id FROM ${CHANGES_TEMP}`);
      const realized = await session.query(`SELECT segment_id, count(*) AS n FROM ${QUALIFIED_TEMP} GROUP BY 1`);
      const counts = new Map(realized.rows.map((r) => [r.segment_id as string, Number(r.n)]));
      for (const s of layer) segments.set(s.id, { realized: counts.get(s.id) ?? 0, entered: transitions.entered.get(s.id) ?? 0, exited: transitions.exited.get(s.id) ?? 0 });
      timings.writeMs += performance.now() - t;
    }
    // The maps' aggregation is the job's largest memory user: the events and scratch tables go first.
    await session.query(`DROP TABLE IF EXISTS ${EVENTS_TEMP}; DROP TABLE IF EXISTS ${QUALIFIED_TEMP}; DROP TABLE IF EXISTS ${CHANGES_TEMP}`);
    t = performance.now();
    const changed = Number((await session.query(`SELECT count(*) AS n FROM ${CHANGED_TEMP}`)).rows[0]?.n ?? 0);
    if (changed > 0) await refreshProfileMaps(input.graph, warehouse, policy, session, `SELECT DISTINCT profile_id FROM ${CHANGED_TEMP}`);
    timings.mapsMs = performance.now() - t;
    return { totalProfiles, events, segments, timings };
  } finally {
    session.close();
  }
}
