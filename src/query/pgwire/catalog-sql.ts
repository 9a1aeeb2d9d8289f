/**
 * A small reader and evaluator for the catalog queries Postgres clients send (psql's `\dt`/`\d`/`\l`/`\dn`,
 * drivers' `pg_type` look-ups, `SELECT version()`, `current_setting(…)`). It understands one SELECT (or a
 * UNION of them) over the virtual tables of `catalog.ts`: the select list with aliases, CASE, casts, literals
 * and known functions; WHERE comparisons (`=`, `<>`, `~`, `OPERATOR(pg_catalog.~)`, `IN`, `LIKE`, `IS NULL`,
 * AND/OR/NOT); ORDER BY, LIMIT, OFFSET, DISTINCT and count(*). What it cannot evaluate counts as "unknown":
 * a filter it cannot read keeps the row, a value it cannot compute is NULL. Never used for user data.
 */
import { isTrivia, tokenize, type Token } from '../sql-tokens.ts';
import type { JsonValue } from '../../ports/warehouse.ts';
import { asText } from './pg-types.ts';

export const UNKNOWN = Symbol('unknown');
export type Value = JsonValue | typeof UNKNOWN;

/** One candidate row: a record per virtual table it stands for (`pg_class`, `pg_namespace`, …). */
export type SourceRow = Record<string, Record<string, JsonValue>>;

export interface EvalContext {
  /** Which table an alias (or a table name) stands for. */
  aliases: Map<string, string>;
  /** The table unqualified column names are looked up in first. */
  main: string | undefined;
  /** Known functions and value keywords (`current_user`); undefined when not known. */
  call(name: string, args: Value[], row: SourceRow): Value;
  keyword(name: string): Value;
}

export type Expr =
  | { k: 'lit'; v: JsonValue }
  | { k: 'col'; table: string | undefined; name: string }
  | { k: 'fn'; name: string; args: Expr[]; star: boolean }
  | { k: 'cast'; e: Expr; type: string }
  | { k: 'bin'; op: string; l: Expr; r: Expr }
  | { k: 'not'; e: Expr }
  | { k: 'in'; e: Expr; list: Expr[]; neg: boolean }
  | { k: 'isnull'; e: Expr; neg: boolean }
  | { k: 'case'; subject: Expr | undefined; whens: [Expr, Expr][]; else: Expr | undefined }
  | { k: 'unknown' };

class ParseFailure extends Error {}

export const significantTokens = (sql: string): Token[] => tokenize(sql).filter((t) => !isTrivia(t));
export const upper = (t: Token | undefined): string => (t && t.type === 'ident' ? t.text.toUpperCase() : '');
const identText = (t: Token): string => (t.type === 'qident' ? t.text.slice(1, -1).replace(/""/g, '"') : t.text.toLowerCase());
const isPunct = (t: Token | undefined, p: string): boolean => t !== undefined && t.type === 'punct' && t.text === p;
const isOp = (t: Token | undefined, op: string): boolean => t !== undefined && t.type === 'op' && t.text === op;

const KEYWORDS_ENDING = new Set(['END', 'NULL', 'TRUE', 'FALSE', 'THEN', 'ELSE', 'AND', 'OR', 'NOT', 'DESC', 'ASC', 'FROM']);
const VALUE_KEYWORDS = new Set(['CURRENT_USER', 'SESSION_USER', 'USER', 'CURRENT_ROLE', 'CURRENT_CATALOG', 'CURRENT_SCHEMA', 'CURRENT_DATE', 'CURRENT_TIMESTAMP', 'LOCALTIMESTAMP']);

/** Index of the matching closing bracket for the opener at `open`. */
function closeOf(tokens: readonly Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type === 'punct' && (t.text === '(' || t.text === '[')) depth++;
    if (t.type === 'punct' && (t.text === ')' || t.text === ']') && --depth === 0) return i;
  }
  throw new ParseFailure('unbalanced');
}

