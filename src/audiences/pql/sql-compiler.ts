/**
 * The batch PQL engine: AST → one DuckDB boolean expression over a profile row (`ctx.profileAlias`) with
 * correlated subqueries over the events and membership relations. Collections compile to a small relational
 * form (`Seq`: FROM, WHERE, item, order) so that filter/map/count/exists/CHAIN over xEvent become plain
 * `EXISTS`/scalar subqueries that DuckDB decorrelates into joins.
 *
 * Semantics match the evaluator (`evaluator.ts`): SQL three-valued logic, collapsed to false by the caller's
 * WHERE; arithmetic in DOUBLE with division by zero = null; null collections as empty; every relative time
 * computed once in JS from `ctx.now` and inlined as a TIMESTAMPTZ constant. Calendar arithmetic relative to
 * another event (CHAIN `WHEN(<= 1 months after C0)`) and day/month parts of timestamps use the session time
 * zone, which must be UTC (the warehouse's default on a UTC host; docs/pql.md).
 */
import { RoundtripError } from '../../core/errors.ts';
import type { CallNode, ChainNode, PqlNode, QuantifierNode, TimeAnchor, TimeSpec } from './ast.ts';
import { COLLECTION_CALLS, isCollectionNode, isExistentialCompare } from './shapes.ts';
import { addUnits, unitMillis, unitMonths, wordSpan, windowOf, type Bound, type Span, type TimeOps } from './time-words.ts';

export interface SqlContext {
  profileAlias: string;
  eventsTable: string;
  membershipTable: string;
  now: string;
  arrayPaths?: readonly string[];
}

/**
 * A compiled value; `row` marks a table alias (an event row), whose fields are columns; `path` is the field
 * path it reads (`person.orders`, `xEvent.productListItems`) when known, `list` that the path is an array.
 */
interface Val { sql: string; row?: boolean; path?: string; list?: boolean }

/** A collection in relational form: `SELECT … FROM from WHERE where…`, one row per item, ordered by `order`. */
interface Seq { from: string; where: string[]; item: Val; order: string }

interface Scope {
  readonly ctx: SqlContext;
  readonly nowMs: number;
  readonly variables: ReadonlyMap<string, Val>;
  readonly item: Val | null;
  readonly steps: ReadonlyMap<string, string>;
  readonly aliases: { next: number };
}

