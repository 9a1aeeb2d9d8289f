/**
 * Dashboard and widget payloads (reference §9): the one TypeBox source for the HTTP bodies and views, the
 * OpenAPI document and the service's types. A dashboard is stored whole (widgets, layout, global filters) as one
 * `dashboard` document, so these shapes are also what is persisted.
 */
import { Type, type Static, type TLiteral, type TUnion } from 'typebox';

/** A union of string literals whose `Static` is the literal union (mapping an array would widen it). */
const lit = <const T extends readonly string[]>(...values: T) => Type.Union(values.map((v) => Type.Literal(v))) as TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }>;

export const GRID_COLUMNS = 12;
export const MAX_WIDGET_HEIGHT = 48;

export const Layout = Type.Object(
  {
    x: Type.Integer({ minimum: 0, description: 'Column of the left edge (0-11 on the 12-column grid)' }),
    y: Type.Integer({ minimum: 0, description: 'Row of the top edge' }),
    w: Type.Integer({ minimum: 1, description: 'Width in columns (x + w ≤ 12)' }),
    h: Type.Integer({ minimum: 1, description: `Height in rows (at most ${MAX_WIDGET_HEIGHT})` }),
  },
  { additionalProperties: false },
);
export type LayoutT = Static<typeof Layout>;

const Identifier = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' });
export const Attribute = Type.String({
  pattern: '^([A-Za-z_][A-Za-z0-9_]*\\.){0,3}[A-Za-z_][A-Za-z0-9_]*$',
  description: 'A column of the selected table (`count_of_profiles`) or of a table joined through the model keys (`adwh_dim_segments.segment_name`)',
});
const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);
const IsoDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD' });

export const AGGREGATIONS = ['sum', 'avg', 'count', 'min', 'max', 'count_distinct'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export const GuidedMarks = lit('bars', 'points', 'ticks', 'lines', 'area');
export const ProMarks = lit('line', 'donut', 'big-number', 'bar', 'table');
export type Mark = Static<typeof GuidedMarks> | Static<typeof ProMarks>;

const Direction = lit('asc', 'desc');

export const Guided = Type.Object(
  {
    model: Type.String({ minLength: 1, description: 'Data model, e.g. CDPInsights' }),
    table: Type.String({ minLength: 1, description: 'The table the widget starts from (usually a fact); short or full name' }),
    x: Attribute,
    y: Type.Object({ attribute: Attribute, aggregation: Type.Optional(lit(...AGGREGATIONS)) }, { additionalProperties: false }),
    color: Type.Optional(Attribute),
    filters: Type.Optional(
      Type.Array(
        Type.Object(
          {
            attribute: Attribute,
            include: Type.Optional(Type.Array(Scalar, { minItems: 1, maxItems: 1000 })),
            exclude: Type.Optional(Type.Array(Scalar, { minItems: 1, maxItems: 1000 })),
          },
          { additionalProperties: false },
        ),
        { maxItems: 20 },
      ),
    ),
    dateFilter: Type.Optional(
      Type.Object(
        {
          attribute: Type.Optional(Attribute),
          mode: lit('recent', 'dates'),
          dates: Type.Optional(Type.Array(IsoDate, { minItems: 1, maxItems: 366 })),
        },
        { additionalProperties: false, description: '`recent`: the latest date_key (most recent snapshot); `dates`: the chosen dates' },
      ),
    ),
    marks: GuidedMarks,
    sort: Type.Optional(Type.Object({ by: lit('x', 'y'), direction: Direction }, { additionalProperties: false })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
  },
  { additionalProperties: false },
);
export type GuidedT = Static<typeof Guided>;

export const FilterLink = Type.Object(
  {
    filterId: Identifier,
    column: Type.Optional(Type.String({ minLength: 1, description: 'Keep only result rows whose column is one of the chosen values' })),
    param: Type.Optional(Type.String({ pattern: '^\\$?[A-Za-z_][A-Za-z0-9_]*$', description: 'Or: replace `$PARAM` in the SQL with the chosen values as a list of literals (NULL when none)' })),
  },
  { additionalProperties: false },
);

export const QueryPro = Type.Object(
  {
    sql: Type.String({ minLength: 1, maxLength: 100_000, description: 'One SELECT; `$START_DATE` / `$END_DATE` take the date filter' }),
    marks: ProMarks,
    encoding: Type.Optional(
      Type.Object(
        {
          x: Type.Optional(Type.String()),
          y: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
          color: Type.Optional(Type.String({ description: 'Splits series (line, bar) or names the slices (donut)' })),
          size: Type.Optional(Type.String({ description: 'Donut slice size' })),
          value: Type.Optional(Type.String({ description: 'Big number column (first row)' })),
        },
        { additionalProperties: false },
      ),
    ),
    table: Type.Optional(
      Type.Object(
        {
          columns: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
          sortable: Type.Optional(Type.Array(Type.String(), { description: 'Columns the viewer may sort by (default all)' })),
          defaultSort: Type.Optional(Type.Object({ column: Type.String(), direction: Direction }, { additionalProperties: false })),
        },
        { additionalProperties: false },
      ),
    ),
    filterLinks: Type.Optional(Type.Array(FilterLink, { maxItems: 20 })),
  },
  { additionalProperties: false },
);
export type QueryProT = Static<typeof QueryPro>;

export const Properties = Type.Object(
  {
    legend: Type.Optional(Type.Object({ placement: lit('top', 'bottom', 'left', 'right', 'none'), title: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false })),
    axisLabels: Type.Optional(Type.Object({ x: Type.Optional(Type.String({ maxLength: 200 })), y: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type PropertiesT = Static<typeof Properties>;

export const WidgetBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    layout: Type.Optional(Layout),
    properties: Type.Optional(Properties),
    guided: Type.Optional(Guided),
    queryPro: Type.Optional(QueryPro),
  },
  { additionalProperties: false, description: 'Exactly one of `guided` and `queryPro`, matching the dashboard mode' },
);
export type WidgetInput = Static<typeof WidgetBody>;

export const Widget = Type.Object({
  id: Type.String(),
  title: Type.String(),
  layout: Layout,
  properties: Type.Optional(Properties),
  guided: Type.Optional(Guided),
  queryPro: Type.Optional(QueryPro),
});
export type WidgetT = Static<typeof Widget>;

export const GlobalFilter = Type.Object(
  {
    id: Identifier,
    label: Type.String({ minLength: 1, maxLength: 200 }),
    sql: Type.String({ minLength: 1, maxLength: 100_000, description: 'A SELECT returning `id` and `value` columns' }),
    selected: Type.Optional(Type.Array(Scalar, { maxItems: 1000, description: 'Ids applied by default' })),
  },
  { additionalProperties: false },
);
export type GlobalFilterT = Static<typeof GlobalFilter>;

export const DateRange = Type.Object({ start: IsoDate, end: IsoDate }, { additionalProperties: false });
export type DateRangeT = Static<typeof DateRange>;

export const DashboardMode = lit('guided', 'query-pro');
export type DashboardModeT = Static<typeof DashboardMode>;

export const DashboardCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    mode: Type.Optional(lit('guided', 'query-pro')),
    dateRange: Type.Optional(DateRange),
    filters: Type.Optional(Type.Array(GlobalFilter, { maxItems: 20 })),
    widgets: Type.Optional(Type.Array(WidgetBody)),
  },
  { additionalProperties: false },
);
export type DashboardCreateT = Static<typeof DashboardCreate>;

export const DashboardPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    dateRange: Type.Optional(Type.Union([DateRange, Type.Null()])),
    filters: Type.Optional(Type.Array(GlobalFilter, { maxItems: 20 })),
  },
  { additionalProperties: false },
);
export type DashboardPatchT = Static<typeof DashboardPatch>;

export const LayoutBody = Type.Object(
  { widgets: Type.Array(Type.Object({ id: Type.String(), layout: Layout }, { additionalProperties: false })) },
  { additionalProperties: false, description: 'New positions; widgets not listed keep theirs' },
);

export const DuplicateBody = Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false });

