/**
 * Dashboards (reference §9): user-defined dashboards of at most 10 widgets (configurable) on a 12-column grid,
 * each dashboard one `dashboard` document holding its widgets, layout, date range and global filters, so a
 * layout change is one compare-and-set write. Widgets are guided (compiled to SQL over a data model) or query
 * pro (own SQL); both run as accelerated queries through `platform.insights` and come back with an ECharts
 * option, and export to CSV, SVG, PNG, and a dashboard to PDF. Standard dashboards (the CLV ones, later the
 * post-campaign ones) are created in each sandbox the first time its dashboards are read.
 */
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { DocumentRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { JsonValue } from '../ports/warehouse.ts';
import { buildChart, defaultEncoding, type ChartInput, type EChartsOption } from './chart.ts';
import { compileGuided } from './guided-sql.ts';
import { tabular, type InsightsPort, type TabularData } from './insights-port.ts';
import { DEFAULT_SIZE, place, validateLayout } from './layout.ts';
import type {
  DashboardBody,
  DashboardCreateT,
  DashboardPatchT,
  DashboardViewT,
  DataQueryT,
  DateRangeT,
  ExportQueryT,
  GlobalFilterT,
  LayoutT,
  PreviewBodyT,
  WidgetInput,
  WidgetT,
} from './payloads.ts';
import { applyFilterLinks, chosenValues, substituteDates, usesDates, type FilterValues } from './pro-sql.ts';
import { pdfImageSize, renderPdf, renderSvg, sizeOf, svgToPng, toCsv, type PdfWidget } from './render.ts';
import { CLV_STANDARD_DASHBOARDS, type StandardDashboard } from './standard.ts';

export const DASHBOARD_KIND = 'dashboard';
/** One per standard dashboard provisioned in a sandbox, so a deleted standard dashboard stays deleted. */
const STANDARD_MARK_KIND = 'dashboard-standard';
const DEFAULT_MAX_WIDGETS = 10;
/** Who creates standard dashboards: the platform, not whichever reader happened to list dashboards first. */
const STANDARD_AUTHOR: Principal = { id: 'system:dashboards', name: 'standard dashboards', role: 'admin', sandboxes: ['*'] };
const DEFAULT_RANGE_DAYS = 30;

export interface DashboardDeps {
  metadata: MetadataStore;
  audit: AuditLog;
  clock: Clock;
  insights: InsightsPort;
  /** Widgets per dashboard (the reference's cap is 10). */
  maxWidgets?: number;
}

export function dashboardOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): { maxWidgets?: number } {
  const raw = env.ROUNDTRIP_DASHBOARD_MAX_WIDGETS;
  if (raw === undefined || raw === '') return {};
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new RoundtripError('RT_CONFIG_INVALID', `ROUNDTRIP_DASHBOARD_MAX_WIDGETS must be an integer from 1 to 100, not "${raw}".`);
  return { maxWidgets: n };
}

export interface WidgetDataResult {
  columns: TabularData['columns'];
  rows: TabularData['rows'];
  chart: EChartsOption;
  table?: { columns: string[]; sortable: string[]; sort: { column: string; direction: 'asc' | 'desc' } | null };
  sql: string;
  cached: boolean;
  ms: number;
}

export interface ExportFile {
  contentType: string;
  filename: string;
  body: Buffer | string;
}

interface Runtime {
  range: DateRangeT;
  values: FilterValues;
  sort?: { column: string; direction: 'asc' | 'desc' };
}

type Stored = DocumentRecord<DashboardBody & JsonValue>;

export class Dashboards {
  readonly maxWidgets: number;
  private readonly standards = new Map<string, StandardDashboard>();

  constructor(private readonly deps: DashboardDeps) {
    this.maxWidgets = deps.maxWidgets ?? DEFAULT_MAX_WIDGETS;
    for (const s of CLV_STANDARD_DASHBOARDS) this.addStandardDashboard(s);
  }

  /** Registers a standard dashboard: created once in every sandbox (existing ones when next read). */
  addStandardDashboard(def: StandardDashboard): void {
    this.standards.set(def.key, def);
  }

  // ---- dashboards -------------------------------------------------------------------------------------------

