/**
 * Identity extraction: the SQL that lists every identity a dataset's records carry, from the schema's identity
 * fields (`meta:identities`) and from `identityMap`, in one pass over the table (or over some of its
 * snapshots). Each occurrence names its record by (snapshot id, position in the snapshot): positions follow
 * write order, which DuckDB keeps through deletes and vacuuming, while its `rowid`s do not survive those.
 *
 * Which identity anchors a record (its primary identity) is decided by rank: the schema's primary identity
 * field, then an identityMap entry marked `primary`, then the first identity in schema and map order.
 */
import type { ResolvedSchema } from '../catalog/xdm/compose.ts';
import type { DatasetRecord } from '../ports/metadata-store.ts';
import { kindLiteral, trimmedSql, type NamespaceInfo } from './normalize.ts';
import { positionedRowsSql, type SnapshotFilter } from './positions.ts';
import { fieldPath, quoteLiteral } from './sql.ts';

export interface IdentitySource {
  dataset: DatasetRecord;
  schema: ResolvedSchema;
}

export type { SnapshotFilter } from './positions.ts';

/** Columns of the occurrence relation produced by `occurrencesSql`. */
export const OCCURRENCE_COLUMNS = ['ds', 'snap', 'seq', 'ts', 'ns', 'kind', 'raw', 'rnk', 'anchor'] as const;

/** Identity rank inside a record: schema primary, identityMap primary, everything else. */
const RANK = { schemaPrimary: 0, mapPrimary: 1, other: 2 } as const;
/** `rnk` = rank × this + position: one integer orders a record's identities. */
const RANK_WEIGHT = 1_000_000_000;

/** A dataset can be searched for identities when its schema marks identity fields or has identityMap. */
export function hasIdentities(schema: ResolvedSchema): boolean {
  return schema['meta:identities'].length > 0 || 'identityMap' in schema.properties;
}

/**
 * SQL of one row per identity occurrence in the dataset: `ds, snap, seq, ts, ns, kind, raw, rnk, anchor`
 * (`raw` trimmed, never empty; `anchor` true for the record's primary identity, the lowest `rnk`), over the
 * snapshots `filter` selects. Each record's candidates (identity fields, then identityMap entries) are built
 * as one list, so the anchor is found per record without a window over all occurrences.
 */
export function occurrencesSql(source: IdentitySource, namespaces: ReadonlyMap<string, NamespaceInfo>, filter: SnapshotFilter = {}): string {
  const { dataset, schema } = source;
  const descriptors = schema['meta:identities'];
  const hasMap = 'identityMap' in schema.properties;
  if (descriptors.length === 0 && !hasMap) return `SELECT ${OCCURRENCE_COLUMNS.map((c) => `NULL AS ${c}`).join(', ')} WHERE false`;
  const ts = schema['meta:class'] === 'experienceevent' ? `"timestamp"` : `"_rt_ingested_at"`;
  const fields = descriptors.map((d, i) => {
    const info = namespaces.get(d.namespace.toLowerCase());
    const rnk = (d.primary ? RANK.schemaPrimary : RANK.other) * RANK_WEIGHT + i;
    return `{'ns': ${quoteLiteral(info?.code ?? d.namespace)}, 'kind': ${kindLiteral(info?.kind ?? 'plain')}, 'raw': ${trimmedSql(fieldPath(d.path.split('.')))}, 'rnk': ${rnk}::BIGINT}`;
  });
  const lists = [...(fields.length ? [`[${fields.join(', ')}]`] : []), ...(hasMap ? [identityMapList(descriptors.length)] : [])];
  const candidates = `list_filter(${lists.join(' || ')}, c -> c.raw IS NOT NULL AND c.raw <> '')`;
  const src = `SELECT "_rt_snapshot_id" AS snap, _rt_seq AS seq, ${ts} AS ts, ${candidates} AS cands FROM ${positionedRowsSql(dataset.tableName, filter)}`;
  const occurrences = `SELECT snap, seq, ts, unnest(cands) AS c, list_min(list_transform(cands, x -> x.rnk)) AS first FROM (${src})`;
  const known = [...namespaces.entries()].map(([lc, info]) => `(${quoteLiteral(lc)}, ${quoteLiteral(info.code)}, ${kindLiteral(info.kind)})`).join(', ');
  return `SELECT ${quoteLiteral(dataset.id)} AS ds, o.snap, o.seq, o.ts, coalesce(k.code, o.c.ns) AS ns, coalesce(o.c.kind, k.kind, 'plain') AS kind, o.c.raw AS raw,
  o.c.rnk AS rnk, o.c.rnk = o.first AS anchor
FROM (${occurrences}) o LEFT JOIN (VALUES ${known}) k(lc, code, kind) ON o.c.kind IS NULL AND k.lc = lower(o.c.ns)`;
}

/** identityMap entries as candidates: the key as written (matched to a namespace later), map and list order as position. */
function identityMapList(offset: number): string {
  const entry = `{'ns': m.key, 'kind': NULL::VARCHAR, 'raw': ${trimmedSql('v.id')}, 'rnk': (CASE WHEN v."primary" THEN ${RANK.mapPrimary} ELSE ${RANK.other} END) * ${RANK_WEIGHT} + ${offset} + i * 100000 + j}`;
  return `coalesce(flatten(list_transform(map_entries("identityMap"), (m, i) -> list_transform(m.value, (v, j) -> ${entry}))), [])`;
}
