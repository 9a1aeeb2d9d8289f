/**
 * Streaming evaluation: segments with `evaluationInfo.continuous` qualify and exit profiles as their data
 * changes, with the same PQL evaluated in process (`evaluatePql`) instead of compiled SQL.
 *
 * It follows the identity graph: every graph change (a streamed micro-batch, a batch, a merge or unmerge)
 * names the profiles it touched. After the change's lock is released (so the profile store has rewritten
 * those profiles' rows), one round per sandbox reads their rows, their events within the longest look-back of
 * the streaming segments, and their realized segments, evaluates every streaming segment (in `inSegment`
 * order), and writes the transitions (`source: 'streaming'`). Changes arriving during a round are gathered for
 * the next one. A change too large to evaluate profile by profile (`full`, or more than `maxInProcess`
 * profiles) is evaluated by the segments' compiled SQL over the same profiles instead (`streaming-sql.ts`),
 * and written the same way. Profiles whose only change is new events (`GraphChange.eventsOnly`) and whose
 * fast-path ring is whole are decided first, from the ring plus the events of the change's snapshots
 * (`FastPath.decideFromRings`), without reading their history: a stream of events for known people is mostly
 * these, and reading every touched profile's history cost the slow path a second per 5,000 profiles.
 *
 * Latency: committed streaming records are also read from the event bus; when a round covering a record's
 * snapshot has written its memberships, the time since the record was committed is one latency sample
 * (percentiles on `GET /segment/streaming/stats`). `onChange` listeners hear every membership change, of both
 * paths and also of rounds that went through the batch SQL.
 *
 * The fast path (`fast-path.ts`) decides most events at acknowledgement, long before this slow path sees them;
 * this path stays the source of truth. The two never fight: rounds run one after another, both write under
 * one `MembershipLock` and only write differences, and a round evaluates a profile with the events the fast
 * path holds for it added, so an acknowledged event not yet applied cannot make it exit a profile the fast
 * path just qualified. Such profiles are evaluated in process even in a round that takes the batch SQL.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Clock } from '../core/clock.ts';
import type { GraphContext, IdentityGraph } from '../identity/graph.ts';
import { emptyChange, mergeChanges, type GraphChange } from '../identity/graph-build.ts';
import { idsRelation, intList, quoteIdent } from '../identity/sql.ts';
import type { CommittedRecords, EventBus, Subscription } from '../ports/event-bus.ts';
import type { DatasetRecord, MergePolicyRecord } from '../ports/metadata-store.ts';
import type { JsonRecord, SandboxWarehouse } from '../ports/warehouse.ts';
import type { MergePolicies } from '../profile/merge-policies.ts';
import { dependencyLayers, type Definition, type SegmentDefinitions } from './definitions.ts';
import { evaluate, type Prepared } from './engine.ts';
import { FastPath, percentile, YIELD_EVERY, type FastPathStats } from './fast-path.ts';
import { POINT_LOOKUPS, profileEvents, type ProfileEvent } from './events-relation.ts';
import { MembershipLock, type WrittenTransition } from './fast-path-writes.ts';
import { ensureMembershipTables } from './membership-tables.ts';
import { realizedSegments, refreshProfileMaps } from './membership.ts';
import { qualifiedBySql } from './streaming-sql.ts';

export interface MembershipChange {
  sandbox: string;
  segmentId: string;
  profileId: number;
  status: 'realized' | 'exited';
  /** When the change was committed (ms, `Date.now()`). */
  at: number;
  /** Fast path only: the acknowledgement of the earliest event that caused it. */
  acknowledgedAt?: number;
  /** Which path wrote it (slow: after the dataset apply and the graph). */
  path?: 'fast' | 'slow';
  /** The membership row's version after the change (when the writer knows it). */
  version?: number;
}

interface Pending {
  /** The graph changes gathered since the last round, merged. */
  change: GraphChange;
  /** Committed records (commit time, ms) whose snapshots the gathered changes cover. */
  commits: number[];
}

