/**
 * The rule-builder model: the JSON tree the Segment Builder canvas edits (reference §10.1), as one TypeBox schema
 * so that the API validates it, the OpenAPI document shows it and the code gets its `Static` types.
 *
 * A rule is a root container of blocks. Blocks are attribute conditions on profile fields, event cards (what the
 * events are, how many of them, or an aggregation over them), event sequences (ordered steps with between-event
 * constraints), audience memberships (`inSegment`), and nested containers (include/exclude, and/or).
 * Time constraints exist at three scopes: the canvas (`rule.timeConstraint`, every event card without its own),
 * the card (`time` on an event card or a sequence step, "Apply time rule") and between events
 * (`between.after` / `between.within` on a sequence step, relative to the step before it).
 *
 * The tree converts to PQL (`to-pql.ts`) and back (`from-pql.ts`); `validate.ts` flags what the builder refuses.
 */
import { Type, type Static, type TProperties } from 'typebox';

// ── values and fields ───────────────────────────────────────────────────────────────────────────────────────

/** A dotted XDM path, e.g. `homeAddress.country` or `_tenant.decilesMileage.decileMonth1`. */
export const FieldPath = Type.String({
  pattern: '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$',
  description: 'Dotted XDM field path, e.g. homeAddress.country',
});

export const IsoDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'A calendar day, YYYY-MM-DD (UTC)' });

/** A date value is an object so that it prints as `date(y, m, d)` and never as the text "2024-03-14". */
export const DateValue = Type.Object({ date: IsoDate }, { additionalProperties: false });

export const Value = Type.Union([Type.String(), Type.Number(), Type.Boolean(), DateValue], {
  description: 'A text, number, boolean or {"date": "YYYY-MM-DD"}',
});

// ── time constraints (§10.1) ────────────────────────────────────────────────────────────────────────────────

export const TIME_UNITS = ['second', 'minute', 'hour', 'day', 'week', 'month', 'year'] as const;
export const TimeUnit = Type.Union([
  Type.Literal('second'), Type.Literal('minute'), Type.Literal('hour'), Type.Literal('day'),
  Type.Literal('week'), Type.Literal('month'), Type.Literal('year'),
]);

export const Duration = Type.Object(
  { amount: Type.Integer({ minimum: 1 }), unit: TimeUnit },
  { additionalProperties: false, description: 'A positive number of time units' },
);

/** A point relative to evaluation time: `amount` units ago (`before`) or from now (`after`). */
export const RelativePoint = Type.Object(
  { amount: Type.Integer({ minimum: 0 }), unit: TimeUnit, direction: Type.Union([Type.Literal('before'), Type.Literal('after')]) },
  { additionalProperties: false },
);

const ignoreYear = Type.Optional(Type.Boolean({ description: 'Compare month and day only (not streaming/edge eligible)' }));
const tc = <T extends string, P extends TProperties>(type: T, props: P, description: string) =>
  Type.Object({ type: Type.Literal(type), ...props }, { additionalProperties: false, description });

export const TimeConstraint = Type.Union(
  [
    tc('today', { ignoreYear }, 'Today (UTC)'),
    tc('yesterday', { ignoreYear }, 'Yesterday (UTC)'),
    tc('thisMonth', { ignoreYear }, 'This calendar month'),
    tc('thisYear', {}, 'This calendar year'),
    tc('customDate', { date: IsoDate, ignoreYear }, 'On one calendar day'),
    tc('inLast', { amount: Type.Integer({ minimum: 1 }), unit: TimeUnit }, 'In the last N units, inclusive to evaluation time'),
    tc('inNext', { amount: Type.Integer({ minimum: 1 }), unit: TimeUnit }, 'In the next N units'),
    tc('fromTo', { from: IsoDate, to: IsoDate, ignoreYear }, 'From a day to a day, inclusive'),
    tc('during', { year: Type.Optional(Type.Integer({ minimum: 1, maximum: 9999 })), month: Type.Optional(Type.Integer({ minimum: 1, maximum: 12 })), ignoreYear }, 'During a month of a year, a whole year, or (ignoring the year, without `year`) a month of every year'),
    tc('within', { date: IsoDate, amount: Type.Integer({ minimum: 1 }), unit: TimeUnit, ignoreYear }, 'Within ± N units of a day, inclusive'),
    tc('before', { date: IsoDate, ignoreYear }, 'Before a day'),
    tc('after', { date: IsoDate, ignoreYear }, 'After a day'),
    tc('rollingRange', { from: RelativePoint, to: RelativePoint }, 'Between two dates relative to evaluation time'),
    tc('exists', {}, 'The timestamp (or date field) has a value'),
    tc('notExists', {}, 'The timestamp (or date field) has no value'),
  ],
  { description: 'A time constraint of the Segment Builder (§10.1)' },
);

