/**
 * The in-process PQL engine for streaming evaluation of one profile: walks the AST over the profile and its
 * events as JSON. It follows the SQL compiler's semantics exactly (three-valued logic, null collections as
 * empty, windows from `time-words.ts`); the parity property test holds the two together.
 */
import { RoundtripError } from '../../core/errors.ts';
import type { CallNode, ChainNode, PqlNode, QuantifierNode, TimeAnchor, TimeSpec } from './ast.ts';
import { isExistentialCompare } from './shapes.ts';
import { addUnits, toMillis, wordSpan, windowOf, type Span, type TimeOps } from './time-words.ts';
import {
  and3, asArray, asNumber, asTri, canonicalKey, compareValues, equals3, isNullish, likeToRegExp, mapEntries, mapGet, not3, or3, pqlRegExp, textOf, type Tri,
} from './values.ts';

export interface EvalInput {
  profile: Record<string, unknown>;
  events: readonly Record<string, unknown>[];
  segments: ReadonlySet<string>;
  now: Date;
}

interface Env {
  readonly input: EvalInput;
  readonly nowMs: number;
  /** xEvent, oldest first. */
  readonly events: readonly Record<string, unknown>[];
  readonly variables: ReadonlyMap<string, unknown>;
  readonly item: unknown;
  readonly steps: ReadonlyMap<string, number>;
}

export function evaluate(node: PqlNode, input: EvalInput): boolean {
  const events = [...input.events]
    .map((event, index) => ({ event, index, ts: toMillis(event['timestamp']) }))
    .sort((a, b) => (a.ts ?? Infinity) - (b.ts ?? Infinity) || a.index - b.index)
    .map((entry) => entry.event);
  const env: Env = { input, nowMs: input.now.getTime(), events, variables: new Map(), item: null, steps: new Map() };
  return asTri(value(node, env)) === true;
}

const withVariable = (env: Env, name: string, bound: unknown): Env => ({ ...env, variables: new Map(env.variables).set(name, bound) });
const withItem = (env: Env, item: unknown): Env => ({ ...env, item });

function cond(node: PqlNode, env: Env): Tri {
  return asTri(value(node, env));
}

function value(node: PqlNode, env: Env): unknown {
  switch (node.kind) {
    case 'string': case 'number': case 'boolean': return node.value;
    case 'null': return null;
    case 'date': return new Date(Date.UTC(node.year, node.month - 1, node.day));
    case 'array': return node.items.map((item) => value(item, env));
    case 'timeWord': return new Date(wordSpan(node.word, env.nowMs).start);
    case 'ref': return ref(node.name, node.binding, env);
    case 'member': return member(value(node.object, env), node.name);
    case 'compare': {
      const right = value(node.right, env);
      if (isExistentialCompare(node)) return asArray(value(node.left, env)).some((item) => compare(node.op, item, right) === true);
      return compare(node.op, value(node.left, env), right);
    }
    case 'arith': return arith(node.op, value(node.left, env), value(node.right, env));
    case 'negate': { const n = asNumber(value(node.operand, env)); return n === null ? null : -n; }
    case 'and': return and3(cond(node.left, env), cond(node.right, env));
    case 'or': return or3(cond(node.left, env), cond(node.right, env));
    case 'not': return not3(cond(node.operand, env));
    case 'call': return call(node, env);
    case 'lambda': return value(node.body, env);
    case 'quantifier': return quantify(node, 0, env);
    case 'select': return asArray(value(node.source, env)).filter((item) => node.where === null || cond(node.where, withVariable(env, node.variable, item)) === true);
    case 'aggregate': {
      const items = asArray(value(node.source, env)).filter((item) => node.where === null || cond(node.where, withVariable(env, node.variable, item)) === true);
      if (node.fn === 'count') return items.length;
      return aggregate(node.fn, items.map((item) => (node.value ? value(node.value, withVariable(env, node.variable, item)) : item)));
    }
    case 'let': {
      let scope = env;
      for (const binding of node.bindings) scope = withVariable(scope, binding.name, value(binding.value, scope));
      return value(node.body, scope);
    }
    case 'occurs': return occurs(toMillis(value(node.subject, env)), node.spec, env);
    case 'chain': return chain(node, env);
    case 'stepRef': return env.steps.has(node.label) ? new Date(env.steps.get(node.label)!) : null;
  }
}

