/**
 * The CLV service: the jobs behind `/clv/*` and `roundtrip clv`.
 * - `fit`: summary in the warehouse → maximum-likelihood fit → diagnostics → the model registry;
 * - `predict`: a registered (or freshly fitted) transaction model and Gamma-Gamma model → expected purchases,
 *   P(alive), expected spend, CLV and its decile per customer, optionally written to a profile-enabled,
 *   upserted dataset (`clv_predictions`) whose rows name the models that made them;
 * - `attributes`: historical revenue/orders/AOV/recency per lookback window and decile maps per category,
 *   written through the query service as `INSERT INTO clv_attributes SELECT …`, the same statement a query
 *   schedule can run (`sqlOnly` returns it).
 * Every job runs on one warehouse session (its temp tables) and closes it, and is audited.
 */
import { authorize, type Principal } from '../access/principal.ts';
import type { AuditLog } from '../access/audit.ts';
import { tableNameFor, type Datasets } from '../catalog/datasets.ts';
import type { SchemaRegistry } from '../catalog/schema-registry.ts';
import type { Properties } from '../catalog/xdm/fields.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { DatasetRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { JsonRecord, SandboxWarehouse, Warehouse, WarehouseSession } from '../ports/warehouse.ts';
import type { QueryService } from '../query/query-service.ts';
import { fitRetention, fitSpend, fitTransactions, readPatterns, readSpendRows, type Fitted } from './fitting.ts';
import { buildSummary, openInput, survivalCurve, transactionColumns, transactionRelation, windowOf, type OpenedInput, type SourceInfo, type SummaryInfo } from './inputs.ts';
import { isTransactionModel, TRANSACTION_MODELS, type TransactionModelName } from './models/index.ts';
import type { GammaGammaParams } from './models/gamma-gamma.ts';
import type { AttributesRequest, FitRequest, FitViewT, InputSpec, PredictRequest } from './payloads.ts';
import { computePredictions, PREDICTION_FIELDS, predictionRowsSql, topPredictions, type PredictionTotals } from './predictions.ts';
import { ClvModels, fitView, type FittedModel } from './registry.ts';
import { attributesSql, LOOKBACK_WINDOWS } from './sql/attributes.ts';
import { quoteIdent } from './sql/common.ts';
import { checkHorizon, type HorizonOptions } from './value.ts';

export interface ClvDeps {
  metadata: MetadataStore;
  warehouse: Warehouse;
  datasets: Datasets;
  registry: SchemaRegistry;
  queries: QueryService;
  audit: AuditLog;
  clock: Clock;
  /** Tenant id: dataset fields go under `_<tenant>`. */
  tenant: string;
}

export interface PredictionOutcome {
  modelId: string | null;
  spendModelId: string | null;
  transactionModel: FitViewT;
  spendModel: FitViewT;
  horizon: HorizonOptions;
  totals: PredictionTotals;
  customers: JsonRecord[];
  output: { datasetId: string; dataset: string; snapshotId: number; rowCount: number } | null;
  seconds: number;
  /** Seconds per part of the job: summary, fit (both models), predict, write. */
  timings: Record<string, number>;
}

export interface AttributesOutcome {
  sql: string;
  output: { datasetId: string; dataset: string; rowCount: number; queryId: string } | null;
}

const DEFAULT_NAMESPACE = 'CRMID';

function invalid(message: string): RoundtripError {
  return new RoundtripError('RT_CLV_INPUT_INVALID', message);
}

export class ClvService {
  readonly models: ClvModels;

  constructor(private readonly deps: ClvDeps) {
    this.models = new ClvModels(deps.metadata, deps.clock);
  }

  private get tenantKey(): string {
    return `_${this.deps.tenant}`;
  }

