/**
 * The catch-up rule. When the scheduler finds a schedule due, every slot from its recorded next slot up to now
 * has passed. Only the most recent one runs; the ones before it are recorded as skipped ("missed"), so that a
 * server that was down for a day runs an hourly schedule once, not 24 times, and the history still shows the
 * gap. Up to 1000 due slots are enumerated one by one; after a longer stop, only the slots inside the smallest
 * window before now (1 hour, 1 day, 32 days, 367 days) that holds one are, and older ones become one "earlier"
 * range, which keeps the work bounded.
 */
import { slotsBetween, type Timing } from './timing.ts';

export interface CatchUpPlan {
  /** The slot to run: the latest one at or before now (null if none is left, e.g. past the end date). */
  slot: Date | null;
  /** Due slots before it that were enumerated, oldest first; recorded as skipped. */
  missed: Date[];
  /** Due slots before `to` (from `from`) that were not enumerated; recorded as one skipped range. */
  earlier: { from: Date; to: Date } | null;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const WINDOWS = [HOUR_MS, DAY_MS, 32 * DAY_MS, 367 * DAY_MS];
/** Due slots listed one by one before falling back to windows. */
const DIRECT_LIMIT = 1000;
/** Enough for a minute-level cron over any one window. */
const ENUMERATION_LIMIT = 600_000;

/** `first` is the schedule's recorded next slot (itself a slot), at or before `now`. */
export function planCatchUp(timing: Timing, first: Date, now: Date): CatchUpPlan {
  const direct = slotsBetween(timing, new Date(first.getTime() - 1), now, DIRECT_LIMIT + 1);
  if (direct.length <= DIRECT_LIMIT) return { slot: direct[direct.length - 1] ?? null, missed: direct.slice(0, -1), earlier: null };
  for (const width of WINDOWS) {
    const windowStart = new Date(now.getTime() - width);
    if (windowStart < first) break;
    const slots = slotsBetween(timing, windowStart, now, ENUMERATION_LIMIT);
    if (slots.length) return { slot: slots[slots.length - 1]!, missed: slots.slice(0, -1), earlier: { from: first, to: windowStart } };
  }
  const slots = slotsBetween(timing, new Date(first.getTime() - 1), now, ENUMERATION_LIMIT);
  return { slot: slots[slots.length - 1] ?? null, missed: slots.slice(0, -1), earlier: null };
}
