/**
 * Where audience membership lives: two system tables in the sandbox's warehouse, next to the profiles they
 * point at. This file is the contract every later step reads (insights trendlines and overlaps, activation's
 * full and incremental exports, campaigns); only `src/audiences` writes to them.
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
import type { SandboxWarehouse } from '../ports/warehouse.ts';

export const MEMBERSHIP_TABLE = '_rt_segment_membership';
export const MEMBERSHIP_HISTORY_TABLE = '_rt_segment_membership_history';

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

const DDL = [
  `CREATE TABLE IF NOT EXISTS ${MEMBERSHIP_TABLE} (segment_id VARCHAR NOT NULL, merge_policy_id VARCHAR NOT NULL, profile_id BIGINT NOT NULL, status VARCHAR NOT NULL, last_qualification_time TIMESTAMPTZ NOT NULL, version BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${MEMBERSHIP_HISTORY_TABLE} (segment_id VARCHAR NOT NULL, merge_policy_id VARCHAR NOT NULL, profile_id BIGINT NOT NULL, status VARCHAR NOT NULL, "at" TIMESTAMPTZ NOT NULL, source VARCHAR NOT NULL)`,
];

const ensured = new WeakSet<SandboxWarehouse>();

/** Creates both tables when missing; readers call it too, so that an empty sandbox reads as "no members". */
export async function ensureMembershipTables(warehouse: SandboxWarehouse): Promise<void> {
  if (ensured.has(warehouse)) return;
  for (const statement of DDL) await warehouse.query(statement);
  ensured.add(warehouse);
}