  async list(actor: Principal, sandbox: string): Promise<DashboardViewT[]> {
    await this.ensureStandard(sandbox);
    const docs = await this.deps.metadata.documents.list<DashboardBody & JsonValue>(sandbox, DASHBOARD_KIND);
    return docs.map((d) => this.view(d));
  }

  async get(actor: Principal, sandbox: string, id: string): Promise<DashboardViewT> {
    return this.view(await this.load(sandbox, id));
  }

  async create(actor: Principal, sandbox: string, input: DashboardCreateT, options: { id?: string; standard?: string } = {}): Promise<DashboardViewT> {
    const mode = input.mode ?? 'guided';
    const body: DashboardBody = {
      name: input.name,
      description: input.description ?? '',
      mode,
      dateRange: input.dateRange ?? null,
      filters: checkFilters(input.filters ?? []),
      widgets: [],
      standard: options.standard ?? null,
      createdBy: actor.id,
      updatedBy: actor.id,
    };
    for (const w of input.widgets ?? []) body.widgets.push(await this.newWidget(sandbox, body, w));
    const at = isoNow(this.deps.clock);
    const record = await this.deps.metadata.documents.create<DashboardBody & JsonValue>({
      sandbox,
      kind: DASHBOARD_KIND,
      id: options.id ?? newId('dsh'),
      parentId: null,
      body: body as DashboardBody & JsonValue,
      createdAt: at,
      updatedAt: at,
    });
    await this.audit(actor, sandbox, 'dashboard.create', record.id, { name: body.name, widgets: body.widgets.length });
    return this.view(record);
  }

  async update(actor: Principal, sandbox: string, id: string, patch: DashboardPatchT): Promise<DashboardViewT> {
    return this.change(actor, sandbox, id, 'dashboard.update', (body) => {
      if (patch.name !== undefined) body.name = patch.name;
      if (patch.description !== undefined) body.description = patch.description;
      if (patch.dateRange !== undefined) body.dateRange = patch.dateRange;
      if (patch.filters !== undefined) {
        body.filters = checkFilters(patch.filters);
        for (const w of body.widgets) checkLinks(w, body.filters);
      }
    });
  }

  async delete(actor: Principal, sandbox: string, id: string): Promise<void> {
    await this.load(sandbox, id);
    await this.deps.metadata.documents.delete(sandbox, DASHBOARD_KIND, id);
    await this.audit(actor, sandbox, 'dashboard.delete', id);
  }

  /** A copy with new widget ids, named "<name> (copy)" unless a name is given; never a standard dashboard. */
  async duplicate(actor: Principal, sandbox: string, id: string, name?: string): Promise<DashboardViewT> {
    const source = (await this.load(sandbox, id)).body;
    const copy: DashboardCreateT = {
      name: name ?? `${source.name} (copy)`,
      description: source.description,
      mode: source.mode,
      filters: source.filters,
      ...(source.dateRange ? { dateRange: source.dateRange } : {}),
    };
    const created = await this.create(actor, sandbox, copy);
    return this.change(actor, sandbox, created.id, 'dashboard.duplicate', (body) => {
      body.widgets = source.widgets.map((w) => ({ ...structuredClone(w), id: newId('wgt') }));
    });
  }

  async setLayout(actor: Principal, sandbox: string, id: string, positions: { id: string; layout: LayoutT }[]): Promise<DashboardViewT> {
    return this.change(actor, sandbox, id, 'dashboard.layout', (body) => {
      for (const p of positions) findWidget(body, p.id).layout = p.layout;
      validateLayout(body.widgets);
    });
  }

  // ---- widgets ----------------------------------------------------------------------------------------------

  async addWidget(actor: Principal, sandbox: string, id: string, input: WidgetInput): Promise<WidgetT> {
    const current = await this.load(sandbox, id);
    const widget = await this.newWidget(sandbox, current.body, input);
    await this.change(actor, sandbox, id, 'dashboard.widget.add', (body) => void body.widgets.push(widget), current.version);
    return widget;
  }

  async getWidget(actor: Principal, sandbox: string, id: string, widgetId: string): Promise<WidgetT> {
    return findWidget((await this.load(sandbox, id)).body, widgetId);
  }

