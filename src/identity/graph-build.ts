/**
 * Building the identity graph: the two operations every graph change is made of, both bulk SQL around one
 * JavaScript union-find.
 *
 * - `applySnapshots`: new dataset snapshots in. Their identities are extracted and normalised in SQL, new
 *   identities get node ids, and their links are applied, in processing order, on top of the graphs they touch
 *   (existing graphs enter the union-find as ready-made groups). Used for a streaming micro-batch, for a
 *   million-row batch, and for a rebuild from scratch (every snapshot, every graph reset to singletons).
 * - `recomputeComponents`: the graphs around some identities are recomputed from all their links, after an
 *   unlink, a relink or a deletion. The scope is the whole connected component *ignoring* guardrails, so that
 *   a link refused earlier because a graph was full is reconsidered when that graph shrinks — the result is
 *   the one a rebuild from scratch would give.
 *
 * Both end in one transaction that writes nodes, the record index, refusals and the state together, and both
 * report which profiles changed (`GraphChange`) so the profile store updates only those.
 *
 * Cost at a million profiles is dominated by passes over the identity occurrences, so the pipeline keeps
 * them few: extraction, normalisation, node numbering, one window for each record's anchor, one sorted export
 * of the links. Node ids travel to the union-find as they are (no SQL densification), and big inserts drop
 * and rebuild their ART index rather than maintaining it row by row.
 */
import type { XdmClassId } from '../ports/metadata-store.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { occurrencesSql, type IdentitySource, type SnapshotFilter } from './extract.ts';
import { identityKeySql, normalizedSql, normalizePhone, type NamespaceInfo } from './normalize.ts';
import { intList, quoteLiteral } from './sql.ts';
import { readIntColumns, withIntColumns, withSession, withStringRecords, type SqlSession } from './staging.ts';
import { APPLIED, changeLogStatements, NODES, NODES_KEY_INDEX, RECORDS, RECORDS_NODE_INDEX, REFUSALS, STATE, UNLINKS, WORK, type GraphSettings } from './store.ts';
import { guardedUnionFind, type RefusalReason } from './union-find.ts';

/** Profiles to recompute after a graph change. */
export interface GraphChange {
  /** Graph ids (profile ids under private-graph stitching) that changed, appeared or disappeared. */
  graphs: Set<number>;
  /** Anchor nodes (profile ids without stitching) whose records changed. */
  nodes: Set<number>;
  /** Anything may have changed: `graphs` and `nodes` do not list it all (a rebuild, a huge merge). */
  full: boolean;
  /**
   * Listed, but so many that profile tables are cheaper to refresh in full (a big batch). Consumers that go
   * profile by profile (streaming audiences) still use the lists.
   */
  large?: boolean;
  /**
   * Of `graphs` and `nodes`, the profiles whose only change is new experience-event records: their identities and
   * attributes are as before, so an existing profile row stays right (only whether a row exists may change).
   * Absent: every listed profile may have changed in any way.
   */
  eventsOnly?: EventsOnly;
}

export interface EventsOnly {
  graphs: Set<number>;
  nodes: Set<number>;
  /** The snapshots applied by the change: every new record of these profiles is in one of them. */
  units: { ds: string; snap: number }[];
}

export const emptyChange = (): GraphChange => ({ graphs: new Set(), nodes: new Set(), full: false });

/** Profiles events-only in either change and not changed otherwise by the other one. */
function mergedEventsOnly(a: GraphChange, b: GraphChange, kind: 'graphs' | 'nodes'): Set<number> {
  const out = new Set<number>();
  const keep = (x: GraphChange, y: GraphChange): void => {
    for (const id of x.eventsOnly?.[kind] ?? []) if (!y[kind].has(id) || y.eventsOnly?.[kind].has(id)) out.add(id);
  };
  keep(a, b);
  keep(b, a);
  return out;
}

export function mergeChanges(into: GraphChange, from: GraphChange): GraphChange {
  const eventsOnly: EventsOnly | undefined =
    into.full || from.full ? undefined : { graphs: mergedEventsOnly(into, from, 'graphs'), nodes: mergedEventsOnly(into, from, 'nodes'), units: [...(into.eventsOnly?.units ?? []), ...(from.eventsOnly?.units ?? [])] };
  from.graphs.forEach((g) => into.graphs.add(g));
  from.nodes.forEach((n) => into.nodes.add(n));
  into.full ||= from.full;
  into.large ||= from.large;
  if (eventsOnly && (eventsOnly.graphs.size || eventsOnly.nodes.size)) into.eventsOnly = eventsOnly;
  else delete into.eventsOnly;
  return into;
}

