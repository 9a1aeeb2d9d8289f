/**
 * What an expression uses, as the eligibility checker (§10.2), query validation (§10.1) and the rule builder
 * need it. Filled by `analysis.ts`.
 */
export interface PqlFeatures {
  /** Event conditions: each CHAIN step, each quantifier/select/aggregate/function over `xEvent` counts once. */
  eventReferences: number;
  /** Number of CHAIN(…) sequences. */
  sequences: number;
  /** sum/average/min/max/count aggregations (over events or arrays). */
  aggregations: number;
  /** Segment ids named by inSegment("…") (and segmentMembership.get(ns).get(id)), sorted, distinct. */
  inSegment: string[];
  /**
   * Longest look-back window (in days, may be fractional: `<= 6 hours before now` = 0.25) of any event
   * reference; `null` when some event reference has no window (unbounded) or a window that does not end near
   * now; 0 when there is no event reference.
   */
  eventLookbackDays: number | null;
  /** currentMonth(), getYear(), … or time words applied to profile fields (`birthDate occurs today`). */
  usesProfileTimeFunctions: boolean;
  /** Every event reference sits under an `or` (so a profile may qualify without any event). */
  eventsOnlyUnderOr: boolean;
  /** Profile attributes read, as dotted paths (`homeAddress.country`), sorted, distinct. */
  profileAttributes: string[];
  /** Event references under `not`, `forall`, or compared as a count equal to/below zero ("did not happen"). */
  negatedEventReferences: number;
  /** There are event references and all of them are negated (not allowed for streaming). */
  allEventsNegated: boolean;
  /** Every event reference is a step of a CHAIN (multi-event conditions with strict time ordering). */
  eventsOnlyInSequences: boolean;
  /** A time window of an event reference lies (partly) in the future (`next week`, `tomorrow`, `after now`). */
  usesFutureWindows: boolean;
  /** Building blocks for the 50-block query validation: comparisons, function calls, quantifiers, steps. */
  blocks: number;
  /** Deepest nesting of array iteration (xEvent → productListItems = 2); the reference caps it at 2. */
  arrayDepth: number;
}
