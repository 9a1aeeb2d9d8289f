/**
 * Small SQL helpers shared by the identity graph and the profile store: quoting, dotted field paths, and value
 * lists passed as one JSON parameter (so a list of any length is one bound value, not a pasted literal).
 * The dialect is the warehouse's (DuckDB); other engines get their own adapter of these services.
 */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export const quoteLiteral = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** `a.b.c` → `"a"."b"."c"` (optionally on a table alias). */
export const fieldPath = (path: readonly string[], alias?: string): string => [...(alias ? [alias] : []), ...path].map(quoteIdent).join('.');

/** SQL list of integers (validated, so it can be inlined safely). */
export function intList(values: Iterable<number>): string {
  const out: string[] = [];
  for (const v of values) {
    if (!Number.isSafeInteger(v)) throw new Error(`Not an integer: ${v}`);
    out.push(String(v));
  }
  return out.length ? out.join(', ') : 'NULL';
}

/** SQL that unnests a JSON array parameter of integers, e.g. `unnestInts('$ids')`. */
export const unnestInts = (param: string): string => `SELECT unnest(json_transform(${param}, '["BIGINT"]'))`;

/** SQL that unnests a JSON array parameter of strings. */
export const unnestStrings = (param: string): string => `SELECT unnest(json_transform(${param}, '["VARCHAR"]'))`;
