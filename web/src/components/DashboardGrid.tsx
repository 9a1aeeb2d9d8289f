/**
 * The dashboard grid (reference §9): widgets on a 12-column grid of 80 px rows, each running its query through
 * the dashboards API and drawn with ECharts (big numbers and tables as text). Widgets move and resize with
 * drag and drop on the grid, with buttons, or with the arrow keys on a focused widget (Shift resizes); the new
 * layout is saved at once, and a layout the server refuses (overlap, off the grid) shows its error and reverts.
 */
import { useRef, useState, type DragEvent, type KeyboardEvent } from 'react';
import type { Static } from 'typebox';
import type { DashboardView, Layout, Widget, WidgetData } from '../../../src/dashboards/payloads.ts';
import type { Client } from '../api.ts';
import { Chart } from './Chart.tsx';
import { downloadFile } from './download.ts';
import { DataTable, Empty, ErrorBox, Loading, useAsync } from './ui.tsx';

export type Dashboard = Static<typeof DashboardView>;
export type WidgetT = Static<typeof Widget>;
export type LayoutT = Static<typeof Layout>;
export type WidgetDataT = Static<typeof WidgetData>;

export const COLUMNS = 12;
export const ROW_PX = 80;

/** The viewer's runtime choices, as the data and export query string. */
export function dataQuery(range: { start: string; end: string }, filters: Record<string, unknown[]>): string {
  const q = new URLSearchParams();
  if (range.start) q.set('start', range.start);
  if (range.end) q.set('end', range.end);
  if (Object.values(filters).some((v) => v.length > 0)) q.set('filters', JSON.stringify(filters));
  return q.toString();
}

/** Renders widget data the way its marks say: a big number, a table, or the ECharts option. */
export function WidgetBody({ widget, data, height }: { widget: { title: string; queryPro?: WidgetT['queryPro'] }; data: WidgetDataT; height: number }) {
  const marks = widget.queryPro?.marks;
  if (data.rows.length === 0) return <Empty>The query returned no rows for these dates and filters: widen the date range or clear the filters.</Empty>;
  if (marks === 'big-number') {
    const first = data.rows[0] ?? {};
    const column = widget.queryPro?.encoding?.value ?? data.columns.find((c) => typeof first[c.name] === 'number')?.name ?? data.columns[0]?.name ?? '';
    const value = first[column];
    return (
      <div className="big-number" data-testid="big-number" aria-label={`${widget.title}: ${String(value)}`}>
        {typeof value === 'number' ? value.toLocaleString() : String(value)}
        <small>{column}</small>
      </div>
    );
  }
  if (marks === 'table') return <DataTable rows={data.rows} columns={widget.queryPro?.table?.columns} />;
  return <Chart option={data.chart} label={widget.title} height={height} />;
}

