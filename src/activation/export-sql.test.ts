/**
 * The export SQL on hand-built profile rows: the four deduplication use cases of the reference's worked example
 * (activate-batch-profile-destinations.md, "Deduplication example": profiles A and B share two Email ids and a
 * personal email; B qualified later), mandatory attributes, consent and the identity guardrail. The profile
 * table is written directly here because two profiles sharing identities only exist without stitching, which
 * is exactly the situation the reference describes.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { ensureMembershipTables, MEMBERSHIP_TABLE } from '../audiences/membership-tables.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { createTestPlatform, type TestPlatform } from '../testing/platform.ts';
import { exportFiles, exportRecords, profileColumns } from './exporter.ts';
import type { Dedup } from './export-sql.ts';
import type { FieldInput } from './payloads.ts';

const SEGMENT = 'fa5c4622-6847-4199-8dd4-8b7c7c7ed1d6';
const TABLE = 'profile_snapshot_example';

let t: TestPlatform;
let warehouse: SandboxWarehouse;

async function profiles(rows: { id: number; emails: string[]; first: string | null; last: string; personal: string | null; consent?: string; qualified: string }[]): Promise<void> {
  await warehouse.query(`CREATE OR REPLACE TABLE ${TABLE} (profile_id BIGINT, person STRUCT(name STRUCT("firstName" VARCHAR, "lastName" VARCHAR)),
    "personalEmail" STRUCT(address VARCHAR), consents STRUCT(marketing STRUCT(email STRUCT(val VARCHAR))), identities STRUCT(namespace VARCHAR, id VARCHAR)[])`);
  await warehouse.query(`DELETE FROM ${MEMBERSHIP_TABLE}`);
  for (const r of rows) {
    const ids = `[${r.emails.map((e) => `{'namespace': 'Email', 'id': '${e}'}`).join(', ')}]::STRUCT(namespace VARCHAR, id VARCHAR)[]`;
    await warehouse.query(`INSERT INTO ${TABLE} VALUES (${r.id}, {'name': {'firstName': $first, 'lastName': $last}}, {'address': $personal}, {'marketing': {'email': {'val': $consent}}}, ${ids})`, {
      first: r.first,
      last: r.last,
      personal: r.personal,
      consent: r.consent ?? 'y',
    });
    await warehouse.query(`INSERT INTO ${MEMBERSHIP_TABLE} VALUES ($s, 'mp', ${r.id}, 'realized', $at::TIMESTAMPTZ, 1)`, { s: SEGMENT, at: r.qualified });
  }
}

const REFERENCE = [
  { id: 1, emails: ['johndoe_1@example.com', 'johndoe_2@example.com'], first: 'John', last: 'Doe', personal: 'johndoe@example.com', qualified: '2021-03-10T10:03:08Z' },
  { id: 2, emails: ['johndoe_1@example.com', 'johndoe_2@example.com'], first: 'John', last: 'D', personal: 'johndoe@example.com', qualified: '2021-04-10T11:33:28Z' },
];

const attr = (attribute: string, extra: Partial<FieldInput> = {}): FieldInput => ({ source: { attribute }, ...extra });
const PERSONAL = attr('personalEmail.address', { target: 'personalEmail' });
const FIRST = attr('person.name.firstName', { target: 'firstName' });
const LAST = attr('person.name.lastName', { target: 'lastName' });

let runs = 0;
async function csv(fields: FieldInput[], dedup: Dedup = null, splitRows = 1000): Promise<{ text: string[]; skipped: Record<string, number>; profiles: number }> {
  const { files, counts } = await exportFiles({
    warehouse,
    runFolder: `test-${++runs}`,
    baseName: 'Example_segment1_20210411000000',
    splitRows,
    profileTable: TABLE,
    profileColumns: await profileColumns(warehouse, TABLE),
    segmentId: SEGMENT,
    mergePolicyId: 'mp',
    fields,
    dedup,
    window: { kind: 'full' },
  });
  const text = (await Promise.all(files.map((f) => readFile(f.localPath, 'utf8')))).map((s) => s.trimEnd());
  return { text, skipped: counts.skipped, profiles: counts.profiles };
}

describe('export SQL: the reference deduplication example', () => {
  before(async () => {
    t = await createTestPlatform();
    warehouse = await t.platform.warehouse.sandbox('prod');
    await ensureMembershipTables(warehouse);
  });
  after(() => t.dispose());

  test('use case 1, no deduplication: both profiles', async () => {
    await profiles(REFERENCE);
    const out = await csv([PERSONAL, FIRST, LAST]);
    assert.deepEqual(out.text, ['personalEmail,firstName,lastName\njohndoe@example.com,John,Doe\njohndoe@example.com,John,D']);
  });

  test('use case 2, Email namespace: one row per id, from B (qualified last)', async () => {
    const out = await csv([{ source: { identity: 'Email' } }, PERSONAL, FIRST, LAST], { namespace: 'Email' });
    assert.deepEqual(out.text, ['Email,personalEmail,firstName,lastName\njohndoe_1@example.com,johndoe@example.com,John,D\njohndoe_2@example.com,johndoe@example.com,John,D']);
    assert.equal(out.skipped.duplicate, 1);
  });

  test('use case 3, one attribute (personal email): only B', async () => {
    const out = await csv([PERSONAL, FIRST, LAST], { attributes: ['personalEmail.address'] });
    assert.deepEqual(out.text, ['personalEmail,firstName,lastName\njohndoe@example.com,John,D']);
    assert.equal(out.skipped.duplicate, 1);
  });

  test('use case 4, composite key personal email + last name: both', async () => {
    const out = await csv([PERSONAL, LAST, FIRST], { attributes: ['personalEmail.address', 'person.name.lastName'] });
    assert.deepEqual(out.text, ['personalEmail,lastName,firstName\njohndoe@example.com,Doe,John\njohndoe@example.com,D,John']);
  });

  test('mandatory attributes skip profiles without them; consent "n" is never exported', async () => {
    await profiles([
      ...REFERENCE,
      { id: 3, emails: ['jane@example.com'], first: null, last: 'Roe', personal: 'jane@example.com', qualified: '2021-04-11T00:00:00Z' },
      { id: 4, emails: ['max@example.com'], first: 'Max', last: 'Poe', personal: null, qualified: '2021-04-11T00:00:00Z' },
      { id: 5, emails: ['no@example.com'], first: 'Nora', last: 'No', personal: 'no@example.com', consent: 'n', qualified: '2021-04-11T00:00:00Z' },
    ]);
    const out = await csv([attr('personalEmail.address', { target: 'personalEmail', mandatory: true }), attr('person.name.firstName', { target: 'firstName', mandatory: true })]);
    assert.deepEqual(out.text, ['personalEmail,firstName\njohndoe@example.com,John\njohndoe@example.com,John']);
    assert.deepEqual(out.skipped, { consent: 1, missingMandatory: 2, duplicate: 0, tooManyIdentities: 0, profileMissing: 0 });
  });

  test('hashing: SHA-256 hex, emails lower-cased and trimmed first', async () => {
    await profiles([{ id: 7, emails: ['X@Example.com'], first: 'Ann', last: 'Lee', personal: '  Ann.Lee@Example.COM ', qualified: '2021-04-11T00:00:00Z' }]);
    const out = await exportRecords(warehouse, {
      profileTable: TABLE,
      profileColumns: await profileColumns(warehouse, TABLE),
      segmentId: SEGMENT,
      mergePolicyId: 'mp',
      fields: [attr('personalEmail.address', { target: 'email', hash: 'sha256' }), attr('person.name.firstName', { target: 'first', hash: 'sha256' })],
      dedup: null,
      window: { kind: 'full' },
    });
    const { createHash } = await import('node:crypto');
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    assert.deepEqual(
      out.records.map((r) => r.values.map((v) => v.value)),
      [[sha('ann.lee@example.com'), sha('Ann')]],
    );
  });

  test('split: parts of splitRows rows, each with the header, named name, name_2, …', async () => {
    await profiles(Array.from({ length: 5 }, (_, i) => ({ id: 10 + i, emails: [`p${i}@example.com`], first: `P${i}`, last: 'X', personal: `p${i}@example.com`, qualified: '2021-04-11T00:00:00Z' })));
    const out = await csv([PERSONAL], null, 2);
    assert.deepEqual(out.text, ['personalEmail\np0@example.com\np1@example.com', 'personalEmail\np2@example.com\np3@example.com', 'personalEmail\np4@example.com']);
  });
});
