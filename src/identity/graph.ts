/**
 * The identity graph of a sandbox: identities (namespace, value) from every identity- and profile-enabled
 * dataset, linked when they appear in one record, grouped into graphs (connected components) under
 * guardrails. This service keeps it current and answers questions about it:
 *
 * - `sync` applies committed snapshots not yet applied, in commit order (batches in bulk, streaming
 *   micro-batches incrementally: the same code); it runs on every event-bus message and before every
 *   profile read, so a read always sees every acknowledged write;
 * - `rebuild` recomputes everything from the datasets (keeping node ids and removed links);
 * - `unlink` / `relink` remove a link (the two identities stay apart, also through rebuilds) and restore it;
 * - `resolve`, `view`, `refusals`, `stats` read it.
 *
 * Every change runs under the sandbox's lock and then tells the listeners (the profile store) which profiles
 * changed. Node ids never change for an identity; a graph's id is its smallest node id, so the older profile's
 * id survives a merge and both ids come back after an unmerge.
 */
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import type { SchemaRegistry } from '../catalog/schema-registry.ts';
import { KeyedLock } from '../core/keyed-lock.ts';
import type { ResolvedSchema } from '../catalog/xdm/compose.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { DatasetRecord, MetadataStore, SnapshotRecord } from '../ports/metadata-store.ts';
import type { SandboxWarehouse, Warehouse } from '../ports/warehouse.ts';
import { hasIdentities, type IdentitySource, type SnapshotFilter } from './extract.ts';
import { applySnapshots, emptyChange, mergeChanges, nodesOfGraphs, recomputeComponents, type ApplyUnit, type GraphChange } from './graph-build.ts';
import { identityKeySql, kindLiteral, namespaceIndex, normalizedSql, normalizePhone, trimmedSql, type NamespaceInfo } from './normalize.ts';
import { intList, quoteLiteral } from './sql.ts';
import { APPLIED, NODES, RECORDS, REFUSALS, STATE, UNLINKS, ensureIdentityTables, readState, type GraphSettings, type GraphState } from './store.ts';

export interface IdentityRef {
  namespace: string;
  id: string;
}

/** An identity found in the graph. */
export interface GraphNode {
  node: number;
  graph: number;
  namespace: string;
  id: string;
}

/** What a read needs: the sandbox's database, its namespaces and the graph settings (normalisation). */
export interface LookupContext {
  sandbox: string;
  warehouse: SandboxWarehouse;
  namespaces: Map<string, NamespaceInfo>;
  settings: GraphSettings;
}

/** What a graph change is applied against: also the datasets and the graph's state. */
export interface GraphContext extends LookupContext {
  datasets: DatasetRecord[];
  /** Datasets whose records are indexed (identity- or profile-enabled, with identity fields), by id. */
  sources: Map<string, IdentitySource>;
  state: GraphState;
}

export type GraphListener = (context: GraphContext, change: GraphChange) => Promise<void>;

/** What the process remembers per sandbox database to make "nothing new" a check in memory. */
interface SyncMemory {
  /** Per dataset: every snapshot id up to this one is applied (or failed). */
  handled: Map<string, number>;
  applied: Map<string, Set<number>>;
  /** Per dataset: whether it was identity-enabled when its snapshots were applied. */
  linking: Map<string, boolean>;
}

const MAX_IDENTITIES_LIMIT = 10_000;

