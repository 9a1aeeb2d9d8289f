/**
 * Writes and reads of audience membership (`membership-tables.ts` is the table contract).
 *
 * A writer hands over what qualifies now — a table of `(segment_id, profile_id)` — and the scope it evaluated
 * (every profile, or some); `applyQualified` turns the difference with the current state into transitions:
 * a profile that qualifies and was not realized enters (`realized`), a realized profile of the scope that no
 * longer qualifies leaves (`exited`). Each transition bumps the row's `version`, stamps
 * `last_qualification_time` and appends one history row with its `source` (the job id, `streaming`,
 * `external`). Only transitions are written: a job that changes nothing writes nothing. The profile tables'
 * `segmentMembership` maps of the profiles that changed are then rebuilt from the membership table with the
 * same aggregate the profile merge uses (`segmentMembershipAggregateSql`), range by range when many changed.
 *
 * Exited rows older than 30 days are purged (reference §2.4); history rows are kept (trendlines, audits).
 */
import type { IdentityGraph } from '../identity/graph.ts';
import { intList, quoteIdent, quoteLiteral } from '../identity/sql.ts';
import type { MergePolicyRecord } from '../ports/metadata-store.ts';
import { HOT_CATALOG, type SandboxWarehouse, type WarehouseSession } from '../ports/warehouse.ts';
import { SEGMENT_MEMBERSHIP_TYPE, segmentMembershipAggregateSql } from '../profile/merge-sql.ts';
import { MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE, ensureMembershipTables } from './membership-tables.ts';

/** Days an exited membership is kept before the purge removes it. */
export const EXITED_RETENTION_DAYS = 30;

type Sql = Pick<WarehouseSession, 'query'>;

export interface ApplyOptions {
  policy: MergePolicyRecord;
  /** Segments evaluated: their realized rows outside `qualified` (and inside `profiles`) exit. */
  segments: readonly string[];
  /** TEMP or regular table with `segment_id, profile_id` of everyone who qualifies now. */
  qualified: string;
  /** SQL relation of the profile ids evaluated (one column `profile_id`); undefined: every profile. */
  profiles?: string;
  now: Date;
  source: string;
  /** Scratch table name for the transitions (TEMP, in the session). */
  scratch: string;
  /** `qualified` holds each pair once (a batch job's per-segment SELECTs): no DISTINCT over it. */
  unique?: boolean;
}

export interface Transitions {
  entered: Map<string, number>;
  exited: Map<string, number>;
  total: number;
}

/**
 * Writes the transitions between the current state and `qualified`; returns per segment how many entered and
 * exited. The scratch table keeps the changed rows for `refreshProfileMaps`.
 */
export async function applyQualified(sql: Sql, options: ApplyOptions): Promise<Transitions> {
  const { policy, segments, qualified, now, source, scratch } = options;
  const entered = new Map<string, number>();
  const exited = new Map<string, number>();
  if (segments.length === 0) return { entered, exited, total: 0 };
  const list = segments.map(quoteLiteral).join(', ');
  const at = `${quoteLiteral(now.toISOString())}::TIMESTAMPTZ`;
  const inScope = options.profiles ? `AND cur.profile_id IN (${options.profiles})` : '';
  const changes = quoteIdent(scratch);
  await sql.query(`CREATE OR REPLACE TEMP TABLE ${changes} AS
    WITH cur AS (SELECT segment_id, profile_id, status, version FROM ${MEMBERSHIP_TABLE} WHERE merge_policy_id = ${quoteLiteral(policy.id)} AND segment_id IN (${list})),
    q AS (SELECT ${options.unique ? '' : 'DISTINCT '}segment_id, profile_id FROM ${quoteIdent(qualified)} WHERE segment_id IN (${list}))
    SELECT coalesce(q.segment_id, cur.segment_id) AS segment_id, coalesce(q.profile_id, cur.profile_id) AS profile_id,
      CASE WHEN q.profile_id IS NOT NULL THEN 'realized' ELSE 'exited' END AS status,
      coalesce(cur.version, 0) + 1 AS version, cur.profile_id IS NOT NULL AS existing
    FROM q FULL OUTER JOIN cur ON cur.segment_id = q.segment_id AND cur.profile_id = q.profile_id
    WHERE (q.profile_id IS NOT NULL AND coalesce(cur.status, '') <> 'realized')
       OR (q.profile_id IS NULL AND cur.status = 'realized' ${inScope})`);
  const counts = await sql.query(`SELECT segment_id, status, count(*) AS n, count(*) FILTER (WHERE existing) AS existing FROM ${changes} GROUP BY ALL`);
  let total = 0;
  let existing = 0;
  for (const r of counts.rows) {
    (r.status === 'realized' ? entered : exited).set(r.segment_id as string, Number(r.n));
    total += Number(r.n);
    existing += Number(r.existing);
  }
  if (total === 0) return { entered, exited, total };
  // New members only (a first job): nothing to replace, and the DELETE's join over the table is skipped.
  const replace = existing === 0 ? '' : `DELETE FROM ${MEMBERSHIP_TABLE} m USING ${changes} c
      WHERE c.existing AND m.merge_policy_id = ${quoteLiteral(policy.id)} AND m.segment_id = c.segment_id AND m.profile_id = c.profile_id;`;
  await sql.query(`BEGIN TRANSACTION;
    ${replace}
    INSERT INTO ${MEMBERSHIP_TABLE} SELECT segment_id, ${quoteLiteral(policy.id)}, profile_id, status, ${at}, version FROM ${changes};
    INSERT INTO ${MEMBERSHIP_HISTORY_TABLE} SELECT segment_id, ${quoteLiteral(policy.id)}, profile_id, status, ${at}, ${quoteLiteral(source)} FROM ${changes};
    COMMIT`);
  return { entered, exited, total };
}

