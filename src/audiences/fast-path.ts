/**
 * The streaming fast path: streaming audiences evaluated from the moment an event is acknowledged, instead of
 * after the chain acknowledgement → dataset apply → event bus → identity graph → profile table (the slow path,
 * `streaming.ts`, which stays the source of truth for everything the fast path cannot decide).
 *
 * Per sandbox, acknowledged records queue up and are handled one micro-group at a time (whatever arrived while
 * the previous group was being written: group commit). For each group:
 * 1. identities are read from the records and resolved to profiles through an in-memory cache backed by one
 *    point-lookup query on the graph's `key` index (`fast-path-identities.ts`); a record with an identity the
 *    graph does not know yet (a new person), or whose identities span several profiles (a merge), is left to
 *    the slow path;
 * 2. each touched profile's state is loaded on first touch (or after the slow path changed the profile): its
 *    row of `profile_snapshot_<policy>` by the `profile_id` index, and its events within the longest look-back
 *    of the fast segments (streaming eligibility bounds it to 24 h), then the group's events are appended.
 *    Whether a profile has such events at all is a point lookup on the record index (`ts`); reading them back
 *    from the event datasets costs a scan, so those profiles are read in the background, many at a time,
 *    and decided when their events are in (`seed`), without holding up the rest of the group;
 * 3. the fast segments (streaming-enabled, no `inSegment`, events within a day) are evaluated with the same
 *    PQL evaluator as the slow path, and the decisions are written as transitions in one transaction
 *    (`fast-path-writes.ts`, `source: 'streaming'`).
 * Profile records (attribute changes) are not merged here: their profile is handed to the slow path (deferred)
 * until the slow path has rewritten its row.
 *
 * Not fighting the slow path: both write under one membership lock and only write differences from the current
 * rows (an agreeing decision writes nothing), and the slow path evaluates a profile with the fast path's cached
 * events added (`cachedEvents`), so it never exits a profile because an acknowledged event is not applied yet.
 *
 * Latency is measured per transition from the acknowledgement of the earliest event of the group that caused
 * it to the commit of the membership row; `stats()` gives the percentiles.
 */
import type { Clock } from '../core/clock.ts';
import type { IdentityGraph } from '../identity/graph.ts';
import type { GraphChange } from '../identity/graph-build.ts';
import { intList, quoteIdent, quoteLiteral } from '../identity/sql.ts';
import { NODES, RECORDS } from '../identity/store.ts';
import type { DatasetRecord, MergePolicyRecord } from '../ports/metadata-store.ts';
import type { JsonRecord, SandboxWarehouse } from '../ports/warehouse.ts';
import type { MergePolicies } from '../profile/merge-policies.ts';
import type { ResolvedSchema } from '../catalog/xdm/compose.ts';
import { evaluate } from './engine.ts';
import { profileEvents, type ProfileEvent } from './events-relation.ts';
import { IdentityCache, recordIdentities, type RecordIdentity } from './fast-path-identities.ts';
import { writeDecisions, type Decision, type MembershipLock } from './fast-path-writes.ts';
import { refreshProfileMaps } from './membership.ts';
import type { MembershipChange, StreamingSegment } from './streaming.ts';

export interface FastPathDeps {
  graph: IdentityGraph;
  policies: MergePolicies;
  /** Every dataset of the sandbox (event datasets are evaluated, profile datasets defer their profiles). */
  datasets: (sandbox: string) => Promise<DatasetRecord[]>;
  eventDatasets: (sandbox: string) => Promise<DatasetRecord[]>;
  /** The sandbox's streaming segments (the slow path's cached list). */
  segments: (sandbox: string) => Promise<StreamingSegment[]>;
  warehouse: (sandbox: string) => Promise<SandboxWarehouse>;
  clock: Clock;
  lock: MembershipLock;
  /** Hears the transitions once committed. */
  changed: (changes: readonly MembershipChange[]) => void;
  warn: (message: string, error: unknown) => void;
}

interface Arrival {
  writes: Readonly<Record<string, readonly JsonRecord[]>>;
  acknowledgedAt: number;
}

interface ProfileState {
  row: Record<string, unknown> | undefined;
  events: ProfileEvent[];
  eventKeys: Set<string>;
  /** The slow path changed the profile since its row and events were read: read them again on next touch. */
  stale: boolean;
  /** A profile record for it was acknowledged: the slow path decides until it has rewritten the row. */
  deferred: boolean;
  /** Bumped by every invalidation, so a load that raced one stays stale. */
  generation: number;
  /** It has events within the look-back in the datasets, being read in the background (`seed`). */
  seeding: boolean;
}

