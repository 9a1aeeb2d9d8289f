import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DuckDBWarehouse } from '../adapters/duckdb/duckdb-warehouse.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { tempDir } from '../testing/temp.ts';
import { ProfileAttributes } from './fast-path-profiles.ts';

describe('fast path attributes: preloaded projections that follow the profile store', () => {
  let temp: ReturnType<typeof tempDir>;
  let warehouse: DuckDBWarehouse;
  let sb: SandboxWarehouse;
  const policy = { id: 'default', snapshotTable: 'profile_snapshot_default' };
  const paths = ['_roundtrip.tier', '_roundtrip.points'];
  before(async () => {
    temp = tempDir();
    warehouse = new DuckDBWarehouse({ directory: temp.dir, threads: 1, memoryLimit: '256MB' });
    sb = await warehouse.sandbox('prod');
    await sb.query(`CREATE TABLE ${policy.snapshotTable} AS SELECT i * 3 AS profile_id, {'tier': ['GOLD', 'SILVER'][1 + i % 2], 'points': i} AS _roundtrip, 'x' || i AS other FROM range(1, 250001) t(i)`);
  });
  after(async () => {
    await warehouse.close();
    temp.remove();
  });

  it('preloads every profile’s projected columns in id ranges, past any one range, and only those columns', async () => {
    const attributes = new ProfileAttributes(1_000_000);
    await attributes.preload(sb, policy, paths);
    assert.deepEqual(attributes.get(policy.id, 3), { profile_id: 3, _roundtrip: { tier: 'SILVER', points: 1 } });
    assert.deepEqual(attributes.get(policy.id, 750_000), { profile_id: 750_000, _roundtrip: { tier: 'GOLD', points: 250_000 } }, 'ids past the first 100,000-id range');
    assert.equal(attributes.get(policy.id, 4), undefined, 'not a profile: not cached');
  });

  it('keeps at most its limit, drops rewritten profiles (saying which were held), and reads them again', async () => {
    const attributes = new ProfileAttributes(1000);
    await attributes.preload(sb, policy, paths);
    const cached = [...Array(250_001).keys()].filter((i) => attributes.get(policy.id, i * 3) !== undefined);
    assert.equal(cached.length, 1000);
    assert.ok(cached.includes(1), 'profile 3 is held');
    await sb.query(`UPDATE ${policy.snapshotTable} SET _roundtrip = {'tier': 'PLATINUM', 'points': 0} WHERE profile_id = 3`);
    assert.deepEqual(attributes.invalidate(policy.id, new Set([3, 4])), [3], 'only the held one is named for reading again');
    assert.equal(attributes.get(policy.id, 3), undefined);
    await attributes.load(sb, policy, [3, 4], paths);
    assert.deepEqual(attributes.get(policy.id, 3), { profile_id: 3, _roundtrip: { tier: 'PLATINUM', points: 0 } });
    assert.equal(attributes.get(policy.id, 4), null, 'asked for and not there: no row');
    assert.deepEqual(attributes.invalidate(policy.id, 'all'), []);
    assert.equal(attributes.get(policy.id, 3), undefined);
  });

  it('preloads a projection once (definitions saved in a row cost one read) until the table is rebuilt or the columns change', async () => {
    const attributes = new ProfileAttributes(1_000_000);
    let reads = 0;
    const counting: SandboxWarehouse = Object.assign(Object.create(sb) as SandboxWarehouse, {
      query: (sql: string) => {
        if (sql.includes('WHERE profile_id >=')) reads++;
        return sb.query(sql);
      },
    });
    await attributes.preload(counting, policy, paths);
    const once = reads;
    assert.ok(once >= 8, `${once} range reads`);
    await attributes.preload(counting, policy, paths);
    assert.equal(reads, once, 'the same projection again reads nothing');
    await attributes.preload(counting, policy, ['other']);
    assert.equal(reads, 2 * once, 'another projection reads every row');
    assert.equal(attributes.get(policy.id, 3)?.other, 'x1');
    attributes.invalidate(policy.id, 'all');
    await attributes.preload(counting, policy, ['other']);
    assert.equal(reads, 3 * once, 'after a rebuild every row again');
  });
});