  /** Replaces a widget's definition; its id stays, and its position unless a layout is given. */
  async replaceWidget(actor: Principal, sandbox: string, id: string, widgetId: string, input: WidgetInput): Promise<WidgetT> {
    const current = await this.load(sandbox, id);
    const old = findWidget(current.body, widgetId);
    await this.checkWidget(sandbox, current.body, input);
    const widget = toWidget(widgetId, input, input.layout ?? old.layout);
    await this.change(actor, sandbox, id, 'dashboard.widget.update', (body) => {
      body.widgets = body.widgets.map((w) => (w.id === widgetId ? widget : w));
      validateLayout(body.widgets);
    }, current.version);
    return widget;
  }

  async deleteWidget(actor: Principal, sandbox: string, id: string, widgetId: string): Promise<void> {
    await this.change(actor, sandbox, id, 'dashboard.widget.delete', (body) => {
      findWidget(body, widgetId);
      body.widgets = body.widgets.filter((w) => w.id !== widgetId);
    });
  }

  /** A copy of the widget, placed at the first free spot of its size. */
  async duplicateWidget(actor: Principal, sandbox: string, id: string, widgetId: string): Promise<WidgetT> {
    let copy: WidgetT | undefined;
    await this.change(actor, sandbox, id, 'dashboard.widget.duplicate', (body) => {
      const source = findWidget(body, widgetId);
      this.checkCap(body);
      copy = { ...structuredClone(source), id: newId('wgt'), layout: place(body.widgets, source.layout) };
      body.widgets.push(copy);
    });
    return copy!;
  }

  // ---- data -------------------------------------------------------------------------------------------------

  async widgetData(actor: Principal, sandbox: string, id: string, widgetId: string, query: DataQueryT = {}): Promise<WidgetDataResult> {
    const { body } = await this.load(sandbox, id);
    return this.run(actor, sandbox, body, findWidget(body, widgetId), this.runtime(body, query));
  }

  /** Runs a widget that is not saved (the composer's live preview). */
  async preview(actor: Principal, sandbox: string, input: PreviewBodyT): Promise<WidgetDataResult> {
    const filters = checkFilters(input.filters ?? []);
    const body: DashboardBody = {
      name: 'preview',
      description: '',
      mode: input.widget.guided ? 'guided' : 'query-pro',
      dateRange: input.dateRange ?? null,
      filters,
      widgets: [],
      standard: null,
      createdBy: actor.id,
      updatedBy: actor.id,
    };
    await this.checkWidget(sandbox, body, input.widget);
    const widget = toWidget('preview', input.widget, input.widget.layout ?? { x: 0, y: 0, ...DEFAULT_SIZE });
    return this.run(actor, sandbox, body, widget, this.runtime(body, { ...(input.filterValues ? { filters: JSON.stringify(input.filterValues) } : {}) }));
  }

  /** The choices of a global filter: its query's `id` and `value` columns. */
  async filterOptions(actor: Principal, sandbox: string, id: string, filterId: string): Promise<{ id: JsonValue; value: JsonValue }[]> {
    const { body } = await this.load(sandbox, id);
    const filter = body.filters.find((f) => f.id === filterId);
    if (!filter) throw new RoundtripError('RT_DASHBOARD_FILTER_INVALID', `The dashboard has no filter "${filterId}".`, { filterId });
    const sql = usesDates(filter.sql) ? substituteDates(filter.sql, this.runtime(body, {}).range) : filter.sql;
    const data = tabular(await this.deps.insights.query(actor, sandbox, { sql }));
    const idColumn = data.columns.find((c) => c.name.toLowerCase() === 'id')?.name;
    const valueColumn = data.columns.find((c) => c.name.toLowerCase() === 'value')?.name;
    if (!idColumn || !valueColumn) {
      throw new RoundtripError('RT_DASHBOARD_FILTER_INVALID', `The query of filter "${filterId}" must return columns id and value; it returned ${data.columns.map((c) => c.name).join(', ')}.`);
    }
    return data.rows.map((r) => ({ id: r[idColumn] ?? null, value: r[valueColumn] ?? null }));
  }

  // ---- exports ----------------------------------------------------------------------------------------------