/** Splits on a predicate at bracket depth 0. */
export function splitTop(tokens: readonly Token[], isSeparator: (t: Token, i: number) => boolean): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  tokens.forEach((t, i) => {
    if (t.type === 'punct' && (t.text === '(' || t.text === '[')) depth++;
    if (t.type === 'punct' && (t.text === ')' || t.text === ']')) depth--;
    if (depth === 0 && isSeparator(t, i)) parts.push([]);
    else parts[parts.length - 1]!.push(t);
  });
  return parts;
}

/** Position of the first depth-0 token satisfying the predicate at or after `from`, or -1. */
export function findTop(tokens: readonly Token[], predicate: (t: Token, i: number) => boolean, from = 0): number {
  let depth = 0;
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (depth === 0 && predicate(t, i)) return i;
    if (t.type === 'punct' && (t.text === '(' || t.text === '[')) depth++;
    if (t.type === 'punct' && (t.text === ')' || t.text === ']')) depth--;
  }
  return -1;
}

class ExprParser {
  private i = 0;
  constructor(private readonly t: readonly Token[]) {}

  parseAll(): Expr {
    const e = this.or();
    if (this.i < this.t.length) throw new ParseFailure(`unexpected ${this.t[this.i]!.text}`);
    return e;
  }

  private peek(o = 0): Token | undefined {
    return this.t[this.i + o];
  }
  private word(w: string, o = 0): boolean {
    return upper(this.peek(o)) === w;
  }

  private or(): Expr {
    let l = this.and();
    while (this.word('OR')) {
      this.i++;
      l = { k: 'bin', op: 'OR', l, r: this.and() };
    }
    return l;
  }

  private and(): Expr {
    let l = this.not();
    while (this.word('AND')) {
      this.i++;
      l = { k: 'bin', op: 'AND', l, r: this.not() };
    }
    return l;
  }

  private not(): Expr {
    if (this.word('NOT')) {
      this.i++;
      return { k: 'not', e: this.not() };
    }
    return this.cmp();
  }

  private cmp(): Expr {
    const l = this.add();
    const t = this.peek();
    if (t?.type === 'op' && ['=', '<>', '!=', '<', '>', '<=', '>=', '~', '!~', '~*', '!~*', '~~', '!~~'].includes(t.text)) {
      this.i++;
      if ((this.word('ANY') || this.word('SOME') || this.word('ALL')) && isPunct(this.peek(1), '(')) return this.quantified(l, t.text);
      return { k: 'bin', op: t.text, l, r: this.add() };
    }
    if (this.word('OPERATOR') && isPunct(this.peek(1), '(')) {
      const close = closeOf(this.t, this.i + 1);
      const op = this.t
        .slice(this.i + 2, close)
        .filter((x) => x.type === 'op')
        .map((x) => x.text)
        .join('');
      this.i = close + 1;
      return { k: 'bin', op, l, r: this.add() };
    }
    const neg = this.word('NOT') && (this.word('IN', 1) || this.word('LIKE', 1) || this.word('ILIKE', 1));
    if (neg) this.i++;
    if (this.word('IN') && isPunct(this.peek(1), '(')) {
      const close = closeOf(this.t, this.i + 1);
      const inner = this.t.slice(this.i + 2, close);
      this.i = close + 1;
      if (upper(inner[0]) === 'SELECT') return { k: 'unknown' };
      return { k: 'in', e: l, list: splitTop(inner, (x) => isPunct(x, ',')).map((p) => new ExprParser(p).parseAll()), neg };
    }
    if (this.word('LIKE') || this.word('ILIKE')) {
      const op = this.word('LIKE') ? '~~' : '~~*';
      this.i++;
      const e: Expr = { k: 'bin', op, l, r: this.add() };
      return neg ? { k: 'not', e } : e;
    }
    if (this.word('IS')) {
      this.i++;
      const isNot = this.word('NOT');
      if (isNot) this.i++;
      if (this.word('NULL')) {
        this.i++;
        return { k: 'isnull', e: l, neg: isNot };
      }
      if (this.word('TRUE') || this.word('FALSE')) {
        const v = this.word('TRUE');
        this.i++;
        const e: Expr = { k: 'bin', op: '=', l, r: { k: 'lit', v } };
        return isNot ? { k: 'not', e } : e;
      }
      if (this.word('DISTINCT') && this.word('FROM', 1)) {
        this.i += 2;
        const e: Expr = { k: 'bin', op: '<>', l, r: this.add() };
        return isNot ? { k: 'not', e } : e;
      }
      throw new ParseFailure('IS');
    }
    return l;
  }

