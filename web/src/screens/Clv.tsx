/**
 * CLV: fitted models with their diagnostics as charts (calibration histogram: actual against expected customers
 * per repeat-purchase count; holdout tracking), the predicted-CLV decile distribution and the top customers.
 */
import { useState } from 'react';
import type { Static } from 'typebox';
import type { FitView } from '../../../src/clv/payloads.ts';
import type { ScreenProps } from '../App.tsx';
import type { Json } from '../api.ts';
import { Chart } from '../components/Chart.tsx';
import { DataTable, Empty, ErrorBox, useAsync } from '../components/ui.tsx';

type Fit = Static<typeof FitView>;
interface Bin {
  frequency: string;
  actual: number;
  expected: number;
}

function barsOf(bins: Bin[], x: string): Record<string, unknown> {
  return {
    tooltip: {},
    legend: {},
    xAxis: { type: 'category', name: x, data: bins.map((b) => b.frequency) },
    yAxis: { type: 'value', name: 'customers' },
    series: [
      { name: 'actual', type: 'bar', data: bins.map((b) => b.actual) },
      { name: 'model', type: 'bar', data: bins.map((b) => Math.round(b.expected)) },
    ],
  };
}

function Diagnostics({ fit }: { fit: Fit }) {
  const calibration = (fit.diagnostics as { calibration?: { bins: Bin[]; chiSquare: number; pValue: number } }).calibration;
  const holdout = (fit.diagnostics as { holdout?: { bins: { frequency: string; actual: number; predicted: number }[]; relativeError: number } }).holdout;
  return (
    <section aria-label={`Model ${fit.modelId ?? fit.model}`}>
      <h3>
        {fit.title} <small>{fit.modelId}</small>
      </h3>
      <div className="kv">
        {Object.entries(fit.params).map(([name, value]) => (
          <span key={name}>
            {name} = {value.toPrecision(4)}
          </span>
        ))}
        <span>log-likelihood {fit.logLikelihood.toFixed(2)}</span>
      </div>
      {calibration ? (
        <>
          <Chart label="Calibration histogram" option={barsOf(calibration.bins, 'repeat purchases')} />
          <p>
            χ² = {calibration.chiSquare.toFixed(2)}, p = {calibration.pValue.toFixed(3)}
          </p>
        </>
      ) : (
        <Empty>No calibration histogram for this model.</Empty>
      )}
      {holdout && (
        <Chart
          label="Holdout: actual against predicted purchases by calibration frequency"
          option={{
            tooltip: {},
            legend: {},
            xAxis: { type: 'category', data: holdout.bins.map((b) => b.frequency), name: 'calibration purchases' },
            yAxis: { type: 'value', name: 'holdout purchases per customer' },
            series: [
              { name: 'actual', type: 'line', data: holdout.bins.map((b) => b.actual) },
              { name: 'predicted', type: 'line', data: holdout.bins.map((b) => b.predicted) },
            ],
          }}
        />
      )}
    </section>
  );
}

export default function Clv({ client }: ScreenProps) {
  const models = useAsync(() => client.get<{ models: Fit[] }>('/clv/models?limit=20').then((r) => r.models), []);
  const [selected, setSelected] = useState<string | null>(null);
  const deciles = useAsync(async () => {
    const { datasets } = await client.get<{ datasets: { tableName: string }[] }>('/datasets');
    if (!datasets.some((d) => d.tableName === 'clv_predictions')) return null;
    return client
        .post<{ last: { rows: Json[] } }>('/queries', {
          sql: 'SELECT _roundtrip.clvPrediction.clvDecile AS decile, count(*) AS customers, round(sum(_roundtrip.clvPrediction.predictedClv), 2) AS predicted_clv FROM clv_predictions WHERE _rt_snapshot_id = (SELECT max(_rt_snapshot_id) FROM clv_predictions) GROUP BY 1 ORDER BY 1',
        })
        .then((r) => r.last.rows);
  }, []);
  const fit = models.data?.find((m) => m.modelId === selected) ?? models.data?.[0];
  return (
    <div>
      <h2>Customer lifetime value</h2>
      <ErrorBox error={models.error} />
      {models.data?.length === 0 && <Empty>No fitted models yet: run `roundtrip clv fit` or `npm run demo`.</Empty>}
      <div className="row">
        {models.data?.map((m) => (
          <button key={m.modelId ?? m.createdAt} type="button" aria-pressed={m === fit} onClick={() => setSelected(m.modelId)}>
            {m.model} · {new Date(m.createdAt).toLocaleString()}
          </button>
        ))}
      </div>
      {fit && <Diagnostics fit={fit} />}
      <section aria-label="Predicted CLV by decile">
        <h3>Predicted CLV by decile</h3>
        <ErrorBox error={deciles.error} />
        {deciles.data === null ? (
          <Empty>No predictions yet: `POST /clv/predict` with `output: {'{'} dataset: "clv_predictions" {'}'}` writes them.</Empty>
        ) : (
          <>
            <Chart
              label="Predicted CLV by decile"
              option={{
                tooltip: {},
                xAxis: { type: 'category', name: 'decile (1 = top)', data: (deciles.data ?? []).map((d) => d.decile) },
                yAxis: { type: 'value', name: 'predicted CLV' },
                series: [{ name: 'predicted CLV', type: 'bar', data: (deciles.data ?? []).map((d) => d.predicted_clv) }],
              }}
            />
            <DataTable rows={deciles.data ?? []} />
          </>
        )}
      </section>
    </div>
  );
}
