/**
 * The export of one audience as SQL over the sandbox warehouse, in bulk: memberships (current state for full
 * files, transitions since the checkpoint for incremental ones) joined to the merge policy's profile table,
 * then consent, the identity guardrail and mandatory attributes (each skip counted by reason), deduplication
 * (latest qualification wins), mapping and SHA-256 hashing. Two temporary tables come out of it:
 *
 * - `act_cand`: one row per member considered, with `_skip` (null, or the reason it is left out), the exported
 *   attribute values as text (`v0…`), the raw deduplication keys (`k0`, `k1`) and the ids of the exported
 *   identity namespace (`_ids`);
 * - `act_rows`: the rows to write (mapped and hashed), one per profile, or one per identity when a namespace is
 *   exported (reference §12.2, deduplication use case 2); written in `profile_id, _identity` order.
 *
 * The caller reads counts from them and writes `act_rows` out (`COPY … TO` for files, a SELECT for API sends).
 */
import { MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE } from '../audiences/membership-tables.ts';
import { RoundtripError } from '../core/errors.ts';
import { quoteIdent, quoteLiteral } from '../identity/sql.ts';
import type { ColumnSpec, ColumnType } from '../ports/warehouse.ts';
import type { FieldInput } from './payloads.ts';

export const STATUS_FIELD = 'segmentMembership.status';
/** XDM consents field group: marketing email consent (`y`, `n`, `dy`, `dn`, …). */
export const EMAIL_CONSENT_FIELD = 'consents.marketing.email.val';
/** Consent values that mean "no": explicit no and default no. */
export const CONSENT_NO = ['n', 'dn'] as const;
/** Profile guardrail (reference §2.2): a profile with more identities is excluded from exports. */
export const MAX_IDENTITIES = 50;

export const CANDIDATES = 'act_cand';
export const ROWS = 'act_rows';

export type Dedup = { namespace: string } | { attributes: string[] } | null;

export type MembershipWindow =
  | { kind: 'full' }
  /** `since` null: the first incremental, a full backfill of the active members. */
  | { kind: 'incremental'; since: string | null; cutoff: string };

export interface ExportPlanInput {
  profileTable: string;
  profileColumns: readonly ColumnSpec[];
  segmentId: string;
  mergePolicyId: string;
  fields: readonly FieldInput[];
  dedup: Dedup;
  window: MembershipWindow;
  /** Incremental windows: send exits too (the file has `segmentMembership.status`, or an API destination). */
  includeExits?: boolean;
  /** Streaming sends one record per profile: the first id of the exported namespace, no row per identity. */
  onePerProfile?: boolean;
}

export interface ExportPlan {
  statements: string[];
  /** Output columns of `act_rows` in file order: `{ column in act_rows, header }`. */
  columns: { column: string; header: string; identity: boolean }[];
  /** Fields the profile table does not have (exported empty). */
  warnings: string[];
}

/** Type of a dotted path in the profile table, or undefined when the table has no such field. */
export function typeAt(columns: readonly ColumnSpec[], path: string): ColumnType | undefined {
  let fields: readonly ColumnSpec[] = columns;
  let type: ColumnType | undefined;
  for (const part of path.split('.')) {
    const found = fields.find((c) => c.name === part);
    if (!found) return undefined;
    type = found.type;
    fields = found.type.kind === 'struct' ? found.type.fields : [];
  }
  return type;
}

export const isEmailField = (field: FieldInput): boolean =>
  'identity' in field.source ? field.source.identity.toLowerCase() === 'email' : /email/i.test(field.source.attribute);

export const headerOf = (field: FieldInput): string => field.target ?? ('identity' in field.source ? field.source.identity : field.source.attribute);

/** A value as text: ISO 8601 UTC for times, so files do not depend on the engine's time zone. */
function asText(expr: string, type: ColumnType): string {
  if (type.kind === 'timestamp') return `strftime(timezone('UTC', ${expr}), '%Y-%m-%dT%H:%M:%S.%gZ')`;
  if (type.kind === 'date') return `strftime(${expr}, '%Y-%m-%d')`;
  return type.kind === 'string' ? expr : `CAST(${expr} AS VARCHAR)`;
}

/** SHA-256 (hex) of the text, with emails lower-cased and trimmed first; null stays null. */
export function hashed(text: string, email: boolean): string {
  return `sha256(${email ? `lower(trim(${text}))` : text})`;
}

function attributeText(columns: readonly ColumnSpec[], path: string, warnings: string[]): string {
  if (path === STATUS_FIELD) return 'm._status';
  const type = typeAt(columns, path);
  if (!type) {
    warnings.push(`The profiles have no attribute ${path} (no profile dataset's schema has it); it is exported empty.`);
    return 'NULL::VARCHAR';
  }
  if (type.kind === 'struct' || type.kind === 'list' || type.kind === 'map') {
    throw new RoundtripError('RT_DATAFLOW_INVALID', `${path} is ${type.kind === 'struct' ? 'an object' : `a ${type.kind}`}; only scalar profile attributes (and one identity namespace) can be exported.`, {
      issues: [{ path: 'fields', message: `${path} is not a scalar attribute` }],
    });
  }
  const sqlPath = ['p', ...path.split('.')].map((part, i) => (i === 0 ? part : quoteIdent(part))).join('.');
  return asText(sqlPath, type);
}

