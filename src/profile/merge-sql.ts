/**
 * The merge of profile fragments, as one SQL statement generated from the datasets' columns: every leaf field
 * (scalar, list or map; structs are walked) of every attribute dataset is lined up per fragment, one value per
 * leaf wins per profile, and the winners are nested back into the XDM shape with `struct_pack`.
 *
 * - timestamp ordered: the most recently ingested fragment with a value wins (`_rt_ingested_at`, then dataset,
 *   snapshot and write position, so ties are decided the same way every time);
 * - dataset precedence: the fragment of the highest dataset in the policy's list with a value wins (datasets not
 *   listed come after the listed ones), then the most recent.
 *
 * Fragments reach their profile through the record index (`_rt_identity_records`, anchor identity → graph) at
 * query time, which is what makes merges fix history and unmerges undo it without rewriting any record.
 * A profile exists when some profile-enabled dataset (attributes or events) has a record anchored in it.
 */
import { isDeepStrictEqual } from 'node:util';
import { MEMBERSHIP_TABLE } from '../audiences/membership-tables.ts';
import { NODES, RECORDS } from '../identity/store.ts';
import { positionedRowsSql, rowsAtSql } from '../identity/positions.ts';
import { fieldPath, quoteIdent, quoteLiteral } from '../identity/sql.ts';
import type { DatasetRecord, MergePolicyRecord } from '../ports/metadata-store.ts';
import type { ColumnSpec, ColumnType } from '../ports/warehouse.ts';

/** Columns every profile table has besides the merged attributes (`identityMap` is derived from `identities`). */
export const PROFILE_ID = 'profile_id';
export const PROFILE_SYSTEM_COLUMNS = [PROFILE_ID, 'identities', 'segmentMembership', '_rt_refreshed_at'] as const;

/** Top-level fields that are not attributes: record ids, identities (they come from the graph) and memberships. */
const NOT_ATTRIBUTES = new Set<string>(['_id', 'identityMap', 'segmentMembership', ...PROFILE_SYSTEM_COLUMNS]);

/**
 * Segment membership map of the profile (reference §2.4: namespace → segment id → qualification), built from
 * the audiences' membership table (`src/audiences/membership-tables.ts`): every row of the profile under the
 * policy, realized or exited, under the `ups` namespace. The audiences service rebuilds the same map with the
 * same aggregate when memberships change, so a profile table rebuilt by a graph change and one updated by a
 * segment job agree. The membership table exists before any profile table is built (the audiences service
 * creates it on every graph change, ahead of the profile store).
 */
export const SEGMENT_MEMBERSHIP_TYPE = `MAP(VARCHAR, MAP(VARCHAR, STRUCT("version" BIGINT, "lastQualificationTime" TIMESTAMPTZ, "validUntil" TIMESTAMPTZ, status VARCHAR, payload VARCHAR)))`;

/** The aggregate turning membership rows (alias `m`, possibly none) of one profile into its map. */
export function segmentMembershipAggregateSql(m: string): string {
  const entry = `{'key': ${m}.segment_id, 'value': {'version': ${m}.version, 'lastQualificationTime': ${m}.last_qualification_time, 'validUntil': NULL::TIMESTAMPTZ, 'status': ${m}.status, 'payload': NULL::VARCHAR}}`;
  return `(CASE WHEN count(${m}.segment_id) = 0 THEN MAP {} ELSE MAP {'ups': map_from_entries(list(${entry}) FILTER (WHERE ${m}.segment_id IS NOT NULL))} END)::${SEGMENT_MEMBERSHIP_TYPE}`;
}

/** The map of the profile `profileId` (a SQL expression) under the policy, as a scalar subquery. */
export function segmentMembershipSql(policyId: string, profileId: string): string {
  return `(SELECT ${segmentMembershipAggregateSql('m')} FROM ${MEMBERSHIP_TABLE} m WHERE m.profile_id = ${profileId} AND m.merge_policy_id = ${quoteLiteral(policyId)})`;
}

/** A profile-enabled dataset whose records carry attributes, with its table's columns. */
export interface AttributeSource {
  dataset: DatasetRecord;
  columns: ColumnSpec[];
}

interface Leaf {
  alias: string;
  path: string[];
  type: ColumnType;
  /** The same path has different types in different datasets: every value is compared as text. */
  asText: boolean;
}

interface Tree {
  children: Map<string, Tree>;
  leaf?: Leaf;
}

