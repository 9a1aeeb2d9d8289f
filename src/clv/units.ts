/**
 * Time units, explicit everywhere: model parameters are per unit (BG/NBD's α in days is 7 × α in weeks), and a
 * CLV horizon in months must be converted into model units, not assumed to be 30 of them — the lifetimes
 * Quickstart pitfall (`reference/clv-science.md` §9.6). A month is 365.25/12 days and a year 365.25 days,
 * except where whole calendar periods are counted (a monthly or yearly period measured in its own unit).
 */

export const TIME_UNITS = ['day', 'week', 'month', 'year'] as const;
export type TimeUnit = (typeof TIME_UNITS)[number];

export const DAYS_PER_UNIT: Record<TimeUnit, number> = { day: 1, week: 7, month: 365.25 / 12, year: 365.25 };

/** How many `to` units one `from` unit is, e.g. month → week = 4.348… */
export function unitsPer(from: TimeUnit, to: TimeUnit): number {
  return DAYS_PER_UNIT[from] / DAYS_PER_UNIT[to];
}
