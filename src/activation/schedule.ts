/**
 * Export schedules of an activation dataflow, one per audience (reference §12.2, "Scheduling"): which run
 * slot is due at a given time. Pure functions, no I/O.
 *
 * - full files: `once` (one slot, the start date at the time) or `daily` at a UTC time;
 * - incremental files: `daily`, or every 3, 6, 8 or 12 hours from the time of the start date;
 * - `after-segment-evaluation` (daily only): the slot is the latest batch evaluation of the segment on a day of
 *   the interval instead of a fixed time;
 * - the date interval ends *before* `endDate` (the reference: "the last day of the interval is not included").
 *
 * A slot is an ISO instant; file names derive from it, so a retried slot produces the same files.
 */
import { RoundtripError } from '../core/errors.ts';

export const FREQUENCIES = ['once', 'daily', 'every-3-hours', 'every-6-hours', 'every-8-hours', 'every-12-hours'] as const;
export type Frequency = (typeof FREQUENCIES)[number];

export interface AudienceSchedule {
  /** Full files carry every active member; incremental files the changes since the last export (the first is a full backfill). */
  exportType: 'full' | 'incremental';
  frequency: Frequency;
  /** `scheduled` at `time`, or right after the segment's batch evaluation (daily only). */
  trigger?: 'scheduled' | 'after-segment-evaluation';
  /** `HH:MM`, UTC (default 00:00). */
  time?: string;
  /** `YYYY-MM-DD`, first day of the interval. */
  startDate: string;
  /** `YYYY-MM-DD`, excluded: the last slot is on the day before. */
  endDate?: string | null;
}

const HOURS: Record<Frequency, number | undefined> = {
  once: undefined,
  daily: 24,
  'every-3-hours': 3,
  'every-6-hours': 6,
  'every-8-hours': 8,
  'every-12-hours': 12,
};

function invalid(message: string, path: string): RoundtripError {
  return new RoundtripError('RT_DATAFLOW_INVALID', message, { issues: [{ path, message }] });
}

function parseDate(value: string, path: string): number {
  const at = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : Number.NaN;
  if (Number.isNaN(at)) throw invalid(`"${value}" is not a date (YYYY-MM-DD).`, path);
  return at;
}

function parseTime(value: string | undefined, path: string): number {
  const match = /^(\d{2}):(\d{2})$/.exec(value ?? '00:00');
  if (!match || Number(match[1]) > 23 || Number(match[2]) > 59) throw invalid(`"${value}" is not a UTC time (HH:MM).`, path);
  return (Number(match[1]) * 60 + Number(match[2])) * 60_000;
}

/** Refuses combinations the reference does not offer (incremental once, hourly full, hourly after evaluation, an empty interval). */
export function validateSchedule(schedule: AudienceSchedule, path = 'schedule'): void {
  const start = parseDate(schedule.startDate, `${path}.startDate`);
  parseTime(schedule.time, `${path}.time`);
  if (schedule.endDate != null && parseDate(schedule.endDate, `${path}.endDate`) <= start) {
    throw invalid('The end date is excluded from the interval, so it must come after the start date.', `${path}.endDate`);
  }
  if (schedule.exportType === 'full' && schedule.frequency !== 'once' && schedule.frequency !== 'daily') {
    throw invalid('Full files are exported once or daily.', `${path}.frequency`);
  }
  if (schedule.exportType === 'incremental' && schedule.frequency === 'once') {
    throw invalid('Incremental files are exported daily or every 3, 6, 8 or 12 hours.', `${path}.frequency`);
  }
  if (schedule.trigger === 'after-segment-evaluation' && schedule.frequency !== 'daily' && schedule.frequency !== 'once') {
    throw invalid('"After segment evaluation" applies to daily (or once) exports.', `${path}.trigger`);
  }
}

/**
 * The latest slot of a fixed-time schedule at or before `at`, or undefined when none is due yet or the interval
 * has ended without one. For `after-segment-evaluation`, pass the segment's latest evaluation time.
 */
export function dueSlot(schedule: AudienceSchedule, at: Date, lastEvaluation?: Date): string | undefined {
  const start = parseDate(schedule.startDate, 'startDate');
  const end = schedule.endDate ? parseDate(schedule.endDate, 'endDate') : Number.POSITIVE_INFINITY;
  const now = Math.min(at.getTime(), end - 1);
  if (schedule.trigger === 'after-segment-evaluation') {
    if (!lastEvaluation) return undefined;
    const evaluated = lastEvaluation.getTime();
    // The caller keeps it to one export per day (or one in all for `once`): see `sameSlotPeriod`.
    return evaluated < start || evaluated > now ? undefined : new Date(evaluated).toISOString();
  }
  const first = start + parseTime(schedule.time, 'time');
  if (now < first) return undefined;
  const hours = HOURS[schedule.frequency];
  if (hours === undefined) return new Date(first).toISOString();
  const step = hours * 3_600_000;
  const slot = first + Math.floor((now - first) / step) * step;
  // Hourly slots never spill past the end date (its day is excluded).
  return slot < end ? new Date(slot).toISOString() : undefined;
}

/** The UTC day (`YYYY-MM-DD`) a slot belongs to. */
export function slotDay(slot: string): string {
  return slot.slice(0, 10);
}


/**
 * Whether `slot` falls in the period already served by `previous` (after-segment-evaluation schedules: once in
 * all, or once per UTC day), so that a second evaluation does not trigger a second export.
 */
export function sameSlotPeriod(schedule: AudienceSchedule, previous: string | undefined, slot: string): boolean {
  if (!previous || schedule.trigger !== 'after-segment-evaluation') return previous === slot;
  return schedule.frequency === 'once' || slotDay(previous) === slotDay(slot);
}
