/**
 * Property: for any valid builder tree r (random blocks, operators, counts, aggregations, time constraints at
 * every scope, nested include/exclude containers), reading back its PQL gives normalizeRule(r), normalizeRule
 * is idempotent, and r and normalizeRule(r) select the same fixture profiles (normalising never changes meaning).
 * Small pools of fields and event types make the collisions normalizeRule documents actually happen.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { evaluatePql, parsePql } from '../pql/index.ts';
import { pqlToRule } from './from-pql.ts';
import type { Condition, EventCondition, RuleBlock, SegmentRule, SequenceStep, TimeConstraint, Value } from './model.ts';
import { normalizeRule } from './normalize.ts';
import { ruleToPql } from './to-pql.ts';
import { validateRule } from './validate.ts';

const unit = fc.constantFrom('second', 'minute', 'hour', 'day', 'week', 'month', 'year' as const);
const amount = fc.integer({ min: 1, max: 40 });
const isoDay = fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2026-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
const ignoreYear = fc.constantFrom<{ ignoreYear?: boolean }>({}, { ignoreYear: true });
const point = fc.record({ amount: fc.integer({ min: 0, max: 30 }), unit, direction: fc.constantFrom('before', 'after' as const) });

const time: fc.Arbitrary<TimeConstraint> = fc.oneof(
  fc.constantFrom<TimeConstraint>({ type: 'today' }, { type: 'yesterday' }, { type: 'thisMonth' }, { type: 'thisYear' }, { type: 'exists' }, { type: 'notExists' },
    { type: 'today', ignoreYear: true }, { type: 'yesterday', ignoreYear: true }, { type: 'thisMonth', ignoreYear: true }),
  fc.record({ date: isoDay, flags: ignoreYear, type: fc.constantFrom('customDate', 'before', 'after' as const) }).map(({ flags, ...t }) => ({ ...t, ...flags })),
  fc.record({ amount, unit, type: fc.constantFrom('inLast', 'inNext' as const) }),
  fc.record({ a: isoDay, b: isoDay, flags: ignoreYear }).map(({ a, b, flags }): TimeConstraint => ({ type: 'fromTo', from: a < b ? a : b, to: a < b ? b : a, ...flags })),
  fc.record({ year: fc.integer({ min: 2000, max: 2030 }), month: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }), ignore: fc.boolean() })
    .map(({ year, month, ignore }): TimeConstraint => (month === undefined ? { type: 'during', year } : ignore ? { type: 'during', month, ignoreYear: true } : { type: 'during', year, month })),
  fc.record({ date: isoDay, amount, unit }).map((t): TimeConstraint => ({ type: 'within', ...t })),
  fc.record({ from: point, to: point })
    .filter(({ from, to }) => !(from.direction === 'after' && to.direction === 'before'))
    .map((t): TimeConstraint => ({ type: 'rollingRange', ...t })),
);

const text = fc.constantFrom('US', 'us', 'GOLD', 'a"b', 'x\\y', '', 'Sm_th%', 'ümlaut');
const value: fc.Arbitrary<Value> = fc.oneof(text, fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(0.5, 1250.25, 1e21), fc.boolean(), isoDay.map((date) => ({ date })));
const profileField = fc.constantFrom('homeAddress.country', '_tenant.loyaltyStatus', 'person.birthDate', 'a');
const eventField = fc.constantFrom('commerce.order.priceTotal', 'web.page.name', 'eventType');

const condition = (field: fc.Arbitrary<string>): fc.Arbitrary<Condition> => fc.record({
  field,
  mapKey: fc.option(fc.constantFrom('GOLD', 'k'), { nil: undefined, freq: 4 }),
  kind: fc.integer({ min: 0, max: 6 }),
  op: fc.constantFrom('equals', 'notEquals', 'lessThan', 'lessOrEqual', 'greaterThan', 'greaterOrEqual' as const),
  textOp: fc.constantFrom('equals', 'notEquals', 'contains', 'doesNotContain', 'startsWith', 'doesNotStartWith', 'endsWith', 'doesNotEndWith', 'like', 'matches' as const),
  value, text, values: fc.array(value, { minLength: 1, maxLength: 3 }), time, cs: fc.constantFrom<{ caseSensitive?: boolean }>({}, { caseSensitive: false }, { caseSensitive: true }),
}).map((c): Condition => {
  const base = c.mapKey === undefined ? { field: c.field } : { field: c.field, mapKey: c.mapKey };
  switch (c.kind) {
    case 0: return { ...base, operator: c.op, value: c.value };
    case 1: return { ...base, operator: c.textOp, value: c.text, ...c.cs };
    case 2: return { ...base, operator: 'in', values: c.values };
    case 3: return { ...base, operator: 'notIn', values: c.values };
    case 4: return { ...base, operator: 'exists' };
    case 5: return { ...base, operator: 'notExists' };
    default: return { ...base, operator: 'time', time: c.time };
  }
});

const eventCondition: fc.Arbitrary<EventCondition> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'commerce.purchases').map((eventType): EventCondition => ({ kind: 'eventType', eventType })) },
  { weight: 1, arbitrary: condition(eventField).map((c): EventCondition => ({ kind: 'eventField', ...c })) },
);
const conditions = fc.array(eventCondition, { minLength: 1, maxLength: 2 });
const maybeTime = fc.option(time, { nil: undefined, freq: 2 });
const withTime = <T extends object>(o: T, t: TimeConstraint | undefined): T & { time?: TimeConstraint } => (t ? { ...o, time: t } : o);

const eventBlock: fc.Arbitrary<RuleBlock> = fc.record({
  conditions, time: maybeTime,
  measure: fc.oneof(
    fc.constant(undefined),
    fc.record({ fn: fc.constantFrom('atLeast', 'atMost', 'exactly' as const), n: fc.integer({ min: 0, max: 5 }) }).map((count) => ({ count })),
    fc.record({ min: fc.integer({ min: 0, max: 5 }), span: fc.integer({ min: 0, max: 5 }) }).map(({ min, span }) => ({ count: { fn: 'between' as const, min, max: min + span } })),
    fc.constant({ count: { fn: 'all' as const } }),
    fc.record({ fn: fc.constantFrom('sum', 'average', 'min', 'max' as const), comparison: fc.constantFrom('=', '!=', '<', '<=', '>', '>=' as const), value: fc.integer({ min: -5, max: 500 }) })
      .map((a) => ({ aggregation: { ...a, field: 'commerce.order.priceTotal' } })),
  ),
}).map(({ conditions: c, time: t, measure }): RuleBlock => withTime({ kind: 'event', conditions: c, ...(measure ?? {}) }, t));

const duration = fc.record({ amount, unit });
const step = (first: boolean): fc.Arbitrary<SequenceStep> => fc.record({
  conditions, time: maybeTime,
  between: first ? fc.constant(undefined) : fc.oneof(fc.constant(undefined), duration.map((after) => ({ after })), duration.map((within) => ({ within }))),
}).map(({ conditions: c, time: t, between }) => withTime(between ? { conditions: c, between } : { conditions: c }, t));

const sequenceBlock: fc.Arbitrary<RuleBlock> = fc.tuple(step(true), fc.array(step(false), { minLength: 1, maxLength: 2 }))
  .map(([first, rest]): RuleBlock => ({ kind: 'sequence', steps: [first, ...rest] }));

const leaf: fc.Arbitrary<RuleBlock> = fc.oneof(
  { weight: 3, arbitrary: condition(profileField).map((c): RuleBlock => ({ kind: 'attribute', ...c })) },
  { weight: 3, arbitrary: eventBlock },
  { weight: 1, arbitrary: sequenceBlock },
  { weight: 1, arbitrary: fc.record({ segmentId: fc.constantFrom('s1', 's2'), membership: fc.constantFrom('include', 'exclude' as const) }).map((a): RuleBlock => ({ kind: 'audience', ...a })) },
);

const { block } = fc.letrec<{ block: RuleBlock }>((tie) => ({
  block: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({
      mode: fc.constantFrom('include', 'exclude' as const),
      combinator: fc.constantFrom('and', 'or' as const),
      children: fc.array(tie('block'), { maxLength: 3 }),
    }).map((c): RuleBlock => ({ kind: 'container', ...c }))),
}));

const segmentRule: fc.Arbitrary<SegmentRule> = fc.record({
  root: fc.record({ mode: fc.constantFrom('include', 'exclude' as const), combinator: fc.constantFrom('and', 'or' as const), children: fc.array(block, { maxLength: 4 }) }),
  canvas: fc.option(time, { nil: undefined, freq: 3 }),
}).map(({ root, canvas }): SegmentRule => ({ version: 1, ...(canvas ? { timeConstraint: canvas } : {}), root: { kind: 'container', ...root } }));

// Fixture profiles for the meaning check.
const now = new Date('2024-06-15T12:00:00Z');
const ev = (eventType: string, ts: string, priceTotal?: number) => ({ eventType, timestamp: ts, ...(priceTotal === undefined ? {} : { commerce: { order: { priceTotal } } }) });
const FIXTURES = [
  { profile: { homeAddress: { country: 'US' }, _tenant: { loyaltyStatus: 'GOLD' }, person: { birthDate: '1990-06-15T00:00:00Z' }, a: { GOLD: 3, k: 'US' } },
    events: [ev('a', '2024-06-15T09:00:00Z'), ev('b', '2024-06-15T10:00:00Z'), ev('commerce.purchases', '2024-06-01T10:00:00Z', 120), ev('a', '2024-05-01T00:00:00Z')],
    segments: new Set(['s1']) },
  { profile: { homeAddress: { country: 'us' }, _tenant: { loyaltyStatus: 'a"b' }, a: 0.5 },
    events: [ev('b', '2024-06-14T10:00:00Z'), ev('commerce.purchases', '2024-06-14T11:00:00Z', 20), ev('commerce.purchases', '2024-06-14T12:00:00Z', 1250.25)],
    segments: new Set(['s2']) },
  { profile: {}, events: [], segments: new Set<string>() },
];
const selects = (r: SegmentRule): boolean[] => {
  const node = parsePql(ruleToPql(r));
  return FIXTURES.map((f) => evaluatePql(node, { ...f, now }));
};

describe('builder ⇄ PQL, property-based', () => {
  it('reads back normalizeRule(r) for 400 random valid rules, normalizing is idempotent and keeps the meaning', () => {
    fc.assert(fc.property(segmentRule, (r) => {
      fc.pre(validateRule(r).valid);
      const text = ruleToPql(r);
      const back = pqlToRule(parsePql(text));
      assert.ok(back.editable, `${text}\n${back.editable ? '' : back.reason}`);
      const canonical = normalizeRule(r);
      assert.deepEqual(back.rule, canonical, text);
      assert.deepEqual(normalizeRule(canonical), canonical);
      assert.equal(ruleToPql(canonical), ruleToPql(back.rule));
      assert.deepEqual(selects(canonical), selects(r), text);
    }), { numRuns: 400, seed: 20241115 });
  });
});
