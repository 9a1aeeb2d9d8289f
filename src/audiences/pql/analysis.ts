/**
 * Static analysis of a PQL tree for the eligibility checker (§10.2: single/multiple events, windows under
 * 24 hours, inSegment with events, negated events) and query validation (§10.1: blocks, sequences,
 * aggregations, array depth). It reads the tree only; nothing here evaluates data.
 *
 * An "event reference" is one place that iterates xEvent: a CHAIN step, `xEvent.filter(…)`, a quantifier,
 * select or `… over X from xEvent`, or any other use of xEvent (count(), head(), …). Its window is the
 * intersection of the `occurs` constraints on the event's timestamp that are conjuncts of its condition.
 */
import type { ChainNode, PqlNode, TimeSpec } from './ast.ts';
import type { PqlFeatures } from './features.ts';
import { addUnits, wordSpan, windowOf, type TimeOps } from './time-words.ts';

const DAY = 86_400_000;
/**
 * A fixed reference instant, so that look-backs do not depend on when the analysis runs: the last millisecond
 * of a 31-day month gives the worst case of calendar windows (`today` ≈ 1 day, `this month` ≈ 31 days).
 */
const REFERENCE_NOW = Date.UTC(2024, 7, 1) - 1;
const PROFILE_TIME_FUNCTIONS = new Set(['currentMonth', 'currentYear', 'currentDayOfMonth', 'getMonth', 'getYear', 'getDayOfMonth']);

interface Flags { underOr: boolean; negated: boolean; depth: number }
interface EventRef { underOr: boolean; negated: boolean; lookbackDays: number | null; future: boolean; inSequence: boolean }

