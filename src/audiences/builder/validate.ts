/**
 * Query validation of the Segment Builder (§10.1): the flags the canvas raises on its own — more than 50
 * building blocks, 6 event sequences, 3 aggregation functions, 250 bulk values, array depth 2 — and the
 * structural mistakes the JSON schema cannot see (an operator without its value, between with min > max,
 * "Ignore year" where the reference does not allow it, a between-event constraint on the first step).
 *
 * Limits are configurable; guardrail flags are warnings by default (the reference flags them, it does not
 * refuse the query), structural mistakes are always errors. `validateFeatures` applies the same guardrails to
 * an expression written in code view, from the PQL engine's `analysePql` features.
 */
import { RoundtripError } from '../../core/errors.ts';
import type { PqlFeatures } from '../pql/features.ts';
import {
  IGNORE_YEAR_ALLOWED, isContainer,
  type Condition, type EventCondition, type RuleBlock, type SegmentRule, type TimeConstraint,
} from './model.ts';

export interface BuilderLimits {
  maxBlocks: number;
  maxSequences: number;
  maxAggregations: number;
  maxBulkValues: number;
  maxArrayDepth: number;
  /** Severity of the guardrail flags (structural mistakes are always errors). */
  guardrailSeverity: 'warning' | 'error';
}

/** The reference's numbers (§10.1, §16). */
export const DEFAULT_LIMITS: BuilderLimits = {
  maxBlocks: 50,
  maxSequences: 6,
  maxAggregations: 3,
  maxBulkValues: 250,
  maxArrayDepth: 2,
  guardrailSeverity: 'warning',
};

export type ValidationCode =
  | 'SEG_TOO_MANY_BLOCKS'
  | 'SEG_TOO_MANY_SEQUENCES'
  | 'SEG_TOO_MANY_AGGREGATIONS'
  | 'SEG_TOO_MANY_VALUES'
  | 'SEG_ARRAY_TOO_DEEP'
  | 'SEG_VALUE_MISSING'
  | 'SEG_VALUE_NOT_TEXT'
  | 'SEG_TIME_MISSING'
  | 'SEG_COUNT_RANGE'
  | 'SEG_COUNT_WITH_AGGREGATION'
  | 'SEG_IGNORE_YEAR_NOT_ALLOWED'
  | 'SEG_BETWEEN_ON_FIRST_STEP'
  | 'SEG_BETWEEN_RANGE'
  | 'SEG_DATE_RANGE'
  | 'SEG_DURING_INCOMPLETE'
  | 'SEG_IGNORE_YEAR_UNSUPPORTED'
  | 'SEG_BETWEEN_COMBINED_UNSUPPORTED'
  | 'SEG_EMPTY_CONTAINER';

export interface ValidationIssue {
  code: ValidationCode;
  severity: 'warning' | 'error';
  message: string;
  /** Where in the rule (`root.children[2].steps[1]`); empty for whole-rule flags. */
  path: string;
  limit?: number;
  actual?: number;
}

export interface ValidationResult {
  valid: boolean;
  issues: ValidationIssue[];
  counts: { blocks: number; sequences: number; aggregations: number };
}

/** Building blocks as the builder counts them: every attribute, event and audience card and every sequence step. */
export function countRule(rule: SegmentRule): ValidationResult['counts'] {
  const counts = { blocks: 0, sequences: 0, aggregations: 0 };
  const visit = (block: RuleBlock): void => {
    if (isContainer(block)) return block.children.forEach(visit);
    if (block.kind === 'sequence') {
      counts.sequences += 1;
      counts.blocks += block.steps.length;
      return;
    }
    counts.blocks += 1;
    if (block.kind === 'event' && block.aggregation) counts.aggregations += 1;
  };
  visit(rule.root);
  return counts;
}

function guardrails(counts: ValidationResult['counts'], limits: BuilderLimits): ValidationIssue[] {
  const severity = limits.guardrailSeverity;
  const checks: [ValidationCode, number, number, string][] = [
    ['SEG_TOO_MANY_BLOCKS', counts.blocks, limits.maxBlocks, 'building blocks'],
    ['SEG_TOO_MANY_SEQUENCES', counts.sequences, limits.maxSequences, 'event sequences'],
    ['SEG_TOO_MANY_AGGREGATIONS', counts.aggregations, limits.maxAggregations, 'aggregation functions'],
  ];
  return checks
    .filter(([, actual, limit]) => actual > limit)
    .map(([code, actual, limit, what]) => ({
      code, severity, path: '', limit, actual,
      message: `The audience uses ${actual} ${what}; the builder allows at most ${limit}. Split it into smaller audiences and combine them with inSegment.`,
    }));
}

