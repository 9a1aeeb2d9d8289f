/**
 * Unsubscribes become consent: a fragment `consents.marketing.email.val = 'n'` in the `Email Consent` dataset,
 * anchored on an identity of the person's profile (the profile id of a merge policy is a node id of the
 * identity graph — the anchor itself, or the smallest node of the private graph — so that node's identity
 * lands the fragment on that very profile), plus the email address. Roundtrip's own unsubscribe route writes
 * the fragment in the same log entry as the event; unsubscribes that arrive from an ESP or a batch file are
 * turned into fragments by `syncConsent`, which runs before every send and every facts refresh.
 */
import { NODES } from '../identity/store.ts';
import type { JsonRecord, SandboxWarehouse } from '../ports/warehouse.ts';
import { consentFragment } from './events.ts';
import { LEDGER, readCheckpoint, writeCheckpoint, type CampaignStore } from './store.ts';

const CHECKPOINT = 'consent';

export interface Identity {
  namespace: string;
  id: string;
}

/** The identity a profile id stands for (if the graph knows it), then the email. */
export async function profileIdentities(warehouse: SandboxWarehouse, profileId: number | null, email: string | null): Promise<Identity[]> {
  const out: Identity[] = [];
  if (profileId !== null && (await warehouse.listTables()).includes(NODES)) {
    const row = (await warehouse.query(`SELECT ns, id FROM ${NODES} WHERE node = ${Math.trunc(profileId)}`)).rows[0];
    if (row) out.push({ namespace: row.ns as string, id: row.id as string });
  }
  if (email && !out.some((i) => i.namespace === 'Email' && i.id.toLowerCase() === email.toLowerCase())) out.push({ namespace: 'Email', id: email });
  return out;
}

export function unsubscribeFragment(eventId: string, identities: Identity[], at: string): JsonRecord {
  return consentFragment(`consent:${eventId}`, identities, at);
}

/** Consent fragments for unsubscribes that did not come from Roundtrip's own route; returns how many. */
export async function syncConsent(store: CampaignStore, sandbox: string, tenantKey: string): Promise<number> {
  const warehouse = await store.warehouseOf(sandbox);
  const dataset = await store.trackingDataset(sandbox);
  const from = await readCheckpoint(warehouse, CHECKPOINT);
  const table = `"${dataset.tableName}"`;
  const last = Number((await warehouse.query(`SELECT coalesce(max("_rt_snapshot_id"), 0) AS s FROM ${table}`)).rows[0]?.s ?? 0);
  if (last <= from) return 0;
  const rows = (
    await warehouse.query(`SELECT e."_id" AS id, e."timestamp" AS ts, e.identityMap['Email'][1].id AS email, l.profile_id
      FROM ${table} e LEFT JOIN ${LEDGER} l ON l.message_id = e.directMarketing.messageID
      WHERE e."_rt_snapshot_id" > ${from} AND e."_rt_snapshot_id" <= ${last} AND e.eventType = 'directMarketing.emailUnsubscribed'
        AND coalesce(e.${tenantKey}.source, '') <> 'roundtrip'`)
  ).rows;
  const fragments: JsonRecord[] = [];
  for (const row of rows) {
    const identities = await profileIdentities(warehouse, row.profile_id === null ? null : Number(row.profile_id), (row.email as string | null) ?? null);
    if (identities.length) fragments.push(unsubscribeFragment(row.id as string, identities, row.ts as string));
  }
  await store.write(sandbox, [], fragments);
  await writeCheckpoint(warehouse, CHECKPOINT, last);
  return fragments.length;
}