/** Past this many changed profiles a full refresh of the profile tables is cheaper than row updates. */
export const FULL_REFRESH_THRESHOLD = 20_000;
/** Up to this many changed profiles a change still lists them (`large`); past it, it says `full`. */
const LISTED_LIMIT = 500_000;
/** Inserts larger than this rebuild the table's ART index instead of maintaining it row by row. */
const REINDEX_THRESHOLD = 100_000;

/** One snapshot to apply, at its processing position. */
export interface ApplyUnit {
  ds: string;
  snap: number;
  pos: number;
  rows: number;
  cls: XdmClassId;
  /** The dataset is identity-enabled: its records link identities. */
  linking: boolean;
  /** The dataset is profile-enabled: its records are profile fragments or events. */
  profile: boolean;
}

export interface ApplyPlan {
  sources: { source: IdentitySource; filter: SnapshotFilter }[];
  units: ApplyUnit[];
  namespaces: ReadonlyMap<string, NamespaceInfo>;
  settings: GraphSettings;
  nextNode: number;
}

const REASONS: RefusalReason[] = ['separated', 'unique-namespace', 'graph-size'];

const unitsRelation = (units: readonly ApplyUnit[]): string =>
  `(VALUES ${units.map((u) => `(${quoteLiteral(u.ds)}, ${u.snap}, ${u.pos}, ${u.rows}, ${quoteLiteral(u.cls)}, ${u.linking}, ${u.profile})`).join(', ')}) AS u(ds, snap, pos, rows, cls, linking, profile)`;

/** Extracts, normalises and applies the plan's snapshots; returns the profiles that changed. */
export function applySnapshots(target: SandboxWarehouse, plan: ApplyPlan): Promise<GraphChange> {
  return withSession(target, (warehouse) => applyIn(warehouse, plan));
}

async function applyIn(warehouse: SqlSession, plan: ApplyPlan): Promise<GraphChange> {
  const units = unitsRelation(plan.units);
  await extractIdentities(warehouse, plan.sources, plan.namespaces, plan.settings);
  const added = await assignNodes(warehouse, plan.nextNode, units);
  // Existing graphs touched by the new records take part as groups; new identities start on their own.
  const scope = `SELECT node, graph AS start, graph, ns FROM ${NODES} WHERE graph IN (
    SELECT DISTINCT n.graph FROM ${NODES} n WHERE n.node IN (SELECT node FROM ${WORK.records} WHERE linking))`;
  const { changed, scoped } = await runUnionFind(warehouse, plan.settings, scope, `SELECT rowid, node, ord, ns FROM ${WORK.records} WHERE linking`);
  const change = changed > LISTED_LIMIT ? { ...emptyChange(), full: true } : await applyChange(warehouse, plan.units);
  const log = await touchedLog(warehouse, plan, added, scoped);
  const reindexNodes = added > REINDEX_THRESHOLD;
  const reindexRecords = Number((await warehouse.query(`SELECT count(*) AS n FROM ${WORK.records}`)).rows[0]?.n ?? 0) > REINDEX_THRESHOLD;
  // A big insert drops the ART index and builds it again after the commit, faster than maintaining it row by
  // row; should the process stop in between, `ensureIdentityTables` recreates it on the next start.
  await inTransaction(warehouse, [
    ...(reindexNodes ? [`DROP INDEX IF EXISTS ${NODES_KEY_INDEX}`] : []),
    ...(reindexRecords ? [`DROP INDEX IF EXISTS ${RECORDS_NODE_INDEX}`] : []),
    `INSERT INTO ${NODES} SELECT w.node, w.key, w.ns, w.id, coalesce(r.graph, w.node) FROM ${WORK.newNodes} w LEFT JOIN ${WORK.result} r ON r.node = w.node`,
    `UPDATE ${NODES} SET graph = r.graph FROM ${WORK.result} r WHERE r.node < ${plan.nextNode} AND ${NODES}.node = r.node AND ${NODES}.graph <> r.graph`,
    `INSERT INTO ${RECORDS} SELECT ds, snap, seq, ord, node, CASE WHEN cls = 'experienceevent' THEN ts END FROM ${WORK.records}`,
    `INSERT INTO ${REFUSALS} SELECT ds, snap, seq, ord, a, b, reason, namespace, now() FROM ${WORK.refused}`,
    `INSERT INTO ${APPLIED} SELECT ds, snap, pos, rows, linking, now() FROM ${units}`,
    `UPDATE ${STATE} SET next_node = ${plan.nextNode + added}, next_pos = ${Math.max(...plan.units.map((u) => u.pos)) + 1}, version = version + 1`,
    log,
  ]);
  if (reindexNodes) await warehouse.query(`CREATE INDEX IF NOT EXISTS ${NODES_KEY_INDEX} ON ${NODES} (key)`);
  if (reindexRecords) await warehouse.query(`CREATE INDEX IF NOT EXISTS ${RECORDS_NODE_INDEX} ON ${RECORDS} (node)`);
  return change;
}

