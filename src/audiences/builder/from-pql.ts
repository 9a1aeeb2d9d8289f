/**
 * PQL AST → builder tree, for the expressions the builder can show (the inverse of `to-pql.ts`). Anything
 * else is not an error: the result says the expression "can only be edited in code view", with the reason
 * and the position of the first part the builder cannot show, and the console keeps the PQL text.
 *
 * Reading order: a node is first matched as one block (an attribute condition, an event card, a sequence, an
 * audience, including the parenthesised two-comparison forms `to-pql.ts` prints), and only if it is none of
 * those is an `and`/`or`/`not` turned into a container. Time constraints shared by every event card (two or
 * more) come back as the canvas-level constraint. `normalizeRule` (in `normalize.ts`) gives the tree this
 * function returns for any builder tree.
 */
import { parsePql } from '../pql/index.ts';
import type { CallNode, ChainStep, PqlNode, Pos, TimeAnchor, TimeSpec, TimeUnit as PqlTimeUnit } from '../pql/ast.ts';
import {
  TIME_UNITS,
  type Aggregation, type Condition, type EventBlock, type EventCondition, type RuleBlock, type RuleContainer, type SegmentRule,
  type SequenceStep, type TimeConstraint, type TimeUnit, type Value,
} from './model.ts';
import { liftCanvasTime } from './normalize.ts';
import { fromTo } from './dates.ts';

export type FromPqlResult =
  | { editable: true; rule: SegmentRule }
  | { editable: false; reason: string; pos: Pos | null };

/** Thrown inside this module only; `pqlToRule` turns it into the "code view" result. */
class NotEditable extends Error {
  constructor(readonly reason: string, readonly pos: Pos | null) {
    super(reason);
  }
}

const fail = (node: { pos?: Pos } | null, reason: string): never => {
  throw new NotEditable(reason, node?.pos ?? null);
};

/** The builder tree of a parsed PQL expression, or why it can only be edited in code view. */
export function pqlToRule(node: PqlNode): FromPqlResult {
  try {
    return { editable: true, rule: liftCanvasTime({ version: 1, root: rootContainer(node) }) };
  } catch (error) {
    if (error instanceof NotEditable) {
      return { editable: false, reason: `This expression can only be edited in code view: ${error.reason}.`, pos: error.pos };
    }
    throw error;
  }
}

/** Parses (RT_PQL_SYNTAX on bad text) and converts. */
export function pqlTextToRule(source: string): FromPqlResult {
  return pqlToRule(parsePql(source));
}

// ── structure helpers ───────────────────────────────────────────────────────────────────────────────────────

