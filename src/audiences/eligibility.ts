/**
 * Evaluation-method eligibility (reference §10.2): for one PQL expression, may it run as a batch, streaming or
 * edge audience, and if not, why — in words a marketer can act on, with stable codes the console and the API
 * both show (the "Evaluation method eligibility" popover, `evaluationInfo` checks on save).
 *
 * One function per rule of §10.2, each reading the PQL engine's `analysePql` features (what the expression
 * uses) and the context the expression cannot know (how referenced audiences are evaluated, the merge policy,
 * whether streaming segmentation is enabled, where events come from). Batch takes every query.
 * Streaming takes profile-only queries, one event within a 24-hour window (with or without profile
 * attributes) and several events within 24 hours in strict time order; edge takes the same plus segment of
 * segments, but not one event combined with inSegment unless the inner audience is profile-only.
 */
import type { PqlNode } from './pql/ast.ts';
import type { PqlFeatures } from './pql/features.ts';
import { analysePql } from './pql/index.ts';

export type EvaluationMethod = 'batch' | 'streaming' | 'edge';

export type EligibilityCode =
  | 'EXTERNAL_AUDIENCE'
  | 'IN_SEGMENT_NOT_STREAMING'
  | 'IN_SEGMENT_WITH_EVENT'
  | 'EVENT_NO_TIME_WINDOW'
  | 'EVENT_LOOKBACK_OVER_24H'
  | 'EVENT_FUTURE_WINDOW'
  | 'EVENTS_NOT_ORDERED'
  | 'ALL_EVENTS_NEGATED'
  | 'RELATIVE_PROFILE_TIME'
  | 'MIXED_EVENT_SOURCES'
  | 'MERGE_POLICY_NOT_ACTIVE_ON_EDGE'
  | 'STREAMING_NOT_ENABLED';

export interface EligibilityReason {
  code: EligibilityCode;
  message: string;
  /** Segment ids the reason is about (inSegment rules). */
  segmentIds?: string[];
}

export interface MethodEligibility {
  eligible: boolean;
  reasons: EligibilityReason[];
}

/** Which documented shape the expression has (§10.2 lists the streaming-eligible ones by shape). */
export type QueryShape =
  | 'profile-only'
  | 'single-event'
  | 'single-event-with-profile'
  | 'multiple-events'
  | 'multiple-events-with-profile'
  | 'segment-of-segments'
  | 'other';

export interface Eligibility {
  shape: QueryShape;
  batch: MethodEligibility;
  streaming: MethodEligibility;
  edge: MethodEligibility;
}

/** What the platform knows about an audience named by inSegment("id"). */
export interface ReferencedSegment {
  /** The methods it is evaluated with (from its evaluationInfo). */
  methods: readonly EvaluationMethod[];
  /** Imported or uploaded (AAM, CSV): membership only, never evaluated here. */
  external?: boolean;
  /** Its expression reads profile attributes only (no events, no inSegment). */
  profileOnly?: boolean;
}

export interface EligibilityContext {
  /** Features already computed by `analysePql` for this node (otherwise computed here). */
  features?: PqlFeatures;
  /** Look up an audience by id; an unknown id is treated as batch-only. */
  segments?: (id: string) => ReferencedSegment | undefined;
  /** The merge policy of the audience; streaming and edge need one that is active on edge. Unknown = not checked. */
  mergePolicy?: { activeOnEdge: boolean };
  /** Scheduled (and so streaming) segmentation is enabled for the organisation. Unknown = not checked. */
  streamingEnabled?: boolean;
  /** Where the profile's events are ingested from; since May 2025 mixed batch + streaming sources mean batch. */
  eventSources?: 'streaming' | 'batch' | 'mixed';
}

/** Streaming and edge look back one day at most (§10.2, §16). */
export const STREAMING_LOOKBACK_DAYS = 1;

interface RuleInput {
  features: PqlFeatures;
  context: EligibilityContext;
  segments: Map<string, ReferencedSegment | undefined>;
}

type Rule = (input: RuleInput) => EligibilityReason | null;

const hasEvents = (f: PqlFeatures): boolean => f.eventReferences > 0;

