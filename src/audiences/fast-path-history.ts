/**
 * Which streaming decisions need a profile's event history, and which can be taken from the events just
 * acknowledged: lets the fast path decide at once for most profiles and wait for the read of stored events (the
 * seed) only where the answer depends on them.
 *
 * `decideWithoutHistory` evaluates a segment in three-valued logic over a subset of the profile's events (the
 * acknowledged ones it holds, all of which are real): a sub-expression that reads no event is evaluated as is;
 * an event condition that more events can only make true (`exists … from xEvent`, `CHAIN(xEvent, …)`,
 * `xEvent…count() >= n`) is true when the subset satisfies it and unknown otherwise; anything else over events
 * (counts equal to or below n, `forall`, aggregates, `let`) is unknown. `and`/`or` combine as Kleene logic; `not`
 * only turns a definite true into false (a false below may come from a null, which PQL does not negate to true).
 * Unknown means: wait for the history.
 */
import { evaluate, type Prepared } from './engine.ts';
import type { PqlNode } from './pql/ast.ts';

type Input = Parameters<typeof evaluate>[1];

const readsEventsCache = new WeakMap<object, boolean>();

/** Whether a sub-tree refers to `xEvent` anywhere. */
export function readsEvents(node: unknown): boolean {
  if (node === null || typeof node !== 'object') return false;
  const cached = readsEventsCache.get(node);
  if (cached !== undefined) return cached;
  let found = false;
  if (Array.isArray(node)) found = node.some(readsEvents);
  else {
    const record = node as Record<string, unknown>;
    if (record.kind === 'ref' && record.binding === 'xEvent') found = true;
    else for (const [key, value] of Object.entries(record)) if (key !== 'pos' && readsEvents(value)) { found = true; break; }
  }
  readsEventsCache.set(node, found);
  return found;
}

const isXEvent = (node: PqlNode): boolean => node.kind === 'ref' && node.binding === 'xEvent';

/** `xEvent`, `xEvent.filter(…)`, `xEvent.filter(…).filter(…)` with conditions that read no other event list. */
function eventSubset(node: PqlNode): boolean {
  if (isXEvent(node)) return true;
  return node.kind === 'call' && node.name === 'filter' && node.target !== null && eventSubset(node.target) && !node.args.some(readsEvents);
}

function countOfEvents(node: PqlNode): boolean {
  if (node.kind === 'call' && node.name === 'count' && node.target !== null && node.args.length === 0) return eventSubset(node.target);
  if (node.kind === 'aggregate' && node.fn === 'count') return isXEvent(node.source) && !readsEvents(node.where);
  return false;
}

/** An event condition that holds for a superset of events whenever it holds for a subset. */
export function monotoneInEvents(node: PqlNode): boolean {
  switch (node.kind) {
    case 'quantifier': {
      const [first, ...rest] = node.bindings;
      return node.quantifier === 'exists' && first !== undefined && isXEvent(first.source) && !readsEvents(first.where) && !rest.some((b) => readsEvents(b));
    }
    case 'chain':
      return isXEvent(node.source) && !node.steps.some((s) => readsEvents(s.what) || readsEvents(s.when));
    case 'compare':
      return (node.op === '>=' || node.op === '>') && countOfEvents(node.left) && node.right.kind === 'number';
    default:
      return false;
  }
}

/** true / false when the held events decide it whatever the rest of the history holds; undefined otherwise. */
function tri(node: PqlNode, input: Input): boolean | undefined {
  if (!readsEvents(node)) return evaluate({ node }, { ...input, events: [] });
  switch (node.kind) {
    case 'and': {
      const left = tri(node.left, input);
      if (left === false) return false;
      const right = tri(node.right, input);
      if (right === false) return false;
      return left === true && right === true ? true : undefined;
    }
    case 'or': {
      const left = tri(node.left, input);
      if (left === true) return true;
      const right = tri(node.right, input);
      if (right === true) return true;
      return left === false && right === false ? false : undefined;
    }
    case 'not':
      return tri(node.operand, input) === true ? false : undefined;
    default:
      return monotoneInEvents(node) && evaluate({ node }, input) ? true : undefined;
  }
}

/** The decision from the held events alone (`input.events`, a subset of the history), or undefined: needs the history. */
export function decideWithoutHistory(prepared: Pick<Prepared, 'node' | 'features'>, input: Input): boolean | undefined {
  if (prepared.features.eventReferences === 0) return evaluate(prepared, input);
  return tri(prepared.node, input);
}
