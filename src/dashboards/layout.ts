/**
 * Widget layout on the 12-column grid. Decision: a layout that leaves the grid or overlaps another widget is
 * refused (`RT_DASHBOARD_LAYOUT_INVALID`, with the offending widgets), never silently moved, so what a user saves
 * is what every viewer and the PDF export see. A widget added without a position is placed at the first free
 * spot, scanning rows top to bottom and columns left to right.
 */
import { RoundtripError } from '../core/errors.ts';
import { GRID_COLUMNS, MAX_WIDGET_HEIGHT, type LayoutT } from './payloads.ts';

export const DEFAULT_SIZE = { w: 6, h: 4 };

export interface Placed {
  id: string;
  layout: LayoutT;
}

function overlaps(a: LayoutT, b: LayoutT): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export function checkInGrid(id: string, l: LayoutT): void {
  if (l.x + l.w > GRID_COLUMNS || l.h > MAX_WIDGET_HEIGHT) {
    throw new RoundtripError('RT_DASHBOARD_LAYOUT_INVALID', `Widget "${id}" leaves the grid: x + w must be at most ${GRID_COLUMNS} and h at most ${MAX_WIDGET_HEIGHT}.`, { widget: id, layout: l });
  }
}

/** Refuses any widget outside the grid and any pair that overlaps. */
export function validateLayout(widgets: readonly Placed[]): void {
  for (const w of widgets) checkInGrid(w.id, w.layout);
  for (let i = 0; i < widgets.length; i++) {
    for (let j = i + 1; j < widgets.length; j++) {
      const a = widgets[i]!;
      const b = widgets[j]!;
      if (overlaps(a.layout, b.layout)) {
        throw new RoundtripError('RT_DASHBOARD_LAYOUT_INVALID', `Widgets "${a.id}" and "${b.id}" overlap; move or resize one of them.`, { widgets: [a.id, b.id], layouts: [a.layout, b.layout] });
      }
    }
  }
}

/** The first free position for a widget of the given size. */
export function place(existing: readonly Placed[], size: { w: number; h: number } = DEFAULT_SIZE): LayoutT {
  const w = Math.min(size.w, GRID_COLUMNS);
  const bottom = existing.reduce((max, p) => Math.max(max, p.layout.y + p.layout.h), 0);
  for (let y = 0; y <= bottom; y++) {
    for (let x = 0; x + w <= GRID_COLUMNS; x++) {
      const candidate = { x, y, w, h: size.h };
      if (!existing.some((p) => overlaps(p.layout, candidate))) return candidate;
    }
  }
  return { x: 0, y: bottom, w, h: size.h };
}

/** Rows the grid uses (for the PDF page). */
export function gridHeight(widgets: readonly Placed[]): number {
  return widgets.reduce((max, p) => Math.max(max, p.layout.y + p.layout.h), 0);
}