  async exportWidget(actor: Principal, sandbox: string, id: string, widgetId: string, query: ExportQueryT): Promise<ExportFile> {
    const { body } = await this.load(sandbox, id);
    const widget = findWidget(body, widgetId);
    const base = sizeOf(widget.layout);
    const size = { width: query.width ?? base.width, height: query.height ?? base.height };
    const result = await this.run(actor, sandbox, body, widget, this.runtime(body, query), size);
    const name = fileName(widget.title);
    if (query.format === 'csv') return { contentType: 'text/csv; charset=utf-8', filename: `${name}.csv`, body: toCsv(result) };
    const svg = renderSvg(result.chart, size);
    if (query.format === 'svg') return { contentType: 'image/svg+xml; charset=utf-8', filename: `${name}.svg`, body: svg };
    return { contentType: 'image/png', filename: `${name}.png`, body: svgToPng(svg) };
  }

  /** The whole dashboard on one PDF page; a widget whose query fails shows the reason in its place. */
  async exportPdf(actor: Principal, sandbox: string, id: string, query: DataQueryT = {}): Promise<ExportFile> {
    const { body } = await this.load(sandbox, id);
    const runtime = this.runtime(body, query);
    const widgets: PdfWidget[] = [];
    for (const w of body.widgets) {
      try {
        const result = await this.run(actor, sandbox, body, w, runtime, pdfImageSize(w.layout));
        widgets.push({ title: w.title, layout: w.layout, option: withoutTitle(result.chart) });
      } catch (error) {
        widgets.push({ title: w.title, layout: w.layout, option: null, error: (error as Error).message });
      }
    }
    const pdf = await renderPdf(body.name, widgets, { author: actor.name, created: this.deps.clock.now() });
    return { contentType: 'application/pdf', filename: `${fileName(body.name)}.pdf`, body: pdf };
  }

  // ---- standard dashboards ----------------------------------------------------------------------------------

  /** Creates the registered standard dashboards this sandbox has not had yet; safe to call again and at once. */
  async ensureStandard(sandbox: string): Promise<void> {
    const marks = new Set((await this.deps.metadata.documents.list(sandbox, STANDARD_MARK_KIND)).map((d) => d.id));
    for (const def of this.standards.values()) {
      if (marks.has(def.key)) continue;
      const at = isoNow(this.deps.clock);
      try {
        await this.deps.metadata.documents.create({ sandbox, kind: STANDARD_MARK_KIND, id: def.key, parentId: null, body: { createdAt: at }, createdAt: at, updatedAt: at });
      } catch (error) {
        if ((error as RoundtripError).code === 'RT_DOCUMENT_CONFLICT') continue; // another request claimed it
        throw error;
      }
      try {
        await def.prepare?.(sandbox);
        await this.create(STANDARD_AUTHOR, sandbox, def.build(), { id: `dsh_std_${def.key.replaceAll('-', '_')}`, standard: def.key });
      } catch (error) {
        // Not provisioned after all: the next call tries again instead of taking it for deleted.
        await this.deps.metadata.documents.delete(sandbox, STANDARD_MARK_KIND, def.key).catch(() => undefined);
        throw error;
      }
    }
  }

  // ---- internals --------------------------------------------------------------------------------------------

  private async load(sandbox: string, id: string): Promise<Stored> {
    let found = await this.deps.metadata.documents.get<DashboardBody & JsonValue>(sandbox, DASHBOARD_KIND, id);
    if (!found && id.startsWith('dsh_std_')) {
      await this.ensureStandard(sandbox);
      found = await this.deps.metadata.documents.get<DashboardBody & JsonValue>(sandbox, DASHBOARD_KIND, id);
    }
    if (!found) throw new RoundtripError('RT_DASHBOARD_NOT_FOUND', `Dashboard "${id}" does not exist in this sandbox; GET /dashboards lists them.`, { id });
    return found;
  }

  /** Read, change, write back with compare-and-set (a concurrent change answers RT_DOCUMENT_CONFLICT). */
  private async change(actor: Principal, sandbox: string, id: string, action: string, apply: (body: DashboardBody) => void, expectedVersion?: number): Promise<DashboardViewT> {
    const current = await this.load(sandbox, id);
    const version = expectedVersion ?? current.version;
    const body = structuredClone(current.body) as DashboardBody;
    apply(body);
    body.updatedBy = actor.id;
    const updated = await this.deps.metadata.documents.update<DashboardBody & JsonValue>(sandbox, DASHBOARD_KIND, id, body as DashboardBody & JsonValue, {
      updatedAt: isoNow(this.deps.clock),
      expectedVersion: version,
    });
    if (!updated) throw new RoundtripError('RT_DASHBOARD_NOT_FOUND', `Dashboard "${id}" does not exist in this sandbox.`, { id });
    await this.audit(actor, sandbox, action, id);
    return this.view(updated);
  }

