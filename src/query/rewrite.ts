/**
 * Token rewrites that turn Data Distiller SQL into DuckDB SQL: template parameters, block variables, the Spark
 * spellings DuckDB lacks (`STRUCT(x AS a)`, `dateadd(DAY, n, d)`, `inline(…)`, `MINUS`), `history_meta('t')`,
 * `table_exists('t')`, and `SNAPSHOT SINCE | AS OF | BETWEEN` on a table reference. Plain functions with another
 * name (`MAP_FROM_ARRAYS`, `COLLECT_LIST`, …) are DuckDB macros instead (`macros.ts`).
 */
import { RoundtripError } from '../core/errors.ts';
import { rewriteDataGroupChains } from './accelerated.ts';
import { hotTable, type JsonValue } from '../ports/warehouse.ts';
import {
  closingParen,
  identName,
  isTrivia,
  isWord,
  nextSignificant,
  quoteString,
  render,
  splitArgs,
  tokenize,
  unquoteString,
  type Token,
} from './sql-tokens.ts';

const synthetic = (text: string): Token => ({ type: 'ident', text, start: -1 });

/** Replaces `$NAME` (bare or inside string literals) with the run's values; refuses the run if any is missing. */
export function substituteParams(sql: string, params: Record<string, string>): string {
  const tokens = tokenize(sql);
  const missing = new Set<string>();
  const valueOf = (name: string): string => {
    const value = params[name] ?? params[`$${name}`];
    if (value === undefined) missing.add(name);
    return value ?? '';
  };
  const out = tokens.map((t) => {
    if (t.type === 'param') return valueOf(t.text.slice(1));
    if (t.type === 'string' && t.text.includes('$')) {
      return quoteString(unquoteString(t.text).replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, name: string) => valueOf(name)));
    }
    return t.text;
  });
  if (missing.size) {
    const names = [...missing].map((n) => `$${n}`).join(', ');
    throw new RoundtripError('RT_QUERY_PARAMETER_MISSING', `No value for ${names}; pass it with the run (or store it on the schedule).`, { missing: [...missing] });
  }
  return out.join('');
}

export function sqlLiteral(value: JsonValue | undefined): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'string') return quoteString(value);
  return quoteString(JSON.stringify(value));
}

/** `@name` → the block variable's value as a SQL literal. */
export function substituteVariables(tokens: readonly Token[], vars: ReadonlyMap<string, JsonValue>): Token[] {
  return tokens.map((t) => {
    if (t.type !== 'var') return t;
    const name = t.text.slice(1).toLowerCase();
    if (!vars.has(name)) throw new RoundtripError('RT_QUERY_VARIABLE_UNKNOWN', `${t.text} has no value; set it first with SET ${t.text} = SELECT …`);
    return synthetic(sqlLiteral(vars.get(name)));
  });
}

/** The argument list of a call whose name is at `nameIndex`: [open paren index, close paren index] or undefined. */
function callAt(tokens: readonly Token[], nameIndex: number): [number, number] | undefined {
  const open = nextSignificant(tokens, nameIndex + 1);
  if (tokens[open]?.type !== 'punct' || tokens[open].text !== '(') return undefined;
  return [open, closingParen(tokens, open)];
}

const trimTrivia = (tokens: Token[]): Token[] => {
  let a = 0;
  let b = tokens.length;
  while (a < b && isTrivia(tokens[a]!)) a++;
  while (b > a && isTrivia(tokens[b - 1]!)) b--;
  return tokens.slice(a, b);
};

/** `STRUCT(a AS x, t.b)` → `struct_pack(x := a, b := t.b)`. */
function structArgs(args: Token[][]): string {
  return args
    .map((arg) => {
      const parts = trimTrivia(arg);
      let depth = 0;
      let asIndex = -1;
      parts.forEach((t, k) => {
        if (t.type === 'punct' && '([{'.includes(t.text)) depth++;
        if (t.type === 'punct' && ')]}'.includes(t.text)) depth--;
        if (depth === 0 && isWord(t, 'AS')) asIndex = k;
      });
      if (asIndex > 0) return `${render(parts.slice(asIndex + 1)).trim()} := ${render(parts.slice(0, asIndex)).trim()}`;
      const last = [...parts].reverse().find((t) => t.type === 'ident' || t.type === 'qident');
      return last ? `"${identName(last)}" := ${render(parts).trim()}` : render(parts);
    })
    .join(', ');
}

