/**
 * The audience service: segment definitions, segment jobs (batch), streaming evaluation, estimates and
 * previews, membership reads and external audiences, over the profile tables of the merge policies.
 *
 * It is built by the composition root before the profile store, because it listens to the identity graph
 * first: on every graph change it makes sure the membership tables exist (the profile merge reads them for
 * `segmentMembership`) and gathers the touched profiles for streaming evaluation, which runs once the change
 * (and the profile store's update of those profiles) is done. Everything else of the platform is read when
 * used, not at construction.
 */
import type { Principal } from '../access/principal.ts';
import { authorize } from '../access/principal.ts';
import { RoundtripError } from '../core/errors.ts';
import type { JobKind } from '../platform/jobs.ts';
import type { Platform } from '../platform/platform.ts';
import type { DatasetRecord, MergePolicyRecord } from '../ports/metadata-store.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { quoteIdent } from '../identity/sql.ts';
import { evaluateBatch } from './batch.ts';
import { DEFINITION_KIND, SegmentDefinitions, definitionView, dependencyLayers, type Definition } from './definitions.ts';
import { Estimates } from './estimates.ts';
import { eventDatasets } from './events-relation.ts';
import { csvValues, writeExternal } from './external.ts';
import { SegmentJobs } from './jobs.ts';
import { ensureMembershipTables } from './membership-tables.ts';
import { dropSegment, eraseMemberships, memberPage, purgeExited, realizedCounts, trend } from './membership.ts';
import type { PersonalDataEraser } from '../profile/privacy.ts';
import type { DefinitionViewT, EstimateViewT, ExternalInput, JobMetricsT, PreviewInput } from './payloads.ts';
import { StreamingEvaluator } from './streaming.ts';

/** What the service reads of the platform; the profile store and profiles are used only after construction. */
export type AudiencePlatform = Pick<Platform, 'metadata' | 'warehouse' | 'identity' | 'mergePolicies' | 'profileStore' | 'bus' | 'clock' | 'audit' | 'jobs'>;

export const SEGMENT_JOB_KIND = 'segment.evaluate';

export class AudienceService {
  readonly definitions: SegmentDefinitions;
  readonly jobs: SegmentJobs;
  readonly streaming: StreamingEvaluator;
  readonly estimates: Estimates;

  constructor(private readonly platform: AudiencePlatform) {
    const { metadata, mergePolicies, audit, clock, identity, bus } = platform;
    this.definitions = new SegmentDefinitions(metadata, mergePolicies, audit, clock, (sandbox) => this.streaming.invalidate(sandbox));
    this.jobs = new SegmentJobs(metadata, audit, clock, (sandbox, ids, jobId) => this.evaluate(sandbox, ids, jobId));
    this.streaming = new StreamingEvaluator({
      graph: identity,
      policies: mergePolicies,
      definitions: this.definitions,
      bus,
      clock,
      warehouse: (sandbox) => platform.warehouse.sandbox(sandbox),
      eventDatasets: (sandbox) => eventDatasets(metadata, identity, sandbox),
      datasets: (sandbox) => metadata.datasets.list(sandbox),
      warn: (message, error) => console.warn(`[audiences] ${message}:`, (error as Error).message),
    });
    this.estimates = new Estimates({ metadata, audit, clock, graph: identity });
    identity.onChange(async (context, change) => {
      await ensureMembershipTables(context.warehouse);
      this.streaming.graphChanged(context, change);
    });
    platform.jobs.register(this.jobKind());
  }

