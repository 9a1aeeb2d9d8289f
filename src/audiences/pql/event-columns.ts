/**
 * Which columns of the events relation a compiled expression reads, so that a batch job materialises only
 * those (the full relation carries `identityMap` and every XDM field group the segments do not read). Read
 * off the SQL of `sql-compiler.ts`, whose shape it relies on: an event row is only ever introduced as
 * `<eventsTable> AS <alias>` and read as `<alias>."<column>"` (then `[…]` for nested fields); any other use of
 * an alias (a whole row in a list, a comparison of rows) answers `null`: read everything.
 */

/** Single-quoted literals (dropped: their text is data) and double-quoted identifiers (kept). */
const QUOTED = /"(?:[^"]|"")*"|'(?:[^']|'')*'/g;
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The top-level event columns read by `sql` (compiled with `eventsTable`), `profile_id` excluded; `null` when
 * some event row is used whole. An expression without events reads none.
 */
export function eventColumnsRead(sql: string, eventsTable: string): string[] | null {
  const code = sql.replace(QUOTED, (token) => (token.startsWith("'") ? "''" : token));
  const declaration = new RegExp(`${escapeRegExp(eventsTable)} AS ([A-Za-z_][A-Za-z0-9_]*)`, 'g');
  const aliases = [...code.matchAll(declaration)].map((m) => m[1]!);
  const body = code.replace(declaration, ' ');
  const columns = new Set<string>();
  for (const alias of new Set(aliases)) {
    const use = new RegExp(`(?<![A-Za-z0-9_."])${escapeRegExp(alias)}(?![A-Za-z0-9_])(\\.("(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_]*))?`, 'g');
    for (const m of body.matchAll(use)) {
      const member = m[2];
      if (member === undefined) return null;
      const name = member.startsWith('"') ? member.slice(1, -1).replace(/""/g, '"') : member;
      if (name !== 'profile_id') columns.add(name);
    }
  }
  return [...columns].sort();
}
