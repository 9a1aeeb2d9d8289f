/**
 * Template parameters: which `$NAME` placeholders a statement uses (bare, or inside a string literal as
 * `'$NAME'`, the same rule the query service substitutes by) and how the values of a run are assembled from
 * the template's defaults, the schedule's persisted values and the run's own. Keys are stored and accepted with
 * or without the `$`; the query service receives them without it.
 */
import { tokenize } from '../sql-tokens.ts';

const IN_STRING = /\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Placeholder names (without `$`) in order of first use. Throws `RT_QUERY_SYNTAX` on SQL that cannot be read. */
export function placeholders(sql: string): string[] {
  const names = new Set<string>();
  for (const t of tokenize(sql)) {
    if (t.type === 'param') names.add(t.text.slice(1));
    else if (t.type === 'string') for (const m of t.text.matchAll(IN_STRING)) names.add(m[1]!);
  }
  return [...names];
}

/**
 * One layer of values with `$` stripped. Empty values are left out, so that they count as missing and the run is
 * refused (the reference UI refuses to run with an empty parameter value).
 */
export function normaliseParams(values: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values ?? {})) {
    if (typeof value === 'string' && value !== '') out[key.replace(/^\$/, '')] = value;
  }
  return out;
}

/** Later layers win; extra parameters the SQL does not use are passed along and ignored by the query service. */
export function mergeParams(...layers: (Readonly<Record<string, string>> | undefined)[]): Record<string, string> {
  return Object.assign({}, ...layers.map(normaliseParams)) as Record<string, string>;
}

/** A stored JSON value as string parameters (anything else is dropped). */
export function asParams(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
