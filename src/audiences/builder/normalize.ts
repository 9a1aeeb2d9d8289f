/**
 * The canonical form of a builder tree: the one `from-pql.ts` returns for the PQL that `to-pql.ts` prints.
 * Several trees mean the same query and print the same PQL (a container with one child and the child, nested
 * `and` containers, a canvas time and the same time on each card, an explicit "at least 1"); this says which one
 * comes back, so that "builder → PQL → builder" is the identity on canonical trees and `normalizeRule` on
 * every other tree.
 */
import {
  isContainer,
  type Condition, type EventCondition, type RuleBlock, type RuleContainer, type SegmentRule, type TimeConstraint,
} from './model.ts';
import { fromTo } from './dates.ts';

const TEXT_OPERATORS = new Set(['contains', 'doesNotContain', 'startsWith', 'doesNotStartWith', 'endsWith', 'doesNotEndWith']);

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}

/** Every slot an event time can sit in: event cards and sequence steps, in tree order. */
interface TimeSlot { get(): TimeConstraint | undefined; set(t: TimeConstraint | undefined): void }

function timeSlots(container: RuleContainer): TimeSlot[] {
  const slots: TimeSlot[] = [];
  const slot = (holder: { time?: TimeConstraint }): TimeSlot => ({
    get: () => holder.time,
    set: (t) => { if (t) holder.time = t; else delete holder.time; },
  });
  const visit = (block: RuleBlock): void => {
    if (isContainer(block)) block.children.forEach(visit);
    else if (block.kind === 'event') slots.push(slot(block));
    else if (block.kind === 'sequence') block.steps.forEach((step) => slots.push(slot(step)));
  };
  visit(container);
  return slots;
}

/** Writes the canvas time into every card without its own and removes it from the canvas. Mutates `rule`. */
function pushCanvasTime(rule: SegmentRule): void {
  const canvas = rule.timeConstraint;
  delete rule.timeConstraint;
  if (canvas) for (const s of timeSlots(rule.root)) if (!s.get()) s.set(structuredClone(canvas));
}

/**
 * Canvas time ⇄ card times: a canvas constraint is written into every card without its own (that is what it
 * means), then a constraint shared by all of two or more cards is written once on the canvas. Mutates and
 * returns `rule`.
 */
export function liftCanvasTime(rule: SegmentRule): SegmentRule {
  pushCanvasTime(rule);
  const slots = timeSlots(rule.root);
  const first = slots[0]?.get();
  if (slots.length >= 2 && first && slots.every((s) => sameJson(s.get(), first))) {
    rule.timeConstraint = structuredClone(first);
    for (const s of slots) s.set(undefined);
  }
  return rule;
}

function normalizeTime(t: TimeConstraint): TimeConstraint {
  const out = { ...t } as TimeConstraint & { ignoreYear?: boolean; year?: number };
  if (out.ignoreYear === false) delete out.ignoreYear;
  if (out.type === 'during' && out.ignoreYear && out.month !== undefined) {
    delete out.year;
  }
  // A from-to over exactly one calendar month is that month.
  if (out.type === 'fromTo' && !out.ignoreYear) return fromTo(out.from, out.to);
  return out;
}

const VALUE_OPERATORS = new Set(['equals', 'notEquals', 'lessThan', 'lessOrEqual', 'greaterThan', 'greaterOrEqual', ...TEXT_OPERATORS, 'like', 'matches']);

function normalizeCondition<C extends Condition>(c: C): C {
  const out = { ...c };
  // Only the inputs of the operator print.
  if (!VALUE_OPERATORS.has(c.operator)) delete out.value;
  if (c.operator !== 'in' && c.operator !== 'notIn') delete out.values;
  if (c.operator !== 'time') delete out.time;
  const textual = TEXT_OPERATORS.has(c.operator) || ((c.operator === 'equals' || c.operator === 'notEquals') && typeof c.value === 'string');
  if (out.caseSensitive !== false || !textual) delete out.caseSensitive;
  if (out.operator === 'time' && out.time?.type === 'exists') return { ...out, operator: 'exists', time: undefined };
  if (out.operator === 'time' && out.time?.type === 'notExists') return { ...out, operator: 'notExists', time: undefined };
  if (out.time) out.time = normalizeTime(out.time);
  return JSON.parse(JSON.stringify(out)) as C;
}

