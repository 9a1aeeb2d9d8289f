/**
 * The events relation audiences read: every profile-enabled ExperienceEvent dataset of the sandbox, unioned by
 * column name, with the `profile_id` of the merge policy. Events reach their profile the way the profile merge
 * and `Profiles.events` do: through the record index (`_rt_identity_records`, anchor identity → node → graph),
 * at query time, so a merge or unmerge of identities moves events without rewriting them.
 *
 * Two shapes:
 * - `eventsRelationSql` (batch): one SELECT over all events, which a segment job materialises once into a TEMP
 *   table (`materialiseEvents`) so fifty audiences read a plain table instead of repeating the join of the
 *   record index with every dataset (measured in bench/audiences.ts);
 * - `profileEvents` (streaming): the events of a few profiles, found through the record index's `node` index
 *   and read back by (snapshot, position), bounded by a look-back;
 * - `snapshotEvents` (streaming): the events of some profiles in a few new snapshots (what a graph change
 *   brought), found by snapshot, read back the same way.
 */
import type { IdentityGraph } from '../identity/graph.ts';
import { positionedRowsSql, rowsAtSql } from '../identity/positions.ts';
import { intList, quoteIdent, quoteLiteral } from '../identity/sql.ts';
import { NODES, RECORDS } from '../identity/store.ts';
import type { DatasetRecord, MergePolicyRecord, MetadataStore } from '../ports/metadata-store.ts';
import { SYSTEM_COLUMNS, type JsonRecord, type SandboxWarehouse, type WarehouseSession } from '../ports/warehouse.ts';

/** Columns of the relation that are bookkeeping, not event fields. */
const DROPPED = [...SYSTEM_COLUMNS, '_rt_seq', '_rt_rowid'].map(quoteIdent).join(', ');

const EMPTY_EVENTS = `SELECT NULL::BIGINT AS profile_id, NULL::TIMESTAMPTZ AS "timestamp", NULL::VARCHAR AS "eventType", NULL::VARCHAR AS "_id" WHERE false`;

/** Profile-enabled ExperienceEvent datasets of a sandbox. */
export async function eventDatasets(metadata: MetadataStore, graph: IdentityGraph, sandbox: string): Promise<DatasetRecord[]> {
  const out: DatasetRecord[] = [];
  for (const dataset of await metadata.datasets.list(sandbox)) {
    if (!dataset.profileEnabled) continue;
    const schema = await graph.schemaOf(sandbox, dataset);
    if (schema['meta:class'] === 'experienceevent') out.push(dataset);
  }
  return out;
}

/** The profile a record's anchor node belongs to under the policy: its graph, or the node without stitching. */
export const profileOfNode = (policy: Pick<MergePolicyRecord, 'idStitching'>, nodeAlias: string): string =>
  policy.idStitching === 'none' ? `${nodeAlias}.node` : `${nodeAlias}.graph`;

/** One SELECT: every event of every profile-enabled event dataset with its `profile_id`. */
export function eventsRelationSql(policy: Pick<MergePolicyRecord, 'idStitching'>, datasets: readonly DatasetRecord[]): string {
  if (datasets.length === 0) return EMPTY_EVENTS;
  const parts = datasets.map((d) => {
    const anchors = `SELECT r.snap, r.seq, ${profileOfNode(policy, 'n')} AS profile_id FROM ${RECORDS} r JOIN ${NODES} n ON n.node = r.node WHERE r.ord = 0 AND r.ds = ${quoteLiteral(d.id)}`;
    return `SELECT a.profile_id, t.* EXCLUDE (${DROPPED}) FROM ${positionedRowsSql(d.tableName)} t JOIN (${anchors}) a ON a.snap = t."_rt_snapshot_id" AND a.seq = t._rt_seq`;
  });
  return parts.join('\nUNION ALL BY NAME\n');
}

export interface MaterialiseOptions {
  /**
   * Event columns to keep (besides `profile_id` and `timestamp`; names the relation lacks are left out);
   * undefined or null: every column. Projecting lets DuckDB skip the unread columns in the datasets' scans.
   */
  columns?: readonly string[] | null;
  /** SQL relation (`profile_id`) restricting the events to some profiles; undefined: all. */
  profiles?: string;
}

