/**
 * Relative time words → windows, written once over an abstract time value so that the evaluator (epoch
 * milliseconds) and the SQL compiler (SQL expressions) compute the same boundaries. Every boundary is in UTC and
 * derived from the single `now` of the evaluation; docs/pql.md has the table.
 *
 * - Calendar periods (`today`, `this month`, `last week`, `next year`) are half-open `[start, end)`; weeks start
 *   on Monday.
 * - Rolling periods (`last 30 days`) run from `now - 30 days` to `now`, both inclusive; `next 30 days` from
 *   just after `now` to `now + 30 days`.
 * - `before A` is strictly before the start of A; `after A` is from the end of A (a day) or strictly after A (an
 *   instant). `between A and B` runs from the start of A to the end of B (inclusive of an instant B).
 * - `<op> N units before|after A` compares the elapsed time `A - t` (before) or `t - A` (after), which must not
 *   be negative, with `N units`; `= N` means the elapsed time is at least N and less than N+1 units.
 */
import type { TimeAnchor, TimeSpec, TimeUnit, TimeWord } from './ast.ts';

const MS: Partial<Record<TimeUnit, number>> = {
  millisecond: 1, second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000,
};
const MONTHS: Partial<Record<TimeUnit, number>> = { month: 1, year: 12, decade: 120, century: 1200, millennium: 12000 };

/** Fixed length in ms, or null for calendar units (months and longer). */
export function unitMillis(unit: TimeUnit): number | null {
  return MS[unit] ?? null;
}
export function unitMonths(unit: TimeUnit): number {
  return MONTHS[unit] ?? 0;
}

/** Adds n units to an epoch-ms instant in UTC; months clamp to the end of the month (Jan 31 + 1 month = Feb 28/29). */
export function addUnits(ms: number, amount: number, unit: TimeUnit): number {
  const fixed = unitMillis(unit);
  if (fixed !== null) return ms + amount * fixed;
  const date = new Date(ms);
  const months = date.getUTCFullYear() * 12 + date.getUTCMonth() + amount * unitMonths(unit);
  const year = Math.floor(months / 12);
  const month = months - year * 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const result = new Date(ms);
  result.setUTCFullYear(year, month, Math.min(date.getUTCDate(), lastDay));
  return result.getTime();
}

/** Start of the calendar unit containing `ms` (UTC; weeks start on Monday). */
export function startOf(ms: number, unit: TimeUnit): number {
  const fixed = unitMillis(unit);
  if (unit === 'week') {
    const day = startOf(ms, 'day');
    const weekday = (new Date(day).getUTCDay() + 6) % 7;
    return day - weekday * 86_400_000;
  }
  if (fixed !== null) return Math.floor(ms / fixed) * fixed;
  const date = new Date(ms);
  const span = unitMonths(unit);
  const months = date.getUTCFullYear() * 12 + date.getUTCMonth();
  const start = span >= 12 ? Math.floor(date.getUTCFullYear() / (span / 12)) * (span / 12) * 12 : months;
  return Date.UTC(Math.floor(start / 12), start % 12, 1);
}

/** The UTC day a time word names, as [start, end); `now` is the instant itself. */
export function wordSpan(word: TimeWord, nowMs: number): { start: number; end: number; point: boolean } {
  const today = startOf(nowMs, 'day');
  switch (word) {
    case 'now': return { start: nowMs, end: nowMs, point: true };
    case 'today': return { start: today, end: today + 86_400_000, point: false };
    case 'yesterday': return { start: today - 86_400_000, end: today, point: false };
    case 'tomorrow': return { start: today + 86_400_000, end: today + 2 * 86_400_000, point: false };
  }
}

/** Time values of one engine: epoch ms in the evaluator, SQL text in the compiler. */
export interface TimeOps<T> {
  constant: (ms: number) => T;
  add: (value: T, amount: number, unit: TimeUnit) => T;
}
/** An anchor: a span [start, end) (a day) or an instant (`point`, start = end). */
export interface Span<T> { start: T; end: T; point: boolean }
export interface Bound<T> { at: T; inclusive: boolean }
export interface Window<T> { lower: Bound<T> | null; upper: Bound<T> | null }