/**
 * How `refreshProfileMaps` bounds its work. The map of a profile is a `list()` aggregate over its membership
 * rows, whose state DuckDB keeps in memory: one statement over 17M rows (50 audiences × 1M profiles) needed
 * more than 7 GB, so large refreshes aggregate profile-id ranges of about `chunkRows` membership rows each
 * into a scratch table. Writing the maps back: an UPDATE of a nested column is a delete and re-insert of the
 * whole row (and its index entries) in DuckDB, measured 6–10× the cost per row of rewriting the table with
 * `CREATE OR REPLACE TABLE … AS` (indexes recreated), so from `rewriteFraction` of the table on the table is
 * rewritten instead.
 */
export interface MapRefreshTuning {
  /** Up to this many profiles: one UPDATE with the aggregate inline (the streaming paths' few profiles). */
  inlineProfiles?: number;
  /** Membership rows aggregated per statement; default: one per KiB of DuckDB's memory limit (a row's list
   * state measured about 270 bytes, so a chunk takes about a quarter of the memory). */
  chunkRows?: number;
  /** Share of the table's rows from which the table is rewritten rather than updated. */
  rewriteFraction?: number;
  /**
   * Write the maps back this many profiles per transaction instead of in one (needs `sql` to be a session: the
   * scratch tables outlive a statement). Each commit holds DuckDB's commit lock, which every writer waits for:
   * streaming writes would wait a quarter of a second behind one commit of 25,000 rewritten maps.
   */
  writeSlice?: number;
}

const MAP_TUNING = { inlineProfiles: 2_000, rewriteFraction: 0.05 };
const MAPS_SCRATCH = '_rt_aud_maps';
const MAPS_SCOPE = '_rt_aud_maps_scope';

/**
 * Rebuilds the `segmentMembership` column of the policy's profile table for the profiles in `profiles` (a SQL
 * relation with `profile_id`, readable by `sql`; undefined: all). Runs under the graph's lock, since the
 * profile store rewrites rows of the same table after graph changes. The statements that share scratch
 * tables go as one multi-statement query, so that `sql` may be a session or the warehouse's pool.
 */
export async function refreshProfileMaps(graph: IdentityGraph, warehouse: SandboxWarehouse, policy: MergePolicyRecord, sql: Sql, profiles?: string, tuning: MapRefreshTuning = {}): Promise<void> {
  if (!(await warehouse.listTables()).includes(policy.snapshotTable)) return;
  const t = { ...MAP_TUNING, ...tuning };
  const table = quoteIdent(policy.snapshotTable);
  const tableRows = (): Promise<number> => countOf(sql, `SELECT count(*) AS n FROM ${table}`);
  const scoped = profiles ? await countOf(sql, `SELECT count(DISTINCT profile_id) AS n FROM (${profiles})`) : null;
  if (scoped === 0) return;
  await graph.withLock(warehouse.sandbox, async () => {
    const changed = scoped ?? (await tableRows());
    if (changed <= t.inlineProfiles && t.writeSlice === undefined) {
      const scope = profiles ? `WHERE t.profile_id IN (SELECT profile_id FROM (${profiles}))` : '';
      const maps = `SELECT t.profile_id, ${segmentMembershipAggregateSql('m')} AS map FROM ${table} t
        LEFT JOIN ${MEMBERSHIP_TABLE} m ON m.profile_id = t.profile_id AND m.merge_policy_id = ${quoteLiteral(policy.id)} ${scope} GROUP BY t.profile_id`;
      await sql.query(`UPDATE ${table} SET "segmentMembership" = s.map FROM (${maps}) s WHERE ${table}.profile_id = s.profile_id`);
      return;
    }
    const chunkRows = t.chunkRows ?? Math.max(50_000, Math.floor((await memoryLimitBytes(sql)) / 1024));
    await rebuildMaps(sql, policy, { profiles, rewrite: t.writeSlice === undefined && changed >= t.rewriteFraction * (await tableRows()), chunkRows, writeSlice: t.writeSlice });
  });
}

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };

