/**
 * The typed reading of a stored schedule: its timing, output and alert settings (kept as JSON in metadata and
 * written only by this module's callers), and the fixed rules the scheduler applies to every schedule.
 */
import type { Principal } from '../../access/principal.ts';
import type { QueryScheduleRecord } from '../../ports/metadata-store.ts';
import type { JsonValue } from '../../ports/warehouse.ts';
import type { Timing, TimingSpec } from './timing.ts';

/** The reference's `maxActiveRuns`: a schedule never has two runs at once. */
export const MAX_ACTIVE_RUNS = 1;
/** Consecutive failed runs after which an enrolled schedule is quarantined. */
export const QUARANTINE_AFTER = 10;
export const DEFAULT_DELAY_MINUTES = 15;
export const MAX_DELAY_MINUTES = 1440;
/** Run history kept per schedule; older runs are pruned after each run. */
export const RUNS_KEPT = 1000;

export const ALERT_EVENTS = ['start', 'success', 'failure', 'quarantine', 'delay'] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

export type OutputSpec =
  | { mode: 'none' }
  /** First run creates the dataset (CTAS), later runs append to it (ITAS). `dataset` is its table name. */
  | { mode: 'create-and-append'; dataset: string; description: string }
  | { mode: 'append'; datasetId: string };

export interface WebhookSpec {
  url: string;
  /** Shared secret for the HMAC signature; null sends unsigned requests. */
  secret: string | null;
}

export interface AlertSpec {
  /** Events sent to the webhook; every event is logged regardless. */
  events: AlertEvent[];
  delayMinutes: number;
  webhook: WebhookSpec | null;
}

export const DEFAULT_ALERTS: AlertSpec = { events: [...ALERT_EVENTS], delayMinutes: DEFAULT_DELAY_MINUTES, webhook: null };

export function timingOf(s: QueryScheduleRecord): Timing {
  return { spec: s.timing as unknown as TimingSpec, startDate: new Date(s.startDate), endDate: s.endDate ? new Date(s.endDate) : null };
}

/** Stored settings are plain JSON objects written by this module's callers. */
export const asJson = (value: object): JsonValue => value as unknown as JsonValue;

export const outputOf = (s: QueryScheduleRecord): OutputSpec => s.output as OutputSpec;
export const alertsOf = (s: QueryScheduleRecord): AlertSpec => ({ ...DEFAULT_ALERTS, ...(s.alerts as Partial<AlertSpec>) });

/**
 * Who a scheduled run acts as: the schedule itself, limited to its sandbox, with the least role that may run
 * CTAS and INSERT. It does not borrow the creator's key, so revoking that key does not stop the schedule (disable
 * it instead), and audit entries and the query log name the schedule.
 */
export function scheduleRunner(s: QueryScheduleRecord): Principal {
  return { id: s.id, name: `schedule ${s.name}`, role: 'data-engineer', sandboxes: [s.sandbox] };
}
