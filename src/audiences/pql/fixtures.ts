/**
 * Fixture profiles and events for the PQL example tests, and the examples themselves: every PQL example of
 * reference §10–§11 (marked `reference`) plus one per documented function, each with the profiles it must
 * select. Expected ids were worked out by hand from the data below (comments say why), not by running either
 * engine.
 */
import type { World } from './test-kit.ts';

/** Friday 14 March 2025, 15:00 UTC. This week started Monday 10 March; last week is 3–9 March. */
export const NOW = '2025-03-14T15:00:00.000Z';

const event = (profileId: number, timestamp: string, eventType: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ profile_id: profileId, timestamp, eventType, ...extra });
const order = (priceTotal: number, currencyCode: string): Record<string, unknown> => ({ order: { priceTotal, currencyCode } });

export const WORLD: World = {
  profiles: [
    {
      profile_id: 1,
      person: { name: { firstName: 'John', lastName: 'Smith' }, age: 35, birthDate: '1990-03-02', birthMonth: 2, orders: [{ storeId: 's1' }, { storeId: 's2' }] },
      homeAddress: { city: 'Los Angeles', country: 'US', countryISO: 'US', stateProvince: 'CA' },
      workAddress: { country: 'US', stateProvince: 'CA' },
      personalEmail: { address: 'john@example.com' },
      loyalty: { tier: 'GOLD', points: 1200 },
      tags: ['vip', 'email'],
      decilesRevenue: { decileMonth6: { GOLD: 2 } },
      identityMap: { 'example@example.com': [{ id: 'example@example.com', primary: true }] },
      segmentMembership: { ups: { 'e3be6d7f-seg': { status: 'realized' } } },
      _tenant: { decilesMileage: { decileMonth1: { GOLD: 3 } } },
      product: { saleDate: '2025-03-14T11:30:00.000Z' },
    },
    {
      profile_id: 2,
      person: { name: { firstName: 'Mary', lastName: 'Jones' }, age: 41, birthDate: '1985-07-20', birthMonth: 7, orders: [{ storeId: 's1' }, { storeId: 's1' }] },
      homeAddress: { city: 'Toronto', country: 'us', countryISO: 'CA', stateProvince: 'ON' },
      workAddress: { country: 'CA', stateProvince: 'QC' },
      personalEmail: { address: 'mary@shop.org' },
      loyalty: { tier: 'SILVER', points: 300 },
      tags: ['email'],
      decilesRevenue: { decileMonth6: { GOLD: 5, SILVER: 1 } },
      identityMap: {},
      segmentMembership: {},
      _tenant: { decilesMileage: { decileMonth1: { GOLD: 7 } } },
      product: { saleDate: '2025-03-04T08:00:00.000Z' },
    },
    {
      profile_id: 3,
      person: { name: { firstName: null, lastName: 'Null' }, age: null, birthDate: null, birthMonth: null, orders: [] },
      homeAddress: null, workAddress: null, personalEmail: null,
      loyalty: { tier: 'GOLD', points: null },
      tags: null,
      decilesRevenue: { decileMonth6: { GOLD: 1 } },
      identityMap: null, segmentMembership: null, _tenant: null, product: null,
    },
    {
      profile_id: 4,
      person: { name: { firstName: 'Ana', lastName: 'Lee' }, age: 28, birthDate: '1997-03-14', birthMonth: 3, orders: [{ storeId: 's3' }] },
      homeAddress: { city: 'Paris', country: 'FR', countryISO: 'FR', stateProvince: 'IDF' },
      workAddress: { country: 'FR', stateProvince: 'IDF' },
      personalEmail: { address: 'ana@example.com' },
      loyalty: { tier: 'GOLD', points: 800 },
      tags: ['vip'],
      decilesRevenue: { decileMonth6: { GOLD: 3 } },
      identityMap: {}, segmentMembership: {},
      _tenant: { decilesMileage: { decileMonth1: { GOLD: 1 } } },
      product: { saleDate: '2025-03-10T09:00:00.000Z' },
    },
  ],
  events: [
    event(1, '2025-03-14T09:00:00.000Z', 'directMarketing.emailClicked'),
    event(1, '2025-03-14T10:00:00.000Z', 'commerce.checkouts', { commerce: order(150, 'USD') }),
    event(1, '2025-03-04T12:00:00.000Z', 'directMarketing.emailOpened'),
    event(1, '2025-02-22T12:00:00.000Z', 'commerce.purchases', {
      commerce: { ...order(60, 'USD'), item: { price: 60 } }, productListItems: [{ SKU: 'PS', quantity: 1, priceTotal: 60 }],
    }),
    event(1, '2025-03-12T12:00:00.000Z', 'commerce.abandon', { metrics: { commerce: { abandons: { value: 1 } } } }),
    event(2, '2025-03-13T20:00:00.000Z', 'commerce.checkouts'),
    event(2, '2025-03-09T12:00:00.000Z', 'commerce.purchases', { commerce: order(600, 'USD') }),
    event(2, '2025-03-11T12:00:00.000Z', 'commerce.purchases', {
      commerce: { ...order(50, 'EUR'), item: { price: 70 } }, productListItems: [{ SKU: 'XX', quantity: 2, priceTotal: 50 }],
    }),
    event(2, '2025-02-02T12:00:00.000Z', 'directMarketing.emailOpened'),
    event(4, '2025-02-13T16:00:00.000Z', 'directMarketing.emailOpened'),
    event(4, '2025-03-12T12:00:00.000Z', 'commerce.checkouts'),
  ],
  memberships: [{ segmentId: 'e3be6d7f-seg', profileId: 1 }, { segmentId: 'gold-members', profileId: 4 }],
};