const TEXT_OPERATORS = new Set(['contains', 'doesNotContain', 'startsWith', 'doesNotStartWith', 'endsWith', 'doesNotEndWith', 'like', 'matches']);
const NO_VALUE_OPERATORS = new Set(['exists', 'notExists', 'time', 'in', 'notIn']);

const dayNumber = (iso: string): number => Date.parse(`${iso}T00:00:00Z`);

function checkTime(time: TimeConstraint, path: string, out: ValidationIssue[]): void {
  if ('ignoreYear' in time && time.ignoreYear && (!IGNORE_YEAR_ALLOWED.has(time.type) || (time.type === 'during' && time.month === undefined))) {
    out.push({ code: 'SEG_IGNORE_YEAR_NOT_ALLOWED', severity: 'error', path, message: `"Ignore year" cannot be used with ${time.type === 'during' ? 'a whole year' : time.type}.` });
  }
  if (time.type === 'during' && (time.month === undefined ? time.year === undefined : time.year === undefined && !time.ignoreYear)) {
    out.push({ code: 'SEG_DURING_INCOMPLETE', severity: 'error', path, message: '"During" needs a year, a month and a year, or a month with "Ignore year".' });
  }
  if (time.type === 'within' && time.ignoreYear) {
    // Month-and-day arithmetic around a day (± N units, over month and year ends) has no PQL form yet.
    out.push({ code: 'SEG_IGNORE_YEAR_UNSUPPORTED', severity: 'error', path, message: '"Within … of a date" with "Ignore year" cannot be converted to PQL here; use "From … to" with "Ignore year" instead.' });
  }
  if (time.type === 'fromTo' && !time.ignoreYear && dayNumber(time.from) > dayNumber(time.to)) {
    out.push({ code: 'SEG_DATE_RANGE', severity: 'error', path, message: `The range starts (${time.from}) after it ends (${time.to}).` });
  }
}

function checkCondition(condition: Condition, path: string, limits: BuilderLimits, out: ValidationIssue[]): void {
  const { operator } = condition;
  if (!NO_VALUE_OPERATORS.has(operator) && condition.value === undefined) {
    out.push({ code: 'SEG_VALUE_MISSING', severity: 'error', path, message: `"${condition.field}" ${operator} needs a value.` });
  }
  if (TEXT_OPERATORS.has(operator) && condition.value !== undefined && typeof condition.value !== 'string') {
    out.push({ code: 'SEG_VALUE_NOT_TEXT', severity: 'error', path, message: `"${condition.field}" ${operator} compares text; the value must be a text.` });
  }
  if ((operator === 'in' || operator === 'notIn')) {
    const n = condition.values?.length ?? 0;
    if (n === 0) out.push({ code: 'SEG_VALUE_MISSING', severity: 'error', path, message: `"${condition.field}" ${operator} needs at least one value.` });
    if (n > limits.maxBulkValues) {
      out.push({ code: 'SEG_TOO_MANY_VALUES', severity: limits.guardrailSeverity, path, limit: limits.maxBulkValues, actual: n, message: `"${condition.field}" lists ${n} values; at most ${limits.maxBulkValues} can be added in bulk.` });
    }
  }
  if (operator === 'time') {
    if (!condition.time) out.push({ code: 'SEG_TIME_MISSING', severity: 'error', path, message: `"${condition.field}" needs a time constraint.` });
  }
  if (condition.time) checkTime(condition.time, `${path}.time`, out);
}

function checkEventConditions(conditions: EventCondition[], path: string, limits: BuilderLimits, out: ValidationIssue[]): void {
  conditions.forEach((c, i) => {
    if (c.kind === 'eventField') checkCondition(c, `${path}.conditions[${i}]`, limits, out);
  });
}