export function queryShape(f: PqlFeatures): QueryShape {
  const profile = f.profileAttributes.length > 0;
  if (!hasEvents(f)) return f.inSegment.length > 0 ? 'segment-of-segments' : 'profile-only';
  if (f.inSegment.length > 0) return 'other';
  if (f.eventReferences === 1) return profile ? 'single-event-with-profile' : 'single-event';
  return profile ? 'multiple-events-with-profile' : 'multiple-events';
}

const list = (ids: string[]): string => ids.map((id) => `"${id}"`).join(', ');

// ── the rules of §10.2 ──────────────────────────────────────────────────────────────────────────────────────

/** AAM segments/traits and other external audiences are membership only: never streaming or edge. */
const externalAudience: Rule = ({ features, segments }) => {
  const ids = features.inSegment.filter((id) => segments.get(id)?.external);
  return ids.length === 0 ? null : {
    code: 'EXTERNAL_AUDIENCE', segmentIds: ids,
    message: `It uses the external audience ${list(ids)}, whose membership arrives in batches; only batch evaluation can use it.`,
  };
};

/** Streaming: every audience named by inSegment must itself be evaluated in streaming (or on edge). */
const inSegmentNotStreaming: Rule = ({ features, segments }) => {
  const ids = features.inSegment.filter((id) => {
    const s = segments.get(id);
    return !s || (!s.external && !s.methods.includes('streaming') && !s.methods.includes('edge'));
  });
  return ids.length === 0 ? null : {
    code: 'IN_SEGMENT_NOT_STREAMING', segmentIds: ids,
    message: `It uses the audience ${list(ids)}, which is evaluated in batch only (or unknown); switch that audience to streaming first, or evaluate this one in batch.`,
  };
};

/** Edge: one event combined with inSegment only when the inner audience is profile-only. */
const inSegmentWithEvent: Rule = ({ features, segments }) => {
  if (!hasEvents(features)) return null;
  const ids = features.inSegment.filter((id) => !segments.get(id)?.profileOnly);
  return ids.length === 0 ? null : {
    code: 'IN_SEGMENT_WITH_EVENT', segmentIds: ids,
    message: `It combines an event with the audience ${list(ids)}, which is not profile-only; on edge an event may only be combined with profile-only audiences.`,
  };
};

/** An event condition with no time window (or one not ending now) needs the whole history: batch. */
const eventNoWindow: Rule = ({ features }) =>
  hasEvents(features) && features.eventLookbackDays === null && !features.usesFutureWindows ? {
    code: 'EVENT_NO_TIME_WINDOW',
    message: 'An event condition has no time window ending now (e.g. "in the last 24 hours"); without one it reads the whole history, which only batch does.',
  } : null;

const eventLookback: Rule = ({ features }) =>
  hasEvents(features) && features.eventLookbackDays !== null && features.eventLookbackDays > STREAMING_LOOKBACK_DAYS ? {
    code: 'EVENT_LOOKBACK_OVER_24H',
    message: `An event condition looks back ${formatDays(features.eventLookbackDays)}; streaming and edge look back 24 hours at most. Narrow the window to 24 hours or use batch.`,
  } : null;

const futureWindow: Rule = ({ features }) =>
  hasEvents(features) && features.usesFutureWindows ? {
    code: 'EVENT_FUTURE_WINDOW',
    message: 'An event condition uses a window in the future ("next …", "tomorrow", "after now"); streaming and edge evaluate on arrival, so only batch can wait for it.',
  } : null;

/** Several events must be steps of one sequence (strict time ordering). */
const eventsNotOrdered: Rule = ({ features }) =>
  features.eventReferences > 1 && !(features.eventsOnlyInSequences && features.sequences === 1) ? {
    code: 'EVENTS_NOT_ORDERED',
    message: 'It has several event conditions that are not steps of one sequence; streaming and edge need several events in strict time order (event A, then event B).',
  } : null;

const allNegated: Rule = ({ features }) =>
  features.allEventsNegated ? {
    code: 'ALL_EVENTS_NEGATED',
    message: 'Every event condition is negated ("did not …"); streaming and edge need at least one event that happened.',
  } : null;

/** Ignore year and relative dates on profile fields change with the clock, not with incoming data. */
const relativeProfileTime: Rule = ({ features }) =>
  features.usesProfileTimeFunctions ? {
    code: 'RELATIVE_PROFILE_TIME',
    message: 'It compares dates with today, this month or ignoring the year (e.g. birthdays); these change with the calendar, not with incoming data, so only batch re-evaluates them daily.',
  } : null;

