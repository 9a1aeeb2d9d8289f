/**
 * Test support for activation: a small brand loaded through the real catalog and profile store (the synthetic
 * brand's profile schema, five customers, an audience), a clock moved by hand, and membership transitions
 * written directly into the membership tables, as the audiences domain would write them.
 */
import assert from 'node:assert/strict';
import { LOCAL_OPERATOR } from '../access/principal.ts';
import type { Clock } from '../core/clock.ts';
import type { Connector, DestinationType } from '../destinations/connector.ts';
import { brandSchemas, NAMESPACES } from '../synthetic/schemas.ts';
import type { TestPlatform } from '../testing/platform.ts';
import { ActivationService } from './service.ts';
import { ensureMembershipTables, MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE, type MembershipStatus } from '../audiences/membership-tables.ts';
import { quoteLiteral } from '../identity/sql.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';

/** Sets a profile's membership the way `applyQualified` does: the current row replaced, one history row appended. */
export async function transition(warehouse: SandboxWarehouse, change: { segmentId: string; mergePolicyId: string; profileId: number; status: MembershipStatus; at: string }): Promise<void> {
  const [s, m, st, at] = [change.segmentId, change.mergePolicyId, change.status, change.at].map(quoteLiteral);
  const id = Math.trunc(change.profileId);
  await warehouse.query(`BEGIN TRANSACTION;
    DELETE FROM ${MEMBERSHIP_TABLE} WHERE segment_id = ${s} AND merge_policy_id = ${m} AND profile_id = ${id};
    INSERT INTO ${MEMBERSHIP_TABLE} VALUES (${s}, ${m}, ${id}, ${st}, ${at}::TIMESTAMPTZ, 1);
    INSERT INTO ${MEMBERSHIP_HISTORY_TABLE} VALUES (${s}, ${m}, ${id}, ${st}, ${at}::TIMESTAMPTZ, 'test');
    COMMIT`);
}

// ---- a small brand: the synthetic brand's profile schema, five customers, one audience, a folder destination --


export interface Customer {
  crmId: string;
  first: string;
  email?: string;
  consent?: string;
}

export const CUSTOMERS: Customer[] = [
  { crmId: 'C1', first: 'Ann', email: 'ann@example.com', consent: 'y' },
  { crmId: 'C2', first: 'Bob', email: 'bob@example.com', consent: 'y' },
  { crmId: 'C3', first: 'Cid', consent: 'y' },
  { crmId: 'C4', first: 'Dee', email: 'dee@example.com', consent: 'n' },
  { crmId: 'C5', first: 'Eve', email: 'eve@example.com' },
];

export interface Brand {
  policyId: string;
  /** Profile id per CRM id. */
  profiles: Record<string, number>;
  segmentId: string;
}

async function created(t: TestPlatform, url: string, body: unknown): Promise<string> {
  const res = await t.call('POST', url, { body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return (res.body as { id: string }).id;
}

/** Loads the customers through the real catalog, datasets and profile store; creates an (external) audience. */
export async function setupBrand(t: TestPlatform, customers: readonly Customer[] = CUSTOMERS): Promise<Brand> {
  for (const ns of NAMESPACES) await created(t, '/namespaces', ns).catch(() => undefined);
  const schemaId = await created(t, '/schemas', brandSchemas(t.config.tenant).profiles);
  const dataset = await created(t, '/datasets', { name: 'Customer Profiles', schemaId, profileEnabled: true, identityEnabled: true });
  const records = customers.map((c) => ({
    _id: `rec-${c.crmId}`,
    person: { name: { firstName: c.first, lastName: 'Test' } },
    ...(c.email ? { personalEmail: { address: c.email } } : {}),
    ...(c.consent ? { consents: { marketing: { email: { val: c.consent } } } } : {}),
    [`_${t.config.tenant}`]: { crmId: c.crmId },
  }));
  const res = await t.call('POST', `/datasets/${dataset}/records`, { body: { records } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const policy = await t.platform.mergePolicies.resolve('prod');
  await t.platform.profileStore.refresh('prod', policy.id);
  const warehouse = await t.platform.warehouse.sandbox('prod');
  const rows = await warehouse.query(`SELECT profile_id, "_${t.config.tenant}"."crmId" AS crm FROM "${policy.snapshotTable}"`);
  const profiles = Object.fromEntries(rows.rows.map((r) => [r.crm as string, Number(r.profile_id)]));
  assert.equal(Object.keys(profiles).length, customers.length, 'one profile per customer');
  await ensureMembershipTables(warehouse);
  const segment = await t.platform.audiences.definitions.createExternal(LOCAL_OPERATOR, 'prod', { name: 'Loyal travellers', namespace: 'CRMID', mergePolicyId: policy.id });
  return { policyId: policy.id, profiles, segmentId: segment.id };
}

/** A clock tests move by hand. */
export function manualClock(start: string): Clock & { set(iso: string): void } {
  let now = new Date(start);
  return { now: () => new Date(now), set: (iso) => (now = new Date(iso)) };
}

/** An activation service on the test platform's parts, with its own clock and (optionally) wrapped connectors. */
export function activationWith(t: TestPlatform, options: { clock?: Clock; connectorFor?: (type: DestinationType) => Connector } = {}): ActivationService {
  const p = t.platform;
  return new ActivationService({
    metadata: p.metadata,
    warehouse: p.warehouse,
    audit: p.audit,
    clock: options.clock ?? p.clock,
    mergePolicies: p.mergePolicies,
    profileStore: p.profileStore,
    accounts: { getResolvedAccount: (sandbox, id) => p.destinations.getResolvedAccount(sandbox, id) },
    ...(options.connectorFor ? { connectorFor: options.connectorFor } : {}),
  });
}
