import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ResolvedSchema } from '../catalog/xdm/compose.ts';
import { coerceDate, coerceDateTime, recordChecker } from './record-checks.ts';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['_id', 'timestamp'],
  'meta:class': 'experienceevent',
  properties: {
    _id: { type: 'string' },
    timestamp: { type: 'string', format: 'date-time' },
    birthDate: { type: 'string', format: 'date' },
    flag: { type: 'boolean' },
    tags: { type: 'array', items: { type: 'string' } },
    count: { type: 'integer', minimum: 0 },
    tier: { type: 'string', enum: ['GOLD', 'SILVER'] },
    code: { type: 'string', maxLength: 3 },
    sku: { type: 'string', pattern: '^SKU-' },
    email: { type: 'string', format: 'email' },
    visits: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { at: { type: 'string', format: 'date-time' } } } },
    byDay: { type: 'object', additionalProperties: { type: 'string', format: 'date' } },
  },
} as unknown as ResolvedSchema;

const checker = recordChecker(schema, { eventRecordLimitBytes: 1024, profileRecordLimitBytes: 4096 });
const base = { _id: 'e1', timestamp: '2024-01-02T03:04:05Z' };

describe('record checks: the coercion table', () => {
  it('turns ISO 8601 strings and epoch milliseconds (long or string) into date-times', () => {
    assert.equal(coerceDateTime('2024-01-02T03:04:05Z'), '2024-01-02T03:04:05.000Z');
    assert.equal(coerceDateTime('2024-01-02T05:04:05+02:00'), '2024-01-02T03:04:05.000Z');
    assert.equal(coerceDateTime('2024-01-02T03:04:05'), '2024-01-02T03:04:05.000Z', 'no offset means UTC');
    assert.equal(coerceDateTime('2024-01-02'), '2024-01-02T00:00:00.000Z');
    assert.equal(coerceDateTime(1704164645000), '2024-01-02T03:04:05.000Z');
    assert.equal(coerceDateTime('1704164645000'), '2024-01-02T03:04:05.000Z');
    assert.equal(coerceDateTime('next tuesday'), 'next tuesday', 'left for the validator to refuse');
    assert.equal(coerceDateTime(9e15), 9e15, 'out of the Date range: left for the validator to refuse');
  });

  it('turns ISO strings and epoch milliseconds into dates', () => {
    assert.equal(coerceDate('2024-01-02'), '2024-01-02');
    assert.equal(coerceDate('2024-01-02T23:59:59Z'), '2024-01-02');
    assert.equal(coerceDate(1704164645000), '2024-01-02');
    assert.equal(coerceDate('1704164645000'), '2024-01-02');
  });

  it('coerces inside nested arrays and maps, and accepts the result', () => {
    const result = checker.check({ ...base, timestamp: 1704164645000, visits: [{ at: '1704164645000' }], byDay: { mon: 1704164645000 } });
    assert.ok(result.ok);
    assert.deepEqual(result.record.visits, [{ at: '2024-01-02T03:04:05.000Z' }]);
    assert.deepEqual(result.record.byDay, { mon: '2024-01-02' });
    assert.equal(result.record.timestamp, '2024-01-02T03:04:05.000Z');
  });

  it('never converts booleans or arrays, and nothing else either', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ flag: 'true' }, 'flag'],
      [{ flag: 1 }, 'flag'],
      [{ tags: 'a,b' }, 'tags'],
      [{ count: '3' }, 'count'],
      [{ timestamp: true }, 'timestamp'],
      [{ timestamp: ['2024-01-02'] }, 'timestamp'],
    ];
    for (const [fields, path] of cases) {
      const result = checker.check({ ...base, ...fields });
      assert.ok(!result.ok, JSON.stringify(fields));
      assert.deepEqual(result.issues.map((i) => [i.path, i.code]).find(([p]) => p === path), [path, 'RT_FIELD_TYPE'], JSON.stringify(fields));
    }
  });

  it('gives every failure kind its code and path', () => {
    const cases: [unknown, string, string][] = [
      [{ timestamp: base.timestamp }, '_id', 'RT_FIELD_REQUIRED'],
      [{ ...base, tier: 'BRONZE' }, 'tier', 'RT_FIELD_ENUM'],
      [{ ...base, timestamp: 'yesterday' }, 'timestamp', 'RT_FIELD_FORMAT'],
      [{ ...base, email: 'not-an-email' }, 'email', 'RT_FIELD_FORMAT'],
      [{ ...base, sku: 'X-1' }, 'sku', 'RT_FIELD_PATTERN'],
      [{ ...base, count: -1 }, 'count', 'RT_FIELD_RANGE'],
      [{ ...base, code: 'ABCD' }, 'code', 'RT_FIELD_LENGTH'],
      [{ ...base, extra: 1 }, 'extra', 'RT_FIELD_UNKNOWN'],
      [{ ...base, visits: [{ at: base.timestamp, x: 1 }] }, 'visits[0].x', 'RT_FIELD_UNKNOWN'],
      [{ ...base, code: 'x'.repeat(2000) }, '', 'RT_RECORD_TOO_LARGE'],
      ['just a string', '', 'RT_RECORD_MALFORMED'],
    ];
    for (const [record, path, code] of cases) {
      const result = checker.check(record);
      assert.ok(!result.ok, JSON.stringify(record).slice(0, 80));
      assert.deepEqual([result.issues[0]!.path, result.issues[0]!.code], [path, code], JSON.stringify(record).slice(0, 80));
    }
  });

  it('returns the text of a valid record: the input object and its text when nothing needed coercion, a coerced copy otherwise', () => {
    const canonical = { ...base, timestamp: '2024-01-02T03:04:05.000Z', visits: [{ at: '2024-01-02T03:04:05.000Z' }], byDay: { mon: '2024-01-02' } };
    const same = checker.check(canonical);
    assert.ok(same.ok);
    assert.equal(same.record, canonical, 'nothing to coerce: no copy');
    assert.equal(same.json, JSON.stringify(canonical));
    const raw = { ...base, visits: [{ at: 1704164645000 }, { at: '2024-01-02T03:04:05.000Z' }], byDay: { mon: 1704164645000, tue: '2024-01-03' } };
    const before = JSON.stringify(raw);
    const coerced = checker.check(raw);
    assert.ok(coerced.ok);
    assert.equal(JSON.stringify(raw), before, 'the input is never modified');
    assert.equal(coerced.json, JSON.stringify(coerced.record));
    assert.deepEqual(JSON.parse(coerced.json), { _id: 'e1', timestamp: '2024-01-02T03:04:05.000Z', visits: [{ at: '2024-01-02T03:04:05.000Z' }, { at: '2024-01-02T03:04:05.000Z' }], byDay: { mon: '2024-01-02', tue: '2024-01-03' } });
  });

  it('rolls an impossible day over as Date does, even in the canonical form', () => {
    assert.equal(coerceDateTime('2024-02-30T00:00:00.000Z'), '2024-03-01T00:00:00.000Z');
    assert.equal(coerceDateTime('2024-02-28T23:59:59.999Z'), '2024-02-28T23:59:59.999Z');
  });

  it('serialises a record after validation when the schema has defaults (the validator fills them in)', () => {
    const withDefault = recordChecker(
      { ...schema, properties: { ...schema.properties, tier: { type: 'string', enum: ['GOLD', 'SILVER'], default: 'SILVER' } } } as unknown as ResolvedSchema,
      { eventRecordLimitBytes: 1024, profileRecordLimitBytes: 4096 },
    );
    const result = withDefault.check({ ...base, timestamp: '2024-01-02T03:04:05.000Z' });
    assert.ok(result.ok);
    assert.equal(JSON.parse(result.json).tier, 'SILVER');
  });

  it('applies the profile limit to profile records', () => {
    const profile = recordChecker({ ...schema, 'meta:class': 'profile' }, { eventRecordLimitBytes: 1024, profileRecordLimitBytes: 4096 });
    assert.ok(profile.check({ ...base, sku: `SKU-${'x'.repeat(2000)}` }).ok);
  });
});
