/**
 * Where audience membership lives: two system tables in the sandbox warehouse's hot catalog (`hotTable`), so
 * that streaming membership writes, many a second, never wait for the commit of a bulk write of events,
 * identities or profiles. Reads join them with the profiles they point at like any table. This file is the
 * contract every later step reads (insights trendlines and overlaps, activation's full and incremental
 * exports, campaigns); only `src/audiences` writes to them.
 *
 * - `_rt_segment_membership`: the current state, one row per (segment, merge policy, profile). A profile that
 *   qualifies is `realized`; one that stops qualifying turns `exited` (kept so that incremental exports can send
 *   the exit) until the purge removes exited rows older than 30 days. `version` grows on every change of the row.
 * - `_rt_segment_membership_history`: one row per transition (entered = `realized`, left = `exited`) with the
 *   time and what caused it (`source`: a batch segment job id, `streaming`, `external`), append-only; it feeds
 *   trendlines, incremental exports ("changed since") and audits of who entered when.
 *
 * `profile_id` is the id of the profile table of the merge policy (`profile_snapshot_<policy>.profile_id`).
 * `at` is a DuckDB keyword: write it quoted (`"at"`) in SQL.
 */
import { quoteLiteral } from '../identity/sql.ts';
import { HOT_CATALOG, hotTable, type SandboxWarehouse } from '../ports/warehouse.ts';

const MEMBERSHIP_NAME = '_rt_segment_membership';
const HISTORY_NAME = '_rt_segment_membership_history';
export const MEMBERSHIP_TABLE = hotTable(MEMBERSHIP_NAME);
export const MEMBERSHIP_HISTORY_TABLE = hotTable(HISTORY_NAME);

export type MembershipStatus = 'realized' | 'exited';

/** One row of `_rt_segment_membership`, as SQL returns it. */
export interface MembershipRow {
  segment_id: string;
  merge_policy_id: string;
  profile_id: number;
  status: MembershipStatus;
  /** When the profile last entered (realized) or left (exited) the segment. */
  last_qualification_time: string;
  version: number;
}

/** One row of `_rt_segment_membership_history`. */
export interface MembershipHistoryRow {
  segment_id: string;
  merge_policy_id: string;
  profile_id: number;
  status: MembershipStatus;
  at: string;
  source: string;
}

/** Each table's name in its catalog, and its definition. */
const TABLES = [
  { name: MEMBERSHIP_NAME, ddl: `CREATE TABLE IF NOT EXISTS ${MEMBERSHIP_TABLE} (segment_id VARCHAR NOT NULL, merge_policy_id VARCHAR NOT NULL, profile_id BIGINT NOT NULL, status VARCHAR NOT NULL, last_qualification_time TIMESTAMPTZ NOT NULL, version BIGINT NOT NULL)` },
  { name: HISTORY_NAME, ddl: `CREATE TABLE IF NOT EXISTS ${MEMBERSHIP_HISTORY_TABLE} (segment_id VARCHAR NOT NULL, merge_policy_id VARCHAR NOT NULL, profile_id BIGINT NOT NULL, status VARCHAR NOT NULL, "at" TIMESTAMPTZ NOT NULL, source VARCHAR NOT NULL)` },
];

/** Per warehouse, the one creation (or move) of the tables: callers at the same moment share it. */
const ensured = new WeakMap<SandboxWarehouse, Promise<void>>();

/**
 * Creates both tables when missing; readers call it too, so that an empty sandbox reads as "no members".
 * Tables a version that kept membership in the main catalog wrote are moved to the hot catalog.
 */
export function ensureMembershipTables(warehouse: SandboxWarehouse): Promise<void> {
  let ensuring = ensured.get(warehouse);
  if (!ensuring) {
    ensuring = createOrMove(warehouse);
    ensured.set(warehouse, ensuring);
    // A failure is not remembered: the next caller tries again.
    ensuring.catch(() => ensured.delete(warehouse));
  }
  return ensuring;
}

async function createOrMove(warehouse: SandboxWarehouse): Promise<void> {
  const [legacy, hot] = await Promise.all([mainTables(warehouse), mainTables(warehouse, HOT_CATALOG)]);
  for (const { name, ddl } of TABLES) {
    if (!legacy.has(name)) {
      await warehouse.query(ddl);
      continue;
    }
    // Created and filled in one transaction of the hot catalog (all the rows or no table), then the old one
    // dropped; a crash between the two leaves an old copy the next call drops.
    if (!hot.has(name)) await warehouse.query(`BEGIN TRANSACTION; ${ddl}; INSERT INTO ${hotTable(name)} SELECT * FROM ${name}; COMMIT`);
    await warehouse.query(`DROP TABLE ${name}`);
  }
}

/** The tables of a catalog's `main` schema (default: the main catalog). */
async function mainTables(warehouse: SandboxWarehouse, catalog?: string): Promise<Set<string>> {
  const database = catalog === undefined ? 'current_database()' : quoteLiteral(catalog);
  const rows = await warehouse.query(`SELECT table_name FROM duckdb_tables() WHERE database_name = ${database} AND schema_name = 'main' AND NOT internal`);
  return new Set(rows.rows.map((r) => r.table_name as string));
}