/**
 * The change log of an apply (`changeLogStatements`), after its graph updates: every identity of the graphs its
 * linking records touched (`WORK.scope`, with their new graph) and the new identities. Records of a dataset that
 * does not link touch no graph but may add to an existing one (a first date, CLV): listing that graph would
 * take two scans of `nodes` here, so such a version is logged unlisted (a reader scans instead).
 */
async function touchedLog(warehouse: SqlSession, plan: ApplyPlan, added: number, scoped: number): Promise<string> {
  const moved = (from: string, graph: string) => `SELECT s.node, coalesce(r.graph, ${graph}) AS graph, s.ns FROM ${from} s LEFT JOIN ${WORK.result} r ON r.node = s.node`;
  const outside = plan.units.some((u) => !u.linking)
    ? Number((await warehouse.query(`SELECT count(*) AS n FROM (SELECT node FROM ${WORK.records} WHERE NOT linking AND node < ${plan.nextNode} EXCEPT SELECT node FROM ${WORK.scope})`)).rows[0]?.n)
    : 0;
  return changeLogStatements(outside ? null : `${moved(WORK.scope, 's.graph')} UNION ALL ${moved(WORK.newNodes, 's.node')}`, added + scoped);
}

/**
 * Occurrences of every source → `WORK.identities`: normalised identities per record (`ds, snap, seq, ts, ns,
 * id, key, rnk`), `rnk` ranking them in their record (the lowest is the anchor).
 */
async function extractIdentities(
  warehouse: SqlSession,
  sources: ApplyPlan['sources'],
  namespaces: ReadonlyMap<string, NamespaceInfo>,
  settings: GraphSettings,
): Promise<void> {
  const parts = sources.map(({ source, filter }) => `SELECT * FROM (${occurrencesSql(source, namespaces, filter)})`);
  // One pass normalises everything SQL can; phones that need libphonenumber are left NULL and filled after.
  await warehouse.query(`CREATE OR REPLACE TEMP TABLE ${WORK.identities} AS
    SELECT ds, snap, seq, ts, ns, raw, id, ${identityKeySql('ns', 'id')} AS key, rnk, anchor FROM (
      SELECT o.ds, o.snap, o.seq, o.ts, o.ns, o.raw, ${normalizedSql('o.kind', 'o.raw', 'NULL')} AS id, o.rnk, o.anchor
      FROM (${parts.join('\nUNION ALL\n')}) o
    )`);
  await normalisePhones(warehouse, settings.phoneDefaultCountry);
}

/**
 * The records (`ds, snap, seq`) of the given sources that carry one of `identities` (namespace and normalised
 * value): how the privacy delete finds a person in datasets the graph does not index.
 */
