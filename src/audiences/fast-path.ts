/**
 * The streaming fast path: streaming audiences evaluated from the moment an event is acknowledged, instead of
 * after the chain acknowledgement → dataset apply → event bus → identity graph → profile table (the slow path,
 * `streaming.ts`, which stays the source of truth for everything the fast path cannot decide).
 *
 * Per sandbox, acknowledged records queue up and are handled one micro-group at a time (what arrived while the
 * previous group was being decided, at most `maxGroupEvents` records, so a backlog cannot snowball into ever
 * larger groups). The work of a group is in memory except for what it sees for the first time:
 * 1. identities → profile: `fast-path-identities.ts`, an in-memory map filled by one point-lookup query per
 *    group for the identities not seen yet; graph changes mark the entries of the graphs they name as suspect
 *    (read again in the background, `reconcile`) instead of dropping them. A record with an identity the graph
 *    does not know yet (a new person), or whose identities span several profiles (a merge), is left to the slow
 *    path;
 * 2. profile attributes: `fast-path-profiles.ts`, the columns the fast segments read, per profile, loaded in
 *    batches and dropped precisely when the profile store rewrites a profile (`profilesChanged`);
 * 3. recent events: a per-profile ring of the events within the longest look-back (streaming eligibility bounds
 *    it to 24 h), appended from acknowledged events. Stored events are read from the warehouse (the seed) once
 *    per profile, in the background and only when a decision depends on them: `fast-path-history.ts` decides a
 *    segment from the acknowledged events alone when more events cannot change the answer (an `exists`/CHAIN
 *    condition they already satisfy, an attribute condition that fails), so most profiles never wait;
 * 4. membership: transitions are computed against the rows kept in memory and appended in one statement per
 *    group (`fast-path-writes.ts`, `source: 'streaming'`), under the lock shared with the slow path. Decisions
 *    gather in a buffer while a write commits; the next write takes all of them (one write in flight at most).
 * Profile records (attribute changes) are not merged here: their profile is handed to the slow path (deferred)
 * until the slow path's next round over it.
 *
 * Not fighting the slow path: both write under one membership lock, transitions are computed under it from
 * memory that follows the slow path's writes (`membershipWritten`), and the slow path evaluates a profile with
 * the fast path's ring added (`cachedEvents`), so it never exits a profile because an acknowledged event is not
 * applied yet. A merge or unmerge that changes the nodes of a profile whose ring is held resets the ring
 * (`reconcile`): the next decision of that profile reads its history again.
 *
 * Latency is measured per transition from the acknowledgement of the earliest event of the group that caused
 * it to the commit of the membership row; `stats()` gives the percentiles.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Clock } from '../core/clock.ts';
import type { IdentityGraph } from '../identity/graph.ts';
import type { GraphChange } from '../identity/graph-build.ts';
import { idsRelation, intList } from '../identity/sql.ts';
import { NODES } from '../identity/store.ts';
import type { DatasetRecord, MergePolicyRecord } from '../ports/metadata-store.ts';
import type { JsonRecord, SandboxWarehouse } from '../ports/warehouse.ts';
import type { MergePolicies } from '../profile/merge-policies.ts';
import type { ResolvedSchema } from '../catalog/xdm/compose.ts';
import { evaluate } from './engine.ts';
import { profileEvents, snapshotEvents, type ProfileEvent } from './events-relation.ts';
import { decideWithoutHistory } from './fast-path-history.ts';
import { IdentityCache, recordIdentities, type RecordIdentity } from './fast-path-identities.ts';
import { ProfileAttributes, type ProfileRow } from './fast-path-profiles.ts';
import { MembershipMemory, writeTransitions, type Decision, type MembershipLock, type WrittenTransition } from './fast-path-writes.ts';
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
  records: number;
}

interface ProfileState {
  /** Events within the look-back: acknowledged ones, plus the stored ones once seeded. */
  events: ProfileEvent[];
  eventKeys: Set<string>;
  /** The stored events were read: `events` is the profile's whole recent history. */
  seeded: boolean;
  /** Nodes of the profile when seeded (stitched policies), and anchor nodes of the acknowledged events. */
  nodes: Set<number>;
  /** A profile record for it was acknowledged: the slow path decides until its next round over the profile. */
  deferred: boolean;
  /** A graph change named it: its nodes are read again (`reconcile`) before its next decision. */
  suspect: boolean;
  /** Bumped when the ring is reset, so a seed that raced it keeps nothing. */
  generation: number;
}

/** Events of a micro-group for one profile, their anchor nodes, and the earliest acknowledgement among them. */
interface Touch {
  events: JsonRecord[];
  nodes: number[];
  acknowledgedAt: number;
}

interface DatasetRole {
  role: 'event' | 'profile';
  schema: ResolvedSchema;
}

/** Decisions of one policy waiting for the next write: the earliest acknowledgement per profile, when they were taken. */
interface WriteBuffer {
  policy: MergePolicyRecord;
  decisions: Decision[];
  acknowledgedAt: Map<number, number>;
  now: Date;
  /** When the first of them was buffered (`performance.now()`). */
  queued: number;
}

