/**
 * Identity graph payloads: the one TypeBox source for the identity routes' request and response bodies (and
 * so for the OpenAPI document).
 */
import { Type, type Static } from 'typebox';

export const IdentityRefBody = Type.Object(
  {
    namespace: Type.String({ minLength: 1, description: 'Namespace code, e.g. Email, CRMID, ECID (case-insensitive)' }),
    id: Type.String({ minLength: 1, description: 'The identity value; normalised like ingested values (emails lower-cased, phones E.164)' }),
  },
  { additionalProperties: false },
);
export type IdentityRefT = Static<typeof IdentityRefBody>;

export const IdentityQuery = Type.Object({ namespace: Type.String({ minLength: 1 }), id: Type.String({ minLength: 1 }) });

const Ref = Type.Object({ namespace: Type.String(), id: Type.String() });

export const RefusalView = Type.Object({
  datasetId: Type.String(),
  a: Ref,
  b: Ref,
  reason: Type.String({ description: 'separated (an unlink), unique-namespace or graph-size' }),
  namespace: Type.Union([Type.String(), Type.Null()], { description: 'For unique-namespace: which namespace' }),
  at: Type.Optional(Type.String()),
});

export const GraphView = Type.Object({
  graphId: Type.Integer({ description: 'The smallest node id of the graph; also the profile id under private-graph stitching' }),
  identities: Type.Array(Ref),
  links: Type.Array(Type.Object({ a: Ref, b: Ref, records: Type.Integer(), datasets: Type.Array(Type.String()) })),
  refused: Type.Array(RefusalView),
});

export const UnlinkBody = Type.Object({ a: IdentityRefBody, b: IdentityRefBody }, { additionalProperties: false });

export const UnlinkResult = Type.Object({ unlinkId: Type.String(), graphs: Type.Array(GraphView) });

export const UnlinkView = Type.Object({ id: Type.String(), a: Ref, b: Ref, createdBy: Type.String(), createdAt: Type.String() });

export const GraphSettingsView = Type.Object({
  maxIdentities: Type.Integer(),
  uniqueNamespaces: Type.Array(Type.String()),
  phoneDefaultCountry: Type.Union([Type.String(), Type.Null()]),
});

export const GraphSettingsPatch = Type.Object(
  {
    maxIdentities: Type.Optional(Type.Integer({ minimum: 2, maximum: 10_000 })),
    uniqueNamespaces: Type.Optional(Type.Array(Type.String())),
    phoneDefaultCountry: Type.Optional(Type.Union([Type.String({ pattern: '^[A-Z]{2}$' }), Type.Null()])),
  },
  { additionalProperties: false },
);

export const GraphStatsView = Type.Object({
  identities: Type.Integer(),
  graphs: Type.Integer(),
  largestGraph: Type.Integer(),
  appliedSnapshots: Type.Integer(),
  unlinks: Type.Integer(),
  refusedLinks: Type.Record(Type.String(), Type.Integer()),
  version: Type.Integer(),
  settings: GraphSettingsView,
});
