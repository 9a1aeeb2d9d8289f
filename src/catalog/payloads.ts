/**
 * Catalog payloads: the one TypeBox source for request and response bodies of sandboxes, the schema registry
 * and datasets. The HTTP routes validate with them, the OpenAPI document is generated from them, and the
 * services take their `Static` types. Field trees are recursive and checked by `xdm/fields.ts` for exact paths.
 */
import { Type, type Static } from 'typebox';
import { NAMESPACE_TYPES } from './xdm/standard.ts';

const Id = Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$' });
const Timestamp = Type.String({ format: 'date-time' });
const FieldTree = Type.Record(Type.String(), Type.Unknown(), { description: 'XDM field definitions (a JSON Schema subset), by field name' });
const ClassId = Type.Union([Type.Literal('profile'), Type.Literal('experienceevent'), Type.Literal('adhoc')]);

export const SandboxBody = Type.Object(
  {
    name: Type.String({ description: '1-32 of a-z, 0-9 and -, starting with a letter' }),
    title: Type.Optional(Type.String({ maxLength: 200 })),
    type: Type.Optional(Type.Union([Type.Literal('production'), Type.Literal('development')])),
  },
  { additionalProperties: false },
);
export const SandboxView = Type.Object({ name: Type.String(), title: Type.String(), type: Type.String(), createdAt: Timestamp });

export const NamespaceBody = Type.Object(
  {
    code: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.]{1,63}$', description: 'The identity symbol; never changes once created' }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    idType: Type.Union(NAMESPACE_TYPES.map((t) => Type.Literal(t))),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
export type NamespaceInput = Static<typeof NamespaceBody>;
export const NamespacePatch = Type.Object(
  {
    code: Type.Optional(Type.String()),
    idType: Type.Optional(Type.String()),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
export type NamespaceChanges = Static<typeof NamespacePatch>;
export const NamespaceView = Type.Object({ code: Type.String(), name: Type.String(), idType: Type.String(), description: Type.String(), standard: Type.Boolean() });
export type NamespaceViewT = Static<typeof NamespaceView>;

export const FieldGroupBody = Type.Object(
  {
    id: Type.Optional(Id),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    class: Type.Union([ClassId, Type.Literal('any')]),
    fields: FieldTree,
  },
  { additionalProperties: false },
);
export type FieldGroupInput = Static<typeof FieldGroupBody>;
export const FieldGroupView = Type.Object({
  id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  class: Type.String(),
  standard: Type.Boolean(),
  fields: FieldTree,
});
export type FieldGroupViewT = Static<typeof FieldGroupView>;

export const DataTypeBody = Type.Object(
  {
    id: Type.Optional(Id),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    definition: Type.Record(Type.String(), Type.Unknown(), { description: 'One XDM field definition' }),
  },
  { additionalProperties: false },
);
export type DataTypeInput = Static<typeof DataTypeBody>;
export const DataTypeView = Type.Object({
  id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  standard: Type.Boolean(),
  definition: Type.Record(Type.String(), Type.Unknown()),
});
export type DataTypeViewT = Static<typeof DataTypeView>;

export const IdentityDescriptorBody = Type.Object(
  { path: Type.String({ minLength: 1 }), namespace: Type.String({ minLength: 1 }), primary: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

export const SchemaBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    class: ClassId,
    fieldGroups: Type.Optional(Type.Array(Type.String())),
    fields: Type.Optional(FieldTree),
    required: Type.Optional(Type.Array(Type.String())),
    identities: Type.Optional(Type.Array(IdentityDescriptorBody)),
  },
  { additionalProperties: false },
);
export type SchemaInput = Static<typeof SchemaBody>;
export const SchemaView = Type.Object({
  id: Type.String(),
  version: Type.Integer(),
  title: Type.String(),
  description: Type.String(),
  class: Type.String(),
  fieldGroups: Type.Array(Type.String()),
  identities: Type.Array(Type.Object({ path: Type.String(), namespace: Type.String(), primary: Type.Optional(Type.Boolean()) })),
  definition: Type.Record(Type.String(), Type.Unknown()),
  resolved: Type.Record(Type.String(), Type.Unknown(), { description: 'The composed JSON Schema' }),
  createdAt: Timestamp,
});
export type SchemaViewT = Static<typeof SchemaView>;

export const DatasetBody = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_ -]{0,62}$', description: 'Also names the SQL table (lower-cased, spaces → _)' }),
    schemaId: Type.String(),
    profileEnabled: Type.Optional(Type.Boolean()),
    identityEnabled: Type.Optional(Type.Boolean()),
    upsert: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type DatasetInput = Static<typeof DatasetBody>;
export const DatasetView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  tableName: Type.String(),
  schemaId: Type.String(),
  schemaVersion: Type.Integer(),
  profileEnabled: Type.Boolean(),
  identityEnabled: Type.Boolean(),
  upsert: Type.Boolean(),
  createdAt: Timestamp,
  lastSnapshotId: Type.Integer(),
});

export const RecordsBody = Type.Object(
  {
    records: Type.Array(Type.Record(Type.String(), Type.Unknown()), { minItems: 1, maxItems: 10_000 }),
    batchId: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);
export const WriteResult = Type.Object({ datasetId: Type.String(), snapshotId: Type.Integer(), batchId: Type.String(), rowCount: Type.Integer() });
export const SnapshotView = Type.Object({
  snapshotId: Type.Integer(),
  batchId: Type.String(),
  rowCount: Type.Integer(),
  status: Type.String(),
  createdAt: Timestamp,
  committedAt: Type.Union([Timestamp, Type.Null()]),
});