  /** Runs `work` on one session with the input opened; always closes both. */
  private async withInput<T>(sandbox: string, input: InputSpec, work: (session: WarehouseSession, opened: OpenedInput, warehouse: SandboxWarehouse) => Promise<T>): Promise<T> {
    const warehouse = await this.deps.warehouse.sandbox(sandbox);
    const session = await warehouse.openSession();
    try {
      const opened = await openInput(warehouse, session, this.deps.datasets, sandbox, input);
      try {
        return await work(session, opened, warehouse);
      } finally {
        await opened.close();
      }
    } catch (error) {
      if (error instanceof RoundtripError && error.code === 'RT_WAREHOUSE_FAILED') throw invalid(`The warehouse refused the CLV query: ${error.message}`);
      throw error;
    } finally {
      session.close();
    }
  }

  /** Fits one model on the input and, unless `save` is false, keeps it in the registry. */
  async fit(principal: Principal, sandbox: string, request: FitRequest): Promise<FitViewT> {
    const save = request.save ?? true;
    authorize(principal, save ? 'clv:write' : 'clv:read', sandbox);
    const window = { ...windowOf(request.window), ...(request.window?.holdoutLength ? { holdoutLength: request.window.holdoutLength } : {}) };
    const { fitted, source } = await this.withInput(sandbox, request.input, async (session, opened) => {
      if (request.model === 'sbg') {
        const curve = await survivalCurve(session, opened, request.input);
        return { fitted: fitRetention(curve, request.input.periods, request.window?.unit ?? 'year', { penalizer: request.penalizer }), source: { ...opened.source, format: 'survival' } };
      }
      const info = await buildSummary(session, opened, request.input, window, { needMonetary: request.model === 'gg', withTracking: true });
      const fitted =
        request.model === 'gg'
          ? await fitSpend(session, info, { penalizer: request.penalizer, maxCorrelation: request.maxCorrelation })
          : await fitTransactions(session, request.model, info, { penalizer: request.penalizer });
      return { fitted, source: sourceOf(opened, info, window) };
    });
    const model = save ? await this.models.save(principal.id, sandbox, { ...fitted, source }) : { ...fitted, source, id: null, createdAt: isoNow(this.deps.clock) };
    await this.deps.audit.record(principal, { sandbox, action: 'clv.fit', resourceType: 'clv-model', resourceId: model.id ?? '-', details: { model: model.model, logLikelihood: model.fit.logLikelihood } });
    return fitView(model);
  }