/** The union of the attribute leaves of all sources, in first-seen order. */
function leafTree(sources: readonly AttributeSource[]): { tree: Tree; leaves: Leaf[] } {
  const tree: Tree = { children: new Map() };
  const leaves: Leaf[] = [];
  const visit = (node: Tree, column: ColumnSpec, path: string[]): void => {
    let child = node.children.get(column.name);
    if (column.type.kind === 'struct') {
      if (child?.leaf) return; // a leaf elsewhere: this dataset's sub-fields are left out
      if (!child) node.children.set(column.name, (child = { children: new Map() }));
      for (const field of column.type.fields) visit(child, field, [...path, column.name]);
      return;
    }
    if (child && !child.leaf) return; // a struct elsewhere
    if (!child) {
      const leaf = { alias: `l${leaves.length}`, path: [...path, column.name], type: column.type, asText: false };
      leaves.push(leaf);
      node.children.set(column.name, (child = { children: new Map(), leaf }));
    } else if (!isDeepStrictEqual(child.leaf!.type, column.type)) child.leaf!.asText = true;
  };
  for (const { columns } of sources) {
    for (const column of columns) if (!NOT_ATTRIBUTES.has(column.name)) visit(tree, column, []);
  }
  return { tree, leaves };
}

function hasPath(columns: readonly ColumnSpec[], path: readonly string[]): ColumnType | undefined {
  let fields: readonly ColumnSpec[] = columns;
  let type: ColumnType | undefined;
  for (const name of path) {
    type = fields.find((f) => f.name === name)?.type;
    if (!type) return undefined;
    fields = type.kind === 'struct' ? type.fields : [];
  }
  return type;
}

/** What restricts a merge to some profiles: their ids, and per dataset the snapshots holding their records. */
export interface MergeScope {
  /** SQL of profile ids (one column `id`), or undefined for every profile. */
  profiles?: string;
  /** Per dataset id, the snapshots to read; datasets missing from the map are read for none. */
  snapshots?: ReadonlyMap<string, readonly number[]>;
}

export interface MergeInput {
  policy: MergePolicyRecord;
  /** Profile-enabled datasets with attributes (Individual Profile and ad hoc classes). */
  attributeSources: AttributeSource[];
  /** Every profile-enabled dataset (attributes and events): a record in any of them makes a profile. */
  profileDatasets: readonly string[];
  scope?: MergeScope;
}

/** `graph` (private graph) or the anchor node itself (no stitching). */
const profileOf = (policy: MergePolicyRecord, node: string, graph: string): string => (policy.idStitching === 'none' ? node : graph);

/** The SELECT producing one row per profile: id, merged attributes, identities, identityMap, memberships. */
export function mergeSelectSql(input: MergeInput): string {
  const { policy, scope } = input;
  const { tree, leaves } = leafTree(input.attributeSources);
  const datasets = input.profileDatasets.length ? input.profileDatasets.map(quoteLiteral).join(', ') : 'NULL';
  const inScope = scope?.profiles ? `AND ${profileOf(policy, 'r.node', 'n.graph')} IN (${scope.profiles})` : '';
  const anchors = `SELECT r.ds, r.snap, r.seq, ${profileOf(policy, 'r.node', 'n.graph')} AS _rt_profile FROM ${RECORDS} r JOIN ${NODES} n ON n.node = r.node
    WHERE r.ord = 0 AND r.ds IN (${datasets}) ${inScope}`;
  // Datasets holding none of the scope's records still take part (reading nothing): they keep the leaves' types.
  const fragments = input.attributeSources.map((s) => fragmentSql(s, leaves, rankOf(policy, s.dataset.id), scope?.snapshots ? (scope.snapshots.get(s.dataset.id) ?? []) : undefined));
  // Fragments are numbered once per profile, best last, so each leaf's winner is a cheap arg_max on an integer.
  const ranked = `SELECT *, row_number() OVER (PARTITION BY _rt_profile ORDER BY _rt_rank, _rt_at, _rt_ds, _rt_snap, _rt_seq) AS _rt_order FROM (${fragments.join('\nUNION ALL BY NAME\n')})`;
  const winners = leaves.map((l) => `arg_max(${quoteIdent(l.alias)}, _rt_order) FILTER (WHERE ${quoteIdent(l.alias)} IS NOT NULL) AS ${quoteIdent(l.alias)}`);
  const attrs = fragments.length && leaves.length ? `SELECT _rt_profile, ${winners.join(', ')} FROM (${ranked}) GROUP BY _rt_profile` : `SELECT NULL::BIGINT AS _rt_profile WHERE false`;
  // Identities sorted by namespace and value: `list_sort` after the aggregate is ~7× cheaper than an ordered aggregate.
  const members = `SELECT ${profileOf(policy, 'node', 'graph')} AS _rt_profile, node, ns, id FROM ${NODES}
    WHERE ${profileOf(policy, 'node', 'graph')} IN (SELECT _rt_profile FROM profiles)`;
  const attributeColumns = [...tree.children].map(([name, child]) => `${nest(child)} AS ${quoteIdent(name)}`);
  return `WITH anchors AS (${anchors}),
profiles AS (SELECT DISTINCT _rt_profile FROM anchors),
attrs AS (${attrs}),
ids AS (SELECT _rt_profile, list_sort(list({'namespace': ns, 'id': id})) AS identities FROM (${members}) GROUP BY _rt_profile)
SELECT p._rt_profile AS ${PROFILE_ID}${attributeColumns.map((c) => `, ${c}`).join('')}, i.identities,
  ${segmentMembershipSql(policy.id, 'p._rt_profile')} AS "segmentMembership", now() AS _rt_refreshed_at
FROM profiles p LEFT JOIN attrs a ON a._rt_profile = p._rt_profile LEFT JOIN ids i ON i._rt_profile = p._rt_profile`;
}

