/**
 * SQL text helpers for widget SQL: identifiers quoted only when they must be (so compiled SQL reads like the
 * reference's hand-written widget SQL) and values as literals, never spliced in raw.
 */
import { RoundtripError } from '../core/errors.ts';
import type { JsonValue } from '../ports/warehouse.ts';

const PLAIN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function ident(name: string): string {
  return PLAIN.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/** `qsaccel.profile_agg.adwh_fact_profile` → each part quoted when needed. */
export function qualified(name: string): string {
  return name.split('.').map(ident).join('.');
}

export function literal(value: JsonValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RoundtripError('RT_DASHBOARD_WIDGET_INVALID', `${value} is not a usable filter value.`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  throw new RoundtripError('RT_DASHBOARD_WIDGET_INVALID', 'Filter values are strings, numbers, booleans or null.');
}

/** `col IN (…)` / `col NOT IN (…)`, with null handled as `IS [NOT] NULL` (an IN list never matches null). */
export function membership(column: string, values: readonly JsonValue[], negate: boolean): string {
  const nonNull = values.filter((v) => v !== null);
  const hasNull = nonNull.length < values.length;
  const parts: string[] = [];
  if (nonNull.length) parts.push(`${column} ${negate ? 'NOT IN' : 'IN'} (${nonNull.map(literal).join(', ')})`);
  if (hasNull) parts.push(`${column} IS ${negate ? 'NOT ' : ''}NULL`);
  if (parts.length === 1) return parts[0]!;
  return `(${parts.join(negate ? ' AND ' : ' OR ')})`;
}
