/**
 * The batch job's memory and write paths: events materialised with only the columns the segments read, the
 * profile maps rebuilt range by range (UPDATE or table rewrite) with the same result as one statement, and a
 * job that changes nothing writing nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import type { MergePolicyRecord } from '../ports/metadata-store.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { evaluateBatch, type BatchResult } from './batch.ts';
import { dependencyLayers } from './definitions.ts';
import { eventDatasets, eventsRelationSql } from './events-relation.ts';
import { MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE } from './membership-tables.ts';
import { profileRanges, refreshProfileMaps, type MapRefreshTuning } from './membership.ts';
import { eventColumnsRead } from './pql/index.ts';

const SANDBOX = 'prod';
const PROFILES = 300;
const NOW = new Date('2026-01-01T00:00:00Z');
const NOW_SQL = `TIMESTAMPTZ '2026-01-01 00:00:00+00'`;
const IDENTITY_MAP = `MAP(VARCHAR, STRUCT(id VARCHAR, "authenticatedState" VARCHAR, "primary" BOOLEAN)[])`;
const TYPES = ['web.webpagedetails.pageViews', 'commerce.purchases', 'directMarketing.emailOpened'];

const SEGMENTS = [
  '_roundtrip.tier = "GOLD"',
  'exists E from xEvent where (E.eventType = "directMarketing.emailOpened" and E.timestamp occurs <= 10 days before now)',
  'xEvent.filter(eventType = "web.webpagedetails.pageViews").count() >= 4',
  'let S = (sum X.commerce.order.priceTotal over X from xEvent where X.eventType = "commerce.purchases") in (S > 150)',
  '_roundtrip.tier = "SILVER" and CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.purchases", false)) WHEN(<= 30 days before now)])',
];

async function writeRows(p: TestPlatform, datasetId: string, select: (system: string) => string): Promise<void> {
  const dataset = await p.platform.datasets.get(SANDBOX, datasetId);
  await p.platform.datasets.appendWith(LOCAL_OPERATOR, SANDBOX, dataset, `t-${datasetId}`, async ({ table, warehouse, stamp }) => {
    const result = await warehouse.query(`INSERT INTO "${table}" BY NAME ${select(`${stamp.snapshotId} AS _rt_snapshot_id, '${stamp.batchId}' AS _rt_batch_id, now() AS _rt_ingested_at`)}`);
    return Number(result.rows[0]?.Count ?? 0);
  });
}

/** Profile id → its map as sorted `[segment, status, version]` entries (map order is not part of the contract). */
async function maps(warehouse: SandboxWarehouse, policy: MergePolicyRecord): Promise<Map<number, string>> {
  const rows = await warehouse.query(`SELECT profile_id, to_json(list_sort(list_transform(map_entries(coalesce("segmentMembership"['ups'], MAP {})), e -> [e.key, e.value.status, e.value.version::VARCHAR]))) AS m FROM "${policy.snapshotTable}"`);
  return new Map(rows.rows.map((r) => [Number(r.profile_id), JSON.stringify(r.m)]));
}

const count = async (warehouse: SandboxWarehouse, sql: string): Promise<number> => Number((await warehouse.query(sql)).rows[0]?.n ?? 0);