  /** `x = ANY(ARRAY['a', 'b'])`, `x = ANY('{a,b}')`, `x <> ALL(…)` as IN / NOT IN lists. */
  private quantified(l: Expr, op: string): Expr {
    const all = this.word('ALL');
    const close = closeOf(this.t, this.i + 1);
    const inner = this.t.slice(this.i + 2, close);
    this.i = close + 1;
    let list: Expr[] | undefined;
    if (upper(inner[0]) === 'ARRAY' && isPunct(inner[1], '[')) {
      const end = closeOf(inner, 1);
      list = splitTop(inner.slice(2, end), (x) => isPunct(x, ',')).map((p) => new ExprParser(p).parseAll());
    } else if (inner[0]?.type === 'string') {
      const body = inner[0].text.slice(1, -1).replace(/''/g, "'");
      if (body.startsWith('{') && body.endsWith('}')) {
        list = body
          .slice(1, -1)
          .split(',')
          .filter((x) => x !== '')
          .map((x) => ({ k: 'lit', v: x.trim().replace(/^"(.*)"$/, '$1') }));
      }
    }
    if (!list) return { k: 'unknown' };
    if (op === '=' && !all) return { k: 'in', e: l, list, neg: false };
    if ((op === '<>' || op === '!=') && all) return { k: 'in', e: l, list, neg: true };
    return { k: 'unknown' };
  }

  private add(): Expr {
    let l = this.unary();
    for (;;) {
      const t = this.peek();
      if (t?.type === 'op' && ['+', '-', '*', '/', '||', '%'].includes(t.text)) {
        this.i++;
        l = { k: 'bin', op: t.text, l, r: this.unary() };
      } else return l;
    }
  }

  private unary(): Expr {
    if (isOp(this.peek(), '-') && this.peek(1)?.type === 'number') {
      this.i += 2;
      return this.postfix({ k: 'lit', v: -Number(this.t[this.i - 1]!.text) });
    }
    return this.postfix(this.primary());
  }

  private postfix(e: Expr): Expr {
    for (;;) {
      if (isOp(this.peek(), '::')) {
        this.i++;
        e = { k: 'cast', e, type: this.typeName() };
      } else if (this.word('COLLATE')) {
        this.i++;
        this.qualifiedName();
      } else if (isPunct(this.peek(), '[')) {
        this.i = closeOf(this.t, this.i) + 1;
        e = { k: 'unknown' };
      } else return e;
    }
  }

  private typeName(): string {
    const name = this.qualifiedName();
    if (isPunct(this.peek(), '(')) this.i = closeOf(this.t, this.i) + 1;
    while (isPunct(this.peek(), '[')) this.i = closeOf(this.t, this.i) + 1;
    return name.split('.').pop()!;
  }

  private qualifiedName(): string {
    const parts: string[] = [];
    for (;;) {
      const t = this.peek();
      if (!t || (t.type !== 'ident' && t.type !== 'qident')) throw new ParseFailure('name expected');
      parts.push(identText(t));
      this.i++;
      if (isPunct(this.peek(), '.')) this.i++;
      else return parts.join('.');
    }
  }

