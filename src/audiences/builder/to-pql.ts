/**
 * Builder tree → PQL text (the "code view" of a rule). Deterministic: one rule prints one text, in the
 * reference's syntax (§11): `homeAddress.country.equals("US", false)`, `CHAIN(xEvent, timestamp, [C0:
 * WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])`, `inSegment("id")`.
 *
 * How blocks print (and so what `from-pql.ts` reads back):
 * - attribute: a comparison or text test on the field (`.get("key")` for map fields);
 * - event card with the default count (at least 1): a one-step CHAIN, the time in WHEN when it is one PQL
 *   time spec, otherwise inside WHAT as `timestamp occurs …`;
 * - event card with another count: `xEvent.filter(conditions and time).count() >= n` (between: `let N = … in
 *   (N >= a and N <= b)`; all: two comparisons in parentheses); with an aggregation: `xEvent.filter(…).sum(f) > 100`;
 * - sequence: a CHAIN, one step per card; a between-event constraint is the step's WHEN
 *   (`<= 24 hours after C0` = within, `>= 1 hours after C0` = after) and the card's own time moves into WHAT;
 * - audience: `inSegment("id")`, `not inSegment("id")`;
 * - container: children joined by `and`/`or` in parentheses, `not (…)` when excluded.
 * Compound expressions (two comparisons) are always parenthesised, so the parsed tree keeps them together, and
 * their halves are never what a card prints on its own (`next N days` for "in next", not `<= N days after now`;
 * `let` for a count between), so that two cards side by side never read back as one block.
 */
import type {
  Condition, EventBlock, EventCondition, RelativePoint, RuleBlock, RuleContainer, SegmentRule, SequenceBlock, TimeConstraint, Value,
} from './model.ts';
import { monthEnd, monthStart } from './dates.ts';

export function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

const dateParts = (iso: string): [number, number, number] => {
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number];
  return [y, m, d];
};
export const dateLiteral = (iso: string): string => `date(${dateParts(iso).join(', ')})`;

export function value(v: Value): string {
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return dateLiteral(v.date);
}

const plural = (amount: number, unit: string): string => `${amount} ${unit}${amount === 1 ? '' : 's'}`;
const monthDay = (s: string): string => `${s}.getMonth() * 100 + ${s}.getDayOfMonth()`;
const mdOf = (iso: string): number => {
  const [, m, d] = dateParts(iso);
  return m * 100 + d;
};

/** The time constraint as one PQL time spec (what WHEN and `occurs` take), or null when it needs more. */
export function timeSpec(t: TimeConstraint): string | null {
  if ('ignoreYear' in t && t.ignoreYear) return null;
  switch (t.type) {
    case 'today': return 'today';
    case 'yesterday': return 'yesterday';
    case 'thisMonth': return 'this month';
    case 'thisYear': return 'this year';
    case 'customDate': return `on ${dateLiteral(t.date)}`;
    case 'inLast': return `<= ${plural(t.amount, t.unit)} before now`;
    // `next N units`, not `<= N units after now`: that half belongs to the rolling range around now.
    case 'inNext': return `next ${plural(t.amount, t.unit)}`;
    case 'during': return t.year !== undefined && t.month !== undefined ? `between ${dateLiteral(monthStart(t.year, t.month))} and ${dateLiteral(monthEnd(t.year, t.month))}` : null;
    case 'fromTo': return `between ${dateLiteral(t.from)} and ${dateLiteral(t.to)}`;
    case 'before': return `before ${dateLiteral(t.date)}`;
    case 'after': return `after ${dateLiteral(t.date)}`;
    default: return null;
  }
}

const offset = (cmp: '<=' | '>=', p: RelativePoint): string => `${cmp} ${plural(p.amount, p.unit)} ${p.direction} now`;

/** A rolling range [from, to] relative to now, as `occurs` specs (see docs/segment-builder.md for the reading). */
function rollingRange(s: string, from: RelativePoint, to: RelativePoint): string {
  if (from.direction === 'before' && to.direction === 'before') return `(${s} occurs ${offset('<=', from)} and ${s} occurs ${offset('>=', to)})`;
  if (from.direction === 'after' && to.direction === 'after') return `(${s} occurs ${offset('>=', from)} and ${s} occurs ${offset('<=', to)})`;
  return `(${s} occurs ${offset('<=', from)} or ${s} occurs ${offset('<=', to)})`;
}

