/**
 * Identity resolution for the streaming fast path: which profile an acknowledged record belongs to, before
 * the identity graph has seen it.
 *
 * A record's identities are read in JavaScript the way extraction reads them in SQL (`identity/extract.ts`):
 * the schema's identity fields, then `identityMap` entries, ranked so the lowest rank is the record's anchor.
 * They are looked up in `_rt_identity_nodes` by the indexed `key`, all identities of a micro-group at once,
 * with values normalised and keyed by the same SQL the graph uses (`normalizedSql`, `identityKeySql`), phones
 * by libphonenumber as in the graph. Hits are kept
 * per sandbox; a graph change naming their graph or node makes them suspect until their graph is read again
 * (`verify`), instead of dropping them. Misses are not cached: a new identity joins the graph once the slow path
 * applies its record.
 */
import type { ResolvedSchema } from '../catalog/xdm/compose.ts';
import type { GraphChange } from '../identity/graph-build.ts';
import { identityKeySql, normalizedSql, normalizePhone, trimmedSql, type NamespaceInfo, type NamespaceKind } from '../identity/normalize.ts';
import { NODES } from '../identity/store.ts';
import type { JsonRecord, SandboxWarehouse } from '../ports/warehouse.ts';

/** One identity of a record: namespace code (as the graph spells it), kind, trimmed raw value, rank. */
export interface RecordIdentity {
  ns: string;
  kind: NamespaceKind;
  raw: string;
  rnk: number;
}

export interface ResolvedNode {
  node: number;
  graph: number;
}

/**
 * What one lookup found, kept apart from the cache: the slow path's graph changes invalidate cached identities
 * all the time (every applied event names its graph), and a group must not lose what it just looked up.
 */
export interface Resolution {
  get(identity: RecordIdentity): ResolvedNode | undefined;
}

/** Same ranks as `identity/extract.ts`: schema primary field, identityMap primary, everything else. */
const RANK_WEIGHT = 1_000_000_000;
/** Keys per lookup query: small enough for DuckDB to use the ART index. */
const LOOKUP_CHUNK = 256;
const TRIM = /^[ \t\n\r]+|[ \t\n\r]+$/g;

const trimmed = (value: unknown): string | undefined => {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean' && typeof value !== 'bigint') return undefined;
  const text = String(value).replace(TRIM, '');
  return text === '' ? undefined : text;
};

const at = (record: JsonRecord, path: string): unknown => {
  let value: unknown = record;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
};

/** The identities a record carries, anchor (lowest rank) first. */
export function recordIdentities(record: JsonRecord, schema: ResolvedSchema, namespaces: ReadonlyMap<string, NamespaceInfo>): RecordIdentity[] {
  const out: RecordIdentity[] = [];
  const descriptors = schema['meta:identities'];
  descriptors.forEach((d, i) => {
    const raw = trimmed(at(record, d.path));
    const info = namespaces.get(d.namespace.toLowerCase());
    if (raw !== undefined) out.push({ ns: info?.code ?? d.namespace, kind: info?.kind ?? 'plain', raw, rnk: (d.primary ? 0 : 2) * RANK_WEIGHT + i });
  });
  const map = 'identityMap' in schema.properties ? record.identityMap : undefined;
  if (map && typeof map === 'object' && !Array.isArray(map)) {
    Object.entries(map as Record<string, unknown>).forEach(([key, list], i) => {
      if (!Array.isArray(list)) return;
      const info = namespaces.get(key.toLowerCase());
      list.forEach((item: unknown, j) => {
        const entry = (item ?? {}) as { id?: unknown; primary?: unknown };
        const raw = trimmed(entry.id);
        if (raw !== undefined) out.push({ ns: info?.code ?? key, kind: info?.kind ?? 'plain', raw, rnk: (entry.primary === true ? 1 : 2) * RANK_WEIGHT + descriptors.length + i * 100000 + j });
      });
    });
  }
  return out.sort((a, b) => a.rnk - b.rnk);
}

const cacheKey = (identity: Pick<RecordIdentity, 'ns' | 'raw'>): string => `${identity.ns}\u0000${identity.raw}`;

/**
 * Per sandbox: identity (namespace, trimmed raw value) → node, and node → graph.
 *
 * An identity's node never changes (nodes are only added, or removed by a privacy delete); a node's graph
 * changes on a merge or an unmerge. A graph change therefore does not drop entries: it marks the cached nodes
 * of the graphs (and nodes) it names as suspect, and `verify` reads their graphs again in one query (the fast
 * path runs it in the background right after the change). A suspect entry is not used until verified.
 */
export class IdentityCache {
  private readonly byKey = new Map<string, number>();
  private readonly graphOf = new Map<number, number>();
  private readonly keysOf = new Map<number, Set<string>>();
  private readonly byGraph = new Map<number, Set<number>>();
  private readonly suspects = new Set<number>();
  hits = 0;
  misses = 0;

  constructor(private readonly limit = 1_000_000) {}

  get size(): number {
    return this.byKey.size;
  }

  private link(node: number, graph: number): void {
    const previous = this.graphOf.get(node);
    if (previous !== undefined && previous !== graph) this.byGraph.get(previous)?.delete(node);
    this.graphOf.set(node, graph);
    let nodes = this.byGraph.get(graph);
    if (!nodes) this.byGraph.set(graph, (nodes = new Set()));
    nodes.add(node);
  }

  private set(key: string, value: ResolvedNode): void {
    if (this.byKey.size >= this.limit) this.clear();
    this.byKey.set(key, value.node);
    this.link(value.node, value.graph);
    // Read again just now: no longer suspect.
    this.suspects.delete(value.node);
    let keys = this.keysOf.get(value.node);
    if (!keys) this.keysOf.set(value.node, (keys = new Set()));
    keys.add(key);
  }

