/**
 * Calendar helpers shared by the printer, the reader and the normaliser: a from-to over exactly one calendar
 * month is "during" that month (both print `between date(Y, M, 1) and date(Y, M, last)`).
 */
import type { TimeConstraint } from './model.ts';

const iso = (d: Date): string => d.toISOString().slice(0, 10);
export const monthStart = (year: number, month: number): string => iso(new Date(Date.UTC(year, month - 1, 1)));
export const monthEnd = (year: number, month: number): string => iso(new Date(Date.UTC(year, month, 0)));

/** From … to, or "during" when the range is exactly one calendar month. */
export function fromTo(from: string, to: string): TimeConstraint {
  const [year, month] = from.split('-').map(Number) as [number, number];
  return from === monthStart(year, month) && to === monthEnd(year, month) ? { type: 'during', year, month } : { type: 'fromTo', from, to };
}