function membersSql(input: ExportPlanInput): string {
  const where = `segment_id = ${quoteLiteral(input.segmentId)} AND merge_policy_id = ${quoteLiteral(input.mergePolicyId)}`;
  const { window } = input;
  if (window.kind === 'full' || window.since === null) {
    return `SELECT profile_id, status AS _status, last_qualification_time AS _lqt FROM ${MEMBERSHIP_TABLE} WHERE ${where} AND status = 'realized'`;
  }
  // The latest transition of each profile in (since, cutoff]: entered → active row, left → exited row.
  // `at` is a keyword of DuckDB's grammar: always quoted.
  const changed = `SELECT profile_id, arg_max(status, "at") AS _status, max("at") AS _lqt FROM ${MEMBERSHIP_HISTORY_TABLE}
    WHERE ${where} AND "at" > ${quoteLiteral(window.since)}::TIMESTAMPTZ AND "at" <= ${quoteLiteral(window.cutoff)}::TIMESTAMPTZ GROUP BY profile_id`;
  // Without segmentMembership.status in the file a reader could not tell an exit from an entry: actives only.
  return input.includeExits ? changed : `SELECT * FROM (${changed}) WHERE _status = 'realized'`;
}

export function buildExportPlan(input: ExportPlanInput): ExportPlan {
  const warnings: string[] = [];
  const { fields, dedup } = input;
  const identityFields = fields.filter((f) => 'identity' in f.source);
  const namespace = identityFields[0] && 'identity' in identityFields[0].source ? identityFields[0].source.identity : dedup && 'namespace' in dedup ? dedup.namespace : undefined;

  const values: string[] = [];
  const columns: ExportPlan['columns'] = [];
  const mandatory: string[] = [];
  fields.forEach((field, i) => {
    const header = headerOf(field);
    if ('identity' in field.source) {
      columns.push({ column: `v${i}`, header, identity: true });
      return;
    }
    const text = attributeText(input.profileColumns, field.source.attribute, warnings);
    // Hashing waits for `act_rows`: only the rows that are written pay for SHA-256.
    values.push(`${text} AS v${i}`);
    columns.push({ column: `v${i}`, header, identity: false });
    if (field.mandatory) mandatory.push(`nullif(trim(${text}), '') IS NULL`);
  });
  const keys = dedup && 'attributes' in dedup ? dedup.attributes.map((path, i) => `${attributeText(input.profileColumns, path, warnings)} AS k${i}`) : [];
  // The exported namespace is mandatory too (reference: an exported identity is a mandatory attribute and the dedup key).
  const ids = namespace
    ? `list_sort(list_transform(list_filter(p.identities, x -> x.namespace = ${quoteLiteral(namespace)}), x -> x.id))`
    : 'NULL::VARCHAR[]';
  if (namespace) mandatory.push(`coalesce(len(${ids}), 0) = 0`);
  const consentType = typeAt(input.profileColumns, EMAIL_CONSENT_FIELD);
  const consent = consentType ? `lower(${asText(['p', ...EMAIL_CONSENT_FIELD.split('.').map(quoteIdent)].join('.'), consentType)})` : 'NULL::VARCHAR';
  // Every test on the profile row is computed in `j`, where the profile table is in scope; the reasons are
  // checked in a fixed order so that each skipped profile counts once.
  const candidates = `CREATE OR REPLACE TEMP TABLE ${CANDIDATES} AS
WITH m AS (${membersSql(input)}),
j AS (SELECT m.profile_id, m._status, m._lqt, p.profile_id IS NULL AS _gone, len(p.identities) AS _nids, ${consent} AS _consent,
    ${mandatory.length ? mandatory.join(' OR ') : 'false'} AS _missing, ${ids} AS _ids${[...values, ...keys].map((v) => `, ${v}`).join('')}
  FROM m LEFT JOIN ${quoteIdent(input.profileTable)} p ON p.profile_id = m.profile_id)
SELECT * EXCLUDE (_gone, _nids, _consent, _missing),
  CASE WHEN _gone THEN 'profileMissing'
       WHEN _nids > ${MAX_IDENTITIES} THEN 'tooManyIdentities'
       WHEN _consent IN (${CONSENT_NO.map(quoteLiteral).join(', ')}) THEN 'consent'
       WHEN _missing THEN 'missingMandatory'
  END AS _skip
FROM j`;
  return { statements: [candidates, rowsSql(input, columns, namespace, keys.length)], columns, warnings };
}

function rowsSql(input: ExportPlanInput, columns: ExportPlan['columns'], namespace: string | undefined, keyCount: number): string {
  const { dedup } = input;
  const explode = namespace !== undefined && !input.onePerProfile;
  const identity = namespace === undefined ? 'NULL::VARCHAR' : explode ? 'unnest(_ids)' : '_ids[1]';
  const eligible = `SELECT *, ${identity} AS _identity FROM ${CANDIDATES} WHERE _skip IS NULL`;
  // Hashing happens here, on the rows that survive filtering and deduplication.
  const outputs = columns.map((c, i) => {
    const field = input.fields[i]!;
    const value = c.identity ? '_identity' : c.column;
    return `${field.hash ? hashed(value, isEmailField(field)) : value} AS ${c.column}`;
  });
  let partition: string | undefined;
  if (dedup && 'namespace' in dedup) partition = '_identity';
  else if (dedup && 'attributes' in dedup) {
    const ks = Array.from({ length: keyCount }, (_, i) => `k${i}`);
    // A profile without a value for a key is not merged with others (nothing says they are the same person).
    partition = `${ks.join(', ')}, CASE WHEN ${ks.map((k) => `${k} IS NULL`).join(' OR ')} THEN profile_id END`;
  }
  const deduped = partition
    ? `SELECT * FROM (${eligible}) QUALIFY row_number() OVER (PARTITION BY ${partition} ORDER BY _lqt DESC, profile_id DESC) = 1`
    : `SELECT * FROM (${eligible})`;
  return `CREATE OR REPLACE TEMP TABLE ${ROWS} AS
SELECT profile_id, _status, _lqt, _identity, ${outputs.join(', ')}
FROM (${deduped})`;
}
