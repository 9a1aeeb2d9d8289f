import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HOT_CATALOG, hotTable } from '../../ports/warehouse.ts';
import { describeWarehouseContract } from '../../ports/warehouse.contract.ts';
import { tempDir } from '../../testing/temp.ts';
import { suiteWarehouse } from '../../testing/warehouse.ts';
import { DuckDBWarehouse } from './duckdb-warehouse.ts';

const temp = tempDir();
describeWarehouseContract('DuckDB (file per sandbox)', {
  open: () => Promise.resolve(new DuckDBWarehouse({ directory: temp.dir, threads: 2, memoryLimit: '1GB' })),
  dispose: () => Promise.resolve(temp.remove()),
});

describe('DuckDB warehouse sandbox guard', () => {
  const { warehouse, dir } = suiteWarehouse();

  it('stores one database file per sandbox', async () => {
    await (await warehouse.sandbox('prod')).createTable('t', [{ name: 'a', type: { kind: 'integer' } }]);
    await warehouse.sandbox('dev');
    assert.ok(existsSync(path.join(dir, 'prod.duckdb')));
    assert.ok(existsSync(path.join(dir, 'dev.duckdb')));
  });

  it('lets SQL read neither the file system, nor another sandbox file, nor lift the guard', async () => {
    const secret = path.join(dir, 'secret.csv');
    writeFileSync(secret, 'a\n1\n');
    const dev = await warehouse.sandbox('dev');
    await assert.rejects(dev.query(`SELECT * FROM read_csv('${secret}')`), /disabled by configuration/);
    await assert.rejects(dev.query(`ATTACH '${path.join(dir, 'prod.duckdb')}' AS p`), /disabled by configuration/);
    await assert.rejects(dev.query(`SET enable_external_access = true`), /locked/);
    await assert.rejects(dev.query(`COPY (SELECT 1) TO '${path.join(dir, 'out.csv')}'`), /disabled by configuration/);
    await assert.rejects(warehouse.sandbox('../prod'), { code: 'RT_SANDBOX_NAME_INVALID' });
  });

  it("keeps the hot catalog in the sandbox's second file, scrubs its deleted rows on compaction, and drops it with the sandbox", async () => {
    const sb = await warehouse.sandbox('scrubbed');
    const hotFile = path.join(dir, 'scrubbed.hot.duckdb');
    // A few distinct values: DuckDB stores them as they are (a compressed column would hide the marker).
    const marker = 'hot-marker-7f3a9c-zelda';
    await sb.query(`CREATE TABLE ${hotTable('notes')} (v VARCHAR)`);
    await sb.query(`INSERT INTO ${hotTable('notes')} VALUES ('${marker}'), ('other-value-1'), ('another-value-2')`);
    await sb.query(`CHECKPOINT ${HOT_CATALOG}`);
    // More rows after them, which stay: the blocks freed by the delete are not all overwritten by chance.
    await sb.query(`CREATE TABLE ${hotTable('bulk')} AS SELECT i, md5(i::VARCHAR) AS h FROM range(200000) t(i)`);
    await sb.query(`CHECKPOINT ${HOT_CATALOG}`);
    assert.ok(readFileSync(hotFile).includes(marker), 'the rows are in the hot file (the check below can fail)');
    assert.ok(!readFileSync(path.join(dir, 'scrubbed.duckdb')).includes(marker), 'and not in the main one');
    await sb.query(`DELETE FROM ${hotTable('notes')}`);
    await sb.query(`CHECKPOINT ${HOT_CATALOG}`);
    assert.ok(readFileSync(hotFile).includes(marker), 'a checkpoint alone leaves the bytes of deleted rows');
    await warehouse.compact('scrubbed');
    assert.ok(!readFileSync(hotFile).includes(marker), 'deleted rows are gone from disk after compaction');
    await warehouse.dropSandbox('scrubbed');
    assert.ok(!existsSync(hotFile));
  });

  it('opens sandbox files with the checkpoint threshold asked for (DuckDB defaults to 16MB)', async () => {
    const folder = tempDir();
    const tuned = new DuckDBWarehouse({ directory: folder.dir, threads: 1, memoryLimit: '512MB', checkpointThreshold: '256MiB' });
    try {
      const setting = async (w: DuckDBWarehouse) => (await (await w.sandbox('prod')).query(`SELECT current_setting('checkpoint_threshold') AS v`)).rows[0]?.v;
      assert.equal(await setting(tuned), '256.0 MiB');
      assert.notEqual(await setting(warehouse), '256.0 MiB');
    } finally {
      await tuned.close();
      folder.remove();
    }
  });
});
