/**
 * A corpus of canonical builder trees covering every block kind, operator, count function, aggregation, time
 * constraint and time scope: the round-trip tests (builder → PQL → builder) and the documentation examples
 * read it. Each entry is small so that a failure names what broke.
 */
import type { EventCondition, RuleBlock, SegmentRule, TimeConstraint } from './model.ts';

export const rule = (children: RuleBlock[], combinator: 'and' | 'or' = 'and', timeConstraint?: TimeConstraint): SegmentRule => ({
  version: 1,
  ...(timeConstraint ? { timeConstraint } : {}),
  root: { kind: 'container', mode: 'include', combinator, children },
});

export const type = (eventType: string): EventCondition => ({ kind: 'eventType', eventType });
const checkout = type('commerce.checkouts');
const click = type('directMarketing.emailClicked');
const open = type('directMarketing.emailOpened');

/** Every time constraint of §10.1, as canonical trees print them. */
export const TIME_CONSTRAINTS: Record<string, TimeConstraint> = {
  today: { type: 'today' },
  todayIgnoreYear: { type: 'today', ignoreYear: true },
  yesterday: { type: 'yesterday' },
  yesterdayIgnoreYear: { type: 'yesterday', ignoreYear: true },
  thisMonth: { type: 'thisMonth' },
  thisMonthIgnoreYear: { type: 'thisMonth', ignoreYear: true },
  thisYear: { type: 'thisYear' },
  customDate: { type: 'customDate', date: '2024-03-14' },
  customDateIgnoreYear: { type: 'customDate', date: '2024-03-14', ignoreYear: true },
  inLast: { type: 'inLast', amount: 30, unit: 'day' },
  inLastHours: { type: 'inLast', amount: 24, unit: 'hour' },
  inLastWeeks: { type: 'inLast', amount: 2, unit: 'week' },
  inLastMonths: { type: 'inLast', amount: 6, unit: 'month' },
  inNext: { type: 'inNext', amount: 7, unit: 'day' },
  fromTo: { type: 'fromTo', from: '2024-01-01', to: '2024-03-31' },
  fromToIgnoreYear: { type: 'fromTo', from: '2024-03-01', to: '2024-04-15', ignoreYear: true },
  fromToIgnoreYearWrapping: { type: 'fromTo', from: '2023-12-20', to: '2024-01-05', ignoreYear: true },
  duringMonth: { type: 'during', year: 2024, month: 3 },
  duringYear: { type: 'during', year: 2023 },
  duringMonthIgnoreYear: { type: 'during', month: 12, ignoreYear: true },
  within: { type: 'within', date: '2024-06-15', amount: 3, unit: 'day' },
  before: { type: 'before', date: '2024-01-01' },
  beforeIgnoreYear: { type: 'before', date: '2024-07-01', ignoreYear: true },
  after: { type: 'after', date: '2023-12-31' },
  afterIgnoreYear: { type: 'after', date: '2024-07-01', ignoreYear: true },
  rollingPast: { type: 'rollingRange', from: { amount: 14, unit: 'day', direction: 'before' }, to: { amount: 7, unit: 'day', direction: 'before' } },
  rollingFuture: { type: 'rollingRange', from: { amount: 1, unit: 'day', direction: 'after' }, to: { amount: 3, unit: 'week', direction: 'after' } },
  rollingAround: { type: 'rollingRange', from: { amount: 2, unit: 'hour', direction: 'before' }, to: { amount: 2, unit: 'hour', direction: 'after' } },
  exists: { type: 'exists' },
  notExists: { type: 'notExists' },
};