export interface CatalogLookups {
  /** Rows of `history_meta('t')`, or undefined when `t` is not a dataset. */
  historyMeta(table: string): Promise<HistoryRow[] | undefined>;
  tableExists(table: string): Promise<boolean>;
  /** The snapshot id range `(after, upTo]` a SNAPSHOT clause selects, after expiry rules. */
  snapshotRange(table: string, clause: SnapshotClause): Promise<{ after: number; upTo: number | null }>;
  /** Data-group schemas (`d.s`, lower-case), for `d.s.t[.column]` names anywhere (`accelerated.ts`). */
  dataGroupSchemas?(): Promise<ReadonlySet<string>>;
  /** Tables of the warehouse's hot catalog (lower-case), read by their plain names. */
  hotTables?(): Promise<ReadonlySet<string>>;
}

export interface HistoryRow {
  snapshot_id: number;
  parent_id: number | null;
  is_current: boolean;
  created_at: string;
  row_count: number;
  batch_id: string;
}

export type SnapshotBound = number | 'HEAD' | 'TAIL';
export type SnapshotClause = { kind: 'since'; from: SnapshotBound } | { kind: 'as-of'; to: SnapshotBound } | { kind: 'between'; from: SnapshotBound; to: SnapshotBound };

function historyValues(rows: HistoryRow[]): string {
  const columns = '(snapshot_id, parent_id, is_current, created_at, row_count, batch_id)';
  if (rows.length === 0) return `(SELECT * FROM (VALUES (NULL::BIGINT, NULL::BIGINT, NULL::BOOLEAN, NULL::TIMESTAMPTZ, NULL::BIGINT, NULL::VARCHAR)) AS __history${columns} WHERE false)`;
  const values = rows
    .map((r) => `(${r.snapshot_id}::BIGINT, ${r.parent_id === null ? 'NULL' : r.parent_id}::BIGINT, ${r.is_current}, '${r.created_at}'::TIMESTAMPTZ, ${r.row_count}::BIGINT, ${quoteString(r.batch_id)})`)
    .join(', ');
  return `(SELECT * FROM (VALUES ${values}) AS __history${columns})`;
}

function parseBound(token: Token | undefined): SnapshotBound {
  if (token?.type === 'number') return Number(token.text);
  if (isWord(token, 'HEAD')) return 'HEAD';
  if (isWord(token, 'TAIL')) return 'TAIL';
  if (token?.type === 'string' || (token?.type === 'ident' && token.start === -1)) {
    const text = token.type === 'string' ? unquoteString(token.text) : token.text.replace(/^'|'$/g, '');
    if (/^(HEAD|TAIL)$/i.test(text)) return text.toUpperCase() as 'HEAD' | 'TAIL';
    if (/^\d+$/.test(text)) return Number(text);
  }
  throw new RoundtripError('RT_QUERY_SNAPSHOT_INVALID', `A SNAPSHOT bound must be a snapshot id, HEAD or TAIL, not ${token?.text ?? 'nothing'}.`);
}

const REF_BEFORE = new Set(['FROM', 'JOIN', ',']);

/** Finds the table (and alias) a SNAPSHOT clause at `at` applies to, looking back over `t`, `t a` and `t AS a`. */
function tableBefore(tokens: readonly Token[], at: number): { start: number; table: string; alias: string } | undefined {
  const previous: number[] = [];
  for (let i = at - 1; i >= 0 && previous.length < 4; i--) if (!isTrivia(tokens[i]!)) previous.push(i);
  const word = (k: number) => tokens[previous[k]!];
  const isName = (t: Token | undefined) => t?.type === 'ident' || t?.type === 'qident';
  const before = (k: number) => {
    const t = word(k);
    return t !== undefined && REF_BEFORE.has(t.type === 'punct' ? t.text : t.text.toUpperCase());
  };
  if (isName(word(0)) && before(1)) return { start: previous[0]!, table: identName(word(0)!), alias: identName(word(0)!) };
  if (isName(word(0)) && isWord(word(1), 'AS') && isName(word(2)) && before(3)) return { start: previous[2]!, table: identName(word(2)!), alias: identName(word(0)!) };
  if (isName(word(0)) && isName(word(1)) && before(2)) return { start: previous[1]!, table: identName(word(1)!), alias: identName(word(0)!) };
  return undefined;
}

