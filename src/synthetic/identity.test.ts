/**
 * Identity shapes: devices per person follow the documented weights, every ECID in the events belongs to its
 * person, a device is tied to a CRM id only from a login on, shared tablets are the only ECIDs seen with two
 * people, and duplicate accounts can be tied back by a case-insensitive email or a normalised phone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_RATES } from './options.ts';
import { DEVICE_COUNT_WEIGHTS } from './simulate.ts';
import { generateTemp, openDb, type Db, type Generated } from './test-support.ts';

const PEOPLE = 6_000;

describe('identities of 6,000 people', () => {
  let brand: Generated;
  let db: Db;

  before(async () => {
    brand = await generateTemp({ profiles: PEOPLE, seed: 11 });
    db = await openDb();
    const truth = brand.files('customers');
    // One row per (ECID, person): own devices and the household tablet.
    await db.query(`CREATE TABLE devices AS
      SELECT person_id, unnest(ecids) AS ecid, false AS shared FROM ${truth}
      UNION ALL SELECT person_id, shared_ecid, true FROM ${truth} WHERE shared_ecid IS NOT NULL`);
    await db.query(`CREATE TABLE accounts AS SELECT person_id, unnest(crm_ids) AS crm, signup_at FROM ${truth}`);
    await db.query(`CREATE TABLE web AS
      SELECT "_id" AS id, "timestamp" AS ts, eventType, identityMap['ECID'][1].id AS ecid, identityMap['CRMID'][1].id AS crm,
             "_roundtrip".sessionId AS session
      FROM ${brand.files('web')}`);
  });

  after(() => {
    db.close();
    brand.remove();
  });

  it('gives each person 1-4 own devices with the documented weights', async () => {
    const rows = await db.query<{ devices: number; n: number }>(`SELECT devices, count(*) AS n FROM ${brand.files('customers')} GROUP BY devices ORDER BY devices`);
    assert.deepEqual(rows.map((r) => r.devices), [1, 2, 3, 4]);
    for (const [i, row] of rows.entries()) {
      const share = DEVICE_COUNT_WEIGHTS[i]! / 100;
      const se = Math.sqrt((share * (1 - share)) / PEOPLE);
      assert.ok(Math.abs(row.n / PEOPLE - share) <= 4 * se, `${i + 1} devices: ${row.n} people`);
    }
    assert.equal(await db.value(`SELECT count(DISTINCT ecid) - count(*) FROM devices WHERE NOT shared`), 0, 'own ECIDs are unique');
  });

  it('uses only ECIDs of the person in web and app events', async () => {
    const foreign = await db.value(`SELECT count(*) FROM web WHERE ecid NOT IN (SELECT ecid FROM devices)`);
    assert.equal(foreign, 0);
    const crmOfOthers = await db.value(`
      SELECT count(*) FROM web w JOIN accounts a ON a.crm = w.crm
      WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.ecid = w.ecid AND d.person_id = a.person_id)`);
    assert.equal(crmOfOthers, 0);
  });

  it('ties a device to a CRM id only from a login on', async () => {
    // Every (ECID, CRM id) pair first appears together in a login event.
    const firstNotLogin = await db.value(`
      SELECT count(*) FROM (SELECT ecid, crm, arg_min(eventType, ts) AS first_type FROM web WHERE crm IS NOT NULL GROUP BY ecid, crm)
      WHERE first_type <> 'userAccount.login'`);
    assert.equal(firstNotLogin, 0);
    // Within a session, nothing before the login (or in a session without one) carries the CRM id.
    const early = await db.value(`
      WITH logins AS (SELECT session, min(ts) AS login_at FROM web WHERE eventType = 'userAccount.login' GROUP BY session)
      SELECT count(*) FROM web LEFT JOIN logins USING (session) WHERE crm IS NOT NULL AND (login_at IS NULL OR ts < login_at)`);
    assert.equal(early, 0);
    const anonymousAfter = await db.value(`
      WITH logins AS (SELECT session, min(ts) AS login_at FROM web WHERE eventType = 'userAccount.login' GROUP BY session)
      SELECT count(*) FROM web JOIN logins USING (session) WHERE crm IS NULL AND ts >= login_at`);
    assert.equal(anonymousAfter, 0);
    // Nobody logs in before the account exists; anonymous browsing before sign-up does happen.
    assert.equal(await db.value(`SELECT count(*) FROM web JOIN accounts USING (crm) WHERE eventType = 'userAccount.login' AND ts < signup_at`), 0);
    const anonymousBeforeSignup = await db.value(`
      SELECT count(*) FROM web w JOIN devices d USING (ecid) JOIN ${brand.files('customers')} t ON t.person_id = d.person_id
      WHERE NOT d.shared AND w.crm IS NULL AND w.ts < t.signup_at`);
    assert.ok(Number(anonymousBeforeSignup) > 0);
  });

  it('links an ECID to two people only through a shared household tablet', async () => {
    const multi = await db.query<{ ecid: string; people: number }>(`
      SELECT w.ecid, count(DISTINCT a.person_id) AS people FROM web w JOIN accounts a USING (crm) GROUP BY w.ecid HAVING count(DISTINCT a.person_id) > 1`);
    const shared = new Set((await db.query<{ ecid: string }>(`SELECT ecid FROM devices WHERE shared`)).map((r) => r.ecid));
    assert.ok(multi.length > 0, 'some shared tablets are used by both people');
    for (const row of multi) assert.ok(shared.has(row.ecid), `${row.ecid} is seen with ${row.people} people`);
    const households = Math.floor(PEOPLE / 2);
    const rate = DEFAULT_RATES.sharedDeviceRate;
    const sharing = brand.truth.summary.sharedDevicePeople / 2;
    assert.ok(Math.abs(sharing - households * rate) <= 4 * Math.sqrt(households * rate * (1 - rate)), `${sharing} households share a tablet`);
  });

  it('writes duplicate accounts that a case-insensitive email or a normalised phone ties back', async () => {
    const profiles = await db.query<{ pid: string; acct: string; email: string | null; phone: string | null; crm: string }>(`
      SELECT split_part("_id", '-', 2) AS pid, split_part("_id", '-', 3) AS acct, personalEmail.address AS email,
             regexp_replace(mobilePhone.number, '[^0-9]', '', 'g') AS phone, "_roundtrip".crmId AS crm
      FROM ${brand.files('profiles')}`);
    const { summary } = brand.truth;
    assert.equal(profiles.length, PEOPLE + summary.duplicatePeople);
    assert.equal(summary.accounts, profiles.length);
    const byPerson = new Map<string, typeof profiles>();
    for (const profile of profiles) byPerson.set(profile.pid, [...(byPerson.get(profile.pid) ?? []), profile]);
    let byEmail = 0;
    let byPhone = 0;
    for (const accounts of byPerson.values()) {
      if (accounts.length === 1) continue;
      const [first, second] = accounts as [(typeof accounts)[0], (typeof accounts)[0]];
      assert.notEqual(first.crm, second.crm);
      if (second.email !== null) {
        assert.notEqual(second.email, first.email, 'the duplicate stores the email in another case');
        assert.equal(second.email.toLowerCase(), first.email?.toLowerCase());
        byEmail++;
      } else {
        assert.equal(second.phone?.slice(-10), first.phone?.slice(-10));
        byPhone++;
      }
    }
    assert.ok(byEmail > 0 && byPhone > 0, `${byEmail} by email, ${byPhone} by phone`);
  });

  it('writes some emails in mixed case and leaves some fields empty', async () => {
    const [shares] = await db.query<Record<'mixed' | 'no_phone' | 'no_address' | 'no_birth_date', number>>(`
      SELECT avg((personalEmail.address <> lower(personalEmail.address))::INTEGER) AS mixed,
             avg((mobilePhone IS NULL)::INTEGER) AS no_phone, avg((homeAddress IS NULL)::INTEGER) AS no_address,
             avg((person.birthDate IS NULL)::INTEGER) AS no_birth_date
      FROM ${brand.files('profiles')} WHERE "_id" LIKE '%-0'`);
    const rate = DEFAULT_RATES.mixedCaseEmailRate;
    assert.ok(Math.abs(shares!.mixed - rate) <= 4 * Math.sqrt((rate * (1 - rate)) / PEOPLE), `mixed case share ${shares!.mixed}`);
    for (const key of ['no_phone', 'no_address', 'no_birth_date'] as const) assert.ok(shares![key] > 0.05 && shares![key] < 0.35, `${key}: ${shares![key]}`);
  });
});
