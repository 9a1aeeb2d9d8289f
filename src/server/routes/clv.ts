/**
 * CLV routes: fit a model (into the registry), predict customers (optionally writing the profile-enabled
 * `clv_predictions` dataset), compute historical attributes and deciles (or return their INSERT statement for
 * a query schedule), and read the model registry. The routes need `clv:read`; the service asks for
 * `clv:write` when a call saves a model or writes a dataset.
 */
import { Type } from 'typebox';
import { AttributesBody, FitBody, FitView, HorizonView, ModelListQuery, PredictBody } from '../../clv/payloads.ts';
import { fitView } from '../../clv/registry.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const tags = ['clv'];
const read = { action: 'clv:read' as const };
const Json = Type.Record(Type.String(), Type.Unknown());
const PredictView = Type.Object({
  modelId: Type.Union([Type.String(), Type.Null()]),
  spendModelId: Type.Union([Type.String(), Type.Null()]),
  transactionModel: FitView,
  spendModel: FitView,
  horizon: HorizonView,
  totals: Type.Object({ customers: Type.Number(), expectedPurchases: Type.Number(), meanProbabilityAlive: Type.Number(), predictedClv: Type.Number() }),
  customers: Type.Array(Json),
  output: Type.Union([Type.Object({ datasetId: Type.String(), dataset: Type.String(), snapshotId: Type.Integer(), rowCount: Type.Integer() }), Type.Null()]),
  seconds: Type.Number(),
  timings: Type.Record(Type.String(), Type.Number(), { description: 'Seconds per part: summary, fit, predict, write' }),
});
const AttributesView = Type.Object({
  sql: Type.String({ description: 'The INSERT statement; save it as a query template to schedule it' }),
  output: Type.Union([Type.Object({ datasetId: Type.String(), dataset: Type.String(), rowCount: Type.Integer(), queryId: Type.String() }), Type.Null()]),
});

export function clvRoutes(app: App, platform: Platform): void {
  const clv = platform.clv;
  app.post(
    '/clv/fit',
    { config: read, schema: { tags, summary: 'Fit a CLV model (bgnbd, pnbd, mbgnbd, gg, bgbb, sbg) with diagnostics; saved to the registry unless save=false (clv:write)', body: FitBody, response: { 200: FitView } } },
    async (req) => clv.fit(req.principal, req.sandbox, req.body),
  );
  app.post(
    '/clv/predict',
    {
      config: read,
      schema: {
        tags,
        summary: 'Predict purchases, P(alive), spend and CLV per customer; with output, write the profile-enabled prediction dataset (clv:write)',
        body: PredictBody,
        response: { 200: PredictView },
      },
    },
    async (req) => clv.predict(req.principal, req.sandbox, req.body),
  );
  app.post(
    '/clv/attributes',
    {
      config: read,
      schema: {
        tags,
        summary: 'Historical CLV attributes and decile maps per lookback window into a profile-enabled dataset (clv:write), or the statement to schedule (sqlOnly)',
        body: AttributesBody,
        response: { 200: AttributesView },
      },
    },
    async (req) => clv.attributes(req.principal, req.sandbox, req.body),
  );
  app.get(
    '/clv/models',
    { config: read, schema: { tags, summary: 'Fitted models in the registry, newest first', querystring: ModelListQuery, response: { 200: Type.Object({ models: Type.Array(FitView) }) } } },
    async (req) => ({ models: (await clv.models.list(req.sandbox, req.query)).map(fitView) }),
  );
  app.get(
    '/clv/models/:id',
    { config: read, schema: { tags, summary: 'One fitted model: parameters, data snapshot, diagnostics', params: Type.Object({ id: Type.String() }), response: { 200: FitView } } },
    async (req) => fitView(await clv.models.get(req.sandbox, req.params.id)),
  );
}