/** Reads `SNAPSHOT SINCE x | AS OF x | BETWEEN x AND y` (or a bare `AS OF x`) at `at`; returns the clause and where it ends. */
function readSnapshotClause(tokens: readonly Token[], at: number): { clause: SnapshotClause; end: number } | undefined {
  let i = at;
  if (isWord(tokens[i], 'SNAPSHOT')) i = nextSignificant(tokens, i + 1);
  const keyword = tokens[i];
  const arg = (k: number) => nextSignificant(tokens, k + 1);
  if (isWord(keyword, 'SINCE')) {
    const a = arg(i);
    return { clause: { kind: 'since', from: parseBound(tokens[a]) }, end: a + 1 };
  }
  if (isWord(keyword, 'AS') && isWord(tokens[arg(i)], 'OF')) {
    const a = arg(arg(i));
    return { clause: { kind: 'as-of', to: parseBound(tokens[a]) }, end: a + 1 };
  }
  if (isWord(keyword, 'BETWEEN') && at !== i) {
    const a = arg(i);
    const and = arg(a);
    if (!isWord(tokens[and], 'AND')) throw new RoundtripError('RT_QUERY_SNAPSHOT_INVALID', 'SNAPSHOT BETWEEN needs `AND`.');
    const b = arg(and);
    return { clause: { kind: 'between', from: parseBound(tokens[a]), to: parseBound(tokens[b]) }, end: b + 1 };
  }
  return undefined;
}

const SYSTEM_SNAPSHOT = '"_rt_snapshot_id"';

async function rewriteSnapshots(tokens: Token[], lookups: CatalogLookups): Promise<Token[]> {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const startsClause = isWord(t, 'SNAPSHOT') || (isWord(t, 'AS') && isWord(tokens[nextSignificant(tokens, i + 1)], 'OF'));
    const read = startsClause ? readSnapshotClause(tokens, i) : undefined;
    if (!read) {
      out.push(t);
      continue;
    }
    const ref = tableBefore(out, out.length);
    if (!ref) throw new RoundtripError('RT_QUERY_SNAPSHOT_INVALID', 'SNAPSHOT applies to a table reference (FROM t SNAPSHOT …), not to a sub-query.');
    const { after, upTo } = await lookups.snapshotRange(ref.table, read.clause);
    const bound = upTo === null ? '' : ` AND ${SYSTEM_SNAPSHOT} <= ${upTo}`;
    out.splice(ref.start, out.length - ref.start, synthetic(`(SELECT * FROM "${ref.table}" WHERE ${SYSTEM_SNAPSHOT} > ${after}${bound}) AS "${ref.alias}"`));
    i = read.end - 1;
  }
  return out;
}

const TABLE_POSITION = new Set(['FROM', 'JOIN', 'INTO', 'TABLE', 'UPDATE']);

/**
 * Data groups: `database.schema.table` in a table position names a table of a schema created by
 * `CREATE SCHEMA database.schema`; DuckDB keeps it as the schema `"database.schema"` (one database file per
 * sandbox, so there is no second catalog to point at).
 */
export function rewriteDataGroupNames(tokens: readonly Token[]): Token[] {
  const out = [...tokens];
  for (let i = 0; i < out.length; i++) {
    if (!(out[i]!.type === 'ident' && TABLE_POSITION.has(out[i]!.text.toUpperCase()))) continue;
    const a = nextSignificant(out, i + 1);
    const [n1, d1, n2, d2, n3] = [out[a], out[a + 1], out[a + 2], out[a + 3], out[a + 4]];
    const isName = (t: Token | undefined) => t?.type === 'ident' || t?.type === 'qident';
    const isDot = (t: Token | undefined) => t?.type === 'punct' && t.text === '.';
    if (isName(n1) && isDot(d1) && isName(n2) && isDot(d2) && isName(n3)) {
      out.splice(a, 5, synthetic(`"${identName(n1!)}.${identName(n2!)}"."${identName(n3!)}"`));
    }
  }
  return out;
}

const COMPARISONS = new Set(['=', '==', '!=', '<>', '<', '>', '<=', '>=']);

/** Spark reads `i.type == "chair"` as a string; right after a comparison a double-quoted word is one here too. */
function doubleQuotedStrings(tokens: Token[]): Token[] {
  let previous: Token | undefined;
  return tokens.map((t) => {
    const out = t.type === 'qident' && previous?.type === 'op' && COMPARISONS.has(previous.text) ? synthetic(quoteString(identName(t))) : t;
    if (!isTrivia(t)) previous = t;
    return out;
  });
}

