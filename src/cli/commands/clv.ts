/**
 * `roundtrip clv …`: fit a CLV model on a CSV file or a dataset and print its parameters, log-likelihood and
 * diagnostics; predict customers (optionally into the `clv_predictions` dataset); compute historical
 * attributes and deciles (or print their statement for a schedule); list the model registry. `--input FILE`
 * sends the file's text to the same API the server offers, so the CLI and HTTP give the same numbers.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { RoundtripError } from '../../core/errors.ts';
import type { CliContext } from '../context.ts';
import type { Printer, Row } from '../output.ts';

interface InputFlags {
  input?: string;
  dataset?: string;
  format?: string;
  customerId?: string;
  datetime?: string;
  monetary?: string;
  category?: string;
  alive?: string;
  periods?: string;
}

interface WindowFlags {
  unit?: string;
  period?: string;
  calibrationEnd?: string;
  observationEnd?: string;
  holdoutLength?: string;
}

const number = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new RoundtripError('RT_REQUEST_INVALID', `${flag} takes a number, not "${value}".`);
  return n;
};

/** Drops undefined values so the request body only names what was given. */
const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

function inputBody(f: InputFlags): Record<string, unknown> {
  if (Boolean(f.input) === Boolean(f.dataset)) throw new RoundtripError('RT_REQUEST_INVALID', 'Give --input FILE or --dataset NAME.');
  return defined({
    ...(f.input ? { csv: readFileSync(f.input, 'utf8') } : { dataset: f.dataset }),
    format: f.format,
    customerId: f.customerId,
    datetime: f.datetime,
    monetary: f.monetary,
    category: f.category,
    alive: f.alive,
    periods: f.periods === undefined ? undefined : Number(f.periods),
  });
}

function windowBody(f: WindowFlags): Record<string, unknown> | undefined {
  const w = defined({ unit: f.unit, period: f.period, calibrationEnd: f.calibrationEnd, observationEnd: f.observationEnd, holdoutLength: f.holdoutLength === undefined ? undefined : Number(f.holdoutLength) });
  return Object.keys(w).length ? w : undefined;
}

function inputOptions(command: Command): Command {
  return command
    .option('--input <file>', 'CSV file with a header row (transactions, a summary, or a retention curve)')
    .option('--dataset <name>', 'dataset holding the transactions')
    .option('--format <format>', 'transactions, summary or survival (default: from the header)')
    .option('--customer-id <col>', 'customer id column')
    .option('--datetime <col>', 'purchase time column (date, timestamp, ISO text or YYYYMMDD)')
    .option('--monetary <col>', 'purchase value column')
    .option('--alive <col>', 'survival input: customers still active at the start of each period')
    .option('--periods <n>', 'survival input: fit on periods 1..n');
}

function windowOptions(command: Command): Command {
  return command
    .option('--unit <unit>', 'time unit of recency, age and parameters: day, week, month, year (default week)')
    .option('--period <unit>', 'purchases in one period count once: day, week, month, year (default day)')
    .option('--calibration-end <date>', 'last day of the calibration window (YYYY-MM-DD); later purchases are the holdout')
    .option('--observation-end <date>', 'last day of data used (default: the latest purchase)')
    .option('--holdout-length <n>', 'summary input with a holdout column: its length in --unit');
}

const fixed = (v: unknown, digits = 4) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(digits)) : v === null || v === undefined ? '' : JSON.stringify(v));

type Fit = {
  modelId: string | null;
  title: string;
  params: Record<string, number>;
  standardErrors: Record<string, number | null>;
  logLikelihood: number;
  observations: number;
  rows: number;
  unit: string;
  seconds: number;
  diagnostics: Record<string, unknown>;
};
type Table = Row[];

