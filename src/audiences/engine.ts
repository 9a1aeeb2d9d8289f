/**
 * The audiences service's one door to the PQL engine (`./pql`) and the eligibility checker
 * (`./eligibility.ts`): a definition is parsed and analysed once here, and the rest of the service works with
 * the resulting `Prepared` segment (AST, features, dependencies, look-back, eligibility).
 */
import { RoundtripError } from '../core/errors.ts';
import { analysePql, compilePqlToSql, evaluatePql, parsePql, type PqlFeatures, type PqlNode } from './pql/index.ts';
import { checkEligibility, type Eligibility, type EvaluationMethod, type ReferencedSegment } from './eligibility.ts';

export type { Eligibility } from './eligibility.ts';

export interface Prepared {
  node: PqlNode;
  features: PqlFeatures;
  dependencies: string[];
  /** Longest event look-back in days; null: unbounded. */
  lookbackDays: number | null;
  eligibility: Eligibility;
}

/** What eligibility needs of a segment named by inSegment: how it is evaluated, and its shape. */
export interface SegmentInfo {
  methods: EvaluationMethod[];
  external: boolean;
  features?: PqlFeatures;
}

/** Parses (RT_PQL_SYNTAX with line and column on failure), analyses and checks eligibility. */
export function prepare(source: string, lookup: (segmentId: string) => SegmentInfo | undefined = () => undefined): Prepared {
  const node = parsePql(source);
  const features = analysePql(node);
  const segments = (id: string): ReferencedSegment | undefined => {
    const info = lookup(id);
    if (!info) return undefined;
    const f = info.features;
    return { methods: info.methods, external: info.external, profileOnly: f ? f.eventReferences === 0 && f.inSegment.length === 0 : false };
  };
  const eligibility = checkEligibility(node, { features, segments });
  return { node, features, dependencies: [...features.inSegment], lookbackDays: features.eventLookbackDays, eligibility };
}

export interface CompileContext {
  profileAlias: string;
  eventsTable: string;
  membershipTable: string;
  now: Date;
}

/** The segment as a boolean SQL expression over the profile row and the events/membership relations. */
export function toSql(prepared: Pick<Prepared, 'node'>, ctx: CompileContext): string {
  return compilePqlToSql(prepared.node, { ...ctx, now: ctx.now.toISOString() });
}

/** In-process evaluation of one profile (streaming). */
export function evaluate(prepared: Pick<Prepared, 'node'>, input: { profile: Record<string, unknown>; events: readonly Record<string, unknown>[]; segments: ReadonlySet<string>; now: Date }): boolean {
  return evaluatePql(prepared.node, input);
}

export function invalid(message: string, details?: unknown): RoundtripError {
  return new RoundtripError('RT_SEGMENT_INVALID', message, details);
}
