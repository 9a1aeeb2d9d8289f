/**
 * Insights (reference §9): the dashboard inventory (create in guided or query pro mode, rename, duplicate,
 * delete), a dashboard's widgets on the 12-column grid (move, resize, the 10-widget cap), the date filter and
 * global filters a viewer sets, the widget composer, and CSV / PNG / PDF exports.
 */
import { useState, type FormEvent } from 'react';
import type { Static } from 'typebox';
import type { DashboardSummary } from '../../../src/dashboards/payloads.ts';
import type { ScreenProps } from '../App.tsx';
import type { Client } from '../api.ts';
import { DashboardGrid, dataQuery, type Dashboard, type WidgetT } from '../components/DashboardGrid.tsx';
import { downloadFile } from '../components/download.ts';
import { Empty, ErrorBox, Loading, useAsync } from '../components/ui.tsx';
import { WidgetComposer } from '../components/WidgetComposer.tsx';

type Summary = Static<typeof DashboardSummary>;

function CreateDashboard({ client, onCreated }: { client: Client; onCreated: (id: string) => void }) {
  const [name, setName] = useState('');
  const [mode, setMode] = useState<'guided' | 'query-pro'>('guided');
  const [error, setError] = useState<unknown>();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const created = await client.post<Dashboard>('/dashboards', { name, mode });
      setName('');
      onCreated(created.id);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <form className="row" onSubmit={(e) => void submit(e)} aria-label="Create dashboard">
      <label>
        Dashboard name
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. CLV of spring buyers" />
      </label>
      <label>
        Creation method
        <select aria-label="Creation method" value={mode} onChange={(e) => setMode(e.target.value as 'guided' | 'query-pro')}>
          <option value="guided">Guided design mode</option>
          <option value="query-pro">Query pro mode (SQL)</option>
        </select>
      </label>
      <button type="submit" disabled={!name.trim()}>
        Create dashboard
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

/** A global filter's combo box: its query's choices, several may be chosen. */
function FilterBox({ client, dashboard, filter, value, onChange }: { client: Client; dashboard: Dashboard; filter: Dashboard['filters'][number]; value: unknown[]; onChange: (v: unknown[]) => void }) {
  const values = useAsync(() => client.get<{ values: { id: unknown; value: unknown }[] }>(`/dashboards/${dashboard.id}/filters/${filter.id}/values`).then((r) => r.values), [dashboard.id, filter.id, filter.sql]);
  return (
    <label>
      {filter.label}
      <select multiple value={value.map(String)} onChange={(e) => onChange([...e.target.selectedOptions].map((o) => values.data?.find((v) => String(v.id) === o.value)?.id ?? o.value))}>
        {(values.data ?? []).map((v) => (
          <option key={String(v.id)} value={String(v.id)}>
            {String(v.value)}
          </option>
        ))}
      </select>
      <ErrorBox error={values.error} />
    </label>
  );
}

function AddGlobalFilter({ client, dashboard, onSaved }: { client: Client; dashboard: Dashboard; onSaved: () => void }) {
  const [draft, setDraft] = useState({ id: '', label: '', sql: '' });
  const [error, setError] = useState<unknown>();
  const save = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await client.patch(`/dashboards/${dashboard.id}`, { filters: [...dashboard.filters, draft] });
      setDraft({ id: '', label: '', sql: '' });
      onSaved();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <details>
      <summary>Add global filter</summary>
      <form className="row" onSubmit={(e) => void save(e)}>
        <label>
          Id
          <input value={draft.id} onChange={(e) => setDraft({ ...draft, id: e.target.value })} placeholder="audience" />
        </label>
        <label>
          Filter label
          <input value={draft.label} onChange={(e) => setDraft({ ...draft, label: e.target.value })} />
        </label>
        <label>
          SQL returning id and value
          <textarea className="sql" value={draft.sql} onChange={(e) => setDraft({ ...draft, sql: e.target.value })} />
        </label>
        <button type="submit" disabled={!draft.id || !draft.label || !draft.sql}>
          Add filter
        </button>
      </form>
      <ErrorBox error={error} />
    </details>
  );
}