interface Published {
  datasetId: string;
  snapshotId: number;
  committedAt: number;
}

export interface StreamingSegment {
  definition: Definition;
  prepared: Prepared;
}

export interface StreamingDeps {
  graph: IdentityGraph;
  policies: MergePolicies;
  definitions: SegmentDefinitions;
  bus: EventBus;
  clock: Clock;
  warehouse: (sandbox: string) => Promise<SandboxWarehouse>;
  eventDatasets: (sandbox: string) => Promise<DatasetRecord[]>;
  /** Every dataset of a sandbox (the fast path defers profiles whose attribute records stream in); default: the event datasets. */
  datasets?: (sandbox: string) => Promise<DatasetRecord[]>;
  warn: (message: string, error: unknown) => void;
}

const emptyPending = (): Pending => ({ change: emptyChange(), commits: [] });

const pairKey = (segmentId: string, profileId: number): string => `${segmentId}\u0000${profileId}`;

export class StreamingEvaluator {
  /**
   * Profiles evaluated one by one up to this many per round (in chunks of `inProcessChunk`); beyond, the
   * segments' compiled SQL runs over them (bulk loads, rebuilds). Either way the round holds the membership
   * lock only for its writes, a slice at a time.
   */
  maxInProcess = 50_000;
  inProcessChunk = 5000;
  /** Profiles written per hold of the membership lock by a round (at least; a large round takes twenty holds). */
  writeSlice = 500;
  private readonly pending = new Map<string, Pending>();
  private readonly published = new Map<string, Published[]>();
  private readonly rounds = new Map<string, Promise<void>>();
  /** Sandboxes with a round queued that has not taken its pending changes yet. */
  private readonly scheduled = new Set<string>();
  /** One membership writer per sandbox across the slow and the fast path. */
  readonly lock = new MembershipLock();
  readonly fastPath: FastPath;
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly segmentCache = new Map<string, Promise<StreamingSegment[]>>();
  private readonly listeners: ((change: MembershipChange) => void)[] = [];
  private readonly latencies: number[] = [];
  private readonly totals = { evaluations: 0, changes: 0, rounds: 0, fromRings: 0 };
  private closed = false;

  constructor(private readonly deps: StreamingDeps) {
    this.fastPath = new FastPath({
      graph: deps.graph,
      policies: deps.policies,
      datasets: deps.datasets ?? deps.eventDatasets,
      eventDatasets: deps.eventDatasets,
      segments: (sandbox) => this.segments(sandbox),
      warehouse: deps.warehouse,
      clock: deps.clock,
      lock: this.lock,
      changed: (changes) => this.emit(changes),
      warn: deps.warn,
    });
  }

  /** The streaming ingestion's acknowledgement listener (`StreamingIngest.onAcknowledged`). */
  acknowledged(sandbox: string, writes: Parameters<FastPath['acknowledged']>[1], acknowledgedAt: number): void {
    if (!this.closed) this.fastPath.acknowledged(sandbox, writes, acknowledgedAt);
  }

  private emit(changes: readonly MembershipChange[]): void {
    for (const change of changes) for (const listener of this.listeners) listener(change);
  }

  onChange(listener: (change: MembershipChange) => void): void {
    this.listeners.push(listener);
  }

  /** The definitions of a sandbox changed: re-read its streaming segments on the next round. */
  invalidate(sandbox: string): void {
    this.segmentCache.delete(sandbox);
    this.listen(sandbox);
    this.fastPath.warm(sandbox);
  }