/** Structural equality of two subtrees, ignoring positions. */
export function sameNode(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a).filter((k) => k !== 'pos');
  if (keys.length !== Object.keys(b).filter((k) => k !== 'pos').length) return false;
  return keys.every((k) => sameNode((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

const isCall = (node: PqlNode | null | undefined, name: string): node is CallNode => node?.kind === 'call' && node.name === name;

type Binding = 'profile' | 'item';

/** `a.b.c` rooted at a name of the given binding, as a dotted path. */
function pathOf(node: PqlNode, binding: Binding): string | null {
  if (node.kind === 'ref') return node.binding === binding ? node.name : null;
  if (node.kind === 'member') {
    const parent = pathOf(node.object, binding);
    return parent === null ? null : `${parent}.${node.name}`;
  }
  return null;
}

interface Subject { field: string; mapKey?: string }

function subjectOf(node: PqlNode, binding: Binding): Subject | null {
  if (isCall(node, 'get') && node.target && node.args[0]?.kind === 'string') {
    const field = pathOf(node.target, binding);
    return field === null ? null : { field, mapKey: node.args[0].value };
  }
  const field = pathOf(node, binding);
  return field === null ? null : { field };
}

const pad = (n: number): string => String(n).padStart(2, '0');
const isoOf = (node: { year: number; month: number; day: number }): string => `${String(node.year).padStart(4, '0')}-${pad(node.month)}-${pad(node.day)}`;

function literal(node: PqlNode): Value | undefined {
  switch (node.kind) {
    case 'string': case 'number': case 'boolean': return node.value;
    case 'date': return { date: isoOf(node) };
    default: return undefined;
  }
}

const builderUnit = (unit: PqlTimeUnit): TimeUnit | null => ((TIME_UNITS as readonly string[]).includes(unit) ? (unit as TimeUnit) : null);
const isNow = (anchor: TimeAnchor): boolean => anchor.kind === 'timeWord' && anchor.word === 'now';
const dateOf = (anchor: TimeAnchor): string | null => (anchor.kind === 'date' ? isoOf(anchor) : null);

// ── time ────────────────────────────────────────────────────────────────────────────────────────────────────

/** One PQL time spec → a builder time constraint (null when the builder has no such constraint). */
function specToTime(spec: TimeSpec): TimeConstraint | null {
  switch (spec.type) {
    case 'word':
      return spec.word === 'today' || spec.word === 'yesterday' ? { type: spec.word } : null;
    case 'period': {
      if (spec.amount !== null) {
        // `last N units` is the same window as `<= N units before now`.
        const unit = builderUnit(spec.unit);
        if (!unit || spec.amount < 1 || spec.which === 'this') return null;
        return { type: spec.which === 'next' ? 'inNext' : 'inLast', amount: spec.amount, unit };
      }
      if (spec.which !== 'this') return null;
      return spec.unit === 'month' ? { type: 'thisMonth' } : spec.unit === 'year' ? { type: 'thisYear' } : null;
    }
    case 'on': {
      const date = dateOf(spec.anchor);
      return date ? { type: 'customDate', date } : null;
    }
    case 'direction': {
      const date = dateOf(spec.anchor);
      return date ? { type: spec.direction, date } : null;
    }
    case 'between': {
      const [from, to] = [dateOf(spec.from), dateOf(spec.to)];
      return from && to ? fromTo(from, to) : null;
    }
    case 'offset': {
      const unit = builderUnit(spec.unit);
      if (!unit || spec.comparison !== '<=' || !isNow(spec.anchor) || spec.amount < 1) return null;
      // `<= N units after now` alone is read as "in next" (which prints `next N units`: the same but for now itself).
      return { type: spec.direction === 'before' ? 'inLast' : 'inNext', amount: spec.amount, unit };
    }
  }
}

/** `s.getMonth() * 100 + s.getDayOfMonth()` → s. */
function monthDaySubject(node: PqlNode): PqlNode | null {
  if (node.kind !== 'arith' || node.op !== '+') return null;
  const { left, right } = node;
  if (left.kind !== 'arith' || left.op !== '*' || left.right.kind !== 'number' || left.right.value !== 100) return null;
  if (!isCall(left.left, 'getMonth') || !isCall(right, 'getDayOfMonth') || !left.left.target || !right.target) return null;
  return sameNode(left.left.target, right.target) ? left.left.target : null;
}

/** The right side of an ignore-year comparison: today, yesterday or a date. */
function monthDayAnchor(node: PqlNode): { word: 'today' | 'yesterday' } | { date: string } | null {
  const anchor = monthDaySubject(node);
  if (!anchor) return null;
  if (anchor.kind === 'timeWord' && (anchor.word === 'today' || anchor.word === 'yesterday')) return { word: anchor.word };
  if (anchor.kind === 'date') return { date: isoOf(anchor) };
  return null;
}

interface TimeMatch { subject: PqlNode; time: TimeConstraint }

const isWhole = (n: number, min: number, max: number): boolean => Number.isInteger(n) && n >= min && n <= max;

const offsetOf = (node: PqlNode): (TimeSpec & { type: 'offset' }) | null =>
  node.kind === 'occurs' && node.spec.type === 'offset' && node.spec.anchor.kind !== 'stepRef' ? node.spec : null;

/** Every form `timeExpression` prints, read back with its subject. */
function matchTime(node: PqlNode): TimeMatch | null {
  if (node.kind === 'occurs') {
    const time = specToTime(node.spec);
    return time ? { subject: node.subject, time } : null;
  }
  if (isCall(node, 'isNotNull') && node.target) return { subject: node.target, time: { type: 'exists' } };
  if (isCall(node, 'isNull') && node.target) return { subject: node.target, time: { type: 'notExists' } };
  if (node.kind === 'compare') {
    const s = monthDaySubject(node.left);
    const anchor = monthDayAnchor(node.right);
    if (s && anchor) {
      if ('word' in anchor) return node.op === '=' ? { subject: s, time: { type: anchor.word, ignoreYear: true } } : null;
      const type = node.op === '=' ? 'customDate' : node.op === '<' ? 'before' : node.op === '>' ? 'after' : null;
      return type ? { subject: s, time: { type, date: anchor.date, ignoreYear: true } } : null;
    }
    if (node.op === '=' && isCall(node.left, 'getMonth') && node.left.target) {
      if (isCall(node.right, 'currentMonth')) return { subject: node.left.target, time: { type: 'thisMonth', ignoreYear: true } };
      if (node.right.kind === 'number' && isWhole(node.right.value, 1, 12)) return { subject: node.left.target, time: { type: 'during', month: node.right.value, ignoreYear: true } };
    }
    if (node.op === '=' && isCall(node.left, 'getYear') && node.left.target && node.right.kind === 'number' && isWhole(node.right.value, 1, 9999)) {
      return { subject: node.left.target, time: { type: 'during', year: node.right.value } };
    }
    return null;
  }
  if (node.kind === 'or' && node.left.kind === 'or') {
    const within = matchWithin(node.left.left, node.left.right, node.right);
    if (within) return within;
  }
  if (node.kind === 'and' || node.kind === 'or') return matchTimePair(node.kind, node.left, node.right);
  return null;
}

/** Within ± N units of a day: `s occurs <= N u before D or s occurs on D or s occurs <= N u after D`. */
function matchWithin(a: PqlNode, middle: PqlNode, b: PqlNode): TimeMatch | null {
  const [oa, ob] = [offsetOf(a), offsetOf(b)];
  if (!oa || !ob || a.kind !== 'occurs' || b.kind !== 'occurs' || middle.kind !== 'occurs' || middle.spec.type !== 'on') return null;
  const date = dateOf(oa.anchor);
  const unit = builderUnit(oa.unit);
  const same = sameNode(a.subject, b.subject) && sameNode(a.subject, middle.subject);
  if (!same || !date || !unit || date !== dateOf(ob.anchor) || date !== dateOf(middle.spec.anchor) || oa.unit !== ob.unit || oa.amount !== ob.amount || oa.amount < 1) return null;
  if (oa.comparison !== '<=' || ob.comparison !== '<=' || oa.direction !== 'before' || ob.direction !== 'after') return null;
  return { subject: a.subject, time: { type: 'within', date, amount: oa.amount, unit } };
}

function matchTimePair(join: 'and' | 'or', a: PqlNode, b: PqlNode): TimeMatch | null {
  // From … to, ignoring the year.
  if (a.kind === 'compare' && b.kind === 'compare' && a.op === '>=' && b.op === '<=') {
    const [sa, sb] = [monthDaySubject(a.left), monthDaySubject(b.left)];
    const [from, to] = [monthDayAnchor(a.right), monthDayAnchor(b.right)];
    if (sa && sb && sameNode(sa, sb) && from && to && 'date' in from && 'date' in to) {
      const wraps = from.date.slice(5) > to.date.slice(5);
      if ((join === 'or') === wraps) return { subject: sa, time: { type: 'fromTo', from: from.date, to: to.date, ignoreYear: true } };
    }
  }
  const [oa, ob] = [offsetOf(a), offsetOf(b)];
  if (!oa || !ob || a.kind !== 'occurs' || b.kind !== 'occurs' || !sameNode(a.subject, b.subject)) return null;
  const [ua, ub] = [builderUnit(oa.unit), builderUnit(ob.unit)];
  if (!ua || !ub) return null;
  // Rolling ranges relative to now.
  if (!isNow(oa.anchor) || !isNow(ob.anchor)) return null;
  const from = { amount: oa.amount, unit: ua, direction: oa.direction };
  const to = { amount: ob.amount, unit: ub, direction: ob.direction };
  const shape = `${join} ${oa.comparison}${oa.direction} ${ob.comparison}${ob.direction}`;
  if (shape === 'and <=before >=before' || shape === 'and >=after <=after' || shape === 'or <=before <=after') {
    return { subject: a.subject, time: { type: 'rollingRange', from, to } };
  }
  return null;
}

// ── conditions ──────────────────────────────────────────────────────────────────────────────────────────────

const COMPARE_OPERATOR = { '=': 'equals', '!=': 'notEquals', '<': 'lessThan', '<=': 'lessOrEqual', '>': 'greaterThan', '>=': 'greaterOrEqual' } as const;
const TEXT_TESTS = new Set(['contains', 'doesNotContain', 'startsWith', 'doesNotStartWith', 'endsWith', 'doesNotEndWith']);

const withSubject = (s: Subject, rest: Omit<Condition, 'field' | 'mapKey'>): Condition =>
  (s.mapKey === undefined ? { field: s.field, ...rest } : { field: s.field, mapKey: s.mapKey, ...rest });

/** A condition on one field (profile field or, in item context, event field). */
function matchCondition(node: PqlNode, binding: Binding): Condition | null {
  if (node.kind === 'compare') {
    const s = subjectOf(node.left, binding);
    const v = literal(node.right);
    if (s && v !== undefined) return withSubject(s, { operator: COMPARE_OPERATOR[node.op], value: v });
  }
  if (node.kind === 'call' && node.target) {
    const s = subjectOf(node.target, binding);
    if (s) {
      const condition = matchCall(node, s);
      if (condition) return condition;
    }
  }
  const time = matchTime(node);
  if (time) {
    const s = subjectOf(time.subject, binding);
    if (s) return withSubject(s, { operator: 'time', time: time.time });
  }
  return null;
}

function matchCall(node: CallNode, s: Subject): Condition | null {
  const [first, second] = node.args;
  const text = first?.kind === 'string' ? first.value : undefined;
  const caseSensitive = second?.kind === 'boolean' && !second.value ? { caseSensitive: false } : {};
  switch (node.name) {
    case 'equals': case 'notEqualTo':
      return text === undefined ? null : withSubject(s, { operator: node.name === 'equals' ? 'equals' : 'notEquals', value: text, ...caseSensitive });
    case 'like': case 'matches':
      return text === undefined ? null : withSubject(s, { operator: node.name, value: text });
    case 'in': case 'notIn': {
      if (first?.kind !== 'array') return null;
      const values = first.items.map(literal);
      return values.every((v) => v !== undefined) ? withSubject(s, { operator: node.name, values: values }) : null;
    }
    case 'isNotNull': return withSubject(s, { operator: 'exists' });
    case 'isNull': return withSubject(s, { operator: 'notExists' });
    default:
      if (TEXT_TESTS.has(node.name) && text !== undefined) return withSubject(s, { operator: node.name as Condition['operator'], value: text, ...caseSensitive });
      return null;
  }
}

// ── events ──────────────────────────────────────────────────────────────────────────────────────────────────

function conjuncts(node: PqlNode): PqlNode[] {
  return node.kind === 'and' && !matchTime(node) ? [...conjuncts(node.left), ...conjuncts(node.right)] : [node];
}

function eventCondition(node: PqlNode): EventCondition {
  if (isCall(node, 'equals') && node.target?.kind === 'ref' && node.target.binding === 'item' && node.target.name === 'eventType'
    && node.args[0]?.kind === 'string' && node.args[1]?.kind === 'boolean' && !node.args[1].value) {
    return { kind: 'eventType', eventType: node.args[0].value };
  }
  const condition = matchCondition(node, 'item');
  if (!condition) return fail(node, 'an event condition is more than a field compared with a value');
  return { kind: 'eventField', ...condition };
}

/** An event predicate: conditions, and (when `withTime`) a last conjunct on `timestamp` read as the card's time. */
function eventPredicate(node: PqlNode, withTime: boolean): { conditions: EventCondition[]; time?: TimeConstraint } {
  const parts = conjuncts(node);
  let time: TimeConstraint | undefined;
  const last = parts[parts.length - 1]!;
  const lastTime = withTime && parts.length > 1 ? matchTime(last) : null;
  if (lastTime && lastTime.subject.kind === 'ref' && lastTime.subject.binding === 'item' && lastTime.subject.name === 'timestamp') {
    time = lastTime.time;
    parts.pop();
  }
  const conditions = parts.map(eventCondition);
  return time ? { conditions, time } : { conditions };
}

/** `xEvent.filter(pred)` → pred; `xEvent` → null predicate. */
function eventSet(node: PqlNode): { predicate: PqlNode | null } | null {
  if (node.kind === 'ref' && node.binding === 'xEvent') return { predicate: null };
  if (isCall(node, 'filter') && node.target?.kind === 'ref' && node.target.binding === 'xEvent' && node.args[0] && node.args[0].kind !== 'lambda') {
    return { predicate: node.args[0] };
  }
  return null;
}

const countOf = (node: PqlNode): PqlNode | null => (isCall(node, 'count') && node.target && eventSet(node.target) ? node.target : null);

function eventCard(predicate: PqlNode, rest: Pick<EventBlock, 'count' | 'aggregation'>): EventBlock {
  const { conditions, time } = eventPredicate(predicate, true);
  return { kind: 'event', conditions, ...rest, ...(time ? { time } : {}) };
}

function matchCountBlock(node: PqlNode): EventBlock | null {
  if (node.kind === 'compare' && node.right.kind === 'number') {
    const set = countOf(node.left);
    const pred = set && eventSet(set)?.predicate;
    const fn = node.op === '>=' ? 'atLeast' : node.op === '<=' ? 'atMost' : node.op === '=' ? 'exactly' : null;
    if (pred && fn && Number.isInteger(node.right.value) && node.right.value >= 0) return eventCard(pred, { count: { fn, n: node.right.value } });
    // Aggregation: xEvent.filter(…).sum(field) > 100
    const agg = node.left;
    if (agg.kind === 'call' && ['sum', 'average', 'min', 'max'].includes(agg.name) && agg.target && agg.args.length === 1) {
      const aggPred = eventSet(agg.target)?.predicate;
      const field = pathOf(agg.args[0]!, 'item');
      if (aggPred && field) {
        const aggregation: Aggregation = { fn: agg.name as Aggregation['fn'], field, comparison: node.op, value: node.right.value };
        return eventCard(aggPred, { aggregation });
      }
    }
  }
  // Between: let N = F.count() in (N >= min and N <= max).
  if (node.kind === 'let' && node.bindings.length === 1 && node.body.kind === 'and') {
    const { name, value: counted } = node.bindings[0]!;
    const set = countOf(counted);
    const pred = set && eventSet(set)?.predicate;
    const { left: a, right: b } = node.body;
    const isN = (n: PqlNode): boolean => n.kind === 'ref' && n.binding === 'variable' && n.name === name;
    if (pred && a.kind === 'compare' && b.kind === 'compare' && a.op === '>=' && b.op === '<=' && isN(a.left) && isN(b.left)
      && a.right.kind === 'number' && b.right.kind === 'number' && isWhole(a.right.value, 0, Infinity) && isWhole(b.right.value, 0, Infinity)) {
      return eventCard(pred, { count: { fn: 'between', min: a.right.value, max: b.right.value } });
    }
  }
  // All: W.count() > 0 and W.count() = F.count(), W the time window of F.
  if (node.kind === 'and' && node.left.kind === 'compare' && node.right.kind === 'compare') {
    const [a, b] = [node.left, node.right];
    const [window, same, matching] = [countOf(a.left), countOf(b.left), countOf(b.right)];
    if (a.op === '>' && a.right.kind === 'number' && a.right.value === 0 && b.op === '=' && window && same && matching && sameNode(window, same)) {
      const windowPred = eventSet(window)!.predicate;
      const pred = eventSet(matching)!.predicate;
      if (!pred) return null;
      const card = eventCard(pred, { count: { fn: 'all' } });
      const windowTime = windowPred ? matchTime(windowPred) : null;
      if (windowPred && (!windowTime || !card.time || !sameNode(windowTime.time, card.time))) return null;
      if (!windowPred && card.time) return null;
      return card;
    }
  }
  return null;
}

function matchChain(node: PqlNode): RuleBlock | null {
  if (node.kind !== 'chain') return null;
  if (node.source.kind !== 'ref' || node.source.binding !== 'xEvent' || node.timestampField !== 'timestamp') {
    return fail(node, 'the sequence is not over xEvent by timestamp');
  }
  const steps = node.steps.map((step, i) => chainStep(step, i === 0 ? null : node.steps[i - 1]!.label));
  if (steps.length === 1) {
    const [only] = steps;
    return { kind: 'event', conditions: only!.conditions, ...(only!.time ? { time: only!.time } : {}) };
  }
  return { kind: 'sequence', steps };
}

function chainStep(step: ChainStep, previous: string | null): SequenceStep {
  const when = step.when;
  let time: TimeConstraint | undefined;
  let between: SequenceStep['between'];
  if (when && when.type === 'offset' && when.anchor.kind === 'stepRef') {
    const unit = builderUnit(when.unit);
    if (when.anchor.label !== previous || when.direction !== 'after' || !unit || when.amount < 1 || (when.comparison !== '<=' && when.comparison !== '>=')) {
      return fail(step, `the time of step ${step.label} is not "within" or "after" the step before it`);
    }
    between = when.comparison === '<=' ? { within: { amount: when.amount, unit } } : { after: { amount: when.amount, unit } };
  } else if (when) {
    const t = specToTime(when);
    if (!t) return fail(step, `the time of step ${step.label} has no Segment Builder equivalent`);
    time = t;
  }
  const predicate = eventPredicate(step.what, time === undefined);
  time ??= predicate.time;
  return { conditions: predicate.conditions, ...(time ? { time } : {}), ...(between ? { between } : {}) };
}

// ── blocks and containers ───────────────────────────────────────────────────────────────────────────────────

function matchBlock(node: PqlNode): RuleBlock | null {
  if (isCall(node, 'inSegment') && node.args[0]?.kind === 'string') return { kind: 'audience', segmentId: node.args[0].value, membership: 'include' };
  if (node.kind === 'not' && isCall(node.operand, 'inSegment') && node.operand.args[0]?.kind === 'string') {
    return { kind: 'audience', segmentId: node.operand.args[0].value, membership: 'exclude' };
  }
  const chain = matchChain(node);
  if (chain) return chain;
  const count = matchCountBlock(node);
  if (count) return count;
  const condition = matchCondition(node, 'profile');
  return condition ? { kind: 'attribute', ...condition } : null;
}

function flatten(node: PqlNode, join: 'and' | 'or'): PqlNode[] {
  if (node.kind !== join || matchBlock(node)) return [node];
  return [...flatten(node.left, join), ...flatten(node.right, join)];
}

function containerOf(node: PqlNode, mode: 'include' | 'exclude'): RuleContainer {
  if (node.kind === 'boolean' && node.value) return { kind: 'container', mode, combinator: 'and', children: [] };
  if ((node.kind === 'and' || node.kind === 'or') && !matchBlock(node)) {
    return { kind: 'container', mode, combinator: node.kind, children: flatten(node, node.kind).map(blockOf) };
  }
  return { kind: 'container', mode, combinator: 'and', children: [blockOf(node)] };
}

function blockOf(node: PqlNode): RuleBlock {
  const block = matchBlock(node);
  if (block) return block;
  if (node.kind === 'and' || node.kind === 'or' || (node.kind === 'boolean' && node.value)) return containerOf(node, 'include');
  if (node.kind === 'not') return containerOf(node.operand, 'exclude');
  return fail(node, describe(node));
}

function rootContainer(node: PqlNode): RuleContainer {
  if (!matchBlock(node) && (node.kind === 'and' || node.kind === 'or' || node.kind === 'boolean')) {
    if (node.kind === 'boolean' && !node.value) return fail(node, '"false" matches no profile');
    return containerOf(node, 'include');
  }
  return { kind: 'container', mode: 'include', combinator: 'and', children: [blockOf(node)] };
}

function describe(node: PqlNode): string {
  switch (node.kind) {
    case 'let': return '"let … in" has no Segment Builder block';
    case 'quantifier': return `"${node.quantifier} … from" has no Segment Builder block`;
    case 'select': return '"select … from" has no Segment Builder block';
    case 'aggregate': return `"${node.fn} … over" has no Segment Builder block (use xEvent.filter(…).${node.fn}(field))`;
    case 'call': return `the function ${node.name} is not used the way a builder block uses it`;
    case 'compare': return 'the comparison is not a field compared with a value';
    default: return `a ${node.kind} expression has no Segment Builder block`;
  }
}
