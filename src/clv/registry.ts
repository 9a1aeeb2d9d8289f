/**
 * The CLV model registry: every saved fit with its parameters, the data it came from (dataset and snapshot, or
 * an uploaded file's digest; columns; time unit and window), its diagnostics and when it was made. Prediction
 * rows carry the ids of the models that made them, so any number in `clv_predictions` leads back here.
 */
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { ClvModelRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { JsonValue } from '../ports/warehouse.ts';
import type { FitResult } from './fit.ts';
import { modelTitle } from './models/index.ts';
import type { ModelName, Params } from './models/types.ts';
import type { FitViewT } from './payloads.ts';
import type { TimeUnit } from './units.ts';

/** What the registry keeps of a fit, besides its source and diagnostics. */
export interface StoredFit {
  params: Params;
  standardErrors: Record<string, number | null>;
  logLikelihood: number;
  observations: number;
  rows: number;
  penalizer: number;
  converged: boolean;
  seconds: number;
  /** Time unit of the parameters and merge period of the summary they were fitted on. */
  unit: TimeUnit;
  period: TimeUnit;
}

export interface FittedModel {
  id: string | null;
  model: ModelName;
  fit: StoredFit;
  source: { [key: string]: JsonValue };
  diagnostics: { [key: string]: JsonValue };
  createdAt: string;
}

export function storedFit(result: FitResult, unit: TimeUnit, period: TimeUnit): StoredFit {
  const { params, standardErrors, logLikelihood, observations, rows, penalizer, converged, seconds } = result;
  return { params, standardErrors, logLikelihood, observations, rows, penalizer, converged, seconds, unit, period };
}

export class ClvModels {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly clock: Clock,
  ) {}

  async save(actor: string, sandbox: string, model: Omit<FittedModel, 'id' | 'createdAt'>): Promise<FittedModel> {
    const record: ClvModelRecord = {
      sandbox,
      id: newId('clv'),
      model: model.model,
      fit: model.fit as unknown as JsonValue,
      source: model.source,
      diagnostics: model.diagnostics,
      createdBy: actor,
      createdAt: isoNow(this.clock),
    };
    await this.metadata.clvModels.create(record);
    return this.fromRecord(record);
  }

  async get(sandbox: string, id: string): Promise<FittedModel> {
    const record = await this.metadata.clvModels.get(sandbox, id);
    if (!record) throw new RoundtripError('RT_CLV_MODEL_NOT_FOUND', `No CLV model ${id} in this sandbox; \`roundtrip clv models\` lists them.`);
    return this.fromRecord(record);
  }

  async list(sandbox: string, filter: { model?: string; limit?: number } = {}): Promise<FittedModel[]> {
    return (await this.metadata.clvModels.list(sandbox, filter)).map((r) => this.fromRecord(r));
  }

  private fromRecord(record: ClvModelRecord): FittedModel {
    return {
      id: record.id,
      model: record.model as ModelName,
      fit: record.fit as unknown as StoredFit,
      source: record.source as { [key: string]: JsonValue },
      diagnostics: record.diagnostics as { [key: string]: JsonValue },
      createdAt: record.createdAt,
    };
  }
}

/** The API's view of a fitted model (saved or not). */
export function fitView(model: FittedModel): FitViewT {
  const { fit } = model;
  return {
    modelId: model.id,
    model: model.model,
    title: modelTitle(model.model),
    params: fit.params,
    standardErrors: fit.standardErrors,
    logLikelihood: fit.logLikelihood,
    observations: fit.observations,
    rows: fit.rows,
    penalizer: fit.penalizer,
    converged: fit.converged,
    seconds: fit.seconds,
    unit: fit.unit,
    source: model.source,
    diagnostics: model.diagnostics,
    createdAt: model.createdAt,
  };
}