function checkBlock(block: RuleBlock, path: string, limits: BuilderLimits, out: ValidationIssue[]): void {
  switch (block.kind) {
    case 'container':
      if (block.children.length === 0) out.push({ code: 'SEG_EMPTY_CONTAINER', severity: 'warning', path, message: 'This container is empty; it matches every profile (include) or none (exclude).' });
      block.children.forEach((child, i) => checkBlock(child, `${path}.children[${i}]`, limits, out));
      return;
    case 'attribute':
      return checkCondition(block, path, limits, out);
    case 'audience':
      return;
    case 'event':
      checkEventConditions(block.conditions, path, limits, out);
      if (block.count && block.aggregation) {
        out.push({ code: 'SEG_COUNT_WITH_AGGREGATION', severity: 'error', path, message: 'An event card has either a count function or an aggregation, not both.' });
      }
      if (block.count?.fn === 'between' && block.count.min > block.count.max) {
        out.push({ code: 'SEG_COUNT_RANGE', severity: 'error', path, message: `Between ${block.count.min} and ${block.count.max}: the minimum is above the maximum.` });
      }
      if (block.time) checkTime(block.time, `${path}.time`, out);
      return;
    case 'sequence':
      block.steps.forEach((step, i) => {
        const stepPath = `${path}.steps[${i}]`;
        checkEventConditions(step.conditions, stepPath, limits, out);
        if (step.time) checkTime(step.time, `${stepPath}.time`, out);
        if (i === 0 && step.between) {
          out.push({ code: 'SEG_BETWEEN_ON_FIRST_STEP', severity: 'error', path: stepPath, message: 'The first event of a sequence has no event before it; move the between-event rule to a later step.' });
        }
        const { after, within } = step.between ?? {};
        if (after && within) {
          // CHAIN steps take one WHEN spec; "after X and within Y" needs two (reported to the PQL engine).
          out.push({ code: 'SEG_BETWEEN_COMBINED_UNSUPPORTED', severity: 'error', path: stepPath, message: 'A step can have "after" or "within" the event before it, not both yet; keep one of them.' });
        }
        if (after && within && toSeconds(after) > toSeconds(within)) {
          out.push({ code: 'SEG_BETWEEN_RANGE', severity: 'error', path: stepPath, message: `"After ${after.amount} ${after.unit}" is longer than "within ${within.amount} ${within.unit}": no event can match.` });
        }
      });
      return;
  }
}

const SECONDS: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86_400, week: 604_800, month: 2_629_800, year: 31_557_600 };
const toSeconds = (d: { amount: number; unit: string }): number => d.amount * (SECONDS[d.unit] ?? 0);

/** Validates a builder rule: guardrail flags and structural mistakes. */
export function validateRule(rule: SegmentRule, limits: Partial<BuilderLimits> = {}): ValidationResult {
  const all = { ...DEFAULT_LIMITS, ...limits };
  const issues: ValidationIssue[] = [];
  if (rule.timeConstraint) checkTime(rule.timeConstraint, 'timeConstraint', issues);
  checkBlock(rule.root, 'root', all, issues);
  const counts = countRule(rule);
  issues.unshift(...guardrails(counts, all));
  return { valid: issues.every((i) => i.severity !== 'error'), issues, counts };
}

/** The same guardrails for an expression from code view, counted by the PQL engine. */
export function validateFeatures(features: PqlFeatures, limits: Partial<BuilderLimits> = {}): ValidationResult {
  const all = { ...DEFAULT_LIMITS, ...limits };
  const counts = { blocks: features.blocks, sequences: features.sequences, aggregations: features.aggregations };
  const issues = guardrails(counts, all);
  if (features.arrayDepth > all.maxArrayDepth) {
    issues.push({
      code: 'SEG_ARRAY_TOO_DEEP', severity: all.guardrailSeverity, path: '', limit: all.maxArrayDepth, actual: features.arrayDepth,
      message: `The expression iterates arrays ${features.arrayDepth} levels deep; at most ${all.maxArrayDepth} are allowed.`,
    });
  }
  return { valid: issues.every((i) => i.severity !== 'error'), issues, counts };
}

/** Throws RT_SEGMENT_RULE_INVALID with the issues when the rule has errors; returns the result otherwise. */
export function assertRuleValid(rule: SegmentRule, limits: Partial<BuilderLimits> = {}): ValidationResult {
  const result = validateRule(rule, limits);
  const errors = result.issues.filter((i) => i.severity === 'error');
  if (errors.length > 0) {
    throw new RoundtripError('RT_SEGMENT_RULE_INVALID', `The audience rule is invalid: ${errors[0]!.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`, { issues: result.issues });
  }
  return result;
}
