/**
 * Small SQL helpers shared by the identity graph and the profile store: quoting, dotted field paths, and
 * integer lists checked before they are inlined.
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

/** A relation of integer ids (one column), as one JSON literal: a `VALUES` list of thousands of rows parses slowly. */
export const idsRelation = (ids: Iterable<number>, column = 'profile_id'): string =>
  `SELECT unnest(from_json('${JSON.stringify([...ids].map((id) => Math.trunc(id)))}', '["BIGINT"]')) AS ${column}`;
