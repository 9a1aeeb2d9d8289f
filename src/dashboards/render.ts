/**
 * Server-side exports: CSV of a widget's rows, its chart rendered to SVG by ECharts' server-side renderer, SVG
 * to PNG by resvg, and a whole dashboard to a one-page PDF (pdfkit) with one PNG per widget placed by the grid
 * and its title as PDF text. Nothing here touches data: it renders what the service hands it.
 */
import { Resvg } from '@resvg/resvg-js';
import * as echarts from 'echarts';
import PDFDocument from 'pdfkit';
import type { JsonValue } from '../ports/warehouse.ts';
import type { EChartsOption } from './chart.ts';
import type { TabularData } from './insights-port.ts';
import { GRID_COLUMNS, type LayoutT } from './payloads.ts';

/** Pixels per grid column and per grid row in image exports (a full-width widget is 960 px wide). */
export const CELL_PX = 80;

export function sizeOf(layout: LayoutT): { width: number; height: number } {
  return { width: layout.w * CELL_PX, height: layout.h * CELL_PX };
}

function csvCell(value: JsonValue | undefined): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** RFC 4180: header row, CRLF line ends, quotes only where needed. */
export function toCsv(data: TabularData): string {
  const lines = [data.columns.map((c) => csvCell(c.name)).join(',')];
  for (const row of data.rows) lines.push(data.columns.map((c) => csvCell(row[c.name])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function renderSvg(option: EChartsOption, size: { width: number; height: number }): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: size.width, height: size.height });
  try {
    chart.setOption({ backgroundColor: '#ffffff', ...option, animation: false });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

export function svgToPng(svg: string, scale = 1): Buffer {
  const resvg = new Resvg(svg, { background: '#ffffff', fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } });
  return resvg.render().asPng();
}

export interface PdfWidget {
  title: string;
  layout: LayoutT;
  /** The chart option (its own title is left out: the PDF writes the title as text), or why there is none. */
  option: EChartsOption | null;
  error?: string;
}

const PAGE_WIDTH = 842; // A4 landscape, points
const MIN_PAGE_HEIGHT = 595;
const MARGIN = 24;
const HEADER = 36;
const TITLE = 16;

const PDF_CELL = (PAGE_WIDTH - 2 * MARGIN) / GRID_COLUMNS;
/** Pixels per PDF point of a widget image (sharper than 1:1 when the PDF is zoomed). */
const PDF_PIXELS_PER_POINT = 1.5;

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

function widgetBox(layout: LayoutT): Box {
  return { x: MARGIN + layout.x * PDF_CELL + 3, y: MARGIN + HEADER + layout.y * PDF_CELL + 3, width: layout.w * PDF_CELL - 6, height: layout.h * PDF_CELL - 6 };
}

function imageBox(box: Box): Box {
  return { x: box.x + 1, y: box.y + TITLE + 4, width: box.width - 2, height: box.height - TITLE - 6 };
}

/** The pixel size a widget's chart is rendered at for the PDF (so the chart can be laid out for it). */
export function pdfImageSize(layout: LayoutT): { width: number; height: number } {
  const box = imageBox(widgetBox(layout));
  return { width: Math.round(box.width * PDF_PIXELS_PER_POINT), height: Math.max(1, Math.round(box.height * PDF_PIXELS_PER_POINT)) };
}

/** One page holding the whole dashboard: grid columns scale to the page width, rows keep the image aspect. */
export async function renderPdf(name: string, widgets: readonly PdfWidget[], info: { author: string; created: Date }): Promise<Buffer> {
  const rows = widgets.reduce((max, w) => Math.max(max, w.layout.y + w.layout.h), 0);
  const height = Math.max(MIN_PAGE_HEIGHT, Math.ceil(2 * MARGIN + HEADER + rows * PDF_CELL));
  const doc = new PDFDocument({ size: [PAGE_WIDTH, height], margin: MARGIN, info: { Title: name, Author: info.author, CreationDate: info.created }, autoFirstPage: false });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.addPage({ size: [PAGE_WIDTH, height], margin: MARGIN });
  doc.font('Helvetica-Bold').fontSize(18).fillColor('#111').text(name, MARGIN, MARGIN, { width: PAGE_WIDTH - 2 * MARGIN, lineBreak: false, height: HEADER });
  for (const w of widgets) {
    const box = widgetBox(w.layout);
    const image = imageBox(box);
    doc.lineWidth(0.5).strokeColor('#cccccc').rect(box.x, box.y, box.width, box.height).stroke();
    doc.font('Helvetica-Bold').fontSize(10).fillColor('#222').text(w.title, box.x + 6, box.y + 4, { width: box.width - 12, lineBreak: false, height: TITLE, ellipsis: true });
    if (w.option && image.height > 10) {
      doc.image(svgToPng(renderSvg(w.option, pdfImageSize(w.layout))), image.x, image.y, { width: image.width, height: image.height });
    } else {
      doc.font('Helvetica').fontSize(9).fillColor('#a00').text(w.error ?? 'No data', box.x + 6, image.y + 6, { width: box.width - 12 });
    }
  }
  doc.end();
  return done;
}