export async function recordsCarrying(
  target: SandboxWarehouse,
  sources: ApplyPlan['sources'],
  namespaces: ReadonlyMap<string, NamespaceInfo>,
  settings: GraphSettings,
  identities: readonly { namespace: string; id: string }[],
): Promise<{ ds: string; snap: number; seq: number }[]> {
  if (sources.length === 0 || identities.length === 0) return [];
  return withSession(target, async (warehouse) => {
    await extractIdentities(warehouse, sources, namespaces, settings);
    const wanted = identities.map((i) => `(${quoteLiteral(i.namespace)}, ${quoteLiteral(i.id)})`).join(', ');
    const rows = await warehouse.query(`SELECT DISTINCT i.ds, i.snap, i.seq FROM ${WORK.identities} i JOIN (VALUES ${wanted}) w(ns, id) ON w.ns = i.ns AND w.id = i.id`);
    return rows.rows.map((r) => ({ ds: r.ds as string, snap: Number(r.snap), seq: Number(r.seq) }));
  });
}

/** Phones not already in E.164 form: each distinct value makes one trip through libphonenumber. */
async function normalisePhones(warehouse: SqlSession, defaultCountry: string | null): Promise<void> {
  const raw = await warehouse.query(`SELECT DISTINCT raw FROM ${WORK.identities} WHERE id IS NULL`);
  if (raw.rows.length === 0) return;
  const records = raw.rows.map((r) => ({ raw: r.raw as string, id: normalizePhone(r.raw as string, defaultCountry ?? undefined) }));
  await withStringRecords(warehouse, ['raw', 'id'], records, (source) =>
    warehouse.query(`UPDATE ${WORK.identities} SET id = p.id, key = ${identityKeySql(`${WORK.identities}.ns`, 'p.id')}
      FROM ${source} p WHERE ${WORK.identities}.id IS NULL AND ${WORK.identities}.raw = p.raw`),
  );
}

/**
 * Numbers identities never seen before in order of first appearance (ties within a record by key) into
 * `WORK.newNodes`, then gives every
 * occurrence its node, its record's anchor and `ord` (0 for the anchor, its rank otherwise) in
 * `WORK.records`. Returns how many identities are new.
 */
async function assignNodes(warehouse: SqlSession, nextNode: number, units: string): Promise<number> {
  await warehouse.query(`CREATE OR REPLACE TEMP TABLE ${WORK.newNodes} AS
    SELECT ${nextNode - 1} + row_number() OVER (ORDER BY first, key) AS node, key, ns, id FROM (
      SELECT i.key, i.ns, i.id, min(u.pos * 4294967296 + i.seq) AS first FROM ${WORK.identities} i JOIN ${units} ON u.ds = i.ds AND u.snap = i.snap
      WHERE NOT EXISTS (SELECT 1 FROM ${NODES} n WHERE n.key = i.key AND n.ns = i.ns AND n.id = i.id)
      GROUP BY i.key, i.ns, i.id)`);
  const added = Number((await warehouse.query(`SELECT count(*) AS n FROM ${WORK.newNodes}`)).rows[0]?.n ?? 0);
  // In processing order (record by record, anchor first): the union-find reads it top to bottom.
  await warehouse.query(`CREATE OR REPLACE TEMP TABLE ${WORK.records} AS
    WITH known AS (SELECT node, key, ns, id FROM ${NODES} UNION ALL SELECT node, key, ns, id FROM ${WORK.newNodes})
    SELECT i.ds, i.snap, i.seq, CASE WHEN i.anchor THEN 0 ELSE i.rnk END AS ord, k.node, i.ns, u.pos, i.ts, u.cls, u.linking, u.profile
    FROM ${WORK.identities} i JOIN ${units} ON u.ds = i.ds AND u.snap = i.snap
    JOIN known k ON k.key = i.key AND k.ns = i.ns AND k.id = i.id
    ORDER BY u.pos, i.seq, i.ds, ord`);
  return added;
}

/** Profiles touched by an apply: graphs that changed and the graphs and anchors of new profile records. */
async function applyChange(warehouse: SqlSession, units: readonly ApplyUnit[]): Promise<GraphChange> {
  const graphs = `SELECT start AS id FROM ${WORK.result} UNION SELECT graph FROM ${WORK.result}
    UNION SELECT coalesce(r.graph, n.graph, a.node) FROM (SELECT DISTINCT node FROM ${WORK.records} WHERE profile AND ord = 0) a
      LEFT JOIN ${WORK.result} r ON r.node = a.node LEFT JOIN ${NODES} n ON n.node = a.node`;
  const nodes = `SELECT DISTINCT node AS id FROM ${WORK.records} WHERE profile AND ord = 0`;
  const change = await changeFrom(warehouse, graphs, nodes);
  return change.full ? change : { ...change, eventsOnly: { ...(await eventsOnlyProfiles(warehouse)), units: units.map((u) => ({ ds: u.ds, snap: u.snap })) } };
}

