/**
 * Property: the two engines agree. fast-check generates worlds (profiles with nested structs, lists, maps and
 * nulls; events around `now`; segment memberships) and PQL expressions from a grammar over those fields
 * (comparisons, and/or/not, text functions, arithmetic, sets, maps, time words, event filters, quantifiers,
 * aggregations, CHAIN, let); each world is loaded into an in-memory DuckDB and every expression must select
 * exactly the same profiles through the compiled SQL as through `evaluatePql`. 240 worlds × 1-10 expressions
 * (seeded, so the count is stable); a failure shrinks to one world and one expression.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { parsePql, printPql } from './index.ts';
import { evaluatorIds, PqlWarehouse, stripPositions, type World } from './test-kit.ts';

const NOWS = ['2025-03-14T15:00:00.000Z', '2024-02-29T23:59:59.999Z', '2025-01-01T00:00:00.000Z', '2024-12-30T08:00:00.000Z'];
const DAY = 86_400_000;

// ── worlds ──────────────────────────────────────────────────────────────────────────────────────────────────
const maybe = <T>(arb: fc.Arbitrary<T>, nullChance = 5): fc.Arbitrary<T | null> => fc.option(arb, { freq: nullChance, nil: null });
const names = fc.constantFrom('John', 'john', 'Mary', 'Ana', 'Bob', '');
const cities = fc.constantFrom('Paris', 'Toronto', 'Los Angeles', 'paris', 'Oslo');
const countries = fc.constantFrom('US', 'us', 'FR', 'CA');
const tiers = fc.constantFrom('GOLD', 'SILVER', 'gold');
/** Amounts used both by time words and by boundary instants, so that events land exactly on window edges. */
const AMOUNTS = [0, 1, 2, 3, 7, 24, 30] as const;
const BOUNDARY_STEPS = fc.constantFrom(...AMOUNTS, -1);
const amount = fc.constantFrom(...AMOUNTS);
const offsetMs = fc.integer({ min: -70 * DAY, max: 3 * DAY });
/** Around now: anywhere, or exactly on a boundary (k days/hours before now, a UTC midnight) where off-by-one errors show. */
const instantNear = (now: string): fc.Arbitrary<string> => {
  const at = Date.parse(now);
  const midnight = at - (at % DAY);
  return fc.oneof(
    offsetMs.map((offset) => at + offset),
    BOUNDARY_STEPS.map((k) => at - k * DAY),
    BOUNDARY_STEPS.map((k) => at - k * 3_600_000),
    BOUNDARY_STEPS.map((k) => midnight - k * DAY),
  ).map((ms) => new Date(ms).toISOString());
};