  /** Predicts every customer of the input; with `output`, writes the prediction dataset. */
  async predict(principal: Principal, sandbox: string, request: PredictRequest): Promise<PredictionOutcome> {
    const writing = Boolean(request.output);
    authorize(principal, writing ? 'clv:write' : 'clv:read', sandbox);
    const started = performance.now();
    const stored = request.modelId ? await this.models.get(sandbox, request.modelId) : undefined;
    const storedSpend = request.spendModelId ? await this.models.get(sandbox, request.spendModelId) : undefined;
    if (stored && !isTransactionModel(stored.model)) throw invalid(`Model ${stored.id} is a ${stored.model} model; predictions need a transaction model (bgnbd, pnbd, mbgnbd, bgbb).`);
    if (storedSpend && storedSpend.model !== 'gg') throw invalid(`Model ${storedSpend.id} is a ${storedSpend.model} model; spendModelId needs a Gamma-Gamma (gg) model.`);
    const name = (stored?.model ?? request.model ?? 'bgnbd') as TransactionModelName;
    // Predictions start from the end of the data: the summary is built in the model's own unit and period.
    const window = windowOf({ ...request.window, unit: stored?.fit.unit ?? request.window?.unit, period: stored?.fit.period ?? request.window?.period });
    const horizon: HorizonOptions = {
      horizon: request.horizon ?? 12,
      horizonUnit: request.horizonUnit ?? 'month',
      discountRate: request.discountRate ?? 0.01,
      modelUnit: window.unit,
      margin: request.margin ?? 1,
    };
    checkHorizon(horizon);
    if (TRANSACTION_MODELS[name].discrete && horizon.horizonUnit !== window.unit) {
      throw invalid(`BG/BB counts whole opportunities: give the horizon in the model's unit (${window.unit}).`);
    }
    return this.withInput(sandbox, request.input, async (session, opened, warehouse) => {
      const timings: Record<string, number> = {};
      let lap = performance.now();
      const stage = () => {
        const now = performance.now();
        const seconds = (now - lap) / 1000;
        lap = now;
        return seconds;
      };
      const info = await buildSummary(session, opened, request.input, window, { needMonetary: true });
      timings.summary = stage();
      const patterns = await readPatterns(session, TRANSACTION_MODELS[name].discrete);
      const transaction =
        stored ?? (await this.keep(principal, sandbox, writing, await fitTransactions(session, name, info, { penalizer: request.penalizer, calibrationOnly: true }, patterns), sourceOf(opened, info, window)));
      const spendRows = await readSpendRows(session);
      const spend =
        storedSpend ?? (await this.keep(principal, sandbox, writing, await fitSpend(session, info, { penalizer: request.penalizer, maxCorrelation: request.maxCorrelation }, spendRows), sourceOf(opened, info, window)));
      timings.fit = stage();
      const totals = await computePredictions(session, warehouse, TRANSACTION_MODELS[name], transaction.fit.params, spend.fit.params as unknown as GammaGammaParams, horizon, patterns, spendRows);
      const customers = await topPredictions(session, request.limit ?? 20);
      timings.predict = stage();
      const output = request.output ? await this.writePredictions(principal, sandbox, session, request.output, { modelId: transaction.id!, spendModelId: spend.id!, timeUnit: window.unit, horizon }) : null;
      timings.write = stage();
      await this.deps.audit.record(principal, {
        sandbox,
        action: 'clv.predict',
        resourceType: 'clv-model',
        resourceId: transaction.id ?? '-',
        details: { spendModelId: spend.id, customers: totals.customers, datasetId: output?.datasetId ?? null },
      });
      return {
        modelId: transaction.id,
        spendModelId: spend.id,
        transactionModel: fitView(transaction),
        spendModel: fitView(spend),
        horizon,
        totals,
        customers,
        output,
        seconds: (performance.now() - started) / 1000,
        timings,
      };
    });
  }

  /** A fit made inside a prediction job: saved when the job writes (so rows can name it), else kept in memory. */
  private async keep(principal: Principal, sandbox: string, save: boolean, fitted: Fitted, source: SourceInfo): Promise<FittedModel> {
    if (save) return this.models.save(principal.id, sandbox, { ...fitted, source });
    return { ...fitted, source, id: null, createdAt: isoNow(this.deps.clock) };
  }

  private async writePredictions(
    principal: Principal,
    sandbox: string,
    session: WarehouseSession,
    output: NonNullable<PredictRequest['output']>,
    stamp: { modelId: string; spendModelId: string; timeUnit: string; horizon: HorizonOptions },
  ): Promise<NonNullable<PredictionOutcome['output']>> {
    const dataset = await this.ensureDataset(principal, sandbox, output.dataset ?? 'clv_predictions', 'CLV predictions', PREDICTION_FIELDS, output.namespace);
    const written = await this.deps.datasets.appendWith(principal, sandbox, dataset, newId('clv_batch'), async ({ table, stamp: write }) => {
      const system = `${write.snapshotId}::BIGINT AS "_rt_snapshot_id", '${write.batchId}' AS "_rt_batch_id", now() AS "_rt_ingested_at"`;
      const inserted = await session.query(`INSERT INTO ${quoteIdent(table)} BY NAME SELECT *, ${system} FROM (${predictionRowsSql(this.tenantKey, stamp)}) AS __rows`);
      return Number(Object.values(inserted.rows[0] ?? {})[0] ?? 0);
    });
    return { datasetId: dataset.id, dataset: dataset.name, snapshotId: written.snapshotId, rowCount: written.rowCount };
  }