  /** Graph listener (under the graph lock): gathers the touched profiles and the commits they cover. */
  graphChanged(context: GraphContext, change: GraphChange): void {
    if (this.closed) return;
    const { sandbox } = context;
    this.listen(sandbox);
    const pending = this.pending.get(sandbox) ?? emptyPending();
    mergeChanges(pending.change, change);
    this.fastPath.graphChanged(sandbox, change);
    const applied = new Map(context.datasets.map((d) => [d.id, d.lastSnapshotId]));
    const waiting = this.published.get(sandbox) ?? [];
    const covered = waiting.filter((p) => p.snapshotId <= (applied.get(p.datasetId) ?? 0));
    if (covered.length) {
      this.published.set(sandbox, waiting.filter((p) => p.snapshotId > (applied.get(p.datasetId) ?? 0)));
      pending.commits.push(...covered.map((c) => c.committedAt));
    }
    this.pending.set(sandbox, pending);
    this.schedule(sandbox);
  }

  /** Subscribes to the sandbox's committed records once (for latency only). */
  private listen(sandbox: string): void {
    if (this.closed || this.subscriptions.has(sandbox)) return;
    const handler = (message: CommittedRecords): void => {
      if (message.source !== 'streaming') return;
      const list = this.published.get(sandbox) ?? [];
      // Bounded: records of a sandbox without streaming segments are never covered by a round that uses them.
      if (list.length > 10_000) list.splice(0, list.length - 10_000);
      // Delivery follows the commit at once; the receipt time is on the same (real) clock as the round's end.
      list.push({ datasetId: message.datasetId, snapshotId: message.snapshotId, committedAt: Date.now() });
      this.published.set(sandbox, list);
    };
    this.subscriptions.set(sandbox, this.deps.bus.subscribe({ sandbox }, handler, { name: 'streaming-audiences' }));
  }

  /**
   * One round at a time per sandbox, in order: a change arriving during a round queues one more round after
   * it, which takes everything gathered meanwhile. (Overlapping rounds could write an older decision last.)
   */
  private schedule(sandbox: string): void {
    if (this.scheduled.has(sandbox)) return;
    this.scheduled.add(sandbox);
    const previous = this.rounds.get(sandbox) ?? Promise.resolve();
    const round: Promise<void> = previous
      .then(async () => {
        // Wait for the lock: the profile store updates the touched rows after this listener, under it.
        await this.deps.graph.withLock(sandbox, () => Promise.resolve());
        this.scheduled.delete(sandbox);
        const pending = this.pending.get(sandbox);
        this.pending.delete(sandbox);
        if (pending) await this.round(sandbox, pending);
      })
      .catch((error: unknown) => {
        this.scheduled.delete(sandbox);
        this.deps.warn(`Streaming evaluation of sandbox ${sandbox} failed`, error);
      })
      .finally(() => {
        if (this.rounds.get(sandbox) === round) this.rounds.delete(sandbox);
      });
    this.rounds.set(sandbox, round);
  }

  /** Resolves once no round (slow or fast) is running or scheduled (tests, benchmarks, shutdown). */
  async idle(): Promise<void> {
    do {
      await this.fastPath.idle();
      while (this.rounds.size) await Promise.all([...this.rounds.values()]);
    } while (this.rounds.size);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.fastPath.close();
    await this.idle();
    await Promise.all([...this.subscriptions.values()].map((s) => s.unsubscribe()));
    this.subscriptions.clear();
  }

  segments(sandbox: string): Promise<StreamingSegment[]> {
    let found = this.segmentCache.get(sandbox);
    if (!found) {
      found = (async () => {
        const out: StreamingSegment[] = [];
        for (const d of await this.deps.definitions.list(sandbox)) {
          if (d.body.origin === 'pql' && d.body.evaluationInfo.continuous) out.push({ definition: d, prepared: await this.deps.definitions.prepared(sandbox, d) });
        }
        return out;
      })();
      found.catch(() => this.segmentCache.delete(sandbox));
      this.segmentCache.set(sandbox, found);
    }
    return found;
  }