interface SandboxState {
  queue: Arrival[];
  running: Promise<void> | undefined;
  identities: IdentityCache;
  attributes: ProfileAttributes;
  memberships: MembershipMemory;
  /** Per policy: profile → state, in least-recently-used order. */
  profiles: Map<string, Map<number, ProfileState>>;
  datasets: { loadedAt: number; roles: Map<string, DatasetRole> } | undefined;
  policies: Map<string, { loadedAt: number; policy: MergePolicyRecord }>;
  /** Profiles (per policy) named by graph changes, waiting for `reconcile`. */
  suspects: Map<string, Set<number>>;
  reconciling: Promise<void> | undefined;
  /** The write in flight (decisions of the next groups gather in `buffered` meanwhile). */
  writing: Promise<void> | undefined;
  /** Per policy: decisions not written yet, the earliest acknowledgement per profile, when they were taken. */
  buffered: Map<string, WriteBuffer>;
  /** Profiles whose `segmentMembership` map is behind the membership table, per policy. */
  maps: Map<string, Set<number>>;
  mapsTimer: NodeJS.Timeout | undefined;
  mapsRunning: Promise<void> | undefined;
  /** Per policy: profiles waiting for their stored events (the seed), with the events that touched them meanwhile. */
  seeds: Map<string, Map<number, Touch>>;
  seeding: Promise<void> | undefined;
  /** Reading memberships, identities and attributes ahead of the first event (`warm`). */
  warming: Promise<void> | undefined;
  /** A preload is queued behind `warming` and has not started: later calls join it (with its memberships flag). */
  warmQueued: { memberships: boolean } | undefined;
  identitiesPreloaded: boolean;
  /** Per policy: profiles whose attribute rows the profile store rewrote, to read again in the background. */
  refills: Map<string, Set<number>>;
  refilling: Promise<void> | undefined;
}

/** Profiles evaluated between two yields to the event loop in long loops (about a millisecond of work). */
export const YIELD_EVERY = 200;