  private checkCap(body: DashboardBody): void {
    if (body.widgets.length >= this.maxWidgets) {
      throw new RoundtripError('RT_DASHBOARD_WIDGET_LIMIT', `A dashboard holds at most ${this.maxWidgets} widgets; "${body.name}" is full. Delete a widget first.`, {
        max: this.maxWidgets,
      });
    }
  }

  private async newWidget(sandbox: string, body: DashboardBody, input: WidgetInput): Promise<WidgetT> {
    this.checkCap(body);
    await this.checkWidget(sandbox, body, input);
    const widget = toWidget(newId('wgt'), input, input.layout ?? place(body.widgets));
    validateLayout([...body.widgets, widget]);
    return widget;
  }

  /** The mode must be the dashboard's; guided widgets must compile against their model now, not at view time. */
  private async checkWidget(sandbox: string, body: DashboardBody, input: WidgetInput): Promise<void> {
    if (Boolean(input.guided) === Boolean(input.queryPro)) throw new RoundtripError('RT_DASHBOARD_WIDGET_INVALID', 'A widget has exactly one of `guided` and `queryPro`.');
    const mode = input.guided ? 'guided' : 'query-pro';
    if (mode !== body.mode) {
      throw new RoundtripError('RT_DASHBOARD_WIDGET_INVALID', `"${body.name}" is a ${body.mode} dashboard (chosen when it was created); its widgets are ${body.mode} widgets.`, { mode: body.mode });
    }
    if (input.guided) compileGuided(await this.deps.insights.models.get(sandbox, input.guided.model), input.guided);
    else checkLinks(input, body.filters);
  }

  private runtime(body: DashboardBody, query: DataQueryT): Runtime {
    let range = body.dateRange;
    if (query.start || query.end) {
      const fallback = range ?? this.defaultRange();
      range = { start: query.start ?? fallback.start, end: query.end ?? fallback.end };
    }
    const runtime: Runtime = { range: range ?? this.defaultRange(), values: chosenValues(body.filters, query.filters) };
    if (query.sort) runtime.sort = { column: query.sort, direction: query.direction ?? 'asc' };
    return runtime;
  }

  /** The last 30 days, today included. */
  private defaultRange(): DateRangeT {
    const end = this.deps.clock.now();
    const start = new Date(end.getTime() - (DEFAULT_RANGE_DAYS - 1) * 86_400_000);
    return { start: start.toISOString().slice(0, 10), end: end.toISOString().slice(0, 10) };
  }

  private async run(actor: Principal, sandbox: string, body: DashboardBody, widget: WidgetT, runtime: Runtime, size?: { width: number; height: number }): Promise<WidgetDataResult> {
    const insights = this.deps.insights;
    if (widget.guided) {
      const compiled = compileGuided(await insights.models.get(sandbox, widget.guided.model), widget.guided);
      const data = tabular(await insights.query(actor, sandbox, { sql: compiled.sql }));
      const encoding = { x: compiled.roles.x, y: [compiled.roles.y], ...(compiled.roles.color ? { color: compiled.roles.color } : {}) };
      const chart = buildChart(data, chartInput(widget, widget.guided.marks, encoding), size);
      return { ...data, chart, sql: compiled.sql };
    }
    const spec = widget.queryPro!;
    let sql = usesDates(spec.sql) ? substituteDates(spec.sql, runtime.range) : spec.sql;
    sql = applyFilterLinks(sql, spec, body.filters, runtime.values);
    const data = tabular(await insights.query(actor, sandbox, { sql }));
    if (spec.marks === 'table') return this.tableResult(widget, data, sql, runtime, size);
    const chart = buildChart(data, chartInput(widget, spec.marks, defaultEncoding(data, spec.marks, spec.encoding)), size);
    return { ...data, chart, sql };
  }