/** DuckDB's memory limit in bytes (`current_setting` prints it as `3.7 GiB`); 1 GiB when unreadable. */
export async function memoryLimitBytes(sql: Sql): Promise<number> {
  const value = (await sql.query(`SELECT current_setting('memory_limit') AS m`)).rows[0]?.m;
  const text = typeof value === 'string' ? value : '';
  const match = /^([0-9.]+)\s*([A-Za-z]+)$/.exec(text.trim());
  const unit = match ? UNITS[match[2]!.toUpperCase()] : undefined;
  return match && unit ? Number(match[1]) * unit : 2 ** 30;
}

async function countOf(sql: Sql, statement: string): Promise<number> {
  return Number((await sql.query(statement)).rows[0]?.n ?? 0);
}

/** Profile-id ranges `[lo, hi]` holding about `budget` rows of `relation` (`profile_id`) each, in order. */
export async function profileRanges(sql: Sql, relation: string, budget: number): Promise<[number, number][]> {
  const buckets = await sql.query(`WITH r AS (${relation}), b AS (SELECT min(profile_id) AS lo, max(profile_id) AS hi FROM r)
    SELECT min(r.profile_id) AS lo, max(r.profile_id) AS hi, count(*) AS n FROM r, b
    GROUP BY (r.profile_id - b.lo) // greatest(1, (b.hi - b.lo) // 1024 + 1) ORDER BY 1`);
  const ranges: [number, number][] = [];
  let rows = 0;
  for (const bucket of buckets.rows) {
    const [lo, hi, n] = [Number(bucket.lo), Number(bucket.hi), Number(bucket.n)];
    const last = ranges.at(-1);
    if (last && rows + n <= budget) {
      last[1] = hi;
      rows += n;
    } else {
      ranges.push([lo, hi]);
      rows = n;
    }
  }
  return ranges;
}

/**
 * The large refresh: the changed profiles' ids into a scratch table, their maps aggregated range by range
 * into another, then one transaction writes them back (table rewrite with its indexes, or UPDATE).
 */
