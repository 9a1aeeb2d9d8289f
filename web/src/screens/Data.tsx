/**
 * Data: datasets (rows, snapshots, batches, failed records with their reasons, file upload with progress),
 * schemas, and streaming connections with their live counts.
 */
import { useState } from 'react';
import type { ScreenProps } from '../App.tsx';
import type { Json } from '../api.ts';
import { DataTable, Empty, ErrorBox, Loading, Progress, useAsync } from '../components/ui.tsx';

interface Dataset {
  id: string;
  name: string;
  tableName: string;
  schemaId: string;
  profileEnabled: boolean;
  lastSnapshotId: number;
  createdAt: string;
}

const FORMATS: Record<string, string> = { csv: 'csv', json: 'json', jsonl: 'jsonl', ndjson: 'jsonl', parquet: 'parquet' };

function Upload({ client, dataset, onDone }: ScreenProps & { dataset: Dataset; onDone: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [status, setStatus] = useState<Json | null>(null);
  const [error, setError] = useState<unknown>();
  const run = async () => {
    if (!file) return;
    setError(undefined);
    try {
      const format = FORMATS[file.name.split('.').pop()?.toLowerCase() ?? ''] ?? 'csv';
      const batch = await client.post<{ id: string }>('/data/foundation/import/batches', { datasetId: dataset.id, inputFormat: { format } });
      setProgress(0);
      await client.upload(`/data/foundation/import/batches/${batch.id}/datasets/${dataset.id}/files/${encodeURIComponent(file.name)}`, file, setProgress);
      await client.post(`/data/foundation/import/batches/${batch.id}?action=COMPLETE`);
      for (let i = 0; i < 600; i++) {
        const current = await client.get(`/data/foundation/import/batches/${batch.id}`);
        setStatus(current);
        if (current.status === 'success' || current.status === 'failed') break;
        await new Promise((r) => setTimeout(r, 500));
      }
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div className="row">
      <label>
        Upload a file (CSV, JSON, JSON Lines, Parquet)
        <input type="file" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
      </label>
      <button type="button" disabled={!file} onClick={() => void run()}>
        Ingest
      </button>
      {progress !== null && <Progress fraction={progress} label="Upload" />}
      {status && (
        <span data-testid="batch-status">
          Batch {String(status.status)}: {String(status.rowsWritten)} written, {String(status.rowsRejected)} rejected
        </span>
      )}
      <ErrorBox error={error} />
    </div>
  );
}

function DatasetDetail({ client, can, dataset }: ScreenProps & { dataset: Dataset }) {
  const [tab, setTab] = useState<'rows' | 'snapshots' | 'batches' | 'failed'>('rows');
  const loaders = {
    rows: () => client.get<{ records: Json[] }>(`/datasets/${dataset.id}/records?limit=100`).then((r) => r.records),
    snapshots: () => client.get<{ snapshots: Json[] }>(`/datasets/${dataset.id}/snapshots`).then((r) => r.snapshots),
    batches: () => client.get<{ batches: Json[] }>(`/data/foundation/import/batches?datasetId=${dataset.id}`).then((r) => r.batches),
    failed: () => client.get<{ records: Json[] }>(`/failed-records?datasetId=${dataset.id}&limit=100`).then((r) => r.records),
  };
  const rows = useAsync(loaders[tab], [dataset.id, tab]);
  return (
    <section aria-label={`Dataset ${dataset.name}`}>
      <h3>
        {dataset.name} <small>({dataset.tableName})</small>
      </h3>
      <div className="tabs" role="tablist">
        {(['rows', 'snapshots', 'batches', 'failed'] as const).map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>
            {t === 'failed' ? 'failed records' : t}
          </button>
        ))}
      </div>
      <ErrorBox error={rows.error} />
      {rows.loading ? <Loading what={tab} /> : <DataTable rows={rows.data ?? []} />}
      {can('dataset:write') && <Upload client={client} can={can} dataset={dataset} onDone={rows.reload} />}
    </section>
  );
}

export default function Data(props: ScreenProps) {
  const { client } = props;
  const datasets = useAsync(() => client.get<{ datasets: Dataset[] }>('/datasets').then((r) => r.datasets), []);
  const schemas = useAsync(() => client.get<{ schemas: Json[] }>('/schemas').then((r) => r.schemas), []);
  const connections = useAsync(() => client.get<{ connections: Json[] }>('/streaming/connections').then((r) => r.connections), []);
  const stats = useAsync(() => client.get('/streaming/stats'), []);
  const [selected, setSelected] = useState<string | null>(null);
  const dataset = datasets.data?.find((d) => d.id === selected);
  return (
    <div>
      <h2>Data</h2>
      <section>
        <h3>Datasets</h3>
        <ErrorBox error={datasets.error} />
        {datasets.data?.length === 0 && <Empty>No datasets yet: create a schema and a dataset (`roundtrip dataset create`), or run `npm run demo`.</Empty>}
        <ul className="datasets">
          {datasets.data?.map((d) => (
            <li key={d.id}>
              <button type="button" onClick={() => setSelected(d.id)} aria-pressed={selected === d.id}>
                {d.name}
              </button>{' '}
              <small>
                {d.tableName} · {d.lastSnapshotId} snapshots{d.profileEnabled ? ' · profile' : ''}
              </small>
            </li>
          ))}
        </ul>
      </section>
      {dataset && <DatasetDetail {...props} dataset={dataset} />}
      <section>
        <h3>Schemas</h3>
        <ErrorBox error={schemas.error} />
        <DataTable rows={(schemas.data ?? []).map((s) => ({ id: s.id, title: s.title, class: s.class ?? s['meta:class'], version: s.version }))} />
      </section>
      <section>
        <h3>Streaming connections</h3>
        <ErrorBox error={connections.error} />
        <DataTable rows={(connections.data ?? []).map((c) => ({ id: c.id, name: c.name, kind: c.kind, datasets: c.datasetIds ?? c.datasetId }))} />
        {stats.data && (
          <p>
            Accepted {String(stats.data.acceptedRecords)} · applied {String(stats.data.appliedRecords)} · failed {String(stats.data.failedRecords)}{' '}
            <button type="button" onClick={stats.reload}>
              Refresh
            </button>
          </p>
        )}
      </section>
    </div>
  );
}