/**
 * The profiles of an apply whose records are all experience events on identities the graph knew, in graphs the
 * apply did not change (`GraphChange.eventsOnly`). Runs before the apply's writes: `NODES` holds the old graphs
 * and no new identity (a profile anchored on one is new, so never events-only).
 */
async function eventsOnlyProfiles(warehouse: SqlSession): Promise<{ graphs: Set<number>; nodes: Set<number> }> {
  const rows = await warehouse.query(`WITH anchors AS (SELECT node, bool_and(cls = 'experienceevent') AS events FROM ${WORK.records} WHERE profile AND ord = 0 GROUP BY node),
    known AS (SELECT a.node, a.events, n.graph FROM anchors a JOIN ${NODES} n ON n.node = a.node)
    SELECT 'node' AS kind, node AS id FROM known WHERE events
    UNION ALL SELECT 'graph', graph FROM known WHERE graph NOT IN (SELECT start FROM ${WORK.result} UNION SELECT graph FROM ${WORK.result}) GROUP BY graph HAVING bool_and(events)`);
  const out = { graphs: new Set<number>(), nodes: new Set<number>() };
  for (const r of rows.rows) out[r.kind === 'node' ? 'nodes' : 'graphs'].add(Number(r.id));
  return out;
}

async function changeFrom(warehouse: SqlSession, graphsSql: string, nodesSql: string): Promise<GraphChange> {
  const counts = (await warehouse.query(`SELECT (SELECT count(*) FROM (${graphsSql})) AS g, (SELECT count(*) FROM (${nodesSql})) AS n`)).rows[0];
  const changed = Number(counts?.g) + Number(counts?.n);
  if (changed > LISTED_LIMIT) return { graphs: new Set(), nodes: new Set(), full: true };
  const ids = async (sql: string) => new Set((await warehouse.query(`SELECT id FROM (${sql}) WHERE id IS NOT NULL`)).rows.map((r) => Number(r.id)));
  return { graphs: await ids(graphsSql), nodes: await ids(nodesSql), full: false, large: changed > FULL_REFRESH_THRESHOLD };
}

/**
 * Recomputes every graph of the connected components (links of identity-enabled datasets, guardrails
 * ignored) around the `seeds` nodes from all their links, as a rebuild would.
 */
export async function recomputeComponents(
  target: SandboxWarehouse,
  settings: GraphSettings,
  seeds: string,
  linkingDatasets: readonly string[],
): Promise<GraphChange> {
  const linking = linkingDatasets.length ? linkingDatasets.map(quoteLiteral).join(', ') : 'NULL';
  return withSession(target, async (warehouse) => {
    await warehouse.query(`CREATE OR REPLACE TEMP TABLE ${WORK.reach} AS
      WITH RECURSIVE reach(node) AS (
        SELECT node FROM (${seeds})
        UNION
        SELECT r2.node FROM reach JOIN ${RECORDS} r1 ON r1.node = reach.node
          JOIN ${RECORDS} r2 ON r2.ds = r1.ds AND r2.snap = r1.snap AND r2.seq = r1.seq
        WHERE r1.ds IN (${linking})
      )
      SELECT DISTINCT node FROM reach`);
    // Everyone in scope starts on their own (`start` = node); `graph` is where they are now.
    const scope = `SELECT n.node, n.node AS start, n.graph, n.ns FROM ${NODES} n WHERE n.node IN (SELECT node FROM ${WORK.reach})`;
    await warehouse.query(`CREATE OR REPLACE TEMP TABLE ${WORK.records} AS
      WITH recs AS (SELECT DISTINCT ds, snap, seq FROM ${RECORDS} WHERE ds IN (${linking}) AND node IN (SELECT node FROM ${WORK.reach}))
      SELECT r.ds, r.snap, r.seq, r.ord, r.node, n.ns FROM ${RECORDS} r JOIN recs USING (ds, snap, seq) JOIN ${NODES} n ON n.node = r.node
        JOIN ${APPLIED} a ON a.ds = r.ds AND a.snap = r.snap
      ORDER BY a.pos, r.seq, r.ds, r.ord`);
    const { changed } = await runUnionFind(warehouse, settings, scope, `SELECT rowid, node, ord, ns FROM ${WORK.records}`);
    const change = changed > LISTED_LIMIT ? { ...emptyChange(), full: true } : await changeFrom(warehouse, `SELECT start AS id FROM ${WORK.result} UNION SELECT graph FROM ${WORK.result}`, `SELECT NULL AS id WHERE false`);
    await inTransaction(warehouse, [
      `UPDATE ${NODES} SET graph = r.graph FROM ${WORK.result} r WHERE ${NODES}.node = r.node AND ${NODES}.graph <> r.graph`,
      `DELETE FROM ${REFUSALS} WHERE a IN (SELECT node FROM ${WORK.reach}) OR b IN (SELECT node FROM ${WORK.reach})`,
      `INSERT INTO ${REFUSALS} SELECT ds, snap, seq, ord, a, b, reason, namespace, now() FROM ${WORK.refused}`,
      `UPDATE ${STATE} SET version = version + 1`,
    ]);
    return change;
  });
}

