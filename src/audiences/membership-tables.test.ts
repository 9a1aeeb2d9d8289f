import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { suiteWarehouse } from '../testing/warehouse.ts';
import { ensureMembershipTables, MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE } from './membership-tables.ts';

/** Membership tables as versions before the hot catalog made them: in the main catalog. */
const LEGACY = [
  `CREATE TABLE _rt_segment_membership (segment_id VARCHAR NOT NULL, merge_policy_id VARCHAR NOT NULL, profile_id BIGINT NOT NULL, status VARCHAR NOT NULL, last_qualification_time TIMESTAMPTZ NOT NULL, version BIGINT NOT NULL)`,
  `CREATE TABLE _rt_segment_membership_history (segment_id VARCHAR NOT NULL, merge_policy_id VARCHAR NOT NULL, profile_id BIGINT NOT NULL, status VARCHAR NOT NULL, "at" TIMESTAMPTZ NOT NULL, source VARCHAR NOT NULL)`,
  `INSERT INTO _rt_segment_membership VALUES ('s', 'mp', 1, 'realized', '2026-01-01 00:00:00+00', 1), ('s', 'mp', 2, 'exited', '2026-01-02 00:00:00+00', 2)`,
  `INSERT INTO _rt_segment_membership_history VALUES ('s', 'mp', 1, 'realized', '2026-01-01 00:00:00+00', 'job-1'), ('s', 'mp', 2, 'realized', '2026-01-01 00:00:00+00', 'job-1'), ('s', 'mp', 2, 'exited', '2026-01-02 00:00:00+00', 'job-2')`,
];

describe('membership tables', () => {
  const { warehouse } = suiteWarehouse();
  const count = async (sandbox: string, table: string) => Number((await (await warehouse.sandbox(sandbox)).query(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);

  it('are created in the hot catalog, empty, not among the main tables', async () => {
    const sb = await warehouse.sandbox('fresh');
    await ensureMembershipTables(sb);
    assert.deepEqual([await count('fresh', MEMBERSHIP_TABLE), await count('fresh', MEMBERSHIP_HISTORY_TABLE)], [0, 0]);
    assert.deepEqual(await sb.listTables(), []);
  });

  it('move from the main catalog, rows and constraints, when a sandbox was written before the hot catalog', async () => {
    const sb = await warehouse.sandbox('legacy');
    for (const statement of LEGACY) await sb.query(statement);
    // Readers at start-up call it at the same moment: the rows move once.
    await Promise.all([ensureMembershipTables(sb), ensureMembershipTables(sb), ensureMembershipTables(sb)]);
    assert.deepEqual([await count('legacy', MEMBERSHIP_TABLE), await count('legacy', MEMBERSHIP_HISTORY_TABLE)], [2, 3]);
    assert.deepEqual(await sb.listTables(), [], 'the old tables are dropped');
    await assert.rejects(sb.query(`INSERT INTO ${MEMBERSHIP_TABLE} VALUES ('s', 'mp', NULL, 'realized', now(), 1)`), 'NOT NULL kept');
  });

  it('finish a move a crash interrupted: the moved copy stays, the old one is dropped', async () => {
    const sb = await warehouse.sandbox('halfway');
    for (const statement of LEGACY) await sb.query(statement);
    // The state after the hot copy committed and before the old table was dropped.
    await sb.query(`CREATE TABLE ${MEMBERSHIP_TABLE} AS SELECT * FROM _rt_segment_membership`);
    await sb.query(`INSERT INTO ${MEMBERSHIP_TABLE} VALUES ('s', 'mp', 3, 'realized', now(), 1)`);
    await ensureMembershipTables(sb);
    assert.equal(await count('halfway', MEMBERSHIP_TABLE), 3, 'not copied twice');
    assert.equal(await count('halfway', MEMBERSHIP_HISTORY_TABLE), 3);
    assert.deepEqual(await sb.listTables(), []);
  });
});