const mixedSources: Rule = ({ features, context }) =>
  hasEvents(features) && context.eventSources !== undefined && context.eventSources !== 'streaming' ? {
    code: 'MIXED_EVENT_SOURCES',
    message: context.eventSources === 'mixed'
      ? 'Its events come from both batch and streaming sources; such audiences are evaluated in batch.'
      : 'Its events arrive in batches only; streaming and edge evaluation need streamed events.',
  } : null;

const mergePolicy: Rule = ({ context }) =>
  context.mergePolicy && !context.mergePolicy.activeOnEdge ? {
    code: 'MERGE_POLICY_NOT_ACTIVE_ON_EDGE',
    message: 'Its merge policy is not active on edge; streaming and edge audiences need a merge policy marked "Active on Edge".',
  } : null;

const streamingEnabled: Rule = ({ context }) =>
  context.streamingEnabled === false ? {
    code: 'STREAMING_NOT_ENABLED',
    message: 'Streaming segmentation is not enabled for this organisation (it needs scheduled segmentation).',
  } : null;

/** The rules per method, in the order their reasons are shown. */
const COMMON: Rule[] = [externalAudience, eventNoWindow, eventLookback, futureWindow, eventsNotOrdered, allNegated, relativeProfileTime, mixedSources, mergePolicy, streamingEnabled];
export const RULES: Record<EvaluationMethod, Rule[]> = {
  batch: [],
  streaming: [inSegmentNotStreaming, ...COMMON],
  edge: [inSegmentWithEvent, ...COMMON],
};

function formatDays(days: number): string {
  if (days < 1) return `${Math.round(days * 24)} hours`;
  return Number.isInteger(days) ? `${days} days` : `${days.toFixed(1)} days`;
}

function run(rules: Rule[], input: RuleInput): MethodEligibility {
  const reasons = rules.map((rule) => rule(input)).filter((r): r is EligibilityReason => r !== null);
  return { eligible: reasons.length === 0, reasons };
}

/** Eligibility from features already computed (the API computes them once per save). */
export function eligibilityFromFeatures(features: PqlFeatures, context: EligibilityContext = {}): Eligibility {
  const segments = new Map(features.inSegment.map((id) => [id, context.segments?.(id)] as const));
  const input: RuleInput = { features, context, segments };
  return {
    shape: queryShape(features),
    batch: run(RULES.batch, input),
    streaming: run(RULES.streaming, input),
    edge: run(RULES.edge, input),
  };
}

/** Batch / streaming / edge eligibility of a parsed PQL expression, with reasons when not eligible. */
export function checkEligibility(node: PqlNode, context: EligibilityContext = {}): Eligibility {
  return eligibilityFromFeatures(context.features ?? analysePql(node), context);
}

export interface EvaluationInfo {
  batch: { enabled: boolean };
  continuous: { enabled: boolean };
  synchronous: { enabled: boolean };
}

/**
 * The evaluationInfo to store: a requested streaming (`continuous`) or edge (`synchronous`) method the
 * expression is not eligible for falls back to batch (§10.2: "definitions edited out of eligibility switch to
 * batch automatically"); `downgraded` says which ones, with the reasons to show.
 */
export function resolveEvaluationInfo(requested: EvaluationInfo, eligibility: Eligibility): {
  evaluationInfo: EvaluationInfo;
  downgraded: { method: EvaluationMethod; reasons: EligibilityReason[] }[];
} {
  const downgraded: { method: EvaluationMethod; reasons: EligibilityReason[] }[] = [];
  const keep = (method: 'streaming' | 'edge', on: boolean): boolean => {
    if (on && !eligibility[method].eligible) downgraded.push({ method, reasons: eligibility[method].reasons });
    return on && eligibility[method].eligible;
  };
  const continuous = keep('streaming', requested.continuous.enabled);
  const synchronous = keep('edge', requested.synchronous.enabled);
  return {
    evaluationInfo: {
      batch: { enabled: requested.batch.enabled || (!continuous && !synchronous) },
      continuous: { enabled: continuous },
      synchronous: { enabled: synchronous },
    },
    downgraded,
  };
}
