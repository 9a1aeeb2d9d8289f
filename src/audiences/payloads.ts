/**
 * Audience request and response bodies in the reference's shapes (§10.3): segment definitions
 * (`expression.type = PQL`, `evaluationInfo`), segment jobs with their statuses and metrics, previews and
 * estimates, memberships and external (CSV) audiences. One TypeBox source for validation, types and OpenAPI.
 */
import { Type, type Static } from 'typebox';

const Enabled = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false });

export const EvaluationInfo = Type.Object(
  {
    batch: Type.Optional(Enabled),
    continuous: Type.Optional(Enabled),
    synchronous: Type.Optional(Enabled),
  },
  { additionalProperties: false, description: 'batch (daily and on-demand jobs), continuous (streaming), synchronous (edge)' },
);
export type EvaluationInfoT = Static<typeof EvaluationInfo>;

export const Expression = Type.Object(
  {
    type: Type.Literal('PQL'),
    format: Type.Literal('pql/text'),
    value: Type.String({ minLength: 1, maxLength: 100_000, description: 'The PQL text' }),
  },
  { additionalProperties: false },
);

const SchemaRef = Type.Object({ name: Type.Literal('_xdm.context.profile') }, { additionalProperties: false });

export const DefinitionBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    expression: Expression,
    evaluationInfo: Type.Optional(EvaluationInfo),
    mergePolicyId: Type.Optional(Type.String({ minLength: 1, description: 'Default: the sandbox default profile merge policy' })),
    schema: Type.Optional(SchemaRef),
  },
  { additionalProperties: false },
);
export type DefinitionInput = Static<typeof DefinitionBody>;

export const DefinitionPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    expression: Type.Optional(Expression),
    evaluationInfo: Type.Optional(EvaluationInfo),
    mergePolicyId: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type DefinitionPatchT = Static<typeof DefinitionPatch>;

const Reason = Type.Object({ code: Type.String(), message: Type.String(), segmentIds: Type.Optional(Type.Array(Type.String())) });
const Method = Type.Object({ eligible: Type.Boolean(), reasons: Type.Array(Reason) });
const Eligibility = Type.Object({ shape: Type.String(), batch: Method, streaming: Method, edge: Method });

export const DefinitionView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  /** `pql` for rule-based audiences, `external` for uploaded ones (no expression). */
  origin: Type.Union([Type.Literal('pql'), Type.Literal('external')]),
  expression: Type.Union([Expression, Type.Null()]),
  evaluationInfo: Type.Object({ batch: Enabled, continuous: Enabled, synchronous: Enabled }),
  mergePolicyId: Type.String(),
  schema: SchemaRef,
  profileInstanceId: Type.Literal('ups'),
  sandbox: Type.Object({ sandboxName: Type.String() }),
  dataGovernancePolicy: Type.Object({ excludeOptOut: Type.Boolean() }),
  ttlInDays: Type.Integer(),
  eligibility: Type.Union([Eligibility, Type.Null()]),
  /** Segments this one reads through inSegment(…). */
  dependencies: Type.Array(Type.String()),
  /** Longest event look-back in days (null: unbounded), from the expression's analysis. */
  lookbackDays: Type.Union([Type.Number(), Type.Null()]),
  creationTime: Type.Integer({ description: 'ms since the epoch' }),
  updateTime: Type.Integer(),
  updateEpoch: Type.Integer({ description: 's since the epoch' }),
});
export type DefinitionViewT = Static<typeof DefinitionView>;

export const DefinitionListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  'evaluationInfo.batch.enabled': Type.Optional(Type.Boolean()),
  'evaluationInfo.continuous.enabled': Type.Optional(Type.Boolean()),
  'evaluationInfo.synchronous.enabled': Type.Optional(Type.Boolean()),
});

// ── jobs ───────────────────────────────────────────────────────────────────────────────────────────────────
export const JobBody = Type.Array(Type.Object({ segmentId: Type.String({ minLength: 1 }) }, { additionalProperties: false }), {
  minItems: 1,
  maxItems: 5000,
  description: 'Segments to evaluate; `[{"segmentId": "*"}]` evaluates every batch-enabled segment',
});