async function rebuildMaps(sql: Sql, policy: MergePolicyRecord, options: { profiles: string | undefined; rewrite: boolean; chunkRows: number; writeSlice?: number }): Promise<void> {
  const table = quoteIdent(policy.snapshotTable);
  const ofPolicy = `m.merge_policy_id = ${quoteLiteral(policy.id)}`;
  const scoped = options.profiles ? ` AND m.profile_id IN (SELECT profile_id FROM (${options.profiles}))` : '';
  const ranges = await profileRanges(sql, `SELECT m.profile_id FROM ${MEMBERSHIP_TABLE} m WHERE ${ofPolicy}${scoped}`, options.chunkRows);
  const scope = options.profiles ? `SELECT DISTINCT profile_id FROM (${options.profiles})` : `SELECT profile_id FROM ${table}`;
  const inScope = `m.profile_id IN (SELECT profile_id FROM ${MAPS_SCOPE})`;
  const aggregates = ranges.map(([lo, hi]) =>
    `INSERT INTO ${MAPS_SCRATCH} SELECT m.profile_id, ${segmentMembershipAggregateSql('m')} FROM ${MEMBERSHIP_TABLE} m
      WHERE ${ofPolicy} AND m.profile_id BETWEEN ${lo} AND ${hi} AND ${inScope} GROUP BY m.profile_id;`);
  const map = `coalesce(s.map, MAP {}::${SEGMENT_MEMBERSHIP_TYPE})`;
  const drop = `DROP TABLE IF EXISTS ${MAPS_SCRATCH}; DROP TABLE IF EXISTS ${MAPS_SCOPE};`;
  let write: string;
  if (options.rewrite) {
    const indexes = await sql.query(`SELECT sql FROM duckdb_indexes() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ${quoteLiteral(policy.snapshotTable)}`);
    write = `CREATE OR REPLACE TABLE ${table} AS SELECT t.* REPLACE (CASE WHEN c.profile_id IS NULL THEN t."segmentMembership" ELSE ${map} END AS "segmentMembership")
        FROM ${table} t LEFT JOIN ${MAPS_SCOPE} c ON c.profile_id = t.profile_id LEFT JOIN ${MAPS_SCRATCH} s ON s.profile_id = t.profile_id;
      ${indexes.rows.map((r) => r.sql as string).join('\n')}`;
  } else {
    write = updateMaps(table, map, 'true');
  }
  const prepare = `CREATE OR REPLACE TEMP TABLE ${MAPS_SCOPE} AS ${scope};
      CREATE OR REPLACE TEMP TABLE ${MAPS_SCRATCH} (profile_id BIGINT, map ${SEGMENT_MEMBERSHIP_TYPE});
      ${aggregates.join('\n')}`;
  try {
    if (options.writeSlice === undefined) await sql.query(`${prepare} BEGIN TRANSACTION; ${write} COMMIT; ${drop}`);
    else {
      await sql.query(prepare);
      for (const [lo, hi] of await profileRanges(sql, `SELECT profile_id FROM ${MAPS_SCOPE}`, options.writeSlice)) {
        await sql.query(`BEGIN TRANSACTION; ${updateMaps(table, map, `c.profile_id BETWEEN ${lo} AND ${hi}`)} COMMIT;`);
      }
      await sql.query(drop);
    }
  } catch (error) {
    // ROLLBACK fails harmlessly when the failure came before the transaction began.
    await sql.query('ROLLBACK').catch(() => undefined);
    await sql.query(drop).catch(() => undefined);
    throw error;
  }
}

/** The UPDATE writing the scratch maps back for the scope's profiles that match `where` (on the scope, `c`). */
const updateMaps = (table: string, map: string, where: string): string =>
  `UPDATE ${table} SET "segmentMembership" = x.map FROM (SELECT c.profile_id, ${map} AS map FROM ${MAPS_SCOPE} c LEFT JOIN ${MAPS_SCRATCH} s ON s.profile_id = c.profile_id WHERE ${where}) x
      WHERE ${table}.profile_id = x.profile_id;`;

/**
 * A privacy delete's share: every membership and history row of the erased person's profile ids (their graph
 * id and their identities' nodes, which no other person's profile can carry), in one transaction of the hot
 * catalog; returns the rows removed. The checkpoint takes them out of the write-ahead log (compaction takes
 * their bytes out of the file); when other writers keep it from running, the next checkpoint does it.
 */
export async function eraseMemberships(warehouse: SandboxWarehouse, profileIds: readonly number[]): Promise<number> {
  if (profileIds.length === 0) return 0;
  await ensureMembershipTables(warehouse);
  const ids = intList(profileIds);
  const counted = await warehouse.query(`SELECT (SELECT count(*) FROM ${MEMBERSHIP_TABLE} WHERE profile_id IN (${ids})) + (SELECT count(*) FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE profile_id IN (${ids})) AS n`);
  const n = Number(counted.rows[0]?.n ?? 0);
  if (n === 0) return 0;
  await warehouse.query(`BEGIN TRANSACTION;
    DELETE FROM ${MEMBERSHIP_TABLE} WHERE profile_id IN (${ids});
    DELETE FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE profile_id IN (${ids});
    COMMIT`);
  await warehouse.query(`CHECKPOINT ${HOT_CATALOG}`).catch(() => undefined);
  return n;
}

/** Deletes exited memberships whose last qualification is older than the retention; returns how many. */
export async function purgeExited(sql: Sql, now: Date, days = EXITED_RETENTION_DAYS): Promise<number> {
  const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
  const row = (await sql.query(`SELECT count(*) AS n FROM ${MEMBERSHIP_TABLE} WHERE status = 'exited' AND last_qualification_time < ${quoteLiteral(cutoff)}::TIMESTAMPTZ`)).rows[0];
  const n = Number(row?.n ?? 0);
  if (n > 0) await sql.query(`DELETE FROM ${MEMBERSHIP_TABLE} WHERE status = 'exited' AND last_qualification_time < ${quoteLiteral(cutoff)}::TIMESTAMPTZ`);
  return n;
}