  private tableResult(widget: WidgetT, data: TabularData, sql: string, runtime: Runtime, size?: { width: number; height: number }): WidgetDataResult {
    const settings = widget.queryPro!.table ?? {};
    const names = data.columns.map((c) => c.name);
    const columns = settings.columns ?? names;
    const sortable = settings.sortable ?? columns;
    for (const c of [...columns, ...sortable]) {
      if (!names.includes(c)) throw new RoundtripError('RT_DASHBOARD_WIDGET_INVALID', `The table column "${c}" is not in the result (${names.join(', ')}).`);
    }
    const sort = runtime.sort ?? settings.defaultSort ?? null;
    if (sort && !sortable.includes(sort.column)) {
      throw new RoundtripError('RT_REQUEST_INVALID', `"${sort.column}" is not a sortable column of this table (${sortable.join(', ')}).`);
    }
    const rows = sort ? sortRows(data.rows, sort.column, sort.direction) : data.rows;
    const sorted = { ...data, rows };
    const chart = buildChart(sorted, { ...chartInput(widget, 'table', {}), tableColumns: columns }, size);
    return { ...sorted, chart, table: { columns, sortable, sort }, sql };
  }

  private view(d: Stored): DashboardViewT {
    const b = d.body;
    return {
      id: d.id,
      name: b.name,
      description: b.description,
      mode: b.mode,
      dateRange: b.dateRange,
      filters: b.filters,
      widgets: b.widgets,
      standard: b.standard,
      maxWidgets: this.maxWidgets,
      createdBy: b.createdBy,
      updatedBy: b.updatedBy,
      created: d.createdAt,
      updated: d.updatedAt,
      version: d.version,
    };
  }

  private async audit(actor: Principal, sandbox: string, action: string, id: string, details?: JsonValue): Promise<void> {
    await this.deps.audit.record(actor, { sandbox, action, resourceType: 'dashboard', resourceId: id, ...(details === undefined ? {} : { details }) });
  }
}

function toWidget(id: string, input: WidgetInput, layout: LayoutT): WidgetT {
  return {
    id,
    title: input.title,
    layout,
    ...(input.properties ? { properties: input.properties } : {}),
    ...(input.guided ? { guided: input.guided } : {}),
    ...(input.queryPro ? { queryPro: input.queryPro } : {}),
  };
}

function findWidget(body: DashboardBody, widgetId: string): WidgetT {
  const widget = body.widgets.find((w) => w.id === widgetId);
  if (!widget) throw new RoundtripError('RT_DASHBOARD_WIDGET_NOT_FOUND', `Dashboard "${body.name}" has no widget "${widgetId}".`, { widgetId });
  return widget;
}

function checkFilters(filters: GlobalFilterT[]): GlobalFilterT[] {
  const ids = new Set<string>();
  for (const f of filters) {
    if (ids.has(f.id)) throw new RoundtripError('RT_DASHBOARD_FILTER_INVALID', `Two global filters have the id "${f.id}".`);
    ids.add(f.id);
  }
  return filters;
}

function checkLinks(widget: Pick<WidgetT, 'queryPro'>, filters: readonly GlobalFilterT[]): void {
  for (const link of widget.queryPro?.filterLinks ?? []) {
    if (!filters.some((f) => f.id === link.filterId)) {
      throw new RoundtripError('RT_DASHBOARD_FILTER_INVALID', `A widget links filter "${link.filterId}", which the dashboard does not have.`, { filterId: link.filterId });
    }
    if (!link.column && !link.param) throw new RoundtripError('RT_DASHBOARD_FILTER_INVALID', `The link to filter "${link.filterId}" needs a column or a param.`);
  }
}

function chartInput(widget: WidgetT, marks: ChartInput['marks'], encoding: ChartInput['encoding']): ChartInput {
  return { title: widget.title, marks, encoding, ...(widget.properties ? { properties: widget.properties } : {}) };
}

/** Numbers numerically, everything else as text; nulls last either way; stable. */
function sortRows(rows: TabularData['rows'], column: string, direction: 'asc' | 'desc'): TabularData['rows'] {
  const sign = direction === 'desc' ? -1 : 1;
  return [...rows].sort((a, b) => {
    const x = a[column] ?? null;
    const y = b[column] ?? null;
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    if (typeof x === 'number' && typeof y === 'number') return sign * (x - y);
    return sign * sortText(x).localeCompare(sortText(y));
  });
}

function sortText(value: JsonValue): string {
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function withoutTitle(option: EChartsOption): EChartsOption {
  const titles = option.title as unknown[] | undefined;
  return { ...option, title: titles?.slice(1) ?? [] };
}

function fileName(title: string): string {
  return title.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'widget';
}
