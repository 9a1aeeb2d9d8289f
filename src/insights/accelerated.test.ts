/**
 * The accelerated store through SQL and the accelerated-queries API: QSACCEL databases and schemas, the
 * reference's §7.2 model DDL, PII refusal, sql xor templateId, the 4-slot FIFO queue, and the result cache
 * with its invalidation on writes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { Slots } from './accelerated-queries.ts';

let t: TestPlatform;

const sql = async (text: string, params?: Record<string, string>) => (await t.platform.queries.execute(LOCAL_OPERATOR, 'prod', text, params ? { params } : {})).last;

describe('accelerated store', () => {
  before(async () => {
    t = await createTestPlatform();
    await sql('CREATE database audienceinsight WITH (TYPE=QSACCEL, ACCOUNT=acp_query_batch)');
    await sql('CREATE schema audienceinsight.audiencemodel');
    // Reference §7.2, verbatim.
    await sql(`CREATE TABLE IF NOT exists audienceinsight.audiencemodel.externalaudiencereach
WITH ( DISTRIBUTION = REPLICATE ) AS
  SELECT cast(null as int) approximate_count_upper_bound,
         cast(null as string) deliverystatusdescription,
         cast(null as timestamp)  timeupdated ,
         cast(null as int) operationstatuscode ,
         cast(null as string) operationstatusdescription,
         cast(null as int) approximate_count_lower_bound,
         cast(null as timestamp)timecreated ,
         cast(null as timestamp)timecontentupdated ,
         cast(null as int) deliverystatuscode ,
         cast(null as int)  ext_custom_audience_id
   WHERE false;`);
    await sql(`CREATE TABLE IF NOT exists audienceinsight.audiencemodel.externalaudiencemapping
WITH ( DISTRIBUTION = REPLICATE ) AS
SELECT cast(null as int) segment_id,
       cast(null as int) destination_id,
       cast(null as int) ext_custom_audience_id
 WHERE false;`);
    await sql(`ALTER TABLE audienceinsight.audiencemodel.externalaudiencereach ADD  CONSTRAINT FOREIGN KEY (ext_custom_audience_id) REFERENCES audienceinsight.audiencemodel.externalaudiencemapping (ext_custom_audience_id) NOT enforced;`);
    await sql(`INSERT INTO audienceinsight.audiencemodel.externalaudiencemapping VALUES (-605911558, -1357046572, 7), (11, 12, 8)`);
    await sql(`INSERT INTO audienceinsight.audiencemodel.externalaudiencereach (approximate_count_upper_bound, ext_custom_audience_id) VALUES (1200, 7), (300, 8)`);
  });
  after(() => t.dispose());

  it('runs the reference queries over two-part and three-part names, and lists the custom model', async () => {
    const rows = await sql(`SELECT a.ext_custom_audience_id,
       a.approximate_count_upper_bound
FROM   audiencemodel.externalaudiencereach AS a
       LEFT OUTER JOIN audiencemodel.externalaudiencemapping AS b
                    ON ( ( a.ext_custom_audience_id ) =
                         ( b.ext_custom_audience_id ) )
GROUP  BY a.ext_custom_audience_id,
          a.approximate_count_upper_bound
LIMIT  5000 ;`);
    assert.deepEqual(rows.rows.map((r) => Number(r.approximate_count_upper_bound)).sort((a, b) => a - b), [300, 1200]);
    const model = await t.platform.insights.models.get('prod', 'audienceinsight.audiencemodel');
    const reach = model.tables.find((x) => x.name === 'audienceinsight.audiencemodel.externalaudiencereach')!;
    assert.equal(reach.type, 'fact');
    assert.equal(reach.recordCount, 2);
    assert.deepEqual(reach.lookups, ['audienceinsight.audiencemodel.externalaudiencemapping']);
    assert.equal(model.tables.find((x) => x.name.endsWith('externalaudiencemapping'))!.type, 'dimension');
  });

  it('refuses identity and PII columns in accelerated tables, and leaves nothing behind', async () => {
    for (const column of ['email', 'profile_id', 'first_name', 'crmid', 'identityMap']) {
      await assert.rejects(
        sql(`CREATE TABLE audienceinsight.audiencemodel.bad_${column.toLowerCase()} AS SELECT 'x' AS ${column}, 1 AS n`),
        (e: { code?: string; details?: { columns?: string[] } }) => e.code === 'RT_INSIGHTS_PII_COLUMN' && e.details?.columns?.[0] === column,
        column,
      );
    }
    await assert.rejects(sql(`CREATE TABLE audienceinsight.audiencemodel.nested AS SELECT {'personalEmail': {'address': 'a@b.c'}} AS who`), /RT_INSIGHTS_PII_COLUMN|personalEmail/);
    const left = await sql(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'audienceinsight.audiencemodel' AND table_name LIKE 'bad_%'`);
    assert.equal(Number(left.rows[0]!.n), 0);
    // Outside the accelerated store the same columns are fine.
    await sql(`CREATE DATABASE lake`);
    await sql(`CREATE SCHEMA lake.raw`);
    await sql(`CREATE TABLE lake.raw.people AS SELECT 'a@b.c' AS email`);
  });

  it('takes sql or templateId, never both or neither', async () => {
    const call = (body: unknown) => t.call('POST', '/data/foundation/query/accelerated-queries', { body, sandbox: 'prod' });
    assert.equal((await call({ sql: 'SELECT 1', templateId: 'x' })).body.error.code, 'RT_INSIGHTS_QUERY_INVALID');
    assert.equal((await call({})).status, 400);
    const ok = await call({ dbName: 'prod:audienceinsight.audiencemodel', sql: 'SELECT sum(approximate_count_upper_bound) AS total FROM audienceinsight.audiencemodel.externalaudiencereach' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.results, [{ total: 1500 }]);
    assert.equal(ok.body.resultsMeta._adhoc.properties.total.meta.xdmType, 'integer');
    const template = await t.call('POST', '/query-templates', { body: { name: 'reach over', sql: 'SELECT count(*) AS n FROM audienceinsight.audiencemodel.externalaudiencereach WHERE approximate_count_upper_bound > $min' }, sandbox: 'prod' });
    const byTemplate = await call({ templateId: template.body.id, queryParameters: { min: '500' } });
    assert.deepEqual(byTemplate.body.results, [{ n: 1 }]);
    const outside = await call({ sql: 'SELECT * FROM lake.raw.people' });
    assert.equal(outside.body.error.code, 'RT_INSIGHTS_QUERY_INVALID');
    const write = await call({ sql: 'DELETE FROM audienceinsight.audiencemodel.externalaudiencereach' });
    assert.equal(write.status >= 400, true);
  });

  it('serves a repeated query from the cache until a table it reads is written', async () => {
    const q = { sql: 'SELECT count(*) AS n FROM audienceinsight.audiencemodel.externalaudiencemapping' };
    const first = await t.platform.insights.query(LOCAL_OPERATOR, 'prod', q);
    const second = await t.platform.insights.query(LOCAL_OPERATOR, 'prod', q);
    assert.equal(first.cached, false);
    assert.equal(second.cached, true);
    assert.deepEqual(second.rows, first.rows);
    // A write to another table keeps the entry; a write to this one drops it.
    await sql(`INSERT INTO audienceinsight.audiencemodel.externalaudiencereach (approximate_count_upper_bound, ext_custom_audience_id) VALUES (5, 9)`);
    assert.equal((await t.platform.insights.query(LOCAL_OPERATOR, 'prod', q)).cached, true);
    await sql(`INSERT INTO audienceinsight.audiencemodel.externalaudiencemapping VALUES (1, 2, 9)`);
    const third = await t.platform.insights.query(LOCAL_OPERATOR, 'prod', q);
    assert.equal(third.cached, false);
    assert.deepEqual(third.rows, [{ n: 3 }]);
  });

  it('runs at most four queries at once per sandbox; the rest wait in order', async () => {
    const gate = t.platform.insights.accelerated.gate('prod');
    assert.equal(gate.limit, 4);
    const slots = new Slots(4);
    const order: number[] = [];
    let peak = 0;
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        await slots.enter();
        peak = Math.max(peak, slots.active);
        order.push(i);
        await new Promise((r) => setTimeout(r, 5));
        slots.leave();
      }),
    );
    assert.equal(peak, 4);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Through the API: ten distinct uncached queries, never more than four inside the engine.
    let inside = 0;
    let most = 0;
    const execute = t.platform.queries.execute.bind(t.platform.queries);
    t.platform.queries.execute = async (...args) => {
      inside++;
      most = Math.max(most, inside);
      try {
        return await execute(...args);
      } finally {
        inside--;
      }
    };
    try {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => t.platform.insights.query(LOCAL_OPERATOR, 'prod', { sql: `SELECT ${i} AS k, count(*) AS n FROM audienceinsight.audiencemodel.externalaudiencereach` })));
      assert.deepEqual(results.map((r) => r.rows[0]!.k), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      t.platform.queries.execute = execute;
    }
    assert.equal(most, 4);
  });

  it("runs the reference's parameterized delta-log insert (§6.4) into an accelerated table", async () => {
    await sql('CREATE SCHEMA audienceinsight.Schema_Name');
    await sql(`CREATE TABLE audienceinsight.Schema_Name.adwh_lkup_process_delta_log AS SELECT 'x' process_name, hash('x') merge_policy_id, 'x' process_status, current_date process_date, now() create_ts, now() change_ts WHERE false`);
    await sql(
      `INSERT INTO
   $Database_Name.Schema_Name.adwh_lkup_process_delta_log
   (process_name, merge_policy_id, process_status, process_date, create_ts, change_ts)
SELECT
   '$Table_Process_Name' process_name,
   hash('$Merge_PolicyID') merge_policy_id,
   '$process_status' process_status,
   to_date('$date_key') process_date,
   CURRENT_TIMESTAMP create_ts,
   CURRENT_TIMESTAMP change_ts;`,
      { Database_Name: 'audienceinsight', Table_Process_Name: 'FACT_TABLES_PROCESSING', Merge_PolicyID: 'mp-1', process_status: 'SUCCESSFUL', date_key: '2024-03-01' },
    );
    const rows = await sql(`SELECT process_name, process_status, process_date::VARCHAR AS d FROM audienceinsight.Schema_Name.adwh_lkup_process_delta_log`);
    assert.deepEqual(rows.rows, [{ process_name: 'FACT_TABLES_PROCESSING', process_status: 'SUCCESSFUL', d: '2024-03-01' }]);
  });
});
