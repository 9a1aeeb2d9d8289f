/**
 * Profile payloads: merge policies, profile lookups and events, snapshot tables and privacy jobs — the one
 * TypeBox source for the profile routes' bodies and the OpenAPI document.
 */
import { Type, type Static } from 'typebox';

const Method = Type.Union([Type.Literal('timestamp-ordered'), Type.Literal('dataset-precedence')]);
const Stitching = Type.Union([Type.Literal('private-graph'), Type.Literal('none')]);
const ClassId = Type.Union([Type.Literal('profile'), Type.Literal('experienceevent')]);
const Name = Type.String({ minLength: 1, maxLength: 100 });

export const MergePolicyBody = Type.Object(
  {
    name: Name,
    class: Type.Optional(ClassId),
    method: Type.Optional(Method),
    datasetOrder: Type.Optional(Type.Array(Type.String(), { description: 'Dataset precedence: profile-enabled datasets (id or name), highest first' })),
    idStitching: Type.Optional(Stitching),
    isDefault: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type MergePolicyInput = Static<typeof MergePolicyBody>;

export const MergePolicyPatch = Type.Object(
  {
    name: Type.Optional(Name),
    method: Type.Optional(Method),
    datasetOrder: Type.Optional(Type.Array(Type.String())),
    idStitching: Type.Optional(Stitching),
    isDefault: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type MergePolicyPatchT = Static<typeof MergePolicyPatch>;

export const MergePolicyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  classId: Type.String(),
  method: Type.String(),
  datasetOrder: Type.Array(Type.String()),
  idStitching: Type.String(),
  isDefault: Type.Boolean(),
  snapshotTable: Type.String(),
  createdBy: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const Ref = Type.Object({ namespace: Type.String(), id: Type.String() });
const Json = Type.Record(Type.String(), Type.Unknown());

export const EventView = Type.Object({ datasetId: Type.String(), ingestedAt: Type.String(), record: Json });
export const EventPage = Type.Object({
  profileId: Type.Integer(),
  events: Type.Array(EventView),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `before` for the next (older) page' }),
});

export const ProfileQuery = Type.Object({
  namespace: Type.String({ minLength: 1 }),
  id: Type.String({ minLength: 1 }),
  mergePolicyId: Type.Optional(Type.String()),
  events: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'How many of the most recent events to embed (default 0; GET /profiles/events pages through all of them)' })),
});

export const ProfileView = Type.Object({
  profileId: Type.Integer(),
  mergePolicyId: Type.String(),
  identities: Type.Array(Ref),
  attributes: Json,
  identityMap: Type.Record(Type.String(), Type.Array(Type.Object({ id: Type.String() }))),
  segmentMembership: Json,
  refreshedAt: Type.String(),
  events: EventPage,
});

export const EventsQuery = Type.Object({
  namespace: Type.String({ minLength: 1 }),
  id: Type.String({ minLength: 1 }),
  mergePolicyId: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  before: Type.Optional(Type.String({ description: 'The `next` cursor of the previous page' })),
});

export const SnapshotRefreshBody = Type.Object({ mergePolicyId: Type.Optional(Type.String()) }, { additionalProperties: false });
export const SnapshotInfo = Type.Object({
  mergePolicyId: Type.String(),
  table: Type.String(),
  rows: Type.Integer(),
  refreshedAt: Type.Union([Type.String(), Type.Null()]),
});

export const PrivacyDeleteBody = Type.Object(
  {
    namespace: Type.String({ minLength: 1 }),
    id: Type.String({ minLength: 1 }),
    compact: Type.Optional(Type.Boolean({ description: 'Also rewrite the sandbox database so the freed pages are gone (default false)' })),
  },
  { additionalProperties: false },
);
export type PrivacyDeleteInput = Static<typeof PrivacyDeleteBody>;

export const PrivacyJobView = Type.Object({
  id: Type.String(),
  status: Type.String({ description: 'completed or failed' }),
  namespace: Type.String(),
  requestedBy: Type.String(),
  requestedAt: Type.String(),
  completedAt: Type.Union([Type.String(), Type.Null()]),
  removed: Type.Record(Type.String(), Type.Unknown(), { description: 'What was erased: records per dataset, identities, links, profiles, failed records, …' }),
  notes: Type.Array(Type.String()),
  error: Type.Union([Type.String(), Type.Null()]),
});

export const CompactionView = Type.Object({ sandbox: Type.String(), bytesBefore: Type.Integer(), bytesAfter: Type.Integer(), stagingFilesRemoved: Type.Integer() });
