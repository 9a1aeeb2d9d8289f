import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { coerceDate, coerceDateTime } from '../record-checks.ts';
import { createTestPlatform, type Json, type TestPlatform } from '../../testing/platform.ts';
import { tempDir } from '../../testing/temp.ts';
import { CHECKS_SCHEMA, failedRecordsOf, issuesAt, runBatch, writeParquet } from './batch-testing.ts';
import { dateFromText, dateTimeFromText, lit } from './sql-fields.ts';

const T = '2024-01-02T03:04:05Z';
const csv = (lines: string[]): string => `${lines.join('\n')}\n`;
const jsonl = (records: unknown[]): string => records.map((r) => JSON.stringify(r)).join('\n');
const csvCell = (value: string): string => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
const event = (id: string, custom: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ _id: id, timestamp: T, _roundtrip: { member: 'm', ...custom }, ...extra });

describe('batch checks: the SQL coercion agrees with the JS one', () => {
  it('reads the same instants and dates from text as record-checks.ts, whatever the session time zone', async () => {
    const samples = [
      '2024-01-02T03:04:05Z', '2024-01-02T05:04:05+02:00', '2024-01-02T03:04:05-0130', '2024-01-02T03:04:05', '2024-01-02 03:04:05',
      '2024-01-02T03:04:05.123Z', '2024-01-02', '2024-01-02T03:04Z', '2024-01-02t03:04:05z', '1704164645000', '-86400000', '0',
      '2024-01-02T23:30:00-05:00', 'yesterday', '02/01/2024', '', '2024-13-01', '1704164645000.5',
    ];
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      await connection.run(`SET TimeZone = 'America/New_York'`);
      for (const text of samples) {
        const reader = await connection.runAndReadAll(
          `SELECT strftime(timezone('UTC', ${dateTimeFromText(lit(text))}), '%Y-%m-%dT%H:%M:%S.%g') AS dt, CAST(${dateFromText(lit(text))} AS VARCHAR) AS d`,
        );
        const [row] = reader.getRowObjectsJson();
        const js = coerceDateTime(text);
        const jsValid = typeof js === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(js);
        assert.equal(row!.dt === null ? null : `${row!.dt as string}Z`, jsValid ? js : null, `date-time of "${text}"`);
        assert.equal(row!.d, jsValid ? coerceDate(text) : null, `date of "${text}"`);
      }
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});

describe('batch checks through the batch path (CSV, JSON Lines, Parquet)', () => {
  let t: TestPlatform;
  const temp = tempDir('roundtrip-batch-checks-');
  before(async () => {
    t = await createTestPlatform();
    const schema = await t.call('POST', '/schemas', { body: CHECKS_SCHEMA });
    assert.equal(schema.status, 201, JSON.stringify(schema.body));
    assert.equal((await t.call('POST', '/datasets', { body: { name: 'checks', schemaId: schema.body.id } })).status, 201);
  });
  after(async () => {
    await t.dispose();
    temp.remove();
  });

  /** Rows of one snapshot by `_id`: the dataset's own values after the load. */
  const rowsOf = async (batch: Json): Promise<Map<string, Json>> => {
    const rows = await t.platform.datasets.read('prod', 'checks', { snapshotId: batch.snapshotId, limit: 1000 });
    return new Map(rows.map((r) => [r._id as string, r]));
  };
  const pick = (row: Json): unknown[] => [row.timestamp, row._roundtrip.seenAt, row._roundtrip.birthDate];

  // ISO with Z, with an offset, without one (UTC), a date alone (midnight UTC), epoch ms; dates from instants are UTC dates.
  const expected = {
    c1: ['2024-01-02T03:04:05.000Z', '2024-01-02T03:04:05.000Z', '2024-01-02'],
    c2: ['2024-01-02T03:04:05.000Z', '2024-01-02T03:04:05.000Z', '2024-01-02'],
    c3: ['2024-01-02T00:00:00.000Z', '2024-01-02T03:04:05.000Z', '2024-01-02'],
    c4: ['2024-01-02T03:04:05.123Z', '2024-01-02T00:00:00.000Z', '2024-01-01'],
  };

  it('coerces ISO 8601 strings and epoch milliseconds into date and date-time columns: CSV', async () => {
    const batch = await runBatch(t, 'checks', { format: 'csv' }, [
      {
        name: 'dates.csv',
        content: csv([
          '_id,timestamp,_roundtrip.member,_roundtrip.seenAt,_roundtrip.birthDate',
          `c1,${T},m,2024-01-02T05:04:05+02:00,2024-01-02`,
          'c2,1704164645000,m,2024-01-02T03:04:05,2024-01-02T23:59:59Z',
          'c3,2024-01-02,m,1704164645000,1704164645000',
          'c4,2024-01-02T03:04:05.123Z,m,2024-01-02,2024-01-02T01:00:00+05:00',
        ]),
      },
    ]);
    assert.deepEqual([batch.status, batch.rowsWritten, batch.rowsRejected], ['success', 4, 0], JSON.stringify(batch));
    const rows = await rowsOf(batch);
    for (const [id, values] of Object.entries(expected)) assert.deepEqual(pick(rows.get(id)), values, id);
  });

  it('coerces ISO 8601 strings, epoch-ms strings and epoch-ms longs: JSON Lines', async () => {
    const batch = await runBatch(t, 'checks', { format: 'jsonl' }, [
      {
        name: 'dates.jsonl',
        content: jsonl([
          event('c1', { seenAt: '2024-01-02T05:04:05+02:00', birthDate: '2024-01-02' }),
          { ...event('c2', { seenAt: '2024-01-02T03:04:05', birthDate: '2024-01-02T23:59:59Z' }), timestamp: 1704164645000 },
          { ...event('c3', { seenAt: 1704164645000, birthDate: '1704164645000' }), timestamp: '2024-01-02' },
          { ...event('c4', { seenAt: '2024-01-02', birthDate: '2024-01-02T01:00:00+05:00' }), timestamp: '2024-01-02T03:04:05.123Z' },
        ]),
      },
    ]);
    assert.deepEqual([batch.status, batch.rowsWritten], ['success', 4], JSON.stringify(batch));
    const rows = await rowsOf(batch);
    for (const [id, values] of Object.entries(expected)) assert.deepEqual(pick(rows.get(id)), values, id);
  });

  it('coerces typed Parquet columns: longs as epoch ms, text as ISO 8601, naive timestamps as UTC', async () => {
    const file = await writeParquet(
      temp.dir,
      'dates.parquet',
      `SELECT * FROM (VALUES
         ('c1', TIMESTAMPTZ '2024-01-02 03:04:05+00', 'm', 1704164645000, '2024-01-02'),
         ('c2', TIMESTAMPTZ '2024-01-02 03:04:05+00', 'm', 1704164645000, '2024-01-02T23:59:59Z'))
       AS v("_id", "timestamp", "_roundtrip.member", "_roundtrip.seenAt", "_roundtrip.birthDate")`,
    );
    const nested = await writeParquet(
      temp.dir,
      'nested.parquet',
      `SELECT 'c3' AS _id, TIMESTAMP '2024-01-02 00:00:00' AS "timestamp", {'member': 'm', 'seenAt': '2024-01-02T05:04:05+02:00', 'birthDate': TIMESTAMP '2024-01-02 23:00:00'} AS _roundtrip`,
    );
    const batch = await runBatch(t, 'checks', { format: 'parquet' }, [
      { name: 'dates.parquet', content: readFileSync(file) },
      { name: 'nested.parquet', content: readFileSync(nested) },
    ]);
    assert.deepEqual([batch.status, batch.rowsWritten, batch.rowsRejected], ['success', 3, 0], JSON.stringify(batch));
    const rows = await rowsOf(batch);
    assert.deepEqual([rows.get('c1').timestamp, rows.get('c1')._roundtrip.seenAt, rows.get('c1')._roundtrip.birthDate], expected.c1);
    assert.deepEqual([rows.get('c2')._roundtrip.seenAt, rows.get('c2')._roundtrip.birthDate], [expected.c2[1], expected.c2[2]]);
    assert.deepEqual(pick(rows.get('c3')), ['2024-01-02T00:00:00.000Z', '2024-01-02T03:04:05.000Z', '2024-01-02']);
  });

  it('never converts booleans or arrays, nor text into numbers: JSON Lines', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ flag: 'true' }, '_roundtrip.flag'],
      [{ flag: 1 }, '_roundtrip.flag'],
      [{ tags: 'a,b' }, '_roundtrip.tags'],
      [{ seenAt: true }, '_roundtrip.seenAt'],
      [{ seenAt: ['2024-01-02'] }, '_roundtrip.seenAt'],
      [{ birthDate: false }, '_roundtrip.birthDate'],
      [{ count: '3' }, '_roundtrip.count'],
    ];
    const batch = await runBatch(t, 'checks', { format: 'jsonl' }, [{ name: 'types.jsonl', content: jsonl(cases.map(([fields], i) => event(`t${i}`, fields))) }], 1);
    assert.deepEqual([batch.rowsRead, batch.rowsRejected, batch.rowsWritten], [cases.length, cases.length, 0]);
    const failed = await failedRecordsOf(t, batch.id);
    cases.forEach(([fields, path], i) => assert.deepEqual(issuesAt(failed, i + 1), [['RT_FIELD_TYPE', path]], JSON.stringify(fields)));
  });

  it('never converts booleans or arrays, nor text into numbers: CSV cells and typed Parquet columns', async () => {
    const cells: [string, string, string][] = [
      ['flag', 'yes', 'RT_FIELD_TYPE'],
      ['flag', '1', 'RT_FIELD_TYPE'],
      ['flag', 'TRUE', 'RT_FIELD_TYPE'],
      ['tags', 'a,b', 'RT_FIELD_TYPE'],
      ['tags', '"a"', 'RT_FIELD_TYPE'],
      ['count', '3.5', 'RT_FIELD_TYPE'],
      ['count', ' 3', 'RT_FIELD_TYPE'],
      ['score', '1_000', 'RT_FIELD_TYPE'],
      ['seenAt', 'true', 'RT_FIELD_FORMAT'],
    ];
    const lines = cells.map(([field, value], i) => `t${i},${T},m,${field === 'flag' ? value : ''},${field === 'tags' ? csvCell(value) : ''},${field === 'count' ? value : ''},${field === 'score' ? value : ''},${field === 'seenAt' ? value : ''}`);
    const batch = await runBatch(t, 'checks', { format: 'csv' }, [
      { name: 'types.csv', content: csv(['_id,timestamp,_roundtrip.member,_roundtrip.flag,_roundtrip.tags,_roundtrip.count,_roundtrip.score,_roundtrip.seenAt', ...lines, `ok,${T},m,true,"[""a""]",3,1e3,${T}`]) },
    ], 1);
    assert.deepEqual([batch.rowsRead, batch.rowsRejected, batch.rowsWritten], [cells.length + 1, cells.length, 1]);
    const failed = await failedRecordsOf(t, batch.id);
    cells.forEach(([field, value, code], i) => assert.deepEqual(issuesAt(failed, i + 1), [[code, `_roundtrip.${field}`]], `${field}=${value}`));
    const ok = (await rowsOf(batch)).get('ok');
    assert.deepEqual([ok._roundtrip.flag, ok._roundtrip.tags, ok._roundtrip.count, ok._roundtrip.score], [true, ['a'], 3, 1000]);

    const parquet = await writeParquet(
      temp.dir,
      'types.parquet',
      `SELECT * FROM (VALUES ('p0', 'true', NULL, NULL, NULL), ('p1', NULL, true, NULL, NULL), ('p2', NULL, NULL, 'a,b', NULL), ('p3', NULL, NULL, NULL, '3'))
       AS v("_id", "_roundtrip.flag", "_roundtrip.seenAt", "_roundtrip.tags", "_roundtrip.count")`,
    );
    const typed = await runBatch(t, 'checks', { format: 'parquet' }, [{ name: 'types.parquet', content: readFileSync(parquet) }], 1);
    assert.equal(typed.rowsRejected, 4);
    const failedTyped = await failedRecordsOf(t, typed.id);
    const paths = ['_roundtrip.flag', '_roundtrip.seenAt', '_roundtrip.tags', '_roundtrip.count'];
    // Each row also lacks timestamp and member (required), listed first.
    paths.forEach((path, i) => assert.ok(issuesAt(failedTyped, i + 1).some(([c, p]) => c === 'RT_FIELD_TYPE' && p === path), `${path}: ${JSON.stringify(issuesAt(failedTyped, i + 1))}`));
  });

  /** One row per failure kind; `raw` must be the line as written. */
  const KINDS: [label: string, csvCells: Record<string, string>, json: Record<string, unknown>, code: string, path: string][] = [
    ['required (root)', { _id: '' }, { _id: undefined }, 'RT_FIELD_REQUIRED', '_id'],
    // An object is present when any of its cells is filled (as in JSON, where `_roundtrip: {}` is present).
    ['required (nested)', { '_roundtrip.member': '', '_roundtrip.tier': 'GOLD' }, { member: undefined }, 'RT_FIELD_REQUIRED', '_roundtrip.member'],
    ['type', { '_roundtrip.count': 'abc' }, { count: 'abc' }, 'RT_FIELD_TYPE', '_roundtrip.count'],
    ['enum', { '_roundtrip.tier': 'BRONZE' }, { tier: 'BRONZE' }, 'RT_FIELD_ENUM', '_roundtrip.tier'],
    ['format (date-time)', { '_roundtrip.seenAt': 'yesterday' }, { seenAt: 'yesterday' }, 'RT_FIELD_FORMAT', '_roundtrip.seenAt'],
    ['format (email)', { '_roundtrip.email': 'not-an-email' }, { email: 'not-an-email' }, 'RT_FIELD_FORMAT', '_roundtrip.email'],
    ['pattern', { '_roundtrip.sku': 'X-1' }, { sku: 'X-1' }, 'RT_FIELD_PATTERN', '_roundtrip.sku'],
    ['length', { '_roundtrip.code': 'ABCD' }, { code: 'ABCD' }, 'RT_FIELD_LENGTH', '_roundtrip.code'],
    ['range', { '_roundtrip.count': '-1' }, { count: -1 }, 'RT_FIELD_RANGE', '_roundtrip.count'],
    ['unknown field', { '_roundtrip.bogus': 'x' }, { bogus: 'x' }, 'RT_FIELD_UNKNOWN', '_roundtrip.bogus'],
    ['too large', { '_roundtrip.note': 'x'.repeat(11 * 1024) }, { note: 'x'.repeat(11 * 1024) }, 'RT_RECORD_TOO_LARGE', ''],
    ['inside an array', { '_roundtrip.visits': '[{"at":"2024-01-02T03:04:05Z"},{"at":"nope"}]' }, { visits: [{ at: T }, { at: 'nope' }] }, 'RT_FIELD_FORMAT', '_roundtrip.visits[1].at'],
    ['inside a map', { '_roundtrip.byDay': '{"mon":"2024-01-02","tue":7.5}' }, { byDay: { mon: '2024-01-02', tue: 7.5 } }, 'RT_FIELD_TYPE', '_roundtrip.byDay.tue'],
    ['unknown inside an array', { '_roundtrip.visits': '[{"at":"2024-01-02T03:04:05Z","x":1}]' }, { visits: [{ at: T, x: 1 }] }, 'RT_FIELD_UNKNOWN', '_roundtrip.visits[0].x'],
    ['required inside an object cell', { '_roundtrip.nested': '{"b":2}' }, { nested: { b: 2 } }, 'RT_FIELD_REQUIRED', '_roundtrip.nested.a'],
  ];
  const HEADER = ['_id', 'timestamp', '_roundtrip.member', '_roundtrip.count', '_roundtrip.tier', '_roundtrip.seenAt', '_roundtrip.email', '_roundtrip.sku', '_roundtrip.code', '_roundtrip.bogus', '_roundtrip.note', '_roundtrip.visits', '_roundtrip.byDay', '_roundtrip.nested'];

  it('keeps every failure kind in failed records with its code, path and raw line: CSV (checked in SQL)', async () => {
    const row = (id: string, cells: Record<string, string>): string =>
      HEADER.map((h) => csvCell(h in cells ? cells[h]! : h === '_id' ? id : h === 'timestamp' ? T : h === '_roundtrip.member' ? 'm' : '')).join(',');
    const lines = [...KINDS.map(([, cells], i) => row(`k${i}`, cells)), row('good', { '_roundtrip.visits': '[{"at":1704164645000,"pages":2}]', '_roundtrip.byDay': '{"mon":"2024-01-02"}' }), 'k-malformed,too,many,columns,for,this,header,a,b,c,d,e,f,g,h'];
    const batch = await runBatch(t, 'checks', { format: 'csv' }, [{ name: 'kinds.csv', content: csv([HEADER.join(','), ...lines]) }], 1);
    assert.deepEqual([batch.status, batch.rowsRead, batch.rowsWritten, batch.rowsRejected], ['success', KINDS.length + 2, 1, KINDS.length + 1]);
    const failed = await failedRecordsOf(t, batch.id);
    KINDS.forEach(([label, , , code, path], i) => {
      assert.ok(issuesAt(failed, i + 1).some(([c, p]) => c === code && p === path), `${label}: ${JSON.stringify(issuesAt(failed, i + 1))}`);
      assert.equal(failed.find((f) => f.rowNumber === i + 1)?.raw, lines[i], `${label}: raw line`);
    });
    const malformed = failed.find((f) => f.rowNumber === KINDS.length + 2);
    assert.deepEqual([malformed?.code, malformed?.raw], ['RT_RECORD_MALFORMED', lines.at(-1)]);
    assert.deepEqual(failed.map((f): number => f.rowNumber), [...Array(KINDS.length).keys()].map((i) => i + 1).concat(KINDS.length + 2), 'kept in row order');
    // Epoch ms inside a JSON cell is coerced too, and the map is a real MAP.
    const good = (await rowsOf(batch)).get('good');
    assert.deepEqual([good._roundtrip.visits, good._roundtrip.byDay], [[{ at: T.replace('Z', '.000Z'), pages: 2 }], { mon: '2024-01-02' }]);
  });

  it('keeps every failure kind in failed records with its code, path and raw text: JSON Lines (checked in JS)', async () => {
    const records = KINDS.map(([, , fields], i) => {
      const record = event(`k${i}`, fields);
      if ('_id' in fields) delete (record as Record<string, unknown>)._id;
      if ('member' in fields) delete (record._roundtrip as Record<string, unknown>).member;
      return record;
    });
    const lines = [...records.map((r) => JSON.stringify(r)), '{"_id": "broken", "timestamp": ', JSON.stringify(event('good', {}))];
    const batch = await runBatch(t, 'checks', { format: 'jsonl' }, [{ name: 'kinds.jsonl', content: lines.join('\n') }], 1);
    assert.deepEqual([batch.status, batch.rowsRead, batch.rowsWritten, batch.rowsRejected], ['success', KINDS.length + 2, 1, KINDS.length + 1]);
    const failed = await failedRecordsOf(t, batch.id);
    KINDS.forEach(([label, , , code, path], i) => {
      assert.ok(issuesAt(failed, i + 1).some(([c, p]) => c === code && p === path), `${label}: ${JSON.stringify(issuesAt(failed, i + 1))}`);
      assert.equal(failed.find((f) => f.rowNumber === i + 1)?.raw, lines[i]);
    });
    const malformed = failed.find((f) => f.rowNumber === KINDS.length + 1);
    assert.deepEqual([malformed?.code, malformed?.raw], ['RT_RECORD_MALFORMED', lines[KINDS.length]]);
  });

  it('checks typed Parquet values, nested structs and lists included, and keeps the row as JSON', async () => {
    const file = await writeParquet(
      temp.dir,
      'kinds.parquet',
      `SELECT * FROM (VALUES
         ('p1', TIMESTAMPTZ '2024-01-02 03:04:05+00', {'member': 'm', 'tier': 'BRONZE', 'count': 5}),
         ('p2', TIMESTAMPTZ '2024-01-02 03:04:05+00', {'member': NULL, 'tier': 'GOLD', 'count': 5}),
         ('p3', TIMESTAMPTZ '2024-01-02 03:04:05+00', {'member': 'm', 'tier': 'GOLD', 'count': 5000}),
         ('p4', TIMESTAMPTZ '2024-01-02 03:04:05+00', {'member': 'm', 'tier': 'GOLD', 'count': 5}))
       AS v("_id", "timestamp", _roundtrip)`,
    );
    const batch = await runBatch(t, 'checks', { format: 'parquet' }, [{ name: 'kinds.parquet', content: readFileSync(file) }], 1);
    assert.deepEqual([batch.rowsRead, batch.rowsWritten, batch.rowsRejected], [4, 1, 3]);
    const failed = await failedRecordsOf(t, batch.id);
    assert.deepEqual(issuesAt(failed, 1), [['RT_FIELD_ENUM', '_roundtrip.tier']]);
    assert.deepEqual(issuesAt(failed, 2), [['RT_FIELD_REQUIRED', '_roundtrip.member']]);
    assert.deepEqual(issuesAt(failed, 3), [['RT_FIELD_RANGE', '_roundtrip.count']]);
    assert.equal((JSON.parse(failed[0]!.raw) as { _id: string })._id, 'p1');
  });
});