/** A boolean PQL expression saying that the timestamp or date `s` satisfies the constraint. */
export function timeExpression(s: string, t: TimeConstraint): string {
  const spec = timeSpec(t);
  if (spec !== null) return `${s} occurs ${spec}`;
  switch (t.type) {
    // Ignoring the year compares month * 100 + day, with the day written in full so that nothing is lost.
    case 'today': return `${monthDay(s)} = ${monthDay('today')}`;
    case 'yesterday': return `${monthDay(s)} = ${monthDay('yesterday')}`;
    case 'thisMonth': return `${s}.getMonth() = currentMonth()`;
    case 'customDate': return `${monthDay(s)} = ${monthDay(dateLiteral(t.date))}`;
    case 'before': return `${monthDay(s)} < ${monthDay(dateLiteral(t.date))}`;
    case 'after': return `${monthDay(s)} > ${monthDay(dateLiteral(t.date))}`;
    case 'fromTo': {
      // A range over the turn of the year (Dec 20 → Jan 5) is either end.
      const join = mdOf(t.from) <= mdOf(t.to) ? 'and' : 'or';
      return `(${monthDay(s)} >= ${monthDay(dateLiteral(t.from))} ${join} ${monthDay(s)} <= ${monthDay(dateLiteral(t.to))})`;
    }
    case 'during':
      return t.month === undefined ? `${s}.getYear() = ${t.year}` : `${s}.getMonth() = ${t.month}`;
    case 'within': {
      const d = dateLiteral(t.date);
      const n = plural(t.amount, t.unit);
      // `N days before D` ends where D starts and `N days after D` starts where D ends: D itself is the middle.
      return `(${s} occurs <= ${n} before ${d} or ${s} occurs on ${d} or ${s} occurs <= ${n} after ${d})`;
    }
    case 'rollingRange': return rollingRange(s, t.from, t.to);
    case 'exists': return `${s}.isNotNull()`;
    case 'notExists': return `${s}.isNull()`;
    default: throw new Error(`unreachable time constraint ${t.type}`);
  }
}

const TEXT_METHODS: Record<string, string> = {
  contains: 'contains', doesNotContain: 'doesNotContain', startsWith: 'startsWith', doesNotStartWith: 'doesNotStartWith',
  endsWith: 'endsWith', doesNotEndWith: 'doesNotEndWith',
};
const COMPARE: Record<string, string> = { equals: '=', notEquals: '!=', lessThan: '<', lessOrEqual: '<=', greaterThan: '>', greaterOrEqual: '>=' };

/** A condition on a field: `prefix` is '' for profile fields and event fields in item context. */
export function conditionExpression(c: Condition): string {
  const s = c.mapKey === undefined ? c.field : `${c.field}.get(${quote(c.mapKey)})`;
  const v = c.value;
  const cs = c.caseSensitive === false ? ', false' : '';
  switch (c.operator) {
    case 'equals':
      return typeof v === 'string' && c.caseSensitive === false ? `${s}.equals(${quote(v)}, false)` : `${s} = ${value(v!)}`;
    case 'notEquals':
      return typeof v === 'string' && c.caseSensitive === false ? `${s}.notEqualTo(${quote(v)}, false)` : `${s} != ${value(v!)}`;
    case 'lessThan': case 'lessOrEqual': case 'greaterThan': case 'greaterOrEqual':
      return `${s} ${COMPARE[c.operator]} ${value(v!)}`;
    case 'contains': case 'doesNotContain': case 'startsWith': case 'doesNotStartWith': case 'endsWith': case 'doesNotEndWith':
      return `${s}.${TEXT_METHODS[c.operator]}(${value(v!)}${cs})`;
    case 'like': return `${s} like ${value(v!)}`;
    case 'matches': return `${s}.matches(${value(v!)})`;
    case 'in': return `${s} in [${(c.values ?? []).map(value).join(', ')}]`;
    case 'notIn': return `${s} notIn [${(c.values ?? []).map(value).join(', ')}]`;
    case 'exists': return `${s}.isNotNull()`;
    case 'notExists': return `${s}.isNull()`;
    case 'time': return timeExpression(s, c.time!);
  }
}