/** Events of a micro-group for one profile, and the earliest acknowledgement among them. */
interface Touch {
  events: JsonRecord[];
  acknowledgedAt: number;
}

interface DatasetRole {
  role: 'event' | 'profile';
  schema: ResolvedSchema;
}

interface SandboxState {
  queue: Arrival[];
  running: Promise<void> | undefined;
  identities: IdentityCache;
  /** `<policy>:<profile>` → state, in least-recently-used order. */
  profiles: Map<string, ProfileState>;
  datasets: { loadedAt: number; roles: Map<string, DatasetRole> } | undefined;
  /** Profiles whose `segmentMembership` map is behind the membership table, per policy. */
  maps: Map<string, Set<number>>;
  mapsTimer: NodeJS.Timeout | undefined;
  mapsRunning: Promise<void> | undefined;
  /** Per policy: profiles waiting for their recent events to be read, with the events that touched them meanwhile. */
  seeds: Map<string, Map<number, Touch>>;
  seeding: Promise<void> | undefined;
}

/** Point lookups go in lists of this many: DuckDB uses an ART index for short constant `IN` lists only. */
const CHUNK = 256;
function chunks<T>(list: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += CHUNK) out.push(list.slice(i, i + CHUNK));
  return out;
}

/** A segment the fast path can decide alone: no other segment's membership read, events within a day. */
export const fastEligible = (s: StreamingSegment): boolean =>
  s.prepared.dependencies.length === 0 && (s.prepared.features.eventReferences === 0 || (s.prepared.lookbackDays !== null && s.prepared.lookbackDays <= 1));

const eventKey = (event: JsonRecord): string => (typeof event._id === 'string' ? event._id : JSON.stringify(event));
const eventTime = (event: JsonRecord): number => (typeof event.timestamp === 'string' ? Date.parse(event.timestamp.replace(' ', 'T')) : NaN);

/** Percentile of a sorted list (nearest rank). */
export const percentile = (sorted: readonly number[], p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0);

export interface FastPathStats {
  /** Event records acknowledged for sandboxes with fast segments. */
  events: number;
  /** Event records decided here; the rest (unknown identities, merges, deferred or missing profiles) went to the slow path. */
  decided: number;
  fallbacks: number;
  groups: number;
  evaluations: number;
  changes: number;
  identityCache: { hits: number; misses: number };
  /** Acknowledgement → membership row committed, per transition. */
  latencyMs: { samples: number; p50: number; p95: number; p99: number; max: number };
}

export class FastPath {
  /** Profile states kept per sandbox (least recently used go first). */
  maxProfiles = 200_000;
  /** How long the list of datasets (and their roles) is trusted before it is read again. */
  datasetTtlMs = 2000;
  /** Delay before the `segmentMembership` maps of changed profiles are rebuilt (off the latency path). */
  mapsDelayMs = 1000;
  /** `ROUNDTRIP_AUDIENCE_FAST_PATH=0` leaves every event to the slow path (the benchmark's baseline). */
  enabled = process.env.ROUNDTRIP_AUDIENCE_FAST_PATH !== '0';
  private readonly sandboxes = new Map<string, SandboxState>();
  private readonly latencies: number[] = [];
  private readonly totals = { events: 0, decided: 0, fallbacks: 0, groups: 0, evaluations: 0, changes: 0 };
  private closed = false;

  constructor(private readonly deps: FastPathDeps) {}

  private sandbox(name: string): SandboxState {
    let state = this.sandboxes.get(name);
    if (!state) {
      state = { queue: [], running: undefined, identities: new IdentityCache(), profiles: new Map(), datasets: undefined, maps: new Map(), mapsTimer: undefined, mapsRunning: undefined, seeds: new Map(), seeding: undefined };
      this.sandboxes.set(name, state);
    }
    return state;
  }

  /** The streaming service's acknowledgement listener: queue and return. */
  acknowledged(sandbox: string, writes: Readonly<Record<string, readonly JsonRecord[]>>, acknowledgedAt: number): void {
    if (this.closed || !this.enabled) return;
    const state = this.sandbox(sandbox);
    state.queue.push({ writes, acknowledgedAt });
    this.kick(sandbox, state);
  }

