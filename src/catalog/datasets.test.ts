import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EVENT_SCHEMA, LOYALTY_RECORD, LOYALTY_SCHEMA } from '../testing/fixtures.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { tableNameFor } from './datasets.ts';

describe('datasets', () => {
  let t: TestPlatform;
  let schemaId: string;
  let datasetId: string;
  before(async () => {
    t = await createTestPlatform();
    schemaId = (await t.call('POST', '/schemas', { body: LOYALTY_SCHEMA })).body.id;
    const created = await t.call('POST', '/datasets', { body: { name: 'Airline Loyalty Data', schemaId, profileEnabled: true, upsert: true } });
    assert.equal(created.status, 201);
    datasetId = created.body.id;
  });
  after(() => t.dispose());

  it('names the SQL table after the dataset', () => {
    assert.equal(tableNameFor('Airline Loyalty Data'), 'airline_loyalty_data');
    assert.equal(tableNameFor('  Email  Opens-2024 '), 'email_opens_2024');
  });

  it('maps nested XDM fields to real DuckDB STRUCT, MAP and LIST columns', async () => {
    const warehouse = await t.platform.warehouse.sandbox('prod');
    const described = await warehouse.query(`SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'airline_loyalty_data'`);
    const types = Object.fromEntries(described.rows.map((r) => [r.column_name, r.data_type]));
    assert.equal(types._id, 'VARCHAR');
    assert.match(String(types.person), /^STRUCT\("name" STRUCT\(firstName VARCHAR, lastName VARCHAR, fullName VARCHAR\), birthDate DATE, gender VARCHAR\)$/);
    assert.match(String(types.identityMap), /^MAP\(VARCHAR, STRUCT\(id VARCHAR, authenticatedState VARCHAR, "primary" BOOLEAN\)\[\]\)$/);
    assert.match(String(types._roundtrip), /decilesMileage STRUCT\(decileMonth1 MAP\(VARCHAR, BIGINT\)/);
    assert.match(String(types._roundtrip), /favouriteRoutes VARCHAR\[\]/);
    assert.equal(types._rt_snapshot_id, 'BIGINT', 'system column for snapshots');
  });

  it('round-trips a record with nested objects, a map and arrays unchanged', async () => {
    const write = await t.call('POST', `/datasets/${datasetId}/records`, { body: { records: [LOYALTY_RECORD] } });
    assert.equal(write.status, 201);
    const read = await t.call('GET', `/datasets/${datasetId}/records?snapshotId=${write.body.snapshotId}`);
    const [record] = read.body.records;
    // Fields the record did not set come back as null; everything it set comes back exactly.
    const stripNulls = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(stripNulls) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, stripNulls(x)])) : v;
    assert.deepEqual(stripNulls(record), LOYALTY_RECORD);
    assert.equal(record.person.gender, null);
  });

  it('lets SQL address nested fields with dots and maps with get', async () => {
    const warehouse = await t.platform.warehouse.sandbox('prod');
    const result = await warehouse.query(
      `SELECT _roundtrip.membershipNumber AS m, _roundtrip.decilesMileage.decileMonthAll['GOLD'] AS gold, person.name.firstName AS first FROM airline_loyalty_data LIMIT 1`,
    );
    assert.deepEqual(result.rows, [{ m: 'B789279247', gold: 10, first: 'Pat' }]);
  });

  it('gives every write the next snapshot id, recorded with batch, row count and time', async () => {
    const before = (await t.call('GET', `/datasets/${datasetId}/snapshots`)).body.snapshots.length;
    const a = await t.call('POST', `/datasets/${datasetId}/records`, { body: { records: [LOYALTY_RECORD, LOYALTY_RECORD], batchId: 'batch-a' } });
    const b = await t.call('POST', `/datasets/${datasetId}/records`, { body: { records: [LOYALTY_RECORD] } });
    assert.equal(b.body.snapshotId, a.body.snapshotId + 1);
    const snapshots = (await t.call('GET', `/datasets/${datasetId}/snapshots`)).body.snapshots;
    assert.equal(snapshots.length, before + 2);
    const last = snapshots.slice(-2);
    assert.deepEqual(last.map((s: { batchId: string; rowCount: number; status: string }) => [s.rowCount, s.status]), [[2, 'committed'], [1, 'committed']]);
    assert.equal(last[0].batchId, 'batch-a');
    assert.ok(Date.parse(last[0].committedAt) >= Date.parse(last[0].createdAt));
    assert.equal((await t.call('GET', `/datasets/${datasetId}`)).body.lastSnapshotId, b.body.snapshotId);
    assert.equal((await t.call('GET', `/datasets/${datasetId}/records?snapshotId=${a.body.snapshotId}`)).body.records.length, 2);
  });

  it('refuses records that do not match the schema with the path of the bad field, writing nothing', async () => {
    const count = async () => (await t.platform.warehouse.sandbox('prod')).countRows('airline_loyalty_data');
    const rowsBefore = await count();
    const cases: [unknown, string][] = [
      [{ ...LOYALTY_RECORD, _roundtrip: { ...LOYALTY_RECORD._roundtrip, loyaltyStatus: 'PLATINUM' } }, '_roundtrip.loyaltyStatus'],
      [{ ...LOYALTY_RECORD, person: { birthDate: 'yesterday' } }, 'person.birthDate'],
      [{ ...LOYALTY_RECORD, unknownField: 1 }, 'unknownField'],
      [{ ...LOYALTY_RECORD, _roundtrip: { ...LOYALTY_RECORD._roundtrip, favouriteRoutes: [1] } }, '_roundtrip.favouriteRoutes[0]'],
      [{ ...LOYALTY_RECORD, _roundtrip: { ...LOYALTY_RECORD._roundtrip, decilesMileage: { decileMonth1: { GOLD: 11 } } } }, '_roundtrip.decilesMileage.decileMonth1.GOLD'],
    ];
    for (const [record, path] of cases) {
      const res = await t.call('POST', `/datasets/${datasetId}/records`, { body: { records: [LOYALTY_RECORD, record] } });
      assert.equal(res.status, 400, path);
      assert.equal(res.body.error.code, 'RT_RECORD_INVALID');
      assert.deepEqual([res.body.error.details.records[0].index, res.body.error.details.records[0].issues[0].path], [1, path]);
    }
    assert.equal(await count(), rowsBefore);
  });

  it('follows a new schema version: the table gains the new columns and nested fields, old rows keep their values', async () => {
    const v2 = {
      ...LOYALTY_SCHEMA,
      fieldGroups: [...LOYALTY_SCHEMA.fieldGroups, 'loyalty-details'],
      fields: {
        ...LOYALTY_SCHEMA.fields,
        lastFlight: { type: 'object', properties: { date: { type: 'string', format: 'date' }, miles: { type: 'integer' }, route: { type: 'string' } } },
        nps: { type: 'integer' },
      },
    };
    assert.equal((await t.call('PUT', `/schemas/${schemaId}`, { body: v2 })).status, 200);
    const dataset = (await t.call('GET', `/datasets/${datasetId}`)).body;
    assert.equal(dataset.schemaVersion, 2);
    const record = { ...LOYALTY_RECORD, loyalty: { tier: 'GOLD' }, _roundtrip: { ...LOYALTY_RECORD._roundtrip, nps: 9, lastFlight: { date: '2022-03-01', miles: 10, route: 'JFK-LHR' } } };
    const write = await t.call('POST', `/datasets/${datasetId}/records`, { body: { records: [record] } });
    assert.equal(write.status, 201, JSON.stringify(write.body));
    const rows = (await t.call('GET', `/datasets/${datasetId}/records?limit=10000`)).body.records;
    assert.equal(rows[0]._roundtrip.lastFlight.route, null);
    assert.equal(rows[0]._roundtrip.lastFlight.miles, 5000);
    assert.deepEqual(rows.at(-1)._roundtrip.lastFlight, { date: '2022-03-01', miles: 10, route: 'JFK-LHR' });
    assert.equal(rows.at(-1).loyalty.tier, 'GOLD');
  });

  it('checks dataset flags against the schema', async () => {
    const events = (await t.call('POST', '/schemas', { body: { title: 'No identity', class: 'experienceevent', fieldGroups: ['web-details'] } })).body.id;
    assert.equal((await t.call('POST', '/datasets', { body: { name: 'web', schemaId: events, profileEnabled: true } })).body.error.code, 'RT_DATASET_PROFILE_NEEDS_IDENTITY');
    const withMap = (await t.call('POST', '/schemas', { body: EVENT_SCHEMA })).body.id;
    assert.equal((await t.call('POST', '/datasets', { body: { name: 'orders', schemaId: withMap, upsert: true, profileEnabled: true } })).body.error.code, 'RT_DATASET_UPSERT_NEEDS_PROFILE');
    assert.equal((await t.call('POST', '/datasets', { body: { name: 'orders', schemaId: withMap, profileEnabled: true } })).status, 201);
    assert.equal((await t.call('POST', '/datasets', { body: { name: 'Orders', schemaId: withMap } })).body.error.code, 'RT_DATASET_EXISTS');
    assert.equal((await t.call('DELETE', '/datasets/orders')).status, 204);
    assert.equal((await t.call('GET', '/datasets/orders')).body.error.code, 'RT_DATASET_NOT_FOUND');
  });
});