export function analyse(root: PqlNode): PqlFeatures {
  const events: EventRef[] = [];
  const handled = new Set<PqlNode>();
  const profileAttributes = new Set<string>();
  const segments = new Set<string>();
  const counters = { sequences: 0, aggregations: 0, blocks: 0, arrayDepth: 0, profileTime: false };

  const addEvent = (flags: Flags, window: WindowInfo, inSequence = false): void => {
    events.push({ underOr: flags.underOr, negated: flags.negated, lookbackDays: window.lookbackDays, future: window.future, inSequence });
  };
  const deeper = (flags: Flags): Flags => {
    counters.arrayDepth = Math.max(counters.arrayDepth, flags.depth + 1);
    return { ...flags, depth: flags.depth + 1 };
  };

  const visit = (node: PqlNode, flags: Flags): void => {
    switch (node.kind) {
      case 'ref':
        if (node.binding === 'profile') profileAttributes.add(node.name);
        if (node.binding === 'xEvent' && !handled.has(node)) addEvent(flags, { lookbackDays: null, future: false });
        return;
      case 'member': {
        const path = profilePath(node);
        if (path) { profileAttributes.add(path); return; }
        visit(node.object, flags);
        return;
      }
      case 'or': visit(node.left, { ...flags, underOr: true }); visit(node.right, { ...flags, underOr: true }); return;
      case 'not': visit(node.operand, { ...flags, negated: !flags.negated }); return;
      case 'compare':
        counters.blocks += 1;
        visitAll([node.left, node.right], isAbsenceTest(node) ? { ...flags, negated: !flags.negated } : flags);
        return;
      case 'occurs':
        counters.blocks += 1;
        if (!isTimestampOf(node.subject)) counters.profileTime = true;
        visit(node.subject, flags);
        visitSpecAnchors(node.spec, flags);
        return;
      case 'call': visitCall(node, flags); return;
      case 'quantifier': {
        let inner = node.quantifier === 'forall' ? { ...flags, negated: !flags.negated } : flags;
        for (const binding of node.bindings) {
          counters.blocks += 1;
          markEvents(binding.source, inner, binding.where, binding.variable);
          visit(binding.source, inner);
          inner = deeper(inner);
          if (binding.where) visit(binding.where, inner);
        }
        return;
      }
      case 'select': case 'aggregate':
        if (node.kind === 'aggregate' && node.fn !== 'count') counters.aggregations += 1;
        markEvents(node.source, flags, node.where, node.variable);
        visit(node.source, flags);
        visitAll([node.where, node.kind === 'aggregate' ? node.value : null], deeper(flags));
        return;
      case 'chain': visitChain(node, flags); return;
      case 'lambda': visit(node.body, flags); return;
      case 'let': visitAll([...node.bindings.map((b) => b.value), node.body], flags); return;
      case 'array': visitAll(node.items, flags); return;
      case 'arith': visitAll([node.left, node.right], flags); return;
      case 'and': visitAll([node.left, node.right], flags); return;
      case 'negate': visit(node.operand, flags); return;
      default: return;
    }
  };
  const visitAll = (nodes: (PqlNode | null)[], flags: Flags): void => {
    for (const node of nodes) if (node) visit(node, flags);
  };
  const visitSpecAnchors = (spec: TimeSpec, flags: Flags): void => {
    const anchors = spec.type === 'between' ? [spec.from, spec.to] : 'anchor' in spec ? [spec.anchor] : [];
    visitAll(anchors, flags);
  };
  /** An xEvent source with a condition: one event reference with the window of that condition. */
  const markEvents = (source: PqlNode, flags: Flags, where: PqlNode | null, variable: string | null): void => {
    if (source.kind === 'ref' && source.binding === 'xEvent') {
      handled.add(source);
      addEvent(flags, conditionWindow(where, variable));
    }
  };
  const visitCall = (node: Extract<PqlNode, { kind: 'call' }>, flags: Flags): void => {
    counters.blocks += 1;
    if (PROFILE_TIME_FUNCTIONS.has(node.name)) counters.profileTime = true;
    if (['sum', 'average', 'min', 'max'].includes(node.name)) counters.aggregations += 1;
    if (node.name === 'inSegment' && node.args[0]?.kind === 'string') segments.add(node.args[0].value);
    const membershipId = segmentMembershipId(node);
    if (membershipId) segments.add(membershipId);
    if (node.name === 'filter' && node.target) {
      const arg = node.args[0]!;
      markEvents(node.target, flags, arg.kind === 'lambda' ? arg.body : arg, arg.kind === 'lambda' ? arg.param : null);
    }
    if (node.target) visit(node.target, flags);
    const item = ITERATING_CALLS.has(node.name) ? deeper(flags) : flags;
    node.args.forEach((arg, index) => visit(arg, isItemArg(node.name, index) ? item : flags));
  };
  const visitChain = (node: ChainNode, flags: Flags): void => {
    counters.sequences += 1;
    if (node.source.kind === 'ref') handled.add(node.source);
    const first = node.steps[0]!;
    const chainWindow = first.when ? specWindow(first.when) : { lookbackDays: null, future: false };
    for (const step of node.steps) {
      counters.blocks += 1;
      const own = step.when ? specWindow(step.when) : { lookbackDays: null, future: false };
      addEvent(flags, { lookbackDays: chainWindow.lookbackDays, future: own.future }, true);
      visit(step.what, deeper(flags));
    }
  };

  visit(root, { underOr: false, negated: false, depth: 0 });
  const lookbacks = events.map((e) => e.lookbackDays);
  return {
    eventReferences: events.length,
    sequences: counters.sequences,
    aggregations: counters.aggregations,
    inSegment: [...segments].sort(),
    eventLookbackDays: events.length === 0 ? 0 : lookbacks.includes(null) ? null : Math.max(...(lookbacks as number[])),
    usesProfileTimeFunctions: counters.profileTime,
    eventsOnlyUnderOr: events.length > 0 && events.every((e) => e.underOr),
    profileAttributes: [...profileAttributes].sort(),
    negatedEventReferences: events.filter((e) => e.negated).length,
    allEventsNegated: events.length > 0 && events.every((e) => e.negated),
    eventsOnlyInSequences: events.length > 0 && events.every((e) => e.inSequence),
    usesFutureWindows: events.some((e) => e.future),
    blocks: counters.blocks,
    arrayDepth: counters.arrayDepth,
  };
}