/**
 * Materialises the events relation as a TEMP table of the session (dropped with it), sorted by profile so the
 * per-profile joins of the compiled expressions read it in order. Returns its row count.
 */
export async function materialiseEvents(session: WarehouseSession, table: string, policy: Pick<MergePolicyRecord, 'idStitching'>, datasets: readonly DatasetRecord[], options: MaterialiseOptions = {}): Promise<number> {
  const relation = eventsRelationSql(policy, datasets);
  let select = '*';
  if (options.columns) {
    const available = new Set((await session.query(`DESCRIBE ${relation}`)).rows.map((r) => r.column_name as string));
    const kept = [...new Set(['profile_id', 'timestamp', ...options.columns])].filter((c) => available.has(c));
    select = kept.map(quoteIdent).join(', ');
  }
  const where = options.profiles ? `WHERE profile_id IN (${options.profiles})` : '';
  await session.query(`CREATE OR REPLACE TEMP TABLE ${quoteIdent(table)} AS SELECT ${select} FROM (${relation}) ${where} ORDER BY profile_id`);
  const row = (await session.query(`SELECT count(*) AS n FROM ${quoteIdent(table)}`)).rows[0];
  return Number(row?.n ?? 0);
}

/** An event as the streaming evaluator sees it: its XDM fields and the profile it belongs to. */
export type ProfileEvent = JsonRecord & { profile_id: number };

/** Keys per point-lookup query: DuckDB uses an ART index only for short constant `IN` lists (a few hundred). */
export const POINT_LOOKUPS = 256;

/**
 * The events of the given profiles, oldest first, with `timestamp` at or after `since` (all when null):
 * nodes of the profiles, their anchored records from the index (the `node` index is used when it is the only
 * filter), then the rows read back per dataset by position.
 */
export async function profileEvents(
  warehouse: SandboxWarehouse,
  policy: Pick<MergePolicyRecord, 'idStitching'>,
  datasets: readonly DatasetRecord[],
  profiles: readonly number[],
  since: Date | null,
): Promise<Map<number, ProfileEvent[]>> {
  const out = new Map<number, ProfileEvent[]>();
  if (profiles.length === 0 || datasets.length === 0) return out;
  const nodeRows =
    policy.idStitching === 'none'
      ? profiles.map((p) => ({ node: p, profile: p }))
      : (await warehouse.query(`SELECT node, graph FROM ${NODES} WHERE graph IN (${intList(profiles)})`)).rows.map((r) => ({ node: Number(r.node), profile: Number(r.graph) }));
  if (nodeRows.length === 0) return out;
  const profileOf = new Map(nodeRows.map((r) => [r.node, r.profile]));
  const cutoff = since ? `AND ts >= ${quoteLiteral(since.toISOString())}::TIMESTAMPTZ` : '';
  const ids = datasets.map((d) => quoteLiteral(d.id)).join(', ');
  // Short constant lists, so DuckDB answers each from the index on `node` instead of scanning every record.
  const nodes = [...profileOf.keys()];
  const hits: JsonRecord[] = [];
  for (let i = 0; i < nodes.length; i += POINT_LOOKUPS) {
    const found = await warehouse.query(
      `WITH hit AS MATERIALIZED (SELECT * FROM ${RECORDS} WHERE node IN (${intList(nodes.slice(i, i + POINT_LOOKUPS))}))
       SELECT ds, snap, seq, node FROM hit WHERE ord = 0 AND ds IN (${ids}) ${cutoff}`,
    );
    hits.push(...found.rows);
  }
  const byDataset = new Map<string, EventKey[]>();
  for (const r of hits) {
    const list = byDataset.get(r.ds as string) ?? [];
    list.push({ snap: Number(r.snap), seq: Number(r.seq), profile: profileOf.get(Number(r.node))! });
    byDataset.set(r.ds as string, list);
  }
  return readEvents(warehouse, datasets, byDataset);
}