/** Parameters, log-likelihood and every diagnostic the fit carries, as text. */
export function printFit(fit: Fit, out: Printer): void {
  console.log(`${fit.title}${fit.modelId ? `  (model ${fit.modelId})` : ''}`);
  out.rows(Object.entries(fit.params).map(([name, value]) => ({ parameter: name, value: fixed(value, 6), 'std. error': fixed(fit.standardErrors[name], 6) })));
  console.log(`log-likelihood ${fit.logLikelihood.toFixed(3)} on ${fit.observations} observations (${fit.rows} distinct rows), time unit ${fit.unit}, ${fit.seconds.toFixed(2)} s`);
  const d = fit.diagnostics as Record<string, { bins?: Table; points?: Table; survival?: Table } & Record<string, unknown>>;
  if (d.calibration) {
    console.log('\nCalibration period: customers by repeat purchases');
    out.rows(d.calibration.bins!.map((b) => ({ ...b, actual: fixed(b.actual, 1), expected: fixed(b.expected, 1) })));
    console.log(`chi-square ${fixed(d.calibration.chiSquare, 2)} on ${String(d.calibration.degreesOfFreedom)} df (p = ${fixed(d.calibration.pValue, 3)})`);
  }
  if (d.holdout) {
    console.log(`\nHoldout (${fixed(d.holdout.duration, 2)} ${fit.unit}s): mean purchases per customer by calibration frequency`);
    out.rows(d.holdout.bins!.map((b) => ({ frequency: b.frequency, customers: b.customers, actual: fixed(b.actualMean), predicted: fixed(b.predictedMean) })));
    console.log(`total actual ${fixed(d.holdout.actualTotal, 1)}, predicted ${fixed(d.holdout.predictedTotal, 1)} (${fixed(100 * Number(d.holdout.relativeError), 1)} %); correlation ${fixed(d.holdout.correlation, 3)}`);
  }
  if (d.tracking) {
    const points = d.tracking.points!;
    const last = points[points.length - 1]!;
    console.log(`\nCumulative repeat purchases at ${fit.unit} ${String(last.period)}: actual ${fixed(last.actual, 0)}, expected ${fixed(last.expected, 1)} (${fixed(100 * Number(d.tracking.finalRelativeError), 1)} %)`);
  }
  if (fit.diagnostics.correlation !== undefined && !d.calibration) {
    const g = fit.diagnostics;
    console.log(`corr(frequency, spend) ${fixed(g.correlation, 4)} (threshold ${fixed(g.correlationThreshold, 2)}); mean observed spend ${fixed(g.meanObservedSpend, 2)}, population mean ${fixed(g.populationMeanSpend, 2)}`);
  }
  if (d.survival) {
    console.log('\nSurvival: actual against fitted (holdout periods marked)');
    out.rows(d.survival.survival!.map((r) => ({ period: r.period, actual: fixed(r.actual), fitted: fixed(r.fitted), holdout: r.holdout ? 'yes' : '' })));
  }
}

