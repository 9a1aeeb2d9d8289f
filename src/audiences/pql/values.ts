/**
 * Value semantics shared by the in-process evaluator: SQL's three-valued logic (null = unknown), comparisons,
 * equality, ordering and arithmetic exactly as the SQL compiler's DuckDB expressions behave on the same data.
 * docs/pql.md "Null semantics" is the contract.
 */
import { toMillis } from './time-words.ts';

export type Tri = boolean | null;

export function isNullish(value: unknown): value is null | undefined {
  return value === null || value === undefined;
}

/** Kleene logic, as SQL's AND/OR/NOT. */
export const and3 = (a: Tri, b: Tri): Tri => (a === false || b === false ? false : a === null || b === null ? null : true);
export const or3 = (a: Tri, b: Tri): Tri => (a === true || b === true ? true : a === null || b === null ? null : false);
export const not3 = (a: Tri): Tri => (a === null ? null : !a);

/** A value where a condition is expected: booleans pass, null stays unknown, anything else is unknown too. */
export function asTri(value: unknown): Tri {
  return typeof value === 'boolean' ? value : null;
}

/** Numbers, or strings that spell one (DuckDB would cast them the same way). */
export function asNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return null;
}

/** -1/0/1 like SQL ordering, or null when either side is null or they cannot be compared. */
export function compareValues(a: unknown, b: unknown): number | null {
  if (isNullish(a) || isNullish(b)) return null;
  if (a instanceof Date || b instanceof Date) {
    const x = toMillis(a);
    const y = toMillis(b);
    return x === null || y === null ? null : Math.sign(x - y);
  }
  if (typeof a === 'number' || typeof b === 'number' || typeof a === 'bigint' || typeof b === 'bigint') {
    const x = asNumber(a);
    const y = asNumber(b);
    return x === null || y === null ? null : Math.sign(x - y);
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = canonicalKey(a);
  const y = canonicalKey(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function equals3(a: unknown, b: unknown): Tri {
  const order = compareValues(a, b);
  return order === null ? null : order === 0;
}

/** A stable identity for distinct/intersection (null is one value, as in SQL's DISTINCT and GROUP BY). */
export function canonicalKey(value: unknown): string {
  if (value instanceof Date) return `d${value.getTime()}`;
  if (typeof value === 'number' || typeof value === 'bigint') return `n${Number(value)}`;
  return JSON.stringify(value ?? null);
}

/** Text of a scalar as DuckDB would cast it to VARCHAR (objects as JSON, which no test relies on). */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

/** Collections: arrays as they are, null as empty (as an UNNEST of NULL yields no rows). */
export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Map lookups on JSON objects and on DuckDB's `[{key, value}]` map rendering. */
export function mapGet(map: unknown, key: unknown): unknown {
  if (isNullish(map) || isNullish(key)) return null;
  if (Array.isArray(map)) {
    const entry = map.find((e) => typeof e === 'object' && e !== null && (e as { key?: unknown }).key === key) as { value?: unknown } | undefined;
    return entry?.value ?? null;
  }
  if (typeof map === 'object') return Object.prototype.hasOwnProperty.call(map, textOf(key)) ? ((map as Record<string, unknown>)[textOf(key)] ?? null) : null;
  return null;
}

export function mapEntries(map: unknown): [unknown, unknown][] | null {
  if (isNullish(map)) return null;
  if (Array.isArray(map)) return map.map((e) => [(e as { key?: unknown }).key, (e as { value?: unknown }).value ?? null]);
  if (typeof map === 'object') return Object.entries(map as Record<string, unknown>).map(([k, v]) => [k, v ?? null]);
  return null;
}

/** `like`: `%` any run, `_` one character, everything else literal, case-sensitive, whole text. */
export function likeToRegExp(pattern: string): RegExp {
  const body = [...pattern].map((ch) => (ch === '%' ? '.*' : ch === '_' ? '.' : ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 's');
}

/** PQL regular expressions are Java's; a leading `(?i)` (the documented form) becomes the `i` flag. */
export function pqlRegExp(pattern: string): RegExp {
  const caseless = pattern.startsWith('(?i)');
  return new RegExp(caseless ? pattern.slice(4) : pattern, caseless ? 'i' : '');
}