  /** The daily batch job (and any schedule of it): evaluate segments, then purge old exited memberships. */
  private jobKind(): JobKind {
    return {
      kind: SEGMENT_JOB_KIND,
      description: 'Evaluate batch audiences (params.segmentIds, default every batch-enabled one) and purge exited memberships older than 30 days',
      validate: (params) => {
        const ids = params.segmentIds;
        if (ids !== undefined && !(Array.isArray(ids) && ids.every((i) => typeof i === 'string'))) {
          throw new RoundtripError('RT_REQUEST_INVALID', '`segmentIds` of a segment.evaluate job is a list of segment ids.');
        }
      },
      run: async ({ principal, sandbox, params }) => {
        const ids = (params.segmentIds as string[] | undefined) ?? ['*'];
        const job = await this.jobs.create(principal, sandbox, ids.map((segmentId) => ({ segmentId })));
        const done = await this.jobs.wait(sandbox, job.id);
        if (done.status !== 'SUCCEEDED') throw new RoundtripError((done.errors[0]?.code as 'RT_INTERNAL' | undefined) ?? 'RT_INTERNAL', done.errors[0]?.msg ?? `Segment job ${job.id} ended ${done.status}.`);
        const counter = done.metrics?.segmentedProfileCounter ?? {};
        return { rowCount: Object.values(counter).reduce((a, b) => a + b, 0), message: `segment job ${job.id}: ${Object.keys(counter).length} segments` };
      },
    };
  }

  private warehouse(sandbox: string): Promise<SandboxWarehouse> {
    return this.platform.warehouse.sandbox(sandbox);
  }

  private eventDatasets(sandbox: string): Promise<DatasetRecord[]> {
    return eventDatasets(this.platform.metadata, this.platform.identity, sandbox);
  }

  /** The profile tables current with every acknowledged write (as a profile read would be). */
  private async current(sandbox: string): Promise<void> {
    await this.platform.identity.sync(sandbox);
    await this.platform.profileStore.ensureCurrent(sandbox);
  }

  // Definitions -------------------------------------------------------------------------------------------

  async deleteDefinition(actor: Principal, sandbox: string, id: string): Promise<void> {
    await this.definitions.delete(actor, sandbox, id);
    const warehouse = await this.warehouse(sandbox);
    await dropSegment(warehouse, id);
  }

  // Batch evaluation --------------------------------------------------------------------------------------

  /** Evaluates segments (or `*`: every batch-enabled PQL segment), grouped by merge policy; job metrics. */
  async evaluate(sandbox: string, ids: readonly string[], source: string): Promise<JobMetricsT> {
    const startTimeInMs = Date.now();
    const all = await this.definitions.list(sandbox);
    const byId = new Map(all.map((d) => [d.id, d]));
    const wanted: Definition[] = ids.includes('*')
      ? all.filter((d) => d.body.origin === 'pql' && d.body.evaluationInfo.batch)
      : ids.map((id) => {
          const d = byId.get(id);
          if (!d) throw new RoundtripError('RT_SEGMENT_NOT_FOUND', `No segment definition has the id "${id}".`, { id });
          if (d.body.origin !== 'pql') throw new RoundtripError('RT_SEGMENT_INVALID', `"${d.body.name}" is an external audience; upload a new list instead of evaluating it.`, { id });
          return d;
        });
    await this.current(sandbox);
    const warehouse = await this.warehouse(sandbox);
    await ensureMembershipTables(warehouse);
    const segmentStart = Date.now();
    const metrics: JobMetricsT = {
      totalTime: { startTimeInMs, endTimeInMs: 0, totalTimeInMs: 0 },
      profileSegmentationTime: { startTimeInMs: segmentStart, endTimeInMs: 0, totalTimeInMs: 0 },
      totalProfiles: 0,
      segmentedProfileCounter: {},
      segmentedProfileByNamespaceCounter: {},
      segmentedProfileByStatusCounter: {},
      totalProfilesByMergePolicy: {},
    };
    const byPolicy = new Map<string, Definition[]>();
    for (const d of wanted) byPolicy.set(d.body.mergePolicyId, [...(byPolicy.get(d.body.mergePolicyId) ?? []), d]);
    const datasets = await this.eventDatasets(sandbox);
    for (const [policyId, list] of byPolicy) {
      const policy = await this.platform.mergePolicies.get(sandbox, policyId);
      const prepared = new Map<string, Definition & { prepared: Awaited<ReturnType<SegmentDefinitions['prepared']>> }>();
      for (const d of list) prepared.set(d.id, { ...d, prepared: await this.definitions.prepared(sandbox, d) });
      const layers = dependencyLayers([...prepared.keys()], (id) => prepared.get(id)!.prepared.dependencies).map((layer) =>
        layer.map((id) => ({ id, prepared: prepared.get(id)!.prepared })),
      );
      if (!(await warehouse.listTables()).includes(policy.snapshotTable)) {
        for (const d of list) metrics.segmentedProfileCounter[d.id] = 0;
        continue;
      }
      const result = await evaluateBatch({ warehouse, graph: this.platform.identity, policy, eventDatasets: datasets, layers, now: this.platform.clock.now(), source });
      metrics.totalProfiles += result.totalProfiles;
      metrics.totalProfilesByMergePolicy[policy.id] = result.totalProfiles;
      for (const [id, counts] of result.segments) {
        metrics.segmentedProfileCounter[id] = counts.realized;
        metrics.segmentedProfileByNamespaceCounter[id] = { ups: counts.realized };
        metrics.segmentedProfileByStatusCounter[id] = { realized: counts.realized, exited: counts.exited, entered: counts.entered };
      }
    }
    await purgeExited(warehouse, this.platform.clock.now());
    // Written outside the streaming membership lock: the fast path reads the rows again.
    this.streaming.fastPath.membershipsChanged(sandbox);
    const end = Date.now();
    metrics.profileSegmentationTime = { startTimeInMs: segmentStart, endTimeInMs: end, totalTimeInMs: end - segmentStart };
    metrics.totalTime = { startTimeInMs, endTimeInMs: end, totalTimeInMs: end - startTimeInMs };
    return metrics;
  }