  private async round(sandbox: string, pending: Pending): Promise<void> {
    const segments = await this.segments(sandbox);
    if (segments.length > 0) {
      this.totals.rounds++;
      const byPolicy = new Map<string, StreamingSegment[]>();
      for (const s of segments) byPolicy.set(s.definition.body.mergePolicyId, [...(byPolicy.get(s.definition.body.mergePolicyId) ?? []), s]);
      const { change } = pending;
      for (const [policyId, list] of byPolicy) {
        const policy = await this.deps.policies.get(sandbox, policyId);
        const ids = [...(policy.idStitching === 'none' ? change.nodes : change.graphs)];
        const rest = change.full || ids.length > this.maxInProcess ? ids : await this.fromRings(sandbox, policy, list, ids, change);
        // Rows and events of these profiles changed: the fast path reads them again on their next event.
        this.fastPath.invalidate(sandbox, policy, change.full ? 'all' : ids);
        if (change.full || rest.length > this.maxInProcess) await this.viaSql(sandbox, policy, list, change.full ? undefined : rest);
        else for (let i = 0; i < rest.length; i += this.inProcessChunk) await this.inProcess(sandbox, policy, list, rest.slice(i, i + this.inProcessChunk));
      }
    }
    const done = Date.now();
    for (const at of pending.commits) this.latencies.push(done - at);
    if (this.latencies.length > 100_000) this.latencies.splice(0, this.latencies.length - 100_000);
  }

  /**
   * The profiles of a round that only got events and whose fast-path rings are whole are decided from memory
   * with the events of the change's snapshots (`FastPath.decideFromRings`; a stream of events for known people
   * is mostly these) and written; returns the others, for the full evaluation.
   */
  private async fromRings(sandbox: string, policy: MergePolicyRecord, list: readonly StreamingSegment[], ids: number[], change: GraphChange): Promise<number[]> {
    const eventsOnly = change.eventsOnly && (policy.idStitching === 'none' ? change.eventsOnly.nodes : change.eventsOnly.graphs);
    if (!change.eventsOnly || !eventsOnly?.size) return ids;
    const warehouse = await this.deps.warehouse(sandbox);
    const now = this.deps.clock.now();
    const candidates = ids.filter((id) => eventsOnly.has(id));
    const { qualified, decided } = await this.fastPath.decideFromRings(sandbox, warehouse, policy, list, candidates, change.eventsOnly.units, now);
    if (decided.length === 0) return ids;
    this.totals.evaluations += decided.length * list.length;
    this.totals.fromRings += decided.length;
    await this.writeRound(sandbox, warehouse, policy, list, decided, qualified, now);
    const done = new Set(decided);
    return ids.filter((id) => !done.has(id));
  }

  private order(list: readonly StreamingSegment[]): StreamingSegment[] {
    const byId = new Map(list.map((s) => [s.definition.id, s]));
    return dependencyLayers([...byId.keys()], (id) => byId.get(id)!.prepared.dependencies)
      .flat()
      .map((id) => byId.get(id)!);
  }

  /**
   * Evaluates segments in process for the given profiles (in `inSegment` order, later segments seeing the
   * results of earlier ones): the qualifying (segment, profile) pairs. Profiles without a row qualify for none.
   */
  async qualify(sandbox: string, policy: MergePolicyRecord, list: readonly StreamingSegment[], ids: readonly number[], now: Date): Promise<[string, number][]> {
    return (await this.evaluateProfiles(sandbox, policy, list, ids, now)).qualified;
  }