function WidgetCard(props: {
  client: Client;
  dashboard: Dashboard;
  widget: WidgetT;
  query: string;
  editable: boolean;
  onMove: (layout: LayoutT) => void;
  onEdit: () => void;
  onChanged: () => void;
  onError: (e: unknown) => void;
}) {
  const { client, dashboard, widget, query, editable } = props;
  const base = `/dashboards/${dashboard.id}/widgets/${widget.id}`;
  const data = useAsync(() => client.get<WidgetDataT>(`${base}/data${query ? `?${query}` : ''}`), [base, query, JSON.stringify([widget.title, widget.guided, widget.queryPro, widget.properties])]);
  const { x, y, w, h } = widget.layout;
  const move = (dx: number, dy: number, dw: number, dh: number) => {
    const next = { x: x + dx, y: y + dy, w: w + dw, h: h + dh };
    if (next.x < 0 || next.y < 0 || next.w < 1 || next.h < 1 || next.x + next.w > COLUMNS) return;
    props.onMove(next);
  };
  const onKey = (event: KeyboardEvent) => {
    if (!editable || event.target !== event.currentTarget) return;
    const step: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const d = step[event.key];
    if (!d) return;
    event.preventDefault();
    if (event.shiftKey) move(0, 0, d[0], d[1]);
    else move(d[0], d[1], 0, 0);
  };
  const act = (work: () => Promise<unknown>) => () => void work().then(props.onChanged, props.onError);
  const exportAs = (format: 'csv' | 'png') => act(() => downloadFile(client, `${base}/export?format=${format}${query ? `&${query}` : ''}`, `${widget.title}.${format}`));
  return (
    <article
      className="widget"
      style={{ gridColumn: `${x + 1} / span ${w}`, gridRow: `${y + 1} / span ${h}` }}
      tabIndex={0}
      aria-label={`Widget ${widget.title} at column ${x + 1}, row ${y + 1}, ${w} by ${h}`}
      onKeyDown={onKey}
      draggable={editable}
      onDragStart={(e) => e.dataTransfer.setData('text/widget', widget.id)}
    >
      <header>
        <h4>{widget.title}</h4>
        <div className="widget-actions">
          <button type="button" onClick={exportAs('csv')} title="Download CSV">
            CSV
          </button>
          <button type="button" onClick={exportAs('png')} title="Download PNG">
            PNG
          </button>
          {editable && (
            <>
              <button type="button" onClick={props.onEdit}>
                Edit
              </button>
              <button type="button" onClick={act(() => client.post(`${base}/duplicate`))} disabled={dashboard.widgets.length >= dashboard.maxWidgets}>
                Duplicate
              </button>
              <button type="button" onClick={act(() => (window.confirm(`Delete the widget “${widget.title}”?`) ? client.del(base) : Promise.resolve()))}>
                Delete
              </button>
            </>
          )}
        </div>
      </header>
      {editable && (
        <div className="widget-move" role="group" aria-label="Move and resize">
          <button type="button" aria-label="Move left" onClick={() => move(-1, 0, 0, 0)}>←</button>
          <button type="button" aria-label="Move right" onClick={() => move(1, 0, 0, 0)}>→</button>
          <button type="button" aria-label="Move up" onClick={() => move(0, -1, 0, 0)}>↑</button>
          <button type="button" aria-label="Move down" onClick={() => move(0, 1, 0, 0)}>↓</button>
          <button type="button" aria-label="Narrower" onClick={() => move(0, 0, -1, 0)}>−w</button>
          <button type="button" aria-label="Wider" onClick={() => move(0, 0, 1, 0)}>+w</button>
          <button type="button" aria-label="Shorter" onClick={() => move(0, 0, 0, -1)}>−h</button>
          <button type="button" aria-label="Taller" onClick={() => move(0, 0, 0, 1)}>+h</button>
        </div>
      )}
      <ErrorBox error={data.error} />
      {data.data ? <WidgetBody widget={widget} data={data.data} height={Math.max(120, h * ROW_PX - 90)} /> : !data.error && <Loading what="the widget" />}
    </article>
  );
}

export function DashboardGrid(props: { client: Client; dashboard: Dashboard; query: string; editable: boolean; onEdit: (widget: WidgetT) => void; onChanged: () => void }) {
  const { client, dashboard } = props;
  const [error, setError] = useState<unknown>();
  const [pending, setPending] = useState<Record<string, LayoutT>>({});
  const grid = useRef<HTMLDivElement>(null);
  const save = (id: string, layout: LayoutT) => {
    setError(undefined);
    setPending((p) => ({ ...p, [id]: layout }));
    client.put(`/dashboards/${dashboard.id}/layout`, { widgets: [{ id, layout }] }).then(
      () => {
        setPending({});
        props.onChanged();
      },
      (e: unknown) => {
        setPending({});
        setError(e);
      },
    );
  };
  const onDrop = (event: DragEvent) => {
    const id = event.dataTransfer.getData('text/widget');
    const widget = dashboard.widgets.find((w) => w.id === id);
    if (!widget || !grid.current) return;
    event.preventDefault();
    const rect = grid.current.getBoundingClientRect();
    const x = Math.min(COLUMNS - widget.layout.w, Math.max(0, Math.floor(((event.clientX - rect.left) / rect.width) * COLUMNS)));
    const y = Math.max(0, Math.floor((event.clientY - rect.top) / ROW_PX));
    save(id, { ...widget.layout, x, y });
  };
  if (dashboard.widgets.length === 0) return <Empty>No widgets yet: choose “Add widget” to open the widget composer.</Empty>;
  return (
    <>
      <ErrorBox error={error} />
      <div className="dashboard-grid" ref={grid} style={{ gridAutoRows: `${ROW_PX}px` }} onDragOver={(e) => props.editable && e.preventDefault()} onDrop={onDrop}>
        {dashboard.widgets.map((w) => {
          const widget = pending[w.id] ? { ...w, layout: pending[w.id]! } : w;
          return (
            <WidgetCard
              key={w.id}
              client={client}
              dashboard={dashboard}
              widget={widget}
              query={props.query}
              editable={props.editable}
              onMove={(layout) => save(w.id, layout)}
              onEdit={() => props.onEdit(w)}
              onChanged={props.onChanged}
              onError={setError}
            />
          );
        })}
      </div>
    </>
  );
}
