import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planCatchUp } from './catch-up.ts';
import { cronNext, parseCron } from './cron.ts';
import { nextSlot, slotsBetween, validateTiming, type Frequency, type Timing } from './timing.ts';

const d = (iso: string): Date => new Date(iso);
const iso = (x: Date | null): string | null => x?.toISOString() ?? null;
const START = d('2026-01-01T00:00:00.000Z'); // a Thursday

function cronNexts(expression: string, after: string, n: number): string[] {
  const cron = parseCron(expression);
  const out: string[] = [];
  let t = d(after);
  for (let i = 0; i < n; i++) {
    const next = cronNext(cron, t);
    if (!next) break;
    out.push(next.toISOString());
    t = next;
  }
  return out;
}

const freq = (frequency: Frequency, startDate = START, endDate: Date | null = null): Timing => ({ spec: { frequency }, startDate, endDate });
const cron = (expression: string, startDate = START, endDate: Date | null = null): Timing => ({ spec: { cron: expression }, startDate, endDate });
const slots = (timing: Timing, after: string, n: number): string[] => slotsBetween(timing, d(after), d('2100-01-01T00:00:00Z'), n).map((x) => x.toISOString());

describe('cron expressions (UTC)', () => {
  it('handles *, lists, ranges and steps', () => {
    assert.deepEqual(cronNexts('30 * * * *', '2026-03-01T10:31:00Z', 2), ['2026-03-01T11:30:00.000Z', '2026-03-01T12:30:00.000Z']);
    assert.deepEqual(cronNexts('*/20 9-10 * * *', '2026-03-01T09:00:00Z', 4), [
      '2026-03-01T09:20:00.000Z',
      '2026-03-01T09:40:00.000Z',
      '2026-03-01T10:00:00.000Z',
      '2026-03-01T10:20:00.000Z',
    ]);
    assert.deepEqual(cronNexts('0 8,17 * * MON-FRI', '2026-03-06T17:00:00Z', 2), ['2026-03-09T08:00:00.000Z', '2026-03-09T17:00:00.000Z'], 'Friday evening → Monday');
    assert.deepEqual(cronNexts('15 3 1 jan,jul *', '2026-01-01T03:15:00Z', 2), ['2026-07-01T03:15:00.000Z', '2027-01-01T03:15:00.000Z']);
    assert.deepEqual(cronNexts('0 0 * * 7', '2026-03-01T00:00:00Z', 1), ['2026-03-08T00:00:00.000Z'], '7 is Sunday');
    assert.deepEqual(cronNexts('10/25 * * * *', '2026-03-01T00:00:00Z', 3), ['2026-03-01T00:10:00.000Z', '2026-03-01T00:35:00.000Z', '2026-03-01T01:10:00.000Z']);
  });

  it('fires strictly after the given instant, on whole minutes', () => {
    assert.deepEqual(cronNexts('* * * * *', '2026-03-01T10:00:00.000Z', 1), ['2026-03-01T10:01:00.000Z']);
    assert.deepEqual(cronNexts('* * * * *', '2026-03-01T10:00:30.500Z', 1), ['2026-03-01T10:01:00.000Z']);
  });

  it('matches either day field when both are restricted (Vixie rule)', () => {
    // The 13th, or any Friday.
    assert.deepEqual(cronNexts('0 0 13 * FRI', '2026-03-01T00:00:00Z', 3), ['2026-03-06T00:00:00.000Z', '2026-03-13T00:00:00.000Z', '2026-03-20T00:00:00.000Z']);
  });

  it('finds rare dates and gives up on impossible ones', () => {
    assert.deepEqual(cronNexts('0 12 29 2 *', '2026-01-01T00:00:00Z', 2), ['2028-02-29T12:00:00.000Z', '2032-02-29T12:00:00.000Z']);
    assert.equal(cronNext(parseCron('0 0 31 2 *'), START), null);
  });

  it('normalises Quartz (seconds first, 1 = Sunday, ?)', () => {
    assert.deepEqual(cronNexts('0 45 * * * ?', '2026-03-01T10:00:00Z', 1), ['2026-03-01T10:45:00.000Z']);
    assert.deepEqual(cronNexts('0 0 9 ? * 2', '2026-03-01T00:00:00Z', 1), ['2026-03-02T09:00:00.000Z'], 'Quartz 2 = Monday');
    assert.deepEqual(cronNexts('0 0 9 ? * MON *', '2026-03-01T00:00:00Z', 1), ['2026-03-02T09:00:00.000Z']);
  });

  it('refuses what it does not support, with RT_SCHEDULE_INVALID', () => {
    for (const bad of ['* * * *', '60 * * * *', '* 24 * * *', '0 0 0 * *', '0 0 * 13 *', '5-1 * * * *', '*/0 * * * *', '0 0 L * *', '0 0 ? * 6#3', '30 0 0 * * ?', '0 0 0 * * ? 2027', 'a b c d e']) {
      assert.throws(() => parseCron(bad), { code: 'RT_SCHEDULE_INVALID' }, bad);
    }
  });
});

