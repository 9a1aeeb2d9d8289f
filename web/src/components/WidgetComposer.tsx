/**
 * The widget composer (reference §9). Guided mode: pick a data model and a table (title, type, records,
 * lookups, attributes; sample records and attributes in a preview), then attributes as X, Y (with an
 * aggregation), Color and Filter, the marks, value filters, the date filter and the legend and axis properties.
 * Query pro mode: SQL with `$START_DATE` / `$END_DATE`, the marks and their encoding, and links from the
 * dashboard's global filters to a result column or a `$PARAM`. Either way the preview runs the unsaved widget
 * through `POST /dashboards/preview` (guided: live as it changes; query pro: on Run, then live).
 */
import { useEffect, useMemo, useState } from 'react';
import type { Static } from 'typebox';
import type { AGGREGATIONS, Guided, Properties, QueryPro, WidgetBody as WidgetBodySchema } from '../../../src/dashboards/payloads.ts';
import type { DataModelView } from '../../../src/insights/payloads.ts';
import type { Client } from '../api.ts';
import { WidgetBody, type Dashboard, type WidgetDataT, type WidgetT } from './DashboardGrid.tsx';
import { SqlEditor } from './SqlEditor.tsx';
import { DataTable, Empty, ErrorBox, Loading, useAsync } from './ui.tsx';

type Model = Static<typeof DataModelView>;
type GuidedT = Static<typeof Guided>;
type QueryProT = Static<typeof QueryPro>;
type PropertiesT = Static<typeof Properties>;
type WidgetInput = Static<typeof WidgetBodySchema>;
type Aggregation = (typeof AGGREGATIONS)[number];

const AGGS: Aggregation[] = ['sum', 'avg', 'count', 'min', 'max', 'count_distinct'];
const GUIDED_MARKS: GuidedT['marks'][] = ['bars', 'points', 'ticks', 'lines', 'area'];
const PRO_MARKS: QueryProT['marks'][] = ['bar', 'line', 'donut', 'big-number', 'table'];
const PLACEMENTS = ['top', 'bottom', 'left', 'right', 'none'] as const;

interface FilterDraft {
  attribute: string;
  mode: 'include' | 'exclude';
  values: string;
}

/** Model tables come with their full name (database.schema.table); widgets and attributes use the short one. */
const short = (name: string) => name.split('.').pop()!;
const sameTable = (name: string, wanted: string) => name === wanted || short(name) === short(wanted);

/** Filter values typed as a comma-separated list: numbers stay numbers, `null` is NULL. */
function parseValues(text: string): (string | number | null)[] {
  return text
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean)
    .map((v) => (v === 'null' ? null : /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v));
}

