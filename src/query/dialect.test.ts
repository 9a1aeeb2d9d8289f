/**
 * Acceptance tests of the Data Distiller dialect: the SQL blocks of `reference/adobe-reference.md` §4.1, §4.2,
 * §4.3, §5.2, §5.3, §5.5, §5.6 and §6.4 run as written (the reference's pseudo-syntax braces aside) on fixtures
 * built from the sample rows the reference gives, with results computed by hand.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestPlatform, type Json, type TestPlatform } from '../testing/platform.ts';

const AIRLINE_FIXTURE = `
CREATE TABLE airline_loyalty_data AS
SELECT STRUCT(m AS membershipNumber, STRUCT(e AS address) AS emailAddress, d AS transactionDate, tt AS transactionType,
              td AS transactionDetails, mi AS mileage, ls AS loyaltyStatus) AS _profilefoundationreportingstg
FROM (VALUES
  ('C435678623', 'sfeldmark1vr@studiopress.com', DATE '2022-01-01', 'STATUS_MILES', 'New member', 5000, 'FLYER'),
  ('B789279247', 'pgalton32n@barnesandnoble.com', DATE '2022-02-01', 'AWARD_MILES', 'JFK-FRA', 7500, 'SILVER'),
  ('B789279247', 'pgalton32n@barnesandnoble.com', DATE '2022-02-01', 'STATUS_MILES', 'JFK-FRA', 7500, 'SILVER'),
  ('B789279247', 'pgalton32n@barnesandnoble.com', DATE '2022-02-10', 'AWARD_MILES', 'FRA-JFK', 5000, 'SILVER'),
  ('A123487284', 'rritson1zn@sciencedaily.com', DATE '2022-01-07', 'STATUS_MILES', 'New credit card', 10000, 'FLYER'),
  -- Added: a flight in the previous calendar month, inside the 1-month cut-off only.
  ('C435678623', 'sfeldmark1vr@studiopress.com', CAST(date_trunc('month', current_date) - INTERVAL 1 MONTH AS DATE), 'STATUS_MILES', 'JFK-LAX', 20000, 'FLYER')
) AS v(m, e, d, tt, td, mi, ls)`;

/** §4.1, verbatim but for `CREATE TABLE AS name { … }` → `CREATE TABLE name AS ( … )`. */
const AIRLINE_DECILES = `CREATE TABLE airline_loyality_decile AS
(  WITH summed_miles_1 AS (
        SELECT _profilefoundationreportingstg.membershipNumber AS membershipNumber,
            _profilefoundationreportingstg.loyaltyStatus AS loyaltyStatus,
            SUM(_profilefoundationreportingstg.mileage) AS totalMiles
        FROM airline_loyalty_data
        WHERE _profilefoundationreportingstg.transactionDate < (MAKE_DATE(YEAR(CURRENT_DATE), MONTH(CURRENT_DATE), 1) - MAKE_YM_INTERVAL(0, 0))
    GROUP BY 1,2
    ),
    summed_miles_3 AS (
        SELECT _profilefoundationreportingstg.membershipNumber AS membershipNumber,
            _profilefoundationreportingstg.loyaltyStatus AS loyaltyStatus,
            SUM(_profilefoundationreportingstg.mileage) AS totalMiles
        FROM airline_loyalty_data
        WHERE _profilefoundationreportingstg.transactionDate < (MAKE_DATE(YEAR(CURRENT_DATE), MONTH(CURRENT_DATE), 1) - MAKE_YM_INTERVAL(0, 1))
    GROUP BY 1,2
    ),
    summed_miles_6 AS (
        SELECT _profilefoundationreportingstg.membershipNumber AS membershipNumber,
            _profilefoundationreportingstg.loyaltyStatus AS loyaltyStatus,
            SUM(_profilefoundationreportingstg.mileage) AS totalMiles
        FROM airline_loyalty_data
        WHERE _profilefoundationreportingstg.transactionDate < (MAKE_DATE(YEAR(CURRENT_DATE), MONTH(CURRENT_DATE), 1) - MAKE_YM_INTERVAL(0, 4))
    GROUP BY 1,2
    ),
    rankings_1 AS (
        SELECT membershipNumber,
            loyaltyStatus,
            totalMiles,
            NTILE(10) OVER (PARTITION BY loyaltyStatus ORDER BY totalMiles DESC) AS decileBucket
        FROM summed_miles_1
    ),
    rankings_3 AS (
        SELECT membershipNumber,
            loyaltyStatus,
            totalMiles,
            NTILE(10) OVER (PARTITION BY loyaltyStatus ORDER BY totalMiles DESC) AS decileBucket
        FROM summed_miles_3
    ),
    rankings_6 AS (
        SELECT membershipNumber,
            loyaltyStatus,
            totalMiles,
            NTILE(10) OVER (PARTITION BY loyaltyStatus ORDER BY totalMiles DESC) AS decileBucket
        FROM summed_miles_6
    ),
    map_1 AS (
        SELECT membershipNumber,
            MAP_FROM_ARRAYS(COLLECT_LIST(loyaltyStatus), COLLECT_LIST(decileBucket)) AS decileMonth1
        FROM rankings_1
        GROUP BY membershipNumber
    ),
    map_3 AS (
        SELECT membershipNumber,
            MAP_FROM_ARRAYS(COLLECT_LIST(loyaltyStatus), COLLECT_LIST(decileBucket)) AS decileMonth3
        FROM rankings_3
        GROUP BY membershipNumber
    ),
    map_6 AS (
        SELECT membershipNumber,
            MAP_FROM_ARRAYS(COLLECT_LIST(loyaltyStatus), COLLECT_LIST(decileBucket)) AS decileMonth6
        FROM rankings_6
        GROUP BY membershipNumber
    ),
    all_memberships AS (
        SELECT DISTINCT _profilefoundationreportingstg.membershipNumber AS membershipNumber FROM airline_loyalty_data
    )
    SELECT STRUCT(
            all_memberships.membershipNumber AS membershipNumber,
            STRUCT(
                    map_1.decileMonth1 AS decileMonth1,
                    map_3.decileMonth3 AS decileMonth3,
                    map_6.decileMonth6 AS decileMonth6
            ) AS decilesMileage
        ) AS _profilefoundationreportingstg
    FROM all_memberships
        LEFT JOIN map_1 ON  (all_memberships.membershipNumber = map_1.membershipNumber)
        LEFT JOIN map_3 ON  (all_memberships.membershipNumber = map_3.membershipNumber)
        LEFT JOIN map_6 ON  (all_memberships.membershipNumber = map_6.membershipNumber)
    )`;

