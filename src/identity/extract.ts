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
export const OCCURRENCE_COLUMNS = ['ds', 'snap', 'seq', 'ts', 'ns', 'kind', 'raw', 'prank', 'rpos'] as const;

/** Identity rank inside a record: schema primary, identityMap primary, everything else. */
const RANK = { schemaPrimary: 0, mapPrimary: 1, other: 2 } as const;

/** A dataset can be searched for identities when its schema marks identity fields or has identityMap. */
export function hasIdentities(schema: ResolvedSchema): boolean {
  return schema['meta:identities'].length > 0 || 'identityMap' in schema.properties;
}

/**
 * SQL of one row per identity occurrence in the dataset: `ds, snap, seq, ts, ns, kind, raw, prank, rpos`
 * (`raw` trimmed, never empty), over the snapshots `filter` selects.
 */
export function occurrencesSql(source: IdentitySource, namespaces: ReadonlyMap<string, NamespaceInfo>, filter: SnapshotFilter = {}): string {
  const { dataset, schema } = source;
  const descriptors = schema['meta:identities'];
  const hasMap = 'identityMap' in schema.properties;
  const ts = schema['meta:class'] === 'experienceevent' ? `"timestamp"` : `"_rt_ingested_at"`;
  const fields = descriptors.map((d, i) => `${fieldPath(d.path.split('.'))} AS f${i}`);
  const src = `SELECT "_rt_snapshot_id" AS snap, _rt_seq AS seq, ${ts} AS ts${fields.map((f) => `, ${f}`).join('')}${hasMap ? ', "identityMap" AS im' : ''} FROM ${positionedRowsSql(dataset.tableName, filter)}`;
  const parts = descriptors.map((d, i) => {
    const info = namespaces.get(d.namespace.toLowerCase());
    const rank = d.primary ? RANK.schemaPrimary : RANK.other;
    return `SELECT snap, seq, ts, ${quoteLiteral(info?.code ?? d.namespace)} AS ns, ${kindLiteral(info?.kind ?? 'plain')} AS kind, ${trimmedSql(`f${i}`)} AS raw, ${rank} AS prank, ${i} AS rpos FROM src`;
  });
  if (hasMap) parts.push(identityMapSql(namespaces, descriptors.length));
  if (parts.length === 0) return `SELECT ${OCCURRENCE_COLUMNS.map((c) => `NULL AS ${c}`).join(', ')} WHERE false`;
  return `WITH src AS (${src})
SELECT ${quoteLiteral(dataset.id)} AS ds, snap, seq, ts, ns, kind, raw, prank, rpos FROM (
${parts.join('\nUNION ALL\n')}
) WHERE raw IS NOT NULL AND raw <> ''`;
}

/** identityMap entries: namespace key matched to a known code case-insensitively, list order kept as position. */
function identityMapSql(namespaces: ReadonlyMap<string, NamespaceInfo>, offset: number): string {
  const known = [...namespaces.entries()].map(([lc, info]) => `(${quoteLiteral(lc)}, ${quoteLiteral(info.code)}, ${kindLiteral(info.kind)})`).join(', ');
  const entries = `SELECT snap, seq, ts, unnest(map_entries(im)) AS m, generate_subscripts(map_keys(im), 1) AS mi FROM src WHERE im IS NOT NULL`;
  const values = `SELECT snap, seq, ts, m.key AS key, unnest(m.value) AS v, mi, generate_subscripts(m.value, 1) AS j FROM (${entries})`;
  return `SELECT snap, seq, ts, coalesce(k.code, e.key) AS ns, coalesce(k.kind, 'plain') AS kind, ${trimmedSql('e.v.id')} AS raw,
  CASE WHEN e.v."primary" THEN ${RANK.mapPrimary} ELSE ${RANK.other} END AS prank, ${offset} + e.mi * 100000 + e.j AS rpos
FROM (${values}) e LEFT JOIN (VALUES ${known}) k(lc, code, kind) ON k.lc = lower(e.key)`;
}
