/**
 * Streaming rounds too large to evaluate profile by profile (a bulk load, a graph rebuild): the qualifying
 * (segment, profile) pairs of one dependency layer by the segments' compiled SQL, over some profiles (or all),
 * without writing anything. The round then writes the transitions like any other (`FastPath.writeDecisions`,
 * under the membership lock a slice at a time), so a large round never holds the lock while it evaluates and
 * the fast path's writes go on meanwhile. Layers run one after another: `inSegment` reads what the previous
 * layer wrote.
 */
import { quoteIdent, quoteLiteral } from '../identity/sql.ts';
import type { DatasetRecord, MergePolicyRecord } from '../ports/metadata-store.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { toSql } from './engine.ts';
import { eventsRelationSql } from './events-relation.ts';
import { MEMBERSHIP_TABLE } from './membership-tables.ts';
import type { StreamingSegment } from './streaming.ts';

const EVENTS = '_rt_aud_stream_events';
const MEMBERSHIP = '_rt_aud_stream_membership';

/** The qualifying pairs of a layer over `ids` (undefined: every profile of the policy). */
export async function qualifiedBySql(warehouse: SandboxWarehouse, policy: MergePolicyRecord, eventDatasets: readonly DatasetRecord[], layer: readonly StreamingSegment[], ids: readonly number[] | undefined, now: Date): Promise<[string, number][]> {
  const session = await warehouse.openSession();
  try {
    // The profiles as one JSON parameter: a statement with tens of thousands of constants parses slowly.
    const params = ids ? { ids: JSON.stringify(ids) } : undefined;
    const scope = ids ? `profile_id IN (SELECT unnest(from_json($ids, '["BIGINT"]')))` : 'true';
    const readsEvents = layer.some((s) => s.prepared.features.eventReferences > 0);
    await session.query(
      `CREATE OR REPLACE TEMP TABLE ${EVENTS} AS SELECT * FROM (${eventsRelationSql(policy, readsEvents ? eventDatasets : [])}) WHERE ${scope} ORDER BY profile_id`,
      params,
    );
    await session.query(`CREATE OR REPLACE TEMP VIEW ${MEMBERSHIP} AS SELECT segment_id, profile_id, status FROM ${MEMBERSHIP_TABLE} WHERE merge_policy_id = ${quoteLiteral(policy.id)}`);
    const pairs: [string, number][] = [];
    for (const segment of layer) {
      const sql = toSql(segment.prepared, { profileAlias: 'p', eventsTable: EVENTS, membershipTable: MEMBERSHIP, now });
      const rows = await session.query(`SELECT p.profile_id FROM ${quoteIdent(policy.snapshotTable)} p WHERE p.${scope} AND (${sql})`, params);
      for (const r of rows.rows) pairs.push([segment.definition.id, Number(r.profile_id)]);
    }
    return pairs;
  } finally {
    await session.query(`DROP TABLE IF EXISTS ${EVENTS}`).catch(() => undefined);
    session.close();
  }
}