/** Point lookups go in lists of this many: DuckDB uses an ART index for short constant `IN` lists only. */
const CHUNK = 256;
function chunks<T>(list: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** A segment the fast path can decide alone: no other segment's membership read, events within a day. */
export const fastEligible = (s: StreamingSegment): boolean =>
  s.prepared.dependencies.length === 0 && (s.prepared.features.eventReferences === 0 || (s.prepared.lookbackDays !== null && s.prepared.lookbackDays <= 1));

const eventKey = (event: JsonRecord): string => (typeof event._id === 'string' ? event._id : JSON.stringify(event));
const eventTime = (event: JsonRecord): number => (typeof event.timestamp === 'string' ? Date.parse(event.timestamp.replace(' ', 'T')) : NaN);

/** Percentile of a sorted list (nearest rank). */
export const percentile = (sorted: readonly number[], p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0);

const mergeTouch = (into: Touch, from: Touch): void => {
  into.events.push(...from.events);
  into.nodes.push(...from.nodes);
  into.acknowledgedAt = Math.min(into.acknowledgedAt, from.acknowledgedAt);
};

export interface FastPathStats {
  /** Event records acknowledged for sandboxes with fast segments. */
  events: number;
  /** Event records decided here; the rest (unknown identities, merges, deferred or missing profiles) went to the slow path. */
  decided: number;
  fallbacks: number;
  /** Why: an identity the graph does not hold (or a record spanning profiles), a profile record streaming in, no profile row (yet). */
  fallbackReasons: { identity: number; profileUpdating: number; noProfileRow: number };
  groups: number;
  /** Membership write rounds (one transaction per policy at most; none when nothing changed): decisions made while one commits go out together in the next. */
  writes: number;
  evaluations: number;
  changes: number;
  /** Profiles whose decision waited for their stored events (the seed). */
  seedWaits: number;
  /** Time spent per step, summed over groups (ms): identity lookups, attribute reads, evaluation, waiting for and writing memberships. */
  stepsMs: { identities: number; attributes: number; evaluate: number; lock: number; write: number };
  identityCache: { hits: number; misses: number };
  /** Acknowledgement → membership row committed, per transition. */
  latencyMs: { samples: number; p50: number; p95: number; p99: number; max: number };
}

export class FastPath {
  /** Profile states kept per sandbox and policy (least recently used go first). */
  maxProfiles = 200_000;
  /**
   * Identities and profile attribute rows kept in memory per sandbox (preloaded): a brand's whole graph up to
   * this size resolves without a query (about 100 bytes an identity, a few hundred a row of the projected columns).
   */
  maxPreloaded = 2_000_000;
  /** Records per micro-group at most: a backlog is worked off in bounded groups, not one growing group. */
  maxGroupEvents = 500;
  /** How long the list of datasets (and their roles) and merge policies are trusted before they are read again. */
  datasetTtlMs = 2000;
  /**
   * Delay before the `segmentMembership` maps of changed profiles are rebuilt (off the latency path): the rebuild
   * joins the whole profile table, so at a million profiles each costs about a second whatever it rewrites;
   * gathering five seconds of changes keeps it from crowding the stream.
   */
  mapsDelayMs = 5000;
  /** Profiles per map refresh transaction (a commit holds DuckDB's commit lock, which every writer shares). */
  mapsSlice = 1000;
  /** `ROUNDTRIP_AUDIENCE_FAST_PATH=0` leaves every event to the slow path (the benchmark's baseline). */
  enabled = process.env.ROUNDTRIP_AUDIENCE_FAST_PATH !== '0';
  private readonly sandboxes = new Map<string, SandboxState>();
  private readonly latencies: number[] = [];
  private readonly totals = { events: 0, decided: 0, fallbacks: 0, groups: 0, evaluations: 0, changes: 0, seedWaits: 0, writes: 0 };
  private readonly fallbackReasons = { identity: 0, profileUpdating: 0, noProfileRow: 0 };
  private readonly steps = { identities: 0, attributes: 0, evaluate: 0, lock: 0, write: 0 };
  private closed = false;

  constructor(private readonly deps: FastPathDeps) {}

  private sandbox(name: string): SandboxState {
    let state = this.sandboxes.get(name);
    if (!state) {
      state = {
        queue: [],
        running: undefined,
        identities: new IdentityCache(this.maxPreloaded),
        attributes: new ProfileAttributes(this.maxPreloaded),
        memberships: new MembershipMemory(),
        profiles: new Map(),
        datasets: undefined,
        policies: new Map(),
        suspects: new Map(),
        reconciling: undefined,
        writing: undefined,
        buffered: new Map(),
        maps: new Map(),
        mapsTimer: undefined,
        mapsRunning: undefined,
        seeds: new Map(),
        seeding: undefined,
        warming: undefined,
        warmQueued: undefined,
        identitiesPreloaded: false,
        refills: new Map(),
        refilling: undefined,
      };
      this.sandboxes.set(name, state);
    }
    return state;
  }

  /** The streaming service's acknowledgement listener: queue and return. */
  acknowledged(sandbox: string, writes: Readonly<Record<string, readonly JsonRecord[]>>, acknowledgedAt: number): void {
    if (this.closed || !this.enabled) return;
    const state = this.sandbox(sandbox);
    let records = 0;
    for (const list of Object.values(writes)) records += list.length;
    state.queue.push({ writes, acknowledgedAt, records });
    this.kick(sandbox, state);
  }

  /** Takes the next micro-group off the queue: whole arrivals up to `maxGroupEvents` records (at least one). */
  private take(state: SandboxState): Arrival[] {
    let n = 0;
    let count = 0;
    while (n < state.queue.length && (n === 0 || count + state.queue[n]!.records <= this.maxGroupEvents)) count += state.queue[n++]!.records;
    return state.queue.splice(0, n);
  }

  private kick(sandbox: string, state: SandboxState): void {
    if (state.running || this.closed) return;
    state.running = (async () => {
      while (state.queue.length > 0) {
        const group = this.take(state);
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

  /**
   * The streaming segments (or the definitions) changed: ahead of the first event, read the membership rows of
   * the fast ones, the graph's identities (once per sandbox; graph changes keep them true) and the attributes
   * the fast segments read, for every profile. Until it is done, events resolve by lookups.
   */
  warm(sandbox: string, what: { memberships: boolean } = { memberships: true }): void {
    if (this.closed || !this.enabled) return;
    const state = this.sandbox(sandbox);
    if (what.memberships) {
      state.memberships.forget();
      // The segments' look-backs may have grown: a ring is whole again only once read with the new ones.
      for (const profiles of state.profiles.values()) for (const p of profiles.values()) p.seeded = false;
    }
    // Definitions saved one after another (an import, a script) make one preload, not one each.
    if (state.warmQueued) {
      state.warmQueued.memberships ||= what.memberships;
      return;
    }
    const queued = (state.warmQueued = { ...what });
    const run: Promise<void> = (state.warming ?? Promise.resolve())
      .then(() => {
        state.warmQueued = undefined;
        return this.preload(sandbox, state, queued.memberships);
      })
      .catch((error: unknown) => {
        if (!/does not exist/i.test((error as Error).message)) this.deps.warn(`Reading streaming memberships, identities and attributes of sandbox ${sandbox} failed`, error);
      })
      .finally(() => {
        if (state.warming === run) state.warming = undefined;
      });
    state.warming = run;
  }

  private async preload(sandbox: string, state: SandboxState, memberships: boolean): Promise<void> {
    const segments = (await this.deps.segments(sandbox)).filter(fastEligible);
    if (segments.length === 0) return;
    const warehouse = await this.deps.warehouse(sandbox);
    for (const [policyId, list] of memberships ? this.byPolicy(segments) : []) {
      await this.deps.lock.run(sandbox, () => state.memberships.ensure(warehouse, policyId, list.map((s) => s.definition.id)));
    }
    if (!state.identitiesPreloaded && (await warehouse.listTables()).includes(NODES)) {
      await state.identities.preload(warehouse);
      state.identitiesPreloaded = true;
    }
    for (const [policyId, list] of this.byPolicy(segments)) {
      const policy = await this.policy(sandbox, state, policyId);
      await state.attributes.preload(warehouse, policy, [...new Set(list.flatMap((s) => s.prepared.features.profileAttributes))]);
    }
  }

  /**
   * Graph listener (under the graph lock): cached identities of the graphs it names become suspect, and so do
   * the held profiles it names; both are read again in the background (`reconcile`).
   */
  graphChanged(sandbox: string, change: GraphChange): void {
    const state = this.sandboxes.get(sandbox);
    if (!state) return;
    let any = state.identities.invalidate(change);
    for (const [policyId, profiles] of state.profiles) {
      const stitched = state.policies.get(policyId)?.policy.idStitching !== 'none';
      // Without stitching a profile is one node: a graph change never changes what it is.
      if (!stitched) continue;
      const mark = (id: number, p: ProfileState): void => {
        if (p.suspect) return;
        p.suspect = true;
        any = true;
        let set = state.suspects.get(policyId);
        if (!set) state.suspects.set(policyId, (set = new Set()));
        set.add(id);
      };
      if (change.full) for (const [id, p] of profiles) mark(id, p);
      else for (const id of change.graphs) {
        const p = profiles.get(id);
        // A profile that only got events kept its nodes.
        if (p && !change.eventsOnly?.graphs.has(id)) mark(id, p);
      }
    }
    if (any) this.reconcileSoon(sandbox, state);
  }

  private reconcileSoon(sandbox: string, state: SandboxState): void {
    if (state.reconciling || this.closed) return;
    state.reconciling = (async () => {
      // Outside the graph listener: the change is committed once the listener returns.
      await new Promise((r) => setImmediate(r));
      while (state.identities.pending > 0 || state.suspects.size > 0) await this.reconcile(sandbox, state);
    })()
      .catch((error: unknown) => {
        // Cannot tell what moved: forget identities, and read every suspect profile's history again.
        this.deps.warn(`Re-reading identities for fast streaming evaluation of sandbox ${sandbox} failed`, error);
        state.identities.clear();
        for (const [policyId, ids] of state.suspects) for (const id of ids) this.reset(state.profiles.get(policyId)?.get(id));
        state.suspects.clear();
      })
      .finally(() => (state.reconciling = undefined));
  }

  /**
   * Reads again the graphs of suspect identities and the nodes of suspect profiles (one query): moved identities
   * follow their node; a held profile that lost a node it had, or (seeded) gained one, has its ring reset so its
   * history is read again.
   */
  private async reconcile(sandbox: string, state: SandboxState): Promise<void> {
    const nodes = state.identities.takeSuspects();
    const profiles = [...state.suspects];
    state.suspects.clear();
    const graphs = [...new Set(profiles.flatMap(([, ids]) => [...ids]))];
    const graphOf = new Map<number, number>();
    const nodesOf = new Map<number, Set<number>>();
    const warehouse = await this.deps.warehouse(sandbox);
    for (const part of chunks([...nodes.map((n) => ({ node: n })), ...graphs.map((g) => ({ graph: g }))], 4096)) {
      const byNode = part.flatMap((p) => ('node' in p ? [p.node] : []));
      const byGraph = part.flatMap((p) => ('graph' in p ? [p.graph] : []));
      const where = [byNode.length ? `node IN (${intList(byNode)})` : '', byGraph.length ? `graph IN (${intList(byGraph)})` : ''].filter(Boolean).join(' OR ');
      for (const r of (await warehouse.query(`SELECT node, graph FROM ${NODES} WHERE ${where}`)).rows) {
        const node = Number(r.node);
        const graph = Number(r.graph);
        graphOf.set(node, graph);
        let set = nodesOf.get(graph);
        if (!set) nodesOf.set(graph, (set = new Set()));
        set.add(node);
      }
    }
    state.identities.verified(nodes, graphOf);
    for (const [policyId, ids] of profiles) {
      for (const id of ids) {
        const p = state.profiles.get(policyId)?.get(id);
        if (!p) continue;
        p.suspect = false;
        const now = nodesOf.get(id) ?? new Set<number>();
        const lost = [...p.nodes].some((n) => !now.has(n));
        const gained = p.seeded && [...now].some((n) => !p.nodes.has(n));
        if (lost || gained) this.reset(p);
      }
    }
  }

  /** Forgets a profile's ring: its next decision reads its history again. */
  private reset(p: ProfileState | undefined): void {
    if (!p) return;
    p.events = [];
    p.eventKeys = new Set();
    p.nodes = new Set();
    p.seeded = false;
    p.suspect = false;
    p.generation++;
  }

  /** Profile store listener: these profiles' rows were rewritten (or the whole table): read their attributes again. */
  profilesChanged(sandbox: string, policyId: string, ids: ReadonlySet<number> | 'all'): void {
    const state = this.sandboxes.get(sandbox);
    if (!state) return;
    const held = state.attributes.invalidate(policyId, ids);
    // The whole table was rebuilt: read every profile's attributes again (the memberships did not change).
    if (ids === 'all') return this.warm(sandbox, { memberships: false });
    if (held.length === 0 || this.closed) return;
    let set = state.refills.get(policyId);
    if (!set) state.refills.set(policyId, (set = new Set()));
    held.forEach((id) => set.add(id));
    state.refilling ??= this.refill(sandbox, state).finally(() => (state.refilling = undefined));
  }

  /** Reads again, in the background, the attribute rows the profile store rewrote (an event meanwhile reads its own). */
  private async refill(sandbox: string, state: SandboxState): Promise<void> {
    // After the notifying write commits (the listener runs inside it).
    await new Promise((r) => setImmediate(r));
    await this.drain(sandbox, state, state.refills, 'Reading profile attributes again for', async (warehouse, policy, list, ids) => {
      await state.attributes.load(warehouse, policy, [...ids], [...new Set(list.flatMap((s) => s.prepared.features.profileAttributes))]);
    });
  }

  /**
   * Works off a per-policy queue of background work until it stays empty (what arrives meanwhile is taken by the
   * next pass), with the policy and its fast segments; a failure is logged, and the slow path decides.
   */
  private async drain<T>(sandbox: string, state: SandboxState, queue: Map<string, T>, what: string, work: (warehouse: SandboxWarehouse, policy: MergePolicyRecord, list: StreamingSegment[], item: T) => Promise<void>): Promise<void> {
    while (queue.size > 0 && !this.closed) {
      const todo = [...queue];
      queue.clear();
      try {
        const warehouse = await this.deps.warehouse(sandbox);
        const segments = (await this.deps.segments(sandbox)).filter(fastEligible);
        for (const [policyId, item] of todo) {
          const list = segments.filter((s) => s.definition.body.mergePolicyId === policyId);
          if (list.length > 0) await work(warehouse, await this.policy(sandbox, state, policyId), list, item);
        }
      } catch (error) {
        this.deps.warn(`${what} fast streaming evaluation of sandbox ${sandbox} failed; the slow path decides`, error);
      }
    }
  }

  /**
   * The slow path's decisions for some profiles (call under the membership lock): the transitions they imply
   * against the rows in memory, written like the fast path's own, and the memory follows.
   */
  async writeDecisions(sandbox: string, warehouse: SandboxWarehouse, policyId: string, decisions: readonly Decision[], now: Date): Promise<WrittenTransition[]> {
    const memory = this.sandbox(sandbox).memberships;
    const segmentIds = [...new Set(decisions.map((d) => d.segmentId))];
    await memory.ensure(warehouse, policyId, segmentIds);
    const transitions = memory.transitions(policyId, decisions);
    try {
      await writeTransitions(warehouse, policyId, transitions, now, 'streaming');
    } catch (error) {
      memory.forget(segmentIds);
      throw error;
    }
    memory.written(policyId, transitions);
    return transitions;
  }

  /** The slow path wrote these transitions (under the membership lock): the memory follows. */
  membershipWritten(sandbox: string, policyId: string, changes: readonly WrittenTransition[]): void {
    this.sandboxes.get(sandbox)?.memberships.written(policyId, changes);
  }

  /** A writer outside the membership lock (batch job, upload, purge) changed memberships: read them again. */
  membershipsChanged(sandbox: string, segmentIds?: readonly string[]): void {
    this.sandboxes.get(sandbox)?.memberships.forget(segmentIds);
  }

  /**
   * The slow path's decisions for some profiles (`qualified` pairs) against the rows in memory: the profiles
   * where any pair differs, which are all it has to write (all of `ids` when some segment is not in memory).
   * Lets a round that agrees with what the fast path already wrote skip the membership lock altogether.
   */
  disagreeing(sandbox: string, policyId: string, segmentIds: readonly string[], ids: readonly number[], qualified: readonly (readonly [string, number])[]): number[] {
    const memory = this.sandboxes.get(sandbox)?.memberships;
    if (!memory || !segmentIds.every((s) => memory.holds(policyId, s))) return [...ids];
    const yes = new Set(qualified.map(([s, p]) => `${s}\u0000${p}`));
    return ids.filter((id) => segmentIds.some((s) => (memory.status(policyId, s, id) === 'realized') !== yes.has(`${s}\u0000${id}`)));
  }

  /** The slow path's round is evaluating these profiles: deferred ones are the fast path's again afterwards. */
  invalidate(sandbox: string, policy: Pick<MergePolicyRecord, 'id'>, ids: Iterable<number> | 'all'): void {
    const profiles = this.sandboxes.get(sandbox)?.profiles.get(policy.id);
    if (!profiles) return;
    if (ids === 'all') {
      for (const p of profiles.values()) p.deferred = false;
      return;
    }
    for (const id of ids) {
      const p = profiles.get(id);
      if (p) p.deferred = false;
    }
  }

  /**
   * The slow path's round over profiles whose only change is new events (`GraphChange.eventsOnly`, `units`: the
   * snapshots they came in), for those this path holds (not deferred, not suspect, with a cached row): their
   * rings hold every event that matters (all recent ones when seeded; decisions without history otherwise), so
   * the round reads only the events of those snapshots (which may hold events this path never saw: a batch),
   * adds them to the rings and decides from memory instead of reading every profile's history. Returns the
   * qualifying pairs and the profiles decided; the rest need the full evaluation.
   */
  async decideFromRings(
    sandbox: string,
    warehouse: SandboxWarehouse,
    policy: MergePolicyRecord,
    list: readonly StreamingSegment[],
    ids: readonly number[],
    units: readonly { ds: string; snap: number }[],
    now: Date,
  ): Promise<{ qualified: [string, number][]; decided: number[] }> {
    const out = { qualified: [] as [string, number][], decided: [] as number[] };
    const state = this.sandboxes.get(sandbox);
    const profiles = state?.profiles.get(policy.id);
    if (!state || !profiles || list.length === 0 || !list.every(fastEligible)) return out;
    const usable = (id: number): ProfileState | undefined => {
      const p = profiles.get(id);
      return p && !p.deferred && !p.suspect && state.attributes.get(policy.id, id) ? p : undefined;
    };
    const held = ids.filter((id) => usable(id) !== undefined);
    if (held.length === 0) return out;
    const fresh = await snapshotEvents(warehouse, policy, await this.deps.eventDatasets(sandbox), units, held);
    const cutoff = now.getTime() - this.lookbackMs(list) - 1000;
    for (const [i, id] of held.entries()) {
      // A round can hold tens of thousands of profiles: let acknowledged events through between slices.
      if (i > 0 && i % YIELD_EVERY === 0) await yieldToEventLoop();
      const p = usable(id);
      const row = state.attributes.get(policy.id, id);
      if (!p || !row) continue;
      this.addInOrder(p, fresh.get(id) ?? []);
      this.prune(p, cutoff);
      const answers = list.map((s) => this.decideOne(s, p, row, now));
      if (answers.some((a) => a === undefined)) continue;
      out.decided.push(id);
      list.forEach((s, i) => answers[i] && out.qualified.push([s.definition.id, id]));
    }
    return out;
  }

  /**
   * The slow path read every recent event of these profiles (its full evaluation): the rings it holds become
   * whole (seeded), so their next decisions and rounds need no history read.
   */
  seeded(sandbox: string, policyId: string, events: ReadonlyMap<number, readonly ProfileEvent[]>, ids: readonly number[]): void {
    const profiles = this.sandboxes.get(sandbox)?.profiles.get(policyId);
    if (!profiles) return;
    for (const id of ids) {
      const p = profiles.get(id);
      if (!p || p.suspect) continue;
      this.addInOrder(p, events.get(id) ?? [], true);
      p.seeded = true;
    }
  }

  /** A round read events of these profiles without this path (the compiled SQL): their rings may miss some, so they are not whole any more. */
  unseeded(sandbox: string, policyId: string, ids: readonly number[]): void {
    const profiles = this.sandboxes.get(sandbox)?.profiles.get(policyId);
    if (!profiles) return;
    for (const id of ids) {
      const p = profiles.get(id);
      if (p) p.seeded = false;
    }
  }

  /** Events the fast path holds for a profile (acknowledged ones may not be in the datasets yet). */
  cachedEvents(sandbox: string, policyId: string, profileId: number): readonly ProfileEvent[] {
    return this.sandboxes.get(sandbox)?.profiles.get(policyId)?.get(profileId)?.events ?? [];
  }

  /** Profiles of a policy the fast path holds events for (among `ids` when given). */
  claimed(sandbox: string, policyId: string, ids?: readonly number[]): number[] {
    const profiles = this.sandboxes.get(sandbox)?.profiles.get(policyId);
    if (!profiles) return [];
    const held = (id: number): boolean => (profiles.get(id)?.events.length ?? 0) > 0;
    if (ids) return ids.filter(held);
    return [...profiles].filter(([, p]) => p.events.length > 0).map(([id]) => id);
  }

  resetStats(): void {
    this.latencies.length = 0;
    for (const key of Object.keys(this.steps) as (keyof typeof this.steps)[]) this.steps[key] = 0;
  }

  /**
   * Resolves once every queued group, write, seed and pending map refresh is done (tests, benchmarks, shutdown);
   * a map refresh waiting for its timer starts now.
   */
  async idle(): Promise<void> {
    for (;;) {
      for (const [sandbox, state] of this.sandboxes) if (state.mapsTimer) this.startMaps(sandbox, state);
      const busy = [...this.sandboxes.values()].flatMap((s) => [s.running, s.seeding, s.writing, s.reconciling, s.mapsRunning, s.warming, s.refilling]).filter((p): p is Promise<void> => p !== undefined);
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
      fallbackReasons: { ...this.fallbackReasons },
      stepsMs: { ...this.steps },
      identityCache: { hits, misses },
      latencyMs: { samples: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0 },
    };
  }

  // One micro-group --------------------------------------------------------------------------------------

  private byPolicy(segments: readonly StreamingSegment[]): Map<string, StreamingSegment[]> {
    const out = new Map<string, StreamingSegment[]>();
    for (const s of segments) out.set(s.definition.body.mergePolicyId, [...(out.get(s.definition.body.mergePolicyId) ?? []), s]);
    return out;
  }

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

  private async policy(sandbox: string, state: SandboxState, id: string): Promise<MergePolicyRecord> {
    const cached = state.policies.get(id);
    if (cached && Date.now() - cached.loadedAt < this.datasetTtlMs) return cached.policy;
    const policy = await this.deps.policies.get(sandbox, id);
    state.policies.set(id, { loadedAt: Date.now(), policy });
    return policy;
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
    const resolveStart = performance.now();
    const resolution = await state.identities.resolve(warehouse, items.flatMap((i) => i.identities), context.settings.phoneDefaultCountry);

    this.steps.identities += performance.now() - resolveStart;
    const resolved = items.map((item) => {
      const nodes = item.identities.map((i) => resolution.get(i));
      // Every identity known and all in one graph; otherwise a new person or a merge: the slow path's.
      const known = nodes.length > 0 && nodes.every((n) => n !== undefined) && new Set(nodes.map((n) => n?.graph)).size === 1;
      if (item.role === 'event') {
        this.totals.events++;
        if (!known) {
          this.totals.fallbacks++;
          this.fallbackReasons.identity++;
        }
      }
      return { ...item, anchor: known ? nodes[0] : undefined };
    });
    for (const [policyId, list] of this.byPolicy(segments)) {
      const policy = await this.policy(sandbox, state, policyId);
      const touched = new Map<number, Touch>();
      for (const item of resolved) {
        if (!item.anchor) continue;
        const profileId = policy.idStitching === 'none' ? item.anchor.node : item.anchor.graph;
        if (item.role === 'profile') {
          this.profileState(state, policy.id, profileId).deferred = true;
          continue;
        }
        const entry = touched.get(profileId);
        const touch = { events: [item.record], nodes: [item.anchor.node], acknowledgedAt: item.acknowledgedAt };
        if (entry) mergeTouch(entry, touch);
        else touched.set(profileId, touch);
      }
      if (touched.size > 0) await this.decide(sandbox, state, warehouse, policy, list, touched);
    }
  }

  private profileState(state: SandboxState, policyId: string, profileId: number): ProfileState {
    let profiles = state.profiles.get(policyId);
    if (!profiles) state.profiles.set(policyId, (profiles = new Map<number, ProfileState>()));
    let found = profiles.get(profileId);
    if (found) profiles.delete(profileId);
    else found = { events: [], eventKeys: new Set(), seeded: false, nodes: new Set(), deferred: false, suspect: false, generation: 0 };
    profiles.set(profileId, found);
    while (profiles.size > this.maxProfiles) profiles.delete(profiles.keys().next().value!);
    return found;
  }

  /** Longest look-back of the segments in ms (0 when none reads events). */
  private lookbackMs(list: readonly StreamingSegment[]): number {
    return Math.max(0, ...list.filter((s) => s.prepared.features.eventReferences > 0).map((s) => (s.prepared.lookbackDays ?? 1) * 86_400_000));
  }

  /**
   * Decides the touched profiles: attributes of profiles not seen yet are read (one batch), events appended to
   * the rings, and each segment decided from memory; a profile whose decision depends on stored events it has
   * not read yet waits for the seed (the other profiles of the group do not). The decisions go to the write
   * buffer.
   */
  private async decide(sandbox: string, state: SandboxState, warehouse: SandboxWarehouse, policy: MergePolicyRecord, list: readonly StreamingSegment[], touched: Map<number, Touch>): Promise<void> {
    // A profile a graph change named is decided once its nodes are read again (a merge may bring events).
    while (state.reconciling && [...touched.keys()].some((id) => state.profiles.get(policy.id)?.get(id)?.suspect)) await state.reconciling;
    const paths = [...new Set(list.flatMap((s) => s.prepared.features.profileAttributes))];
    const unread = [...touched.keys()].filter((id) => state.attributes.get(policy.id, id) === undefined);
    const attributesStart = performance.now();
    if (unread.length) await state.attributes.load(warehouse, policy, unread, paths);
    const evaluateStart = performance.now();
    this.steps.attributes += evaluateStart - attributesStart;
    const now = this.deps.clock.now();
    const cutoff = now.getTime() - this.lookbackMs(list) - 1000;
    const decisions: Decision[] = [];
    const seedWaits = new Map<number, Touch>();
    for (const [id, touch] of touched) {
      const p = this.profileState(state, policy.id, id);
      for (const event of touch.events) this.append(p, { ...event, profile_id: id });
      touch.nodes.forEach((n) => p.nodes.add(n));
      this.prune(p, cutoff);
      const row = state.attributes.get(policy.id, id);
      // Deferred (attributes changing) or no row yet (the profile store has not built it): the slow path decides.
      if (p.deferred || !row) {
        this.totals.fallbacks += touch.events.length;
        this.fallbackReasons[p.deferred ? 'profileUpdating' : 'noProfileRow'] += touch.events.length;
        continue;
      }
      let waits = false;
      for (const segment of list) {
        this.totals.evaluations++;
        const qualifies = this.decideOne(segment, p, row, now);
        if (qualifies === undefined) waits = true;
        else decisions.push({ segmentId: segment.definition.id, profileId: id, qualifies });
      }
      if (waits) seedWaits.set(id, touch);
      else this.totals.decided += touch.events.length;
    }
    this.steps.evaluate += performance.now() - evaluateStart;
    this.commit(sandbox, state, warehouse, policy, decisions, touched);
    for (const [id, touch] of seedWaits) this.waitForSeed(sandbox, state, policy.id, id, touch);
  }

  /**
   * Adds a group's decisions to the sandbox's write buffer and starts the writer when it is not running. The
   * writer takes everything buffered at once: while one write commits, the next groups are decided and
   * gathered for the next write, so an event waits for at most the write in flight and its own, however slow
   * commits get (a group-by-group queue made every event wait for the writes of the groups before it).
   */
  private commit(sandbox: string, state: SandboxState, warehouse: SandboxWarehouse, policy: MergePolicyRecord, decisions: readonly Decision[], touched: ReadonlyMap<number, Touch>): void {
    if (decisions.length === 0) return;
    let buffer = state.buffered.get(policy.id);
    if (!buffer) state.buffered.set(policy.id, (buffer = { policy, decisions: [], acknowledgedAt: new Map(), now: this.deps.clock.now(), queued: performance.now() }));
    buffer.decisions.push(...decisions);
    for (const [id, touch] of touched) {
      const at = buffer.acknowledgedAt.get(id);
      if (at === undefined || touch.acknowledgedAt < at) buffer.acknowledgedAt.set(id, touch.acknowledgedAt);
    }
    this.startWriter(sandbox, state, warehouse);
  }

  private startWriter(sandbox: string, state: SandboxState, warehouse: SandboxWarehouse): void {
    if (state.writing || state.buffered.size === 0) return;
    state.writing = this.writeBuffered(sandbox, state, warehouse).finally(() => {
      state.writing = undefined;
      this.startWriter(sandbox, state, warehouse);
    });
  }

  /**
   * Writes the buffered decisions, one transaction per policy, under the membership lock (transitions computed
   * there, from memory). The buffer is taken once the lock is held, so decisions made while waiting for it go too.
   */
  private async writeBuffered(sandbox: string, state: SandboxState, warehouse: SandboxWarehouse): Promise<void> {
    const done: { buffer: WriteBuffer; written: WrittenTransition[] }[] = [];
    await this.deps.lock.run(sandbox, async () => {
      const todo = [...state.buffered.values()];
      state.buffered.clear();
      for (const buffer of todo) {
        const locked = performance.now();
        this.steps.lock += locked - buffer.queued;
        try {
          done.push({ buffer, written: await this.writeDecisions(sandbox, warehouse, buffer.policy.id, buffer.decisions, buffer.now) });
          this.totals.writes++;
        } catch (error) {
          this.deps.warn(`Writing fast streaming memberships of sandbox ${sandbox} failed; the slow path decides`, error);
        }
        this.steps.write += performance.now() - locked;
      }
    });
    for (const { buffer, written } of done) this.committed(sandbox, state, buffer.policy, written, buffer.acknowledgedAt);
  }

  private committed(sandbox: string, state: SandboxState, policy: MergePolicyRecord, written: readonly WrittenTransition[], acknowledged: ReadonlyMap<number, number>): void {
    if (written.length === 0) return;
    const committedAt = Date.now();
    this.totals.changes += written.length;
    const changes: MembershipChange[] = written.map((w) => {
      const acknowledgedAt = acknowledged.get(w.profileId)!;
      this.latencies.push(committedAt - acknowledgedAt);
      return { sandbox, segmentId: w.segmentId, profileId: w.profileId, status: w.status, at: committedAt, acknowledgedAt, path: 'fast', version: w.version };
    });
    if (this.latencies.length > 100_000) this.latencies.splice(0, this.latencies.length - 100_000);
    this.deps.changed(changes);
    this.queueMaps(sandbox, state, policy, written.map((w) => w.profileId));
  }

  private waitForSeed(sandbox: string, state: SandboxState, policyId: string, id: number, touch: Touch): void {
    this.totals.seedWaits++;
    let waiting = state.seeds.get(policyId);
    if (!waiting) state.seeds.set(policyId, (waiting = new Map<number, Touch>()));
    const found = waiting.get(id);
    if (found) mergeTouch(found, touch);
    else waiting.set(id, { events: [...touch.events], nodes: [...touch.nodes], acknowledgedAt: touch.acknowledgedAt });
    if (state.seeding || this.closed) return;
    state.seeding = this.seed(sandbox, state).finally(() => (state.seeding = undefined));
  }

  /** Reads the stored recent events (and nodes) of the waiting profiles, many at a time per policy, then decides them. */
  private async seed(sandbox: string, state: SandboxState): Promise<void> {
    await this.drain(sandbox, state, state.seeds, 'Reading recent events for', async (warehouse, policy, list, waiting) => {
      const ids = [...waiting.keys()];
      const generations = new Map(ids.map((id) => [id, this.profileState(state, policy.id, id).generation]));
      const since = new Date(this.deps.clock.now().getTime() - this.lookbackMs(list) - 1000);
      const nodes = new Map<number, Set<number>>();
      if (policy.idStitching !== 'none') {
        for (const chunk of chunks(ids, 4096)) {
          for (const r of (await warehouse.query(`SELECT node, graph FROM ${NODES} WHERE graph IN (${intList(chunk)})`)).rows) {
            const set = nodes.get(Number(r.graph)) ?? new Set<number>();
            set.add(Number(r.node));
            nodes.set(Number(r.graph), set);
          }
        }
      } else ids.forEach((id) => nodes.set(id, new Set([id])));
      const events = await profileEvents(warehouse, policy, await this.deps.eventDatasets(sandbox), ids, since);
      for (const id of ids) {
        const p = this.profileState(state, policy.id, id);
        // Reset meanwhile (a merge or unmerge): its ring is read again on its next decision.
        if (p.generation !== generations.get(id)) continue;
        this.addInOrder(p, events.get(id) ?? [], true);
        p.nodes = new Set([...(nodes.get(id) ?? []), ...p.nodes]);
        p.seeded = true;
      }
      await this.decide(sandbox, state, warehouse, policy, list, waiting);
    });
  }

  /**
   * A segment's decision for a profile from its ring: in full when the ring is whole (seeded), otherwise only
   * when more events cannot change it (undefined: it needs the history).
   */
  private decideOne(segment: StreamingSegment, p: ProfileState, row: NonNullable<ProfileRow>, now: Date): boolean | undefined {
    const input = { profile: row, events: p.events, segments: new Set<string>(), now };
    return p.seeded ? evaluate(segment.prepared, input) : decideWithoutHistory(segment.prepared, input);
  }

  /** Adds stored events to a ring (once each) and keeps it in time order (`always`: sort even when none was new). */
  private addInOrder(p: ProfileState, events: readonly ProfileEvent[], always = false): void {
    events.forEach((e) => this.append(p, e));
    if (always || events.length > 0) p.events.sort((a, b) => eventTime(a) - eventTime(b));
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
    state.mapsTimer = setTimeout(() => this.startMaps(sandbox, state), this.mapsDelayMs);
    state.mapsTimer.unref();
  }

  /** Starts the refresh of the queued maps (after the one running, if any), disarming its timer. */
  private startMaps(sandbox: string, state: SandboxState): void {
    clearTimeout(state.mapsTimer);
    state.mapsTimer = undefined;
    const run: Promise<void> = (state.mapsRunning ?? Promise.resolve())
      .then(() => this.refreshMaps(sandbox, state))
      .finally(() => {
        if (state.mapsRunning === run) state.mapsRunning = undefined;
      });
    state.mapsRunning = run;
  }

  private async refreshMaps(sandbox: string, state: SandboxState): Promise<void> {
    const todo = [...state.maps];
    state.maps.clear();
    try {
      const warehouse = await this.deps.warehouse(sandbox);
      for (const [policyId, ids] of todo) {
        const policy = await this.deps.policies.get(sandbox, policyId);
        // Aggregated once, written back in slices, each its own short transaction: one commit rewriting 25,000
        // rows' maps held DuckDB's commit lock for a quarter of a second, and every membership write waited.
        const session = await warehouse.openSession();
        try {
          await refreshProfileMaps(this.deps.graph, warehouse, policy, session, idsRelation(ids), { writeSlice: this.mapsSlice });
        } finally {
          session.close();
        }
      }
    } catch (error) {
      this.deps.warn(`Refreshing segmentMembership maps of sandbox ${sandbox} failed`, error);
    }
  }
}