  private drop(node: number): void {
    for (const key of this.keysOf.get(node) ?? []) this.byKey.delete(key);
    this.keysOf.delete(node);
    const graph = this.graphOf.get(node);
    if (graph !== undefined) this.byGraph.get(graph)?.delete(node);
    this.graphOf.delete(node);
    this.suspects.delete(node);
  }

  clear(): void {
    this.byKey.clear();
    this.graphOf.clear();
    this.keysOf.clear();
    this.byGraph.clear();
    this.suspects.clear();
  }

  /** Marks the cached nodes of the graphs (and the nodes) a graph change names as suspect; true when any. */
  invalidate(change: GraphChange): boolean {
    const before = this.suspects.size;
    if (change.full) for (const node of this.graphOf.keys()) this.suspects.add(node);
    for (const graph of change.graphs) for (const node of this.byGraph.get(graph) ?? []) this.suspects.add(node);
    for (const node of change.nodes) if (this.graphOf.has(node)) this.suspects.add(node);
    return this.suspects.size > before;
  }

  /** Whether an identity's cached node waits for `verify`. */
  suspect(identity: Pick<RecordIdentity, 'ns' | 'raw'>): boolean {
    const node = this.byKey.get(cacheKey(identity));
    return node !== undefined && this.suspects.has(node);
  }

  get pending(): number {
    return this.suspects.size;
  }

  /** The suspect nodes, handed to `verify` (marks made meanwhile stay for the next run). */
  takeSuspects(): number[] {
    const out = [...this.suspects];
    this.suspects.clear();
    return out;
  }

  /**
   * The graphs of suspect nodes as read again (`rows` from `_rt_identity_nodes`): moved nodes follow, nodes that
   * are gone are forgotten. Returns the nodes whose graph changed, with their former graph.
   */
  verified(nodes: readonly number[], rows: ReadonlyMap<number, number>): { node: number; from: number; to: number | undefined }[] {
    const moved: { node: number; from: number; to: number | undefined }[] = [];
    for (const node of nodes) {
      const from = this.graphOf.get(node);
      if (from === undefined) continue;
      const to = rows.get(node);
      if (to === undefined) this.drop(node);
      else if (to !== from) this.link(node, to);
      if (to !== from) moved.push({ node, from, to });
    }
    return moved;
  }

  /**
   * Looks up every identity not cached yet; identities the graph does not hold stay unknown. Two cheap
   * queries: the values (one JSON parameter, so the statement stays small) are normalised and keyed by the
   * graph's own SQL, then the keys are looked up as constant `IN` lists, which DuckDB answers from the ART
   * index (measured: 1.5 ms for 100 keys on 2M identities; past a few hundred keys it scans, hence chunks).
   */
  async resolve(warehouse: SandboxWarehouse, identities: readonly RecordIdentity[], phoneDefaultCountry: string | null): Promise<Resolution> {
    const found = new Map<string, ResolvedNode>();
    const resolution: Resolution = { get: (identity) => found.get(cacheKey(identity)) };
    const wanted = new Map<string, RecordIdentity>();
    for (const identity of identities) {
      const key = cacheKey(identity);
      const node = this.byKey.get(key);
      if (node !== undefined && !this.suspects.has(node)) {
        this.hits++;
        found.set(key, { node, graph: this.graphOf.get(node)! });
      } else if (!wanted.has(key)) wanted.set(key, identity);
    }
    if (wanted.size === 0) return resolution;
    this.misses += wanted.size;
    const keys = [...wanted.keys()];
    const input = keys.map((key, i) => {
      const identity = wanted.get(key)!;
      return { i, ns: identity.ns, kind: identity.kind, raw: identity.kind === 'phone' ? normalizePhone(identity.raw, phoneDefaultCountry ?? undefined) : identity.raw };
    });
    const keyed = await warehouse.query(
      `SELECT i, ns, norm, ${identityKeySql('ns', 'norm')}::VARCHAR AS key FROM (
         SELECT v.i, v.ns, ${normalizedSql('v.kind', trimmedSql('v.raw'), 'v.raw')} AS norm
         FROM (SELECT unnest(from_json($input, '[{"i":"INTEGER","ns":"VARCHAR","kind":"VARCHAR","raw":"VARCHAR"}]')) AS v))`,
      { input: JSON.stringify(input) },
    );
    // Two raw values may normalise alike (`Pat@x.com`, `pat@x.com`): both resolve to the node.
    const byIdentity = new Map<string, number[]>();
    for (const r of keyed.rows) {
      const normal = `${r.ns as string}\u0000${r.norm as string}`;
      byIdentity.set(normal, [...(byIdentity.get(normal) ?? []), Number(r.i)]);
    }
    const lookupKeys = [...new Set(keyed.rows.map((r) => r.key as string))];
    for (let i = 0; i < lookupKeys.length; i += LOOKUP_CHUNK) {
      const chunk = lookupKeys.slice(i, i + LOOKUP_CHUNK);
      // Plain numeric constants alone in the filter: DuckDB then uses the index on `key`.
      const rows = await warehouse.query(`SELECT node, graph, ns, id FROM ${NODES} WHERE key IN (${chunk.map((k) => BigInt(k).toString()).join(', ')})`);
      for (const r of rows.rows) {
        for (const index of byIdentity.get(`${r.ns as string}\u0000${r.id as string}`) ?? []) {
          const node = { node: Number(r.node), graph: Number(r.graph) };
          found.set(keys[index]!, node);
          this.set(keys[index]!, node);
        }
      }
    }
    return resolution;
  }
}