  private primary(): Expr {
    const t = this.peek();
    if (!t) throw new ParseFailure('end of expression');
    if (t.type === 'string') {
      this.i++;
      return { k: 'lit', v: t.text.slice(1, -1).replace(/''/g, "'") };
    }
    if (t.type === 'number') {
      this.i++;
      return { k: 'lit', v: Number(t.text) };
    }
    if (isPunct(t, '(')) {
      const close = closeOf(this.t, this.i);
      const inner = this.t.slice(this.i + 1, close);
      this.i = close + 1;
      if (upper(inner[0]) === 'SELECT' || upper(inner[0]) === 'WITH') return { k: 'unknown' };
      return new ExprParser(inner).parseAll();
    }
    if (t.type === 'op' && t.text === '*') {
      this.i++;
      return { k: 'unknown' };
    }
    if (t.type !== 'ident' && t.type !== 'qident') throw new ParseFailure(`unexpected ${t.text}`);
    const w = upper(t);
    if (w === 'NULL' || w === 'TRUE' || w === 'FALSE') {
      this.i++;
      return { k: 'lit', v: w === 'NULL' ? null : w === 'TRUE' };
    }
    if (w === 'CASE') return this.caseExpr();
    if ((w === 'ARRAY' || w === 'EXISTS') && (isPunct(this.peek(1), '(') || isPunct(this.peek(1), '['))) {
      this.i = closeOf(this.t, this.i + 1) + 1;
      return { k: 'unknown' };
    }
    if (w === 'E' && this.peek(1)?.type === 'string') {
      this.i++;
      return this.primary();
    }
    // A type name before a string: DATE '2024-01-01', pg_catalog.regclass 'x'.
    if (t.type === 'ident' && this.peek(1)?.type === 'string' && !['AS'].includes(w)) {
      this.i++;
      return this.primary();
    }
    const name = this.qualifiedName();
    if (isPunct(this.peek(), '(')) {
      const close = closeOf(this.t, this.i);
      const inner = this.t.slice(this.i + 1, close);
      this.i = close + 1;
      if (this.word('OVER') || this.word('FILTER') || this.word('WITHIN')) throw new ParseFailure('window');
      const star = inner.length === 1 && isOp(inner[0], '*');
      const argTokens = star || inner.length === 0 ? [] : splitTop(inner, (x) => isPunct(x, ','));
      if (argTokens.length && upper(argTokens[0]![0]) === 'DISTINCT') argTokens[0]!.shift();
      return { k: 'fn', name: name.split('.').pop()!, args: argTokens.map((p) => new ExprParser(p).parseAll()), star };
    }
    const parts = name.split('.');
    if (parts.length === 1 && VALUE_KEYWORDS.has(parts[0]!.toUpperCase())) return { k: 'fn', name: parts[0]!, args: [], star: false };
    return { k: 'col', table: parts.length > 1 ? parts[parts.length - 2] : undefined, name: parts[parts.length - 1]! };
  }

  private caseExpr(): Expr {
    this.i++;
    const end = this.findEnd();
    const body = this.t.slice(this.i, end);
    this.i = end + 1;
    const whenAt = body.map((x, i) => (upper(x) === 'WHEN' ? i : -1)).filter((i) => i >= 0 && findTop(body, (_, j) => j === i) === i);
    const elseAt = findTop(body, (x) => upper(x) === 'ELSE');
    const subject = whenAt[0]! > 0 ? new ExprParser(body.slice(0, whenAt[0])).parseAll() : undefined;
    const whens: [Expr, Expr][] = whenAt.map((at, n) => {
      const stop = whenAt[n + 1] ?? (elseAt === -1 ? body.length : elseAt);
      const part = body.slice(at + 1, stop);
      const then = findTop(part, (x) => upper(x) === 'THEN');
      return [new ExprParser(part.slice(0, then)).parseAll(), new ExprParser(part.slice(then + 1)).parseAll()];
    });
    return { k: 'case', subject, whens, else: elseAt === -1 ? undefined : new ExprParser(body.slice(elseAt + 1)).parseAll() };
  }

  /** The END closing the CASE whose body starts at `this.i` (nested CASEs counted). */
  private findEnd(): number {
    let depth = 0;
    let nest = 0;
    for (let i = this.i; i < this.t.length; i++) {
      const x = this.t[i]!;
      if (isPunct(x, '(')) depth++;
      if (isPunct(x, ')')) depth--;
      if (depth === 0 && upper(x) === 'CASE') nest++;
      if (depth === 0 && upper(x) === 'END') {
        if (nest === 0) return i;
        nest--;
      }
    }
    throw new ParseFailure('CASE without END');
  }
}