  /** What a privacy delete removes here: the person's membership and history rows. */
  personalDataEraser(): PersonalDataEraser {
    return {
      name: 'segmentMemberships',
      erase: async ({ sandbox, warehouse, profileIds }) => {
        const removed = await eraseMemberships(warehouse, profileIds);
        // Written outside the streaming membership lock: the fast path reads the rows again.
        if (removed > 0) this.streaming.fastPath.membershipsChanged(sandbox);
        return removed;
      },
    };
  }

  /** Deletes exited memberships older than 30 days now (the segment jobs do it too). */
  async purge(sandbox: string): Promise<number> {
    const warehouse = await this.warehouse(sandbox);
    await ensureMembershipTables(warehouse);
    const purged = await purgeExited(warehouse, this.platform.clock.now());
    this.streaming.fastPath.membershipsChanged(sandbox);
    return purged;
  }

  /**
   * Members of a segment by the streaming engine (in process, every profile of its policy), without writing:
   * what streaming evaluation would decide, to compare with a batch job on the same data.
   */
  async evaluateInProcess(sandbox: string, id: string): Promise<number[]> {
    const definition = await this.definitions.get(sandbox, id);
    const prepared = await this.definitions.prepared(sandbox, definition);
    const policy = await this.platform.mergePolicies.get(sandbox, definition.body.mergePolicyId);
    await this.current(sandbox);
    const warehouse = await this.warehouse(sandbox);
    if (!(await warehouse.listTables()).includes(policy.snapshotTable)) return [];
    const ids = (await warehouse.query(`SELECT profile_id FROM ${quoteIdent(policy.snapshotTable)} ORDER BY 1`)).rows.map((r) => Number(r.profile_id));
    const pairs = await this.streaming.qualify(sandbox, policy, [{ definition, prepared }], ids, this.platform.clock.now());
    return pairs.map(([, profile]) => profile).sort((a, b) => a - b);
  }

  // Estimates and previews --------------------------------------------------------------------------------