/** Functions that go through the items of their target (one level of array depth). */
const ITERATING_CALLS = new Set(['count', 'sum', 'average', 'min', 'max', 'distinct', 'filter', 'map', 'topN', 'bottomN', 'head',
  'intersects', 'intersection', 'subsetOf', 'supersetOf', 'includes', 'in', 'notIn']);

function isItemArg(name: string, index: number): boolean {
  return ['filter', 'map', 'sum', 'average', 'min', 'max', 'topN', 'bottomN'].includes(name) && index === 0;
}

/** `homeAddress.country` for a member chain that starts at a profile field, else null. */
function profilePath(node: PqlNode): string | null {
  if (node.kind === 'ref') return node.binding === 'profile' ? node.name : null;
  if (node.kind === 'member') {
    const base = profilePath(node.object);
    return base ? `${base}.${node.name}` : null;
  }
  return null;
}

/** `segmentMembership.get("ups").get("<id>")…` names a segment too. */
function segmentMembershipId(node: Extract<PqlNode, { kind: 'call' }>): string | null {
  const inner = node.target;
  if (node.name !== 'get' || node.args[0]?.kind !== 'string' || inner?.kind !== 'call' || inner.name !== 'get') return null;
  return profilePath(inner.target ?? { kind: 'null', pos: node.pos }) === 'segmentMembership' ? node.args[0].value : null;
}

/** `count() = 0`, `count() < 1`, `count() <= 0`: the event must not have happened. */
function isAbsenceTest(node: Extract<PqlNode, { kind: 'compare' }>): boolean {
  const counts = (n: PqlNode): boolean => (n.kind === 'call' && n.name === 'count') || (n.kind === 'aggregate' && n.fn === 'count');
  if (!counts(node.left) || node.right.kind !== 'number') return false;
  const limit = node.right.value;
  return (node.op === '=' && limit === 0) || (node.op === '<' && limit <= 1) || (node.op === '<=' && limit <= 0);
}

/** The event's own timestamp: `timestamp` of the item, or `X.timestamp` of a bound event. */
function isTimestampOf(subject: PqlNode, variable: string | null = null): boolean {
  if (subject.kind === 'ref') return subject.binding === 'item' && subject.name === 'timestamp';
  if (subject.kind === 'member' && subject.name === 'timestamp' && subject.object.kind === 'ref') {
    return subject.object.binding === 'variable' && (variable === null || subject.object.name === variable);
  }
  return false;
}

interface WindowInfo { lookbackDays: number | null; future: boolean }

function conditionWindow(where: PqlNode | null, variable: string | null): WindowInfo {
  const windows = conjuncts(where)
    .filter((c): c is Extract<PqlNode, { kind: 'occurs' }> => c.kind === 'occurs' && isTimestampOf(c.subject, variable))
    .map((c) => specWindow(c.spec));
  const bounded = windows.map((w) => w.lookbackDays).filter((d): d is number => d !== null);
  return { lookbackDays: bounded.length > 0 ? Math.min(...bounded) : null, future: windows.some((w) => w.future) };
}

function conjuncts(node: PqlNode | null): PqlNode[] {
  if (node === null) return [];
  return node.kind === 'and' ? [...conjuncts(node.left), ...conjuncts(node.right)] : [node];
}

const ANALYSIS_TIME: TimeOps<number | null> = { constant: (ms) => ms, add: (ms, n, unit) => (ms === null ? null : addUnits(ms, n, unit)) };

/** How far back from now a window reaches (days), and whether it lies in the future. */
function specWindow(spec: TimeSpec): WindowInfo {
  const window = windowOf(spec, REFERENCE_NOW, ANALYSIS_TIME, (anchor) => {
    if (anchor.kind === 'timeWord') return wordSpan(anchor.word, REFERENCE_NOW);
    if (anchor.kind === 'date') {
      const start = Date.UTC(anchor.year, anchor.month - 1, anchor.day);
      return { start, end: start + DAY, point: false };
    }
    return { start: null, end: null, point: true };
  });
  const lower = window.lower?.at ?? null;
  const future = lower !== null && lower >= REFERENCE_NOW;
  return { lookbackDays: lower === null ? null : Math.max(0, (REFERENCE_NOW - lower) / DAY), future };
}