export interface Example { pql: string; expected: number[]; reference?: boolean }

export const EXAMPLES: Example[] = [
  // §10.2 streaming examples (the segment id is shortened in the reference: "e3be6d7f-…").
  { reference: true, expected: [1], pql: 'CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])' },
  { reference: true, expected: [1, 2], pql: 'homeAddress.country.equals("US", false)' },
  { reference: true, expected: [1], pql: 'workAddress.country.equals("US", false) and CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("directMarketing.emailClicked", false)) WHEN(today), C1: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])' },
  { reference: true, expected: [1], pql: 'inSegment("e3be6d7f-seg") and CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(<= 24 hours before now)])' },
  // §10.3 API examples.
  { reference: true, expected: [1], pql: 'homeAddress.country = "US"' },
  { reference: true, expected: [1], pql: 'xEvent.metrics.commerce.abandons.value > 0' },
  // §11 references and literals.
  { reference: true, expected: [1, 4], pql: 'homeAddress.stateProvince = workAddress.stateProvince' },
  { reference: true, expected: [1, 4], pql: '(Profile) => Profile.homeAddress.stateProvince = Profile.workAddress.stateProvince' },
  { reference: true, expected: [2], pql: '$1.homeAddress.countryISO = "CA"' },
  { reference: true, expected: [2], pql: 'homeAddress.countryISO = "CA"' },
  { reference: true, expected: [1], pql: 'person.birthMonth <= 2' },
  { reference: true, expected: [1, 2, 4], pql: 'person.birthDate occurs before date(2020, 3, 14)' },
  { reference: true, expected: [2], pql: 'person.birthMonth in [1, 4, 7]' },
  { reference: true, expected: [1, 3, 4], pql: 'loyalty.tier = "GOLD" and true' },
  // Boolean: "us" is not "US" (case matters), a missing country is unknown and stays out.
  { reference: true, expected: [2, 4], pql: 'not (homeAddress.country = "US")' },
  { reference: true, expected: [2], pql: '!(loyalty.tier = "GOLD")' },
  { reference: true, expected: [1, 4], pql: 'if(loyalty.tier = "GOLD", loyalty.points, 0) > 500' },
  { expected: [2, 4], pql: 'person.birthMonth != 2' },
  { expected: [1], pql: 'person.age >= 35 and person.age < 41' },
  { expected: [1, 2, 4], pql: 'person.age > 40 or person.age < 36' },
  // String functions.
  { reference: true, expected: [1, 2], pql: 'homeAddress.city like "%o%"' },
  { reference: true, expected: [4], pql: 'homeAddress.city like "Pari_"' },
  { reference: true, expected: [1], pql: 'person.name.firstName.startsWith("jo", false)' },
  { reference: true, expected: [2, 4], pql: 'person.name.firstName.doesNotStartWith("J")' },
  { reference: true, expected: [2], pql: 'person.name.lastName.endsWith("s")' },
  { reference: true, expected: [2, 3, 4], pql: 'person.name.lastName.doesNotEndWith("h")' },
  { reference: true, expected: [1, 4], pql: 'personalEmail.address.contains("example")' },
  { reference: true, expected: [2], pql: 'personalEmail.address.doesNotContain("EXAMPLE", false)' },
  { reference: true, expected: [4], pql: 'homeAddress.city.equals("paris", false)' },
  { reference: true, expected: [1, 2], pql: 'homeAddress.city.notEqualTo("Paris")' },
  { reference: true, expected: [1], pql: 'person.name.firstName.matches("(?i)^John")' },
  { reference: true, expected: [1, 4], pql: 'personalEmail.address.regexGroup("@(\\w+)", 1) = "example"' },
  // Arrays and sets.
  { reference: true, expected: [1, 4], pql: 'tags.intersects(["vip", "new"])' },
  { reference: true, expected: [1], pql: 'tags.intersection(["vip", "email"]).count() = 2' },
  // A missing list is empty: vacuously a subset.
  { reference: true, expected: [1, 2, 3, 4], pql: 'tags.subsetOf(["vip", "email", "new"])' },
  { reference: true, expected: [1, 2], pql: 'tags.supersetOf(["email"])' },
  { reference: true, expected: [1, 4], pql: 'tags.includes("vip")' },
  { reference: true, expected: [1], pql: 'person.orders.storeId.distinct().count() > 1' },
  { expected: [2, 4], pql: 'tags.count() = 1' },
  { reference: true, expected: [4], pql: 'person.orders.storeId.head() = "s3"' },
  { reference: true, expected: [2], pql: 'xEvent.filter(eventType = "commerce.purchases").map(commerce.order.priceTotal).sum() > 100' },
  { reference: true, expected: [2], pql: 'xEvent.filter(eventType = "commerce.purchases").average(commerce.order.priceTotal) > 300' },
  { reference: true, expected: [1, 2], pql: 'xEvent.min(commerce.order.priceTotal) < 100' },
  { reference: true, expected: [2], pql: 'xEvent.max(commerce.order.priceTotal) >= 600' },
  // P1's top order is the 150 checkout; P4 has no prices (nulls last), so its first event comes first.
  { reference: true, expected: [2], pql: 'xEvent.topN(commerce.order.priceTotal, 1).head().eventType = "commerce.purchases"' },
  { reference: true, expected: [2, 4], pql: 'xEvent.bottomN(timestamp, 1).head().eventType = "directMarketing.emailOpened"' },
  { expected: [1], pql: 'xEvent.map(eventType).distinct().count() >= 4' },
  // Maps.
  { reference: true, expected: [1, 3, 4], pql: 'decilesRevenue.decileMonth6.get("GOLD") <= 3' },
  { reference: true, expected: [2], pql: 'decilesRevenue.decileMonth6.keys().count() = 2' },
  { reference: true, expected: [2, 3], pql: 'decilesRevenue.decileMonth6.values().includes(1)' },
  { reference: true, expected: [1], pql: 'identityMap.get("example@example.com").isNotNull()' },
  { reference: true, expected: [1, 4], pql: '_tenant.decilesMileage.decileMonth1.get("GOLD") <= 3' },
  { reference: true, expected: [1], pql: 'segmentMembership.get("ups").get("e3be6d7f-seg").status = "realized"' },
  // Objects and arithmetic.
  { reference: true, expected: [3], pql: 'homeAddress.isNull()' },
  { reference: true, expected: [1, 2, 4], pql: 'person.age.isNotNull()' },
  { reference: true, expected: [1], pql: 'loyalty.points + 100 > 1000 and loyalty.points * 2 < 3000 and loyalty.points / 4 >= 300 and loyalty.points % 7 = 3 and loyalty.points - 200 = 1000' },
  { expected: [1, 4], pql: 'loyalty.tier in ["GOLD", "SILVER"] and -loyalty.points < -500' },
  { expected: [2], pql: 'person.birthMonth notIn [2, 3]' },
  // Dates and occurs.
  { reference: true, expected: [1, 4], pql: 'person.birthDate.getMonth() = currentMonth()' },
  { reference: true, expected: [4], pql: 'person.birthDate.getDayOfMonth() = currentDayOfMonth() and person.birthDate.getYear() < currentYear()' },
  { reference: true, expected: [2], pql: 'product.saleDate occurs last week' },
  { reference: true, expected: [1], pql: 'product.saleDate occurs = 3 hours before now' },
  { expected: [1, 4], pql: 'product.saleDate occurs this week' },
  { reference: true, expected: [2, 4], pql: 'product.saleDate occurs between date(2025, 3, 1) and date(2025, 3, 10)' },
  { expected: [2, 4], pql: 'xEvent.filter(timestamp occurs before date(2025, 2, 15)).count() >= 1' },
  { expected: [1, 3, 4], pql: 'xEvent.filter(timestamp occurs after today).count() = 0 and xEvent.filter(timestamp occurs on yesterday).count() = 0' },
  { expected: [2, 4], pql: 'xEvent.filter(timestamp occurs > 25 days before now).count() > 0' },
  { expected: [1, 2], pql: 'xEvent.filter(timestamp occurs this month).count() >= 3' },
  { expected: [2], pql: 'xEvent.filter(e => e.timestamp occurs yesterday).count() = 1' },
  // Quantifiers, let, select, aggregation over.
  { reference: true, expected: [1], pql: 'exists E from xEvent where (E.commerce.item.price > 50), I from E.productListItems where I.SKU = "PS"' },
  // No events: vacuously true.
  { reference: true, expected: [3], pql: 'forall X from xEvent where X.eventType.startsWith("commerce")' },
  { reference: true, expected: [1, 2], pql: 'let S = (sum X.commerce.order.priceTotal over X from xEvent where X.commerce.order.currencyCode = "USD") in (S > 100 and S < 1000)' },
  { reference: true, expected: [1, 2, 4], pql: '(select E from xEvent where E.eventType = "commerce.checkouts").count() > 0' },
  { expected: [1], pql: '(count over X from xEvent where X.timestamp occurs today) = 2' },
  // Sequences: P2 opened 39 days before its checkout, outside the 30 days.
  { reference: true, expected: [1, 4], pql: 'CHAIN(xEvent, timestamp, [C0: WHAT(eventType = "directMarketing.emailOpened"), C1: WHAT(eventType = "commerce.checkouts") WHEN(<= 30 days after C0)])' },
  { reference: true, expected: [4], pql: 'inSegment("gold-members") and CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(<= 3 days before now)])' },
];

/**
 * The workflow audience: top 3 deciles of 6-month revenue among GOLD members who opened an email in the last
 * 30 days — P1 (decile 2, opened 10 days ago) and P4 (decile 3, opened 29 days ago); P3 is GOLD and in the
 * top decile but never opened an email; P2 is SILVER.
 */
export const WORKFLOW_AUDIENCES = [
  'decilesRevenue.decileMonth6.get("GOLD") <= 3 and loyalty.tier = "GOLD" and xEvent.filter(eventType = "directMarketing.emailOpened" and timestamp occurs last 30 days).count() > 0',
  'decilesRevenue.decileMonth6.get("GOLD") <= 3 and loyalty.tier = "GOLD" and exists E from xEvent where E.eventType = "directMarketing.emailOpened" and E.timestamp occurs <= 30 days before now',
  'decilesRevenue.decileMonth6.get("GOLD") <= 3 and loyalty.tier.equals("GOLD", false) and CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("directMarketing.emailOpened", false)) WHEN(<= 30 days before now)])',
];
export const WORKFLOW_MEMBERS = [1, 4];
