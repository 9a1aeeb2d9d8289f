/**
 * External audiences: a list of identities uploaded as CSV (one namespace), resolved to profiles through the
 * identity graph and written as memberships with `source: 'external'`. Values are normalised like every
 * identity (emails lower-cased, phones E.164) so `Pat@Example.com` finds the profile of `pat@example.com`;
 * values no record carries are counted as unresolved.
 */
import { RoundtripError } from '../core/errors.ts';
import type { IdentityGraph } from '../identity/graph.ts';
import { normalizedSql, normalizePhone, trimmedSql, kindLiteral } from '../identity/normalize.ts';
import { quoteLiteral } from '../identity/sql.ts';
import { NODES } from '../identity/store.ts';
import type { MergePolicyRecord } from '../ports/metadata-store.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { profileOfNode } from './events-relation.ts';
import { ensureMembershipTables } from './membership-tables.ts';
import { applyQualified, refreshProfileMaps } from './membership.ts';

const HEADER_WORDS = /^(id|ids|value|values|identity|identities|email|emails|phone|crmid|ecid|customer|customer_id)$/i;

/** One CSV field: surrounding quotes removed, doubled quotes undone. */
function field(raw: string): string {
  const t = raw.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).replace(/""/g, '"') : t;
}

/** Splits a CSV line on commas outside quotes. */
function splitLine(line: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(field(current));
      current = '';
    } else current += ch;
  }
  out.push(field(current));
  return out;
}

/** The values of one column: `column` names a header column; otherwise the first, skipping a header row. */
export function csvValues(csv: string, namespace: string, column?: string): string[] {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new RoundtripError('RT_AUDIENCE_UPLOAD_INVALID', 'The CSV has no rows.');
  const header = splitLine(lines[0]!);
  let index = 0;
  let start = 0;
  if (column !== undefined) {
    index = header.findIndex((h) => h.toLowerCase() === column.toLowerCase());
    if (index < 0) throw new RoundtripError('RT_AUDIENCE_UPLOAD_INVALID', `The CSV header has no column "${column}" (it has ${header.join(', ')}).`, { column });
    start = 1;
  } else if (HEADER_WORDS.test(header[0]!) || header[0]!.toLowerCase() === namespace.toLowerCase()) start = 1;
  const values = lines.slice(start).map((l) => splitLine(l)[index] ?? '').filter((v) => v !== '');
  if (values.length === 0) throw new RoundtripError('RT_AUDIENCE_UPLOAD_INVALID', 'The CSV has no values in the chosen column.');
  return [...new Set(values)];
}

export interface ExternalResult {
  values: number;
  resolved: number;
  profiles: number;
}

/** Resolves the values and writes the segment's memberships (replacing an earlier upload's). */
export async function writeExternal(
  graph: IdentityGraph,
  warehouse: SandboxWarehouse,
  policy: MergePolicyRecord,
  segmentId: string,
  namespace: string,
  values: readonly string[],
  now: Date,
): Promise<ExternalResult> {
  await graph.sync(warehouse.sandbox);
  const context = await graph.readContext(warehouse.sandbox, namespace);
  const info = context.namespaces.get(namespace.toLowerCase());
  if (!info) throw new RoundtripError('RT_AUDIENCE_UPLOAD_INVALID', `No identity namespace "${namespace}" in this sandbox.`, { namespace });
  await ensureMembershipTables(warehouse);
  const session = await warehouse.openSession();
  try {
    await session.query(`CREATE OR REPLACE TEMP TABLE _rt_aud_upload (raw VARCHAR)`);
    for (let i = 0; i < values.length; i += 1000) {
      await session.query(`INSERT INTO _rt_aud_upload VALUES ${values.slice(i, i + 1000).map((v) => `(${quoteLiteral(v)})`).join(', ')}`);
    }
    const trimmed = trimmedSql('raw');
    await session.query(`CREATE OR REPLACE TEMP TABLE _rt_aud_upload_ids AS SELECT DISTINCT ${normalizedSql(kindLiteral(info.kind), trimmed, trimmed)} AS id FROM _rt_aud_upload`);
    if (info.kind === 'phone') {
      const phones = (await session.query(`SELECT id FROM _rt_aud_upload_ids`)).rows.map((r) => normalizePhone(r.id as string, context.settings.phoneDefaultCountry ?? undefined));
      await session.query(`DELETE FROM _rt_aud_upload_ids`);
      if (phones.length) await session.query(`INSERT INTO _rt_aud_upload_ids VALUES ${[...new Set(phones)].map((p) => `(${quoteLiteral(p)})`).join(', ')}`);
    }
    await session.query(`CREATE OR REPLACE TEMP TABLE _rt_aud_upload_q AS
      SELECT DISTINCT ${quoteLiteral(segmentId)} AS segment_id, ${profileOfNode(policy, 'n')} AS profile_id
      FROM _rt_aud_upload_ids u JOIN ${NODES} n ON n.ns = ${quoteLiteral(info.code)} AND n.id = u.id`);
    const resolved = Number((await session.query(`SELECT count(DISTINCT u.id) AS n FROM _rt_aud_upload_ids u JOIN ${NODES} n ON n.ns = ${quoteLiteral(info.code)} AND n.id = u.id`)).rows[0]?.n ?? 0);
    const profiles = Number((await session.query(`SELECT count(*) AS n FROM _rt_aud_upload_q`)).rows[0]?.n ?? 0);
    const transitions = await applyQualified(session, { policy, segments: [segmentId], qualified: '_rt_aud_upload_q', now, source: 'external', scratch: '_rt_aud_upload_changes' });
    if (transitions.total > 0) await refreshProfileMaps(graph, warehouse, policy, session, `SELECT DISTINCT profile_id FROM _rt_aud_upload_changes`);
    return { values: values.length, resolved, profiles };
  } finally {
    session.close();
  }
}