export class IdentityGraph {
  private readonly listeners: GraphListener[] = [];
  private readonly locks = new KeyedLock();
  private readonly memory = new WeakMap<SandboxWarehouse, SyncMemory>();
  private readonly schemas = new Map<string, ResolvedSchema>();
  /** Per sandbox: namespaces never disappear, so a miss reloads and a hit needs no query. */
  private readonly namespaceCache = new Map<string, Map<string, NamespaceInfo>>();
  /** Graph settings per sandbox database; only `updateSettings` changes them. */
  private readonly settingsCache = new WeakMap<SandboxWarehouse, GraphSettings>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly warehouse: Warehouse,
    private readonly registry: SchemaRegistry,
    private readonly audit: AuditLog,
  ) {}

  /** Listeners run under the sandbox lock after every committed graph change. */
  onChange(listener: GraphListener): void {
    this.listeners.push(listener);
  }

  /** Runs `work` with the sandbox's graph to itself (changes are serialised per sandbox). */
  withLock<T>(sandbox: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(sandbox, work);
  }

  async context(sandbox: string): Promise<GraphContext> {
    const warehouse = await this.warehouse.sandbox(sandbox);
    await ensureIdentityTables(warehouse);
    const datasets = await this.metadata.datasets.list(sandbox);
    const sources = new Map<string, IdentitySource>();
    for (const dataset of datasets) {
      if (!dataset.identityEnabled && !dataset.profileEnabled) continue;
      const schema = await this.schemaOf(sandbox, dataset);
      if (hasIdentities(schema)) sources.set(dataset.id, { dataset, schema });
    }
    const namespaces = await this.namespacesOf(sandbox);
    const state = await readState(warehouse);
    this.settingsCache.set(warehouse, state.settings);
    const context: GraphContext = {
      sandbox,
      warehouse,
      datasets,
      sources,
      namespaces,
      state,
      // The settings are the state's, which a change re-reads.
      get settings(): GraphSettings {
        return context.state.settings;
      },
    };
    return context;
  }

  /** The sandbox's namespaces by lower-cased code; reloaded when `wanted` is not among them. */
  private async namespacesOf(sandbox: string, wanted?: string): Promise<Map<string, NamespaceInfo>> {
    const cached = this.namespaceCache.get(sandbox);
    if (cached && (wanted === undefined || cached.has(wanted.toLowerCase()))) return cached;
    const fresh = namespaceIndex(await this.registry.listNamespaces(sandbox));
    this.namespaceCache.set(sandbox, fresh);
    return fresh;
  }

  /** A dataset's resolved schema at its version (cached: versions never change). */
  async schemaOf(sandbox: string, dataset: DatasetRecord): Promise<ResolvedSchema> {
    const key = `${sandbox}/${dataset.schemaId}@${dataset.schemaVersion}`;
    let schema = this.schemas.get(key);
    if (!schema) {
      schema = await this.registry.getResolved(sandbox, dataset.schemaId, dataset.schemaVersion);
      this.schemas.set(key, schema);
    }
    return schema;
  }

  /** Tells the listeners (profile store) what changed, even nothing (they record the graph version); under the lock. */
  async notify(context: GraphContext, change: GraphChange): Promise<void> {
    context.state = await readState(context.warehouse);
    for (const listener of this.listeners) await listener(context, change);
  }

  // Keeping current ---------------------------------------------------------------------------------------

  /** Applies every committed snapshot not yet applied. Cheap when there is none (a check in memory). */
  async sync(sandbox: string): Promise<void> {
    const warehouse = await this.warehouse.sandbox(sandbox);
    const memory = this.memory.get(warehouse);
    // Nothing new and no change under way (a sync may be between its commit and the profile tables' update).
    if (memory && !this.locks.busy(sandbox) && !this.behind(memory, await this.metadata.datasets.list(sandbox))) return;
    await this.withLock(sandbox, async () => {
      const context = await this.context(sandbox);
      const change = await this.syncLocked(context);
      if (change) await this.notify(context, change);
    });
  }

  private behind(memory: SyncMemory, datasets: readonly DatasetRecord[]): boolean {
    const present = new Set(datasets.map((d) => d.id));
    if ([...memory.applied.keys()].some((id) => !present.has(id))) return true;
    return datasets.some(
      (d) => (d.identityEnabled || d.profileEnabled) && (d.lastSnapshotId > (memory.handled.get(d.id) ?? 0) || (memory.linking.has(d.id) && memory.linking.get(d.id) !== d.identityEnabled)),
    );
  }

  /** Under the lock: purges deleted datasets, applies pending snapshots; returns the profiles that changed (none: nothing new). */
  async syncLocked(context: GraphContext): Promise<GraphChange | undefined> {
    let memory = await this.loadMemory(context.warehouse);
    const flipped = [...context.sources.values()].some(({ dataset }) => memory.linking.has(dataset.id) && memory.linking.get(dataset.id) !== dataset.identityEnabled);
    if (flipped) {
      // A dataset started or stopped linking identities: every graph may change, so rebuild.
      await this.rebuildLocked(context, false);
      memory = await this.loadMemory(context.warehouse);
    }
    const change: GraphChange = { ...emptyChange(), full: flipped };
    let changed = flipped;
    for (const ds of [...memory.applied.keys()].filter((id) => !context.sources.has(id))) {
      mergeChanges(change, await this.removeRecords(context, `ds = ${quoteLiteral(ds)}`));
      changed = true;
      await context.warehouse.query(`DELETE FROM ${APPLIED} WHERE ds = ${quoteLiteral(ds)}`);
      memory.applied.delete(ds);
      memory.handled.delete(ds);
    }
    // Enabled datasets without identity fields have nothing to index: remember them as handled.
    for (const d of context.datasets) if (!context.sources.has(d.id)) memory.handled.set(d.id, d.lastSnapshotId);
    // What this sync handles is remembered only once it is committed: a read that finds the memory current
    // skips the lock, so it must never see a snapshot as handled before its identities are in the graph.
    const handledNow = new Map<string, number>();
    const pending: { unit: Omit<ApplyUnit, 'pos'>; at: string }[] = [];
    const filters = new Map<string, SnapshotFilter>();
    for (const [ds, source] of context.sources) {
      const handled = memory.handled.get(ds) ?? 0;
      if (source.dataset.lastSnapshotId <= handled) continue;
      const snapshots = await this.metadata.snapshots.list(context.sandbox, ds);
      const applied = memory.applied.get(ds) ?? new Set<number>();
      const todo = snapshots.filter((s) => s.status === 'committed' && !applied.has(s.snapshotId));
      handledNow.set(ds, handledUpTo(snapshots, applied, todo));
      if (todo.length === 0) continue;
      filters.set(ds, applied.size === 0 ? { except: snapshots.filter((s) => s.status !== 'committed').map((s) => s.snapshotId) } : { only: todo.map((s) => s.snapshotId) });
      for (const s of todo) pending.push({ unit: this.unit(source, s), at: s.committedAt ?? s.createdAt });
    }
    const remember = (): void => handledNow.forEach((upTo, ds) => memory.handled.set(ds, upTo));
    if (pending.length === 0) {
      remember();
      return changed ? change : undefined;
    }
    pending.sort((a, b) => a.at.localeCompare(b.at) || a.unit.ds.localeCompare(b.unit.ds) || a.unit.snap - b.unit.snap);
    const units = pending.map((p, i) => ({ ...p.unit, pos: context.state.nextPos + i }));
    mergeChanges(change, await this.apply(context, units, filters));
    for (const u of units) {
      if (!memory.applied.has(u.ds)) memory.applied.set(u.ds, new Set());
      memory.applied.get(u.ds)!.add(u.snap);
      memory.linking.set(u.ds, u.linking);
    }
    remember();
    return change;
  }

  private unit(source: IdentitySource, snapshot: SnapshotRecord): Omit<ApplyUnit, 'pos'> {
    const { dataset, schema } = source;
    return { ds: dataset.id, snap: snapshot.snapshotId, rows: snapshot.rowCount, cls: schema['meta:class'], linking: dataset.identityEnabled, profile: dataset.profileEnabled };
  }

  private async apply(context: GraphContext, units: ApplyUnit[], filters: Map<string, SnapshotFilter>): Promise<GraphChange> {
    const datasets = [...new Set(units.map((u) => u.ds))];
    const change = await applySnapshots(context.warehouse, {
      sources: datasets.map((ds) => ({ source: context.sources.get(ds)!, filter: filters.get(ds) ?? {} })),
      units,
      namespaces: context.namespaces,
      settings: context.state.settings,
      nextNode: context.state.nextNode,
    });
    context.state = await readState(context.warehouse);
    return change;
  }

  private async loadMemory(warehouse: SandboxWarehouse): Promise<SyncMemory> {
    let memory = this.memory.get(warehouse);
    if (!memory) {
      memory = { handled: new Map(), applied: new Map(), linking: new Map() };
      for (const row of (await warehouse.query(`SELECT ds, list(snap) AS snaps, bool_or(linking) AS linking FROM ${APPLIED} GROUP BY ds`)).rows) {
        memory.applied.set(row.ds as string, new Set((row.snaps as number[]).map(Number)));
        memory.linking.set(row.ds as string, Boolean(row.linking));
      }
      this.memory.set(warehouse, memory);
    }
    return memory;
  }

  /**
   * Rebuilds the graph from the datasets: every graph back to single identities, every committed snapshot
   * applied again in the order it was first processed. Node ids and removed links are kept.
   */
  async rebuild(actor: Principal, sandbox: string): Promise<GraphStats> {
    await this.withLock(sandbox, async () => {
      const context = await this.context(sandbox);
      await this.rebuildLocked(context);
    });
    await this.audit.record(actor, { sandbox, action: 'identity.rebuild', resourceType: 'identity-graph', resourceId: sandbox });
    return this.stats(sandbox);
  }

  async rebuildLocked(context: GraphContext, notify = true): Promise<void> {
    const { warehouse } = context;
    const firstOrder = new Map(
      (await warehouse.query(`SELECT ds, snap, pos FROM ${APPLIED}`)).rows.map((r) => [`${r.ds as string}/${Number(r.snap)}`, Number(r.pos)]),
    );
    await warehouse.query(`BEGIN TRANSACTION;
      DELETE FROM ${RECORDS}; DELETE FROM ${REFUSALS}; DELETE FROM ${APPLIED};
      UPDATE ${NODES} SET graph = node WHERE graph <> node;
      UPDATE ${STATE} SET next_pos = 1, version = version + 1;
      COMMIT`);
    this.memory.delete(warehouse);
    context.state = await readState(warehouse);
    const pending: (Omit<ApplyUnit, 'pos'> & { order: number; at: string })[] = [];
    const filters = new Map<string, SnapshotFilter>();
    for (const [ds, source] of context.sources) {
      const snapshots = await this.metadata.snapshots.list(context.sandbox, ds);
      for (const s of snapshots.filter((x) => x.status === 'committed')) {
        pending.push({ ...this.unit(source, s), order: firstOrder.get(`${ds}/${s.snapshotId}`) ?? Number.MAX_SAFE_INTEGER, at: s.committedAt ?? s.createdAt });
      }
      filters.set(ds, { except: snapshots.filter((x) => x.status !== 'committed').map((x) => x.snapshotId) });
    }
    pending.sort((a, b) => a.order - b.order || a.at.localeCompare(b.at) || a.ds.localeCompare(b.ds) || a.snap - b.snap);
    const units = pending.map(({ order: _order, at: _at, ...unit }, i) => ({ ...unit, pos: i + 1 }));
    if (units.length) await this.apply(context, units, filters);
    await warehouse.query(`DELETE FROM ${NODES} WHERE node NOT IN (SELECT node FROM ${RECORDS})`);
    this.memory.delete(warehouse);
    if (notify) await this.notify(context, { graphs: new Set(), nodes: new Set(), full: true });
  }

  /**
   * Under the lock: drops the index rows of the records `where` selects (a predicate on the record index),
   * recomputes the graphs around their identities and deletes identities no record carries any more.
   */
  async removeRecords(context: GraphContext, where: string): Promise<GraphChange> {
    const gone = `SELECT DISTINCT ds, snap, seq FROM ${RECORDS} WHERE ${where}`;
    const touched = await this.touchedBy(context, gone);
    if (touched.nodes.length === 0) return emptyChange();
    await context.warehouse.query(`BEGIN TRANSACTION;
      CREATE OR REPLACE TEMP TABLE gone AS ${gone};
      ${deleteIndexRows('gone')}
      COMMIT`);
    return this.afterRemoval(context, touched);
  }

  /** Identities, anchors and graphs of the records `keys` lists (a relation of `ds, snap, seq`). */
  async touchedBy(context: GraphContext, keys: string): Promise<TouchedRecords> {
    const row = (
      await context.warehouse.query(`WITH gone AS (${keys})
        SELECT list(DISTINCT r.node) AS nodes, list(DISTINCT r.node) FILTER (WHERE r.ord = 0) AS anchors, list(DISTINCT n.graph) AS graphs
        FROM ${RECORDS} r JOIN gone g ON r.ds = g.ds AND r.snap = g.snap AND r.seq = g.seq JOIN ${NODES} n ON n.node = r.node`)
    ).rows[0];
    const ints = (v: unknown): number[] => ((v as number[] | null) ?? []).map(Number);
    return { nodes: ints(row?.nodes), anchors: ints(row?.anchors), graphs: ints(row?.graphs) };
  }

  /**
   * After the index rows of some records are gone (under the lock): identities no record carries any more are
   * deleted, and the graphs around the others are recomputed from their remaining links.
   */
  async afterRemoval(context: GraphContext, touched: TouchedRecords): Promise<GraphChange> {
    const change: GraphChange = { graphs: new Set(touched.graphs), nodes: new Set(touched.anchors), full: false };
    if (touched.nodes.length === 0) return change;
    const nodes = intList(touched.nodes);
    await context.warehouse.query(`DELETE FROM ${NODES} WHERE node IN (${nodes}) AND node NOT IN (SELECT node FROM ${RECORDS})`);
    const remaining = `SELECT node FROM ${NODES} WHERE node IN (${nodes})`;
    return mergeChanges(change, await recomputeComponents(context.warehouse, context.state.settings, remaining, this.linkingDatasets(context)));
  }

  linkingDatasets(context: GraphContext): string[] {
    return [...context.sources.values()].filter((s) => s.dataset.identityEnabled).map((s) => s.dataset.id);
  }

  // Reading --------------------------------------------------------------------------------------------------

  /** The namespace as the sandbox spells it, and its kind; unknown namespaces are refused. */
  namespaceOf(context: Pick<LookupContext, 'namespaces'>, namespace: string): NamespaceInfo {
    const info = context.namespaces.get(namespace.toLowerCase());
    if (!info) throw new RoundtripError('RT_NAMESPACE_NOT_FOUND', `Identity namespace "${namespace}" does not exist; \`roundtrip namespace list\` shows them.`);
    return info;
  }

  /**
   * Normalises a value the way extraction does (SQL for trimming and case, libphonenumber for phones) and
   * computes its lookup key with the same SQL.
   */
  async normalise(context: LookupContext, ref: IdentityRef): Promise<IdentityRef & { key: string }> {
    const info = this.namespaceOf(context, ref.namespace);
    const keyed = async (id: string) => (await context.warehouse.query(`SELECT ${identityKeySql('$ns', '$id')}::VARCHAR AS key`, { ns: info.code, id })).rows[0]!.key as string;
    const row = (await context.warehouse.query(`SELECT id, ${identityKeySql('$ns', 'id')}::VARCHAR AS key FROM (SELECT ${normalizedSql(kindLiteral(info.kind), trimmedSql('$v'), trimmedSql('$v'))} AS id)`, { v: ref.id, ns: info.code })).rows[0];
    const id = (row?.id as string | null) ?? '';
    if (info.kind !== 'phone') return { namespace: info.code, id, key: row?.key as string };
    const phone = normalizePhone(id, context.settings.phoneDefaultCountry ?? undefined);
    return { namespace: info.code, id: phone, key: await keyed(phone) };
  }

  /** Finds an identity (after normalisation) by its indexed key. */
  async findNode(context: LookupContext, ref: IdentityRef): Promise<GraphNode | undefined> {
    const normal = await this.normalise(context, ref);
    // The key alone in the filter: DuckDB uses the ART index only then; namespace and value are compared here.
    const rows = (await context.warehouse.query(`SELECT node, graph, ns, id FROM ${NODES} WHERE key = ${normal.key}::UBIGINT`)).rows;
    const hit = rows.find((r) => r.ns === normal.namespace && r.id === normal.id);
    return hit && { node: Number(hit.node), graph: Number(hit.graph), namespace: normal.namespace, id: normal.id };
  }

  async requireNode(context: LookupContext, ref: IdentityRef): Promise<GraphNode> {
    const found = await this.findNode(context, ref);
    if (!found) throw new RoundtripError('RT_IDENTITY_NOT_FOUND', `No record carries the identity ${ref.namespace} "${ref.id}".`, { namespace: ref.namespace });
    return found;
  }

  /** Syncs, then resolves an identity (for reads: it sees every acknowledged write). */
  async resolve(sandbox: string, ref: IdentityRef): Promise<{ context: LookupContext; node: GraphNode }> {
    await this.sync(sandbox);
    const context = await this.readContext(sandbox, ref.namespace);
    return { context, node: await this.requireNode(context, ref) };
  }

  /** A light context for reads: cached namespaces and settings, no schema resolution, no query when warm. */
  async readContext(sandbox: string, namespace?: string): Promise<LookupContext> {
    const warehouse = await this.warehouse.sandbox(sandbox);
    await ensureIdentityTables(warehouse);
    let settings = this.settingsCache.get(warehouse);
    if (!settings) {
      settings = (await readState(warehouse)).settings;
      this.settingsCache.set(warehouse, settings);
    }
    return { sandbox, warehouse, namespaces: await this.namespacesOf(sandbox, namespace), settings };
  }

  /** The graph of an identity: its identities, the links that hold it together and the links refused at its edge. */
  async view(sandbox: string, ref: IdentityRef): Promise<GraphView> {
    const { context, node } = await this.resolve(sandbox, ref);
    return this.graphView(context, node.graph);
  }

  async graphView(context: LookupContext, graph: number): Promise<GraphView> {
    const { warehouse } = context;
    const identities = (await warehouse.query(`SELECT node, ns, id FROM ${NODES} WHERE graph = ${graph} ORDER BY node`)).rows.map((r) => ({
      node: Number(r.node),
      namespace: r.ns as string,
      id: r.id as string,
    }));
    const byNode = new Map(identities.map((i) => [i.node, i]));
    const members = intList(byNode.keys());
    const links = (
      await warehouse.query(`WITH mine AS MATERIALIZED (SELECT * FROM ${RECORDS} WHERE node IN (${members}))
        SELECT a.node AS anchor, b.node, count(*) AS records, list(DISTINCT a.ds ORDER BY a.ds) AS datasets
        FROM mine a JOIN mine b ON a.ds = b.ds AND a.snap = b.snap AND a.seq = b.seq AND a.ord = 0 AND b.ord > 0 AND b.node <> a.node
        GROUP BY a.node, b.node ORDER BY a.node, b.node`)
    ).rows.map((r) => ({ a: ref(byNode.get(Number(r.anchor))), b: ref(byNode.get(Number(r.node))), records: Number(r.records), datasets: r.datasets as string[] }));
    const refused = (await this.refusalRows(context, `f.a IN (${members}) OR f.b IN (${members})`, 1000, 0)).map(({ datasetId, a, b, reason, namespace }) => ({ datasetId, a, b, reason, namespace }));
    return { graphId: graph, identities: identities.map(ref), links, refused };
  }

  async refusals(sandbox: string, options: { limit?: number; offset?: number } = {}): Promise<RefusalView[]> {
    await this.sync(sandbox);
    const context = await this.readContext(sandbox);
    return this.refusalRows(context, 'true', Math.min(options.limit ?? 100, 10_000), options.offset ?? 0);
  }

  private async refusalRows(context: LookupContext, where: string, limit: number, offset: number): Promise<RefusalView[]> {
    const rows = await context.warehouse.query(`SELECT f.ds, f.reason, f.namespace, f.refused_at, na.ns AS ns_a, na.id AS id_a, nb.ns AS ns_b, nb.id AS id_b
      FROM ${REFUSALS} f JOIN ${NODES} na ON na.node = f.a JOIN ${NODES} nb ON nb.node = f.b
      WHERE ${where} ORDER BY f.refused_at, f.ds, f.snap, f.seq, f.ord LIMIT ${Math.trunc(limit)} OFFSET ${Math.trunc(offset)}`);
    return rows.rows.map((r) => ({
      datasetId: r.ds as string,
      a: { namespace: r.ns_a as string, id: r.id_a as string },
      b: { namespace: r.ns_b as string, id: r.id_b as string },
      reason: r.reason as string,
      namespace: (r.namespace as string | null) ?? null,
      at: r.refused_at as string,
    }));
  }

  async stats(sandbox: string): Promise<GraphStats> {
    await this.sync(sandbox);
    const { warehouse } = await this.readContext(sandbox);
    const state = await readState(warehouse);
    const row = (
      await warehouse.query(`SELECT (SELECT count(*) FROM ${NODES}) AS identities,
        (SELECT count(DISTINCT graph) FROM ${NODES}) AS graphs,
        (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM ${NODES} GROUP BY graph)) AS largest,
        (SELECT count(*) FROM ${APPLIED}) AS snapshots,
        (SELECT count(*) FROM ${UNLINKS}) AS unlinks`)
    ).rows[0]!;
    const refused = await warehouse.query(`SELECT reason, count(*) AS n FROM ${REFUSALS} GROUP BY reason ORDER BY reason`);
    return {
      identities: Number(row.identities),
      graphs: Number(row.graphs),
      largestGraph: Number(row.largest),
      appliedSnapshots: Number(row.snapshots),
      unlinks: Number(row.unlinks),
      refusedLinks: Object.fromEntries(refused.rows.map((r) => [r.reason as string, Number(r.n)])),
      version: state.version,
      settings: state.settings,
    };
  }

  // Changing -------------------------------------------------------------------------------------------------

  /**
   * Removes the link between two identities of one graph: from now on they never share a graph (a record
   * linking them again is refused as `separated`), which splits the profile with its events and attributes.
   */
  async unlink(actor: Principal, sandbox: string, a: IdentityRef, b: IdentityRef): Promise<UnlinkResult> {
    await this.sync(sandbox);
    const result = await this.withLock(sandbox, async () => {
      const context = await this.context(sandbox);
      const [na, nb] = [await this.requireNode(context, a), await this.requireNode(context, b)];
      if (na.graph !== nb.graph || na.node === nb.node) {
        throw new RoundtripError('RT_IDENTITY_NOT_LINKED', `${a.namespace} "${a.id}" and ${b.namespace} "${b.id}" are not linked in one graph.`);
      }
      const id = newId('unl');
      await context.warehouse.query(`INSERT INTO ${UNLINKS} VALUES ($id, $nsa, $ida, $nsb, $idb, $by, now())`, {
        id,
        nsa: na.namespace,
        ida: na.id,
        nsb: nb.namespace,
        idb: nb.id,
        by: actor.id,
      });
      const change = await recomputeComponents(context.warehouse, context.state.settings, nodesOfGraphs([na.graph]), this.linkingDatasets(context));
      await this.notify(context, change);
      const [ga, gb] = [await this.requireNode(context, a), await this.requireNode(context, b)];
      return { unlinkId: id, graphs: [await this.graphView(context, ga.graph), await this.graphView(context, gb.graph)], namespaces: [na.namespace, nb.namespace] };
    });
    await this.audit.record(actor, {
      sandbox,
      action: 'identity.unlink',
      resourceType: 'identity-link',
      resourceId: result.unlinkId,
      // Namespaces and graph ids only: the audit log outlives a privacy delete, so it holds no identity value.
      details: { namespaces: result.namespaces, graphs: result.graphs.map((g) => g.graphId) },
    });
    return { unlinkId: result.unlinkId, graphs: result.graphs };
  }

  /** Undoes an unlink: the two identities may share a graph again, and their graphs are recomputed. */
  async relink(actor: Principal, sandbox: string, unlinkId: string): Promise<GraphView[]> {
    await this.sync(sandbox);
    const views = await this.withLock(sandbox, async () => {
      const context = await this.context(sandbox);
      const row = (await context.warehouse.query(`SELECT ns_a, id_a, ns_b, id_b FROM ${UNLINKS} WHERE id = $id`, { id: unlinkId })).rows[0];
      if (!row) throw new RoundtripError('RT_IDENTITY_UNLINK_NOT_FOUND', `Unlink "${unlinkId}" does not exist; \`roundtrip identity unlinks\` lists them.`);
      await context.warehouse.query(`DELETE FROM ${UNLINKS} WHERE id = $id`, { id: unlinkId });
      const refs = [
        { namespace: row.ns_a as string, id: row.id_a as string },
        { namespace: row.ns_b as string, id: row.id_b as string },
      ];
      const nodes = (await Promise.all(refs.map((r) => this.findNode(context, r)))).filter((n): n is GraphNode => n !== undefined);
      const change = await recomputeComponents(context.warehouse, context.state.settings, nodesOfGraphs(nodes.map((n) => n.graph)), this.linkingDatasets(context));
      await this.notify(context, change);
      const graphs = new Set<number>();
      for (const r of refs) {
        const n = await this.findNode(context, r);
        if (n) graphs.add(n.graph);
      }
      return Promise.all([...graphs].map((g) => this.graphView(context, g)));
    });
    await this.audit.record(actor, { sandbox, action: 'identity.relink', resourceType: 'identity-link', resourceId: unlinkId, details: { graphs: views.map((v) => v.graphId) } });
    return views;
  }

  async unlinks(sandbox: string): Promise<UnlinkView[]> {
    const { warehouse } = await this.readContext(sandbox);
    const rows = await warehouse.query(`SELECT id, ns_a, id_a, ns_b, id_b, created_by, created_at FROM ${UNLINKS} ORDER BY created_at, id`);
    return rows.rows.map((r) => ({
      id: r.id as string,
      a: { namespace: r.ns_a as string, id: r.id_a as string },
      b: { namespace: r.ns_b as string, id: r.id_b as string },
      createdBy: r.created_by as string,
      createdAt: r.created_at as string,
    }));
  }

  async settings(sandbox: string): Promise<GraphSettings> {
    return (await this.readContext(sandbox)).settings;
  }

  /** Stores new graph settings and rebuilds the graph with them. */
  async updateSettings(actor: Principal, sandbox: string, changes: Partial<GraphSettings>): Promise<GraphSettings> {
    const settings = await this.withLock(sandbox, async () => {
      const context = await this.context(sandbox);
      const next = { ...context.state.settings, ...changes };
      this.checkSettings(context, next);
      await context.warehouse.query(`UPDATE ${STATE} SET settings = $s`, { s: JSON.stringify(next) });
      context.state = await readState(context.warehouse);
      this.settingsCache.set(context.warehouse, context.state.settings);
      await this.rebuildLocked(context);
      return next;
    });
    await this.audit.record(actor, { sandbox, action: 'identity.settings', resourceType: 'identity-graph', resourceId: sandbox, details: { ...settings } });
    return settings;
  }

  private checkSettings(context: GraphContext, s: GraphSettings): void {
    const issues: { path: string; message: string }[] = [];
    if (!Number.isInteger(s.maxIdentities) || s.maxIdentities < 2 || s.maxIdentities > MAX_IDENTITIES_LIMIT) issues.push({ path: 'maxIdentities', message: `must be an integer from 2 to ${MAX_IDENTITIES_LIMIT}` });
    s.uniqueNamespaces.forEach((ns, i) => {
      const info = context.namespaces.get(ns.toLowerCase());
      if (!info) issues.push({ path: `uniqueNamespaces[${i}]`, message: `"${ns}" is not a namespace of this sandbox` });
      else s.uniqueNamespaces[i] = info.code;
    });
    if (s.phoneDefaultCountry !== null && !/^[A-Z]{2}$/.test(s.phoneDefaultCountry)) issues.push({ path: 'phoneDefaultCountry', message: 'must be a two-letter ISO country code such as US' });
    if (issues.length) throw new RoundtripError('RT_IDENTITY_SETTINGS_INVALID', `${issues[0]!.path} ${issues[0]!.message}.`, { issues });
  }
}

