/**
 * Test support for campaigns: the SMTP sink (`smtp-sink.ts`, re-exported), and a sandbox with
 * the synthetic brand's profile and order schemas, profiles, their profile table and audience memberships
 * written directly (the contract of `src/audiences/membership-tables.ts`).
 */
import assert from 'node:assert/strict';
import { MEMBERSHIP_TABLE, ensureMembershipTables } from '../audiences/membership-tables.ts';
import { brandSchemas, NAMESPACES } from '../synthetic/schemas.ts';
import type { TestPlatform } from '../testing/platform.ts';

export { readMime, startSmtpSink, type ReceivedMail, type SmtpSink } from './smtp-sink.ts';

export interface BrandPerson {
  crmId: string;
  email: string | null;
  firstName?: string | null;
  consent?: 'y' | 'n';
}

export interface Brand {
  profilesDataset: string;
  ordersDataset: string;
  policyId: string;
  snapshotTable: string;
  /** crmId → profile id */
  profileIds: Map<string, number>;
}

async function created(t: TestPlatform, url: string, body: unknown): Promise<string> {
  const res = await t.call('POST', url, { body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return (res.body as { id: string }).id;
}

/** Profiles (brand schema) and an empty Orders dataset; returns profile ids after the profile table is built. */
export async function setupBrand(t: TestPlatform, people: BrandPerson[]): Promise<Brand> {
  const schemas = brandSchemas(t.config.tenant);
  for (const namespace of NAMESPACES) {
    const res = await t.call('POST', '/namespaces', { body: namespace });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  const profilesDataset = await created(t, '/datasets', { name: 'Customer Profiles', schemaId: await created(t, '/schemas', schemas.profiles), profileEnabled: true });
  const ordersDataset = await created(t, '/datasets', { name: 'Orders', schemaId: await created(t, '/schemas', schemas.orders), profileEnabled: true });
  const tenant = `_${t.config.tenant}`;
  const records = people.map((p) => ({
    _id: `prof-${p.crmId}`,
    [tenant]: { crmId: p.crmId },
    ...(p.email ? { personalEmail: { address: p.email } } : {}),
    ...(p.firstName ? { person: { name: { firstName: p.firstName } } } : {}),
    ...(p.consent ? { consents: { marketing: { email: { val: p.consent, time: '2024-01-01T00:00:00Z' } } } } : {}),
  }));
  const res = await t.call('POST', `/datasets/${profilesDataset}/records`, { body: { records } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const policy = await t.platform.mergePolicies.resolve('prod');
  await t.platform.profileStore.refresh('prod');
  const warehouse = await t.platform.warehouse.sandbox('prod');
  const rows = (await warehouse.query(`SELECT profile_id, "${tenant}".crmId AS crm FROM "${policy.snapshotTable}"`)).rows;
  return { profilesDataset, ordersDataset, policyId: policy.id, snapshotTable: policy.snapshotTable, profileIds: new Map(rows.map((r) => [r.crm as string, Number(r.profile_id)])) };
}

export async function writeMembers(t: TestPlatform, segmentId: string, policyId: string, profileIds: Iterable<number>): Promise<void> {
  const warehouse = await t.platform.warehouse.sandbox('prod');
  await ensureMembershipTables(warehouse);
  const values = [...profileIds].map((id) => `('${segmentId}', '${policyId}', ${id}, 'realized', now(), 1)`);
  await warehouse.query(`INSERT INTO ${MEMBERSHIP_TABLE} VALUES ${values.join(', ')}`);
}

export async function writeOrders(t: TestPlatform, dataset: string, orders: { id: string; crmId: string; at: string; value: number }[]): Promise<void> {
  const records = orders.map((o) => ({
    _id: o.id,
    timestamp: o.at,
    eventType: 'commerce.purchases',
    identityMap: { CRMID: [{ id: o.crmId, primary: true }] },
    commerce: { order: { purchaseID: o.id, priceTotal: o.value, currencyCode: 'EUR' }, purchases: { value: 1 } },
  }));
  const res = await t.call('POST', `/datasets/${dataset}/records`, { body: { records } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}