/** Between-event constraints of a sequence step, relative to the step before: at least `after`, inside `within`. */
export const BetweenEvents = Type.Object(
  { after: Type.Optional(Duration), within: Type.Optional(Duration) },
  { additionalProperties: false },
);

// ── conditions ──────────────────────────────────────────────────────────────────────────────────────────────

export const CONDITION_OPERATORS = [
  'equals', 'notEquals', 'lessThan', 'lessOrEqual', 'greaterThan', 'greaterOrEqual',
  'contains', 'doesNotContain', 'startsWith', 'doesNotStartWith', 'endsWith', 'doesNotEndWith', 'like', 'matches',
  'in', 'notIn', 'exists', 'notExists', 'time',
] as const;
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];

export const ConditionOperator = Type.Union(CONDITION_OPERATORS.map((op) => Type.Literal(op)) as [ReturnType<typeof Type.Literal<ConditionOperator>>], {
  description: 'equals…greaterOrEqual take `value`; text operators take a text `value` (and `caseSensitive`); in/notIn take `values`; exists/notExists take nothing; time takes `time`',
});

const conditionProps = {
  field: FieldPath,
  mapKey: Type.Optional(Type.String({ description: 'For map fields: the key read with get("…"), e.g. a loyalty tier' })),
  operator: ConditionOperator,
  value: Type.Optional(Value),
  values: Type.Optional(Type.Array(Value, { description: 'For in / notIn (bulk values)' })),
  caseSensitive: Type.Optional(Type.Boolean({ description: 'Text comparisons; omitted = case-sensitive' })),
  time: Type.Optional(TimeConstraint),
};

export const EventCondition = Type.Union([
  Type.Object(
    { kind: Type.Literal('eventType'), eventType: Type.String({ minLength: 1, description: 'e.g. commerce.checkouts' }) },
    { additionalProperties: false, description: 'An Event Types shortcut: eventType.equals("…", false)' },
  ),
  Type.Object({ kind: Type.Literal('eventField'), ...conditionProps }, { additionalProperties: false, description: 'A condition on a field of the event' }),
]);

