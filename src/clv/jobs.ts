/**
 * CLV work that schedules can run (reference §6.1: "schedule it like a query"): `clv.predict` refits the models
 * on the latest transactions and rewrites the prediction dataset; `clv.attributes` recomputes the historical
 * attributes and deciles. Parameters are the bodies of `POST /clv/predict` and `POST /clv/attributes`, checked
 * when the schedule is created.
 */
import { assertValid } from '../core/validation.ts';
import type { JobKind } from '../platform/jobs.ts';
import { AttributesBody, PredictBody, type AttributesRequest, type PredictRequest } from './payloads.ts';
import type { ClvService } from './service.ts';

const predictParams = (params: unknown): PredictRequest => assertValid<PredictRequest>(PredictBody, params, 'RT_SCHEDULE_INVALID', 'job.params');
const attributeParams = (params: unknown): AttributesRequest => assertValid<AttributesRequest>(AttributesBody, params, 'RT_SCHEDULE_INVALID', 'job.params');

export function clvJobKinds(clv: ClvService): JobKind[] {
  return [
    {
      kind: 'clv.predict',
      description: 'Fit the transaction and spend models on the latest data and write the predictions (POST /clv/predict body)',
      validate: (params) => void predictParams(params),
      run: async ({ principal, sandbox, params }) => {
        const outcome = await clv.predict(principal, sandbox, predictParams(params));
        const written = outcome.output ? ` into ${outcome.output.dataset} (snapshot ${outcome.output.snapshotId})` : '';
        return {
          rowCount: outcome.output?.rowCount ?? outcome.totals.customers,
          message: `Predicted ${outcome.totals.customers} customers with models ${outcome.modelId ?? '-'} / ${outcome.spendModelId ?? '-'}${written}.`,
        };
      },
    },
    {
      kind: 'clv.attributes',
      description: 'Recompute historical CLV attributes and decile buckets (POST /clv/attributes body)',
      validate: (params) => void attributeParams(params),
      run: async ({ principal, sandbox, params }) => {
        const outcome = await clv.attributes(principal, sandbox, attributeParams(params));
        return { rowCount: outcome.output?.rowCount ?? null, message: outcome.output ? `Wrote ${outcome.output.dataset}.` : 'Computed the attribute statement.' };
      },
    },
  ];
}