/** Parses an expression, or gives `unknown` when it uses something this reader does not know. */
export function parseExpr(tokens: readonly Token[]): Expr {
  try {
    return new ExprParser(tokens).parseAll();
  } catch (error) {
    if (error instanceof ParseFailure) return { k: 'unknown' };
    throw error;
  }
}

/** A select-list item: its expression and the name Postgres would give the column. */
export function parseSelectItem(tokens: Token[]): { expr: Expr; name: string; star: boolean } {
  let body = tokens;
  let alias: string | undefined;
  const last = tokens[tokens.length - 1];
  const before = tokens[tokens.length - 2];
  if (tokens.length >= 2 && last && (last.type === 'ident' || last.type === 'qident')) {
    if (upper(before) === 'AS') {
      alias = identText(last);
      body = tokens.slice(0, -2);
    } else if (!KEYWORDS_ENDING.has(upper(last)) && before && !isPunct(before, '.') && before.type !== 'op' && !['IS', 'NOT', 'DISTINCT', 'TIME', 'WITH'].includes(upper(before))) {
      alias = identText(last);
      body = tokens.slice(0, -1);
    }
  }
  if (body.length === 1 && isOp(body[0], '*')) return { expr: { k: 'unknown' }, name: '*', star: true };
  if (body.length === 3 && isPunct(body[1], '.') && isOp(body[2], '*')) return { expr: { k: 'unknown' }, name: '*', star: true };
  const expr = parseExpr(body);
  return { expr, name: alias ?? defaultName(expr), star: false };
}

function defaultName(e: Expr): string {
  switch (e.k) {
    case 'col':
      return e.name;
    case 'fn':
      return e.name.toLowerCase();
    case 'cast':
      return e.e.k === 'lit' || e.e.k === 'unknown' ? e.type : defaultName(e.e);
    case 'case':
      return 'case';
    default:
      return '?column?';
  }
}

// ----------------------------------------------------------------------------------------------- evaluation

const truthy = (v: Value): boolean | null | typeof UNKNOWN => (v === UNKNOWN ? UNKNOWN : v === null ? null : v === true || v === 't' || v === 'true');

function compare(op: string, a: Value, b: Value): Value {
  if (a === UNKNOWN || b === UNKNOWN) return UNKNOWN;
  if (a === null || b === null) return null;
  if (op.includes('~')) {
    const negate = op.startsWith('!');
    const like = op.includes('~~');
    const flags = op.endsWith('*') ? 'i' : '';
    const pattern = asText(b);
    let re: RegExp;
    try {
      re = like ? new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\*]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.')}$`, flags + 's') : new RegExp(pattern, flags);
    } catch {
      return UNKNOWN;
    }
    return re.test(asText(a)) !== negate;
  }
  const numeric = typeof a === 'number' || typeof b === 'number';
  const x = numeric ? Number(a) : typeof a === 'boolean' || typeof b === 'boolean' ? String(truthy(a)) : asText(a);
  const y = numeric ? Number(b) : typeof a === 'boolean' || typeof b === 'boolean' ? String(truthy(b)) : asText(b);
  if (numeric && (Number.isNaN(x) || Number.isNaN(y))) return UNKNOWN;
  switch (op) {
    case '=':
      return x === y;
    case '<>':
    case '!=':
      return x !== y;
    case '<':
      return x < y;
    case '>':
      return x > y;
    case '<=':
      return x <= y;
    case '>=':
      return x >= y;
  }
  return UNKNOWN;
}

