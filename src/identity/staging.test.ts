import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { suiteWarehouse } from '../testing/warehouse.ts';
import { IntColumnsParser, readIntColumns, withIntColumns } from './staging.ts';

describe('integer columns through the staging folder', () => {
  const { warehouse } = suiteWarehouse();

  it('parses numbers that run across chunks, negatives and CRLF line ends', () => {
    const parser = new IntColumnsParser(3, 2);
    for (const chunk of ['12,-3\n4', '5,6\r', '\n-', '7,890\n']) parser.push(Buffer.from(chunk, 'latin1'));
    assert.deepEqual(parser.columns.map((c) => [...c]), [[12, 45, -7], [-3, 6, 890]]);
  });

  it('moves more rows than one write takes from JavaScript to the engine and back, unchanged', async () => {
    const sb = await warehouse.sandbox('prod');
    const sql = { query: sb.query.bind(sb), stagingDir: sb.stagingDir };
    const rows = 1_200_003;
    const a = Float64Array.from({ length: rows }, (_, i) => i * 7 - 1_000);
    const b = Float64Array.from({ length: rows }, (_, i) => 2 ** 40 + i);
    await withIntColumns(sql, { a, b }, (source) => sb.query(`CREATE TABLE moved AS SELECT * FROM ${source}`));
    const summary = (await sb.query(`SELECT count(*) AS n, sum(a) AS sa, max(b) AS mb FROM moved`)).rows[0]!;
    assert.deepEqual([summary.n, summary.sa, summary.mb], [rows, a.reduce((x, y) => x + y, 0), 2 ** 40 + rows - 1]);
    const [ra, rb] = await readIntColumns(sql, `SELECT a, b FROM moved ORDER BY b`, 2);
    assert.deepEqual([ra!.length, rb!.length], [rows, rows]);
    assert.ok(ra!.every((v, i) => v === a[i]) && rb!.every((v, i) => v === b[i]));
  });
});