/** Higher wins. Timestamp ordered: everything ranks the same; precedence: listed datasets above the rest. */
function rankOf(policy: MergePolicyRecord, datasetId: string): number {
  if (policy.method !== 'dataset-precedence') return 0;
  const at = policy.datasetOrder.indexOf(datasetId);
  return at < 0 ? 0 : policy.datasetOrder.length - at;
}

/**
 * One dataset's fragments: its leaves (aliased), the profile, and the ordering columns (ascending, the last
 * wins: precedence rank, ingestion time, then dataset, snapshot and position). `snapshots` restricts it to the
 * anchors' records.
 */
function fragmentSql(source: AttributeSource, leaves: readonly Leaf[], rank: number, snapshots?: readonly number[]): string {
  const id = quoteLiteral(source.dataset.id);
  const values = leaves
    .filter((l) => hasPath(source.columns, l.path))
    .map((l) => `${l.asText ? `CAST(${fieldPath(l.path, 't')} AS VARCHAR)` : fieldPath(l.path, 't')} AS ${quoteIdent(l.alias)}`);
  const rows = snapshots
    ? rowsAtSql(source.dataset.tableName, snapshots, `SELECT snap, seq FROM anchors WHERE ds = ${id}`)
    : positionedRowsSql(source.dataset.tableName);
  return `SELECT a._rt_profile, ${rank} AS _rt_rank, t."_rt_ingested_at" AS _rt_at, ${id} AS _rt_ds, t."_rt_snapshot_id" AS _rt_snap, t._rt_seq${values.map((v) => `, ${v}`).join('')}
  FROM ${rows} t JOIN anchors a ON a.ds = ${id} AND a.snap = t."_rt_snapshot_id" AND a.seq = t._rt_seq`;
}

/** A leaf's winner, or a struct rebuilt from its children (NULL when every leaf under it is NULL). */
function nest(node: Tree): string {
  if (node.leaf) return `a.${quoteIdent(node.leaf.alias)}`;
  const aliases = collectAliases(node);
  const fields = [...node.children].map(([name, child]) => `${quoteIdent(name)} := ${nest(child)}`);
  return `CASE WHEN ${aliases.map((a) => `a.${quoteIdent(a)} IS NULL`).join(' AND ')} THEN NULL ELSE struct_pack(${fields.join(', ')}) END`;
}

function collectAliases(node: Tree): string[] {
  if (node.leaf) return [node.leaf.alias];
  return [...node.children.values()].flatMap(collectAliases);
}

/** Changes whenever the generated columns would: leaves, their types, sources and the policy's rules. */
export function mergeSignature(input: Omit<MergeInput, 'scope'>): string {
  const { leaves } = leafTree(input.attributeSources);
  return JSON.stringify({
    leaves: leaves.map((l) => [l.path, l.type, l.asText]),
    sources: input.attributeSources.map((s) => s.dataset.id),
    profiles: input.profileDatasets,
    method: input.policy.method,
    order: input.policy.datasetOrder,
    stitching: input.policy.idStitching,
  });
}