const profileArb = (id: number, now: string): fc.Arbitrary<Record<string, unknown>> => fc.record({
  profile_id: fc.constant(id),
  person: maybe(fc.record({
    name: fc.record({ firstName: maybe(names), lastName: maybe(names) }),
    age: maybe(fc.integer({ min: 0, max: 90 })),
    birthDate: maybe(fc.date({ min: new Date('1950-01-01'), max: new Date('2010-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10))),
    birthMonth: maybe(fc.integer({ min: 1, max: 12 })),
    orders: maybe(fc.array(fc.record({ storeId: maybe(fc.constantFrom('s1', 's2', 's3')) }), { maxLength: 3 })),
  }), 10),
  homeAddress: maybe(fc.record({ city: maybe(cities), country: maybe(countries), countryISO: maybe(countries), stateProvince: maybe(fc.constantFrom('CA', 'ON')) })),
  workAddress: maybe(fc.record({ country: maybe(countries), stateProvince: maybe(fc.constantFrom('CA', 'ON')) })),
  personalEmail: fc.constant(null),
  loyalty: maybe(fc.record({ tier: maybe(tiers), points: maybe(fc.integer({ min: 0, max: 2000 }).map((n) => n / 2)) })),
  tags: maybe(fc.array(maybe(fc.constantFrom('vip', 'email', 'new'), 8), { maxLength: 3 })),
  decilesRevenue: maybe(fc.record({ decileMonth6: maybe(fc.dictionary(tiers, fc.integer({ min: 1, max: 10 }), { maxKeys: 2 })) })),
  identityMap: fc.constant(null),
  segmentMembership: fc.constant(null),
  _tenant: fc.constant(null),
  product: maybe(fc.record({ saleDate: maybe(instantNear(now)) })),
});

const eventArb = (profileIds: number[], now: string): fc.Arbitrary<Record<string, unknown>> => fc.record({
  profile_id: fc.constantFrom(...profileIds),
  timestamp: instantNear(now),
  eventType: fc.constantFrom('commerce.checkouts', 'commerce.purchases', 'directMarketing.emailOpened', 'directMarketing.emailClicked'),
  commerce: maybe(fc.record({
    order: maybe(fc.record({ priceTotal: maybe(fc.integer({ min: 0, max: 400 }).map((n) => n * 2.5)), currencyCode: maybe(fc.constantFrom('USD', 'EUR')) })),
    checkouts: fc.constant(null),
    item: fc.constant(null),
  }), 3),
  productListItems: maybe(fc.array(fc.record({ SKU: maybe(fc.constantFrom('PS', 'XX')), quantity: fc.integer({ min: 1, max: 3 }), priceTotal: fc.constant(null) }), { maxLength: 2 })),
  metrics: fc.constant(null),
});

const worldArb: fc.Arbitrary<{ now: string; world: World }> = fc.constantFrom(...NOWS).chain((now) => {
  const ids = [1, 2, 3, 4, 5, 6];
  return fc.record({
    now: fc.constant(now),
    world: fc.record({
      profiles: fc.tuple(...ids.map((id) => profileArb(id, now))),
      events: fc.array(eventArb(ids, now), { maxLength: 24 }),
      memberships: fc.uniqueArray(fc.record({ segmentId: fc.constantFrom('a', 'b'), profileId: fc.constantFrom(...ids) }), {
        maxLength: 4, selector: (m) => `${m.segmentId}/${m.profileId}`,
      }),
    }),
  });
});

// ── expressions ─────────────────────────────────────────────────────────────────────────────────────────────
const cmp = fc.constantFrom('=', '!=', '<', '<=', '>', '>=');
const small = fc.integer({ min: 0, max: 4 });
const bool = fc.boolean();
const stringLit = fc.constantFrom('"John"', '"john"', '"Paris"', '"US"', '"us"', '"GOLD"', '""', '"Jo"', '"a"', '"s"');
const timeSpec = fc.oneof(
  fc.constantFrom('today', 'yesterday', 'tomorrow', 'this month', 'this week', 'last week', 'last month', 'this year', 'next week',
    'before now', 'after now', 'before today', 'after yesterday', 'on yesterday', 'between date(2025, 3, 1) and now', 'on date(2024, 2, 29)',
    'between date(2024, 12, 1) and date(2025, 1, 1)', '<= 1 months before now', 'before date(2025, 1, 1)'),
  fc.tuple(fc.constantFrom('last', 'next'), amount.filter((n) => n > 0), fc.constantFrom('days', 'hours', 'weeks')).map(([w, n, u]) => `${w} ${n} ${u}`),
  fc.tuple(cmp.filter((c) => c !== '!='), amount, fc.constantFrom('days', 'hours'), fc.constantFrom('before', 'after'))
    .map(([c, n, u, d]) => `${c} ${n} ${u} ${d} now`),
);
const numField = fc.constantFrom('loyalty.points', 'person.age', 'person.birthMonth', 'decilesRevenue.decileMonth6.get("GOLD")', 'tags.count()', 'person.orders.count()');
const strField = fc.constantFrom('person.name.firstName', 'homeAddress.city', 'homeAddress.country', 'loyalty.tier', 'workAddress.country');
const anyField = fc.constantFrom('homeAddress', 'homeAddress.city', 'loyalty.points', 'tags', 'decilesRevenue.decileMonth6', 'person.orders', 'product.saleDate');
const textFn = fc.constantFrom('startsWith', 'doesNotStartWith', 'endsWith', 'doesNotEndWith', 'contains', 'doesNotContain', 'equals', 'notEqualTo');
const tagList = fc.subarray(['"vip"', '"email"', '"new"']).map((items) => `[${items.join(', ')}]`);

const { num } = fc.letrec<{ num: string }>((tie) => ({
  num: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    numField, fc.integer({ min: -5, max: 1000 }).map(String),
    fc.tuple(tie('num'), fc.constantFrom('+', '-', '*', '/', '%'), tie('num')).map(([a, op, b]) => `(${a} ${op} ${b})`)),
}));

/** Conditions on one event: bare fields (item context) or through a variable (`E.`). */
const eventCondition = (prefix: string): fc.Arbitrary<string> => {
  const atom = fc.oneof(
    fc.constantFrom('"commerce.checkouts"', '"commerce.purchases"', '"directMarketing.emailOpened"').map((t) => `${prefix}eventType = ${t}`),
    fc.tuple(fc.constantFrom('"commerce"', '"COMMERCE"', '"direct"'), bool).map(([s, cs]) => `${prefix}eventType.startsWith(${s}, ${cs})`),
    fc.tuple(cmp, fc.integer({ min: 0, max: 1000 })).map(([c, n]) => `${prefix}commerce.order.priceTotal ${c} ${n}`),
    fc.constant(`${prefix}commerce.order.currencyCode = "USD"`),
    timeSpec.map((spec) => `${prefix}timestamp occurs ${spec}`),
    fc.constant(`${prefix}productListItems.filter(SKU = "PS").count() > 0`),
  );
  return fc.oneof({ depthSize: 'small' },
    atom,
    fc.tuple(atom, fc.constantFrom('and', 'or'), atom).map(([a, op, b]) => `${a} ${op} ${b}`),
    atom.map((a) => `not (${a})`));
};

const profileAtom = fc.oneof(
  fc.tuple(num, cmp, num).map(([a, c, b]) => `${a} ${c} ${b}`),
  fc.tuple(strField, fc.constantFrom('=', '!=', '<', '>='), stringLit).map(([a, c, b]) => `${a} ${c} ${b}`),
  fc.tuple(strField, textFn, stringLit, fc.option(bool, { nil: undefined })).map(([f, fn, s, cs]) => `${f}.${fn}(${s}${cs === undefined ? '' : `, ${cs}`})`),
  fc.tuple(strField, fc.constantFrom('"%o%"', '"Jo%"', '"_a%"', '"%"', '"US"')).map(([f, p]) => `${f} like ${p}`),
  fc.tuple(strField, fc.constantFrom('"^J"', '"(?i)^jo"', '"[aeiou]{2}"', '"s$"')).map(([f, re]) => `${f}.matches(${re})`),
  fc.tuple(strField, fc.constantFrom('in', 'notIn'), fc.subarray(['"GOLD"', '"US"', '"Paris"', '"John"'])).map(([f, op, l]) => `${f} ${op} [${l.join(', ')}]`),
  fc.tuple(anyField, fc.constantFrom('isNull', 'isNotNull')).map(([f, fn]) => `${f}.${fn}()`),
  fc.tuple(fc.constantFrom('includes("vip")', 'intersects', 'subsetOf', 'supersetOf'), tagList).map(([fn, l]) => (fn.includes('(') ? `tags.${fn}` : `tags.${fn}(${l})`)),
  fc.tuple(cmp, small).map(([c, n]) => `person.orders.storeId.distinct().count() ${c} ${n}`),
  fc.constantFrom('inSegment("a")', 'inSegment("b")', 'decilesRevenue.decileMonth6.keys().includes("GOLD")', 'decilesRevenue.decileMonth6.values().count() = 2'),
  timeSpec.map((spec) => `product.saleDate occurs ${spec}`),
  fc.tuple(fc.constantFrom('getMonth', 'getYear', 'getDayOfMonth'), cmp, fc.constantFrom('currentMonth()', 'currentYear()', '15')).map(([fn, c, x]) => `person.birthDate.${fn}() ${c} ${x}`),
  fc.tuple(eventCondition(''), cmp, small).map(([c, op, n]) => `xEvent.filter(${c}).count() ${op} ${n}`),
  fc.tuple(fc.constantFrom('exists', 'forall'), eventCondition('E.')).map(([q, c]) => `${q} E from xEvent where ${c}`),
  fc.tuple(eventCondition(''), fc.constantFrom('sum', 'average', 'min', 'max'), cmp, fc.integer({ min: 0, max: 1500 }))
    .map(([c, fn, op, n]) => `xEvent.filter(${c}).${fn}(commerce.order.priceTotal) ${op} ${n}`),
  fc.tuple(eventCondition('X.'), cmp, fc.integer({ min: 0, max: 1500 })).map(([c, op, n]) => `(sum X.commerce.order.priceTotal over X from xEvent where ${c}) ${op} ${n}`),
  fc.tuple(eventCondition(''), fc.option(timeSpec, { nil: undefined }), eventCondition(''),
    fc.option(fc.oneof(timeSpec, fc.tuple(fc.constantFrom('<=', '>', '='), amount, fc.constantFrom('days', 'hours', 'months')).map(([c, n, u]) => `${c} ${n} ${u} after C0`)), { nil: undefined }))
    .map(([w0, t0, w1, t1]) => `CHAIN(xEvent, timestamp, [C0: WHAT(${w0})${t0 ? ` WHEN(${t0})` : ''}, C1: WHAT(${w1})${t1 ? ` WHEN(${t1})` : ''}])`),
  fc.tuple(num, fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 1000 })).map(([v, a, b]) => `let S = (${v}) in (S > ${a} or S = ${b})`),
  fc.tuple(cmp, small).map(([c, n]) => `xEvent.map(eventType).distinct().count() ${c} ${n}`),
  fc.constantFrom('xEvent.topN(commerce.order.priceTotal, 2).map(eventType).includes("commerce.purchases")',
    'xEvent.bottomN(timestamp, 1).head().eventType = "directMarketing.emailOpened"', 'xEvent.head().commerce.order.currencyCode = "EUR"'),
  fc.tuple(bool, num, num, cmp, num).map(([t, a, b, c, x]) => `if(loyalty.tier = "GOLD" or ${t}, ${a}, ${b}) ${c} ${x}`),
);

const { expression } = fc.letrec<{ expression: string }>((tie) => ({
  expression: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    profileAtom,
    fc.tuple(tie('expression'), fc.constantFrom('and', 'or'), tie('expression')).map(([a, op, b]) => `(${a}) ${op} (${b})`),
    tie('expression').map((e) => `not (${e})`)),
}));

