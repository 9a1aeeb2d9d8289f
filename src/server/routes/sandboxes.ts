/**
 * Sandbox routes: list (only those the key may use), create, reset and delete.
 */
import { Type } from 'typebox';
import { authorize } from '../../access/principal.ts';
import { SandboxBody, SandboxView } from '../../catalog/payloads.ts';
import type { Platform } from '../../platform/platform.ts';
import { mayUseSandbox } from '../../access/principal.ts';
import type { App } from '../app.ts';

const tags = ['sandboxes'];
const NameParams = Type.Object({ name: Type.String() });

export function sandboxRoutes(app: App, platform: Platform): void {
  const global = { scope: 'global' as const };
  app.get(
    '/sandboxes',
    { config: { action: 'sandbox:read', ...global }, schema: { tags, summary: 'List the sandboxes this key may use', response: { 200: Type.Object({ sandboxes: Type.Array(SandboxView) }) } } },
    async (req) => ({ sandboxes: (await platform.sandboxes.list()).filter((s) => mayUseSandbox(req.principal, s.name)) }),
  );
  app.post(
    '/sandboxes',
    { config: { action: 'sandbox:manage', ...global }, schema: { tags, summary: 'Create a sandbox', body: SandboxBody, response: { 201: SandboxView } } },
    async (req, reply) => {
      authorize(req.principal, 'sandbox:manage', req.body.name);
      return reply.status(201).send(await platform.sandboxes.create(req.principal, req.body));
    },
  );
  app.get(
    '/sandboxes/:name',
    { config: { action: 'sandbox:read', ...global }, schema: { tags, summary: 'One sandbox', params: NameParams, response: { 200: SandboxView } } },
    async (req) => {
      authorize(req.principal, 'sandbox:read', req.params.name);
      return platform.sandboxes.get(req.params.name);
    },
  );
  app.post(
    '/sandboxes/:name/reset',
    { config: { action: 'sandbox:manage', ...global }, schema: { tags, summary: 'Empty a sandbox (datasets, schemas, data)', params: NameParams, response: { 200: SandboxView } } },
    async (req) => {
      authorize(req.principal, 'sandbox:manage', req.params.name);
      return platform.sandboxes.reset(req.principal, req.params.name);
    },
  );
  app.delete(
    '/sandboxes/:name',
    { config: { action: 'sandbox:manage', ...global }, schema: { tags, summary: 'Delete a development sandbox', params: NameParams } },
    async (req, reply) => {
      authorize(req.principal, 'sandbox:manage', req.params.name);
      await platform.sandboxes.delete(req.principal, req.params.name);
      return reply.status(204).send();
    },
  );
}