  /** `qualify`, with the events it read (undefined when no segment reads events). */
  private async evaluateProfiles(
    sandbox: string,
    policy: MergePolicyRecord,
    list: readonly StreamingSegment[],
    ids: readonly number[],
    now: Date,
  ): Promise<{ qualified: [string, number][]; events: Map<number, ProfileEvent[]> | undefined }> {
    const warehouse = await this.deps.warehouse(sandbox);
    await ensureMembershipTables(warehouse);
    const tables = await warehouse.listTables();
    const rows: JsonRecord[] = [];
    // In short lists, answered from the `profile_id` index (a long list scans the whole table).
    for (let i = 0; tables.includes(policy.snapshotTable) && i < ids.length; i += POINT_LOOKUPS) {
      rows.push(...(await warehouse.query(`SELECT * FROM ${quoteIdent(policy.snapshotTable)} WHERE profile_id IN (${intList(ids.slice(i, i + POINT_LOOKUPS))})`)).rows);
    }
    const profiles = new Map(rows.map((r) => [Number(r.profile_id), r]));
    const lookbacks = list.filter((s) => s.prepared.features.eventReferences > 0).map((s) => s.prepared.lookbackDays);
    const since = lookbacks.some((l) => l === null) ? null : lookbacks.length ? new Date(now.getTime() - Math.max(...(lookbacks as number[])) * 86_400_000 - 1000) : undefined;
    const events: Map<number, ProfileEvent[]> = since === undefined ? new Map<number, ProfileEvent[]>() : await profileEvents(warehouse, policy, await this.deps.eventDatasets(sandbox), [...profiles.keys()], since);
    if (since !== undefined) for (const id of profiles.keys()) this.withCachedEvents(sandbox, policy, id, events);
    const realized = await realizedSegments(warehouse, policy.id, ids);
    const qualified: [string, number][] = [];
    for (const segment of this.order(list)) {
      for (const [i, id] of ids.entries()) {
        // Thousands of profiles per chunk: let acknowledged events (the fast path) through between slices.
        if (i > 0 && i % YIELD_EVERY === 0) await yieldToEventLoop();
        const profile = profiles.get(id);
        const segs = realized.get(id) ?? new Set<string>();
        // A profile that no longer exists (merged into another, deleted) qualifies for nothing.
        const yes = profile !== undefined && evaluate(segment.prepared, { profile, events: events.get(id) ?? [], segments: segs, now });
        this.totals.evaluations++;
        if (yes) {
          qualified.push([segment.definition.id, id]);
          segs.add(segment.definition.id);
        } else segs.delete(segment.definition.id);
        realized.set(id, segs);
      }
    }
    return { qualified, events: since === undefined ? undefined : events };
  }

  /**
   * Adds the events the fast path holds for a profile (acknowledged, maybe not applied yet) to those read from
   * the datasets, once each (by `_id`).
   */
  private withCachedEvents(sandbox: string, policy: MergePolicyRecord, id: number, events: Map<number, ProfileEvent[]>): void {
    const cached = this.fastPath.cachedEvents(sandbox, policy.id, id);
    if (cached.length === 0) return;
    const list = events.get(id) ?? [];
    const seen = new Set(list.map((e) => (typeof e._id === 'string' ? e._id : JSON.stringify(e))));
    for (const e of cached) if (!seen.has(typeof e._id === 'string' ? e._id : JSON.stringify(e))) list.push(e);
    events.set(id, list);
  }

  /** Profile by profile, in process, then the transitions (under the membership lock). */
  private async inProcess(sandbox: string, policy: MergePolicyRecord, list: readonly StreamingSegment[], ids: readonly number[]): Promise<void> {
    const warehouse = await this.deps.warehouse(sandbox);
    const now = this.deps.clock.now();
    const { qualified, events } = await this.evaluateProfiles(sandbox, policy, list, ids, now);
    // Every recent event of these profiles was read (the round's segments include the fast ones): whole rings.
    if (events) this.fastPath.seeded(sandbox, policy.id, events, ids);
    await this.writeRound(sandbox, warehouse, policy, list, ids, qualified, now);
  }