export const CORPUS: Record<string, SegmentRule> = {
  attributeEquals: rule([{ kind: 'attribute', field: 'homeAddress.country', operator: 'equals', value: 'US' }]),
  attributeEqualsCaseInsensitive: rule([{ kind: 'attribute', field: 'homeAddress.country', operator: 'equals', value: 'US', caseSensitive: false }]),
  attributeNotEquals: rule([{ kind: 'attribute', field: 'person.gender', operator: 'notEquals', value: 'unknown' }]),
  attributeNotEqualsCaseInsensitive: rule([{ kind: 'attribute', field: 'person.gender', operator: 'notEquals', value: 'unknown', caseSensitive: false }]),
  attributeNumbers: rule([
    { kind: 'attribute', field: 'person.birthMonth', operator: 'lessOrEqual', value: 2 },
    { kind: 'attribute', field: '_tenant.clv.value', operator: 'greaterThan', value: 1250.5 },
    { kind: 'attribute', field: '_tenant.clv.orders', operator: 'greaterOrEqual', value: 3 },
    { kind: 'attribute', field: '_tenant.clv.returns', operator: 'lessThan', value: -1 },
  ]),
  attributeBooleanAndDate: rule([
    { kind: 'attribute', field: 'consents.marketing.email', operator: 'equals', value: true },
    { kind: 'attribute', field: 'person.birthDate', operator: 'lessThan', value: { date: '2000-01-01' } },
  ], 'or'),
  attributeText: rule([
    { kind: 'attribute', field: 'personalEmail.address', operator: 'endsWith', value: '@example.com' },
    { kind: 'attribute', field: 'person.name.lastName', operator: 'startsWith', value: 'mc', caseSensitive: false },
    { kind: 'attribute', field: 'person.name.firstName', operator: 'contains', value: 'ann' },
    { kind: 'attribute', field: 'person.name.firstName', operator: 'doesNotContain', value: 'x', caseSensitive: false },
    { kind: 'attribute', field: 'person.name.firstName', operator: 'doesNotStartWith', value: 'Z' },
    { kind: 'attribute', field: 'person.name.firstName', operator: 'doesNotEndWith', value: 'q' },
    { kind: 'attribute', field: 'person.name.lastName', operator: 'like', value: 'Sm_th%' },
    { kind: 'attribute', field: 'person.name.firstName', operator: 'matches', value: '(?i)^John' },
  ]),
  attributeQuotedText: rule([{ kind: 'attribute', field: 'person.name.lastName', operator: 'equals', value: 'O"Brien \\ co' }]),
  attributeInNotIn: rule([
    { kind: 'attribute', field: '_tenant.loyaltyStatus', operator: 'in', values: ['GOLD', 'SILVER'] },
    { kind: 'attribute', field: 'homeAddress.countryCode', operator: 'notIn', values: ['CA', 'MX'] },
  ]),
  attributeExists: rule([
    { kind: 'attribute', field: 'personalEmail.address', operator: 'exists' },
    { kind: 'attribute', field: 'mobilePhone.number', operator: 'notExists' },
  ]),
  attributeMapKey: rule([{ kind: 'attribute', field: '_tenant.decilesMileage.decileMonth1', mapKey: 'GOLD', operator: 'lessOrEqual', value: 3 }]),
  eventDefault: rule([{ kind: 'event', conditions: [checkout] }]),
  eventWithField: rule([{
    kind: 'event',
    conditions: [checkout, { kind: 'eventField', field: 'commerce.order.currencyCode', operator: 'equals', value: 'USD' }],
    time: { type: 'today' },
  }]),
  countAtLeast: rule([{ kind: 'event', conditions: [open], count: { fn: 'atLeast', n: 3 }, time: { type: 'inLast', amount: 30, unit: 'day' } }]),
  countAtMost: rule([{ kind: 'event', conditions: [open], count: { fn: 'atMost', n: 2 } }]),
  countExactly: rule([{ kind: 'event', conditions: [click], count: { fn: 'exactly', n: 0 }, time: { type: 'thisMonth' } }]),
  countBetween: rule([{ kind: 'event', conditions: [click], count: { fn: 'between', min: 2, max: 5 }, time: { type: 'inLast', amount: 7, unit: 'day' } }]),
  countAll: rule([{ kind: 'event', conditions: [checkout], count: { fn: 'all' }, time: { type: 'inLast', amount: 90, unit: 'day' } }]),
  countAllNoWindow: rule([{ kind: 'event', conditions: [checkout], count: { fn: 'all' } }]),
  aggregationSum: rule([{
    kind: 'event', conditions: [type('commerce.purchases')],
    aggregation: { fn: 'sum', field: 'commerce.order.priceTotal', comparison: '>', value: 100 },
    time: { type: 'inLast', amount: 6, unit: 'month' },
  }]),
  aggregationAverage: rule([{ kind: 'event', conditions: [type('commerce.purchases')], aggregation: { fn: 'average', field: 'commerce.order.priceTotal', comparison: '>=', value: 40 } }]),
  aggregationMinMax: rule([
    { kind: 'event', conditions: [type('commerce.purchases')], aggregation: { fn: 'min', field: 'commerce.order.priceTotal', comparison: '<', value: 10 } },
    { kind: 'event', conditions: [type('commerce.purchases')], aggregation: { fn: 'max', field: 'commerce.order.priceTotal', comparison: '=', value: 999 } },
  ], 'or'),
  sequence: rule([{ kind: 'sequence', steps: [{ conditions: [click] }, { conditions: [checkout] }] }]),
  sequenceWithin: rule([{
    kind: 'sequence',
    steps: [{ conditions: [click], time: { type: 'today' } }, { conditions: [checkout], between: { within: { amount: 24, unit: 'hour' } } }],
  }]),
  sequenceAfterWithCardTime: rule([{
    kind: 'sequence',
    steps: [
      { conditions: [click] },
      { conditions: [checkout], time: { type: 'inLast', amount: 7, unit: 'day' }, between: { after: { amount: 1, unit: 'hour' } } },
      { conditions: [open], time: { type: 'thisYear' } },
    ],
  }]),
  canvasTime: rule([
    { kind: 'event', conditions: [click] },
    { kind: 'sequence', steps: [{ conditions: [open] }, { conditions: [checkout] }] },
  ], 'and', { type: 'inLast', amount: 24, unit: 'hour' }),
  canvasCompoundTime: rule([
    { kind: 'event', conditions: [click], count: { fn: 'atLeast', n: 2 } },
    { kind: 'event', conditions: [open] },
  ], 'or', { type: 'during', year: 2024, month: 5 }),
  audiences: rule([
    { kind: 'audience', segmentId: 'seg-gold', membership: 'include' },
    { kind: 'audience', segmentId: 'seg-churned', membership: 'exclude' },
  ]),
  containers: rule([
    { kind: 'attribute', field: 'homeAddress.country', operator: 'equals', value: 'US' },
    {
      kind: 'container', mode: 'include', combinator: 'or',
      children: [
        { kind: 'attribute', field: '_tenant.loyaltyStatus', operator: 'equals', value: 'GOLD' },
        { kind: 'container', mode: 'include', combinator: 'and', children: [
          { kind: 'attribute', field: '_tenant.loyaltyStatus', operator: 'equals', value: 'SILVER' },
          { kind: 'attribute', field: '_tenant.clv.value', operator: 'greaterThan', value: 500 },
        ] },
      ],
    },
    { kind: 'container', mode: 'exclude', combinator: 'and', children: [{ kind: 'event', conditions: [type('web.unsubscribe')] }] },
    { kind: 'container', mode: 'exclude', combinator: 'or', children: [
      { kind: 'attribute', field: 'person.name.lastName', operator: 'equals', value: 'Test' },
      { kind: 'audience', segmentId: 'seg-staff', membership: 'include' },
    ] },
  ]),
  emptyRoot: rule([]),
  clvDeciles: rule([
    { kind: 'attribute', field: '_tenant.decilesRevenue.decileMonth6', mapKey: 'GOLD', operator: 'lessOrEqual', value: 3 },
    { kind: 'attribute', field: '_tenant.loyaltyStatus', operator: 'equals', value: 'GOLD' },
    { kind: 'event', conditions: [open], time: { type: 'inLast', amount: 30, unit: 'day' } },
  ]),
};

/** One attribute card per time constraint (attribute scope) and one event card per constraint (card scope). */
for (const [name, time] of Object.entries(TIME_CONSTRAINTS)) {
  if (time.type !== 'exists' && time.type !== 'notExists') {
    CORPUS[`attributeTime_${name}`] = rule([{ kind: 'attribute', field: 'person.birthDate', operator: 'time', time }]);
  }
  CORPUS[`cardTime_${name}`] = rule([{ kind: 'event', conditions: [checkout], time }]);
  CORPUS[`countCardTime_${name}`] = rule([{ kind: 'event', conditions: [checkout], count: { fn: 'atMost', n: 4 }, time }]);
  CORPUS[`stepTime_${name}`] = rule([{ kind: 'sequence', steps: [{ conditions: [click], time }, { conditions: [checkout], between: { within: { amount: 2, unit: 'day' } } }] }]);
  CORPUS[`canvasTime_${name}`] = rule([{ kind: 'event', conditions: [click] }, { kind: 'event', conditions: [checkout], count: { fn: 'exactly', n: 2 } }], 'and', time);
}
