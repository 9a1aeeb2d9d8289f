import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonRecord } from '../../ports/warehouse.ts';
import { entryPayload, type StreamEntry } from './intake.ts';

describe('streaming intake: the log payload of an entry', () => {
  it('is the entry as JSON, built from the texts kept at the check, without the texts themselves', () => {
    const records: Record<string, JsonRecord[]> = { ds_a: [{ _id: 'a"1', n: 1, nested: { s: 'ü\n' } }, { _id: 'a2' }], ds_b: [{ _id: 'b1' }] };
    const entry: StreamEntry = {
      connectionId: 'sc_1',
      xactionId: '17:3',
      receivedTimeMs: 17,
      writes: records,
      failed: [{ datasetId: 'ds_a', rowNumber: 3, raw: '{"x":1}', issues: [{ path: 'x', code: 'RT_FIELD_UNKNOWN', message: 'no' }] }],
      lines: Object.fromEntries(Object.entries(records).map(([id, rs]) => [id, rs.map((r) => JSON.stringify(r))])),
    };
    const { lines: _lines, ...logged } = entry;
    assert.equal(entryPayload(entry), JSON.stringify(logged));
    assert.deepEqual(JSON.parse(entryPayload(entry)), logged);
    assert.equal(entryPayload(logged), JSON.stringify(logged), 'an entry read back from the log has no texts');
  });
});
