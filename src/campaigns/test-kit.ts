/**
 * Test support for campaigns: a real SMTP server on loopback that keeps what it receives (and refuses
 * addresses starting with `bounce`), a small MIME reader for the messages nodemailer writes, and a sandbox with
 * the synthetic brand's profile and order schemas, profiles, their profile table and audience memberships
 * written directly (the contract of `src/audiences/membership-tables.ts`).
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { MEMBERSHIP_TABLE, ensureMembershipTables } from '../audiences/membership-tables.ts';
import { brandSchemas, NAMESPACES } from '../synthetic/schemas.ts';
import type { TestPlatform } from '../testing/platform.ts';

export interface ReceivedMail {
  to: string[];
  headers: Record<string, string>;
  html: string;
}

export interface SmtpSink {
  port: number;
  mails: ReceivedMail[];
  logins: string[];
  close(): Promise<void>;
}

function decodeQuotedPrintable(text: string): string {
  const bytes = Buffer.from(text.replace(/=\r?\n/g, ''), 'latin1');
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x3d && /^[0-9A-F]{2}$/i.test(bytes.subarray(i + 1, i + 3).toString('latin1'))) {
      out.push(parseInt(bytes.subarray(i + 1, i + 3).toString('latin1'), 16));
      i += 2;
    } else out.push(bytes[i]!);
  }
  return Buffer.from(out).toString('utf8');
}

/** Headers (lower-case names, unfolded) and the decoded body of a single-part message. */
export function readMime(raw: string): { headers: Record<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = raw.slice(split + 4);
  const encoding = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  return { headers, body: encoding === 'quoted-printable' ? decodeQuotedPrintable(body) : encoding === 'base64' ? Buffer.from(body, 'base64').toString('utf8') : body };
}

export async function startSmtpSink(credentials?: { user: string; pass: string }): Promise<SmtpSink> {
  const mails: ReceivedMail[] = [];
  const logins: string[] = [];
  const server = new SMTPServer({
    logger: false,
    disabledCommands: credentials ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !credentials,
    onAuth(auth, _session, callback) {
      if (credentials && auth.username === credentials.user && auth.password === credentials.pass) {
        logins.push(auth.username);
        return callback(null, { user: auth.username });
      }
      return callback(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('bounce')) return callback(Object.assign(new Error('5.1.1 No such user here'), { responseCode: 550 }));
      return callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const { headers, body } = readMime(Buffer.concat(chunks).toString('latin1'));
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), headers, html: body });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, logins, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

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