function Select<T extends string>({ label, value, options, onChange, empty }: { label: string; value: T | ''; options: readonly T[]; onChange: (v: T | '') => void; empty?: string }) {
  return (
    <label>
      {label}
      <select aria-label={label} value={value} onChange={(e) => onChange(e.target.value as T | '')}>
        {empty !== undefined && <option value="">{empty}</option>}
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Step 1 of guided mode: the data model and its tables, with sample records and attributes. */
function TablePicker({ client, models, model, table, onPick }: { client: Client; models: Model[]; model: string; table: string; onPick: (model: string, table: string) => void }) {
  const [browsing, setBrowsing] = useState(model || models[0]?.name || '');
  const [tab, setTab] = useState<'samples' | 'attributes'>('samples');
  const [looking, setLooking] = useState(table);
  const current = models.find((m) => m.name === browsing);
  const chosen = current?.tables.find((t) => sameTable(t.name, looking));
  const full = chosen && current ? (chosen.name.includes('.') ? chosen.name : `${current.schema}.${chosen.name}`) : '';
  const samples = useAsync(() => (full ? client.get<{ records: Record<string, unknown>[] }>(`/insights/tables/${encodeURIComponent(full)}/sample?limit=10`).then((r) => r.records) : Promise.resolve([])), [full]);
  if (models.length === 0) return <Empty>No data models yet: refresh CDPInsights (`POST /insights/models/CDPInsights/refresh`) or create a query pro dashboard.</Empty>;
  return (
    <section aria-label="Select data model">
      <h4>Select data</h4>
      <div className="row">
        <Select label="Data model" value={browsing} options={models.map((m) => m.name)} onChange={(v) => setBrowsing(v)} />
        {current?.refreshedAt ? <span className="hint">refreshed {new Date(current.refreshedAt).toLocaleString()}</span> : <span className="hint">never refreshed</span>}
      </div>
      <DataTable
        caption="Tables"
        rows={(current?.tables ?? []).map((t) => ({ Title: short(t.name), 'Table type': t.type, Records: t.recordCount, Lookups: t.lookups.length, Attributes: t.columns.length }))}
        columns={['Title', 'Table type', 'Records', 'Lookups', 'Attributes']}
      />
      <div className="row">
        <Select label="Table" value={looking} options={(current?.tables ?? []).map((t) => short(t.name))} onChange={setLooking} empty="Choose a table…" />
        <button type="button" disabled={!chosen} onClick={() => onPick(browsing, looking)}>
          Select
        </button>
      </div>
      {chosen && (
        <>
          <div className="tabs" role="tablist">
            <button type="button" role="tab" aria-selected={tab === 'samples'} onClick={() => setTab('samples')}>
              Sample records
            </button>
            <button type="button" role="tab" aria-selected={tab === 'attributes'} onClick={() => setTab('attributes')}>
              Attributes
            </button>
          </div>
          {tab === 'samples' ? (
            samples.data ? <DataTable rows={samples.data} /> : <Loading what="sample records" />
          ) : (
            <DataTable rows={chosen.columns.map((c) => ({ name: c.name, 'data type': c.type, 'source table': short(chosen.name) }))} />
          )}
        </>
      )}
    </section>
  );
}

export function WidgetComposer(props: { client: Client; dashboard: Dashboard; widget: WidgetT | null; onSaved: () => void; onCancel: () => void }) {
  const { client, dashboard, widget } = props;
  const pro = dashboard.mode === 'query-pro';
  const models = useAsync(() => (pro ? Promise.resolve([]) : client.get<{ models: Model[] }>('/insights/models').then((r) => r.models)), [pro]);
  const g = widget?.guided;
  const q = widget?.queryPro;
  const [title, setTitle] = useState(widget?.title ?? '');
  // guided
  const [model, setModel] = useState(g?.model ?? '');
  const [table, setTable] = useState(g?.table ?? '');
  const [x, setX] = useState(g?.x ?? '');
  const [y, setY] = useState(g?.y.attribute ?? '');
  const [agg, setAgg] = useState<Aggregation | ''>(g?.y.aggregation ?? '');
  const [color, setColor] = useState(g?.color ?? '');
  const [marks, setMarks] = useState<string>(g?.marks ?? q?.marks ?? (pro ? 'bar' : 'bars'));
  const [filters, setFilters] = useState<FilterDraft[]>((g?.filters ?? []).map((f) => ({ attribute: f.attribute, mode: f.include ? 'include' : 'exclude', values: (f.include ?? f.exclude ?? []).join(', ') })));
  const [recent, setRecent] = useState(g?.dateFilter?.mode === 'recent');
  // query pro
  const [sql, setSql] = useState(q?.sql ?? "SELECT …\nFROM …\nWHERE date_key BETWEEN '$START_DATE' AND '$END_DATE'");
  // The preview runs the SQL as of the last Run, so typing does not send half-written queries.
  const [ranSql, setRanSql] = useState<string | null>(q?.sql ?? null);
  const run = () => (setRanSql(sql), setPreview(null));
  const [encoding, setEncoding] = useState<NonNullable<QueryProT['encoding']>>(q?.encoding ?? {});
  const [links, setLinks] = useState<NonNullable<QueryProT['filterLinks']>>(q?.filterLinks ?? []);
  // properties
  const [legend, setLegend] = useState<PropertiesT['legend']>(widget?.properties?.legend);
  const [axis, setAxis] = useState<NonNullable<PropertiesT['axisLabels']>>(widget?.properties?.axisLabels ?? {});
  const [preview, setPreview] = useState<WidgetDataT | null>(null);
  const [error, setError] = useState<unknown>();
  const [saving, setSaving] = useState(false);

  const tableView = models.data?.find((m) => m.name === model)?.tables.find((t) => sameTable(t.name, table));
  const attributes = useMemo(() => {
    if (!tableView) return [];
    const all = models.data?.find((m) => m.name === model)?.tables ?? [];
    const own = tableView.columns.map((c) => c.name);
    const joined = tableView.lookups.flatMap((name) => (all.find((t) => sameTable(t.name, name))?.columns ?? []).map((c) => `${short(name)}.${c.name}`));
    return [...own, ...joined];
  }, [tableView, models.data, model]);
  const columns = preview?.columns.map((c) => c.name) ?? [];

  const body = useMemo((): WidgetInput | null => {
    const properties: PropertiesT = { ...(legend ? { legend } : {}), ...(axis.x || axis.y ? { axisLabels: axis } : {}) };
    const common = { title: title || 'Untitled widget', ...(Object.keys(properties).length ? { properties } : {}) };
    if (pro) {
      if (!ranSql?.trim()) return null;
      const enc = Object.fromEntries(Object.entries(encoding).filter(([, v]) => (Array.isArray(v) ? v.length > 0 : Boolean(v))));
      return { ...common, queryPro: { sql: ranSql, marks: marks as QueryProT['marks'], ...(Object.keys(enc).length ? { encoding: enc } : {}), ...(links.length ? { filterLinks: links } : {}) } };
    }
    if (!model || !table || !x || !y) return null;
    const valueFilters = filters
      .filter((f) => f.attribute && parseValues(f.values).length > 0)
      .map((f) => ({ attribute: f.attribute, [f.mode]: parseValues(f.values) }));
    return {
      ...common,
      guided: {
        model,
        table,
        x,
        y: { attribute: y, ...(agg ? { aggregation: agg } : {}) },
        ...(color ? { color } : {}),
        ...(valueFilters.length ? { filters: valueFilters } : {}),
        ...(recent ? { dateFilter: { mode: 'recent' as const } } : {}),
        marks: marks as GuidedT['marks'],
      },
    };
  }, [pro, ranSql, marks, encoding, links, model, table, x, y, agg, color, filters, recent, title, legend, axis]);

  const key = JSON.stringify(body);
  useEffect(() => {
    if (!body) return;
    let live = true;
    const timer = setTimeout(() => {
      client
        .post<WidgetDataT>('/dashboards/preview', { widget: body, ...(dashboard.dateRange ? { dateRange: dashboard.dateRange } : {}), filters: dashboard.filters })
        .then(
          (data) => live && (setPreview(data), setError(undefined)),
          (e: unknown) => live && (setPreview(null), setError(e)),
        );
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [key]);

  const save = async () => {
    if (!body) return;
    setSaving(true);
    try {
      const path = `/dashboards/${dashboard.id}/widgets`;
      if (widget) await client.put(`${path}/${widget.id}`, body);
      else await client.post(path, body);
      props.onSaved();
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };

  const attributeSelect = (label: string, value: string, set: (v: string) => void, empty = 'none') => <Select label={label} value={value} options={attributes} onChange={set} empty={empty} />;
  const columnSelect = (label: string, value: string | undefined, set: (v: string) => void) => <Select label={label} value={value ?? ''} options={columns} onChange={set} empty="default" />;

  return (
    <section className="composer" aria-label="Widget composer">
      <h3>{widget ? `Edit widget “${widget.title}”` : 'New widget'} <small>({pro ? 'query pro mode' : 'guided design mode'})</small></h3>
      <label>
        Widget title
        <input value={title} onChange={(e) => setTitle(e.target.value)} placeholder="e.g. Profiles by CLV decile" />
      </label>
      <ErrorBox error={models.error} />
      {!pro && !table && (models.data ? <TablePicker client={client} models={models.data} model={model} table={table} onPick={(m, t) => (setModel(m), setTable(t))} /> : <Loading what="data models" />)}
      {!pro && table && (
        <div className="composer-body">
          <aside aria-label="Data">
            <p>
              <strong>{model}</strong> › {table}{' '}
              <button type="button" aria-label="Change the data model or table" onClick={() => setTable('')}>
                ✎
              </button>
            </p>
            {attributeSelect('X axis', x, setX, 'choose…')}
            <button type="button" aria-label="Swap X and Y" onClick={() => (setX(y), setY(x))} disabled={!x || !y}>
              ⇅ swap X/Y
            </button>
            {attributeSelect('Y axis', y, setY, 'choose…')}
            <Select label="Aggregation" value={agg} options={AGGS} onChange={setAgg} empty="default (sum of numbers, else count)" />
            {attributeSelect('Color', color, setColor)}
            <fieldset>
              <legend>Filters</legend>
              {filters.map((f, i) => (
                <div className="row" key={i}>
                  {attributeSelect('Attribute', f.attribute, (v) => setFilters(filters.map((o, j) => (j === i ? { ...o, attribute: v } : o))), 'choose…')}
                  <Select label="Values" value={f.mode} options={['include', 'exclude'] as const} onChange={(v) => setFilters(filters.map((o, j) => (j === i ? { ...o, mode: v || 'include' } : o)))} />
                  <label>
                    Values (comma-separated)
                    <input value={f.values} onChange={(e) => setFilters(filters.map((o, j) => (j === i ? { ...o, values: e.target.value } : o)))} />
                  </label>
                  <button type="button" aria-label="Remove filter" onClick={() => setFilters(filters.filter((_, j) => j !== i))}>
                    ×
                  </button>
                </div>
              ))}
              <button type="button" onClick={() => setFilters([...filters, { attribute: '', mode: 'include', values: '' }])}>
                + Filter
              </button>
              <label className="check">
                <input type="checkbox" checked={recent} onChange={(e) => setRecent(e.target.checked)} /> Recent date only (latest date_key)
              </label>
            </fieldset>
          </aside>
        </div>
      )}
      {pro && (
        <div>
          <p className="hint">
            One SELECT over the accelerated store; <code>'$START_DATE'</code> and <code>'$END_DATE'</code> take the date filter ({dashboard.dateRange ? `${dashboard.dateRange.start} – ${dashboard.dateRange.end}` : 'last 30 days'}).
          </p>
          <SqlEditor value={sql} onChange={setSql} onRun={run} schema={{}} />
          <div className="row">
            <button type="button" onClick={run}>
              Run SQL (Ctrl+Enter)
            </button>
            {ranSql !== null && ranSql !== sql && <span className="hint">The SQL changed: run it again before saving.</span>}
          </div>
          {columns.length > 0 && (
            <div className="row" aria-label="Encoding">
              {columnSelect('X', encoding.x, (v) => setEncoding({ ...encoding, x: v || undefined }))}
              {columnSelect('Y', encoding.y?.[0], (v) => setEncoding({ ...encoding, y: v ? [v] : undefined }))}
              {columnSelect('Color', encoding.color, (v) => setEncoding({ ...encoding, color: v || undefined }))}
              {columnSelect('Size (donut)', encoding.size, (v) => setEncoding({ ...encoding, size: v || undefined }))}
              {columnSelect('Value (big number)', encoding.value, (v) => setEncoding({ ...encoding, value: v || undefined }))}
            </div>
          )}
          {dashboard.filters.length > 0 && (
            <fieldset>
              <legend>Global filters</legend>
              {dashboard.filters.map((f) => {
                const link = links.find((l) => l.filterId === f.id);
                const set = (next: { column?: string; param?: string } | null) => setLinks([...links.filter((l) => l.filterId !== f.id), ...(next ? [{ filterId: f.id, ...next }] : [])]);
                return (
                  <div className="row" key={f.id}>
                    <span>{f.label}</span>
                    <label>
                      Result column
                      <input value={link?.column ?? ''} onChange={(e) => set(e.target.value ? { column: e.target.value } : null)} />
                    </label>
                    <label>
                      or $PARAM
                      <input value={link?.param ?? ''} onChange={(e) => set(e.target.value ? { param: e.target.value } : null)} />
                    </label>
                  </div>
                );
              })}
            </fieldset>
          )}
        </div>
      )}
      <div className="row">
        <Select label="Marks" value={marks} options={(pro ? PRO_MARKS : GUIDED_MARKS)} onChange={(v) => setMarks(v || marks)} />
        <Select label="Legend placement" value={legend?.placement ?? ''} options={PLACEMENTS} onChange={(v) => setLegend(v ? { ...legend, placement: v } : undefined)} empty="automatic" />
        <label>
          Legend title
          <input value={legend?.title ?? ''} disabled={!legend} onChange={(e) => legend && setLegend({ ...legend, title: e.target.value })} />
        </label>
        <label>
          X axis label
          <input value={axis.x ?? ''} onChange={(e) => setAxis({ ...axis, x: e.target.value })} />
        </label>
        <label>
          Y axis label
          <input value={axis.y ?? ''} onChange={(e) => setAxis({ ...axis, y: e.target.value })} />
        </label>
      </div>
      <ErrorBox error={error} />
      <div className="preview" aria-label="Preview" aria-live="polite">
        {preview && body ? (
          <>
            <WidgetBody widget={body} data={preview} height={280} />
            <details>
              <summary>SQL that ran ({preview.rows.length} rows, {Math.round(preview.ms)} ms)</summary>
              <pre>{preview.sql}</pre>
            </details>
          </>
        ) : (
          <Empty>{pro ? 'Write a SELECT and run it to see the preview and pick the encoding.' : 'Choose a table, then an X and a Y attribute: the preview draws as you go.'}</Empty>
        )}
      </div>
      <div className="row">
        <button type="button" onClick={() => void save()} disabled={!body || saving || (pro && ranSql !== sql)}>
          {saving ? 'Saving…' : 'Save and close'}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </section>
  );
}