/** What a dashboard document holds. */
export interface DashboardBody {
  name: string;
  description: string;
  mode: DashboardModeT;
  dateRange: DateRangeT | null;
  filters: GlobalFilterT[];
  widgets: WidgetT[];
  /** Key of the standard dashboard it was created as, if any. */
  standard: string | null;
  createdBy: string;
  updatedBy: string;
}

export const DashboardView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  mode: DashboardMode,
  dateRange: Type.Union([DateRange, Type.Null()]),
  filters: Type.Array(GlobalFilter),
  widgets: Type.Array(Widget),
  standard: Type.Union([Type.String(), Type.Null()]),
  maxWidgets: Type.Integer(),
  createdBy: Type.String(),
  updatedBy: Type.String(),
  created: Type.String(),
  updated: Type.String(),
  version: Type.Integer(),
});
export type DashboardViewT = Static<typeof DashboardView>;

export const DashboardSummary = Type.Object({
  id: Type.String(),
  name: Type.String(),
  mode: DashboardMode,
  widgetCount: Type.Integer(),
  standard: Type.Union([Type.String(), Type.Null()]),
  created: Type.String(),
  updated: Type.String(),
});

/** Runtime choices of a viewer: the date range and global filter values (override the dashboard's defaults). */
export const DataQuery = Type.Object(
  {
    start: Type.Optional(IsoDate),
    end: Type.Optional(IsoDate),
    filters: Type.Optional(Type.String({ description: 'JSON object: filter id → array of chosen ids, e.g. {"segment":[1,2]}' })),
    sort: Type.Optional(Type.String({ description: 'Table widgets: a sortable column' })),
    direction: Type.Optional(Direction),
  },
  { additionalProperties: false },
);
export type DataQueryT = Static<typeof DataQuery>;

export const ExportQuery = Type.Object(
  {
    ...DataQuery.properties,
    format: lit('csv', 'svg', 'png'),
    width: Type.Optional(Type.Integer({ minimum: 100, maximum: 4000, description: 'Pixels (default from the layout: 80 per column)' })),
    height: Type.Optional(Type.Integer({ minimum: 100, maximum: 4000, description: 'Pixels (default from the layout: 80 per row)' })),
  },
  { additionalProperties: false },
);
export type ExportQueryT = Static<typeof ExportQuery>;

export const WidgetData = Type.Object({
  columns: Type.Array(Type.Object({ name: Type.String(), type: Type.String() })),
  rows: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  chart: Type.Record(Type.String(), Type.Unknown(), { description: 'An ECharts option object (render with echarts/core)' }),
  table: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Table widgets: columns, sortable columns and the sort applied' })),
  sql: Type.String({ description: 'The SQL that ran (guided: compiled; query pro: after substitution)' }),
  cached: Type.Boolean(),
  ms: Type.Number(),
});

export const PreviewBody = Type.Object(
  {
    widget: WidgetBody,
    dateRange: Type.Optional(DateRange),
    filters: Type.Optional(Type.Array(GlobalFilter, { maxItems: 20 })),
    filterValues: Type.Optional(Type.Record(Type.String(), Type.Array(Scalar))),
  },
  { additionalProperties: false, description: 'A widget to run without saving it (the composer preview)' },
);
export type PreviewBodyT = Static<typeof PreviewBody>;