/**
 * The events of some profiles in the given snapshots (the new records of a graph change), oldest first: the
 * record index read by snapshot (recent snapshots are its last row groups, skipped to by their zone maps),
 * then the rows read back by position. Much cheaper than `profileEvents` when only new records are wanted.
 */
export async function snapshotEvents(
  warehouse: SandboxWarehouse,
  policy: Pick<MergePolicyRecord, 'idStitching'>,
  datasets: readonly DatasetRecord[],
  units: readonly { ds: string; snap: number }[],
  profiles: readonly number[],
): Promise<Map<number, ProfileEvent[]>> {
  const byDataset = new Map<string, EventKey[]>();
  for (const dataset of profiles.length ? datasets : []) {
    const snaps = [...new Set(units.filter((u) => u.ds === dataset.id).map((u) => u.snap))];
    if (snaps.length === 0) continue;
    const found = await warehouse.query(
      `SELECT r.snap, r.seq, ${profileOfNode(policy, 'n')} AS profile FROM ${RECORDS} r JOIN ${NODES} n ON n.node = r.node
       WHERE r.ord = 0 AND r.ds = ${quoteLiteral(dataset.id)} AND r.snap >= ${Math.min(...snaps)} AND r.snap IN (${intList(snaps)})
         AND ${profileOfNode(policy, 'n')} IN (SELECT unnest(from_json($profiles, '["BIGINT"]')))`,
      { profiles: JSON.stringify(profiles) },
    );
    byDataset.set(dataset.id, found.rows.map((r) => ({ snap: Number(r.snap), seq: Number(r.seq), profile: Number(r.profile) })));
  }
  return readEvents(warehouse, datasets, byDataset);
}

interface EventKey {
  snap: number;
  seq: number;
  profile: number;
}

/**
 * Keys per read of `readEvents`. Turning a row of nested event columns into JS objects takes about 15 µs on the
 * event loop (measured: 5,100 rows in 79 ms), and streaming acknowledgements and membership writes wait for it;
 * reads of 1,000 keys keep each stretch near 15 ms.
 */
const EVENT_READ_SLICE = 1_000;

/** Reads back the events named per dataset by (snapshot, position), grouped by profile, oldest first. */
async function readEvents(warehouse: SandboxWarehouse, datasets: readonly DatasetRecord[], byDataset: ReadonlyMap<string, EventKey[]>): Promise<Map<number, ProfileEvent[]>> {
  const out = new Map<number, ProfileEvent[]>();
  // The keys as one JSON parameter: a VALUES list of thousands of rows cost more to parse than to run.
  const wanted = `SELECT k.snap, k.seq, k.profile_id FROM (SELECT unnest(from_json($keys, '[{"snap":"BIGINT","seq":"BIGINT","profile_id":"BIGINT"}]')) AS k)`;
  for (const dataset of datasets) {
    // In position order, so that a slice reads few snapshots.
    const keys = [...(byDataset.get(dataset.id) ?? [])].sort((a, b) => a.snap - b.snap || a.seq - b.seq);
    for (let i = 0; i < keys.length; i += EVENT_READ_SLICE) {
      const slice = keys.slice(i, i + EVENT_READ_SLICE);
      const snaps = [...new Set(slice.map((k) => k.snap))];
      const rows = await warehouse.query(
        `SELECT w.profile_id, t.* EXCLUDE (${DROPPED}) FROM ${rowsAtSql(dataset.tableName, snaps, `SELECT snap, seq FROM (${wanted})`)} t
         JOIN (${wanted}) w ON w.snap = t."_rt_snapshot_id" AND w.seq = t._rt_seq`,
        { keys: JSON.stringify(slice.map((k) => ({ snap: k.snap, seq: k.seq, profile_id: k.profile }))) },
      );
      for (const row of rows.rows) {
        const profile = Number(row.profile_id);
        const list = out.get(profile) ?? [];
        list.push({ ...row, profile_id: profile });
        out.set(profile, list);
      }
    }
  }
  const time = (e: ProfileEvent): string => (typeof e.timestamp === 'string' ? e.timestamp : '');
  for (const list of out.values()) list.sort((a, b) => time(a).localeCompare(time(b)));
  return out;
}