describe('frequencies (UTC)', () => {
  it('hourly runs at the minute past every hour, not before the start date', () => {
    const timing = freq({ type: 'hourly', minute: 15 }, d('2026-01-01T10:20:00Z'));
    assert.deepEqual(slots(timing, '2026-01-01T00:00:00Z', 3), ['2026-01-01T11:15:00.000Z', '2026-01-01T12:15:00.000Z', '2026-01-01T13:15:00.000Z']);
  });

  it('daily every X days counts from the start date', () => {
    const timing = freq({ type: 'daily', every: 3, at: '06:30' }, d('2026-01-01T12:00:00Z'));
    assert.deepEqual(slots(timing, '2025-12-01T00:00:00Z', 3), ['2026-01-04T06:30:00.000Z', '2026-01-07T06:30:00.000Z', '2026-01-10T06:30:00.000Z']);
    assert.equal(iso(nextSlot(timing, d('2026-01-05T00:00:00Z'))), '2026-01-07T06:30:00.000Z');
    const everyDay = freq({ type: 'daily', every: 1, at: '23:59' });
    assert.deepEqual(slots(everyDay, '2026-01-31T23:59:00Z', 2), ['2026-02-01T23:59:00.000Z', '2026-02-02T23:59:00.000Z']);
  });

  it('weekly runs on the chosen days', () => {
    const timing = freq({ type: 'weekly', days: ['MON', 'THU'], at: '09:00' });
    assert.deepEqual(slots(timing, '2026-01-01T09:00:00Z', 3), ['2026-01-05T09:00:00.000Z', '2026-01-08T09:00:00.000Z', '2026-01-12T09:00:00.000Z']);
    assert.equal(iso(nextSlot(timing, d('2026-01-01T08:59:00Z'))), '2026-01-01T09:00:00.000Z', 'the start day itself counts');
  });

  it('monthly runs on the day, or the last day of shorter months', () => {
    const timing = freq({ type: 'monthly', day: 31, at: '00:00' });
    assert.deepEqual(slots(timing, '2026-01-01T00:00:00Z', 4), ['2026-01-31T00:00:00.000Z', '2026-02-28T00:00:00.000Z', '2026-03-31T00:00:00.000Z', '2026-04-30T00:00:00.000Z']);
    assert.deepEqual(slots(freq({ type: 'monthly', day: 15, at: '12:00' }), '2026-01-15T12:00:00Z', 2), ['2026-02-15T12:00:00.000Z', '2026-03-15T12:00:00.000Z']);
  });

  it('yearly runs on the day of the month, Feb 29 falling back to Feb 28', () => {
    assert.deepEqual(slots(freq({ type: 'yearly', month: 7, day: 4, at: '18:00' }), '2026-01-01T00:00:00Z', 2), ['2026-07-04T18:00:00.000Z', '2027-07-04T18:00:00.000Z']);
    assert.deepEqual(slots(freq({ type: 'yearly', month: 2, day: 29, at: '00:00' }), '2026-01-01T00:00:00Z', 3), [
      '2026-02-28T00:00:00.000Z',
      '2027-02-28T00:00:00.000Z',
      '2028-02-29T00:00:00.000Z',
    ]);
  });

  it('stops at the end date', () => {
    const timing = freq({ type: 'hourly', minute: 0 }, START, d('2026-01-01T02:00:00Z'));
    assert.deepEqual(slots(timing, '2025-12-31T00:00:00Z', 10), ['2026-01-01T00:00:00.000Z', '2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z']);
    assert.equal(nextSlot(timing, d('2026-01-01T02:00:00Z')), null);
  });

  it('validates fields and refuses timings that never fire', () => {
    const now = d('2026-01-01T00:00:00Z');
    assert.throws(() => validateTiming(freq({ type: 'daily', every: 1, at: '24:00' }), now), { code: 'RT_SCHEDULE_INVALID' });
    assert.throws(() => validateTiming(freq({ type: 'weekly', days: [], at: '10:00' }), now), { code: 'RT_SCHEDULE_INVALID' });
    assert.throws(() => validateTiming(cron('0 0 * * *', START, d('2025-06-01T00:00:00Z')), now), { code: 'RT_SCHEDULE_INVALID' }, 'end before start');
    assert.throws(() => validateTiming(cron('0 12 * * *', d('2026-01-01T13:00:00Z'), d('2026-01-01T14:00:00Z')), now), { code: 'RT_SCHEDULE_INVALID' }, 'no slot in range');
    validateTiming(cron('30 * * * *'), now);
  });
});

describe('catch-up plan', () => {
  it('runs the one due slot when nothing was missed', () => {
    const plan = planCatchUp(cron('0 * * * *'), d('2026-01-01T05:00:00Z'), d('2026-01-01T05:00:10Z'));
    assert.equal(iso(plan.slot), '2026-01-01T05:00:00.000Z');
    assert.deepEqual([plan.missed.length, plan.earlier], [0, null]);
  });

  it('runs only the latest missed slot and lists the others', () => {
    const plan = planCatchUp(cron('0 * * * *'), d('2026-01-01T01:00:00Z'), d('2026-01-01T05:30:00Z'));
    assert.equal(iso(plan.slot), '2026-01-01T05:00:00.000Z');
    assert.deepEqual(plan.missed.map(iso), ['2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z', '2026-01-01T03:00:00.000Z', '2026-01-01T04:00:00.000Z']);
    assert.equal(plan.earlier, null);
  });

  it('after a long stop lists the last window and summarises older slots', () => {
    const plan = planCatchUp(cron('* * * * *'), d('2026-01-01T00:00:00Z'), d('2026-03-01T00:00:30Z'));
    assert.equal(iso(plan.slot), '2026-03-01T00:00:00.000Z');
    assert.equal(plan.missed.length, 59, 'the minutes of the last hour');
    assert.deepEqual([iso(plan.earlier?.from ?? null), iso(plan.earlier?.to ?? null)], ['2026-01-01T00:00:00.000Z', '2026-02-28T23:00:30.000Z']);
    const yearly = planCatchUp(freq({ type: 'yearly', month: 1, day: 1, at: '00:00' }), d('2027-01-01T00:00:00Z'), d('2029-06-01T00:00:00Z'));
    assert.equal(iso(yearly.slot), '2029-01-01T00:00:00.000Z');
    assert.deepEqual(yearly.missed.map(iso), ['2027-01-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z'], 'few slots are listed one by one');
    assert.equal(yearly.earlier, null);
  });
});