function ref(name: string, binding: 'profile' | 'item' | 'variable' | 'xEvent', env: Env): unknown {
  switch (binding) {
    case 'profile': return env.input.profile[name] ?? null;
    case 'item': return member(env.item, name);
    case 'variable': return env.variables.get(name) ?? null;
    case 'xEvent': return env.events;
  }
}

/** Field of an object; over a list, the field of each item (PQL maps member access over arrays). */
function member(object: unknown, name: string): unknown {
  if (Array.isArray(object)) return object.map((item) => member(item, name));
  if (isNullish(object) || typeof object !== 'object') return null;
  return (object as Record<string, unknown>)[name] ?? null;
}

function compare(op: string, left: unknown, right: unknown): Tri {
  const order = compareValues(left, right);
  if (order === null) return null;
  switch (op) {
    case '=': return order === 0;
    case '!=': return order !== 0;
    case '<': return order < 0;
    case '<=': return order <= 0;
    case '>': return order > 0;
    default: return order >= 0;
  }
}

function arith(op: string, left: unknown, right: unknown): number | null {
  const a = asNumber(left);
  const b = asNumber(right);
  if (a === null || b === null) return null;
  switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/': return b === 0 ? null : a / b;
    default: return b === 0 ? null : a % b;
  }
}

function aggregate(fn: 'sum' | 'average' | 'min' | 'max', values: unknown[]): unknown {
  const present = values.filter((v) => !isNullish(v));
  if (fn === 'sum') return present.reduce<number>((total, v) => total + (asNumber(v) ?? 0), 0);
  if (present.length === 0) return null;
  if (fn === 'average') return present.reduce<number>((total, v) => total + (asNumber(v) ?? 0), 0) / present.length;
  return present.reduce((best, v) => {
    const order = compareValues(v, best);
    return order !== null && (fn === 'min' ? order < 0 : order > 0) ? v : best;
  });
}

// ── functions ───────────────────────────────────────────────────────────────────────────────────────────────
/** Evaluates an item-context argument for one item (`cond` with the item in scope, or `x => cond`). */
function perItem(arg: PqlNode, item: unknown, env: Env): unknown {
  return arg.kind === 'lambda' ? value(arg.body, withVariable(env, arg.param, item)) : value(arg, withItem(env, item));
}

