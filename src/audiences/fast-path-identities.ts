/**
 * Identity resolution for the streaming fast path: which profile an acknowledged record belongs to, before
 * the identity graph has seen it.
 *
 * A record's identities are read in JavaScript the way extraction reads them in SQL (`identity/extract.ts`):
 * the schema's identity fields, then `identityMap` entries, ranked so the lowest rank is the record's anchor.
 * The graph's identities are preloaded into memory per sandbox (`IdentityCache.preload`, keyed by the value
 * normalised in JavaScript as the graph normalises it in SQL), so an event of a known person resolves without a
 * query. What is not in memory is looked up in `_rt_identity_nodes` by the indexed `key`, all identities of a
 * micro-group at once, with values normalised and keyed by the same SQL the graph uses (`normalizedSql`,
 * `identityKeySql`), phones by libphonenumber as in the graph, and kept. A graph change naming a cached graph or
 * node makes it suspect until its graph is read again (`verify`), instead of dropping it. Misses are not cached:
 * a new identity joins the graph once the slow path applies its record.
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

/**
 * The lookup key of an identity: its namespace and value normalised the way the graph stores it (`normalizedSql`:
 * e-mails and hashes lower-cased, phones in E.164 when they parse). JavaScript's `toLowerCase` equals the
 * engine's `lower` on ASCII only, so other e-mail and hash values keep their raw value behind a distinct prefix
 * (never equal to a normalised key): they are found by the engine's lookup and cached under that key.
 */
export function identityKey(identity: Pick<RecordIdentity, 'ns' | 'kind' | 'raw'>, phoneDefaultCountry: string | null): string {
  const { ns, kind, raw } = identity;
  if (kind === 'email' || kind === 'hash') return ASCII.test(raw) ? `${ns}\u0000${raw.toLowerCase()}` : `${ns}\u0001${raw}`;
  if (kind === 'phone') return `${ns}\u0000${normalizePhone(raw, phoneDefaultCountry ?? undefined)}`;
  return `${ns}\u0000${raw}`;
}

const ASCII = /^[ -~\t\n\r]*$/;
/** Nodes read per preload query (the event loop converts each chunk's rows, so chunks stay small). */
const PRELOAD_CHUNK = 100_000;

/** A graph's nodes: one number for the usual one-node graph, a list otherwise (no Set per graph at a million graphs). */
type Members = number | number[];
const withMember = (members: Members | undefined, node: number): Members => (members === undefined ? node : typeof members === 'number' ? (members === node ? members : [members, node]) : members.includes(node) ? members : [...members, node]);
const withoutMember = (members: Members | undefined, node: number): Members | undefined => (typeof members === 'number' ? (members === node ? undefined : members) : members && members.filter((m) => m !== node));
const membersOf = (members: Members | undefined): readonly number[] => (members === undefined ? [] : typeof members === 'number' ? [members] : members);

/**
 * Per sandbox: identity key (`identityKey`) → node, and node → graph, preloaded from the graph (`preload`) so
 * that resolving the identities of an event is a map lookup, and filled by lookups for what was not loaded.
 *
 * An identity's node never changes (nodes are only added, or removed by a privacy delete); a node's graph
 * changes on a merge or an unmerge. A graph change therefore does not drop entries: it marks the cached nodes
 * of the graphs (and nodes) it names as suspect, and `verify` reads their graphs again in one query (the fast
 * path runs it in the background right after the change). A suspect entry is not used until verified.
 */
export class IdentityCache {
  private readonly byKey = new Map<string, number>();
  private readonly graphOf = new Map<number, number>();
  private readonly byGraph = new Map<number, Members>();
  private readonly suspects = new Set<number>();
  hits = 0;
  misses = 0;

  constructor(private readonly limit = 2_000_000) {}

  get size(): number {
    return this.byKey.size;
  }

  private link(node: number, graph: number): void {
    const previous = this.graphOf.get(node);
    if (previous === graph) return;
    if (previous !== undefined) this.setMembers(previous, withoutMember(this.byGraph.get(previous), node));
    this.graphOf.set(node, graph);
    this.byGraph.set(graph, withMember(this.byGraph.get(graph), node));
  }

  private setMembers(graph: number, members: Members | undefined): void {
    if (members === undefined || (Array.isArray(members) && members.length === 0)) this.byGraph.delete(graph);
    else this.byGraph.set(graph, members);
  }

  private set(key: string, value: ResolvedNode): void {
    if (this.byKey.size >= this.limit && !this.byKey.has(key)) this.clear();
    this.byKey.set(key, value.node);
    this.link(value.node, value.graph);
    // Read again just now: no longer suspect.
    this.suspects.delete(value.node);
  }