const isDot = (t: Token | undefined): boolean => t?.type === 'punct' && t.text === '.';

/**
 * A plain name of a hot-catalog table (e.g. `_rt_segment_membership`, which SQL reads like any table) → its
 * qualified name; qualified names, columns (`m.x`) and function calls stay as they are.
 */
function rewriteHotTables(tokens: readonly Token[], tables: ReadonlySet<string>): Token[] {
  if (tables.size === 0) return [...tokens];
  return tokens.map((t, i) => {
    if (t.type !== 'ident' && t.type !== 'qident') return t;
    const name = identName(t).toLowerCase();
    if (!tables.has(name)) return t;
    const next = tokens[nextSignificant(tokens, i + 1)];
    const previous = tokens.slice(0, i).reverse().find((x) => !isTrivia(x));
    if (isDot(previous) || isDot(next) || (next?.type === 'punct' && next.text === '(')) return t;
    return synthetic(hotTable(name));
  });
}

/** Applies the Spark-spelling and catalog rewrites to one statement's tokens. */
export async function rewriteStatement(input: readonly Token[], lookups: CatalogLookups): Promise<Token[]> {
  // Only system tables live there: the catalog is not asked about statements that name none.
  const namesSystemTable = input.some((t) => (t.type === 'ident' || t.type === 'qident') && identName(t).toLowerCase().startsWith('_rt_'));
  const hot = lookups.hotTables && namesSystemTable ? rewriteHotTables(input, await lookups.hotTables()) : input;
  const chained = lookups.dataGroupSchemas ? rewriteDataGroupChains(hot, await lookups.dataGroupSchemas()) : hot;
  let tokens = doubleQuotedStrings(rewriteDataGroupNames(chained));
  // Right to left, so that calls nested in arguments (STRUCT inside STRUCT) are rewritten before their callers.
  for (let i = tokens.length - 1; i >= 0; i--) {
    const t = tokens[i]!;
    if (t.type !== 'ident') continue;
    const name = t.text.toUpperCase();
    if (name === 'MINUS') {
      tokens[i] = synthetic('EXCEPT');
      continue;
    }
    if (!['STRUCT', 'DATEADD', 'INLINE', 'HISTORY_META', 'TABLE_EXISTS'].includes(name)) continue;
    const call = callAt(tokens, i);
    if (!call) continue;
    const [open, close] = call;
    const args = splitArgs(tokens, open + 1, close);
    let replacement: string;
    let from = i;
    if (name === 'STRUCT') {
      replacement = `struct_pack(${structArgs(args)})`;
    } else if (name === 'DATEADD') {
      if (args.length !== 3) continue;
      const unit = render(trimTrivia(args[0]!)).trim().replace(/^'|'$/g, '');
      replacement = `((${render(args[2]!).trim()}) + (${render(args[1]!).trim()}) * INTERVAL 1 ${unit})`;
    } else if (name === 'INLINE') {
      replacement = `unnest(${render(tokens.slice(open + 1, close))}, recursive := true)`;
    } else {
      const arg = trimTrivia(args[0] ?? []);
      if (arg.length !== 1 || arg[0]!.type !== 'string') throw new RoundtripError('RT_QUERY_SYNTAX', `${t.text}() takes one table name in quotes.`);
      const table = unquoteString(arg[0]!.text);
      if (name === 'TABLE_EXISTS') replacement = (await lookups.tableExists(table)) ? 'TRUE' : 'FALSE';
      else {
        const rows = await lookups.historyMeta(table);
        if (!rows) throw new RoundtripError('RT_DATASET_NOT_FOUND', `history_meta('${table}'): no dataset has this table name.`);
        const values = historyValues(rows);
        // `SELECT history_meta('t')` (the reference's usage) reads the rows; elsewhere the call is a table.
        const selectAt = tokens.slice(0, i).map((x) => !isTrivia(x)).lastIndexOf(true);
        if (isWord(tokens[selectAt], 'SELECT')) {
          from = selectAt;
          replacement = `SELECT * FROM ${values} AS history_meta`;
        } else replacement = values;
      }
    }
    tokens = [...tokens.slice(0, from), synthetic(replacement), ...tokens.slice(close + 1)];
    i = from;
  }
  return rewriteSnapshots(tokens, lookups);
}
