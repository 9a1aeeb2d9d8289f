/**
 * Access routes: API keys (create, list without secrets, revoke), the caller's own identity, and the audit log.
 */
import { Type } from 'typebox';
import type { App } from '../app.ts';
import type { Platform } from '../../platform/platform.ts';
import { ROLES } from '../../access/roles.ts';

const tags = ['access'];
const KeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  sandboxes: Type.Array(Type.String()),
  createdAt: Type.String(),
  createdBy: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});
const NewKey = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: Type.Union(ROLES.map((r) => Type.Literal(r))),
    sandboxes: Type.Optional(Type.Array(Type.String(), { description: 'Sandboxes the key may use; omit or ["*"] for all' })),
  },
  { additionalProperties: false },
);
const AuditQuery = Type.Object(
  {
    sandbox: Type.Optional(Type.String()),
    actor: Type.Optional(Type.String()),
    resourceType: Type.Optional(Type.String()),
    action: Type.Optional(Type.String()),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: Type.String(),
  actor: Type.String(),
  sandbox: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  resourceType: Type.String(),
  resourceId: Type.String(),
  details: Type.Unknown(),
});

export function accessRoutes(app: App, platform: Platform): void {
  const global = { scope: 'global' as const };
  app.post(
    '/api-keys',
    {
      config: { action: 'apikey:manage', ...global },
      schema: { tags, summary: 'Create an API key (the token is shown once)', body: NewKey, response: { 201: Type.Object({ key: KeyView, token: Type.String() }) } },
    },
    async (req, reply) => reply.status(201).send(await platform.apiKeys.create(req.principal, req.body)),
  );
  app.get(
    '/api-keys',
    { config: { action: 'apikey:manage', ...global }, schema: { tags, summary: 'List API keys (no secrets)', response: { 200: Type.Object({ keys: Type.Array(KeyView) }) } } },
    async () => ({ keys: await platform.apiKeys.list() }),
  );
  app.delete(
    '/api-keys/:id',
    {
      config: { action: 'apikey:manage', ...global },
      schema: { tags, summary: 'Revoke an API key', params: Type.Object({ id: Type.String() }), response: { 200: KeyView } },
    },
    async (req) => platform.apiKeys.revoke(req.principal, req.params.id),
  );
  app.get(
    '/whoami',
    {
      config: { action: 'sandbox:read', ...global },
      schema: {
        tags,
        summary: 'The key making the request',
        response: { 200: Type.Object({ id: Type.String(), name: Type.String(), role: Type.String(), sandboxes: Type.Array(Type.String()) }) },
      },
    },
    (req) => req.principal,
  );
  app.get(
    '/audit',
    {
      config: { action: 'audit:read', ...global },
      schema: { tags, summary: 'Who changed what, newest first', querystring: AuditQuery, response: { 200: Type.Object({ entries: Type.Array(AuditEntry) }) } },
    },
    async (req) => ({ entries: await platform.audit.list(req.query) }),
  );
}