describe('Data Distiller dialect: the reference statements', () => {
  let t: TestPlatform;
  const sql = async (text: string, params?: Record<string, string>): Promise<Json> => {
    const res = await t.call('POST', '/queries', { body: { sql: text, params, limit: 500 } });
    assert.equal(res.status, 200, `${text.slice(0, 120)} → ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const rows = async (text: string): Promise<Json[]> => (await sql(text)).last.rows;
  before(async () => {
    t = await createTestPlatform();
  });
  after(() => t.dispose());

  it('§4.1 computes the airline decile buckets per lookback window, as worked out by hand', async () => {
    await sql(AIRLINE_FIXTURE);
    const created = await sql(AIRLINE_DECILES);
    assert.match(created.last.message, /^Created Table DataSet Id ds_/);
    const result = await rows(`SELECT _profilefoundationreportingstg.membershipNumber AS m, _profilefoundationreportingstg.decilesMileage AS d FROM airline_loyality_decile ORDER BY 1`);
    // Totals: A 10000 (FLYER); B 20000 (SILVER); C 5000 (FLYER), +20000 last month, inside the 1-month cut-off only.
    assert.deepEqual(result, [
      { m: 'A123487284', d: { decileMonth1: { FLYER: 2 }, decileMonth3: { FLYER: 1 }, decileMonth6: { FLYER: 1 } } },
      { m: 'B789279247', d: { decileMonth1: { SILVER: 1 }, decileMonth3: { SILVER: 1 }, decileMonth6: { SILVER: 1 } } },
      { m: 'C435678623', d: { decileMonth1: { FLYER: 1 }, decileMonth3: { FLYER: 2 }, decileMonth6: { FLYER: 2 } } },
    ]);
    const lifetime = await rows(`
      WITH rankings AS (
        SELECT _profilefoundationreportingstg.membershipNumber AS membershipNumber, _profilefoundationreportingstg.loyaltyStatus AS loyaltyStatus,
               NTILE(10) OVER (PARTITION BY _profilefoundationreportingstg.loyaltyStatus ORDER BY SUM(_profilefoundationreportingstg.mileage) DESC) AS decileBucket
        FROM airline_loyalty_data GROUP BY 1, 2)
      SELECT STRUCT(
           rankings.membershipNumber AS membershipNumber,
           STRUCT(
                MAP_FROM_ARRAYS(COLLECT_LIST(loyaltyStatus), COLLECT_LIST(decileBucket)) AS decileMonthAll
           ) AS decilesMileage
       ) AS _profilefoundationreportingstg
      FROM rankings
      GROUP BY rankings.membershipNumber ORDER BY rankings.membershipNumber`);
    assert.deepEqual(lifetime.map((r) => r._profilefoundationreportingstg.decilesMileage.decileMonthAll), [{ FLYER: 2 }, { SILVER: 1 }, { FLYER: 1 }]);
  });

  it('§4.2 creates profile tables with identities and labels, and field groups', async () => {
    const created = await sql(`CREATE TABLE decile_table (id text PRIMARY KEY NAMESPACE 'IDFA',
            decile1Month map<text, integer>) WITH (label='PROFILE');`);
    assert.match(created.last.message, /^Created Table DataSet Id ds_[0-9a-f]+$/);
    const labelsOf = async (name: string) => (await rows('SHOW TABLES')).find((r) => r.name === name)?.labels;
    assert.equal(await labelsOf('decile_table'), 'PROFILE, UPSERT', "label='PROFILE' turns on upsert by default");
    assert.equal((await sql('ALTER TABLE decile_table DROP label upsert;')).last.message, 'ALTER SUCCESS');
    assert.equal(await labelsOf('decile_table'), 'PROFILE');
    await sql(`ALTER TABLE decile_table DROP label 'PROFILE';`);
    assert.equal(await labelsOf('decile_table'), '');
    await sql(`ALTER TABLE decile_table ADD label 'PROFILE';`);
    await sql(`ALTER TABLE decile_table ADD label 'UPSERT';`);
    assert.equal(await labelsOf('decile_table'), 'PROFILE, UPSERT');
    await sql(`CREATE TABLE test1_dataset AS SELECT 'a' AS id2, 1 AS n`);
    await sql(`ALTER TABLE test1_dataset ADD CONSTRAINT PRIMARY KEY(id2) NAMESPACE 'IDFA';`);
    const identities = await rows('show identities');
    assert.deepEqual(
      identities.filter((r) => ['decile_table', 'test1_dataset'].includes(r.tableName)).map((r) => [r.tableName, r.columnName, r.namespace, r.ifPrimary]),
      [['decile_table', 'id', 'IDFA', true], ['test1_dataset', 'id2', 'IDFA', true]],
    );
    await sql(`CREATE FIELDGROUP field_group_for_test123 (decile1Month map<text, integer>, decile3Month map<text, integer>, decile6Month map<text, integer>, decile9Month map<text, integer>, decile12Month map<text, integer>, decilelietime map<text, integer>) WITH (LABEL-'PROFILE');`);
    const groups = await rows('SHOW FIELDGROUPS');
    assert.deepEqual(groups.find((g) => g.fieldgroupId === 'field_group_for_test123'), { name: 'field_group_for_test123', fieldgroupId: 'field_group_for_test123', owner: 'Customer' });
    const again = await t.call('POST', '/queries', { body: { sql: `CREATE FIELDGROUP field_group_for_test123 (a text) WITH (LABEL='PROFILE')` } });
    assert.equal(again.body.error.code, 'RT_FIELD_GROUP_EXISTS');
    await sql(`CREATE FIELDGROUP IF NOT EXISTS field_group_for_test123 (a text) WITH (LABEL='PROFILE')`);
    const noLabel = await t.call('POST', '/queries', { body: { sql: `CREATE FIELDGROUP fg_nolabel (a text)` } });
    assert.equal(noLabel.body.error.code, 'RT_QUERY_SYNTAX');
    await sql('DROP FIELDGROUP field_group_for_test123;');
    await sql('DROP FIELDGROUP IF EXISTS field_group_for_test123;');
    assert.ok(!(await rows('SHOW FIELDGROUPS')).some((g) => g.fieldgroupId === 'field_group_for_test123'));
  });

  it('§4.3 adds and drops ad hoc schema identities', async () => {
    await sql(`CREATE TABLE t1 AS SELECT 'x' AS id, 'y' AS c1`);
    await sql(`ALTER TABLE t1 ADD CONSTRAINT PRIMARY IDENTITY (id) NAMESPACE 'IDFA';`);
    await sql(`ALTER TABLE t1 ADD CONSTRAINT IDENTITY(c1) NAMESPACE 'Email';`);
    const of = async () => (await rows('show identities;')).filter((r) => r.tableName === 't1').map((r) => [r.columnName, r.namespace, r.ifPrimary]);
    assert.deepEqual(await of(), [['id', 'IDFA', true], ['c1', 'Email', false]]);
    await sql(`ALTER TABLE t1 DROP CONSTRAINT PRIMARY IDENTITY (id) ;`);
    await sql(`ALTER TABLE t1 DROP CONSTRAINT IDENTITY (c1) ;`);
    assert.deepEqual(await of(), []);
    const noNamespace = await t.call('POST', '/queries', { body: { sql: 'ALTER TABLE t1 ADD CONSTRAINT IDENTITY(c1)' } });
    assert.equal(noNamespace.body.error.code, 'RT_QUERY_SYNTAX');
  });

  it('§5.2 runs CTAS and ITAS, with ==, SNAPSHOT and struct(… as …) into a tenant object', async () => {
    await sql(`CREATE TABLE Inventory AS SELECT * FROM (VALUES ('red', 'chair'), ('red', 'chair'), ('blue', 'chair'), ('red', 'table')) AS v(color, type)`);
    await sql(`INSERT INTO Inventory SELECT 'green' AS color, 'chair' AS type`);
    await sql(`CREATE TABLE Chairs AS (SELECT color, count(*) AS no_of_chairs FROM Inventory i WHERE i.type=="chair" GROUP BY i.color)`);
    assert.deepEqual(await rows('SELECT * FROM Chairs ORDER BY color'), [
      { color: 'blue', no_of_chairs: 1 },
      { color: 'green', no_of_chairs: 1 },
      { color: 'red', no_of_chairs: 2 },
    ]);
    await sql(`CREATE TABLE Chairs2 AS (SELECT color FROM Inventory SNAPSHOT SINCE 1)`);
    assert.deepEqual(await rows('SELECT color FROM Chairs2'), [{ color: 'green' }], 'only rows written after snapshot 1');
    await sql(`CREATE TABLE OnlineCustomers AS SELECT * FROM (VALUES ('Acme', 'Berlin', 'DE'), ('Bolt', 'Lyon', 'FR')) AS v(SupplierName, City, Country)`);
    await sql(`CREATE TABLE Customers AS SELECT * FROM OnlineCustomers WHERE false`);
    await sql(`INSERT INTO Customers AS (SELECT * from OnlineCustomers SNAPSHOT AS OF 1)`);
    assert.equal((await rows('SELECT count(*) AS n FROM Customers'))[0].n, 2);
    await sql(`CREATE TABLE Suppliers AS SELECT struct(SupplierName as Supplier, City as SupplierCity, Country as SupplierCountry) _Adobe FROM OnlineCustomers WHERE false`);
    const inserted = await sql(`INSERT INTO Suppliers SELECT struct(SupplierName as Supplier, City as SupplierCity, Country as SupplierCountry) _Adobe FROM OnlineCustomers;`);
    assert.equal(inserted.last.rowCount, 2);
    assert.deepEqual(await rows('SELECT _Adobe.SupplierCity AS c FROM Suppliers ORDER BY 1'), [{ c: 'Berlin' }, { c: 'Lyon' }]);
    const history = await rows(`SELECT snapshot_id, parent_id, is_current FROM (SELECT history_meta('Inventory')) ORDER BY snapshot_id`);
    assert.deepEqual(history, [{ snapshot_id: 1, parent_id: null, is_current: false }, { snapshot_id: 2, parent_id: 1, is_current: true }]);
  });

  it('§5.2 organises data assets: databases, schemas, views, and keys recorded NOT ENFORCED', async () => {
    await sql(`CREATE DATABASE dg1;
CREATE SCHEMA dg1.schema1;
CREATE table t_keys1 AS SELECT 1 AS c1, 'a' AS name;
CREATE TABLE dg1.schema1.t_keys2 AS SELECT 1 AS c1, 10 AS amount;
CREATE view v1 AS SELECT c1 FROM t_keys1;
ALTER TABLE t_keys1 ADD PRIMARY KEY (c1) NOT ENFORCED;
ALTER TABLE dg1.schema1.t_keys2 ADD FOREIGN KEY (c1) REFERENCES t_keys1(c1) NOT ENFORCED;`);
    assert.deepEqual(await rows(`SELECT table_name, kind, columns, ref_table, ref_columns FROM _rt_table_constraints WHERE table_name IN ('t_keys1', 'dg1.schema1.t_keys2') ORDER BY kind DESC`), [
      { table_name: 't_keys1', kind: 'PRIMARY KEY', columns: ['c1'], ref_table: null, ref_columns: null },
      { table_name: 'dg1.schema1.t_keys2', kind: 'FOREIGN KEY', columns: ['c1'], ref_table: 't_keys1', ref_columns: ['c1'] },
    ]);
    assert.deepEqual(await rows('SELECT sum(amount) AS s FROM dg1.schema1.t_keys2 JOIN v1 USING (c1)'), [{ s: 10 }]);
    const missing = await t.call('POST', '/queries', { body: { sql: 'ALTER TABLE t_keys1 ADD PRIMARY KEY (nope) NOT ENFORCED' } });
    assert.equal(missing.body.error.code, 'RT_QUERY_FAILED');
    const enforced = await t.call('POST', '/queries', { body: { sql: 'ALTER TABLE t_keys1 ADD PRIMARY KEY (c1)' } });
    assert.equal(enforced.body.error.code, 'RT_QUERY_UNSUPPORTED');
    await sql('DROP DATABASE dg1');
    const gone = await t.call('POST', '/queries', { body: { sql: 'SELECT * FROM dg1.schema1.t_keys2' } });
    assert.equal(gone.body.error.code, 'RT_QUERY_FAILED');
  });

  it('§5.3 runs anonymous blocks: sequential statements, variables, SNAPSHOT from history_meta, exception handlers', async () => {
    await sql(`CREATE TABLE ADLS_TABLE_1 AS SELECT * FROM (VALUES (1), (2)) AS v(x)`);
    const chained = await sql(`$$ BEGIN
    CREATE TABLE ADLS_TABLE_A AS SELECT * FROM ADLS_TABLE_1;
    CREATE TABLE ADLS_TABLE_D AS SELECT * FROM ADLS_TABLE_A; 
    EXCEPTION WHEN OTHER THEN SET @ret = SELECT 'ERROR';
END
$$;`);
    assert.match(chained.last.message, /^Created Table DataSet Id/);
    assert.equal((await rows('SELECT count(*) AS n FROM ADLS_TABLE_D'))[0].n, 2);
    const failing = await sql(`$$ BEGIN
    CREATE TABLE ADLS_TABLE_E AS SELECT * FROM ADLS_TABLE_1;
    CREATE TABLE ADLS_TABLE_F AS SELECT * FROM NO_SUCH_TABLE;
    CREATE TABLE ADLS_TABLE_G AS SELECT * FROM ADLS_TABLE_1;
    EXCEPTION WHEN OTHER THEN SELECT 'ERROR';
END
$$;`);
    assert.deepEqual(failing.last.rows, [{ "'ERROR'": 'ERROR' }]);
    assert.match(failing.last.message, /exception handler ran/);
    const tables = (await rows('SHOW TABLES')).map((r) => r.name);
    assert.ok(tables.includes('adls_table_e') && !tables.includes('adls_table_g'), 'the block stops at the first failure');
    await sql(`INSERT INTO ADLS_TABLE_1 SELECT 3 AS x`);
    const temp = await sql(`$$ BEGIN                                             
  SET @current_sid = SELECT parent_id  FROM (SELECT history_meta('ADLS_TABLE_1')) WHERE  is_current = true;
  CREATE temp table abcd_temp_table AS SELECT count(1) AS n FROM ADLS_TABLE_1  SNAPSHOT SINCE @current_sid;
  SELECT n FROM abcd_temp_table;
END
$$;`);
    assert.deepEqual(temp.last.rows, [{ n: 1 }], 'SINCE the parent of the current snapshot = the last write only');
    await sql(`CREATE TABLE email_tracking_experience_event_dataset AS SELECT 'e1' AS _id`);
    await sql(`INSERT INTO email_tracking_experience_event_dataset SELECT 'e2' AS _id`);
    await sql(`$$BEGIN
   SET @v_snapshot_from = select parent_id  from (select history_meta('email_tracking_experience_event_dataset') ) tab where is_current;
   SET @v_snapshot_to = select snapshot_id from (select history_meta('email_tracking_experience_event_dataset') ) tab where is_current;
   SET @v_log_id = select now();
   CREATE TABLE tracking_email_id_incrementally
     AS SELECT _id AS id FROM email_tracking_experience_event_dataset SNAPSHOT BETWEEN @v_snapshot_from AND @v_snapshot_to;

EXCEPTION
  WHEN OTHER THEN
    DROP TABLE IF EXISTS tracking_email_id_incrementally;
    SELECT 'ERROR';
$$END;`);
    assert.deepEqual(await rows('SELECT id FROM tracking_email_id_incrementally'), [{ id: 'e2' }]);
    const nested = await sql(`$$ BEGIN SET @a = SELECT 1; BEGIN SET @b = SELECT @a + 1; END; SELECT @b * 10 AS c; END $$`);
    assert.deepEqual(nested.last.rows, [{ c: 20 }]);
    const unknown = await t.call('POST', '/queries', { body: { sql: `$$ BEGIN SELECT @nope; END $$` } });
    assert.equal(unknown.body.error.code, 'RT_QUERY_VARIABLE_UNKNOWN');
  });

  it('§5.5 incremental load: run twice with new data between, every row processed exactly once', async () => {
    await sql(`CREATE TABLE DIM_TABLE_ABC AS SELECT * FROM (VALUES ('a', 1), ('b', 2)) AS v(_id, amount)`);
    await sql(`DROP TABLE IF EXISTS checkpoint_log;
CREATE TABLE  checkpoint_log AS
SELECT
   cast(NULL AS string) process_name,
   cast(NULL AS string) process_status,
   cast(NULL AS string) last_snapshot_id,
   cast(NULL AS TIMESTAMP) process_timestamp
   WHERE false;`);
    await sql(`INSERT INTO
   checkpoint_log
   SELECT
      'DIM_TABLE_ABC' process_name,
      'SUCCESSFUL' process_status,
      cast(NULL AS string) last_snapshot_id,
      CURRENT_TIMESTAMP process_timestamp;`);
    await sql(`$$ BEGIN
    SET @from_snapshot_id = SELECT coalesce(last_snapshot_id, 'HEAD') FROM checkpoint_log a JOIN
                            (SELECT MAX(process_timestamp)process_timestamp FROM checkpoint_log
                                WHERE process_name = 'DIM_TABLE_ABC' AND process_status = 'SUCCESSFUL' )b
                                ON a.process_timestamp=b.process_timestamp;
    SET @to_snapshot_id = SELECT snapshot_id FROM (SELECT history_meta('DIM_TABLE_ABC')) WHERE  is_current = true;
    SET @last_updated_timestamp= SELECT CURRENT_TIMESTAMP;
    CREATE TABLE DIM_TABLE_ABC_Incremental AS
     SELECT  *  FROM DIM_TABLE_ABC SNAPSHOT BETWEEN @from_snapshot_id AND @to_snapshot_id ;

INSERT INTO
   checkpoint_log
   SELECT
       'DIM_TABLE_ABC' process_name,
       'SUCCESSFUL' process_status,
      cast( @to_snapshot_id AS string) last_snapshot_id,
      cast( @last_updated_timestamp AS TIMESTAMP) process_timestamp;

EXCEPTION
  WHEN OTHER THEN
    SELECT 'ERROR';
END 
$$;`);
    assert.deepEqual(await rows('SELECT _id FROM DIM_TABLE_ABC_Incremental ORDER BY 1'), [{ _id: 'a' }, { _id: 'b' }]);
    const recurring = (predicate: string) => `$$ BEGIN
    SET resolve_fallback_snapshot_on_failure=true;
    SET @from_snapshot_id = SELECT coalesce(last_snapshot_id, 'HEAD') FROM checkpoint_log a JOIN
                            (SELECT MAX(process_timestamp)process_timestamp FROM checkpoint_log
                                WHERE process_name = 'DIM_TABLE_ABC' AND process_status = 'SUCCESSFUL' )b
                                on a.process_timestamp=b.process_timestamp;
    SET @to_snapshot_id = SELECT snapshot_id FROM (SELECT history_meta('DIM_TABLE_ABC')) WHERE  is_current = true;
    SET @last_updated_timestamp= SELECT CURRENT_TIMESTAMP;
    INSERT INTO DIM_TABLE_ABC_Incremental
     SELECT  *  FROM DIM_TABLE_ABC SNAPSHOT BETWEEN @from_snapshot_id AND @to_snapshot_id WHERE NOT EXISTS (SELECT _id FROM DIM_TABLE_ABC_Incremental a WHERE ${predicate});
 
Insert Into
   checkpoint_log
   SELECT
       'DIM_TABLE_ABC' process_name,
       'SUCCESSFUL' process_status,
      cast( @to_snapshot_id AS string) last_snapshot_id,
      cast( @last_updated_timestamp AS TIMESTAMP) process_timestamp;
EXCEPTION
  WHEN OTHER THEN
    SELECT 'ERROR';
END
$$;`;
    // The reference's predicate `_id=a._id` binds both sides to the inner table (SQL scoping), which would skip
    // every new row once the destination is non-empty; the run below qualifies the outer side, as intended.
    const verbatim = await sql(recurring('_id=a._id'));
    assert.equal(verbatim.last.kind, 'itas', 'the verbatim recurring block runs without failing');
    await sql(`INSERT INTO DIM_TABLE_ABC SELECT * FROM (VALUES ('c', 3), ('d', 4)) AS v(_id, amount)`);
    const second = await sql(recurring('DIM_TABLE_ABC._id=a._id'));
    assert.equal(second.last.kind, 'itas');
    await sql(`INSERT INTO DIM_TABLE_ABC SELECT 'e' AS _id, 5 AS amount`);
    await sql(recurring('DIM_TABLE_ABC._id=a._id'));
    await sql(recurring('DIM_TABLE_ABC._id=a._id'));
    assert.deepEqual(await rows('SELECT _id, count(*) AS n FROM DIM_TABLE_ABC_Incremental GROUP BY 1 ORDER BY 1'), [
      { _id: 'a', n: 1 }, { _id: 'b', n: 1 }, { _id: 'c', n: 1 }, { _id: 'd', n: 1 }, { _id: 'e', n: 1 },
    ]);
    const checkpoints = await rows(`SELECT last_snapshot_id FROM checkpoint_log WHERE last_snapshot_id IS NOT NULL ORDER BY process_timestamp`);
    assert.deepEqual(checkpoints.map((r) => r.last_snapshot_id), ['1', '1', '2', '3', '3']);
  });

  it('§5.6 creates the target table on the first run and inserts on later runs', async () => {
    await sql(`CREATE TABLE profile_dim_date AS SELECT range AS d FROM range(30)`);
    const block = `$$
BEGIN

#Set mytableexist to true if the table already exists.
SET @mytableexist = SELECT table_exists('target_table_name');

#Create the table if it does not already exist (this is a one time operation).
CREATE TABLE IF NOT EXISTS target_table_name AS
  SELECT *
  FROM   profile_dim_date limit 10;

#Insert data only if the table already exists. Check if @mytableexist = 'true'
 INSERT INTO target_table_name           (
                     select *
                     from   profile_dim_date
                     WHERE  @mytableexist = 'true' limit 20
              ) ;
EXCEPTION
WHEN other THEN SELECT 'ERROR';

END $$; `;
    await sql(block);
    assert.equal((await rows('SELECT count(*) AS n FROM target_table_name'))[0].n, 10, 'first run: created with 10 rows, nothing inserted');
    await sql(block);
    assert.equal((await rows('SELECT count(*) AS n FROM target_table_name'))[0].n, 30, 'second run: 20 rows inserted');
  });

  it('§6.4 runs a parameterized insert into a data group table; a missing value refuses the run', async () => {
    await sql(`CREATE DATABASE testdb WITH (TYPE=QSACCEL, ACCOUNT=acp_query_batch); CREATE SCHEMA testdb.Schema_Name;
      CREATE TABLE testdb.Schema_Name.adwh_lkup_process_delta_log (process_name text, merge_policy_id ubigint, process_status text, process_date date, create_ts timestamp, change_ts timestamp)`);
    const statement = `INSERT INTO
   $Database_Name.Schema_Name.adwh_lkup_process_delta_log
   (process_name, merge_policy_id, process_status, process_date, create_ts, change_ts)
SELECT
   '$Table_Process_Name' process_name,
   hash('$Merge_PolicyID') merge_policy_id,
   '$process_status' process_status,
   to_date('$date_key') process_date,
   CURRENT_TIMESTAMP create_ts,
   CURRENT_TIMESTAMP change_ts;`;
    const params = { Database_Name: 'testdb', Table_Process_Name: 'DIM_ABC', Merge_PolicyID: 'mp-1', process_status: 'SUCCESSFUL', date_key: '2024-03-01' };
    await sql(statement, params);
    const logged = await rows(`SELECT process_name, process_status, process_date, merge_policy_id = hash('mp-1') AS hashed FROM testdb.Schema_Name.adwh_lkup_process_delta_log`);
    assert.deepEqual(logged, [{ process_name: 'DIM_ABC', process_status: 'SUCCESSFUL', process_date: '2024-03-01', hashed: true }]);
    const missing = await t.call('POST', '/queries', { body: { sql: statement, params: { Database_Name: 'testdb' } } });
    assert.equal(missing.body.error.code, 'RT_QUERY_PARAMETER_MISSING');
    assert.deepEqual(missing.body.error.details.missing.sort(), ['Merge_PolicyID', 'Table_Process_Name', 'date_key', 'process_status']);
  });

  it('expires snapshots after the retention unless fallback is set', async () => {
    const clock = t.platform.clock;
    const realNow = (): Date => new Date();
    await sql(`CREATE TABLE aging AS SELECT 1 AS x`);
    await sql(`INSERT INTO aging SELECT 2 AS x`);
    try {
      clock.now = () => new Date(Date.now() + 49 * 3_600_000);
      await sql(`INSERT INTO aging SELECT 3 AS x`);
      const expired = await t.call('POST', '/queries', { body: { sql: 'SELECT x FROM aging SNAPSHOT SINCE 1' } });
      assert.equal(expired.body.error.code, 'RT_QUERY_SNAPSHOT_EXPIRED');
      const fallback = await sql(`$$ BEGIN SET resolve_fallback_snapshot_on_failure=true; SELECT x FROM aging SNAPSHOT SINCE 1; END $$`);
      assert.deepEqual(fallback.last.rows, [{ x: 3 }], 'starts at the earliest available snapshot, inclusive');
    } finally {
      clock.now = realNow;
    }
  });
});