export const JobStatus = Type.Union([
  Type.Literal('NEW'),
  Type.Literal('QUEUED'),
  Type.Literal('PROCESSING'),
  Type.Literal('SUCCEEDED'),
  Type.Literal('FAILED'),
  Type.Literal('CANCELLING'),
  Type.Literal('CANCELLED'),
]);
export type JobStatusT = 'NEW' | 'QUEUED' | 'PROCESSING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLING' | 'CANCELLED';

const Counter = Type.Record(Type.String(), Type.Record(Type.String(), Type.Integer()));
export const JobMetrics = Type.Object({
  totalTime: Type.Object({ startTimeInMs: Type.Integer(), endTimeInMs: Type.Integer(), totalTimeInMs: Type.Integer() }),
  profileSegmentationTime: Type.Object({ startTimeInMs: Type.Integer(), endTimeInMs: Type.Integer(), totalTimeInMs: Type.Integer() }),
  totalProfiles: Type.Integer(),
  segmentedProfileCounter: Type.Record(Type.String(), Type.Integer()),
  segmentedProfileByNamespaceCounter: Counter,
  segmentedProfileByStatusCounter: Counter,
  totalProfilesByMergePolicy: Type.Record(Type.String(), Type.Integer()),
});
export type JobMetricsT = Static<typeof JobMetrics>;

export const JobView = Type.Object({
  id: Type.String(),
  status: JobStatus,
  segments: Type.Array(Type.Object({ segmentId: Type.String() })),
  metrics: Type.Union([JobMetrics, Type.Null()]),
  errors: Type.Array(Type.Object({ code: Type.String(), msg: Type.String() })),
  requestedBy: Type.String(),
  creationTime: Type.Integer(),
  updateTime: Type.Integer(),
});
export type JobViewT = Static<typeof JobView>;

// ── previews and estimates ─────────────────────────────────────────────────────────────────────────────────
export const PreviewBody = Type.Object(
  {
    predicateExpression: Type.String({ minLength: 1, maxLength: 100_000 }),
    predicateType: Type.Optional(Type.Literal('pql/text')),
    predicateModel: Type.Optional(Type.Literal('_xdm.context.profile')),
    mergePolicyId: Type.Optional(Type.String()),
    /** Overrides the sampling policy (profiles to read); for tests and for a quicker rough answer. */
    sampleSize: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type PreviewInput = Static<typeof PreviewBody>;

export const EstimateBody = Type.Object({ sampleSize: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false });

export const EstimateView = Type.Object({
  previewId: Type.String(),
  state: Type.Union([Type.Literal('RESULT_READY'), Type.Literal('FAILED'), Type.Literal('RUNNING'), Type.Literal('NEW')]),
  estimatedSize: Type.Integer(),
  estimatedNamespaceDistribution: Type.Array(Type.Object({ namespace: Type.String(), size: Type.Integer() })),
  numRowsToRead: Type.Integer(),
  profilesReadSoFar: Type.Integer(),
  profilesMatchedSoFar: Type.Integer(),
  totalRows: Type.Integer(),
  standardError: Type.Number(),
  confidenceInterval: Type.Literal('95%'),
  /** Wilson interval of the share, scaled to the profile count. */
  estimatedSizeRange: Type.Object({ low: Type.Integer(), high: Type.Integer() }),
  sampling: Type.Object({ method: Type.String(), seed: Type.Integer(), ratio: Type.Number() }),
  runtimeMs: Type.Integer(),
  now: Type.String(),
});
export type EstimateViewT = Static<typeof EstimateView>;

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  offset: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const PreviewView = Type.Object({
  previewId: Type.String(),
  state: Type.String(),
  results: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  page: Type.Object({ offset: Type.Integer(), limit: Type.Integer(), totalCount: Type.Integer(), next: Type.Union([Type.Integer(), Type.Null()]) }),
});

// ── memberships ────────────────────────────────────────────────────────────────────────────────────────────
export const MembersQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  offset: Type.Optional(Type.Integer({ minimum: 0 })),
  status: Type.Optional(Type.Union([Type.Literal('realized'), Type.Literal('exited')])),
});