describe('PQL engines agree (property)', () => {
  let warehouse: PqlWarehouse;
  before(async () => { warehouse = await PqlWarehouse.create(); });
  after(() => warehouse.dispose());

  it('batch SQL and the streaming evaluator select the same profiles (240 worlds × 1-10 expressions, at least 1,000 cases)', async () => {
    let cases = 0;
    let informative = 0;
    await fc.assert(fc.asyncProperty(worldArb, fc.array(expression, { minLength: 1, maxLength: 10 }), async ({ now, world }, expressions) => {
      await warehouse.load(world);
      const batch = await warehouse.matchingIds(expressions, now);
      expressions.forEach((pql, i) => {
        const streaming = evaluatorIds(pql, world, now);
        assert.deepEqual(streaming, batch[i], `engines disagree on\n  ${pql}\n  at now = ${now}: batch ${JSON.stringify(batch[i])}, streaming ${JSON.stringify(streaming)}`);
        cases += 1;
        if (streaming.length > 0 && streaming.length < world.profiles.length) informative += 1;
      });
    }), { numRuns: 240, seed: 20250314 });
    assert.ok(cases >= 1000, `${cases} cases`);
    // Most cases must split the profiles; expressions that are always false (or true) would prove nothing.
    assert.ok(informative >= cases * 0.3, `only ${informative} of ${cases} cases selected some but not all profiles`);
  });

  it('printing a generated expression gives text that parses to the same tree', () => {
    fc.assert(fc.property(expression, (pql) => {
      const tree = parsePql(pql);
      assert.deepEqual(stripPositions(parsePql(printPql(tree))), stripPositions(tree));
    }), { numRuns: 500 });
  });
});
