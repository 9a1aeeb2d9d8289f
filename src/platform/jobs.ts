/**
 * Named background jobs that schedules can run besides SQL: a CLV prediction, a batch segment evaluation, an
 * insights model refresh, an activation dataflow run, a campaign send. Each domain registers its kinds once in
 * the composition root; the query scheduler (`src/query/schedules`) runs a schedule's `job` through this
 * registry with the schedule's principal, so a scheduled job is checked, logged, retried, quarantined and
 * alerted exactly like a scheduled query.
 */
import type { Principal } from '../access/principal.ts';
import { RoundtripError } from '../core/errors.ts';
import type { JsonValue } from '../ports/warehouse.ts';

export interface JobContext {
  principal: Principal;
  sandbox: string;
  /** The job's parameters as stored on the schedule (validated by the job itself). */
  params: Record<string, JsonValue>;
  /** The slot the scheduler fired for (ISO), or now for a manual run. */
  scheduledFor: string;
}

export interface JobOutcome {
  /** Rows the job wrote or records it handled, shown in the run history. */
  rowCount?: number | null;
  message?: string | null;
}

export interface JobKind {
  /** Stable identifier, `domain.verb` (e.g. `clv.predict`). */
  kind: string;
  description: string;
  /** Checks parameters when a schedule is created, so that a bad schedule is refused up front. */
  validate?(params: Record<string, JsonValue>): void;
  run(context: JobContext): Promise<JobOutcome>;
}

export class JobRegistry {
  private readonly kinds = new Map<string, JobKind>();

  register(job: JobKind): void {
    if (this.kinds.has(job.kind)) throw new Error(`job kind ${job.kind} registered twice`);
    this.kinds.set(job.kind, job);
  }

  get(kind: string): JobKind {
    const job = this.kinds.get(kind);
    if (!job) throw new RoundtripError('RT_JOB_KIND_UNKNOWN', `No job kind "${kind}"; known kinds: ${[...this.kinds.keys()].sort().join(', ') || 'none'}.`, { kind });
    return job;
  }

  list(): { kind: string; description: string }[] {
    return [...this.kinds.values()].map(({ kind, description }) => ({ kind, description })).sort((a, b) => a.kind.localeCompare(b.kind));
  }
}