describe('batch job writes and memory', () => {
  let p: TestPlatform;
  let warehouse: SandboxWarehouse;
  let policy: MergePolicyRecord;
  let run: () => Promise<BatchResult>;
  let ids: string[];

  before(async () => {
    p = await createTestPlatform();
    const { platform } = p;
    const memberSchema = await platform.registry.createSchema(LOCAL_OPERATOR, SANDBOX, {
      title: 'Members',
      class: 'profile',
      fieldGroups: ['person-details', 'identity-map'],
      fields: { crmId: { type: 'string' }, tier: { type: 'string' } },
      identities: [{ path: '_roundtrip.crmId', namespace: 'CRMID', primary: true }],
    });
    const eventSchema = await platform.registry.createSchema(LOCAL_OPERATOR, SANDBOX, { title: 'Events', class: 'experienceevent', fieldGroups: ['commerce-details', 'identity-map'] });
    const members = await platform.datasets.create(LOCAL_OPERATOR, SANDBOX, { name: 'members', schemaId: memberSchema.id, profileEnabled: true });
    const events = await platform.datasets.create(LOCAL_OPERATOR, SANDBOX, { name: 'events', schemaId: eventSchema.id, profileEnabled: true });
    await writeRows(p, members.id, (system) => `SELECT 'm-' || i AS _id, {'crmId': 'C' || i, 'tier': ['GOLD', 'SILVER', 'FLYER'][1 + (hash(i, 7) % 3)::INTEGER]} AS _roundtrip, ${system} FROM range(${PROFILES}) t(i)`);
    await writeRows(p, events.id, (system) => `SELECT 'e-' || j AS _id,
        ${NOW_SQL} - to_seconds((hash(j, 1) % ${60 * 86_400})::BIGINT) AS "timestamp",
        ['${TYPES.join("','")}'][1 + (hash(j, 2) % ${TYPES.length})::INTEGER] AS "eventType",
        CASE WHEN hash(j, 2) % ${TYPES.length} = 1 THEN {'order': {'priceTotal': (hash(j, 3) % 10000) / 100.0}} END AS commerce,
        map(['CRMID'], [[{'id': 'C' || (hash(j, 4) % ${PROFILES}), 'authenticatedState': 'authenticated', 'primary': true}]])::${IDENTITY_MAP} AS "identityMap", ${system}
      FROM range(${PROFILES * 12}) t(j)`);
    await platform.identity.sync(SANDBOX);
    await platform.profileStore.ensureCurrent(SANDBOX);
    ids = [];
    for (const [i, pql] of SEGMENTS.entries()) ids.push((await platform.audiences.definitions.create(LOCAL_OPERATOR, SANDBOX, { name: `s${i}`, expression: { type: 'PQL', format: 'pql/text', value: pql } })).id);
    policy = await platform.mergePolicies.resolve(SANDBOX);
    warehouse = await platform.warehouse.sandbox(SANDBOX);
    const datasets = await eventDatasets(platform.metadata, platform.identity, SANDBOX);
    const prepared = new Map<string, Awaited<ReturnType<typeof platform.audiences.definitions.prepared>>>();
    for (const id of ids) prepared.set(id, await platform.audiences.definitions.prepared(SANDBOX, await platform.audiences.definitions.get(SANDBOX, id)));
    const layers = dependencyLayers(ids, (id) => prepared.get(id)!.dependencies).map((l) => l.map((id) => ({ id, prepared: prepared.get(id)! })));
    run = () => evaluateBatch({ warehouse, graph: platform.identity, policy, eventDatasets: datasets, layers, now: NOW, source: 'test' });
  });

  after(async () => {
    await p.dispose();
  });

  it('reads only the event columns the segments use, and finds the members hand-written SQL over every column finds', async () => {
    const result = await run();
    const session = await warehouse.openSession();
    try {
      const datasets = await eventDatasets(p.platform.metadata, p.platform.identity, SANDBOX);
      await session.query(`CREATE TEMP TABLE ev AS ${eventsRelationSql(policy, datasets)}`);
      const hand = [
        `p._roundtrip.tier = 'GOLD'`,
        `EXISTS (SELECT 1 FROM ev e WHERE e.profile_id = p.profile_id AND e."eventType" = 'directMarketing.emailOpened' AND e."timestamp" >= ${NOW_SQL} - INTERVAL 10 DAY AND e."timestamp" <= ${NOW_SQL})`,
        `(SELECT count(*) FROM ev e WHERE e.profile_id = p.profile_id AND e."eventType" = 'web.webpagedetails.pageViews') >= 4`,
        `(SELECT coalesce(sum(e.commerce."order"."priceTotal"), 0) FROM ev e WHERE e.profile_id = p.profile_id AND e."eventType" = 'commerce.purchases') > 150`,
        `p._roundtrip.tier = 'SILVER' AND EXISTS (SELECT 1 FROM ev e WHERE e.profile_id = p.profile_id AND e."eventType" = 'commerce.purchases' AND e."timestamp" >= ${NOW_SQL} - INTERVAL 30 DAY AND e."timestamp" <= ${NOW_SQL})`,
      ];
      for (const [i, where] of hand.entries()) {
        const n = Number((await session.query(`SELECT count(*) AS n FROM "${policy.snapshotTable}" p WHERE ${where}`)).rows[0]?.n);
        assert.ok(n > 0 && n < PROFILES, `segment ${i} should split the profiles (got ${n})`);
        assert.equal(result.segments.get(ids[i]!)?.realized, n, `segment ${i}: ${SEGMENTS[i]}`);
      }
    } finally {
      session.close();
    }
    assert.equal(result.events, PROFILES * 12);
  });

  it('names the columns an expression reads, or null when it uses whole event rows', () => {
    const sql = `coalesce(EXISTS (SELECT 1 FROM EV AS e0 WHERE e0.profile_id = p.profile_id AND e0."eventType" = 'e1 e0 x' AND ((e0."commerce")['order'])['priceTotal'] > 1 AND e0."odd ""name""" IS NULL), false) AND EXISTS (SELECT 1 FROM EV AS c1 WHERE c1."timestamp" > now())`;
    assert.deepEqual(eventColumnsRead(sql, 'EV'), ['commerce', 'eventType', 'odd "name"', 'timestamp']);
    assert.equal(eventColumnsRead(`(SELECT count(*) FROM (SELECT e0 AS v FROM EV AS e0 WHERE e0.profile_id = p.profile_id GROUP BY 1) AS d1)`, 'EV'), null);
    assert.deepEqual(eventColumnsRead(`p._roundtrip.tier = 'GOLD'`, 'EV'), []);
  });

  it('a second job with nothing changed writes no history rows and leaves the maps as they were', async () => {
    const history = await count(warehouse, `SELECT count(*) AS n FROM ${MEMBERSHIP_HISTORY_TABLE}`);
    const membership = await count(warehouse, `SELECT count(*) AS n FROM ${MEMBERSHIP_TABLE}`);
    assert.ok(history > 0);
    const before = await maps(warehouse, policy);
    const again = await run();
    for (const s of again.segments.values()) assert.deepEqual([s.entered, s.exited], [0, 0]);
    assert.equal(await count(warehouse, `SELECT count(*) AS n FROM ${MEMBERSHIP_HISTORY_TABLE}`), history);
    assert.equal(await count(warehouse, `SELECT count(*) AS n FROM ${MEMBERSHIP_TABLE}`), membership);
    assert.deepEqual(await maps(warehouse, policy), before);
  });

  it('rebuilds the maps range by range, by UPDATE or by rewriting the table, as one statement does', async () => {
    const graph = p.platform.identity;
    const refresh = async (tuning: MapRefreshTuning, profiles?: string): Promise<Map<number, string>> => {
      await warehouse.query(`UPDATE "${policy.snapshotTable}" SET "segmentMembership" = NULL`);
      await refreshProfileMaps(graph, warehouse, policy, warehouse, profiles, tuning);
      return maps(warehouse, policy);
    };
    const inline = await refresh({ inlineProfiles: Number.POSITIVE_INFINITY });
    assert.equal(inline.size, PROFILES);
    const withMembers = [...inline.values()].filter((m) => m !== '[]').length;
    assert.ok(withMembers > PROFILES / 2, `most profiles are members of something (${withMembers})`);
    assert.deepEqual(await refresh({ inlineProfiles: 0, chunkRows: 40, rewriteFraction: 2 }), inline, 'chunked UPDATE');
    assert.deepEqual(await refresh({ inlineProfiles: 0, chunkRows: 40, rewriteFraction: 0 }), inline, 'chunked table rewrite');
    const indexes = await count(warehouse, `SELECT count(*) AS n FROM duckdb_indexes() WHERE table_name = '${policy.snapshotTable}'`);
    assert.equal(indexes, 1, 'the rewrite keeps the profile-id index');
    // A subset: only its profiles get their maps back, the others keep what they have (here: nothing).
    const subset = `SELECT profile_id FROM "${policy.snapshotTable}" WHERE profile_id % 3 = 0`;
    const partial = await refresh({ inlineProfiles: 0, chunkRows: 25, rewriteFraction: 0 }, subset);
    const nulls = await count(warehouse, `SELECT count(*) AS n FROM "${policy.snapshotTable}" WHERE "segmentMembership" IS NULL`);
    assert.equal(nulls, PROFILES - [...partial.keys()].filter((id) => id % 3 === 0).length);
    for (const [id, m] of partial) if (id % 3 === 0) assert.equal(m, inline.get(id));
    // Written back a few profiles per transaction (the streaming fast path's refresh), through a session.
    await warehouse.query(`UPDATE "${policy.snapshotTable}" SET "segmentMembership" = NULL`);
    const session = await warehouse.openSession();
    const commits: string[] = [];
    const counting = { ...session, query: (sql: string) => (sql.includes('COMMIT') && commits.push(sql), session.query(sql)) };
    try {
      await refreshProfileMaps(graph, warehouse, policy, counting, subset, { writeSlice: 7, chunkRows: 25 });
    } finally {
      session.close();
    }
    assert.deepEqual(await maps(warehouse, policy), partial, 'sliced write-back');
    const scoped = [...partial.keys()].filter((id) => id % 3 === 0).length;
    assert.ok(commits.length >= Math.ceil(scoped / 7), `${commits.length} transactions for ${scoped} profiles`);
    await refresh({});
  });

  it('splits profile ids into ranges of about the budget, covering every row once', async () => {
    const relation = `SELECT profile_id FROM ${MEMBERSHIP_TABLE}`;
    const total = await count(warehouse, `SELECT count(*) AS n FROM ${MEMBERSHIP_TABLE}`);
    const ranges = await profileRanges(warehouse, relation, 100);
    assert.ok(ranges.length >= Math.ceil(total / 100) && ranges.length > 2, `${ranges.length} ranges for ${total} rows`);
    let covered = 0;
    for (const [i, [lo, hi]] of ranges.entries()) {
      assert.ok(lo <= hi && (i === 0 || lo > ranges[i - 1]![1]));
      covered += await count(warehouse, `SELECT count(*) AS n FROM (${relation}) WHERE profile_id BETWEEN ${lo} AND ${hi}`);
    }
    assert.equal(covered, total);
  });
});