export function compile(node: PqlNode, ctx: SqlContext): string {
  const nowMs = Date.parse(ctx.now);
  if (Number.isNaN(nowMs)) throw new RoundtripError('RT_PQL_TYPE', `The evaluation time '${ctx.now}' is not an ISO instant`);
  const scope: Scope = { ctx, nowMs, variables: new Map(), item: null, steps: new Map(), aliases: { next: 0 } };
  return `coalesce(${expr(node, scope).sql}, false)`;
}

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────────────────
const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const text = (value: string): string => `'${value.replace(/'/g, "''")}'`;
const instant = (ms: number): string => `TIMESTAMPTZ ${text(new Date(ms).toISOString())}`;
const v = (sql: string): Val => ({ sql });
const alias = (scope: Scope, prefix: string): string => `${prefix}${scope.aliases.next++}`;
const withVariable = (scope: Scope, name: string, value: Val): Scope => ({ ...scope, variables: new Map(scope.variables).set(name, value) });
const whereClause = (conditions: string[]): string => (conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`);
const num = (val: Val): string => `CAST(${val.sql} AS DOUBLE)`;

function fail(node: PqlNode, message: string): RoundtripError {
  return new RoundtripError('RT_PQL_UNSUPPORTED', `${message} (line ${node.pos.line}, column ${node.pos.column})`, { line: node.pos.line, column: node.pos.column });
}

function memberOf(base: Val, name: string, scope: Scope): Val {
  const path = base.path === undefined ? undefined : `${base.path}.${name}`;
  const list = base.list === true || (path !== undefined && (scope.ctx.arrayPaths ?? []).includes(path));
  // Over an array field, PQL maps the member access over the items.
  const sql = base.row ? `${base.sql}.${ident(name)}` : base.list ? `list_transform(${base.sql}, x -> x[${text(name)}])` : `(${base.sql})[${text(name)}]`;
  return { sql, ...(path === undefined ? {} : { path }), ...(list ? { list } : {}) };
}

const SEQ_CALLS = COLLECTION_CALLS;
const isSeqNode = isCollectionNode;

// ── scalar expressions ──────────────────────────────────────────────────────────────────────────────────────
function expr(node: PqlNode, scope: Scope): Val {
  if (isSeqNode(node)) return listOf(seq(node, scope));
  if (node.kind === 'compare' && isExistentialCompare(node)) {
    const source = seq(node.left, scope);
    return v(exists(source, [`${source.item.sql} ${node.op === '!=' ? '<>' : node.op} ${expr(node.right, scope).sql}`]));
  }
  switch (node.kind) {
    case 'string': return v(text(node.value));
    case 'number': return v(Number.isInteger(node.value) && Math.abs(node.value) < 2 ** 31 ? `(${node.value})` : `CAST(${node.value} AS DOUBLE)`);
    case 'boolean': return v(node.value ? 'TRUE' : 'FALSE');
    case 'null': return v('NULL');
    case 'date': return v(instant(Date.UTC(node.year, node.month - 1, node.day)));
    case 'timeWord': return v(instant(wordSpan(node.word, scope.nowMs).start));
    case 'ref': return ref(node, scope);
    case 'member': return memberOf(expr(node.object, scope), node.name, scope);
    case 'compare': return v(`(${expr(node.left, scope).sql} ${node.op === '!=' ? '<>' : node.op} ${expr(node.right, scope).sql})`);
    case 'arith': return arith(node.op, expr(node.left, scope), expr(node.right, scope));
    case 'negate': return v(`(-${num(expr(node.operand, scope))})`);
    case 'and': return v(`(${expr(node.left, scope).sql} AND ${expr(node.right, scope).sql})`);
    case 'or': return v(`(${expr(node.left, scope).sql} OR ${expr(node.right, scope).sql})`);
    case 'not': return v(`(NOT ${expr(node.operand, scope).sql})`);
    case 'call': return call(node, scope);
    case 'lambda': return expr(node.body, scope);
    case 'quantifier': return v(quantify(node, 0, scope));
    case 'aggregate': {
      const source = seq(node.source, scope);
      const inner = withVariable(scope, node.variable, source.item);
      const filtered = node.where ? { ...source, where: [...source.where, expr(node.where, inner).sql] } : source;
      if (node.fn === 'count') return aggregate('count', filtered);
      return aggregate(node.fn, node.value ? { ...filtered, item: expr(node.value, inner) } : filtered);
    }
    case 'let': {
      let inner = scope;
      for (const binding of node.bindings) inner = withVariable(inner, binding.name, expr(binding.value, inner));
      return expr(node.body, inner);
    }
    case 'occurs': return v(occurs(expr(node.subject, scope).sql, node.spec, scope));
    case 'chain': return v(chain(node, scope));
    case 'stepRef': {
      const at = scope.steps.get(node.label);
      if (!at) throw fail(node, `The step '${node.label}' is not an earlier step of this CHAIN`);
      return v(at);
    }
    case 'select': return listOf(seq(node, scope));
    case 'array': return listOf(seq(node, scope));
  }
}

function ref(node: Extract<PqlNode, { kind: 'ref' }>, scope: Scope): Val {
  switch (node.binding) {
    case 'profile': {
      const list = (scope.ctx.arrayPaths ?? []).includes(node.name);
      return { sql: `${scope.ctx.profileAlias}.${ident(node.name)}`, path: node.name, ...(list ? { list } : {}) };
    }
    case 'item':
      if (!scope.item) throw fail(node, `'${node.name}' has no item to refer to`);
      return memberOf(scope.item, node.name, scope);
    case 'variable': {
      const bound = scope.variables.get(node.name);
      if (!bound) throw fail(node, `'${node.name}' is not bound`);
      return bound;
    }
    case 'xEvent': return listOf(seq(node, scope));
  }
}

function arith(op: string, left: Val, right: Val): Val {
  if (op === '/' || op === '%') return v(`(${num(left)} ${op} NULLIF(${num(right)}, 0))`);
  return v(`(${num(left)} ${op} ${num(right)})`);
}

// ── collections ─────────────────────────────────────────────────────────────────────────────────────────────
function seq(node: PqlNode, scope: Scope): Seq {
  if (node.kind === 'ref' && node.binding === 'xEvent') {
    const a = alias(scope, 'e');
    return { from: `${scope.ctx.eventsTable} AS ${a}`, where: [`${a}.profile_id = ${scope.ctx.profileAlias}.profile_id`], item: { sql: a, row: true, path: 'xEvent' }, order: `${a}."timestamp"` };
  }
  if (node.kind === 'select') {
    const source = seq(node.source, scope);
    if (!node.where) return source;
    return { ...source, where: [...source.where, expr(node.where, withVariable(scope, node.variable, source.item)).sql] };
  }
  if (node.kind === 'member' && isSeqNode(node.object)) {
    const source = seq(node.object, scope);
    return { ...source, item: memberOf(source.item, node.name, scope) };
  }
  if (node.kind === 'array') return unnest(`[${node.items.map((item) => expr(item, scope).sql).join(', ')}]`, scope);
  if (node.kind === 'call' && node.target && SEQ_CALLS.has(node.name)) return seqCall(node, node.target, scope);
  return unnest(expr(node, scope).sql, scope);
}

function unnest(list: string, scope: Scope): Seq {
  const a = alias(scope, 'u');
  return { from: `unnest(${list}) WITH ORDINALITY AS ${a}(v, o)`, where: [], item: v(`${a}.v`), order: `${a}.o` };
}

/** Evaluates an item-context argument with `item` in scope. */
function perItem(arg: PqlNode, item: Val, scope: Scope): Val {
  return arg.kind === 'lambda' ? expr(arg.body, withVariable(scope, arg.param, item)) : expr(arg, { ...scope, item });
}

function seqCall(node: CallNode, target: PqlNode, scope: Scope): Seq {
  const source = seq(target, scope);
  switch (node.name) {
    case 'filter': return { ...source, where: [...source.where, perItem(node.args[0]!, source.item, scope).sql] };
    case 'map': return { ...source, item: perItem(node.args[0]!, source.item, scope) };
    case 'distinct': return distinct(source, scope);
    case 'topN': case 'bottomN': {
      const a = alias(scope, 'r');
      const key = perItem(node.args[0]!, source.item, scope).sql;
      const count = node.args[1]!;
      const n = count.kind === 'number' ? count.value : 0;
      const ranking = `row_number() OVER (ORDER BY ${key} ${node.name === 'topN' ? 'DESC' : 'ASC'} NULLS LAST, ${source.order})`;
      return {
        from: `(SELECT ${source.item.sql} AS v, ${ranking} AS o FROM ${source.from}${whereClause(source.where)}) AS ${a}`,
        where: [`${a}.o <= ${n}`], item: v(`${a}.v`), order: `${a}.o`,
      };
    }
    case 'intersection': {
      const other = seq(node.args[0]!, scope);
      const present = `EXISTS (SELECT 1 FROM ${other.from}${whereClause([...other.where, `${other.item.sql} = ${source.item.sql}`])})`;
      return distinct({ ...source, where: [...source.where, `${source.item.sql} IS NOT NULL`, present] }, scope);
    }
  }
  throw fail(node, `'${node.name}' does not give a collection`);
}

/** First occurrence of each item, in the collection's order (NULL is one value, as in GROUP BY). */
function distinct(source: Seq, scope: Scope): Seq {
  const a = alias(scope, 'd');
  return {
    from: `(SELECT ${source.item.sql} AS v, min(${source.order}) AS o FROM ${source.from}${whereClause(source.where)} GROUP BY 1) AS ${a}`,
    where: [], item: v(`${a}.v`), order: `${a}.o`,
  };
}

function listOf(source: Seq): Val {
  return v(`coalesce((SELECT list(${source.item.sql} ORDER BY ${source.order}) FROM ${source.from}${whereClause(source.where)}), [])`);
}

function aggregate(fn: 'count' | 'sum' | 'average' | 'min' | 'max', source: Seq): Val {
  const tail = `FROM ${source.from}${whereClause(source.where)}`;
  switch (fn) {
    case 'count': return v(`(SELECT count(*) ${tail})`);
    case 'sum': return v(`(SELECT coalesce(sum(${num(source.item)}), 0) ${tail})`);
    case 'average': return v(`(SELECT avg(${num(source.item)}) ${tail})`);
    default: return v(`(SELECT ${fn}(${source.item.sql}) ${tail})`);
  }
}

const exists = (source: Seq, extra: string[] = []): string => `EXISTS (SELECT 1 FROM ${source.from}${whereClause([...source.where, ...extra])})`;

// ── functions ───────────────────────────────────────────────────────────────────────────────────────────────
const TEXT_SQL: Record<string, { sql: (a: string, b: string) => string; negated: boolean }> = {
  startsWith: { sql: (a, b) => `starts_with(${a}, ${b})`, negated: false },
  doesNotStartWith: { sql: (a, b) => `starts_with(${a}, ${b})`, negated: true },
  endsWith: { sql: (a, b) => `ends_with(${a}, ${b})`, negated: false },
  doesNotEndWith: { sql: (a, b) => `ends_with(${a}, ${b})`, negated: true },
  contains: { sql: (a, b) => `contains(${a}, ${b})`, negated: false },
  doesNotContain: { sql: (a, b) => `contains(${a}, ${b})`, negated: true },
  equals: { sql: (a, b) => `(${a} = ${b})`, negated: false },
  notEqualTo: { sql: (a, b) => `(${a} = ${b})`, negated: true },
};

function call(node: CallNode, scope: Scope): Val {
  const target = (): Val => expr(node.target!, scope);
  const arg = (i: number): Val => expr(node.args[i]!, scope);
  const collection = (): Seq => seq(node.target!, scope);
  const textTest = TEXT_SQL[node.name];
  if (textTest) {
    const caseSensitive = node.args[1]?.kind === 'boolean' ? node.args[1].value : true;
    const fold = (val: Val): string => (caseSensitive ? `CAST(${val.sql} AS VARCHAR)` : `lower(CAST(${val.sql} AS VARCHAR))`);
    const test = textTest.sql(fold(target()), fold(arg(0)));
    return v(textTest.negated ? `(NOT ${test})` : test);
  }
  switch (node.name) {
    case 'like': return v(`(${target().sql} LIKE ${arg(0).sql})`);
    case 'matches': return v(`regexp_matches(${target().sql}, ${arg(0).sql})`);
    case 'regexGroup': {
      const [s, p] = [target().sql, arg(0).sql];
      return v(`(CASE WHEN regexp_matches(${s}, ${p}) THEN regexp_extract(${s}, ${p}, ${arg(1).sql}) END)`);
    }
    case 'count': return aggregate('count', collection());
    case 'sum': case 'average': case 'min': case 'max': {
      const source = collection();
      return aggregate(node.name, node.args[0] ? { ...source, item: perItem(node.args[0], source.item, scope) } : source);
    }
    case 'head': {
      const source = collection();
      return v(`(SELECT ${source.item.sql} FROM ${source.from}${whereClause(source.where)} ORDER BY ${source.order} LIMIT 1)`);
    }
    case 'intersects': {
      const [left, right] = [collection(), seq(node.args[0]!, scope)];
      return v(exists(left, [`${left.item.sql} IS NOT NULL`, exists(right, [`${right.item.sql} = ${left.item.sql}`])]));
    }
    case 'subsetOf': return v(subset(collection(), seq(node.args[0]!, scope)));
    case 'supersetOf': return v(subset(seq(node.args[0]!, scope), collection()));
    case 'includes': {
      const source = collection();
      return v(exists(source, [`${source.item.sql} = ${arg(0).sql}`]));
    }
    case 'in': case 'notIn': {
      const test = membership(target(), node.args[0]!, scope);
      return v(node.name === 'in' ? test : `(NOT ${test})`);
    }
    case 'get': return v(`(${target().sql})[${arg(0).sql}]`);
    case 'keys': return v(`map_keys(${target().sql})`);
    case 'values': return v(`map_values(${target().sql})`);
    case 'isNull': return v(`(${target().sql} IS NULL)`);
    case 'isNotNull': return v(`(${target().sql} IS NOT NULL)`);
    case 'getMonth': return v(`month(${target().sql})`);
    case 'getYear': return v(`year(${target().sql})`);
    case 'getDayOfMonth': return v(`day(${target().sql})`);
    case 'currentMonth': return v(String(new Date(scope.nowMs).getUTCMonth() + 1));
    case 'currentYear': return v(String(new Date(scope.nowMs).getUTCFullYear()));
    case 'currentDayOfMonth': return v(String(new Date(scope.nowMs).getUTCDate()));
    case 'if': return v(`(CASE WHEN ${arg(0).sql} THEN ${arg(1).sql} ELSE ${arg(2).sql} END)`);
    case 'inSegment': {
      const m = alias(scope, 'm');
      return v(`EXISTS (SELECT 1 FROM ${scope.ctx.membershipTable} AS ${m} WHERE ${m}.segment_id = ${arg(0).sql} AND ${m}.profile_id = ${scope.ctx.profileAlias}.profile_id AND ${m}.status = 'realized')`);
    }
  }
  throw fail(node, `The function '${node.name}' cannot be compiled to SQL`);
}

/** `x IN (…)` with SQL's own null rules (the evaluator's `member3` mirrors them). */
function membership(x: Val, list: PqlNode, scope: Scope): string {
  if (list.kind === 'array') {
    if (list.items.length === 0) return 'FALSE';
    return `(${x.sql} IN (${list.items.map((item) => expr(item, scope).sql).join(', ')}))`;
  }
  const source = seq(list, scope);
  return `(${x.sql} IN (SELECT ${source.item.sql} FROM ${source.from}${whereClause(source.where)}))`;
}

function subset(small: Seq, big: Seq): string {
  return `(NOT ${exists(small, [`${small.item.sql} IS NOT NULL`, `NOT ${exists(big, [`${big.item.sql} = ${small.item.sql}`])}`])})`;
}

// ── quantifiers, time, sequences ────────────────────────────────────────────────────────────────────────────
function quantify(node: QuantifierNode, index: number, scope: Scope): string {
  const binding = node.bindings[index];
  if (!binding) return 'TRUE';
  const source = seq(binding.source, scope);
  const inner = withVariable(scope, binding.variable, source.item);
  const where = binding.where ? expr(binding.where, inner).sql : 'TRUE';
  const rest = quantify(node, index + 1, inner);
  if (node.quantifier === 'exists') return exists(source, [where, rest]);
  return `(NOT ${exists(source, [`NOT (coalesce(${where}, FALSE) AND ${rest})`])})`;
}

/** SQL time values: a constant (folded in JS) or an expression (an event's timestamp). */
interface SqlTime { ms?: number; sql: string }
const SQL_TIME: TimeOps<SqlTime> = {
  constant: (ms) => ({ ms, sql: instant(ms) }),
  add: (value, amount, unit) => {
    if (value.ms !== undefined) return SQL_TIME.constant(addUnits(value.ms, amount, unit));
    const fixed = unitMillis(unit);
    return { sql: fixed !== null ? `(${value.sql} + to_microseconds(${amount * fixed * 1000}))` : `(${value.sql} + to_months(${amount * unitMonths(unit)}))` };
  },
};

function anchorSpan(anchor: TimeAnchor, scope: Scope): Span<SqlTime> {
  if (anchor.kind === 'timeWord') {
    const span = wordSpan(anchor.word, scope.nowMs);
    return { start: SQL_TIME.constant(span.start), end: SQL_TIME.constant(span.end), point: span.point };
  }
  if (anchor.kind === 'date') {
    const start = Date.UTC(anchor.year, anchor.month - 1, anchor.day);
    return { start: SQL_TIME.constant(start), end: SQL_TIME.constant(addUnits(start, 1, 'day')), point: false };
  }
  const at = { sql: expr(anchor, scope).sql };
  return { start: at, end: at, point: true };
}

function occurs(subject: string, spec: TimeSpec, scope: Scope): string {
  const window = windowOf(spec, scope.nowMs, SQL_TIME, (anchor) => anchorSpan(anchor, scope));
  const bound = (b: Bound<SqlTime> | null, op: string): string[] => (b === null ? [] : [`${subject} ${op}${b.inclusive ? '=' : ''} ${b.at.sql}`]);
  const parts = [...bound(window.lower, '>'), ...bound(window.upper, '<')];
  return `(${parts.join(' AND ')})`;
}

function chain(node: ChainNode, scope: Scope): string {
  if (!(node.source.kind === 'ref' && node.source.binding === 'xEvent')) throw fail(node, 'CHAIN runs over xEvent only');
  const from: string[] = [];
  const where: string[] = [];
  const steps = new Map(scope.steps);
  let previous: string | null = null;
  for (const step of node.steps) {
    const a = alias(scope, 'c');
    const ts = `${a}.${ident(node.timestampField)}`;
    from.push(`${scope.ctx.eventsTable} AS ${a}`);
    where.push(`${a}.profile_id = ${scope.ctx.profileAlias}.profile_id`, `${ts} IS NOT NULL`);
    if (previous) where.push(`${ts} > ${previous}`);
    const stepScope: Scope = { ...scope, item: { sql: a, row: true, path: 'xEvent' }, steps };
    where.push(expr(step.what, stepScope).sql);
    if (step.when) where.push(occurs(ts, step.when, stepScope));
    steps.set(step.label, ts);
    previous = ts;
  }
  return `EXISTS (SELECT 1 FROM ${from.join(', ')}${whereClause(where)})`;
}
