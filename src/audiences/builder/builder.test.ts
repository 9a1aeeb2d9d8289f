/**
 * Rule builder ⇄ PQL: the round trip over the corpus (every block kind, operator, count function,
 * aggregation, time constraint and time scope), canonical forms, "code view only" results, the PQL the
 * builder prints evaluated by the PQL engine on fixture profiles, and the query-validation flags at their limits.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RoundtripError } from '../../core/errors.ts';
import { compileSchema } from '../../core/validation.ts';
import { analysePql, compilePqlToSql, evaluatePql, parsePql } from '../pql/index.ts';
import { CORPUS, TIME_CONSTRAINTS, rule, type } from './corpus.ts';
import { pqlTextToRule, pqlToRule } from './from-pql.ts';
import { SegmentRule, type RuleBlock, type SegmentRule as Rule, type TimeConstraint } from './model.ts';
import { normalizeRule } from './normalize.ts';
import { ruleToPql } from './to-pql.ts';
import { assertRuleValid, validateFeatures, validateRule } from './validate.ts';

const roundTrip = (r: Rule): ReturnType<typeof pqlToRule> => pqlToRule(parsePql(ruleToPql(r)));

describe('builder model', () => {
  it('the TypeBox schema accepts every corpus rule and refuses malformed ones', () => {
    const check = compileSchema(SegmentRule);
    for (const [name, r] of Object.entries(CORPUS)) assert.equal(check(r), true, `${name}: ${JSON.stringify(check.errors)}`);
    assert.equal(check(rule([{ kind: 'attribute', field: '1bad', operator: 'equals', value: 'x' }])), false);
    assert.equal(check(rule([{ kind: 'event', conditions: [] }])), false);
    assert.equal(check(rule([{ kind: 'sequence', steps: [{ conditions: [type('a')] }] }])), false);
    assert.equal(check({ ...rule([]), timeConstraint: { type: 'inLast', amount: 0, unit: 'day' } }), false);
  });
});

describe('builder → PQL → builder', () => {
  it('covers every time constraint of §10.1 at attribute, card, sequence-step and canvas scope', () => {
    const names = Object.keys(CORPUS);
    for (const time of Object.keys(TIME_CONSTRAINTS)) {
      for (const scope of ['cardTime', 'countCardTime', 'stepTime', 'canvasTime']) assert.ok(names.includes(`${scope}_${time}`), `${scope}_${time}`);
    }
    const types = new Set(Object.values(TIME_CONSTRAINTS).map((t) => t.type));
    for (const t of ['today', 'yesterday', 'thisMonth', 'thisYear', 'customDate', 'inLast', 'inNext', 'fromTo', 'during', 'within', 'before', 'after', 'rollingRange', 'exists', 'notExists']) {
      assert.ok(types.has(t as TimeConstraint['type']), t);
    }
  });

  for (const [name, r] of Object.entries(CORPUS)) {
    it(`round trip: ${name}`, () => {
      const text = ruleToPql(r);
      const back = pqlToRule(parsePql(text));
      assert.ok(back.editable, `${text}\n${back.editable ? '' : back.reason}`);
      assert.deepEqual(back.rule, r, text);
      assert.equal(ruleToPql(back.rule), text, 'printing is deterministic');
      assert.deepEqual(normalizeRule(r), r, 'corpus rules are canonical');
      const sql = compilePqlToSql(parsePql(text), { profileAlias: 'p', eventsTable: 'ev', membershipTable: 'm', now: '2024-06-15T12:00:00.000Z' });
      assert.ok(sql.length > 0, 'the batch compiler takes it');
    });
  }

  it('prints the reference forms (§10.2, §11)', () => {
    assert.equal(ruleToPql(rule([{ kind: 'attribute', field: 'homeAddress.country', operator: 'equals', value: 'US', caseSensitive: false }])),
      'homeAddress.country.equals("US", false)');
    assert.equal(ruleToPql(rule([{ kind: 'event', conditions: [type('commerce.checkouts')], time: { type: 'today' } }])),
      'CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])');
    assert.equal(ruleToPql(CORPUS.clvDeciles!),
      '_tenant.decilesRevenue.decileMonth6.get("GOLD") <= 3 and _tenant.loyaltyStatus = "GOLD" and '
      + 'CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("directMarketing.emailOpened", false)) WHEN(<= 30 days before now)])');
  });

  it('reads the reference examples into builder trees and prints them back unchanged', () => {
    for (const text of [
      'homeAddress.country.equals("US", false)',
      'CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])',
      'workAddress.country.equals("US", false) and CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("directMarketing.emailClicked", false)) WHEN(today), C1: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])',
      'inSegment("e3be6d7f-0000") and CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(<= 24 hours before now)])',
      'person.birthMonth <= 2',
      'homeAddress.countryISO = "CA"',
      'person.name.firstName.matches("(?i)^John")',
    ]) {
      const result = pqlTextToRule(text);
      assert.ok(result.editable, text);
      assert.equal(ruleToPql(result.rule), text);
    }
    const sequence = pqlTextToRule('CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("directMarketing.emailClicked", false)) WHEN(today), C1: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])');
    assert.ok(sequence.editable);
    assert.deepEqual(sequence.rule.timeConstraint, { type: 'today' }, 'a time shared by every event card is the canvas time');
  });

  it('normalizes equivalent trees to the one the round trip returns', () => {
    const attr = (value: string): RuleBlock => ({ kind: 'attribute', field: 'a.b', operator: 'equals', value });
    const birthday = (time: TimeConstraint): RuleBlock => ({ kind: 'attribute', field: 'person.birthDate', operator: 'time', time });
    const cases: Rule[] = [
      // nested include containers, single-child containers
      rule([attr('1'), { kind: 'container', mode: 'include', combinator: 'and', children: [attr('2'), attr('3')] }]),
      rule([{ kind: 'container', mode: 'include', combinator: 'or', children: [attr('1')] }, attr('2')], 'or'),
      rule([{ kind: 'container', mode: 'include', combinator: 'or', children: [attr('1'), attr('2')] }]),
      // excluded root, excluded container holding one audience, explicit "at least 1", eventType as a field
      { version: 1, root: { kind: 'container', mode: 'exclude', combinator: 'or', children: [attr('1'), attr('2')] } },
      rule([{ kind: 'container', mode: 'exclude', combinator: 'or', children: [{ kind: 'audience', segmentId: 's', membership: 'include' }] }]),
      rule([{ kind: 'event', count: { fn: 'atLeast', n: 1 }, conditions: [{ kind: 'eventField', field: 'eventType', operator: 'equals', value: 'x', caseSensitive: false }] }]),
      // canvas time with one event card, canvas time with an overriding card, case sensitivity on numbers
      rule([{ kind: 'event', conditions: [type('x')] }], 'and', { type: 'today' }),
      rule([{ kind: 'event', conditions: [type('x')], time: { type: 'yesterday' } }, { kind: 'event', conditions: [type('y')] }, { kind: 'event', conditions: [type('z')] }], 'and', { type: 'today' }),
      rule([{ kind: 'attribute', field: 'a', operator: 'equals', value: 3, caseSensitive: false }]),
      rule([{ kind: 'attribute', field: 'a', operator: 'time', time: { type: 'exists' } }]),
      // a from-to over exactly one calendar month is "during" that month
      rule([birthday({ type: 'fromTo', from: '2024-02-01', to: '2024-02-29' })]),
    ];
    for (const r of cases) {
      const back = roundTrip(r);
      assert.ok(back.editable);
      assert.deepEqual(back.rule, normalizeRule(r), ruleToPql(r));
      assert.notDeepEqual(normalizeRule(r), r, 'each case is not canonical to begin with');
    }
    assert.deepEqual(normalizeRule(cases[10]!).root.children[0], birthday({ type: 'during', year: 2024, month: 2 }));
  });

  it('keeps two cards two cards where their comparisons could group into one block', () => {
    const birthday = (time: TimeConstraint): RuleBlock => ({ kind: 'attribute', field: 'person.birthDate', operator: 'time', time });
    for (const r of [
      rule([{ kind: 'event', conditions: [type('a')], count: { fn: 'atLeast', n: 2 } }, { kind: 'event', conditions: [type('a')], count: { fn: 'atMost', n: 4 } }]),
      rule([birthday({ type: 'inLast', amount: 3, unit: 'day' }), birthday({ type: 'inNext', amount: 2, unit: 'week' })], 'or'),
      rule([birthday({ type: 'during', year: 2024 }), birthday({ type: 'during', month: 3, ignoreYear: true })]),
    ]) {
      const back = roundTrip(r);
      assert.ok(back.editable);
      assert.deepEqual(back.rule, r, ruleToPql(r));
    }
  });

  it('answers "code view only" (not an exception) for what the builder cannot show, with the position', () => {
    for (const text of [
      'let S = (sum X.commerce.order.priceTotal over X from xEvent where X.commerce.order.currencyCode = "USD") in (S > 100 and S < 1000)',
      'exists E from xEvent where (E.commerce.item.price > 50)',
      'homeAddress.stateProvince = workAddress.stateProvince',
      'person.orders.storeId.distinct().count() > 1',
      'a = 1 and product.saleDate occurs last week',
      'CHAIN(xEvent, timestamp, [C0: WHAT(eventType = "a") WHEN(tomorrow)])',
      'if(a = 1, b = 2, c = 3)',
    ]) {
      const result = pqlTextToRule(text);
      assert.equal(result.editable, false, text);
      if (!result.editable) {
        assert.match(result.reason, /only be edited in code view/);
        assert.ok(result.pos && result.pos.line >= 1 && result.pos.column >= 1, text);
      }
    }
    assert.throws(() => pqlTextToRule('homeAddress.country = '), (e: unknown) => e instanceof RoundtripError && e.code === 'RT_PQL_SYNTAX');
  });
});

describe('the PQL the builder prints, evaluated', () => {
  const now = new Date('2024-06-15T12:00:00Z');
  const at = (iso: string): string => new Date(iso).toISOString();
  const ev = (eventType: string, ts: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ eventType, timestamp: at(ts), ...extra });
  const purchase = (ts: string, priceTotal: number): Record<string, unknown> => ev('commerce.purchases', ts, { commerce: { order: { priceTotal, currencyCode: 'USD' } } });
  // Dates as ISO instants: the evaluator misreads date-only text such as '1990-06-15' (reported to the PQL engine).
  const fixtures = {
    ana: {
      profile: { homeAddress: { country: 'US' }, person: { birthDate: '1990-06-15T00:00:00Z', name: { firstName: 'Ana' } }, _tenant: { loyaltyStatus: 'GOLD', decilesRevenue: { decileMonth6: { GOLD: 2 } } } },
      events: [
        ev('directMarketing.emailClicked', '2024-06-15T09:00:00Z'),
        ev('commerce.checkouts', '2024-06-15T10:00:00Z'),
        purchase('2024-06-01T10:00:00Z', 50), purchase('2024-06-05T10:00:00Z', 60), purchase('2024-06-10T10:00:00Z', 70),
        ev('directMarketing.emailOpened', '2024-06-10T08:00:00Z'),
      ],
      segments: new Set<string>(['seg-gold']),
    },
    ben: {
      profile: { homeAddress: { country: 'CA' }, person: { birthDate: '1985-01-20T00:00:00Z', name: { firstName: 'Ben' } }, _tenant: { loyaltyStatus: 'SILVER', decilesRevenue: { decileMonth6: { SILVER: 1 } } } },
      events: [
        ev('commerce.checkouts', '2024-05-06T10:00:00Z'),
        ev('directMarketing.emailClicked', '2024-06-15T11:00:00Z'),
        purchase('2024-06-14T10:00:00Z', 500),
        ev('directMarketing.emailOpened', '2024-05-01T08:00:00Z'),
      ],
      segments: new Set<string>(),
    },
    cy: {
      profile: { homeAddress: { country: 'us' }, person: { birthDate: '2000-12-28T00:00:00Z' }, _tenant: { loyaltyStatus: 'GOLD' } },
      events: [],
      segments: new Set<string>(['seg-gold', 'seg-churned']),
    },
  };
  const who = (r: Rule): string[] => {
    const node = parsePql(ruleToPql(r));
    return Object.entries(fixtures).filter(([, f]) => evaluatePql(node, { ...f, now })).map(([name]) => name);
  };
  const birth = (time: TimeConstraint): Rule => rule([{ kind: 'attribute', field: 'person.birthDate', operator: 'time', time }]);
  const card = (eventType: string, extra: Partial<Extract<RuleBlock, { kind: 'event' }>> = {}): Rule => rule([{ kind: 'event', conditions: [type(eventType)], ...extra }]);

  it('attribute blocks', () => {
    assert.deepEqual(who(CORPUS.attributeEquals!), ['ana']);
    assert.deepEqual(who(CORPUS.attributeEqualsCaseInsensitive!), ['ana', 'cy']);
    assert.deepEqual(who(rule([{ kind: 'attribute', field: '_tenant.loyaltyStatus', operator: 'in', values: ['SILVER', 'BRONZE'] }])), ['ben']);
    assert.deepEqual(who(rule([{ kind: 'attribute', field: 'person.name.firstName', operator: 'notExists' }])), ['cy']);
    assert.deepEqual(who(rule([{ kind: 'attribute', field: 'person.name.firstName', operator: 'startsWith', value: 'b', caseSensitive: false }])), ['ben']);
  });

  it('time constraints on a date attribute, with and without "Ignore year"', () => {
    assert.deepEqual(who(birth({ type: 'today', ignoreYear: true })), ['ana'], 'birthday today');
    assert.deepEqual(who(birth({ type: 'thisMonth', ignoreYear: true })), ['ana']);
    assert.deepEqual(who(birth({ type: 'before', date: '1989-01-01' })), ['ben']);
    assert.deepEqual(who(birth({ type: 'after', date: '1999-12-31' })), ['cy']);
    assert.deepEqual(who(birth({ type: 'fromTo', from: '2024-12-20', to: '2025-01-25', ignoreYear: true })), ['ben', 'cy'], 'over the turn of the year');
    assert.deepEqual(who(birth({ type: 'during', month: 6, ignoreYear: true })), ['ana']);
    assert.deepEqual(who(birth({ type: 'during', year: 1985, month: 1 })), ['ben']);
    assert.deepEqual(who(birth({ type: 'during', year: 2000 })), ['cy']);
    assert.deepEqual(who(birth({ type: 'within', date: '2000-12-25', amount: 3, unit: 'day' })), ['cy']);
    assert.deepEqual(who(birth({ type: 'within', date: '2000-12-28', amount: 1, unit: 'day' })), ['cy'], 'the day itself is inside');
    assert.deepEqual(who(birth({ type: 'customDate', date: '2020-01-20', ignoreYear: true })), ['ben']);
    assert.deepEqual(who(birth({ type: 'after', date: '2024-11-30', ignoreYear: true })), ['cy']);
  });

  it('event cards: default count, time scopes, count functions and aggregations', () => {
    assert.deepEqual(who(card('commerce.checkouts', { time: { type: 'today' } })), ['ana']);
    assert.deepEqual(who(card('commerce.checkouts', { time: { type: 'inLast', amount: 24, unit: 'hour' } })), ['ana']);
    assert.deepEqual(who(card('commerce.checkouts', { time: { type: 'inLast', amount: 6, unit: 'week' } })), ['ana', 'ben']);
    assert.deepEqual(who(card('commerce.checkouts', { time: { type: 'rollingRange', from: { amount: 45, unit: 'day', direction: 'before' }, to: { amount: 30, unit: 'day', direction: 'before' } } })), ['ben']);
    assert.deepEqual(who(card('commerce.checkouts', { time: { type: 'yesterday' } })), []);
    assert.deepEqual(who(card('commerce.checkouts')), ['ana', 'ben']);
    assert.deepEqual(who(card('commerce.purchases', { count: { fn: 'atLeast', n: 3 }, time: { type: 'inLast', amount: 30, unit: 'day' } })), ['ana']);
    assert.deepEqual(who(card('commerce.purchases', { count: { fn: 'atMost', n: 1 } })), ['ben', 'cy']);
    assert.deepEqual(who(card('commerce.purchases', { count: { fn: 'exactly', n: 1 } })), ['ben']);
    assert.deepEqual(who(card('commerce.purchases', { count: { fn: 'between', min: 2, max: 3 } })), ['ana']);
    assert.deepEqual(who(card('commerce.purchases', { count: { fn: 'all' }, time: { type: 'fromTo', from: '2024-06-14', to: '2024-06-14' } })), ['ben'], 'all events of June 14 are purchases');
    assert.deepEqual(who(card('commerce.purchases', { count: { fn: 'all' }, time: { type: 'inLast', amount: 2, unit: 'day' } })), [], 'Ben also clicked an email');
    assert.deepEqual(who(card('commerce.purchases', { aggregation: { fn: 'sum', field: 'commerce.order.priceTotal', comparison: '>', value: 150 } })), ['ana', 'ben']);
    assert.deepEqual(who(card('commerce.purchases', { aggregation: { fn: 'average', field: 'commerce.order.priceTotal', comparison: '<', value: 100 } })), ['ana']);
    assert.deepEqual(who(card('commerce.purchases', { aggregation: { fn: 'max', field: 'commerce.order.priceTotal', comparison: '>=', value: 500 } })), ['ben']);
    assert.deepEqual(who(card('commerce.purchases', { aggregation: { fn: 'min', field: 'commerce.order.priceTotal', comparison: '=', value: 50 }, time: { type: 'fromTo', from: '2024-06-01', to: '2024-06-01' } })), ['ana']);
  });

  it('sequences with between-event constraints, canvas time, audiences and containers', () => {
    const clickThenCheckout = (between?: { within?: { amount: number; unit: 'hour' }; after?: { amount: number; unit: 'hour' } }): Rule =>
      rule([{ kind: 'sequence', steps: [{ conditions: [type('directMarketing.emailClicked')] }, { conditions: [type('commerce.checkouts')], ...(between ? { between } : {}) }] }]);
    assert.deepEqual(who(clickThenCheckout()), ['ana'], 'Ben checked out before he clicked');
    assert.deepEqual(who(clickThenCheckout({ within: { amount: 2, unit: 'hour' } })), ['ana']);
    assert.deepEqual(who(clickThenCheckout({ after: { amount: 2, unit: 'hour' } })), []);
    assert.deepEqual(who({ ...card('commerce.checkouts'), timeConstraint: { type: 'thisMonth' } }), ['ana'], 'canvas time applies to the card');
    assert.deepEqual(who(CORPUS.audiences!), ['ana']);
    assert.deepEqual(who(CORPUS.clvDeciles!), ['ana'], 'the CLV decile audience of the workflow');
    assert.deepEqual(who(rule([
      { kind: 'attribute', field: '_tenant.loyaltyStatus', operator: 'equals', value: 'GOLD' },
      { kind: 'container', mode: 'exclude', combinator: 'and', children: [{ kind: 'event', conditions: [type('commerce.checkouts')] }] },
    ])), ['cy']);
    assert.deepEqual(who(rule([
      { kind: 'attribute', field: 'homeAddress.country', operator: 'equals', value: 'CA' },
      { kind: 'audience', segmentId: 'seg-churned', membership: 'include' },
    ], 'or')), ['ben', 'cy']);
    assert.deepEqual(who(CORPUS.emptyRoot!), ['ana', 'ben', 'cy']);
  });
});

describe('query validation', () => {
  const attrs = (n: number): RuleBlock[] => Array.from({ length: n }, (_, i) => ({ kind: 'attribute', field: `f${i}`, operator: 'equals', value: i }));
  const sequences = (n: number): RuleBlock[] => Array.from({ length: n }, () => ({ kind: 'sequence', steps: [{ conditions: [type('a')] }, { conditions: [type('b')] }] }));
  const aggregations = (n: number): RuleBlock[] => Array.from({ length: n }, () => ({ kind: 'event', conditions: [type('p')], aggregation: { fn: 'sum', field: 'v', comparison: '>', value: 1 } }));
  const codes = (r: Rule, limits = {}): string[] => validateRule(r, limits).issues.map((i) => i.code);

  it('flags more than 50 blocks, 6 event sequences and 3 aggregations (not at the limit)', () => {
    assert.deepEqual(codes(rule(attrs(50))), []);
    assert.deepEqual(codes(rule(attrs(51))), ['SEG_TOO_MANY_BLOCKS']);
    assert.deepEqual(codes(rule(sequences(6))), []);
    assert.deepEqual(codes(rule(sequences(7))), ['SEG_TOO_MANY_SEQUENCES']);
    assert.deepEqual(codes(rule(aggregations(3))), []);
    assert.deepEqual(codes(rule(aggregations(4))), ['SEG_TOO_MANY_AGGREGATIONS']);
    const over = validateRule(rule(attrs(51)));
    assert.equal(over.valid, true, 'guardrails warn by default');
    assert.equal(over.issues[0]!.severity, 'warning');
    assert.deepEqual([over.issues[0]!.limit, over.issues[0]!.actual], [50, 51]);
    assert.equal(validateRule(rule(attrs(51)), { guardrailSeverity: 'error' }).valid, false);
    assert.deepEqual(codes(rule(attrs(11)), { maxBlocks: 10 }), ['SEG_TOO_MANY_BLOCKS'], 'limits are configurable');
    assert.equal(validateRule(rule(sequences(7))).counts.blocks, 14, 'each step of a sequence is a block');
  });

  it('applies the same guardrails to an expression from code view (counted by the PQL engine)', () => {
    const chains = (n: number): string => Array.from({ length: n }, (_, i) => `CHAIN(xEvent, timestamp, [C0: WHAT(eventType = "e${i}") WHEN(today)])`).join(' and ');
    const sums = (n: number): string => Array.from({ length: n }, (_, i) => `xEvent.filter(eventType = "p").sum(v${i}) > 1`).join(' or ');
    const featureCodes = (pql: string): string[] => validateFeatures(analysePql(parsePql(pql))).issues.map((i) => i.code);
    assert.deepEqual(featureCodes(chains(6)), []);
    assert.deepEqual(featureCodes(chains(7)), ['SEG_TOO_MANY_SEQUENCES']);
    assert.deepEqual(featureCodes(sums(3)), []);
    assert.ok(featureCodes(sums(4)).includes('SEG_TOO_MANY_AGGREGATIONS'));
    const many = Array.from({ length: 60 }, (_, i) => `f${i} = ${i}`).join(' and ');
    assert.ok(featureCodes(many).includes('SEG_TOO_MANY_BLOCKS'));
    assert.deepEqual(featureCodes('exists E from xEvent where (E.commerce.item.price > 50)'), []);
  });

  it('flags structural mistakes as errors with a path, and assertRuleValid throws RT_SEGMENT_RULE_INVALID', () => {
    const bad = rule([
      { kind: 'attribute', field: 'a', operator: 'equals' },
      { kind: 'attribute', field: 'b', operator: 'contains', value: 3 },
      { kind: 'attribute', field: 'c', operator: 'in', values: Array.from({ length: 251 }, (_, i) => i) },
      { kind: 'event', conditions: [type('x')], count: { fn: 'between', min: 5, max: 2 } },
      { kind: 'event', conditions: [type('x')], count: { fn: 'atLeast', n: 2 }, aggregation: { fn: 'sum', field: 'v', comparison: '>', value: 1 } },
      { kind: 'sequence', steps: [{ conditions: [type('a')], between: { within: { amount: 1, unit: 'day' } } }, { conditions: [type('b')], between: { after: { amount: 2, unit: 'day' }, within: { amount: 1, unit: 'day' } } }] },
      { kind: 'attribute', field: 'd', operator: 'time', time: { type: 'fromTo', from: '2024-05-01', to: '2024-01-01' } },
      { kind: 'attribute', field: 'd', operator: 'time', time: { type: 'within', date: '2024-05-01', amount: 2, unit: 'day', ignoreYear: true } },
      { kind: 'attribute', field: 'd', operator: 'time', time: { type: 'during', year: 2024, ignoreYear: true } },
      { kind: 'attribute', field: 'd', operator: 'time' },
      { kind: 'container', mode: 'include', combinator: 'and', children: [] },
    ]);
    const result = validateRule(bad);
    assert.equal(result.valid, false);
    const byCode = new Map(result.issues.map((i) => [i.code, i]));
    for (const code of ['SEG_VALUE_MISSING', 'SEG_VALUE_NOT_TEXT', 'SEG_TOO_MANY_VALUES', 'SEG_COUNT_RANGE', 'SEG_COUNT_WITH_AGGREGATION', 'SEG_BETWEEN_ON_FIRST_STEP',
      'SEG_BETWEEN_RANGE', 'SEG_BETWEEN_COMBINED_UNSUPPORTED', 'SEG_DATE_RANGE', 'SEG_IGNORE_YEAR_UNSUPPORTED', 'SEG_IGNORE_YEAR_NOT_ALLOWED', 'SEG_TIME_MISSING', 'SEG_EMPTY_CONTAINER']) {
      assert.ok(byCode.has(code as never), code);
    }
    assert.equal(byCode.get('SEG_COUNT_RANGE')!.path, 'root.children[3]');
    assert.equal(byCode.get('SEG_BETWEEN_ON_FIRST_STEP')!.path, 'root.children[5].steps[0]');
    assert.throws(() => assertRuleValid(bad), (e: unknown) => e instanceof RoundtripError && e.code === 'RT_SEGMENT_RULE_INVALID' && Array.isArray((e.details as { issues: unknown[] }).issues));
    for (const [name, r] of Object.entries(CORPUS)) assert.deepEqual(validateRule(r).issues.filter((i) => i.severity === 'error'), [], name);
  });
});
