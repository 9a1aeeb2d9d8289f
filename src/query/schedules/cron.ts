/**
 * Cron expressions for query schedules, computed here rather than with a library because the subset is small
 * and must be exact: five fields (minute hour day-of-month month day-of-week) with `*`, lists, ranges, steps
 * and English names, always in UTC. Quartz expressions (six or seven fields, seconds first, day-of-week 1-7
 * from Sunday, `?`) are normalised onto the same model, because the reference API documents Quartz.
 */
import { RoundtripError } from '../../core/errors.ts';

export interface CronExpression {
  /** The expression as given. */
  source: string;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  /** 1-12. */
  months: ReadonlySet<number>;
  /** 0-6, Sunday = 0. */
  daysOfWeek: ReadonlySet<number>;
  /** Vixie-cron rule: when both day fields are restricted, a day matches if either matches. */
  domRestricted: boolean;
  dowRestricted: boolean;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** Value the names start at (months count from 1, days from 0). */
  namesFrom?: number;
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
export const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

const MINUTE: FieldSpec = { name: 'minute', min: 0, max: 59 };
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23 };
const DOM: FieldSpec = { name: 'day-of-month', min: 1, max: 31 };
const MONTH: FieldSpec = { name: 'month', min: 1, max: 12, names: MONTH_NAMES, namesFrom: 1 };
/** 7 is accepted as Sunday, as in most crons. */
const DOW: FieldSpec = { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES, namesFrom: 0 };
const QUARTZ_DOW: FieldSpec = { name: 'day-of-week', min: 1, max: 7, names: DAY_NAMES, namesFrom: 1 };

/** How far ahead a next run is searched before an expression is declared never to fire (Feb 29 needs 4+ years). */
const SEARCH_DAYS = 366 * 8 + 2;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

function invalid(source: string, message: string): RoundtripError {
  return new RoundtripError('RT_SCHEDULE_INVALID', `Cron expression "${source}": ${message}`, { issues: [{ path: 'schedule.schedule', message }] });
}

function parseValue(text: string, spec: FieldSpec, source: string): number {
  const upper = text.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + (spec.namesFrom ?? 0);
  if (!/^\d+$/.test(text)) {
    if (/[LW#H]/i.test(text)) throw invalid(source, `"${text}" in the ${spec.name} field uses a Quartz extension (L, W, #, H) that Roundtrip does not support.`);
    throw invalid(source, `"${text}" is not a valid ${spec.name}.`);
  }
  const value = Number(text);
  if (value < spec.min || value > spec.max) throw invalid(source, `${spec.name} ${value} is outside ${spec.min}-${spec.max}.`);
  return value;
}

/** One comma-separated part: `*`, `*\/s`, `a`, `a-b`, `a-b/s`, `a/s`. */
function parsePart(part: string, spec: FieldSpec, source: string, into: Set<number>): void {
  const [range, stepText, extra] = part.split('/');
  if (extra !== undefined || range === undefined || range === '') throw invalid(source, `"${part}" is not a valid ${spec.name} part.`);
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText) || Number(stepText) < 1) throw invalid(source, `step "${stepText}" in the ${spec.name} field must be a positive number.`);
    step = Number(stepText);
  }
  let from: number;
  let to: number;
  if (range === '*' || range === '?') {
    from = spec.min;
    to = spec.max;
  } else if (range.includes('-')) {
    const [a, b] = range.split('-');
    from = parseValue(a ?? '', spec, source);
    to = parseValue(b ?? '', spec, source);
    if (from > to) throw invalid(source, `range ${range} in the ${spec.name} field runs backwards.`);
  } else {
    from = parseValue(range, spec, source);
    to = stepText === undefined ? from : spec.max;
  }
  for (let v = from; v <= to; v += step) into.add(v);
}

function parseField(text: string, spec: FieldSpec, source: string): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(',')) parsePart(part, spec, source, values);
  return values;
}

const isStar = (field: string): boolean => field.startsWith('*') || field === '?';

/** Quartz `sec min hour dom month dow [year]` → the five standard fields, or a clear refusal. */
function fromQuartz(fields: string[], source: string): { fields: string[]; dow: FieldSpec } {
  const [seconds, ...rest] = fields;
  if (seconds !== '0' && seconds !== '00') throw invalid(source, 'schedules run on whole minutes; the seconds field must be 0.');
  const year = rest[5];
  if (year !== undefined && year !== '*' && year !== '?') throw invalid(source, 'a year field other than * is not supported; use an end date instead.');
  return { fields: rest.slice(0, 5), dow: QUARTZ_DOW };
}

export function parseCron(expression: string): CronExpression {
  const source = expression.trim();
  let fields = source.split(/\s+/);
  let dowSpec = DOW;
  if (fields.length === 6 || fields.length === 7) ({ fields, dow: dowSpec } = fromQuartz(fields, source));
  if (fields.length !== 5) throw invalid(source, 'expected 5 fields (minute hour day-of-month month day-of-week), or 6-7 in Quartz form.');
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  const rawDays = parseField(dow, dowSpec, source);
  // Quartz counts 1 = Sunday; standard cron counts 0 (or 7) = Sunday.
  const daysOfWeek = new Set([...rawDays].map((d) => (dowSpec === QUARTZ_DOW ? d - 1 : d % 7)));
  return {
    source,
    minutes: parseField(minute, MINUTE, source),
    hours: parseField(hour, HOUR, source),
    daysOfMonth: parseField(dom, DOM, source),
    months: parseField(month, MONTH, source),
    daysOfWeek,
    domRestricted: !isStar(dom),
    dowRestricted: !isStar(dow),
  };
}

function dayMatches(cron: CronExpression, day: Date): boolean {
  if (!cron.months.has(day.getUTCMonth() + 1)) return false;
  const dom = cron.daysOfMonth.has(day.getUTCDate());
  const dow = cron.daysOfWeek.has(day.getUTCDay());
  if (cron.domRestricted && cron.dowRestricted) return dom || dow;
  return dom && dow;
}

const firstAtLeast = (values: ReadonlySet<number>, min: number): number | undefined => {
  let best: number | undefined;
  for (const v of values) if (v >= min && (best === undefined || v < best)) best = v;
  return best;
};

/** The first whole minute on `day` at or after `fromMinuteOfDay` that the expression allows. */
function timeOnDay(cron: CronExpression, fromMinuteOfDay: number): number | undefined {
  const fromHour = Math.floor(fromMinuteOfDay / 60);
  for (let hour = firstAtLeast(cron.hours, fromHour); hour !== undefined; hour = firstAtLeast(cron.hours, hour + 1)) {
    const minute = firstAtLeast(cron.minutes, hour === fromHour ? fromMinuteOfDay % 60 : 0);
    if (minute !== undefined) return hour * 60 + minute;
  }
  return undefined;
}

/** The first instant strictly after `after` that the expression fires at, or null if none within eight years. */
export function cronNext(cron: CronExpression, after: Date): Date | null {
  const start = Math.floor(after.getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  let dayStart = Math.floor(start / DAY_MS) * DAY_MS;
  let fromMinute = (start - dayStart) / MINUTE_MS;
  for (let i = 0; i < SEARCH_DAYS; i++) {
    if (dayMatches(cron, new Date(dayStart))) {
      const minuteOfDay = timeOnDay(cron, fromMinute);
      if (minuteOfDay !== undefined) return new Date(dayStart + minuteOfDay * MINUTE_MS);
    }
    dayStart += DAY_MS;
    fromMinute = 0;
  }
  return null;
}
