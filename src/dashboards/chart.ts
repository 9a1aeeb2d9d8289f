/**
 * Chart specifications: a widget's rows and encoding become an ECharts option object, which the console renders
 * with `echarts/core` and the exports render server-side. Marks: guided bars, points, ticks, lines, area; query
 * pro line, donut, big number, bar, table (drawn with ECharts graphic elements so that it exports like any chart).
 * Color splits the marks into one series per value, in the order values first appear in the (ordered) rows.
 */
import { RoundtripError } from '../core/errors.ts';
import type { JsonValue } from '../ports/warehouse.ts';
import type { TabularData } from './insights-port.ts';
import type { Mark, PropertiesT } from './payloads.ts';

export type EChartsOption = Record<string, unknown>;

export interface Encoding {
  x?: string;
  y?: string[];
  color?: string;
  size?: string;
  value?: string;
}

export interface ChartInput {
  title: string;
  marks: Mark;
  encoding: Encoding;
  properties?: PropertiesT;
  /** Table widgets: the columns shown. */
  tableColumns?: string[];
}

/** Series colours, fixed so that the console and the exports agree whatever the ECharts theme. */
export const PALETTE = ['#2f6fb7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const NUMERIC_TYPE = /^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|REAL|DOUBLE|DECIMAL|NUMERIC)/i;

function invalid(message: string): RoundtripError {
  return new RoundtripError('RT_DASHBOARD_WIDGET_INVALID', message);
}

function num(value: JsonValue | undefined): number | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

function label(value: JsonValue | undefined): string {
  return value === null || value === undefined ? '(none)' : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function requireColumn(data: TabularData, name: string | undefined, role: string): string {
  if (name === undefined) throw invalid(`The chart needs a ${role} column.`);
  if (!data.columns.some((c) => c.name === name)) throw invalid(`The ${role} column "${name}" is not in the result (${data.columns.map((c) => c.name).join(', ')}).`);
  return name;
}

/** Defaults for query pro results: x is the first column, y the numeric columns after it; a donut's size is the last numeric column. */
export function defaultEncoding(data: TabularData, marks: Mark, given: Encoding = {}): Encoding {
  const numeric = data.columns.filter((c) => NUMERIC_TYPE.test(c.type)).map((c) => c.name);
  const first = data.columns[0]?.name;
  if (marks === 'donut') {
    const color = given.color ?? first;
    return { color, size: given.size ?? numeric.filter((n) => n !== color).at(-1) ?? numeric[0] };
  }
  if (marks === 'big-number') return { value: given.value ?? numeric[0] ?? first };
  const x = given.x ?? first;
  const y = given.y ?? numeric.filter((n) => n !== x && n !== given.color);
  return { x, y, ...(given.color ? { color: given.color } : {}) };
}

function titleBlock(input: ChartInput): unknown[] {
  const titles: unknown[] = [{ text: input.title, left: 8, top: 4, textStyle: { fontSize: 14, fontWeight: 'bold' } }];
  const legend = input.properties?.legend;
  if (legend?.title && legend.placement !== 'none') {
    const at = legend.placement ?? 'top';
    const position = at === 'bottom' ? { left: 'center', bottom: 24 } : at === 'left' ? { left: 4, top: 40 } : at === 'right' ? { right: 4, top: 40 } : { left: 'center', top: 24 };
    titles.push({ text: legend.title, ...position, textStyle: { fontSize: 11, fontWeight: 'normal', color: '#555' } });
  }
  return titles;
}

function legendBlock(properties: PropertiesT | undefined, seriesCount: number): { legend: unknown; grid: Record<string, unknown> } {
  const placement = properties?.legend?.placement ?? (seriesCount > 1 ? 'top' : 'none');
  const hasTitle = Boolean(properties?.legend?.title);
  const grid: Record<string, unknown> = { left: 56, right: 24, top: 48, bottom: 40, containLabel: true };
  if (placement === 'none') return { legend: { show: false }, grid };
  const offset = hasTitle ? 16 : 0;
  switch (placement) {
    case 'bottom':
      return { legend: { bottom: 4, type: 'scroll' }, grid: { ...grid, bottom: 64 + offset } };
    case 'left':
      return { legend: { left: 4, top: 56 + offset, orient: 'vertical', type: 'scroll' }, grid: { ...grid, left: 140 } };
    case 'right':
      return { legend: { right: 4, top: 56 + offset, orient: 'vertical', type: 'scroll' }, grid: { ...grid, right: 140 } };
    default:
      return { legend: { top: 26 + offset, type: 'scroll' }, grid: { ...grid, top: 64 + offset } };
  }
}

function seriesType(marks: Mark): Record<string, unknown> {
  switch (marks) {
    case 'bars':
    case 'bar':
      return { type: 'bar' };
    case 'lines':
    case 'line':
      return { type: 'line', showSymbol: true };
    case 'area':
      return { type: 'line', areaStyle: { opacity: 0.35 }, showSymbol: false };
    case 'points':
      return { type: 'scatter', symbolSize: 9 };
    case 'ticks':
      return { type: 'scatter', symbol: 'rect', symbolSize: [18, 3] };
    default:
      throw invalid(`${marks} is not a cartesian mark.`);
  }
}

function cartesian(data: TabularData, input: ChartInput): EChartsOption {
  const x = requireColumn(data, input.encoding.x, 'x');
  const ys = (input.encoding.y ?? []).map((y) => requireColumn(data, y, 'y'));
  if (!ys.length) throw invalid('The chart needs at least one numeric y column.');
  const color = input.encoding.color === undefined ? undefined : requireColumn(data, input.encoding.color, 'color');
  const categories: string[] = [];
  const index = new Map<string, number>();
  for (const row of data.rows) {
    const key = label(row[x]);
    if (!index.has(key)) {
      index.set(key, categories.length);
      categories.push(key);
    }
  }
  const base = seriesType(input.marks);
  const series: Record<string, unknown>[] = [];
  if (color) {
    const byColor = new Map<string, (number | null)[]>();
    for (const row of data.rows) {
      const name = label(row[color]);
      if (!byColor.has(name)) byColor.set(name, categories.map(() => null));
      byColor.get(name)![index.get(label(row[x]))!] = num(row[ys[0]!]);
    }
    // Color splits bars and areas into stacks (one bar per x, as a composer's color role does), lines stay apart.
    const stack = base.type === 'bar' || base.areaStyle ? { stack: 'color' } : {};
    for (const [name, values] of byColor) series.push({ ...base, ...stack, name, data: values });
  } else {
    for (const y of ys) {
      const values: (number | null)[] = categories.map(() => null);
      for (const row of data.rows) values[index.get(label(row[x]))!] = num(row[y]);
      series.push({ ...base, name: y, data: values });
    }
  }
  const { legend, grid } = legendBlock(input.properties, series.length);
  const axisLabels = input.properties?.axisLabels;
  return {
    animation: false,
    title: titleBlock(input),
    tooltip: { trigger: base.type === 'scatter' ? 'item' : 'axis' },
    legend,
    grid,
    xAxis: { type: 'category', data: categories, name: axisLabels?.x ?? x, nameLocation: 'middle', nameGap: 28, axisLabel: { hideOverlap: true } },
    yAxis: { type: 'value', name: axisLabels?.y ?? (ys.length === 1 ? ys[0] : ''), nameLocation: 'middle', nameGap: 48 },
    series,
  };
}

function donut(data: TabularData, input: ChartInput): EChartsOption {
  const color = requireColumn(data, input.encoding.color, 'color');
  const size = requireColumn(data, input.encoding.size, 'size');
  const slices = data.rows.map((row) => ({ name: label(row[color]), value: num(row[size]) ?? 0 }));
  const properties = input.properties?.legend ? input.properties : { ...input.properties, legend: { placement: 'right' as const } };
  const { legend } = legendBlock(properties, slices.length);
  const side = properties.legend?.placement;
  const center = side === 'right' ? ['40%', '56%'] : side === 'left' ? ['60%', '56%'] : ['50%', '56%'];
  return {
    animation: false,
    title: titleBlock(input),
    tooltip: { trigger: 'item' },
    legend,
    series: [{ type: 'pie', name: size, radius: ['38%', '62%'], center, avoidLabelOverlap: true, label: { show: true, formatter: '{b}: {d}%' }, data: slices }],
  };
}

export function formatNumber(value: number): string {
  return Math.abs(value) >= 1000 ? value.toLocaleString('en-US', { maximumFractionDigits: 0 }) : value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

function bigNumber(data: TabularData, input: ChartInput): EChartsOption {
  const column = requireColumn(data, input.encoding.value, 'value');
  const raw = data.rows[0]?.[column];
  const n = num(raw);
  const text = n === null ? label(raw ?? null) : formatNumber(n);
  return {
    animation: false,
    title: titleBlock(input),
    graphic: [
      { type: 'text', left: 'center', top: 'middle', style: { text, fontSize: 48, fontWeight: 'bold', fill: '#1f4e79' } },
      { type: 'text', left: 'center', bottom: 16, style: { text: input.properties?.axisLabels?.y ?? column, fontSize: 13, fill: '#666' } },
    ],
  };
}

/** A table drawn with graphic elements: header and as many rows as fit (the data has them all). */
function table(data: TabularData, input: ChartInput, size = { width: 640, height: 400 }): EChartsOption {
  const columns = input.tableColumns ?? data.columns.map((c) => c.name);
  const rowHeight = 22;
  const top = 36;
  const fit = Math.max(0, Math.floor((size.height - top - rowHeight) / rowHeight));
  const width = (size.width - 16) / Math.max(columns.length, 1);
  const elements: unknown[] = [{ type: 'rect', shape: { x: 8, y: top, width: size.width - 16, height: rowHeight }, style: { fill: '#e8eef5' } }];
  columns.forEach((c, i) => elements.push({ type: 'text', x: 12 + i * width, y: top + 5, style: { text: c, fontSize: 12, fontWeight: 'bold', fill: '#222' } }));
  data.rows.slice(0, fit).forEach((row, r) => {
    const y = top + (r + 1) * rowHeight;
    if (r % 2 === 1) elements.push({ type: 'rect', shape: { x: 8, y, width: size.width - 16, height: rowHeight }, style: { fill: '#f6f8fa' } });
    columns.forEach((c, i) => {
      const v = row[c];
      const n = typeof v === 'number' ? formatNumber(v) : label(v ?? null);
      elements.push({ type: 'text', x: 12 + i * width, y: y + 5, style: { text: n.length > 40 ? `${n.slice(0, 39)}…` : n, fontSize: 12, fill: '#333' } });
    });
  });
  return { animation: false, title: titleBlock(input), graphic: elements };
}

export function buildChart(data: TabularData, input: ChartInput, size?: { width: number; height: number }): EChartsOption {
  return { color: PALETTE, ...build(data, input, size) };
}

function build(data: TabularData, input: ChartInput, size?: { width: number; height: number }): EChartsOption {
  switch (input.marks) {
    case 'donut':
      return donut(data, input);
    case 'big-number':
      return bigNumber(data, input);
    case 'table':
      return table(data, input, size);
    default:
      return cartesian(data, input);
  }
}
