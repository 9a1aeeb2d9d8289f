/**
 * The PQL function table: canonical names, accepted spellings, call shape and arity. The parser checks calls
 * against it (unknown names get a "did you mean" suggestion); the evaluator and SQL compiler switch on the
 * canonical `name` and may assume the arity holds.
 */

export type CallStyle = 'method' | 'function';

export interface FunctionSpec {
  name: string;
  style: CallStyle;
  minArgs: number;
  maxArgs: number;
  /** Argument indexes evaluated once per item of the target (unqualified names refer to the item). */
  itemArgs?: readonly number[];
  /** Other accepted spellings (lower-cased lookup). */
  aliases?: readonly string[];
}

const m = (name: string, minArgs: number, maxArgs = minArgs, extra: Partial<FunctionSpec> = {}): FunctionSpec =>
  ({ name, style: 'method', minArgs, maxArgs, ...extra });
const f = (name: string, minArgs: number, maxArgs = minArgs, extra: Partial<FunctionSpec> = {}): FunctionSpec =>
  ({ name, style: 'function', minArgs, maxArgs, ...extra });

/** Text tests with an optional `caseSensitive` boolean (default true). */
export const TEXT_TESTS = ['startsWith', 'doesNotStartWith', 'endsWith', 'doesNotEndWith', 'contains', 'doesNotContain', 'equals', 'notEqualTo'] as const;
/** Aggregations over a collection: with no argument over the items, with one over an item expression. */
export const AGGREGATIONS = ['sum', 'average', 'min', 'max'] as const;

export const FUNCTIONS: readonly FunctionSpec[] = [
  ...TEXT_TESTS.map((name) => m(name, 1, 2)),
  m('like', 1),
  m('matches', 1),
  m('regexGroup', 2, 2, { aliases: ['regexp_group', 'regexpgroup'] }),
  m('count', 0),
  ...AGGREGATIONS.map((name) => m(name, 0, 1, { itemArgs: [0], aliases: name === 'average' ? ['avg'] : [] })),
  m('distinct', 0),
  m('filter', 1, 1, { itemArgs: [0] }),
  m('map', 1, 1, { itemArgs: [0] }),
  m('topN', 2, 2, { itemArgs: [0] }),
  m('bottomN', 2, 2, { itemArgs: [0] }),
  m('head', 0),
  m('intersects', 1),
  m('intersection', 1),
  m('subsetOf', 1),
  m('supersetOf', 1),
  m('includes', 1),
  m('in', 1),
  m('notIn', 1),
  m('get', 1),
  m('keys', 0),
  m('values', 0),
  m('isNull', 0),
  m('isNotNull', 0),
  m('getMonth', 0),
  m('getYear', 0),
  m('getDayOfMonth', 0),
  f('currentMonth', 0),
  f('currentYear', 0),
  f('currentDayOfMonth', 0),
  f('if', 3),
  f('inSegment', 1),
];

const byName = new Map<string, FunctionSpec>();
for (const spec of FUNCTIONS) {
  byName.set(spec.name.toLowerCase(), spec);
  for (const alias of spec.aliases ?? []) byName.set(alias.toLowerCase(), spec);
}

export function lookupFunction(name: string): FunctionSpec | undefined {
  return byName.get(name.toLowerCase());
}

/** The closest known name (edit distance ≤ 3, or a case-insensitive prefix), for "did you mean" hints. */
export function suggestFunction(name: string): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const spec of FUNCTIONS) {
    const distance = editDistance(name.toLowerCase(), spec.name.toLowerCase());
    if (!best || distance < best.distance) best = { name: spec.name, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(name.length / 3)) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      // A swap of two neighbours counts as one edit ("strats" → "starts").
      const swap = i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1] ? before[j - 2]! + 1 : Infinity;
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution, swap));
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}