function call(node: CallNode, env: Env): unknown {
  const target = node.target === null ? undefined : value(node.target, env);
  const arg = (i: number): unknown => value(node.args[i]!, env);
  switch (node.name) {
    case 'startsWith': case 'doesNotStartWith': case 'endsWith': case 'doesNotEndWith':
    case 'contains': case 'doesNotContain': case 'equals': case 'notEqualTo':
      return textTest(node, target, arg(0));
    case 'like': return textOp(target, arg(0), (s, p) => likeToRegExp(p).test(s));
    case 'matches': return textOp(target, arg(0), (s, p) => pqlRegExp(p).test(s));
    case 'regexGroup': {
      if (isNullish(target) || isNullish(arg(0))) return null;
      const match = pqlRegExp(textOf(arg(0))).exec(textOf(target));
      return match ? (match[asNumber(arg(1)) ?? 0] ?? '') : null;
    }
    case 'count': return asArray(target).length;
    case 'sum': case 'average': case 'min': case 'max':
      return aggregate(node.name, asArray(target).map((item) => (node.args[0] ? perItem(node.args[0], item, env) : item)));
    case 'distinct': return distinct(asArray(target));
    case 'filter': return asArray(target).filter((item) => asTri(perItem(node.args[0]!, item, env)) === true);
    case 'map': return asArray(target).map((item) => perItem(node.args[0]!, item, env));
    case 'topN': case 'bottomN': return ranked(asArray(target), node, env);
    case 'head': return asArray(target)[0] ?? null;
    case 'intersects': return asArray(target).some((a) => !isNullish(a) && asArray(arg(0)).some((b) => equals3(a, b) === true));
    case 'intersection': return distinct(asArray(target).filter((a) => !isNullish(a) && asArray(arg(0)).some((b) => equals3(a, b) === true)));
    case 'subsetOf': return subset(asArray(target), asArray(arg(0)));
    case 'supersetOf': return subset(asArray(arg(0)), asArray(target));
    case 'includes': { const x = arg(0); return asArray(target).some((a) => equals3(a, x) === true); }
    case 'in': return member3(target, asArray(arg(0)));
    case 'notIn': return not3(member3(target, asArray(arg(0))));
    case 'get': return mapGet(target, arg(0));
    case 'keys': return mapEntries(target)?.map(([k]) => k) ?? null;
    case 'values': return mapEntries(target)?.map(([, v]) => v) ?? null;
    case 'isNull': return isNullish(target);
    case 'isNotNull': return !isNullish(target);
    case 'getMonth': case 'getYear': case 'getDayOfMonth': return datePart(node.name, toMillis(target));
    case 'currentMonth': return datePart('getMonth', env.nowMs);
    case 'currentYear': return datePart('getYear', env.nowMs);
    case 'currentDayOfMonth': return datePart('getDayOfMonth', env.nowMs);
    case 'if': return cond(node.args[0]!, env) === true ? arg(1) : arg(2);
    case 'inSegment': { const id = arg(0); return typeof id === 'string' && env.input.segments.has(id); }
  }
  throw new RoundtripError('RT_PQL_UNSUPPORTED', `The function '${node.name}' cannot be evaluated`, { line: node.pos.line, column: node.pos.column });
}

function textOp(target: unknown, pattern: unknown, test: (s: string, p: string) => boolean): Tri {
  if (isNullish(target) || isNullish(pattern)) return null;
  return test(textOf(target), textOf(pattern));
}

const TEXT_TESTS: Record<string, { test: (a: string, b: string) => boolean; negated: boolean }> = {
  startsWith: { test: (a, b) => a.startsWith(b), negated: false },
  doesNotStartWith: { test: (a, b) => a.startsWith(b), negated: true },
  endsWith: { test: (a, b) => a.endsWith(b), negated: false },
  doesNotEndWith: { test: (a, b) => a.endsWith(b), negated: true },
  contains: { test: (a, b) => a.includes(b), negated: false },
  doesNotContain: { test: (a, b) => a.includes(b), negated: true },
  equals: { test: (a, b) => a === b, negated: false },
  notEqualTo: { test: (a, b) => a === b, negated: true },
};

function textTest(node: CallNode, target: unknown, other: unknown): Tri {
  const caseSensitive = node.args[1]?.kind === 'boolean' ? node.args[1].value : true;
  const fold = (s: string): string => (caseSensitive ? s : s.toLowerCase());
  const { test, negated } = TEXT_TESTS[node.name]!;
  const result = textOp(target, other, (s, o) => test(fold(s), fold(o)));
  return negated ? not3(result) : result;
}

