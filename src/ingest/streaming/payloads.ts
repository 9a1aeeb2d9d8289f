/**
 * Streaming payloads: the one TypeBox source for the bodies of streaming connections, the collection
 * envelope (`reference/adobe-reference.md` §3.3), its responses, and the Segment endpoints. Routes validate
 * with them, the OpenAPI document shows them, services take their `Static` types.
 */
import { Type, type Static } from 'typebox';

const Namespace = Type.String({ minLength: 1, maxLength: 64, description: 'An identity namespace code of the sandbox' });

export const ConnectionBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    kind: Type.Optional(Type.Union([Type.Literal('xdm'), Type.Literal('segment')], { description: 'xdm (collection envelope, default) or segment (tracking spec)' })),
    dataset: Type.String({ minLength: 1, description: 'Dataset id or name receiving the messages (events for Segment)' }),
    profileDataset: Type.Optional(Type.String({ minLength: 1, description: 'Profile dataset (Segment identify; xdm profile records)' })),
    identities: Type.Optional(
      Type.Object(
        {
          userId: Type.Optional(Namespace),
          anonymousId: Type.Optional(Namespace),
        },
        { additionalProperties: false, description: 'Segment only: namespaces of userId (default CRMID) and anonymousId (default ECID)' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ConnectionInput = Static<typeof ConnectionBody>;

export const IdentityNamespaces = Type.Object({ userId: Type.String(), anonymousId: Type.String() });
export type IdentityNamespacesT = Static<typeof IdentityNamespaces>;

export const ConnectionView = Type.Object({
  id: Type.String(),
  sandbox: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  datasets: Type.Object({ event: Type.Optional(Type.String()), profile: Type.Optional(Type.String()) }),
  identities: Type.Optional(IdentityNamespaces),
  /** Where to send messages, relative to the server. */
  endpoint: Type.String(),
  createdAt: Type.String(),
  createdBy: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});
export type ConnectionViewT = Static<typeof ConnectionView>;

export const CreatedConnection = Type.Object({
  connection: ConnectionView,
  secret: Type.String({ description: 'Shown once: send as `Authorization: Bearer <secret>`, or as the Segment write key' }),
});

const Issue = Type.Object({ path: Type.String(), code: Type.String(), message: Type.String() });

/** One message of the collection envelope. Only the shape the router needs is checked here; the record is checked against its dataset's schema. */
export const CollectionMessage = Type.Object({
  header: Type.Optional(
    Type.Object({
      schemaRef: Type.Optional(Type.Object({ id: Type.Optional(Type.String()), contentType: Type.Optional(Type.String()) })),
      datasetId: Type.Optional(Type.String()),
      imsOrgId: Type.Optional(Type.String()),
      source: Type.Optional(Type.Object({ name: Type.Optional(Type.String()) })),
    }),
  ),
  body: Type.Object({
    xdmMeta: Type.Optional(Type.Unknown()),
    xdmEntity: Type.Record(Type.String(), Type.Unknown(), { description: 'The XDM record' }),
  }),
});
export type CollectionMessageT = Static<typeof CollectionMessage>;

export const CollectionBatchBody = Type.Object({ messages: Type.Array(Type.Unknown(), { minItems: 1, description: 'Collection messages ({header, body})' }) });

export const CollectionQuery = Type.Object({
  synchronousValidation: Type.Optional(Type.Boolean({ description: 'Refuse invalid records with their issues instead of keeping them as failed records' })),
});

export const MessageResult = Type.Object({
  xactionId: Type.String(),
  /** 200 stored, 202 kept as a failed record, 400/413 refused (not stored). */
  status: Type.Integer(),
  issues: Type.Optional(Type.Array(Issue)),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
});
export type MessageResultT = Static<typeof MessageResult>;

export const CollectionResponse = Type.Object({
  inletId: Type.String(),
  xactionId: Type.String(),
  receivedTimeMs: Type.Integer(),
  synchronousValidation: Type.Optional(Type.Object({ status: Type.String() })),
  /** Present when the record was kept as a failed record instead of stored. */
  issues: Type.Optional(Type.Array(Issue)),
});

export const CollectionBatchResponse = Type.Object({
  inletId: Type.String(),
  xactionId: Type.String(),
  receivedTimeMs: Type.Integer(),
  synchronousValidation: Type.Optional(Type.Object({ status: Type.String() })),
  responses: Type.Array(MessageResult),
});

export const StreamingStats = Type.Object({
  queuedBytes: Type.Integer(),
  queuedRecords: Type.Integer(),
  acceptedRecords: Type.Integer({ description: 'Since the server started' }),
  appliedRecords: Type.Integer({ description: 'Written to datasets since the server started' }),
  duplicateRecords: Type.Integer(),
  failedRecords: Type.Integer(),
  overloadedRequests: Type.Integer(),
  duplicateChecks: Type.Object(
    {
      fromMemory: Type.Integer({ description: 'Answered from the ids held in memory' }),
      fromTable: Type.Integer({ description: 'Answered by a semi-join over the table (tables with more ids than ROUNDTRIP_STREAM_DEDUP_IDS)' }),
      loads: Type.Integer({ description: 'Times the ids of a table were (re)loaded: once per dataset, again after another writer wrote' }),
    },
    { description: 'How duplicate _ids were looked up, per dataset and apply, since the server started' },
  ),
  sandboxes: Type.Array(
    Type.Object({
      sandbox: Type.String(),
      headLsn: Type.Integer({ description: 'Log sequence number the next request gets' }),
      appliedLsn: Type.Integer({ description: 'Everything up to here is in the datasets' }),
      pendingEntries: Type.Integer(),
      syncs: Type.Integer({ description: 'Log write + fsync rounds since start (group commits)' }),
    }),
  ),
});
export type StreamingStatsT = Static<typeof StreamingStats>;

export const SegmentSetupBody = Type.Object(
  { name: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9 _-]{0,40}$', description: 'Prefix of the schemas and datasets, e.g. "Web"' }) },
  { additionalProperties: false },
);
export const SegmentSetupResult = Type.Object({
  eventSchemaId: Type.String(),
  profileSchemaId: Type.String(),
  eventDataset: Type.String({ description: 'Dataset id' }),
  profileDataset: Type.String({ description: 'Dataset id' }),
});
export type SegmentSetupResultT = Static<typeof SegmentSetupResult>;