  /** Forgets deleted nodes (one pass over the keys for all of them: deletes are rare, keys many). */
  private drop(nodes: ReadonlySet<number>): void {
    if (nodes.size === 0) return;
    for (const [key, node] of this.byKey) if (nodes.has(node)) this.byKey.delete(key);
    for (const node of nodes) {
      const graph = this.graphOf.get(node);
      if (graph !== undefined) this.setMembers(graph, withoutMember(this.byGraph.get(graph), node));
      this.graphOf.delete(node);
      this.suspects.delete(node);
    }
  }

  clear(): void {
    this.byKey.clear();
    this.graphOf.clear();
    this.byGraph.clear();
    this.suspects.clear();
  }

  /**
   * Reads the graph's identities (up to the cache's limit) in chunks of node ids, so that the first event of
   * every known person resolves from memory. Entries a graph change marked meanwhile stay suspect.
   */
  async preload(warehouse: SandboxWarehouse): Promise<number> {
    const bounds = (await warehouse.query(`SELECT min(node) AS lo, max(node) AS hi FROM ${NODES}`)).rows[0];
    if (bounds?.lo === null || bounds?.lo === undefined) return 0;
    let loaded = 0;
    for (let lo = Number(bounds.lo); lo <= Number(bounds.hi) && this.byKey.size < this.limit; lo += PRELOAD_CHUNK) {
      const rows = await warehouse.query(`SELECT node, graph, ns, id FROM ${NODES} WHERE node >= ${lo} AND node < ${lo + PRELOAD_CHUNK}`);
      for (const r of rows.rows) {
        const key = `${r.ns as string}\u0000${r.id as string}`;
        if (this.byKey.has(key) || this.byKey.size >= this.limit) continue;
        const node = Number(r.node);
        this.byKey.set(key, node);
        if (!this.suspects.has(node)) this.link(node, Number(r.graph));
        loaded++;
      }
    }
    return loaded;
  }

  /**
   * Marks the cached nodes of the graphs (and the nodes) a graph change names as suspect; true when any. Graphs
   * that only got events (`eventsOnly`) kept their nodes: nothing to read again.
   */
  invalidate(change: GraphChange): boolean {
    const before = this.suspects.size;
    const unchanged = change.eventsOnly?.graphs;
    if (change.full) for (const node of this.graphOf.keys()) this.suspects.add(node);
    for (const graph of change.graphs) if (!unchanged?.has(graph)) for (const node of membersOf(this.byGraph.get(graph))) this.suspects.add(node);
    for (const node of change.nodes) {
      const graph = this.graphOf.get(node);
      if (graph !== undefined && !unchanged?.has(graph)) this.suspects.add(node);
    }
    return this.suspects.size > before;
  }

  /** Whether an identity's cached node waits for `verify`. */
  suspect(identity: Pick<RecordIdentity, 'ns' | 'kind' | 'raw'>, phoneDefaultCountry: string | null = null): boolean {
    const node = this.byKey.get(identityKey(identity, phoneDefaultCountry));
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
    const gone = new Set<number>();
    for (const node of nodes) {
      const from = this.graphOf.get(node);
      if (from === undefined) continue;
      const to = rows.get(node);
      if (to === undefined) gone.add(node);
      else if (to !== from) this.link(node, to);
      if (to !== from) moved.push({ node, from, to });
    }
    this.drop(gone);
    return moved;
  }

  /**
   * Resolves identities: from memory, else looked up. Identities the graph does not hold stay unknown. A lookup
   * is two cheap queries: the values (one JSON parameter, so the statement stays small) are normalised and keyed
   * by the graph's own SQL, then the keys are looked up as constant `IN` lists, which DuckDB answers from the ART
   * index (measured: 1.5 ms for 100 keys on 2M identities; past a few hundred keys it scans, hence chunks).
   */
  async resolve(warehouse: SandboxWarehouse, identities: readonly RecordIdentity[], phoneDefaultCountry: string | null): Promise<Resolution> {
    const found = new Map<string, ResolvedNode>();
    const keyOf = new Map<RecordIdentity, string>();
    const key = (identity: RecordIdentity): string => {
      let k = keyOf.get(identity);
      if (k === undefined) keyOf.set(identity, (k = identityKey(identity, phoneDefaultCountry)));
      return k;
    };
    const resolution: Resolution = { get: (identity) => found.get(key(identity)) };
    const wanted = new Map<string, RecordIdentity>();
    for (const identity of identities) {
      const k = key(identity);
      const node = this.byKey.get(k);
      if (node !== undefined && !this.suspects.has(node)) {
        this.hits++;
        found.set(k, { node, graph: this.graphOf.get(node)! });
      } else if (!wanted.has(k)) wanted.set(k, identity);
    }
    if (wanted.size === 0) return resolution;
    this.misses += wanted.size;
    const keys = [...wanted.keys()];
    const input = keys.map((k, i) => {
      const identity = wanted.get(k)!;
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
