/**
 * Destination request and response bodies (TypeBox): validated by the routes, shown in OpenAPI, typed in the
 * service. Secrets go in and never come out: views list the names of the secret fields that are set.
 */
import { Type, type Static } from 'typebox';

// Spelled out (not mapped from DESTINATION_TYPES) so `Static` gives the literal union; the test keeps the two equal.
const DestinationTypeSchema = Type.Union([Type.Literal('local-folder'), Type.Literal('sftp'), Type.Literal('eloqua'), Type.Literal('webhook'), Type.Literal('smtp')], { description: 'A type of GET /destinations/catalog' });
const ParamValue = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

export const AccountBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    description: Type.Optional(Type.String({ maxLength: 4000 })),
    type: DestinationTypeSchema,
    params: Type.Record(Type.String(), ParamValue, { description: "Non-secret settings of the type (catalog: `params`)" }),
    secrets: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Secret settings (catalog: `secrets`); stored encrypted, never returned' })),
    pgpPublicKey: Type.Optional(Type.String({ maxLength: 65536, description: 'File destinations: armored OpenPGP public key; files are encrypted with it' })),
    marketingActions: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 50, description: 'Marketing actions of the destination (data usage governance)' })),
  },
  { additionalProperties: false },
);
export type AccountInput = Static<typeof AccountBody>;

export const AccountView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.Optional(Type.String()),
  type: DestinationTypeSchema,
  params: Type.Record(Type.String(), ParamValue),
  secretsSet: Type.Array(Type.String(), { description: 'Names of the secret fields that hold a value (the values are never returned)' }),
  pgpEncryption: Type.Boolean({ description: 'True when files are encrypted with an OpenPGP public key' }),
  pgpKeyFingerprint: Type.Optional(Type.String()),
  marketingActions: Type.Array(Type.String()),
  createdBy: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type AccountViewT = Static<typeof AccountView>;

export const AccountList = Type.Object({ accounts: Type.Array(AccountView) });

export const CatalogView = Type.Object({
  destinations: Type.Array(
    Type.Object({
      type: DestinationTypeSchema,
      title: Type.String(),
      description: Type.String(),
      kind: Type.Union([Type.Literal('file'), Type.Literal('api'), Type.Literal('email')]),
      implemented: Type.Boolean(),
      params: Type.Unknown({ description: 'JSON Schema of `params`' }),
      secrets: Type.Unknown({ description: 'JSON Schema of `secrets`' }),
      fileEncryption: Type.Boolean(),
      mappings: Type.Optional(Type.Unknown()),
      limits: Type.Optional(Type.Record(Type.String(), Type.Number())),
    }),
  ),
  limits: Type.Object({ destinationsPerSandbox: Type.Integer() }),
});

export const ConnectionTestView = Type.Object({
  ok: Type.Boolean(),
  code: Type.Optional(Type.String()),
  message: Type.String(),
  durationMs: Type.Number(),
});