  /**
   * The decisions of a round for some profiles: only the profiles whose decisions differ from memory are written,
   * in slices each under the lock on its own (so the fast path's writes never wait for a whole round: 500
   * profiles, or a twentieth of a large round), then the profiles' maps once, then the listeners.
   */
  private async writeRound(sandbox: string, warehouse: SandboxWarehouse, policy: MergePolicyRecord, list: readonly StreamingSegment[], ids: readonly number[], qualified: readonly [string, number][], now: Date): Promise<void> {
    // Most profiles of a round were decided alike by the fast path already: only the others are written.
    const scope = this.fastPath.disagreeing(sandbox, policy.id, list.map((s) => s.definition.id), ids, qualified);
    if (scope.length === 0) return;
    const yes = new Set(qualified.map(([s, p]) => pairKey(s, p)));
    const size = Math.max(this.writeSlice, Math.ceil(scope.length / 20));
    const changed: WrittenTransition[] = [];
    for (let i = 0; i < scope.length; i += size) {
      const slice = scope.slice(i, i + size);
      const decisions = list.flatMap((s) => slice.map((id) => ({ segmentId: s.definition.id, profileId: id, qualifies: yes.has(pairKey(s.definition.id, id)) })));
      changed.push(...(await this.lock.run(sandbox, () => this.fastPath.writeDecisions(sandbox, warehouse, policy.id, decisions, now))));
    }
    if (changed.length === 0) return;
    this.totals.changes += changed.length;
    await refreshProfileMaps(this.deps.graph, warehouse, policy, warehouse, idsRelation([...new Set(changed.map((c) => c.profileId))]));
    const at = Date.now();
    this.emit(changed.map((c) => ({ sandbox, segmentId: c.segmentId, profileId: c.profileId, status: c.status, version: c.version, at, path: 'slow' as const })));
  }

  /**
   * A change too large for one-by-one evaluation: the segments' compiled SQL over the touched profiles (or all),
   * a dependency layer at a time, written like an in-process round; the profiles the fast path holds events for
   * are evaluated in process with them (see `withCachedEvents`).
   */
  private async viaSql(sandbox: string, policy: MergePolicyRecord, list: readonly StreamingSegment[], ids: readonly number[] | undefined): Promise<void> {
    const warehouse = await this.deps.warehouse(sandbox);
    if (!(await warehouse.listTables()).includes(policy.snapshotTable)) return;
    const all = ids ?? (await warehouse.query(`SELECT profile_id FROM ${quoteIdent(policy.snapshotTable)}`)).rows.map((r) => Number(r.profile_id));
    const claimed = new Set(this.fastPath.claimed(sandbox, policy.id, all));
    const rest = all.filter((id) => !claimed.has(id));
    // Their events are read by SQL, not into the fast path's rings: those rings may now miss some.
    this.fastPath.unseeded(sandbox, policy.id, rest);
    const byId = new Map(list.map((s) => [s.definition.id, s]));
    const eventDatasets = await this.deps.eventDatasets(sandbox);
    if (rest.length) {
      for (const layer of dependencyLayers([...byId.keys()], (id) => byId.get(id)!.prepared.dependencies)) {
        const segments = layer.map((id) => byId.get(id)!);
        const now = this.deps.clock.now();
        const qualified = await qualifiedBySql(warehouse, policy, eventDatasets, segments, ids === undefined && claimed.size === 0 ? undefined : rest, now);
        this.totals.evaluations += segments.length * rest.length;
        await this.writeRound(sandbox, warehouse, policy, segments, rest, qualified, now);
      }
    }
    const held = [...claimed];
    for (let i = 0; i < held.length; i += this.inProcessChunk) await this.inProcess(sandbox, policy, list, held.slice(i, i + this.inProcessChunk));
  }

  /** Slow-path counters and commit → membership latency, with the fast path's (acknowledgement → membership committed). */
  stats(): { evaluations: number; changes: number; rounds: number; fromRings: number; latencyMs: { samples: number; p50: number; p95: number; p99: number; max: number }; fastPath: FastPathStats } {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      ...this.totals,
      latencyMs: { samples: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 },
      fastPath: this.fastPath.stats(),
    };
  }

  resetStats(): void {
    this.latencies.length = 0;
    this.fastPath.resetStats();
  }
}