  private kick(sandbox: string, state: SandboxState): void {
    if (state.running || this.closed) return;
    state.running = (async () => {
      while (state.queue.length > 0) {
        const group = state.queue.splice(0);
        try {
          await this.group(sandbox, state, group);
        } catch (error) {
          // Whatever the fast path could not write, the slow path still evaluates after the apply.
          this.deps.warn(`Fast streaming evaluation of sandbox ${sandbox} failed; the slow path decides`, error);
        }
      }
    })().finally(() => {
      state.running = undefined;
      if (state.queue.length > 0) this.kick(sandbox, state);
    });
  }

  /** Graph listener (under the graph lock): forgets identities whose graph changed. */
  graphChanged(sandbox: string, change: GraphChange): void {
    this.sandboxes.get(sandbox)?.identities.invalidate(change);
  }

  /**
   * The slow path is about to evaluate these profiles (its graph change and profile rows are done): their
   * cached rows and events are read again on next touch, and deferred profiles are the fast path's again.
   */
  invalidate(sandbox: string, policy: Pick<MergePolicyRecord, 'id'>, ids: Iterable<number> | 'all'): void {
    const state = this.sandboxes.get(sandbox);
    if (!state) return;
    const mark = (p: ProfileState): void => {
      p.stale = true;
      p.deferred = false;
      p.generation++;
    };
    if (ids === 'all') {
      for (const [key, p] of state.profiles) if (key.startsWith(`${policy.id}:`)) mark(p);
      return;
    }
    for (const id of ids) {
      const p = state.profiles.get(`${policy.id}:${id}`);
      if (p) mark(p);
    }
  }

  /** Events the fast path holds for a profile (acknowledged ones may not be in the datasets yet). */
  cachedEvents(sandbox: string, policyId: string, profileId: number): readonly ProfileEvent[] {
    return this.sandboxes.get(sandbox)?.profiles.get(`${policyId}:${profileId}`)?.events ?? [];
  }

  /** Profiles of a policy the fast path holds events for (among `ids` when given). */
  claimed(sandbox: string, policyId: string, ids?: readonly number[]): number[] {
    const state = this.sandboxes.get(sandbox);
    if (!state) return [];
    const held = (id: number): boolean => (state.profiles.get(`${policyId}:${id}`)?.events.length ?? 0) > 0;
    if (ids) return ids.filter(held);
    const prefix = `${policyId}:`;
    return [...state.profiles].filter(([key, p]) => key.startsWith(prefix) && p.events.length > 0).map(([key]) => Number(key.slice(prefix.length)));
  }

  resetStats(): void {
    this.latencies.length = 0;
  }

