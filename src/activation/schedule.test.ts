/**
 * Schedule slots (reference §12.2): once, daily at a UTC time, every 3/6/8/12 hours, after segment evaluation,
 * and the interval whose end date is excluded.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dueSlot, sameSlotPeriod, validateSchedule, type AudienceSchedule } from './schedule.ts';

const at = (iso: string) => new Date(iso);

describe('activation schedules', () => {
  test('full once: the start date at the time, and only that slot', () => {
    const s: AudienceSchedule = { exportType: 'full', frequency: 'once', time: '09:30', startDate: '2024-01-04' };
    assert.equal(dueSlot(s, at('2024-01-04T09:29:59Z')), undefined);
    assert.equal(dueSlot(s, at('2024-01-04T09:30:00Z')), '2024-01-04T09:30:00.000Z');
    assert.equal(dueSlot(s, at('2024-02-01T00:00:00Z')), '2024-01-04T09:30:00.000Z');
  });

  test('daily with an excluded end date: January 4 - 11 exports last on January 10', () => {
    const s: AudienceSchedule = { exportType: 'full', frequency: 'daily', time: '12:00', startDate: '2024-01-04', endDate: '2024-01-11' };
    assert.equal(dueSlot(s, at('2024-01-06T13:00:00Z')), '2024-01-06T12:00:00.000Z');
    assert.equal(dueSlot(s, at('2024-01-06T11:59:00Z')), '2024-01-05T12:00:00.000Z');
    assert.equal(dueSlot(s, at('2024-01-11T12:00:00Z')), '2024-01-10T12:00:00.000Z');
    assert.equal(dueSlot(s, at('2024-03-01T00:00:00Z')), '2024-01-10T12:00:00.000Z');
  });

  test('incremental every 3, 6, 8 or 12 hours from the start time', () => {
    for (const [frequency, hours] of [['every-3-hours', 3], ['every-6-hours', 6], ['every-8-hours', 8], ['every-12-hours', 12]] as const) {
      const s: AudienceSchedule = { exportType: 'incremental', frequency, time: '01:00', startDate: '2024-01-01' };
      const slot = dueSlot(s, at('2024-01-02T23:59:00Z'))!;
      const offset = (Date.parse(slot) - Date.parse('2024-01-01T01:00:00Z')) / 3_600_000;
      assert.equal(offset % hours, 0, frequency);
      assert.ok(Date.parse('2024-01-02T23:59:00Z') - Date.parse(slot) < hours * 3_600_000, frequency);
    }
  });

  test('after segment evaluation: the evaluation is the slot, once per day', () => {
    const s: AudienceSchedule = { exportType: 'full', frequency: 'daily', trigger: 'after-segment-evaluation', startDate: '2024-01-01' };
    assert.equal(dueSlot(s, at('2024-01-02T10:00:00Z')), undefined);
    assert.equal(dueSlot(s, at('2024-01-02T10:00:00Z'), at('2024-01-02T04:12:00Z')), '2024-01-02T04:12:00.000Z');
    assert.equal(sameSlotPeriod(s, '2024-01-02T04:12:00.000Z', '2024-01-02T09:00:00.000Z'), true);
    assert.equal(sameSlotPeriod(s, '2024-01-01T04:12:00.000Z', '2024-01-02T04:00:00.000Z'), false);
  });

  test('combinations the reference does not offer are refused', () => {
    assert.throws(() => validateSchedule({ exportType: 'incremental', frequency: 'once', startDate: '2024-01-01' }), /RT_DATAFLOW_INVALID|daily or every/);
    assert.throws(() => validateSchedule({ exportType: 'full', frequency: 'every-8-hours', startDate: '2024-01-01' }), /once or daily/);
    assert.throws(() => validateSchedule({ exportType: 'incremental', frequency: 'every-3-hours', trigger: 'after-segment-evaluation', startDate: '2024-01-01' }), /After segment evaluation/);
    assert.throws(() => validateSchedule({ exportType: 'full', frequency: 'daily', time: '24:00', startDate: '2024-01-01' }), /UTC time/);
  });
});