export const CountFunction = Type.Union([
  Type.Object({ fn: Type.Union([Type.Literal('atLeast'), Type.Literal('atMost'), Type.Literal('exactly')]), n: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  Type.Object({ fn: Type.Literal('between'), min: Type.Integer({ minimum: 0 }), max: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  Type.Object({ fn: Type.Literal('all') }, { additionalProperties: false, description: 'Every event in the time window matches (and there is one)' }),
], { description: 'How many matching events; omitted = at least 1' });

export const COMPARISONS = ['=', '!=', '<', '<=', '>', '>='] as const;
export type Comparison = (typeof COMPARISONS)[number];
export const ComparisonOp = Type.Union(COMPARISONS.map((op) => Type.Literal(op)) as [ReturnType<typeof Type.Literal<Comparison>>]);

export const Aggregation = Type.Object(
  {
    fn: Type.Union([Type.Literal('sum'), Type.Literal('average'), Type.Literal('min'), Type.Literal('max')]),
    field: FieldPath,
    comparison: ComparisonOp,
    value: Type.Number(),
  },
  { additionalProperties: false, description: 'SUM/AVERAGE/MIN/MAX of a numeric event field over the matching events, compared with a number' },
);

// ── blocks and containers ───────────────────────────────────────────────────────────────────────────────────

export const AttributeBlock = Type.Object({ kind: Type.Literal('attribute'), ...conditionProps }, { additionalProperties: false });

export const EventBlock = Type.Object(
  {
    kind: Type.Literal('event'),
    conditions: Type.Array(EventCondition, { minItems: 1, description: 'All must hold for an event to match' }),
    count: Type.Optional(CountFunction),
    aggregation: Type.Optional(Aggregation),
    time: Type.Optional(TimeConstraint),
  },
  { additionalProperties: false },
);

export const SequenceStep = Type.Object(
  {
    conditions: Type.Array(EventCondition, { minItems: 1 }),
    time: Type.Optional(TimeConstraint),
    between: Type.Optional(BetweenEvents),
  },
  { additionalProperties: false },
);

export const SequenceBlock = Type.Object(
  { kind: Type.Literal('sequence'), steps: Type.Array(SequenceStep, { minItems: 2 }) },
  { additionalProperties: false, description: 'Events in strict time order (then …), printed as CHAIN' },
);

export const AudienceBlock = Type.Object(
  { kind: Type.Literal('audience'), segmentId: Type.String({ minLength: 1 }), membership: Type.Union([Type.Literal('include'), Type.Literal('exclude')]) },
  { additionalProperties: false, description: 'Membership of another audience: inSegment("id")' },
);

/** Names are prefixed because Ajv registers the `$id` of each definition of a cyclic schema. */
export const RuleContainer = Type.Cyclic(
  {
    RtSegmentRuleContainer: Type.Object(
      {
        kind: Type.Literal('container'),
        mode: Type.Union([Type.Literal('include'), Type.Literal('exclude')]),
        combinator: Type.Union([Type.Literal('and'), Type.Literal('or')]),
        children: Type.Array(Type.Ref('RtSegmentRuleBlock')),
      },
      { additionalProperties: false },
    ),
    RtSegmentRuleBlock: Type.Union([AttributeBlock, EventBlock, SequenceBlock, AudienceBlock, Type.Ref('RtSegmentRuleContainer')]),
  },
  'RtSegmentRuleContainer',
);

export const SegmentRule = Type.Object(
  {
    version: Type.Literal(1),
    timeConstraint: Type.Optional(TimeConstraint),
    root: RuleContainer,
  },
  { additionalProperties: false, description: 'A Segment Builder rule (the JSON the canvas edits)' },
);

export type Value = Static<typeof Value>;
export type DateValue = Static<typeof DateValue>;
export type TimeUnit = Static<typeof TimeUnit>;
export type Duration = Static<typeof Duration>;
export type RelativePoint = Static<typeof RelativePoint>;
export type TimeConstraint = Static<typeof TimeConstraint>;
export type TimeConstraintType = TimeConstraint['type'];
export type BetweenEvents = Static<typeof BetweenEvents>;
export type EventCondition = Static<typeof EventCondition>;
export type CountFunction = Static<typeof CountFunction>;
export type Aggregation = Static<typeof Aggregation>;
export type AttributeBlock = Static<typeof AttributeBlock>;
export type EventBlock = Static<typeof EventBlock>;
export type SequenceStep = Static<typeof SequenceStep>;
export type SequenceBlock = Static<typeof SequenceBlock>;
export type AudienceBlock = Static<typeof AudienceBlock>;
export type RuleContainer = Static<typeof RuleContainer>;
export type RuleBlock = RuleContainer['children'][number];
export type SegmentRule = Static<typeof SegmentRule>;
/** The condition part shared by attribute blocks and event-field conditions. */
export type Condition = Omit<AttributeBlock, 'kind'>;

/** Time constraints that may carry "Ignore year" (§10.1). */
export const IGNORE_YEAR_ALLOWED: ReadonlySet<TimeConstraintType> = new Set([
  'today', 'yesterday', 'thisMonth', 'customDate', 'fromTo', 'during', 'within', 'before', 'after',
]);

export const isContainer = (block: RuleBlock): block is RuleContainer => block.kind === 'container';
