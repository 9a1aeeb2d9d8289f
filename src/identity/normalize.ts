/**
 * Identity values, normalised per namespace so that one person's `Pat@Example.com ` and `pat@example.com` are
 * one identity: emails and hashes lower-cased and trimmed, phones E.164 where libphonenumber can parse them,
 * everything else trimmed.
 *
 * SQL is the source of truth for trimming and lower-casing (bulk extraction runs there, and DuckDB's `lower`
 * differs from JavaScript's on a few code points), so lookups normalise through the same SQL expression.
 * Phones need libphonenumber, so their distinct raw values make one trip through JavaScript in both paths.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import type { NamespaceViewT } from '../catalog/payloads.ts';
import { quoteLiteral } from './sql.ts';

export type NamespaceKind = 'email' | 'hash' | 'phone' | 'plain';

export interface NamespaceInfo {
  code: string;
  kind: NamespaceKind;
}

/** Characters trimmed from both ends of every identity value (spaces and line breaks). */
const TRIM = " \\t\\n\\r";

/** Already in E.164 form: kept as it is, without a trip through libphonenumber. */
export const E164 = '\\+[1-9][0-9]{6,14}';
const E164_JS = /^\+[1-9][0-9]{6,14}$/;

export function namespaceKind(ns: Pick<NamespaceViewT, 'code' | 'idType'>): NamespaceKind {
  if (/SHA256/i.test(ns.code)) return 'hash';
  if (ns.idType === 'EMAIL') return 'email';
  if (ns.idType === 'PHONE') return 'phone';
  return 'plain';
}

/** Namespaces of a sandbox by lower-cased code: identityMap keys are matched to a code case-insensitively. */
export function namespaceIndex(namespaces: readonly Pick<NamespaceViewT, 'code' | 'idType'>[]): Map<string, NamespaceInfo> {
  return new Map(namespaces.map((n) => [n.code.toLowerCase(), { code: n.code, kind: namespaceKind(n) }]));
}

/** SQL: a raw value trimmed (NULL stays NULL). */
export const trimmedSql = (raw: string): string => `trim(CAST(${raw} AS VARCHAR), E'${TRIM}')`;

/**
 * SQL: a trimmed value normalised for its kind. A phone not already in E.164 form becomes `phoneFallback`
 * (NULL in bulk extraction, where JavaScript fills it; the value itself in a lookup, which parses it after).
 * The regular expression only runs on phone values: CASE branches see only their own rows.
 */
export function normalizedSql(kind: string, trimmed: string, phoneFallback: string): string {
  return `CASE ${kind} WHEN 'email' THEN lower(${trimmed}) WHEN 'hash' THEN lower(${trimmed}) WHEN 'phone' THEN CASE WHEN regexp_full_match(${trimmed}, '${E164}') THEN ${trimmed} ELSE ${phoneFallback} END ELSE ${trimmed} END`;
}

/** E.164 for a trimmed phone value when it parses (with the sandbox's default country for national numbers), else the value. */
export function normalizePhone(trimmed: string, defaultCountry?: string): string {
  if (E164_JS.test(trimmed)) return trimmed;
  const parsed = parsePhoneNumberFromString(trimmed, defaultCountry ? { defaultCountry: defaultCountry as CountryCode } : undefined);
  return parsed?.isPossible() ? parsed.number : trimmed;
}

/**
 * SQL: the index key of an identity — a point-lookup key, not an id (two identities may share one; lookups
 * compare namespace and value too). The engine's `hash` is several times faster than md5 over millions.
 */
export const identityKeySql = (ns: string, id: string): string => `hash(${ns}, ${id})`;

/** SQL literal of a namespace kind, for generated CASE expressions. */
export const kindLiteral = (kind: NamespaceKind): string => quoteLiteral(kind);
