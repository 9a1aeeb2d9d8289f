/**
 * Destination routes: the catalog of destination types, destination accounts (create, list, read, delete) and a
 * connection test. Secrets are accepted on create and never returned (views carry `secretsSet`).
 */
import { Type } from 'typebox';
import type { Platform } from '../../platform/platform.ts';
import { MAX_DESTINATIONS_PER_SANDBOX } from '../../destinations/catalog.ts';
import { AccountBody, AccountList, AccountView, CatalogView, ConnectionTestView } from '../../destinations/payloads.ts';
import type { App } from '../app.ts';

const tags = ['destinations'];
// Reading the catalog and accounts (no secrets in them) goes with reading audiences; changing them is activation.
const read = { action: 'audience:read' as const };
const write = { action: 'activation:write' as const };
const IdParams = Type.Object({ id: Type.String({ description: 'Destination account id' }) });

export function destinationRoutes(app: App, platform: Platform): void {
  const destinations = platform.destinations;
  app.get('/destinations/catalog', { config: read, schema: { tags, summary: 'Destination types and the settings each needs', response: { 200: CatalogView } } }, () => ({
    destinations: destinations.catalog().map((entry) => ({ ...entry })),
    limits: { destinationsPerSandbox: MAX_DESTINATIONS_PER_SANDBOX },
  }));
  app.get('/destinations/accounts', { config: read, schema: { tags, summary: 'List destination accounts (secrets never included)', response: { 200: AccountList } } }, async (req) => ({
    accounts: await destinations.list(req.sandbox),
  }));
  app.post(
    '/destinations/accounts',
    { config: write, schema: { tags, summary: 'Create a destination account; secrets are stored encrypted', body: AccountBody, response: { 201: AccountView } } },
    async (req, reply) => reply.status(201).send(await destinations.create(req.principal, req.sandbox, req.body)),
  );
  app.get('/destinations/accounts/:id', { config: read, schema: { tags, summary: 'Read a destination account', params: IdParams, response: { 200: AccountView } } }, async (req) =>
    destinations.get(req.sandbox, req.params.id),
  );
  app.delete('/destinations/accounts/:id', { config: write, schema: { tags, summary: 'Delete a destination account', params: IdParams } }, async (req, reply) => {
    await destinations.delete(req.principal, req.sandbox, req.params.id);
    return reply.status(204).send();
  });
  app.post(
    '/destinations/accounts/:id/test',
    { config: write, schema: { tags, summary: 'Test the connection with the stored credentials (writes and removes a probe file for file destinations)', params: IdParams, response: { 200: ConnectionTestView } } },
    async (req) => destinations.test(req.principal, req.sandbox, req.params.id),
  );
}