function DashboardPage({ client, id, editable, onGone }: { client: Client; id: string; editable: boolean; onGone: () => void }) {
  const [tick, setTick] = useState(0);
  const dashboard = useAsync(() => client.get<Dashboard>(`/dashboards/${id}`), [id, tick]);
  const [composing, setComposing] = useState<WidgetT | 'new' | null>(null);
  const [range, setRange] = useState({ start: '', end: '' });
  const [chosen, setChosen] = useState<Record<string, unknown[]>>({});
  const [error, setError] = useState<unknown>();
  const [message, setMessage] = useState('');
  const reload = () => setTick((t) => t + 1);
  const d = dashboard.data;
  if (dashboard.error) return <ErrorBox error={dashboard.error} />;
  if (!d) return <Loading what="the dashboard" />;
  const act = (work: () => Promise<unknown>) => () => {
    setError(undefined);
    work().then(reload, setError);
  };
  const rename = act(async () => {
    const name = window.prompt('New name of the dashboard', d.name);
    if (name && name !== d.name) await client.patch(`/dashboards/${d.id}`, { name });
  });
  const duplicate = act(async () => {
    const copy = await client.post<Dashboard>(`/dashboards/${d.id}/duplicate`, {});
    setMessage(`Duplicated as “${copy.name}”.`);
  });
  const remove = () => {
    if (!window.confirm(`Delete the dashboard “${d.name}” and its ${d.widgets.length} widgets?`)) return;
    client.del(`/dashboards/${d.id}`).then(onGone, setError);
  };
  const full = d.widgets.length >= d.maxWidgets;
  const query = dataQuery(range, chosen);
  return (
    <section aria-label={`Dashboard ${d.name}`}>
      <div className="row spread">
        <h3>
          {d.name} <small>{d.mode === 'query-pro' ? 'query pro mode' : 'guided design mode'}</small>
        </h3>
        <span data-testid="widget-count">
          {d.widgets.length} / {d.maxWidgets} widgets
        </span>
      </div>
      <div className="row">
        {editable && (
          <>
            <button type="button" onClick={() => setComposing('new')} disabled={full || composing !== null} title={full ? `A dashboard holds at most ${d.maxWidgets} widgets` : undefined}>
              Add widget
            </button>
            <button type="button" onClick={rename}>
              Rename
            </button>
            <button type="button" onClick={duplicate}>
              Duplicate
            </button>
            <button type="button" className="danger" onClick={remove}>
              Delete
            </button>
          </>
        )}
        <button type="button" onClick={act(() => downloadFile(client, `/dashboards/${d.id}/export${query ? `?${query}` : ''}`, `${d.name}.pdf`))}>
          Export PDF
        </button>
        {full && <span className="hint">Widget limit reached ({d.maxWidgets}): delete one to add another.</span>}
      </div>
      <div className="row" aria-label="Filters">
        <label>
          Start date
          <input type="date" value={range.start} onChange={(e) => setRange({ ...range, start: e.target.value })} />
        </label>
        <label>
          End date
          <input type="date" value={range.end} onChange={(e) => setRange({ ...range, end: e.target.value })} />
        </label>
        {d.filters.map((f) => (
          <FilterBox key={f.id} client={client} dashboard={d} filter={f} value={chosen[f.id] ?? f.selected ?? []} onChange={(v) => setChosen({ ...chosen, [f.id]: v })} />
        ))}
        {Object.keys(chosen).length > 0 && (
          <button type="button" onClick={() => setChosen({})}>
            Clear all
          </button>
        )}
        {editable && d.mode === 'query-pro' && <AddGlobalFilter client={client} dashboard={d} onSaved={reload} />}
      </div>
      {message && <p role="status">{message}</p>}
      <ErrorBox error={error} />
      {composing && <WidgetComposer client={client} dashboard={d} widget={composing === 'new' ? null : composing} onSaved={() => (setComposing(null), reload())} onCancel={() => setComposing(null)} />}
      <DashboardGrid client={client} dashboard={d} query={query} editable={editable} onEdit={(w) => setComposing(w)} onChanged={reload} />
      {editable && d.widgets.length > 0 && <p className="hint">Drag a widget, use its arrow buttons, or focus it and press the arrow keys to move it (Shift + arrows resizes).</p>}
    </section>
  );
}

export default function Insights({ client, can }: ScreenProps) {
  const [tick, setTick] = useState(0);
  const list = useAsync(() => client.get<{ dashboards: Summary[] }>('/dashboards').then((r) => r.dashboards), [tick]);
  const [selected, setSelected] = useState<string | null>(() => window.location.hash.split('/')[2] ?? null);
  const editable = can('dashboard:write');
  const open = (id: string | null) => {
    setSelected(id);
    history.replaceState(null, '', id ? `#/insights/${id}` : '#/insights');
  };
  return (
    <div>
      <h2>Insights</h2>
      <section aria-label="Dashboards">
        <h3>Dashboards</h3>
        <ErrorBox error={list.error} />
        {list.data?.length === 0 && <Empty>No dashboards found. Create one below: guided mode builds widgets from a data model, query pro mode from your SQL.</Empty>}
        {list.data && list.data.length > 0 && (
          <div className="card-list">
            {list.data.map((d) => (
              <button key={d.id} type="button" className="card" aria-pressed={d.id === selected} onClick={() => open(d.id)}>
                <strong>{d.name}</strong>
                <span>
                  {d.mode} · {d.widgetCount} widgets{d.standard ? ' · standard' : ''}
                </span>
              </button>
            ))}
          </div>
        )}
        {editable && (
          <CreateDashboard
            client={client}
            onCreated={(id) => {
              setTick((t) => t + 1);
              open(id);
            }}
          />
        )}
      </section>
      {selected ? (
        <DashboardPage
          key={`${selected}:${tick}`}
          client={client}
          id={selected}
          editable={editable}
          onGone={() => {
            open(null);
            setTick((t) => t + 1);
          }}
        />
      ) : (
        list.data && list.data.length > 0 && <Empty>Choose a dashboard to see its widgets{editable ? ', or create one' : ''}.</Empty>
      )}
      {!editable && <p className="hint">Your role views dashboards; analysts and marketers build them.</p>}
    </div>
  );
}