function normalizeEventCondition(c: EventCondition): EventCondition {
  if (c.kind === 'eventType') return c;
  const n = normalizeCondition(c);
  if (n.field === 'eventType' && n.mapKey === undefined && n.operator === 'equals' && n.caseSensitive === false && typeof n.value === 'string') {
    return { kind: 'eventType', eventType: n.value };
  }
  return n;
}

function normalizeBlock(block: RuleBlock): RuleBlock {
  switch (block.kind) {
    case 'attribute': return normalizeCondition(block);
    case 'audience': return block;
    case 'event': {
      const out = { ...block, conditions: block.conditions.map(normalizeEventCondition) };
      if (out.count?.fn === 'atLeast' && out.count.n === 1) delete out.count;
      if (out.aggregation) delete out.count;
      if (out.time) out.time = normalizeTime(out.time);
      return out;
    }
    case 'sequence':
      return {
        ...block,
        steps: block.steps.map((step, i) => {
          const out = { ...step, conditions: step.conditions.map(normalizeEventCondition) };
          if (out.time) out.time = normalizeTime(out.time);
          if (i === 0 || (out.between && !out.between.after && !out.between.within)) delete out.between;
          return out;
        }),
      };
    case 'container': return normalizeContainer(block);
  }
}

function normalizeContainer(c: RuleContainer): RuleContainer {
  // An included container with one child is that child (it prints as the child).
  const unwrapped = c.children.map(normalizeBlock)
    .map((child) => (isContainer(child) && child.mode === 'include' && child.children.length === 1 ? child.children[0]! : child));
  // An included container joined like its parent is spliced in.
  const children = unwrapped.flatMap((child) =>
    (isContainer(child) && child.mode === 'include' && child.children.length > 1 && child.combinator === c.combinator ? child.children : [child]));
  let out: RuleContainer = { ...c, children };
  const only = children.length === 1 ? children[0]! : null;
  // `true` (an empty included container) alone in a container is the empty container.
  if (only && isContainer(only) && only.mode === 'include' && only.children.length === 0) out = { ...out, children: [] };
  // A container holding only an included container with several children prints as that child's `(x or y)`.
  if (only && isContainer(only) && only.mode === 'include' && only.children.length > 1) {
    out = { ...out, combinator: only.combinator, children: only.children };
  }
  if (out.children.length <= 1) out = { ...out, combinator: 'and' };
  return out;
}

/** Replaces an excluded container holding only an included audience by that audience, excluded. */
function excludedAudiences(c: RuleContainer): RuleContainer {
  return {
    ...c,
    children: (c.children).map((child) => {
      if (!isContainer(child)) return child;
      const inner = excludedAudiences(child);
      const only = inner.children.length === 1 ? (inner.children[0] as RuleBlock) : null;
      if (inner.mode === 'exclude' && only?.kind === 'audience' && only.membership === 'include') return { ...only, membership: 'exclude' as const };
      return inner;
    }),
  };
}

/** The canonical form of any builder tree (what a round trip through PQL returns). */
export function normalizeRule(rule: SegmentRule): SegmentRule {
  const copy = structuredClone(rule);
  pushCanvasTime(copy);
  let root = normalizeContainer(copy.root);
  if (root.mode === 'exclude') root = normalizeContainer({ kind: 'container', mode: 'include', combinator: 'and', children: [root] });
  root = normalizeContainer(excludedAudiences(root));
  return liftCanvasTime({ version: 1, root });
}