function distinct(items: unknown[]): unknown[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = canonicalKey(item);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** topN/bottomN: by the value, nulls last, ties in the collection's order. */
function ranked(items: unknown[], node: CallNode, env: Env): unknown[] {
  const n = asNumber(value(node.args[1]!, env)) ?? 0;
  const direction = node.name === 'topN' ? -1 : 1;
  return items
    .map((item, index) => ({ item, index, key: perItem(node.args[0]!, item, env) }))
    .sort((a, b) => {
      if (isNullish(a.key) || isNullish(b.key)) return Number(isNullish(a.key)) - Number(isNullish(b.key)) || a.index - b.index;
      return direction * (compareValues(a.key, b.key) ?? 0) || a.index - b.index;
    })
    .slice(0, n)
    .map((entry) => entry.item);
}

function subset(small: unknown[], big: unknown[]): boolean {
  return small.every((a) => isNullish(a) || big.some((b) => equals3(a, b) === true));
}

/** SQL's `x IN (…)`: false on an empty list, unknown for a null x or when only a null item could match. */
function member3(x: unknown, list: unknown[]): Tri {
  if (list.length === 0) return false;
  if (isNullish(x)) return null;
  let unknown = false;
  for (const item of list) {
    const eq = equals3(x, item);
    if (eq === true) return true;
    if (eq === null) unknown = true;
  }
  return unknown ? null : false;
}

function datePart(name: string, ms: number | null): number | null {
  if (ms === null) return null;
  const date = new Date(ms);
  return name === 'getMonth' ? date.getUTCMonth() + 1 : name === 'getYear' ? date.getUTCFullYear() : date.getUTCDate();
}

// ── quantifiers, time, sequences ────────────────────────────────────────────────────────────────────────────
function quantify(node: QuantifierNode, index: number, env: Env): boolean {
  const binding = node.bindings[index];
  if (!binding) return true;
  const items = asArray(value(binding.source, env));
  const holds = (item: unknown): boolean => {
    const scope = withVariable(env, binding.variable, item);
    return (binding.where === null || cond(binding.where, scope) === true) && quantify(node, index + 1, scope);
  };
  return node.quantifier === 'exists' ? items.some(holds) : items.every(holds);
}

const JS_TIME: TimeOps<number | null> = {
  constant: (ms) => ms,
  add: (ms, amount, unit) => (ms === null ? null : addUnits(ms, amount, unit)),
};

function anchorSpan(anchor: TimeAnchor, env: Env): Span<number | null> {
  if (anchor.kind === 'timeWord') return wordSpan(anchor.word, env.nowMs);
  if (anchor.kind === 'date') {
    const start = Date.UTC(anchor.year, anchor.month - 1, anchor.day);
    return { start, end: addUnits(start, 1, 'day'), point: false };
  }
  const ms = toMillis(value(anchor, env));
  return { start: ms, end: ms, point: true };
}

function occurs(ms: number | null, spec: TimeSpec, env: Env): Tri {
  const window = windowOf(spec, env.nowMs, JS_TIME, (anchor) => anchorSpan(anchor, env));
  const check = (bound: { at: number | null; inclusive: boolean } | null, below: boolean): Tri => {
    if (bound === null) return true;
    if (ms === null || bound.at === null) return null;
    const d = below ? bound.at - ms : ms - bound.at;
    return bound.inclusive ? d >= 0 : d > 0;
  };
  if (ms === null) return null;
  return and3(check(window.lower, false), check(window.upper, true));
}

function chain(node: ChainNode, env: Env): boolean {
  const events = asArray(value(node.source, env))
    .map((event) => ({ event, ts: toMillis(member(event, node.timestampField)) }))
    .filter((entry): entry is { event: unknown; ts: number } => entry.ts !== null);
  const search = (step: number, after: number, steps: Map<string, number>): boolean => {
    const spec = node.steps[step];
    if (!spec) return true;
    return events.some(({ event, ts }) => {
      if (ts <= after) return false;
      const scope: Env = { ...withItem(env, event), steps };
      if (cond(spec.what, scope) !== true) return false;
      if (spec.when !== null && occurs(ts, spec.when, scope) !== true) return false;
      return search(step + 1, ts, new Map(steps).set(spec.label, ts));
    });
  };
  return search(0, -Infinity, new Map());
}

