/**
 * Queries: the SQL editor (highlighting, completion of datasets and fields), the results grid, the query log,
 * templates with parameters, and schedules with their run history.
 */
import { useState } from 'react';
import type { ScreenProps } from '../App.tsx';
import type { Json } from '../api.ts';
import { SqlEditor } from '../components/SqlEditor.tsx';
import { DataTable, ErrorBox, Loading, useAsync } from '../components/ui.tsx';

interface StatementResult {
  columns?: { name: string; type: string }[];
  rows?: Json[];
  rowCount?: number;
  message?: string;
}

const STARTER = 'SELECT * FROM ';

export default function Queries({ client, can }: ScreenProps) {
  const [text, setText] = useState(STARTER);
  const [result, setResult] = useState<{ last: StatementResult; durationMs: number } | null>(null);
  const [error, setError] = useState<unknown>();
  const [running, setRunning] = useState(false);
  const catalog = useAsync(async () => {
    const { datasets } = await client.get<{ datasets: { tableName: string }[] }>('/datasets');
    return Object.fromEntries(datasets.map((d) => [d.tableName, [] as string[]]));
  }, []);
  const log = useAsync(() => client.get<{ queries: Json[] }>('/queries?limit=20').then((r) => r.queries), [result]);
  const templates = useAsync(() => client.get<{ templates: Json[] }>('/query-templates').then((r) => r.templates), []);
  const schedules = useAsync(() => client.get<{ schedules: Json[] }>('/schedules').then((r) => r.schedules), []);
  const run = async () => {
    setRunning(true);
    setError(undefined);
    try {
      setResult(await client.post('/queries', { sql: text, limit: 500 }));
    } catch (e) {
      setResult(null);
      setError(e);
    } finally {
      setRunning(false);
    }
  };
  return (
    <div>
      <h2>Queries</h2>
      <section>
        {catalog.data ? <SqlEditor value={text} onChange={setText} onRun={() => void run()} schema={catalog.data} /> : <Loading what="datasets" />}
        <div className="row">
          <button type="button" onClick={() => void run()} disabled={running}>
            {running ? 'Running…' : 'Run (Ctrl+Enter)'}
          </button>
          {result && (
            <span data-testid="query-status">
              {result.last.rowCount ?? result.last.rows?.length ?? 0} rows in {Math.round(result.durationMs)} ms {result.last.message ?? ''}
            </span>
          )}
        </div>
        <ErrorBox error={error} />
        {result?.last.rows && <DataTable rows={result.last.rows} columns={result.last.columns?.map((c) => c.name)} caption="Results" />}
      </section>
      <section>
        <h3>Query log</h3>
        <DataTable rows={(log.data ?? []).map((q) => ({ started: q.startedAt, status: q.status, rows: q.rowCount, ms: q.durationMs, sql: q.sql, error: q.errorCode }))} />
      </section>
      <section>
        <h3>Templates</h3>
        <DataTable rows={(templates.data ?? []).map((t) => ({ id: t.id, name: t.name, sql: t.sql }))} />
      </section>
      <section>
        <h3>Schedules</h3>
        <DataTable rows={(schedules.data ?? []).map((s) => ({ id: s.id, name: s.name, state: s.state, next: (s.schedule as Json).nextRunAt, job: (s.job as Json | null)?.kind ?? '' }))} />
        {!can('query:write') && <p className="hint">Your role can read schedules; a data engineer creates them.</p>}
      </section>
    </div>
  );
}
