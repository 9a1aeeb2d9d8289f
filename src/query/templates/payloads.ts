/**
 * Query template payloads (reference §6.3): the one TypeBox source for the HTTP bodies and views, the OpenAPI
 * document and the service's input types.
 */
import { Type, type Static } from 'typebox';
import { PageView } from './listing.ts';

export const QueryParameters = Type.Record(Type.String({ pattern: '^\\$?[A-Za-z_][A-Za-z0-9_]*$' }), Type.String(), {
  description: 'Values of `$NAME` placeholders, keyed `$NAME` or `NAME`',
});

export const TemplateBody = Type.Object(
  {
    sql: Type.String({ minLength: 1, maxLength: 1_000_000 }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    queryParameters: Type.Optional(QueryParameters),
    dbName: Type.Optional(Type.String({ description: 'Accepted for compatibility and ignored: the sandbox is the database' })),
  },
  { additionalProperties: false },
);
export type TemplateInput = Static<typeof TemplateBody>;

const Link = Type.Object({ href: Type.String(), method: Type.Optional(Type.String()) });

export const TemplateView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  sql: Type.String(),
  queryParameters: Type.Record(Type.String(), Type.String(), { description: 'Default values as stored' }),
  parameters: Type.Array(Type.String(), { description: 'Placeholders the SQL uses (without $)' }),
  userId: Type.String({ description: 'Key that created it' }),
  lastUpdatedBy: Type.String(),
  created: Type.String({ format: 'date-time' }),
  updated: Type.String({ format: 'date-time' }),
  _links: Type.Record(Type.String(), Link),
});
export type TemplateViewT = Static<typeof TemplateView>;

export const TemplateList = Type.Object({
  templates: Type.Array(TemplateView),
  _page: PageView,
  _links: Type.Object({ next: Type.Optional(Link) }),
});

export const TemplateRunBody = Type.Object(
  {
    queryParameters: Type.Optional(QueryParameters),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Rows to return (as POST /queries)' })),
  },
  { additionalProperties: false },
);
export type TemplateRunInput = Static<typeof TemplateRunBody>;

export const Accepted = Type.Object({ message: Type.String(), statusCode: Type.Integer() });