export const MemberView = Type.Object({
  profileId: Type.Integer(),
  status: Type.String(),
  lastQualificationTime: Type.String(),
  version: Type.Integer(),
  identities: Type.Array(Type.Object({ namespace: Type.String(), id: Type.String() })),
});

export const MembersView = Type.Object({
  segmentId: Type.String(),
  members: Type.Array(MemberView),
  page: Type.Object({ offset: Type.Integer(), limit: Type.Integer(), totalCount: Type.Integer(), next: Type.Union([Type.Integer(), Type.Null()]) }),
});

export const TrendView = Type.Object({
  segmentId: Type.String(),
  days: Type.Array(Type.Object({ day: Type.String(), entered: Type.Integer(), exited: Type.Integer(), members: Type.Integer() })),
});

// ── external audiences ─────────────────────────────────────────────────────────────────────────────────────
export const ExternalBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    namespace: Type.String({ minLength: 1, description: 'Identity namespace of the values (Email, CRMID, …)' }),
    csv: Type.String({ minLength: 1, description: 'CSV text; the values are in `column` (default: the first column), a header row is detected' }),
    column: Type.Optional(Type.String({ minLength: 1 })),
    mergePolicyId: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type ExternalInput = Static<typeof ExternalBody>;

export const ExternalView = Type.Object({
  segment: DefinitionView,
  values: Type.Integer(),
  resolved: Type.Integer(),
  unresolved: Type.Integer(),
  profiles: Type.Integer(),
});

export const StreamingStatsView = Type.Object({
  evaluations: Type.Integer({ description: 'Profile evaluations done by the streaming evaluator' }),
  changes: Type.Integer({ description: 'Memberships it changed' }),
  rounds: Type.Integer(),
  fromRings: Type.Optional(Type.Integer({ description: 'Profiles the rounds decided from the fast path’s event rings (their only change was new events) instead of reading their history' })),
  latencyMs: Type.Object(
    { samples: Type.Integer(), p50: Type.Number(), p95: Type.Number(), p99: Type.Number(), max: Type.Number() },
    { description: 'From the commit of the streamed records (published on the bus) to the membership change' },
  ),
  fastPath: Type.Optional(
    Type.Object(
      {
        events: Type.Integer({ description: 'Streamed event records seen at acknowledgement (sandboxes with fast-path audiences)' }),
        decided: Type.Integer({ description: 'Events decided at acknowledgement' }),
        fallbacks: Type.Integer({ description: 'Events left to the slow path (identity not in the graph yet, a merge, a profile being updated)' }),
        fallbackReasons: Type.Optional(
          Type.Object(
            { identity: Type.Integer(), profileUpdating: Type.Integer(), noProfileRow: Type.Integer() },
            { description: 'Fallbacks by reason: an identity the graph does not hold (or one record spanning profiles), a profile record streaming in, no profile row yet' },
          ),
        ),
        groups: Type.Integer({ description: 'Micro-groups of acknowledged records decided together' }),
        writes: Type.Optional(Type.Integer({ description: 'Membership write rounds (a transaction each unless nothing changed): the decisions of the groups decided while one commits go out together in the next' })),
        evaluations: Type.Integer(),
        changes: Type.Integer(),
        identityCache: Type.Object({ hits: Type.Integer(), misses: Type.Integer() }),
        latencyMs: Type.Object(
          { samples: Type.Integer(), p50: Type.Number(), p95: Type.Number(), p99: Type.Number(), max: Type.Number() },
          { description: 'From the acknowledgement of the event to the commit of the membership row it changed' },
        ),
      },
      { description: 'Streaming evaluation at acknowledgement (the fast path)' },
    ),
  ),
});