const eventCondition = (c: EventCondition): string =>
  c.kind === 'eventType' ? `eventType.equals(${quote(c.eventType)}, false)` : conditionExpression(c);

/** Conditions of one event (item context), with an optional time on its timestamp, joined by `and`. */
function eventPredicate(conditions: EventCondition[], time: TimeConstraint | undefined): string {
  const parts = conditions.map(eventCondition);
  if (time) parts.push(timeExpression('timestamp', time));
  return parts.join(' and ');
}

interface Printer {
  canvas: TimeConstraint | undefined;
}

function chainStep(label: string, what: string, when: string | null): string {
  return `${label}: WHAT(${what})${when === null ? '' : ` WHEN(${when})`}`;
}
const chain = (steps: string[]): string => `CHAIN(xEvent, timestamp, [${steps.join(', ')}])`;

function eventBlock(b: EventBlock, p: Printer): string {
  const time = b.time ?? p.canvas;
  const count = b.count ?? { fn: 'atLeast', n: 1 };
  if (!b.aggregation && count.fn === 'atLeast' && count.n === 1) {
    const spec = time ? timeSpec(time) : null;
    return chain([chainStep('C0', eventPredicate(b.conditions, spec === null ? time : undefined), spec)]);
  }
  const matching = `xEvent.filter(${eventPredicate(b.conditions, time)})`;
  if (b.aggregation) {
    const a = b.aggregation;
    return `${matching}.${a.fn}(${a.field}) ${a.comparison} ${a.value}`;
  }
  switch (count.fn) {
    case 'atLeast': return `${matching}.count() >= ${count.n}`;
    case 'atMost': return `${matching}.count() <= ${count.n}`;
    case 'exactly': return `${matching}.count() = ${count.n}`;
    // The reference's idiom for a range (§11 `let S = … in (S > 100 and S < 1000)`); two comparisons of the
    // count would read back as an "at least" and an "at most" card. Parenthesised: `let … in` extends to the right.
    case 'between': return `(let N = ${matching}.count() in (N >= ${count.min} and N <= ${count.max}))`;
    case 'all': {
      const window = time ? `xEvent.filter(${timeExpression('timestamp', time)})` : 'xEvent';
      return `(${window}.count() > 0 and ${window}.count() = ${matching}.count())`;
    }
  }
}

function sequenceBlock(b: SequenceBlock, p: Printer): string {
  const steps = b.steps.map((step, i) => {
    const time = step.time ?? p.canvas;
    const label = `C${i}`;
    const previous = `C${i - 1}`;
    const { after, within } = i > 0 ? step.between ?? {} : {};
    let when: string | null = null;
    if (within) when = `<= ${plural(within.amount, within.unit)} after ${previous}`;
    else if (after) when = `>= ${plural(after.amount, after.unit)} after ${previous}`;
    const spec = when === null && time ? timeSpec(time) : null;
    if (spec !== null) when = spec;
    return chainStep(label, eventPredicate(step.conditions, spec === null ? time : undefined), when);
  });
  return chain(steps);
}

function block(b: RuleBlock, p: Printer): string {
  switch (b.kind) {
    case 'attribute': return conditionExpression(b);
    case 'event': return eventBlock(b, p);
    case 'sequence': return sequenceBlock(b, p);
    case 'audience': return `${b.membership === 'exclude' ? 'not ' : ''}inSegment(${quote(b.segmentId)})`;
    case 'container': return container(b, p, false);
  }
}

function container(c: RuleContainer, p: Printer, root: boolean): string {
  const children = c.children;
  let body: string;
  if (children.length === 0) body = 'true';
  else if (children.length === 1) body = block(children[0]!, p);
  else body = children.map((child) => block(child, p)).join(` ${c.combinator} `);
  if (c.mode === 'exclude') return `not (${body})`;
  return root || children.length <= 1 ? body : `(${body})`;
}

/** The rule as PQL text. */
export function ruleToPql(rule: SegmentRule): string {
  return container(rule.root, { canvas: rule.timeConstraint }, true);
}
