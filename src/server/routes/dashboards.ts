/**
 * Dashboard routes (reference §9): dashboards and their widgets (dashboard:read to view, run and export,
 * dashboard:write to build), widget data with its ECharts option, exports (CSV, SVG, PNG per widget; PDF per
 * dashboard), global filter choices, and the composer's unsaved preview.
 */
import { Type } from 'typebox';
import {
  DashboardCreate,
  DashboardPatch,
  DashboardSummary,
  DashboardView,
  DataQuery,
  DuplicateBody,
  ExportQuery,
  LayoutBody,
  PreviewBody,
  Widget,
  WidgetBody,
  WidgetData,
} from '../../dashboards/payloads.ts';
import type { ExportFile } from '../../dashboards/service.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const tags = ['dashboards'];
const read = { action: 'dashboard:read' as const };
const write = { action: 'dashboard:write' as const };
const Id = Type.Object({ id: Type.String() });
const WidgetId = Type.Object({ id: Type.String(), widgetId: Type.String() });
const FilterId = Type.Object({ id: Type.String(), filterId: Type.String() });

function send(reply: { header(name: string, value: string): unknown; send(body: unknown): unknown }, file: ExportFile): unknown {
  reply.header('content-type', file.contentType);
  reply.header('content-disposition', `attachment; filename="${file.filename}"`);
  return reply.send(file.body);
}

export function dashboardRoutes(app: App, platform: Platform): void {
  const dashboards = platform.dashboards;

  app.get(
    '/dashboards',
    { config: read, schema: { tags, summary: 'Dashboards of the sandbox, newest first (the standard ones are created on first read)', response: { 200: Type.Object({ dashboards: Type.Array(DashboardSummary) }) } } },
    async (req) => ({
      dashboards: (await dashboards.list(req.principal, req.sandbox)).map((d) => ({ id: d.id, name: d.name, mode: d.mode, widgetCount: d.widgets.length, standard: d.standard, created: d.created, updated: d.updated })),
    }),
  );
  app.post(
    '/dashboards',
    { config: write, schema: { tags, summary: 'Create a dashboard (guided or query-pro, fixed once chosen), optionally with widgets', body: DashboardCreate, response: { 201: DashboardView } } },
    async (req, reply) => reply.code(201).send(await dashboards.create(req.principal, req.sandbox, req.body)),
  );
  app.get('/dashboards/:id', { config: read, schema: { tags, summary: 'A dashboard with its widgets, layout and filters', params: Id, response: { 200: DashboardView } } }, async (req) =>
    dashboards.get(req.principal, req.sandbox, req.params.id),
  );
  app.patch(
    '/dashboards/:id',
    { config: write, schema: { tags, summary: 'Rename, describe, set the default date range or the global filters', params: Id, body: DashboardPatch, response: { 200: DashboardView } } },
    async (req) => dashboards.update(req.principal, req.sandbox, req.params.id, req.body),
  );
  app.delete('/dashboards/:id', { config: write, schema: { tags, summary: 'Delete a dashboard and its widgets', params: Id } }, async (req, reply) => {
    await dashboards.delete(req.principal, req.sandbox, req.params.id);
    return reply.code(204).send();
  });
  app.post(
    '/dashboards/:id/duplicate',
    { config: write, schema: { tags, summary: 'Copy a dashboard with its widgets', params: Id, body: DuplicateBody, response: { 201: DashboardView } } },
    async (req, reply) => reply.code(201).send(await dashboards.duplicate(req.principal, req.sandbox, req.params.id, req.body.name)),
  );
  app.put(
    '/dashboards/:id/layout',
    { config: write, schema: { tags, summary: 'Move and resize widgets (12-column grid; overlaps and positions off the grid are refused)', params: Id, body: LayoutBody, response: { 200: DashboardView } } },
    async (req) => dashboards.setLayout(req.principal, req.sandbox, req.params.id, req.body.widgets),
  );
  app.get(
    '/dashboards/:id/export',
    { config: read, schema: { tags, summary: 'The dashboard as a one-page PDF (application/pdf)', params: Id, querystring: DataQuery } },
    async (req, reply) => send(reply, await dashboards.exportPdf(req.principal, req.sandbox, req.params.id, req.query)),
  );
  app.get(
    '/dashboards/:id/filters/:filterId/values',
    { config: read, schema: { tags, summary: "A global filter's choices (its query's id and value columns)", params: FilterId, response: { 200: Type.Object({ values: Type.Array(Type.Object({ id: Type.Unknown(), value: Type.Unknown() })) }) } } },
    async (req) => ({ values: await dashboards.filterOptions(req.principal, req.sandbox, req.params.id, req.params.filterId) }),
  );

  app.post(
    '/dashboards/:id/widgets',
    { config: write, schema: { tags, summary: 'Add a widget (at most 10 per dashboard; placed at the first free spot without a layout)', params: Id, body: WidgetBody, response: { 201: Widget } } },
    async (req, reply) => reply.code(201).send(await dashboards.addWidget(req.principal, req.sandbox, req.params.id, req.body)),
  );
  app.get('/dashboards/:id/widgets/:widgetId', { config: read, schema: { tags, summary: 'One widget definition', params: WidgetId, response: { 200: Widget } } }, async (req) =>
    dashboards.getWidget(req.principal, req.sandbox, req.params.id, req.params.widgetId),
  );
  app.put(
    '/dashboards/:id/widgets/:widgetId',
    { config: write, schema: { tags, summary: 'Replace a widget definition (keeps its position unless a layout is given)', params: WidgetId, body: WidgetBody, response: { 200: Widget } } },
    async (req) => dashboards.replaceWidget(req.principal, req.sandbox, req.params.id, req.params.widgetId, req.body),
  );
  app.delete('/dashboards/:id/widgets/:widgetId', { config: write, schema: { tags, summary: 'Delete a widget', params: WidgetId } }, async (req, reply) => {
    await dashboards.deleteWidget(req.principal, req.sandbox, req.params.id, req.params.widgetId);
    return reply.code(204).send();
  });
  app.post(
    '/dashboards/:id/widgets/:widgetId/duplicate',
    { config: write, schema: { tags, summary: 'Copy a widget to the first free spot', params: WidgetId, response: { 201: Widget } } },
    async (req, reply) => reply.code(201).send(await dashboards.duplicateWidget(req.principal, req.sandbox, req.params.id, req.params.widgetId)),
  );
  app.get(
    '/dashboards/:id/widgets/:widgetId/data',
    {
      config: read,
      schema: { tags, summary: "Run a widget: its rows, the SQL that ran and an ECharts option; start/end and filters override the dashboard's", params: WidgetId, querystring: DataQuery, response: { 200: WidgetData } },
    },
    async (req) => dashboards.widgetData(req.principal, req.sandbox, req.params.id, req.params.widgetId, req.query),
  );
  app.get(
    '/dashboards/:id/widgets/:widgetId/export',
    { config: read, schema: { tags, summary: 'Export a widget: format=csv (text/csv), svg (image/svg+xml) or png (image/png), rendered server-side', params: WidgetId, querystring: ExportQuery } },
    async (req, reply) => send(reply, await dashboards.exportWidget(req.principal, req.sandbox, req.params.id, req.params.widgetId, req.query)),
  );
  app.post(
    '/dashboards/preview',
    { config: write, schema: { tags, summary: 'Run a widget definition without saving it (the composer preview)', body: PreviewBody, response: { 200: WidgetData } } },
    async (req) => dashboards.preview(req.principal, req.sandbox, req.body),
  );
}