export function clvCommands(program: Command, ctx: CliContext): void {
  const clv = program.command('clv').description('Customer lifetime value: fit models, predict, historical attributes and deciles');

  windowOptions(inputOptions(clv.command('fit').description('Fit a CLV model and print its parameters, log-likelihood and diagnostics')))
    .requiredOption('--model <model>', 'bgnbd, pnbd, mbgnbd, gg, bgbb or sbg')
    .option('--penalizer <x>', 'L2 penalty on the parameters (default 0)', number('--penalizer'))
    .option('--max-correlation <x>', 'gg: refuse above this |corr(frequency, spend)| (default 0.3)', number('--max-correlation'))
    .option('--no-save', 'do not keep the fit in the model registry')
    .action((opts: InputFlags & WindowFlags & { model: string; penalizer?: number; maxCorrelation?: number; save: boolean }) =>
      ctx.withClient(async (api, out) => {
        const body = defined({ model: opts.model, input: inputBody(opts), window: windowBody(opts), penalizer: opts.penalizer, maxCorrelation: opts.maxCorrelation, save: opts.save });
        const fit = await api.request<Fit>('POST', '/clv/fit', body);
        if (out.json) out.value(fit);
        else printFit(fit, out);
      }),
    );

  windowOptions(inputOptions(clv.command('predict').description('Predict purchases, P(alive), spend and CLV per customer; --output writes the prediction dataset')))
    .option('--model-id <id>', 'a registered transaction model (else --model is fitted on the input)')
    .option('--model <model>', 'bgnbd, pnbd, mbgnbd or bgbb (default bgnbd)')
    .option('--spend-model-id <id>', 'a registered Gamma-Gamma model (else one is fitted)')
    .option('--horizon <n>', 'horizon in --horizon-unit steps (default 12)', number('--horizon'))
    .option('--horizon-unit <unit>', 'day, week, month or year (default month)')
    .option('--discount-rate <x>', 'per horizon step (default 0.01)', number('--discount-rate'))
    .option('--margin <x>', 'profit margin on spend (default 1)', number('--margin'))
    .option('--output <dataset>', 'write a profile-enabled dataset (e.g. clv_predictions)')
    .option('--namespace <code>', 'identity namespace of the customer id (default CRMID)')
    .option('--limit <n>', 'customers to print, highest CLV first (default 20)', number('--limit'))
    .action(
      (
        opts: InputFlags &
          WindowFlags & { modelId?: string; model?: string; spendModelId?: string; horizon?: number; horizonUnit?: string; discountRate?: number; margin?: number; output?: string; namespace?: string; limit?: number },
      ) =>
        ctx.withClient(async (api, out) => {
          const body = defined({
            input: inputBody(opts),
            window: windowBody(opts),
            modelId: opts.modelId,
            model: opts.model,
            spendModelId: opts.spendModelId,
            horizon: opts.horizon,
            horizonUnit: opts.horizonUnit,
            discountRate: opts.discountRate,
            margin: opts.margin,
            output: opts.output ? defined({ dataset: opts.output, namespace: opts.namespace }) : undefined,
            limit: opts.limit,
          });
          const result = await api.request<{ modelId: string | null; spendModelId: string | null; totals: Record<string, number>; customers: Row[]; output: Row | null; horizon: Row; seconds: number }>('POST', '/clv/predict', body);
          if (out.json) return out.value(result);
          const h = result.horizon;
          console.log(`Horizon ${String(h.horizon)} ${String(h.horizonUnit)}s, discount ${String(h.discountRate)} per ${String(h.horizonUnit)}; models ${result.modelId ?? '(not saved)'} / ${result.spendModelId ?? '(not saved)'}`);
          out.rows(result.customers.map((c) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, fixed(v, 3)]))));
          const t = result.totals;
          console.log(`${t.customers} customers: ${fixed(t.expectedPurchases, 1)} expected purchases, mean P(alive) ${fixed(t.meanProbabilityAlive, 3)}, total CLV ${fixed(t.predictedClv, 2)} (${result.seconds.toFixed(2)} s)`);
          if (result.output) console.log(`Wrote ${String(result.output.rowCount)} rows to ${String(result.output.dataset)} (snapshot ${String(result.output.snapshotId)})`);
        }),
    );

  clv
    .command('attributes')
    .description('Historical revenue, orders, AOV and recency per lookback window, and decile maps per category, into a profile-enabled dataset')
    .requiredOption('--dataset <name>', 'dataset holding the transactions')
    .option('--customer-id <col>', 'customer id column')
    .option('--datetime <col>', 'purchase time column')
    .option('--monetary <col>', 'purchase value column')
    .option('--category <col>', 'ranking category, e.g. loyalty tier (default: one group)')
    .option('--as-of <date>', 'first day not included (YYYY-MM-DD, default CURRENT_DATE)')
    .option('--output <dataset>', 'dataset to write (default clv_attributes)')
    .option('--namespace <code>', 'identity namespace of the customer id (default CRMID)')
    .option('--sql', 'print the INSERT statement (to save as a query template and schedule) instead of running it')
    .action((opts: InputFlags & { asOf?: string; output?: string; namespace?: string; sql?: boolean }) =>
      ctx.withClient(async (api, out) => {
        const body = defined({
          input: inputBody(opts),
          asOf: opts.asOf,
          output: opts.output || opts.namespace ? defined({ dataset: opts.output, namespace: opts.namespace }) : undefined,
          sqlOnly: opts.sql,
        });
        const result = await api.request<{ sql: string; output: Row | null }>('POST', '/clv/attributes', body);
        if (out.json) return out.value(result);
        if (opts.sql) console.log(result.sql);
        else if (result.output) console.log(`Wrote ${String(result.output.rowCount)} rows to ${String(result.output.dataset)} (query ${String(result.output.queryId)})`);
      }),
    );

  clv
    .command('models')
    .description('The model registry, newest first')
    .option('--model <model>', 'only this model')
    .option('--limit <n>', 'how many', '20')
    .action((opts: { model?: string; limit: string }) =>
      ctx.withClient(async (api, out) => {
        const query = new URLSearchParams(defined({ model: opts.model, limit: opts.limit }) as Record<string, string>);
        const { models } = await api.request<{ models: (Fit & { createdAt: string; model: string })[] }>('GET', `/clv/models?${query.toString()}`);
        out.rows(
          models.map((m) => ({ id: m.modelId, model: m.model, createdAt: m.createdAt, logLikelihood: fixed(m.logLikelihood, 3), observations: m.observations, params: Object.entries(m.params).map(([k, v]) => `${k}=${v.toFixed(4)}`).join(' ') })),
        );
      }),
    );

  clv
    .command('model <id>')
    .description('One fitted model: parameters, data snapshot and diagnostics')
    .action((id: string) =>
      ctx.withClient(async (api, out) => {
        const fit = await api.request<Fit & { source: unknown }>('GET', `/clv/models/${encodeURIComponent(id)}`);
        if (out.json) return out.value(fit);
        printFit(fit, out);
        console.log(`\nData: ${JSON.stringify(fit.source)}`);
      }),
    );
}