  /** Resolves once every queued group and pending map refresh is done (tests, benchmarks, shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [...this.sandboxes.values()].flatMap((s) => [s.running, s.seeding, s.mapsRunning]).filter((p): p is Promise<void> => p !== undefined);
      if (busy.length === 0) return;
      await Promise.allSettled(busy);
    }
  }

  async close(): Promise<void> {
    await this.idle();
    this.closed = true;
    for (const state of this.sandboxes.values()) clearTimeout(state.mapsTimer);
    await this.idle();
  }

  stats(): FastPathStats {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    let hits = 0;
    let misses = 0;
    for (const s of this.sandboxes.values()) {
      hits += s.identities.hits;
      misses += s.identities.misses;
    }
    return {
      ...this.totals,
      identityCache: { hits, misses },
      latencyMs: { samples: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0 },
    };
  }

  // One micro-group --------------------------------------------------------------------------------------

  private async roles(sandbox: string, state: SandboxState, wanted: Iterable<string>): Promise<Map<string, DatasetRole>> {
    const fresh = state.datasets && Date.now() - state.datasets.loadedAt < this.datasetTtlMs && [...wanted].every((id) => state.datasets!.roles.has(id));
    if (!fresh) {
      const roles = new Map<string, DatasetRole>();
      for (const dataset of await this.deps.datasets(sandbox)) {
        if (!dataset.profileEnabled) continue;
        const schema = await this.deps.graph.schemaOf(sandbox, dataset);
        roles.set(dataset.id, { role: schema['meta:class'] === 'experienceevent' ? 'event' : 'profile', schema });
      }
      state.datasets = { loadedAt: Date.now(), roles };
    }
    return state.datasets!.roles;
  }

  private async group(sandbox: string, state: SandboxState, group: readonly Arrival[]): Promise<void> {
    const segments = (await this.deps.segments(sandbox)).filter(fastEligible);
    if (segments.length === 0) return;
    this.totals.groups++;
    const roles = await this.roles(sandbox, state, group.flatMap((a) => Object.keys(a.writes)));
    const context = await this.deps.graph.readContext(sandbox);
    const warehouse = await this.deps.warehouse(sandbox);
    const items: { role: DatasetRole['role']; record: JsonRecord; identities: RecordIdentity[]; acknowledgedAt: number }[] = [];
    for (const arrival of group) {
      for (const [datasetId, records] of Object.entries(arrival.writes)) {
        const role = roles.get(datasetId);
        if (!role) continue;
        for (const record of records) items.push({ role: role.role, record, identities: recordIdentities(record, role.schema, context.namespaces), acknowledgedAt: arrival.acknowledgedAt });
      }
    }
    if (items.length === 0) return;
    const resolution = await state.identities.resolve(warehouse, items.flatMap((i) => i.identities), context.settings.phoneDefaultCountry);

    const resolved = items.map((item) => {
      const nodes = item.identities.map((i) => resolution.get(i));
      // Every identity known and all in one graph; otherwise a new person or a merge: the slow path's.
      const known = nodes.length > 0 && nodes.every((n) => n !== undefined) && new Set(nodes.map((n) => n?.graph)).size === 1;
      if (item.role === 'event') {
        this.totals.events++;
        if (!known) this.totals.fallbacks++;
      }
      return { ...item, anchor: known ? nodes[0] : undefined };
    });
    const byPolicy = new Map<string, StreamingSegment[]>();
    for (const s of segments) byPolicy.set(s.definition.body.mergePolicyId, [...(byPolicy.get(s.definition.body.mergePolicyId) ?? []), s]);
    for (const [policyId, list] of byPolicy) {
      const policy = await this.deps.policies.get(sandbox, policyId);
      /** Profile → its events of this group and the earliest acknowledgement among them. */
      const touched = new Map<number, Touch>();
      for (const item of resolved) {
        if (!item.anchor) continue;
        const profileId = policy.idStitching === 'none' ? item.anchor.node : item.anchor.graph;
        if (item.role === 'profile') {
          this.profileState(state, policy.id, profileId).deferred = true;
          continue;
        }
        const entry = touched.get(profileId) ?? { events: [], acknowledgedAt: item.acknowledgedAt };
        entry.events.push(item.record);
        entry.acknowledgedAt = Math.min(entry.acknowledgedAt, item.acknowledgedAt);
        touched.set(profileId, entry);
      }
      if (touched.size > 0) await this.decide(sandbox, state, warehouse, policy, list, touched);
    }
  }

  private profileState(state: SandboxState, policyId: string, profileId: number): ProfileState {
    const key = `${policyId}:${profileId}`;
    let found = state.profiles.get(key);
    if (found) state.profiles.delete(key);
    else found = { row: undefined, events: [], eventKeys: new Set(), stale: true, deferred: false, generation: 0, seeding: false };
    state.profiles.set(key, found);
    while (state.profiles.size > this.maxProfiles) state.profiles.delete(state.profiles.keys().next().value!);
    return found;
  }

  /** Longest look-back of the segments in ms (0 when none reads events). */
  private lookbackMs(list: readonly StreamingSegment[]): number {
    return Math.max(0, ...list.filter((s) => s.prepared.features.eventReferences > 0).map((s) => (s.prepared.lookbackDays ?? 1) * 86_400_000));
  }

  private async decide(sandbox: string, state: SandboxState, warehouse: SandboxWarehouse, policy: MergePolicyRecord, list: readonly StreamingSegment[], touched: Map<number, Touch>): Promise<void> {
    const now = this.deps.clock.now();
    const lookback = this.lookbackMs(list);
    const profiles = new Map([...touched.keys()].map((id) => [id, this.profileState(state, policy.id, id)]));
    const toLoad = [...profiles].filter(([, p]) => p.stale && !p.seeding).map(([id]) => id);
    if (toLoad.length) await this.load(sandbox, warehouse, policy, toLoad, profiles, lookback > 0 ? new Date(now.getTime() - lookback - 1000) : undefined);
    const decisions: Decision[] = [];
    for (const [id, touch] of touched) {
      const p = profiles.get(id)!;
      if (p.seeding) {
        this.waitForSeed(sandbox, state, policy.id, id, touch);
        continue;
      }
      for (const event of touch.events) this.append(p, { ...event, profile_id: id });
      this.prune(p, now.getTime() - lookback - 1000);
      // Deferred (attributes changing) or no row yet (the profile store has not built it): the slow path decides.
      if (p.deferred || p.row === undefined) {
        this.totals.fallbacks += touch.events.length;
        continue;
      }
      this.totals.decided += touch.events.length;
      for (const segment of list) {
        this.totals.evaluations++;
        decisions.push({ segmentId: segment.definition.id, profileId: id, qualifies: evaluate(segment.prepared, { profile: p.row, events: p.events, segments: new Set(), now }) });
      }
    }
    if (decisions.length === 0) return;
    const written = await this.deps.lock.run(sandbox, () => writeDecisions(warehouse, policy.id, decisions, now, 'streaming'));
    const committedAt = Date.now();
    if (written.length === 0) return;
    this.totals.changes += written.length;
    const changes: MembershipChange[] = written.map((w) => {
      const acknowledgedAt = touched.get(w.profileId)!.acknowledgedAt;
      this.latencies.push(committedAt - acknowledgedAt);
      return { sandbox, segmentId: w.segmentId, profileId: w.profileId, status: w.status, at: committedAt, acknowledgedAt, path: 'fast' };
    });
    if (this.latencies.length > 100_000) this.latencies.splice(0, this.latencies.length - 100_000);
    this.deps.changed(changes);
    this.queueMaps(sandbox, state, policy, written.map((w) => w.profileId));
  }

  /**
   * Reads the rows of profiles (first touch, or after the slow path changed them) and finds which of them
   * have events within the look-back in the datasets; those are marked `seeding` (read in the background),
   * the others start with no stored events.
   */
  private async load(sandbox: string, warehouse: SandboxWarehouse, policy: MergePolicyRecord, ids: readonly number[], profiles: Map<number, ProfileState>, since: Date | undefined): Promise<void> {
    const generations = new Map(ids.map((id) => [id, profiles.get(id)!.generation]));
    const rows = new Map<number, Record<string, unknown>>();
    try {
      for (const chunk of chunks(ids)) {
        for (const r of (await warehouse.query(`SELECT * FROM ${quoteIdent(policy.snapshotTable)} WHERE profile_id IN (${intList(chunk)})`)).rows) rows.set(Number(r.profile_id), r);
      }
    } catch (error) {
      // No profile table yet (nothing merged under this policy): every profile goes to the slow path.
      if (!/does not exist/i.test((error as Error).message)) throw error;
    }
    const withEvents = since ? await this.profilesWithEvents(sandbox, warehouse, policy, ids, since) : new Set<number>();
    for (const id of ids) {
      const p = profiles.get(id)!;
      p.row = rows.get(id);
      p.seeding = withEvents.has(id);
      p.stale = p.generation !== generations.get(id);
    }
  }

  /** Profiles with an event at or after `since` in the record index (its `node` index, then `ts`). */
  private async profilesWithEvents(sandbox: string, warehouse: SandboxWarehouse, policy: MergePolicyRecord, ids: readonly number[], since: Date): Promise<Set<number>> {
    const datasets = await this.deps.eventDatasets(sandbox);
    if (datasets.length === 0) return new Set();
    const profileOf = new Map<number, number>();
    if (policy.idStitching === 'none') ids.forEach((id) => profileOf.set(id, id));
    else for (const r of (await warehouse.query(`SELECT node, graph FROM ${NODES} WHERE graph IN (${intList(ids)})`)).rows) profileOf.set(Number(r.node), Number(r.graph));
    const out = new Set<number>();
    const dsList = datasets.map((d) => quoteLiteral(d.id)).join(', ');
    for (const chunk of chunks([...profileOf.keys()])) {
      // The node filter alone in the materialised CTE: DuckDB then reads the record index through its ART index.
      const hits = await warehouse.query(`WITH hit AS MATERIALIZED (SELECT * FROM ${RECORDS} WHERE node IN (${intList(chunk)}))
        SELECT DISTINCT node FROM hit WHERE ord = 0 AND ds IN (${dsList}) AND ts >= ${quoteLiteral(since.toISOString())}::TIMESTAMPTZ`);
      for (const r of hits.rows) out.add(profileOf.get(Number(r.node))!);
    }
    return out;
  }

  private waitForSeed(sandbox: string, state: SandboxState, policyId: string, id: number, touch: Touch): void {
    let waiting = state.seeds.get(policyId);
    if (!waiting) state.seeds.set(policyId, (waiting = new Map<number, Touch>()));
    const found = waiting.get(id);
    if (found) {
      found.events.push(...touch.events);
      found.acknowledgedAt = Math.min(found.acknowledgedAt, touch.acknowledgedAt);
    } else waiting.set(id, { events: [...touch.events], acknowledgedAt: touch.acknowledgedAt });
    if (state.seeding || this.closed) return;
    state.seeding = this.seed(sandbox, state).finally(() => (state.seeding = undefined));
  }

  /** Reads the recent events of the waiting profiles (all at once per policy), then decides them. */
  private async seed(sandbox: string, state: SandboxState): Promise<void> {
    while (state.seeds.size > 0) {
      const todo = [...state.seeds];
      state.seeds.clear();
      try {
        const warehouse = await this.deps.warehouse(sandbox);
        const segments = (await this.deps.segments(sandbox)).filter(fastEligible);
        for (const [policyId, waiting] of todo) {
          const list = segments.filter((s) => s.definition.body.mergePolicyId === policyId);
          if (list.length === 0) continue;
          const policy = await this.deps.policies.get(sandbox, policyId);
          const ids = [...waiting.keys()];
          const since = new Date(this.deps.clock.now().getTime() - this.lookbackMs(list) - 1000);
          const events = await profileEvents(warehouse, policy, await this.deps.eventDatasets(sandbox), ids, since);
          for (const id of ids) {
            const p = this.profileState(state, policyId, id);
            const cached = p.events;
            p.events = [];
            p.eventKeys = new Set();
            for (const e of [...(events.get(id) ?? []), ...cached]) this.append(p, e);
            p.seeding = false;
          }
          await this.decide(sandbox, state, warehouse, policy, list, waiting);
        }
      } catch (error) {
        this.deps.warn(`Reading recent events for fast streaming evaluation of sandbox ${sandbox} failed; the slow path decides`, error);
        for (const [policyId, waiting] of todo) for (const id of waiting.keys()) this.profileState(state, policyId, id).seeding = false;
      }
    }
  }

  private append(p: ProfileState, event: ProfileEvent): void {
    const key = eventKey(event);
    if (p.eventKeys.has(key)) return;
    p.eventKeys.add(key);
    p.events.push(event);
  }

  private prune(p: ProfileState, cutoff: number): void {
    if (!p.events.some((e) => eventTime(e) < cutoff)) return;
    p.events = p.events.filter((e) => {
      const keep = !(eventTime(e) < cutoff);
      if (!keep) p.eventKeys.delete(eventKey(e));
      return keep;
    });
  }

  // segmentMembership maps, off the latency path ---------------------------------------------------------

  private queueMaps(sandbox: string, state: SandboxState, policy: MergePolicyRecord, ids: readonly number[]): void {
    const set = state.maps.get(policy.id) ?? new Set<number>();
    ids.forEach((id) => set.add(id));
    state.maps.set(policy.id, set);
    if (state.mapsTimer || this.closed) return;
    state.mapsTimer = setTimeout(() => {
      state.mapsTimer = undefined;
      const run: Promise<void> = (state.mapsRunning ?? Promise.resolve())
        .then(() => this.refreshMaps(sandbox, state))
        .finally(() => {
          if (state.mapsRunning === run) state.mapsRunning = undefined;
        });
      state.mapsRunning = run;
    }, this.mapsDelayMs);
    state.mapsTimer.unref();
  }

  private async refreshMaps(sandbox: string, state: SandboxState): Promise<void> {
    const todo = [...state.maps];
    state.maps.clear();
    try {
      const warehouse = await this.deps.warehouse(sandbox);
      for (const [policyId, ids] of todo) {
        const policy = await this.deps.policies.get(sandbox, policyId);
        const relation = `SELECT * FROM (VALUES ${[...ids].map((id) => `(${intList([id])})`).join(', ')}) v(profile_id)`;
        await refreshProfileMaps(this.deps.graph, warehouse, policy, warehouse, relation);
      }
    } catch (error) {
      this.deps.warn(`Refreshing segmentMembership maps of sandbox ${sandbox} failed`, error);
    }
  }
}
