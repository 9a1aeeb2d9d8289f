/**
 * Test support for identity and profile tests: a CRM profile dataset (CRMID primary, Email, Phone), a web
 * profile dataset (Email primary), a profile-enabled event dataset (identityMap only) and an identity-only
 * link dataset, plus small helpers to write records and read graphs and profiles back.
 */
import assert from 'node:assert/strict';
import { NODES } from '../identity/store.ts';
import type { TestPlatform } from '../testing/platform.ts';

export const CRM_SCHEMA = {
  title: 'CRM customers',
  class: 'profile',
  fieldGroups: ['person-details', 'personal-contact-details', 'identity-map'],
  fields: { crmId: { type: 'string' }, tier: { type: 'string' }, points: { type: 'integer' } },
  identities: [
    { path: '_roundtrip.crmId', namespace: 'CRMID', primary: true },
    { path: 'personalEmail.address', namespace: 'Email' },
    { path: 'mobilePhone.number', namespace: 'Phone' },
  ],
};

export const WEB_SCHEMA = {
  title: 'Web sign-ups',
  class: 'profile',
  fieldGroups: ['person-details', 'personal-contact-details', 'identity-map'],
  identities: [{ path: 'personalEmail.address', namespace: 'Email', primary: true }],
};

export const EVENTS_SCHEMA = { title: 'Web events', class: 'experienceevent', fieldGroups: ['commerce-details', 'identity-map'] };

export const LINKS_SCHEMA = { title: 'Identity links', class: 'profile', fieldGroups: ['identity-map'] };

export interface Kit {
  crm: string;
  web: string;
  events: string;
  links: string;
}

type Body = Record<string, unknown>;

async function created(t: TestPlatform, url: string, body: Body): Promise<string> {
  const res = await t.call('POST', url, { body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return (res.body as { id: string }).id;
}

export async function setupDatasets(t: TestPlatform): Promise<Kit> {
  const dataset = async (name: string, schema: Body, flags: Body) => created(t, '/datasets', { name, schemaId: await created(t, '/schemas', schema), ...flags });
  return {
    crm: await dataset('crm', CRM_SCHEMA, { profileEnabled: true }),
    web: await dataset('web', WEB_SCHEMA, { profileEnabled: true }),
    events: await dataset('events', EVENTS_SCHEMA, { profileEnabled: true }),
    links: await dataset('links', LINKS_SCHEMA, { identityEnabled: true }),
  };
}

export async function write(t: TestPlatform, dataset: string, records: Body[]): Promise<void> {
  const res = await t.call('POST', `/datasets/${dataset}/records`, { body: { records } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

export const crmRecord = (crmId: string, email: string, extra: Body = {}): Body => ({ _id: `crm-${crmId}`, personalEmail: { address: email }, _roundtrip: { crmId }, ...extra });

export const event = (id: string, timestamp: string, identityMap: Record<string, string[]>, extra: Body = {}): Body => ({
  _id: id,
  timestamp,
  eventType: 'commerce.purchases',
  identityMap: Object.fromEntries(Object.entries(identityMap).map(([ns, ids]) => [ns, ids.map((id) => ({ id }))])),
  ...extra,
});

export const link = (identityMap: Record<string, string[]>): Body => ({
  identityMap: Object.fromEntries(Object.entries(identityMap).map(([ns, ids]) => [ns, ids.map((id) => ({ id }))])),
});

/** Every graph of the sandbox as a sorted list of `ns:id`, sorted: comparable whatever the node ids. */
export async function graphs(t: TestPlatform, sandbox = 'prod'): Promise<string[][]> {
  await t.platform.identity.sync(sandbox);
  const rows = await (await t.platform.warehouse.sandbox(sandbox)).query(`SELECT list(ns || ':' || id ORDER BY ns, id) AS ids FROM ${NODES} GROUP BY graph`);
  return rows.rows.map((r) => r.ids as string[]).sort((a, b) => a.join().localeCompare(b.join()));
}

export interface ProfileBody {
  profileId: number;
  identities: { namespace: string; id: string }[];
  attributes: Record<string, unknown>;
  events: { events: { record: Body }[]; next: string | null };
  refreshedAt?: string;
}

/** A profile with its five most recent events (unless `query` says otherwise). */
export async function profile(t: TestPlatform, namespace: string, id: string, query = ''): Promise<ProfileBody> {
  const events = query.includes('events=') ? '' : '&events=5';
  const res = await t.call('GET', `/profiles?namespace=${encodeURIComponent(namespace)}&id=${encodeURIComponent(id)}${query}${events}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as ProfileBody;
}

/** A profile without its refresh time, for exact comparisons across changes. */
export function stable(p: ProfileBody): Omit<ProfileBody, 'refreshedAt'> {
  const { refreshedAt: _r, ...rest } = p;
  return rest;
}