/** Realized segment ids per profile (for `inSegment` in the streaming evaluator). */
export async function realizedSegments(warehouse: SandboxWarehouse, policyId: string, profiles: readonly number[]): Promise<Map<number, Set<string>>> {
  const out = new Map<number, Set<string>>();
  if (profiles.length === 0) return out;
  await ensureMembershipTables(warehouse);
  const rows = await warehouse.query(
    `SELECT profile_id, list(segment_id) AS segs FROM ${MEMBERSHIP_TABLE} WHERE merge_policy_id = $p AND status = 'realized' AND profile_id IN (${profiles.map((p) => Math.trunc(p)).join(', ')}) GROUP BY profile_id`,
    { p: policyId },
  );
  for (const r of rows.rows) out.set(Number(r.profile_id), new Set(r.segs as string[]));
  return out;
}

export interface MemberRow {
  profileId: number;
  status: string;
  lastQualificationTime: string;
  version: number;
  identities: { namespace: string; id: string }[];
}

/** A page of a segment's members (realized by default), by profile id, with each profile's identities. */
export async function memberPage(
  warehouse: SandboxWarehouse,
  policy: MergePolicyRecord,
  segmentId: string,
  options: { limit: number; offset: number; status: string },
): Promise<{ members: MemberRow[]; totalCount: number }> {
  await ensureMembershipTables(warehouse);
  const where = `merge_policy_id = $p AND segment_id = $s AND status = $st`;
  const params = { p: policy.id, s: segmentId, st: options.status };
  const total = Number((await warehouse.query(`SELECT count(*) AS n FROM ${MEMBERSHIP_TABLE} WHERE ${where}`, params)).rows[0]?.n ?? 0);
  const hasProfiles = (await warehouse.listTables()).includes(policy.snapshotTable);
  const identities = hasProfiles ? `(SELECT t.identities FROM ${quoteIdent(policy.snapshotTable)} t WHERE t.profile_id = m.profile_id)` : 'NULL';
  const rows = await warehouse.query(
    `SELECT m.profile_id, m.status, m.last_qualification_time, m.version, ${identities} AS identities
     FROM (SELECT * FROM ${MEMBERSHIP_TABLE} WHERE ${where} ORDER BY profile_id LIMIT ${Math.trunc(options.limit)} OFFSET ${Math.trunc(options.offset)}) m ORDER BY m.profile_id`,
    params,
  );
  return {
    totalCount: total,
    members: rows.rows.map((r) => ({
      profileId: Number(r.profile_id),
      status: r.status as string,
      lastQualificationTime: r.last_qualification_time as string,
      version: Number(r.version),
      identities: (r.identities as { namespace: string; id: string }[] | null) ?? [],
    })),
  };
}

/** Entries and exits per UTC day from the history, with the member count at the end of each day. */
export async function trend(warehouse: SandboxWarehouse, policyId: string, segmentId: string): Promise<{ day: string; entered: number; exited: number; members: number }[]> {
  await ensureMembershipTables(warehouse);
  const rows = await warehouse.query(
    `SELECT strftime(day, '%Y-%m-%d') AS day, entered, exited, sum(entered - exited) OVER (ORDER BY day) AS members FROM (
       SELECT date_trunc('day', "at" AT TIME ZONE 'UTC') AS day, count(*) FILTER (WHERE status = 'realized') AS entered, count(*) FILTER (WHERE status = 'exited') AS exited
       FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE merge_policy_id = $p AND segment_id = $s GROUP BY 1) ORDER BY day`,
    { p: policyId, s: segmentId },
  );
  return rows.rows.map((r) => ({ day: r.day as string, entered: Number(r.entered), exited: Number(r.exited), members: Number(r.members) }));
}

/** Realized members per segment of a policy. */
export async function realizedCounts(warehouse: SandboxWarehouse, policyId: string): Promise<Map<string, number>> {
  await ensureMembershipTables(warehouse);
  const rows = await warehouse.query(`SELECT segment_id, count(*) AS n FROM ${MEMBERSHIP_TABLE} WHERE merge_policy_id = $p AND status = 'realized' GROUP BY 1`, { p: policyId });
  return new Map(rows.rows.map((r) => [r.segment_id as string, Number(r.n)]));
}

/** Removes every membership (and history) of a deleted segment. */
export async function dropSegment(warehouse: SandboxWarehouse, segmentId: string): Promise<void> {
  await ensureMembershipTables(warehouse);
  for (const table of [MEMBERSHIP_TABLE, MEMBERSHIP_HISTORY_TABLE]) await warehouse.query(`DELETE FROM ${table} WHERE segment_id = $s`, { s: segmentId });
}
