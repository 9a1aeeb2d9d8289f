/**
 * Segment jobs (reference §10.3): `POST /segment/jobs` with a list of segment ids makes a job document
 * (`segment-job`) that runs in the background, one job at a time per sandbox, through the statuses NEW →
 * QUEUED → PROCESSING → SUCCEEDED | FAILED (or CANCELLED when cancelled before it started), with the
 * reference's metrics: total and segmentation time, total profiles, per-segment counts by namespace and status.
 * Every job ends with the purge of exited memberships older than 30 days.
 */
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError, isRoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { DocumentRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { JsonValue } from '../ports/warehouse.ts';
import type { JobMetricsT, JobStatusT, JobViewT } from './payloads.ts';

export const JOB_KIND = 'segment-job';

interface JobDoc {
  status: JobStatusT;
  segments: { segmentId: string }[];
  metrics: JobMetricsT | null;
  errors: { code: string; msg: string }[];
  requestedBy: string;
  [key: string]: JsonValue | JobMetricsT | null;
}

type JobRecord = DocumentRecord<JobDoc & { [key: string]: JsonValue }>;

/** What running a job means: evaluate these segments (ids, `*` = every batch-enabled one) and report metrics. */
export type JobRunner = (sandbox: string, segmentIds: readonly string[], jobId: string) => Promise<JobMetricsT>;

const TERMINAL: readonly JobStatusT[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

export function jobView(record: JobRecord): JobViewT {
  const b = record.body;
  return {
    id: record.id,
    status: b.status,
    segments: b.segments,
    metrics: b.metrics,
    errors: b.errors,
    requestedBy: b.requestedBy,
    creationTime: Date.parse(record.createdAt),
    updateTime: Date.parse(record.updatedAt),
  };
}

export class SegmentJobs {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly done = new Map<string, Promise<void>>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly runner: JobRunner,
  ) {}

  async get(sandbox: string, id: string): Promise<JobViewT> {
    return jobView(await this.record(sandbox, id));
  }

  private async record(sandbox: string, id: string): Promise<JobRecord> {
    const found = await this.metadata.documents.get<JobDoc & { [key: string]: JsonValue }>(sandbox, JOB_KIND, id);
    if (!found) throw new RoundtripError('RT_SEGMENT_JOB_NOT_FOUND', `No segment job has the id "${id}" in sandbox ${sandbox}.`, { id });
    return found;
  }

  async list(sandbox: string, limit = 100): Promise<JobViewT[]> {
    return (await this.metadata.documents.list<JobDoc & { [key: string]: JsonValue }>(sandbox, JOB_KIND, { limit })).map((r) => jobView(r as JobRecord));
  }

  /** Records the job (NEW), queues it (QUEUED) and returns at once; the job runs in the background. */
  async create(actor: Principal, sandbox: string, segments: readonly { segmentId: string }[]): Promise<JobViewT> {
    const id = newId('segjob');
    const now = isoNow(this.clock);
    const body: JobDoc = { status: 'NEW', segments: segments.length > 1500 ? [{ segmentId: '*' }] : [...segments], metrics: null, errors: [], requestedBy: actor.id };
    const ids = segments.map((s) => s.segmentId);
    await this.metadata.documents.create({ sandbox, kind: JOB_KIND, id, parentId: null, body: body as never, createdAt: now, updatedAt: now });
    await this.audit.record(actor, { sandbox, action: 'segment.job', resourceType: 'segment-job', resourceId: id, details: { segments: ids.length } });
    const queued = await this.setStatus(sandbox, id, { status: 'QUEUED' });
    const previous = this.queues.get(sandbox) ?? Promise.resolve();
    const run = previous.then(() => this.run(sandbox, id, ids)).catch(() => undefined);
    this.queues.set(sandbox, run);
    this.done.set(`${sandbox}/${id}`, run);
    return jobView(queued);
  }

  /** Waits for a job to reach a terminal status (it runs in this process) and returns it. */
  async wait(sandbox: string, id: string): Promise<JobViewT> {
    await this.done.get(`${sandbox}/${id}`);
    return this.get(sandbox, id);
  }

  /** Resolves once every queued and running job has ended (before the warehouse closes). */
  async drain(): Promise<void> {
    await Promise.all([...this.queues.values()]);
  }

  /** Cancels a job that has not started; a running job finishes (its writes are one transaction per layer). */
  async cancel(actor: Principal, sandbox: string, id: string): Promise<JobViewT> {
    const current = await this.record(sandbox, id);
    if (current.body.status === 'NEW' || current.body.status === 'QUEUED') {
      const cancelled = await this.setStatus(sandbox, id, { status: 'CANCELLED' });
      await this.audit.record(actor, { sandbox, action: 'segment.job.cancel', resourceType: 'segment-job', resourceId: id });
      return jobView(cancelled);
    }
    return jobView(current);
  }

  private async run(sandbox: string, id: string, segmentIds: readonly string[]): Promise<void> {
    const current = await this.record(sandbox, id);
    if (TERMINAL.includes(current.body.status)) return;
    await this.setStatus(sandbox, id, { status: 'PROCESSING' });
    try {
      const metrics = await this.runner(sandbox, segmentIds, id);
      await this.setStatus(sandbox, id, { status: 'SUCCEEDED', metrics });
    } catch (error) {
      const code = isRoundtripError(error) ? error.code : 'RT_INTERNAL';
      // The job document carries the failure; nobody awaits a background run.
      await this.setStatus(sandbox, id, { status: 'FAILED', errors: [{ code, msg: (error as Error).message }] });
    }
  }

  private async setStatus(sandbox: string, id: string, patch: Partial<JobDoc>): Promise<JobRecord> {
    const current = await this.record(sandbox, id);
    const updated = await this.metadata.documents.update(sandbox, JOB_KIND, id, { ...current.body, ...patch } as never, { updatedAt: isoNow(this.clock) });
    return updated as JobRecord;
  }
}