export function evaluate(e: Expr, row: SourceRow, ctx: EvalContext): Value {
  switch (e.k) {
    case 'lit':
      return e.v;
    case 'unknown':
      return UNKNOWN;
    case 'col': {
      const table = e.table === undefined ? undefined : (ctx.aliases.get(e.table) ?? e.table);
      if (table !== undefined) {
        const record = row[table];
        return record && e.name in record ? record[e.name]! : UNKNOWN;
      }
      const order = [ctx.main, ...Object.keys(row)].filter((x): x is string => x !== undefined);
      for (const name of order) if (row[name] && e.name in row[name]) return row[name][e.name]!;
      const keyword = ctx.keyword(e.name);
      return keyword;
    }
    case 'fn': {
      const args = e.args.map((a) => evaluate(a, row, ctx));
      return ctx.call(e.name.toLowerCase(), args, row);
    }
    case 'cast': {
      const v = evaluate(e.e, row, ctx);
      if (v === UNKNOWN || v === null) return v;
      const type = e.type.toLowerCase();
      if (['int', 'int2', 'int4', 'int8', 'integer', 'bigint', 'smallint', 'oid', 'regtype', 'regproc', 'float4', 'float8', 'numeric'].includes(type)) {
        if (type === 'regtype' && typeof v === 'number') return ctx.call('format_type', [v, null], row);
        const n = Number(v);
        return Number.isNaN(n) ? UNKNOWN : n;
      }
      if (type === 'regclass' && typeof v === 'number') return ctx.call('__regclass', [v], row);
      if (type === 'bool' || type === 'boolean') return truthy(v);
      if (['text', 'varchar', 'name', 'char', 'bpchar', 'character'].includes(type)) return typeof v === 'object' ? JSON.stringify(v) : typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v);
      return v;
    }
    case 'bin': {
      if (e.op === 'AND' || e.op === 'OR') {
        const l = truthy(evaluate(e.l, row, ctx));
        const r = truthy(evaluate(e.r, row, ctx));
        if (e.op === 'AND') return l === false || r === false ? false : l === UNKNOWN || r === UNKNOWN ? UNKNOWN : l === null || r === null ? null : true;
        return l === true || r === true ? true : l === UNKNOWN || r === UNKNOWN ? UNKNOWN : l === null || r === null ? null : false;
      }
      const l = evaluate(e.l, row, ctx);
      const r = evaluate(e.r, row, ctx);
      if (e.op === '||') return l === UNKNOWN || r === UNKNOWN ? UNKNOWN : l === null || r === null ? null : `${asText(l)}${asText(r)}`;
      if (['+', '-', '*', '/', '%'].includes(e.op)) {
        if (typeof l !== 'number' || typeof r !== 'number') return l === null || r === null ? null : UNKNOWN;
        return e.op === '+' ? l + r : e.op === '-' ? l - r : e.op === '*' ? l * r : e.op === '/' ? Math.trunc(l / r) : l % r;
      }
      return compare(e.op, l, r);
    }
    case 'not': {
      const v = truthy(evaluate(e.e, row, ctx));
      return v === UNKNOWN || v === null ? v : !v;
    }
    case 'in': {
      const v = evaluate(e.e, row, ctx);
      if (v === UNKNOWN) return UNKNOWN;
      if (v === null) return null;
      const values = e.list.map((x) => evaluate(x, row, ctx));
      if (values.includes(UNKNOWN)) return UNKNOWN;
      const found = values.some((x) => compare('=', v, x) === true);
      return found !== e.neg;
    }
    case 'isnull': {
      const v = evaluate(e.e, row, ctx);
      return v === UNKNOWN ? UNKNOWN : (v === null) !== e.neg;
    }
    case 'case': {
      const subject = e.subject === undefined ? undefined : evaluate(e.subject, row, ctx);
      for (const [when, then] of e.whens) {
        const hit = subject === undefined ? truthy(evaluate(when, row, ctx)) : compare('=', subject, evaluate(when, row, ctx));
        if (hit === UNKNOWN) return UNKNOWN;
        if (hit === true) return evaluate(then, row, ctx);
      }
      return e.else === undefined ? null : evaluate(e.else, row, ctx);
    }
  }
}

/** A WHERE condition keeps a row unless it is certainly false or NULL. */
export function keeps(e: Expr, row: SourceRow, ctx: EvalContext): boolean {
  const v = truthy(evaluate(e, row, ctx));
  return v === true || v === UNKNOWN;
}
