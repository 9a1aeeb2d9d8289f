/**
 * Query template routes (reference §6.3): create, list (orderby, limit, start, property filters), read, overwrite
 * (PUT needs sql and name), delete, and run with parameter values. Changes answer 202 as in the reference.
 */
import { Type } from 'typebox';
import type { Platform } from '../../platform/platform.ts';
import { ListQuery, nextLink } from '../../query/templates/listing.ts';
import { Accepted, TemplateBody, TemplateList, TemplateRunBody, TemplateView } from '../../query/templates/payloads.ts';
import type { App } from '../app.ts';

const tags = ['query-templates'];
const read = { action: 'query:read' as const };
const write = { action: 'query:write' as const };
const IdParams = Type.Object({ id: Type.String({ description: 'Template id' }) });

export function queryTemplateRoutes(app: App, platform: Platform): void {
  const templates = platform.queryTemplates;
  app.get(
    '/query-templates',
    { config: read, schema: { tags, summary: 'List query templates', querystring: ListQuery, response: { 200: TemplateList } } },
    async (req) => {
      const page = await templates.list(req.sandbox, req.query);
      return { templates: page.items.map((t) => templates.view(t)), _page: page.page, _links: nextLink('/query-templates', req.query, page.page) };
    },
  );
  app.post(
    '/query-templates',
    { config: write, schema: { tags, summary: 'Create a query template', body: TemplateBody, response: { 202: TemplateView } } },
    async (req, reply) => reply.status(202).send(templates.view(await templates.create(req.principal, req.sandbox, req.body))),
  );
  app.get('/query-templates/:id', { config: read, schema: { tags, params: IdParams, response: { 200: TemplateView } } }, async (req) =>
    templates.view(await templates.get(req.sandbox, req.params.id)),
  );
  app.put(
    '/query-templates/:id',
    { config: write, schema: { tags, summary: 'Overwrite a query template (sql and name required)', params: IdParams, body: TemplateBody, response: { 202: TemplateView } } },
    async (req, reply) => reply.status(202).send(templates.view(await templates.update(req.principal, req.sandbox, req.params.id, req.body))),
  );
  app.delete(
    '/query-templates/:id',
    { config: write, schema: { tags, summary: 'Delete a query template (refused while a schedule runs it)', params: IdParams, response: { 202: Accepted } } },
    async (req, reply) => {
      await templates.delete(req.principal, req.sandbox, req.params.id);
      return reply.status(202).send({ message: 'Deleted', statusCode: 202 });
    },
  );
  app.post(
    '/query-templates/:id/run',
    {
      // Reading is enough to run; the query service itself refuses writes (CTAS, INSERT) to roles without query:write.
      config: read,
      schema: { tags, summary: 'Run a template with parameter values', params: IdParams, body: TemplateRunBody },
    },
    async (req) => templates.run(req.principal, req.sandbox, req.params.id, req.body),
  );
}