  /** The derived dataset, created on first use: Individual Profile class, profile-enabled, upserted, keyed by the customer id. */
  private async ensureDataset(principal: Principal, sandbox: string, name: string, title: string, fields: object, namespace = DEFAULT_NAMESPACE): Promise<DatasetRecord> {
    const existing = (await this.deps.metadata.datasets.getByName(sandbox, name)) ?? (await this.deps.metadata.datasets.getByTable(sandbox, tableNameFor(name)));
    if (existing) return existing;
    const schema = await this.deps.registry.createSchema(principal, sandbox, {
      title: `${title}: ${name}`,
      class: 'profile',
      fields: fields as Properties,
      identities: [{ path: `${this.tenantKey}.customerId`, namespace, primary: true }],
    });
    return this.deps.datasets.create(principal, sandbox, { name, schemaId: schema.id, profileEnabled: true, identityEnabled: true, upsert: true });
  }

  /**
   * Historical attributes and decile maps. Runs `INSERT INTO <dataset> <select>` through the query service
   * (logged like any query); `sqlOnly` returns that statement for a query template or schedule instead.
   */
  async attributes(principal: Principal, sandbox: string, request: AttributesRequest): Promise<AttributesOutcome> {
    authorize(principal, request.sqlOnly ? 'clv:read' : 'clv:write', sandbox);
    if (!request.input.dataset) throw invalid('Historical attributes are computed from a dataset (so the statement can be scheduled); load the CSV into one first.');
    const select = await this.withInput(sandbox, request.input, async (session, opened) => {
      const columns = transactionColumns(opened, request.input, true);
      const relation = await transactionRelation(session, opened, columns);
      return attributesSql({ ...relation, monetary: relation.monetary! }, { asOf: request.asOf ?? 'CURRENT_DATE', tenantKey: this.tenantKey });
    });
    const datasetName = request.output?.dataset ?? 'clv_attributes';
    const sql = `INSERT INTO ${tableNameFor(datasetName)}\n${select}`;
    if (request.sqlOnly) return { sql, output: null };
    const dataset = await this.ensureDataset(principal, sandbox, datasetName, 'CLV attributes', attributeFields(), request.output?.namespace);
    const outcome = await this.deps.queries.execute(principal, sandbox, sql, { executionClass: 'batch', client: 'api', label: 'clv attributes', maxRows: 0 });
    await this.deps.audit.record(principal, { sandbox, action: 'clv.attributes', resourceType: 'dataset', resourceId: dataset.id, details: { queryId: outcome.queryId, rows: outcome.last.rowCount } });
    return { sql, output: { datasetId: dataset.id, dataset: dataset.name, rowCount: outcome.last.rowCount, queryId: outcome.queryId } };
  }
}

/** What the registry records about the data of a fit. */
function sourceOf(opened: OpenedInput, info: SummaryInfo, window: { unit: string; period: string; calibrationEnd?: string; observationEnd?: string }): SourceInfo {
  return {
    ...opened.source,
    format: opened.format,
    columns: info.columns,
    window: { ...window },
    holdoutLength: info.holdoutLength,
    calibrationEnd: info.calibrationEnd,
  };
}

/** Fields of the attributes dataset (under the tenant object), in the order the SELECT builds them. */
function attributeFields(): Properties {
  const window = {
    type: 'object',
    properties: {
      revenue: { type: 'number' },
      orders: { type: 'integer' },
      averageOrderValue: { type: 'number' },
      daysSinceLastOrder: { type: 'integer' },
    },
  };
  return {
    customerId: { type: 'string', description: 'Customer id (the primary identity)' },
    asOf: { type: 'string', format: 'date', description: 'Windows end the day before this date' },
    clvHistory: { type: 'object', properties: Object.fromEntries(LOOKBACK_WINDOWS.map((w) => [w.history, window])) },
    decilesRevenue: { $ref: 'deciles' },
    decilesOrders: { $ref: 'deciles' },
  } as unknown as Properties;
}
