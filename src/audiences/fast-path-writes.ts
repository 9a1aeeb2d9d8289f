/**
 * Membership writes of streaming evaluation, and the lock that keeps its two paths from fighting.
 *
 * The fast path decides (segment, profile) pairs a micro-group at a time; `writeDecisions` turns them into
 * transitions against the current rows in one transaction (a pair whose row already has the decided status is
 * no change, so a decision written twice, or one the slow path made first, writes nothing), bumping `version`
 * and appending history rows as `applyQualified` does. Both streaming paths write under `MembershipLock`, one
 * writer per sandbox at a time: the diff and the write of one can never interleave with the other's, which
 * would otherwise insert the same membership row twice (the table has no key DuckDB could enforce).
 */
import { intList, quoteLiteral } from '../identity/sql.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE, type MembershipStatus } from './membership-tables.ts';

/** Serialises membership writers per sandbox (promise chain; a failed holder releases it). */
export class MembershipLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(sandbox: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(sandbox) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.tails.set(sandbox, tail);
    void tail.then(() => {
      if (this.tails.get(sandbox) === tail) this.tails.delete(sandbox);
    });
    return result;
  }
}

export interface Decision {
  segmentId: string;
  profileId: number;
  qualifies: boolean;
}

export interface WrittenTransition {
  segmentId: string;
  profileId: number;
  status: MembershipStatus;
  version: number;
}

const WANT = '_rt_aud_fast_want';
const CHANGES = '_rt_aud_fast_changes';

/**
 * Writes the transitions the decisions imply (entries for qualifying pairs not realized, exits for realized
 * pairs that no longer qualify) in one transaction; returns them once committed.
 */
export async function writeDecisions(warehouse: SandboxWarehouse, policyId: string, decisions: readonly Decision[], now: Date, source: string): Promise<WrittenTransition[]> {
  if (decisions.length === 0) return [];
  const policy = quoteLiteral(policyId);
  const at = `${quoteLiteral(now.toISOString())}::TIMESTAMPTZ`;
  const values = decisions.map((d) => `(${quoteLiteral(d.segmentId)}, ${intList([d.profileId])}::BIGINT, ${d.qualifies})`).join(', ');
  const profiles = intList(new Set(decisions.map((d) => d.profileId)));
  const session = await warehouse.openSession();
  try {
    try {
      await session.query(`BEGIN TRANSACTION;
        CREATE OR REPLACE TEMP TABLE ${WANT} AS SELECT * FROM (VALUES ${values}) v(segment_id, profile_id, q);
        CREATE OR REPLACE TEMP TABLE ${CHANGES} AS
          SELECT w.segment_id, w.profile_id, CASE WHEN w.q THEN 'realized' ELSE 'exited' END AS status,
            coalesce(c.version, 0) + 1 AS version, c.profile_id IS NOT NULL AS existing
          FROM ${WANT} w LEFT JOIN (SELECT segment_id, profile_id, status, version FROM ${MEMBERSHIP_TABLE} WHERE merge_policy_id = ${policy} AND profile_id IN (${profiles})) c
            ON c.segment_id = w.segment_id AND c.profile_id = w.profile_id
          WHERE (w.q AND coalesce(c.status, '') <> 'realized') OR (NOT w.q AND c.status = 'realized');
        DELETE FROM ${MEMBERSHIP_TABLE} m USING ${CHANGES} c
          WHERE c.existing AND m.merge_policy_id = ${policy} AND m.segment_id = c.segment_id AND m.profile_id = c.profile_id;
        INSERT INTO ${MEMBERSHIP_TABLE} SELECT segment_id, ${policy}, profile_id, status, ${at}, version FROM ${CHANGES};
        INSERT INTO ${MEMBERSHIP_HISTORY_TABLE} SELECT segment_id, ${policy}, profile_id, status, ${at}, ${quoteLiteral(source)} FROM ${CHANGES};
        COMMIT`);
    } catch (error) {
      await session.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    const rows = await session.query(`SELECT segment_id, profile_id, status, version FROM ${CHANGES}`);
    return rows.rows.map((r) => ({ segmentId: r.segment_id as string, profileId: Number(r.profile_id), status: r.status as MembershipStatus, version: Number(r.version) }));
  } finally {
    session.close();
  }
}