  async preview(actor: Principal, sandbox: string, input: PreviewInput): Promise<EstimateViewT> {
    const policy = await this.platform.mergePolicies.resolve(sandbox, input.mergePolicyId);
    await this.current(sandbox);
    return this.estimates.run(actor, sandbox, await this.warehouse(sandbox), { pql: input.predicateExpression, policy, eventDatasets: await this.eventDatasets(sandbox), sampleSize: input.sampleSize });
  }

  async estimateDefinition(actor: Principal, sandbox: string, id: string, sampleSize?: number): Promise<EstimateViewT> {
    const definition = await this.definitions.get(sandbox, id);
    if (definition.body.pql === null) throw new RoundtripError('RT_SEGMENT_INVALID', `"${definition.body.name}" is an external audience: its size is its member count.`, { id });
    return this.preview(actor, sandbox, { predicateExpression: definition.body.pql, mergePolicyId: definition.body.mergePolicyId, sampleSize });
  }

  async previewPage(sandbox: string, previewId: string, offset: number, limit: number): Promise<{ previewId: string; state: string; results: Record<string, unknown>[]; page: { offset: number; limit: number; totalCount: number; next: number | null } }> {
    const estimate = await this.estimates.get(sandbox, previewId);
    const policy = await this.platform.mergePolicies.get(sandbox, estimate.mergePolicyId);
    const { results, totalCount } = await this.estimates.page(sandbox, await this.warehouse(sandbox), policy, previewId, offset, limit);
    return { previewId, state: estimate.state, results: results, page: { offset, limit, totalCount, next: offset + limit < totalCount ? offset + limit : null } };
  }

  // Membership reads --------------------------------------------------------------------------------------

  async members(sandbox: string, id: string, options: { limit?: number; offset?: number; status?: string }) {
    const definition = await this.definitions.get(sandbox, id);
    const policy = await this.platform.mergePolicies.get(sandbox, definition.body.mergePolicyId);
    const limit = options.limit ?? 100;
    const offset = options.offset ?? 0;
    const page = await memberPage(await this.warehouse(sandbox), policy, id, { limit, offset, status: options.status ?? 'realized' });
    return { segmentId: id, members: page.members, page: { offset, limit, totalCount: page.totalCount, next: offset + limit < page.totalCount ? offset + limit : null } };
  }

  async trend(sandbox: string, id: string) {
    const definition = await this.definitions.get(sandbox, id);
    return { segmentId: id, days: await trend(await this.warehouse(sandbox), definition.body.mergePolicyId, id) };
  }

  /** Realized member counts of every segment of a policy (for listings). */
  async counts(sandbox: string, policy: MergePolicyRecord): Promise<Map<string, number>> {
    return realizedCounts(await this.warehouse(sandbox), policy.id);
  }

  // External audiences ------------------------------------------------------------------------------------

  async createExternal(actor: Principal, sandbox: string, input: ExternalInput): Promise<{ segment: DefinitionViewT; values: number; resolved: number; unresolved: number; profiles: number }> {
    authorize(actor, 'audience:write', sandbox);
    const values = csvValues(input.csv, input.namespace, input.column);
    const definition = await this.definitions.createExternal(actor, sandbox, { name: input.name, description: input.description, namespace: input.namespace, mergePolicyId: input.mergePolicyId });
    const policy = await this.platform.mergePolicies.get(sandbox, definition.body.mergePolicyId);
    try {
      const result = await writeExternal(this.platform.identity, await this.warehouse(sandbox), policy, definition.id, input.namespace, values, this.platform.clock.now());
      return { segment: definitionView(definition), values: result.values, resolved: result.resolved, unresolved: result.values - result.resolved, profiles: result.profiles };
    } catch (error) {
      // An upload that cannot be resolved leaves no empty audience behind.
      await this.platform.metadata.documents.delete(sandbox, DEFINITION_KIND, definition.id);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.jobs.drain();
    await this.streaming.close();
  }
}
