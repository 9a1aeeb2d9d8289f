/**
 * Contract suite of the Warehouse port. An implementation runs it by adding a fixture:
 * `describeWarehouseContract('duckdb', { open, dispose })`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hotTable, type ColumnSpec, type JsonRecord, type Warehouse } from './warehouse.ts';

export interface WarehouseFixture {
  open(): Promise<Warehouse>;
  dispose?(): Promise<void>;
}

/** Nested objects, a map, arrays of scalars and of structs, dates and times: every shape a dataset can have. */
export const NESTED_COLUMNS: ColumnSpec[] = [
  { name: '_id', type: { kind: 'string' } },
  { name: 'timestamp', type: { kind: 'timestamp' } },
  {
    name: '_acme',
    type: {
      kind: 'struct',
      fields: [
        { name: 'membershipNumber', type: { kind: 'string' } },
        { name: 'mileage', type: { kind: 'integer' } },
        { name: 'joined', type: { kind: 'date' } },
        { name: 'active', type: { kind: 'boolean' } },
        { name: 'score', type: { kind: 'number' } },
        { name: 'deciles', type: { kind: 'map', value: { kind: 'integer' } } },
        { name: 'tags', type: { kind: 'list', items: { kind: 'string' } } },
      ],
    },
  },
  {
    name: 'productListItems',
    type: { kind: 'list', items: { kind: 'struct', fields: [{ name: 'SKU', type: { kind: 'string' } }, { name: 'quantity', type: { kind: 'integer' } }] } },
  },
];

export const NESTED_RECORD: JsonRecord = {
  _id: 'evt-1',
  timestamp: '2026-03-04T05:06:07.089Z',
  _acme: {
    membershipNumber: 'C435678623',
    mileage: 9007199254740991,
    joined: '2022-01-01',
    active: true,
    score: 0.25,
    deciles: { GOLD: 1, SILVER: 3 },
    tags: ['a', 'b'],
  },
  productListItems: [{ SKU: 'sku-1', quantity: 2 }],
};

