/**
 * The rule builder's public surface (what the API routes and the console use): the TypeBox schema of a rule,
 * rule → PQL, PQL → rule ("code view" when it cannot), the canonical form, and query validation.
 */
export { SegmentRule, RuleContainer, TimeConstraint, IGNORE_YEAR_ALLOWED } from './model.ts';
export type {
  AttributeBlock, AudienceBlock, EventBlock, EventCondition, RuleBlock, SequenceBlock, SequenceStep, Condition, CountFunction, Aggregation,
} from './model.ts';
export { ruleToPql } from './to-pql.ts';
export { pqlToRule, pqlTextToRule, type FromPqlResult } from './from-pql.ts';
export { normalizeRule } from './normalize.ts';
export {
  validateRule, validateFeatures, assertRuleValid, countRule, DEFAULT_LIMITS,
  type BuilderLimits, type ValidationCode, type ValidationIssue, type ValidationResult,
} from './validate.ts';
