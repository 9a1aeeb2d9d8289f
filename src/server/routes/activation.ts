/**
 * Activation routes: dataflows (the activation wizard as an API), runs now and their history, retries, and the
 * data usage labels the review step checks. Reads need `audience:read` (like destinations and campaigns);
 * changes and runs need `activation:write`.
 */
import { Type } from 'typebox';
import { LABEL_POLICIES, MARKETING_ACTIONS } from '../../activation/governance.ts';
import { DataflowBody, DataflowView, LabelsBody, RunRequestBody, RunView } from '../../activation/payloads.ts';
import type { StoredDataflow, StoredRun } from '../../activation/service.ts';
import type { DocumentRecord } from '../../ports/metadata-store.ts';
import type { JsonValue } from '../../ports/warehouse.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const tags = ['activation'];
const read = { action: 'audience:read' as const };
const write = { action: 'activation:write' as const };
const Id = Type.Object({ id: Type.String() });
const RunId = Type.Object({ id: Type.String(), runId: Type.String() });
const LabelsView = Type.Object({ fields: Type.Record(Type.String(), Type.Array(Type.String())), namespaces: Type.Record(Type.String(), Type.Array(Type.String())) });

type Doc<T> = DocumentRecord<T & { [key: string]: JsonValue }>;

function dataflowView(d: Doc<StoredDataflow>) {
  const { mappedAt: _mappedAt, ...body } = d.body;
  return { id: d.id, ...body, deduplication: body.deduplication ?? null, version: d.version, createdAt: d.createdAt, updatedAt: d.updatedAt };
}

function runView(r: Doc<StoredRun>) {
  return { id: r.id, ...r.body };
}

export function activationRoutes(app: App, platform: Platform): void {
  const activation = platform.activation;
  app.get(
    '/activation/dataflows',
    { config: read, schema: { tags, summary: 'Activation dataflows of the sandbox, newest first', response: { 200: Type.Object({ dataflows: Type.Array(DataflowView) }) } } },
    async (req) => ({ dataflows: (await activation.list(req.sandbox)).map(dataflowView) }),
  );
  app.post(
    '/activation/dataflows',
    {
      config: write,
      schema: {
        tags,
        summary: 'Create a dataflow: destination, audiences with a schedule each, fields (mandatory, hashed, mapped), deduplication keys; refused on a data usage policy violation',
        body: DataflowBody,
        response: { 201: DataflowView },
      },
    },
    async (req, reply) => reply.code(201).send(dataflowView(await activation.create(req.principal, req.sandbox, req.body))),
  );
  app.get('/activation/dataflows/:id', { config: read, schema: { tags, summary: 'One dataflow', params: Id, response: { 200: DataflowView } } }, async (req) => dataflowView(await activation.get(req.sandbox, req.params.id)));
  app.put(
    '/activation/dataflows/:id',
    {
      config: write,
      schema: { tags, summary: 'Replace a dataflow (same checks as create); `version` makes it compare-and-set', params: Id, querystring: Type.Object({ version: Type.Optional(Type.Integer({ minimum: 1 })) }), body: DataflowBody, response: { 200: DataflowView } },
    },
    async (req) => dataflowView(await activation.update(req.principal, req.sandbox, req.params.id, req.body, req.query.version)),
  );
  app.delete('/activation/dataflows/:id', { config: write, schema: { tags, summary: 'Delete a dataflow with its run history (the activation log keeps its rows)', params: Id } }, async (req, reply) => {
    await activation.delete(req.principal, req.sandbox, req.params.id);
    return reply.code(204).send();
  });
  app.post(
    '/activation/dataflows/:id/runs',
    { config: write, schema: { tags, summary: 'Run the dataflow now (every audience, or the given ones) and return the run', params: Id, body: Type.Optional(RunRequestBody), response: { 200: RunView } } },
    async (req) => runView(await activation.runNow(req.principal, req.sandbox, req.params.id, req.body ?? {})),
  );
  app.get(
    '/activation/dataflows/:id/runs',
    {
      config: read,
      schema: { tags, summary: 'Run history: profiles exported, skipped by reason, failed, files, bytes, duration, error code', params: Id, querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }), response: { 200: Type.Object({ runs: Type.Array(RunView) }) } },
    },
    async (req) => ({ runs: (await activation.runs(req.sandbox, req.params.id, req.query.limit)).map(runView) }),
  );
  app.get('/activation/dataflows/:id/runs/:runId', { config: read, schema: { tags, summary: 'One run', params: RunId, response: { 200: RunView } } }, async (req) => runView(await activation.getRun(req.sandbox, req.params.id, req.params.runId)));
  app.post(
    '/activation/dataflows/:id/runs/:runId/retry',
    { config: write, schema: { tags, summary: 'Retry a failed run: same slot and file names; audiences already delivered are not sent again', params: RunId, response: { 200: RunView } } },
    async (req) => runView(await activation.retry(req.principal, req.sandbox, req.params.id, req.params.runId)),
  );
  app.get('/activation/governance/labels', { config: read, schema: { tags, summary: 'Data usage labels on fields and identity namespaces', response: { 200: LabelsView } } }, async (req) => activation.labels(req.sandbox));
  app.put(
    '/activation/governance/labels',
    { config: write, schema: { tags, summary: 'Replace the data usage labels (checked by every dataflow review and run)', body: LabelsBody, response: { 200: LabelsView } } },
    async (req) => activation.setLabels(req.principal, req.sandbox, req.body),
  );
  app.get(
    '/activation/governance/policies',
    {
      config: read,
      schema: {
        tags,
        summary: 'The labels, what each forbids, and the marketing actions',
        response: { 200: Type.Object({ labels: Type.Record(Type.String(), Type.Object({ meaning: Type.String(), forbids: Type.Array(Type.String()) })), marketingActions: Type.Array(Type.String()) }) },
      },
    },
    () => Promise.resolve({ labels: Object.fromEntries(Object.entries(LABEL_POLICIES).map(([k, v]) => [k, { meaning: v.meaning, forbids: [...v.forbids] }])), marketingActions: [...MARKETING_ACTIONS] }),
  );
}