export function describeWarehouseContract(name: string, fixture: WarehouseFixture, skip: string | false = false): void {
  describe(`Warehouse contract: ${name}`, { skip }, () => {
    let warehouse: Warehouse;
    before(async () => {
      warehouse = await fixture.open();
    });
    after(async () => {
      await warehouse.close();
      await fixture.dispose?.();
    });

    it('round-trips nested records unchanged and stamps snapshots', async () => {
      const sb = await warehouse.sandbox('prod');
      await sb.createTable('events', NESTED_COLUMNS);
      assert.equal(await sb.appendRecords('events', [NESTED_RECORD], { snapshotId: 1, batchId: 'b1' }), 1);
      const sparse: JsonRecord = { _id: 'evt-2', timestamp: '2026-03-05T00:00:00.000Z', _acme: null, productListItems: [] };
      assert.equal(await sb.appendRecords('events', [sparse], { snapshotId: 2, batchId: 'b2' }), 1);
      assert.deepEqual(await sb.readRecords('events'), [NESTED_RECORD, sparse]);
      assert.deepEqual(await sb.readRecords('events', { snapshotId: 2 }), [sparse]);
      assert.equal(await sb.countRows('events', { snapshotId: 1 }), 1);
      assert.equal(await sb.appendRecords('events', [], { snapshotId: 3, batchId: 'b3' }), 0);
    });

    it('describes tables with the types they were created with', async () => {
      const sb = await warehouse.sandbox('prod');
      assert.deepEqual(await sb.describeTable('events'), NESTED_COLUMNS);
      assert.deepEqual(await sb.listTables(), ['events']);
    });

    it('addresses nested fields with dots in SQL and returns JSON-safe values', async () => {
      const sb = await warehouse.sandbox('prod');
      const result = await sb.query(
        `SELECT _acme.membershipNumber AS m, _acme.deciles['GOLD'] AS gold, count(*) OVER () AS n FROM events WHERE _id = $id`,
        { id: 'evt-1' },
      );
      assert.deepEqual(result.rows, [{ m: 'C435678623', gold: 1, n: 1 }]);
      assert.deepEqual(result.columns.map((c) => c.name), ['m', 'gold', 'n']);
      const big = await sb.query(`SELECT 9007199254740993::BIGINT AS big, 2::HUGEINT AS small`);
      assert.deepEqual(big.rows, [{ big: '9007199254740993', small: 2 }]);
    });

    it('adds columns and widens structs, keeping existing rows', async () => {
      const sb = await warehouse.sandbox('prod');
      await sb.addColumn('events', 'eventType', { kind: 'string' });
      const widened = structuredClone(NESTED_COLUMNS[3]!.type);
      if (widened.kind === 'list' && widened.items.kind === 'struct') widened.items.fields.push({ name: 'name', type: { kind: 'string' } });
      await sb.widenColumn('events', 'productListItems', widened);
      const [first] = await sb.readRecords('events', { limit: 1 });
      assert.equal(first?.eventType, null);
      assert.deepEqual(first?.productListItems, [{ SKU: 'sku-1', quantity: 2, name: null }]);
    });

    it('keeps sandboxes apart and drops one without touching another', async () => {
      const dev = await warehouse.sandbox('dev');
      assert.deepEqual(await dev.listTables(), []);
      await dev.createTable('events', [{ name: 'x', type: { kind: 'integer' } }]);
      await assert.rejects(dev.query(`SELECT _acme FROM events`));
      await warehouse.dropSandbox('dev');
      const again = await warehouse.sandbox('dev');
      assert.deepEqual(await again.listTables(), []);
      assert.deepEqual(await (await warehouse.sandbox('prod')).listTables(), ['events']);
    });

    it('compacts a sandbox: tables, rows and indexes stay, and operations during it wait and succeed', async () => {
      const sb = await warehouse.sandbox('compacted');
      await sb.createTable('t', [{ name: 'v', type: { kind: 'string' } }]);
      await sb.appendRecords('t', Array.from({ length: 1000 }, (_, i) => ({ v: `value-${i}` })), { snapshotId: 1, batchId: 'b1' });
      await sb.query(`CREATE INDEX t_v ON t (v)`);
      await sb.query(`DELETE FROM t WHERE v LIKE 'value-1%'`);
      const [result, during] = await Promise.all([warehouse.compact('compacted'), sb.countRows('t')]);
      assert.equal(during, 889);
      assert.equal(result.sandbox, 'compacted');
      assert.ok(result.bytesBefore > 0 && result.bytesAfter > 0);
      assert.equal(await sb.countRows('t'), 889, 'the same sandbox handle keeps working after the swap');
      assert.deepEqual(await sb.listTables(), ['t']);
      assert.deepEqual((await sb.query(`SELECT v FROM t WHERE v = 'value-999'`)).rows, [{ v: 'value-999' }]);
      await sb.appendRecords('t', [{ v: 'after' }], { snapshotId: 2, batchId: 'b2' });
      assert.equal(await sb.countRows('t', { snapshotId: 2 }), 1);
    });

    it('keeps a hot catalog: appended to in sessions, read with the main tables, kept by compaction, left out of listTables', async () => {
      const sb = await warehouse.sandbox('hot');
      await sb.createTable('people', [{ name: 'id', type: { kind: 'integer' } }]);
      await sb.appendRecords('people', [{ id: 1 }, { id: 2 }], { snapshotId: 1, batchId: 'b1' });
      await sb.query(`CREATE TABLE ${hotTable('flags')} (id BIGINT NOT NULL, flag VARCHAR NOT NULL)`);
      const session = await sb.openSession();
      try {
        await session.query('BEGIN TRANSACTION');
        await session.appendRows(hotTable('flags'), [[1, 'red'], [2, 'blue']]);
        await session.query('COMMIT');
        // One transaction writes one catalog: the hot one's commits never wait for the main one's.
        await session.query('BEGIN TRANSACTION');
        await session.query(`INSERT INTO ${hotTable('flags')} VALUES (3, 'green')`);
        await assert.rejects(session.query(`CREATE TABLE main_write AS SELECT 1 AS x`), (e: { code?: string }) => e.code === 'RT_WAREHOUSE_FAILED');
        await session.query('ROLLBACK');
      } finally {
        session.close();
      }
      await warehouse.compact('hot');
      const joined = await sb.query(`SELECT p.id, f.flag FROM people p JOIN ${hotTable('flags')} f USING (id) ORDER BY p.id`);
      assert.deepEqual(joined.rows, [{ id: 1, flag: 'red' }, { id: 2, flag: 'blue' }]);
      assert.deepEqual(await sb.listTables(), ['people']);
      await assert.rejects(sb.query(`INSERT INTO ${hotTable('flags')} VALUES (NULL, 'x')`), 'the definition (NOT NULL) survived compaction');
    });

    it('appends rows in a session, cast to the column types, visible only when the transaction commits', async () => {
      const sb = await warehouse.sandbox('prod');
      await sb.query(`CREATE TABLE appended (name VARCHAR, n BIGINT, small INTEGER, x DOUBLE, ok BOOLEAN, "at" TIMESTAMPTZ)`);
      const session = await sb.openSession();
      try {
        await session.query('BEGIN TRANSACTION');
        await session.appendRows('appended', [
          ['a', 1, 2, 1.5, true, '2026-01-02T03:04:05Z'],
          ['b', 9_007_199_254_740_991, -1, 2, false, null],
        ]);
        assert.equal((await sb.query('SELECT count(*) AS n FROM appended')).rows[0]!.n, 0);
        await session.query('COMMIT');
        await session.query('BEGIN TRANSACTION');
        await session.appendRows('appended', [['rolled back', 0, 0, 0, null, null]]);
        await session.query('ROLLBACK');
        await assert.rejects(session.appendRows('appended', [['too few']]), (e: { code?: string }) => e.code === 'RT_WAREHOUSE_FAILED');
      } finally {
        session.close();
      }
      const rows = (await sb.query(`SELECT name, n, small, x, ok, "at"::VARCHAR AS at FROM appended ORDER BY name`)).rows;
      assert.deepEqual(rows, [
        { name: 'a', n: 1, small: 2, x: 1.5, ok: true, at: '2026-01-02 03:04:05+00' },
        { name: 'b', n: 9_007_199_254_740_991, small: -1, x: 2, ok: false, at: null },
      ]);
    });

    it('refuses invalid table names and reports engine errors as RT_WAREHOUSE_FAILED', async () => {
      const sb = await warehouse.sandbox('prod');
      await assert.rejects(sb.createTable('bad name; drop', []), { code: 'RT_WAREHOUSE_FAILED' });
      await assert.rejects(sb.query('SELEC 1'), { code: 'RT_WAREHOUSE_FAILED' });
    });

    it('exports a sandbox to a file (waiting operations meanwhile) and imports it as another: same tables, types and rows', async () => {
      const sb = await warehouse.sandbox('exported');
      await sb.createTable('nested', NESTED_COLUMNS);
      await sb.appendRecords('nested', [NESTED_RECORD], { snapshotId: 1, batchId: 'b1' });
      const folder = mkdtempSync(path.join(os.tmpdir(), 'rt-export-'));
      try {
        const file = path.join(folder, 'copy.db');
        let quiesced = 0;
        const exporting = warehouse.exportSandbox('exported', file, () => {
          quiesced++;
          return Promise.resolve();
        });
        const [summary, during] = await Promise.all([exporting, sb.countRows('nested')]);
        assert.equal(quiesced, 1);
        assert.equal(during, 1);
        assert.match(summary.engine, /\S/);
        assert.deepEqual(summary.tables, [{ name: 'nested', rows: 1 }]);
        const imported = await warehouse.importSandbox('imported', file);
        assert.deepEqual(imported.tables, summary.tables);
        const copy = await warehouse.sandbox('imported');
        assert.deepEqual(await copy.describeTable('nested'), await sb.describeTable('nested'));
        assert.deepEqual(await copy.readRecords('nested'), [NESTED_RECORD]);
        assert.equal(await sb.countRows('nested'), 1, 'the original keeps working');
        await assert.rejects(warehouse.importSandbox('broken', path.join(folder, 'missing.db')), { code: 'RT_WAREHOUSE_FAILED' });
      } finally {
        rmSync(folder, { recursive: true, force: true });
      }
    });
  });
}
