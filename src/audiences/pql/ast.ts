/**
 * The typed PQL syntax tree: one discriminated union on `kind`, shared by the printer, the SQL compiler, the
 * in-process evaluator, the analysis (eligibility) and the rule builder. Names are resolved by the parser, so a
 * consumer never has to guess whether `eventType` is a profile field or a field of the event in scope:
 * `ref.binding` says it.
 *
 * Every node carries `pos` (1-based line and column of its first character) so that errors found after
 * parsing (types, eligibility) can point at the source too.
 */

export interface Pos {
  line: number;
  column: number;
}

interface Base {
  pos: Pos;
}

// ── literals ────────────────────────────────────────────────────────────────────────────────────────────────
export interface StringLit extends Base { kind: 'string'; value: string }
export interface NumberLit extends Base { kind: 'number'; value: number }
export interface BooleanLit extends Base { kind: 'boolean'; value: boolean }
export interface NullLit extends Base { kind: 'null' }
/** `date(2020, 3, 14)`: midnight UTC of that day. */
export interface DateLit extends Base { kind: 'date'; year: number; month: number; day: number }
export interface ArrayLit extends Base { kind: 'array'; items: PqlNode[] }
/** `now`, `today`, `yesterday`, `tomorrow` used as values (instants; the day words are the start of that UTC day). */
export interface TimeWordNode extends Base { kind: 'timeWord'; word: TimeWord }
export type TimeWord = 'now' | 'today' | 'yesterday' | 'tomorrow';

// ── references ──────────────────────────────────────────────────────────────────────────────────────────────
/**
 * A bare name. `binding`:
 * - `profile`: a top-level field of the profile (`homeAddress` in `homeAddress.city`);
 * - `item`: a field of the current item of an implicit-context function (`eventType` inside
 *   `xEvent.filter(eventType = "x")` or `WHAT(…)` of a CHAIN step);
 * - `variable`: a name bound by `let`, `exists/forall … from`, `select … from` or `… over X from`;
 * - `xEvent`: the profile's ExperienceEvents (ordered by timestamp, oldest first).
 */
export interface RefNode extends Base { kind: 'ref'; name: string; binding: 'profile' | 'item' | 'variable' | 'xEvent' }
/** `object.name` */
export interface MemberNode extends Base { kind: 'member'; object: PqlNode; name: string }

// ── operators ───────────────────────────────────────────────────────────────────────────────────────────────
export type ComparisonOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type ArithmeticOp = '+' | '-' | '*' | '/' | '%';
export interface CompareNode extends Base { kind: 'compare'; op: ComparisonOp; left: PqlNode; right: PqlNode }
export interface ArithNode extends Base { kind: 'arith'; op: ArithmeticOp; left: PqlNode; right: PqlNode }
export interface NegateNode extends Base { kind: 'negate'; operand: PqlNode }
export interface AndNode extends Base { kind: 'and'; left: PqlNode; right: PqlNode }
export interface OrNode extends Base { kind: 'or'; left: PqlNode; right: PqlNode }
export interface NotNode extends Base { kind: 'not'; operand: PqlNode }

/**
 * A function: method style (`a.startsWith("x", false)`, `target` set) or plain (`inSegment("id")`,
 * `if(c, a, b)`, `currentMonth()`, `target` null). `name` is the canonical spelling (see `functions.ts`).
 * Arguments of the item-context functions (filter, map, count, topN, bottomN, groupBy, …) are evaluated per
 * item of the target and may use `item` refs.
 */
export interface CallNode extends Base { kind: 'call'; name: string; target: PqlNode | null; args: PqlNode[] }

// ── quantifiers, bindings, aggregations ─────────────────────────────────────────────────────────────────────
export interface Binding { variable: string; source: PqlNode; where: PqlNode | null; pos: Pos }
/** `exists E from xEvent where (…), I from E.productListItems where …` / `forall X from … where …` */
export interface QuantifierNode extends Base { kind: 'quantifier'; quantifier: 'exists' | 'forall'; bindings: Binding[] }
/** `select X from source where cond`: the items of `source` for which `cond` holds (an array). */
export interface SelectNode extends Base { kind: 'select'; variable: string; source: PqlNode; where: PqlNode | null }
/** `sum X.price over X from xEvent where …` (also count, average, min, max). */
export interface AggregateNode extends Base {
  kind: 'aggregate'; fn: AggregateFn; value: PqlNode | null; variable: string; source: PqlNode; where: PqlNode | null;
}
export type AggregateFn = 'sum' | 'count' | 'average' | 'min' | 'max';
/** `let S = (…), T = (…) in (…)` */
export interface LetNode extends Base { kind: 'let'; bindings: { name: string; value: PqlNode; pos: Pos }[]; body: PqlNode }

// ── time ────────────────────────────────────────────────────────────────────────────────────────────────────
export type TimeUnit = 'millisecond' | 'second' | 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year' | 'decade' | 'century' | 'millennium';
/** An anchor instant of a time spec: a time word, a date literal, any expression, or an earlier CHAIN step. */
export type TimeAnchor = PqlNode | StepRefNode;
export interface StepRefNode extends Base { kind: 'stepRef'; label: string }

export type TimeSpec =
  /** `today`, `yesterday`, `tomorrow`, `now` (`now` = the instant itself) */
  | { type: 'word'; word: TimeWord }
  /** `this month`, `last week`, `next year`, `last 30 days` (`amount` null = 1 calendar unit) */
  | { type: 'period'; which: 'this' | 'last' | 'next'; amount: number | null; unit: TimeUnit }
  /** `before now`, `after date(2020,1,1)` */
  | { type: 'direction'; direction: 'before' | 'after'; anchor: TimeAnchor }
  /** `<= 30 days before now`, `= 3 hours before now`, `> 1 hours after C0` (without a comparison, `3 days before now` reads as `= 3 days before now`) */
  | { type: 'offset'; comparison: ComparisonOp; amount: number; unit: TimeUnit; direction: 'before' | 'after'; anchor: TimeAnchor }
  /** `between date(…) and now` */
  | { type: 'between'; from: TimeAnchor; to: TimeAnchor }
  /** `on date(2020, 3, 14)`: that UTC day */
  | { type: 'on'; anchor: TimeAnchor };

/** `{timestamp} occurs {spec}` */
export interface OccursNode extends Base { kind: 'occurs'; subject: PqlNode; spec: TimeSpec }

// ── sequences and segments ──────────────────────────────────────────────────────────────────────────────────
export interface ChainStep { label: string; what: PqlNode; when: TimeSpec | null; pos: Pos }
/** `CHAIN(xEvent, timestamp, [C0: WHAT(…) WHEN(…), C1: …])`: events in strictly increasing time order. */
export interface ChainNode extends Base { kind: 'chain'; source: PqlNode; timestampField: string; steps: ChainStep[] }

/** `e => e.eventType = "x"` as an argument of an item-context function: names the item explicitly. */
export interface LambdaNode extends Base { kind: 'lambda'; param: string; body: PqlNode }

export type PqlNode =
  | StringLit | NumberLit | BooleanLit | NullLit | DateLit | ArrayLit | TimeWordNode
  | RefNode | MemberNode
  | CompareNode | ArithNode | NegateNode | AndNode | OrNode | NotNode
  | CallNode | QuantifierNode | SelectNode | AggregateNode | LetNode
  | OccursNode | ChainNode | StepRefNode | LambdaNode;

export type PqlKind = PqlNode['kind'];
