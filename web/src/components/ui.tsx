/**
 * Small building blocks every screen uses: loading and error states that show the platform's error code, empty
 * states that say what to do next, a sortable results table, and a hook that runs an API call.
 */
import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError } from '../api.ts';

export interface AsyncState<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when the dependencies change; `reload` runs it again. */
export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: Error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : 'RT_CONSOLE';
  return (
    <div role="alert" className="error">
      <strong>{code}</strong> {(error as Error).message}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function Loading({ what }: { what: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      Loading {what}…
    </div>
  );
}

export function Progress({ fraction, label }: { fraction: number; label: string }) {
  return (
    <div className="progress">
      <progress max={1} value={fraction} aria-label={label} /> {Math.round(fraction * 100)}%
    </div>
  );
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Rows as a table; click a header to sort by it (numbers numerically). */
export function DataTable({ rows, columns, defaultSort, caption }: { rows: Record<string, unknown>[]; columns?: string[]; defaultSort?: { column: string; descending?: boolean }; caption?: string }) {
  const names = useMemo(() => columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))], [rows, columns]);
  const [sort, setSort] = useState(defaultSort ?? null);
  const sorted = useMemo(() => {
    if (!sort) return rows;
    const direction = sort.descending ? -1 : 1;
    return [...rows].sort((a, b) => {
      const x = a[sort.column];
      const y = b[sort.column];
      if (typeof x === 'number' && typeof y === 'number') return (x - y) * direction;
      return cellText(x).localeCompare(cellText(y)) * direction;
    });
  }, [rows, sort]);
  if (rows.length === 0) return <Empty>No rows.</Empty>;
  return (
    <div className="table-wrap">
      <table>
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>
            {names.map((name) => (
              <th key={name} aria-sort={sort?.column === name ? (sort.descending ? 'descending' : 'ascending') : 'none'}>
                <button type="button" onClick={() => setSort({ column: name, descending: sort?.column === name ? !sort.descending : false })}>
                  {name}
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {sorted.map((row, i) => (
            <tr key={i}>
              {names.map((name) => (
                <td key={name}>{cellText(row[name])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