/** Runs the statements as one transaction on the session's connection (rolled back if one fails). */
async function inTransaction(warehouse: SqlSession, statements: readonly string[]): Promise<void> {
  await warehouse.query('BEGIN TRANSACTION');
  try {
    for (const statement of statements) await warehouse.query(statement);
    await warehouse.query('COMMIT');
  } catch (error) {
    await warehouse.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Dense indexes for node ids: an offset when the ids are nearly contiguous, a map otherwise. */
function indexer(ids: readonly Float64Array[]): { size: number; has: (id: number) => boolean; of: (id: number) => number; idOf: (idx: number) => number } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let count = 0;
  for (const list of ids) {
    count += list.length;
    for (let i = 0; i < list.length; i++) {
      if (list[i]! < min) min = list[i]!;
      if (list[i]! > max) max = list[i]!;
    }
  }
  if (count === 0) return { size: 0, has: () => false, of: () => -1, idOf: () => -1 };
  if (max - min + 1 <= 4 * count + 1024) return { size: max - min + 1, has: (id) => id >= min && id <= max, of: (id) => id - min, idOf: (idx) => idx + min };
  const map = new Map<number, number>();
  const back: number[] = [];
  for (const list of ids) for (let i = 0; i < list.length; i++) if (!map.has(list[i]!)) map.set(list[i]!, back.push(list[i]!) - 1);
  return { size: back.length, has: (id) => map.has(id), of: (id) => map.get(id)!, idOf: (idx) => back[idx]! };
}

/**
 * The union-find step. `scopeSql` lists existing nodes taking part (`node, start, graph, ns`: nodes sharing
 * `start` begin as one graph; `graph` is their graph now); nodes only named by records are new singletons.
 * `recordsSql` lists the occurrences of linking records (`rowid, node, ord, ns`) of `WORK.records` in
 * processing order, each record's anchor (`ord` 0) first: every other identity of the record links to it.
 * Leaves `WORK.result` (node, its graph before as `start`, its new graph — the smallest node id of the graph —
 * for nodes whose graph changed) and `WORK.refused`.
 */
async function runUnionFind(warehouse: SqlSession, settings: GraphSettings, scopeSql: string, recordsSql: string): Promise<{ changed: number; scoped: number }> {
  const unique = settings.uniqueNamespaces;
  const uniqueOf = (column: string) => (unique.length ? `CASE ${column} ${unique.map((ns, i) => `WHEN ${quoteLiteral(ns)} THEN ${i}`).join(' ')} ELSE -1 END` : '-1');
  await warehouse.query(`CREATE OR REPLACE TEMP TABLE ${WORK.scope} AS ${scopeSql}`);
  const [sNode, sStart, sGraph, sUniq] = await readIntColumns(warehouse, `SELECT node, start, graph, ${uniqueOf('ns')} FROM ${WORK.scope}`, 4);
  const [rRow, rNode, rOrd, rUniq] = await readIntColumns(warehouse, `SELECT rowid, node, ord, ${uniqueOf('ns')} FROM (${recordsSql}) ORDER BY rowid`, 4);
  const [sa, sb] = await readIntColumns(
    warehouse,
    `SELECT a.node, b.node FROM ${UNLINKS} u
     JOIN ${NODES} a ON a.key = ${identityKeySql('u.ns_a', 'u.id_a')} AND a.ns = u.ns_a AND a.id = u.id_a
     JOIN ${NODES} b ON b.key = ${identityKeySql('u.ns_b', 'u.id_b')} AND b.ns = u.ns_b AND b.id = u.id_b`,
    2,
  );
  const index = indexer([sNode!, rNode!]);
  const present = new Uint8Array(index.size);
  const group = Int32Array.from({ length: index.size }, (_, i) => i);
  const uniq = new Int32Array(index.size).fill(-1);
  const before = Float64Array.from({ length: index.size }, (_, i) => index.idOf(i));
  for (let i = 0; i < sNode!.length; i++) {
    const n = index.of(sNode![i]!);
    present[n] = 1;
    group[n] = index.of(sStart![i]!);
    before[n] = sGraph![i]!;
    uniq[n] = sUniq![i]!;
  }
  // Links: each non-anchor occurrence to its record's anchor; the occurrence's row names the link.
  const links: number[] = [];
  const linkRows: number[] = [];
  let anchor = -1;
  for (let i = 0; i < rNode!.length; i++) {
    const n = index.of(rNode![i]!);
    present[n] = 1;
    uniq[n] = rUniq![i]!;
    if (rOrd![i] === 0) anchor = n;
    else if (anchor >= 0 && anchor !== n) {
      links.push(anchor, n);
      linkRows.push(rRow![i]!);
    }
  }
  const seps: number[] = [];
  for (let i = 0; i < sa!.length; i++) {
    const [a, b] = [sa![i]!, sb![i]!];
    if (index.has(a) && index.has(b) && present[index.of(a)] && present[index.of(b)]) seps.push(index.of(a), index.of(b));
  }
  const { root, refusals } = guardedUnionFind({
    group,
    unique: uniq,
    uniqueCount: unique.length,
    maxIdentities: settings.maxIdentities,
    links: Int32Array.from(links),
    separations: Int32Array.from(seps),
  });
  const graphOfRoot = new Float64Array(index.size).fill(Number.POSITIVE_INFINITY);
  for (let i = 0; i < index.size; i++) if (present[i]) graphOfRoot[root[i]!] = Math.min(graphOfRoot[root[i]!]!, index.idOf(i));
  const changed = { node: [] as number[], start: [] as number[], graph: [] as number[] };
  for (let i = 0; i < index.size; i++) {
    const graph = graphOfRoot[root[i]!]!;
    if (!present[i] || graph === before[i]) continue;
    changed.node.push(index.idOf(i));
    changed.start.push(before[i]!);
    changed.graph.push(graph);
  }
  await withIntColumns(warehouse, changed, (source) => warehouse.query(`CREATE OR REPLACE TEMP TABLE ${WORK.result} AS SELECT node, start, graph FROM ${source}`));
  const reasonCase = `CASE r.reason ${REASONS.map((reason, i) => `WHEN ${i} THEN ${quoteLiteral(reason)}`).join(' ')} END`;
  const namespaceCase = unique.length ? `CASE r.ns ${unique.map((ns, i) => `WHEN ${i} THEN ${quoteLiteral(ns)}`).join(' ')} END` : 'NULL';
  await withIntColumns(
    warehouse,
    {
      row: refusals.map((r) => linkRows[r.link]!),
      a: refusals.map((r) => index.idOf(links[2 * r.link]!)),
      reason: refusals.map((r) => REASONS.indexOf(r.reason)),
      ns: refusals.map((r) => r.namespace),
    },
    (source) =>
      warehouse.query(`CREATE OR REPLACE TEMP TABLE ${WORK.refused} AS
        SELECT w.ds, w.snap, w.seq, w.ord, r.a, w.node AS b, ${reasonCase} AS reason, ${namespaceCase}::VARCHAR AS namespace
        FROM ${source} r JOIN ${WORK.records} w ON w.rowid = r.row`),
  );
  return { changed: changed.node.length, scoped: sNode!.length };
}

/** SQL listing the nodes of the given graphs (for seeding a recompute). */
export const nodesOfGraphs = (graphs: Iterable<number>): string => `SELECT node FROM ${NODES} WHERE graph IN (${intList(graphs)})`;