export function windowOf<T>(spec: TimeSpec, nowMs: number, ops: TimeOps<T>, anchorOf: (anchor: TimeAnchor) => Span<T>): Window<T> {
  const c = ops.constant;
  const closedOpen = (start: number, end: number): Window<T> => ({ lower: { at: c(start), inclusive: true }, upper: { at: c(end), inclusive: false } });
  switch (spec.type) {
    case 'word': {
      const span = wordSpan(spec.word, nowMs);
      return span.point ? { lower: { at: c(nowMs), inclusive: true }, upper: { at: c(nowMs), inclusive: true } } : closedOpen(span.start, span.end);
    }
    case 'period': {
      if (spec.amount !== null) {
        const n = spec.amount;
        return spec.which === 'next'
          ? { lower: { at: c(nowMs), inclusive: false }, upper: { at: c(addUnits(nowMs, n, spec.unit)), inclusive: true } }
          : spec.which === 'last'
            ? { lower: { at: c(addUnits(nowMs, -n, spec.unit)), inclusive: true }, upper: { at: c(nowMs), inclusive: true } }
            : closedOpen(startOf(nowMs, spec.unit), addUnits(startOf(nowMs, spec.unit), n, spec.unit));
      }
      const shift = spec.which === 'last' ? -1 : spec.which === 'next' ? 1 : 0;
      const start = addUnits(startOf(nowMs, spec.unit), shift, spec.unit);
      return closedOpen(start, addUnits(start, 1, spec.unit));
    }
    case 'direction': {
      const span = anchorOf(spec.anchor);
      return spec.direction === 'before'
        ? { lower: null, upper: { at: span.start, inclusive: false } }
        : { lower: { at: span.end, inclusive: !span.point }, upper: null };
    }
    case 'between': {
      const from = anchorOf(spec.from);
      const to = anchorOf(spec.to);
      return { lower: { at: from.start, inclusive: true }, upper: { at: to.end, inclusive: to.point } };
    }
    case 'on': {
      const span = anchorOf(spec.anchor);
      return { lower: { at: span.start, inclusive: true }, upper: { at: span.end, inclusive: span.point } };
    }
    case 'offset': return offsetWindow(spec, ops, anchorOf(spec.anchor));
  }
}

function offsetWindow<T>(spec: Extract<TimeSpec, { type: 'offset' }>, ops: TimeOps<T>, span: Span<T>): Window<T> {
  const { amount: n, unit, comparison } = spec;
  if (spec.direction === 'before') {
    const anchor = span.start;
    const shifted = (k: number): T => ops.add(anchor, -k, unit);
    const upperAnchor: Bound<T> = { at: anchor, inclusive: span.point };
    switch (comparison) {
      case '<=': return { lower: { at: shifted(n), inclusive: true }, upper: upperAnchor };
      case '<': return { lower: { at: shifted(n), inclusive: false }, upper: upperAnchor };
      case '>=': return { lower: null, upper: { at: shifted(n), inclusive: true } };
      case '>': return { lower: null, upper: { at: shifted(n), inclusive: false } };
      case '=': return { lower: { at: shifted(n + 1), inclusive: false }, upper: { at: shifted(n), inclusive: true } };
      case '!=': return { lower: null, upper: upperAnchor };
    }
  }
  const anchor = span.end;
  const shifted = (k: number): T => ops.add(anchor, k, unit);
  const lowerAnchor: Bound<T> = { at: anchor, inclusive: true };
  switch (comparison) {
    case '<=': return { lower: lowerAnchor, upper: { at: shifted(n), inclusive: true } };
    case '<': return { lower: lowerAnchor, upper: { at: shifted(n), inclusive: false } };
    case '>=': return { lower: { at: shifted(n), inclusive: true }, upper: null };
    case '>': return { lower: { at: shifted(n), inclusive: false }, upper: null };
    case '=': return { lower: { at: shifted(n), inclusive: true }, upper: { at: shifted(n + 1), inclusive: false } };
    case '!=': return { lower: lowerAnchor, upper: null };
  }
}

/** Parsed time strings: streaming evaluation reads the same events' timestamps over and over. */
const parsedTimes = new Map<string, number | null>();
const PARSED_TIMES_LIMIT = 100_000;

/** Parses what a time value may look like in JSON: a Date, an ISO string, epoch ms; anything else is null. */
export function toMillis(value: unknown): number | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.getTime();
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') {
    const known = parsedTimes.get(value);
    if (known !== undefined) return known;
    if (parsedTimes.size >= PARSED_TIMES_LIMIT) parsedTimes.clear();
    const ms = parseTime(value);
    parsedTimes.set(value, ms);
    return ms;
  }
  return null;
}

function parseTime(value: string): number | null {
  // DuckDB prints TIMESTAMPTZ as `2025-01-31 00:00:00+00`; Date.parse needs a `T` and a full offset.
  if (/^\d{4}-\d\d-\d\d$/.test(value)) return Date.parse(`${value}T00:00:00Z`);
  const iso = value.replace(' ', 'T').replace(/(T[\d:.]+[+-]\d\d)$/, '$1:00');
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}
