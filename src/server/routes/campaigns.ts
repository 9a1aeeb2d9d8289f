/**
 * Campaign routes: define, send and analyse campaigns (`/campaigns…`), and bring in response events from an ESP
 * (`/campaigns/responses/…`). Writes need `activation:write` (campaigns are activation), reads `audience:read`;
 * the post-campaign widgets are `dashboard:read`, ESP connections and imports `dataset:write`. The public
 * tracking routes (pixel, clicks, unsubscribe) are in `tracking.ts`.
 */
import { Type } from 'typebox';
import { CAMPAIGN_WIDGETS } from '../../campaigns/analysis.ts';
import { espEventsFromCsv } from '../../campaigns/imports.ts';
import { CampaignInput, CampaignView, EspConnectionView, ImportBody, ImportResult, RefreshResult, SendAccepted, SendResult, UpliftView } from '../../campaigns/payloads.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const tags = ['campaigns'];
const write = { action: 'activation:write' as const };
const read = { action: 'audience:read' as const };
const IdParams = Type.Object({ id: Type.String() });
const Json = Type.Record(Type.String(), Type.Unknown());
const WidgetDefinitionView = Type.Object({ id: Type.String(), title: Type.String(), mark: Type.String(), roles: Type.Record(Type.String(), Type.String()), sql: Type.String() });

export function campaignRoutes(app: App, platform: Platform): void {
  const { service, analysis, imports } = platform.campaigns;
  app.post('/campaigns', { config: write, schema: { tags, summary: 'Create a campaign (audience, SMTP destination, template, send time, holdout)', body: CampaignInput, response: { 201: CampaignView } } }, async (req, reply) =>
    reply.status(201).send(service.view(await service.create(req.principal, req.sandbox, req.body))),
  );
  app.get('/campaigns', { config: read, schema: { tags, summary: 'List campaigns, newest first', response: { 200: Type.Object({ campaigns: Type.Array(CampaignView) }) } } }, async (req) => ({
    campaigns: (await service.list(req.sandbox)).map((c) => service.view(c)),
  }));
  app.get('/campaigns/:id', { config: read, schema: { tags, params: IdParams, response: { 200: CampaignView } } }, async (req) => service.view(await service.get(req.sandbox, req.params.id)));
  app.put(
    '/campaigns/:id',
    { config: write, schema: { tags, summary: 'Replace a campaign that was not sent (a missing SMTP password keeps the stored one)', params: IdParams, querystring: Type.Object({ version: Type.Optional(Type.Integer()) }), body: CampaignInput, response: { 200: CampaignView } } },
    async (req) => service.view(await service.update(req.principal, req.sandbox, req.params.id, req.body, req.query.version)),
  );
  app.delete('/campaigns/:id', { config: write, schema: { tags, params: IdParams } }, async (req, reply) => {
    await service.delete(req.principal, req.sandbox, req.params.id);
    return reply.status(204).send();
  });
  app.post(
    '/campaigns/:id/send',
    {
      config: write,
      schema: {
        tags,
        summary: 'Send now (or resume a stopped send) in the background: 202 with the send id; GET /campaigns/{id} shows the progress. `?wait=true` answers when the send ends (200, its totals)',
        params: IdParams,
        querystring: Type.Object({ wait: Type.Optional(Type.Boolean()) }),
        response: { 200: SendResult, 202: SendAccepted },
      },
    },
    async (req, reply) => {
      if (req.query.wait) return reply.status(200).send(await service.send(req.principal, req.sandbox, req.params.id));
      return reply.status(202).send(await service.start(req.principal, req.sandbox, req.params.id));
    },
  );
  app.get(
    '/campaigns/:id/uplift',
    {
      config: read,
      schema: {
        tags,
        summary: 'Conversion and revenue per eligible member, treated vs holdout, with 95% intervals; change in predicted CLV',
        params: IdParams,
        querystring: Type.Object({ windowDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 })), ordersDataset: Type.Optional(Type.String()) }),
        response: { 200: UpliftView },
      },
    },
    async (req) => analysis.uplift(req.principal, req.sandbox, req.params.id, req.query),
  );
  app.post(
    '/campaigns/facts/refresh',
    { config: write, schema: { tags, summary: 'Refresh the CampaignInsights store (qsaccel.campaign_agg) incrementally, in one transaction (new responses, sends and orders)', body: Type.Object({ ordersDataset: Type.Optional(Type.String()) }, { additionalProperties: false }), response: { 200: RefreshResult } } },
    async (req) => analysis.refresh(req.principal, req.sandbox, req.body),
  );
  app.get('/campaigns/widgets', { config: { action: 'dashboard:read' }, schema: { tags, summary: 'The post-campaign widgets and their SQL', response: { 200: Type.Object({ widgets: Type.Array(WidgetDefinitionView) }) } } }, () => ({
    widgets: CAMPAIGN_WIDGETS.map((w) => ({ ...w })),
  }));
  app.get(
    '/campaigns/widgets/:id',
    {
      config: { action: 'dashboard:read' },
      schema: {
        tags,
        summary: 'Run a post-campaign widget (an accelerated query over qsaccel.campaign_agg)',
        params: IdParams,
        querystring: Type.Object({ startDate: Type.Optional(Type.String()), endDate: Type.Optional(Type.String()), campaignId: Type.Optional(Type.String()) }),
        response: { 200: Type.Object({ id: Type.String(), title: Type.String(), rows: Type.Array(Json) }) },
      },
    },
    async (req) => analysis.widget(req.principal, req.sandbox, req.params.id, req.query),
  );
  app.post(
    '/campaigns/responses/esp-connection',
    { config: { action: 'dataset:write' }, schema: { tags, summary: 'A streaming connection for an ESP into the email-tracking dataset', body: Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: false }), response: { 201: EspConnectionView } } },
    async (req, reply) => reply.status(201).send(await imports.espConnection(req.principal, req.sandbox, req.body.name)),
  );
  app.post(
    '/campaigns/responses/import',
    { config: { action: 'dataset:write' }, schema: { tags, summary: 'Load an ESP export (JSON events) through batch ingestion', body: ImportBody, response: { 200: ImportResult } } },
    async (req) => imports.importEvents(req.principal, req.sandbox, req.body.events),
  );
  app.post(
    '/campaigns/responses/import-csv',
    { config: { action: 'dataset:write' }, schema: { tags, summary: 'Load an ESP export (CSV with a header row) through batch ingestion', body: Type.Object({ csv: Type.String({ minLength: 1 }) }, { additionalProperties: false }), response: { 200: ImportResult } } },
    async (req) => imports.importEvents(req.principal, req.sandbox, espEventsFromCsv(req.body.csv)),
  );
}