/** The highest snapshot id up to which every snapshot is either applied (or about to be) or failed. */
function handledUpTo(snapshots: readonly SnapshotRecord[], applied: ReadonlySet<number>, todo: readonly SnapshotRecord[]): number {
  const done = new Set([...applied, ...todo.map((s) => s.snapshotId)]);
  let upTo = 0;
  for (const s of [...snapshots].sort((a, b) => a.snapshotId - b.snapshotId)) {
    if (s.status === 'pending' && !done.has(s.snapshotId)) break;
    upTo = s.snapshotId;
  }
  return upTo;
}

/** Statements deleting the index rows (record index, refusals) of the records in the `keys` table (`ds, snap, seq`). */
export function deleteIndexRows(keys: string): string {
  return `DELETE FROM ${REFUSALS} f USING ${keys} g WHERE f.ds = g.ds AND f.snap = g.snap AND f.seq = g.seq;
      DELETE FROM ${RECORDS} r USING ${keys} g WHERE r.ds = g.ds AND r.snap = g.snap AND r.seq = g.seq;`;
}

export interface TouchedRecords {
  nodes: number[];
  anchors: number[];
  graphs: number[];
}

const ref = (node: { namespace: string; id: string } | undefined): IdentityRef => ({ namespace: node?.namespace ?? '', id: node?.id ?? '' });

export interface GraphView {
  graphId: number;
  identities: IdentityRef[];
  links: { a: IdentityRef; b: IdentityRef; records: number; datasets: string[] }[];
  refused: Omit<RefusalView, 'at'>[];
}

export interface RefusalView {
  datasetId: string;
  a: IdentityRef;
  b: IdentityRef;
  reason: string;
  namespace: string | null;
  at: string;
}

export interface UnlinkView {
  id: string;
  a: IdentityRef;
  b: IdentityRef;
  createdBy: string;
  createdAt: string;
}

export interface UnlinkResult {
  unlinkId: string;
  graphs: GraphView[];
}

export interface GraphStats {
  identities: number;
  graphs: number;
  largestGraph: number;
  appliedSnapshots: number;
  unlinks: number;
  refusedLinks: Record<string, number>;
  version: number;
  settings: GraphSettings;
}
