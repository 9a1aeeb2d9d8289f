/**
 * When a schedule fires: a cron expression or one of the reference UI's frequencies (hourly, daily every X days,
 * weekly on days, monthly on a day, yearly on a day of a month), bounded by a start and an optional end date.
 * Everything is UTC. Frequencies are computed directly rather than translated to cron, because "every X days"
 * counts from the start date and "day 31" means the last day of shorter months, neither of which cron can say.
 */
import { RoundtripError } from '../../core/errors.ts';
import { cronNext, DAY_NAMES, parseCron, type CronExpression } from './cron.ts';

export type DayName = (typeof DAY_NAMES)[number];

export type Frequency =
  | { type: 'hourly'; minute: number }
  | { type: 'daily'; every: number; at: string }
  | { type: 'weekly'; days: DayName[]; at: string }
  | { type: 'monthly'; day: number; at: string }
  | { type: 'yearly'; month: number; day: number; at: string };

/** Exactly one of the two says when; the stored form of a schedule's timing. */
export type TimingSpec = { cron: string; frequency?: undefined } | { frequency: Frequency; cron?: undefined };

export interface Timing {
  spec: TimingSpec;
  startDate: Date;
  endDate: Date | null;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

function invalid(path: string, message: string): RoundtripError {
  return new RoundtripError('RT_SCHEDULE_INVALID', `${path} ${message}`, { issues: [{ path, message }] });
}

/** `HH:MM` (24 h, UTC) → minutes after midnight. */
export function parseTimeOfDay(at: string, path = 'schedule.frequency.at'): number {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(at);
  if (!match) throw invalid(path, `must be a UTC time of day as HH:MM (00:00-23:59), not "${at}".`);
  return Number(match[1]) * 60 + Number(match[2]);
}

const utcDay = (t: number): number => Math.floor(t / DAY_MS) * DAY_MS;
const daysInMonth = (year: number, month0: number): number => new Date(Date.UTC(year, month0 + 1, 0)).getUTCDate();

/** A day of the month that a shorter month does not have means its last day (31 → 30 in April, 29 → 28 in February). */
function monthlySlot(year: number, month0: number, day: number, minuteOfDay: number): number {
  return Date.UTC(year, month0, Math.min(day, daysInMonth(year, month0))) + minuteOfDay * MINUTE_MS;
}

function nextHourly(f: { minute: number }, after: number): number {
  const candidate = Math.floor(after / HOUR_MS) * HOUR_MS + f.minute * MINUTE_MS;
  return candidate > after ? candidate : candidate + HOUR_MS;
}

/** Every `every` days, counted from the start date's day, at `at`. */
function nextDaily(f: { every: number; at: string }, after: number, anchor: number): number {
  const at = parseTimeOfDay(f.at) * MINUTE_MS;
  const anchorDay = utcDay(anchor);
  const period = f.every * DAY_MS;
  const from = Math.max(utcDay(after), anchorDay);
  let day = anchorDay + Math.ceil((from - anchorDay) / period) * period;
  while (day + at <= after) day += period;
  return day + at;
}

function nextWeekly(f: { days: DayName[]; at: string }, after: number): number {
  const at = parseTimeOfDay(f.at) * MINUTE_MS;
  const wanted = new Set(f.days.map((d) => DAY_NAMES.indexOf(d)));
  for (let day = utcDay(after); ; day += DAY_MS) {
    if (wanted.has(new Date(day).getUTCDay()) && day + at > after) return day + at;
  }
}

function nextMonthly(f: { day: number; at: string }, after: number): number {
  const at = parseTimeOfDay(f.at);
  const d = new Date(after);
  for (let i = 0; ; i++) {
    const slot = monthlySlot(d.getUTCFullYear(), d.getUTCMonth() + i, f.day, at);
    if (slot > after) return slot;
  }
}

function nextYearly(f: { month: number; day: number; at: string }, after: number): number {
  const at = parseTimeOfDay(f.at);
  for (let year = new Date(after).getUTCFullYear(); ; year++) {
    const slot = monthlySlot(year, f.month - 1, f.day, at);
    if (slot > after) return slot;
  }
}

function nextByFrequency(f: Frequency, after: number, anchor: number): number {
  switch (f.type) {
    case 'hourly':
      return nextHourly(f, after);
    case 'daily':
      return nextDaily(f, after, anchor);
    case 'weekly':
      return nextWeekly(f, after);
    case 'monthly':
      return nextMonthly(f, after);
    case 'yearly':
      return nextYearly(f, after);
  }
}

const cronCache = new Map<string, CronExpression>();
function cronOf(expression: string): CronExpression {
  let cron = cronCache.get(expression);
  if (!cron) {
    cron = parseCron(expression);
    if (cronCache.size > 1000) cronCache.clear();
    cronCache.set(expression, cron);
  }
  return cron;
}

/** The first slot strictly after `after`, not before the start date and not after the end date; null when none is left. */
export function nextSlot(timing: Timing, after: Date): Date | null {
  const from = Math.max(after.getTime(), timing.startDate.getTime() - 1);
  const { spec } = timing;
  let slot: number | null;
  if (spec.cron !== undefined) slot = cronNext(cronOf(spec.cron), new Date(from))?.getTime() ?? null;
  else slot = nextByFrequency(spec.frequency, from, timing.startDate.getTime());
  if (slot === null || (timing.endDate && slot > timing.endDate.getTime())) return null;
  return new Date(slot);
}

/** Slots in `(after, until]`, oldest first, at most `limit` of them (the oldest ones). */
export function slotsBetween(timing: Timing, after: Date, until: Date, limit: number): Date[] {
  const slots: Date[] = [];
  for (let slot = nextSlot(timing, after); slot && slot <= until && slots.length < limit; slot = nextSlot(timing, slot)) slots.push(slot);
  return slots;
}

/** Checks a frequency's fields beyond what the request schema can say. */
export function validateFrequency(f: Frequency): void {
  const path = 'schedule.frequency';
  if (f.type !== 'hourly') parseTimeOfDay(f.at, `${path}.at`);
  if (f.type === 'hourly' && !(Number.isInteger(f.minute) && f.minute >= 0 && f.minute <= 59)) throw invalid(`${path}.minute`, 'must be 0-59.');
  if (f.type === 'daily' && !(Number.isInteger(f.every) && f.every >= 1 && f.every <= 366)) throw invalid(`${path}.every`, 'must be 1-366 days.');
  if (f.type === 'weekly' && (f.days.length === 0 || f.days.some((d) => !DAY_NAMES.includes(d)))) {
    throw invalid(`${path}.days`, `must name one or more of ${DAY_NAMES.join(', ')}.`);
  }
  if ((f.type === 'monthly' || f.type === 'yearly') && !(Number.isInteger(f.day) && f.day >= 1 && f.day <= 31)) throw invalid(`${path}.day`, 'must be 1-31.');
  if (f.type === 'yearly' && !(Number.isInteger(f.month) && f.month >= 1 && f.month <= 12)) throw invalid(`${path}.month`, 'must be 1-12.');
}

/** Parses what the timing says (cron syntax, frequency fields, dates) and refuses one that would never fire. */
export function validateTiming(timing: Timing, now: Date): void {
  if (timing.spec.cron !== undefined) parseCron(timing.spec.cron);
  else validateFrequency(timing.spec.frequency);
  if (timing.endDate && timing.endDate <= timing.startDate) throw invalid('schedule.endDate', 'must be after the start date.');
  if (timing.endDate && timing.endDate <= now) throw invalid('schedule.endDate', 'is in the past; the schedule would never run.');
  if (nextSlot(timing, now) === null) throw invalid('schedule', 'never fires between the start and end dates.');
}
