/**
 * Dataset routes: create from a schema, list, read rows (optionally one snapshot), write records as a snapshot,
 * and the snapshot history.
 */
import { Type } from 'typebox';
import { DatasetBody, DatasetView, RecordsBody, SnapshotView, WriteResult } from '../../catalog/payloads.ts';
import type { Platform } from '../../platform/platform.ts';
import type { JsonRecord } from '../../ports/warehouse.ts';
import type { App } from '../app.ts';

const tags = ['datasets'];
const read = { action: 'dataset:read' as const };
const write = { action: 'dataset:write' as const };
const IdParams = Type.Object({ id: Type.String({ description: 'Dataset id, name or table name' }) });

export function datasetRoutes(app: App, platform: Platform): void {
  const { datasets } = platform;
  app.get('/datasets', { config: read, schema: { tags, response: { 200: Type.Object({ datasets: Type.Array(DatasetView) }) } } }, async (req) => ({
    datasets: await datasets.list(req.sandbox),
  }));
  app.post('/datasets', { config: write, schema: { tags, summary: 'Create a dataset from a schema', body: DatasetBody, response: { 201: DatasetView } } }, async (req, reply) =>
    reply.status(201).send(await datasets.create(req.principal, req.sandbox, req.body)),
  );
  app.get('/datasets/:id', { config: read, schema: { tags, params: IdParams, response: { 200: DatasetView } } }, async (req) => datasets.get(req.sandbox, req.params.id));
  app.delete('/datasets/:id', { config: write, schema: { tags, params: IdParams } }, async (req, reply) => {
    await datasets.delete(req.principal, req.sandbox, req.params.id);
    return reply.status(204).send();
  });
  app.post(
    '/datasets/:id/records',
    { config: write, schema: { tags, summary: 'Write records as one snapshot (all or nothing)', params: IdParams, body: RecordsBody, response: { 201: WriteResult } } },
    async (req, reply) => reply.status(201).send(await datasets.write(req.principal, req.sandbox, req.params.id, req.body.records as JsonRecord[], req.body.batchId)),
  );
  app.get(
    '/datasets/:id/records',
    {
      config: read,
      schema: {
        tags,
        summary: 'Read records in write order',
        params: IdParams,
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          offset: Type.Optional(Type.Integer({ minimum: 0 })),
          snapshotId: Type.Optional(Type.Integer({ minimum: 1 })),
        }),
        response: { 200: Type.Object({ records: Type.Array(Type.Record(Type.String(), Type.Unknown())) }) },
      },
    },
    async (req) => ({ records: await datasets.read(req.sandbox, req.params.id, req.query) }),
  );
  app.get(
    '/datasets/:id/snapshots',
    { config: read, schema: { tags, summary: 'Snapshot history (what history_meta() returns)', params: IdParams, response: { 200: Type.Object({ snapshots: Type.Array(SnapshotView) }) } } },
    async (req) => ({ snapshots: await datasets.snapshots(req.sandbox, req.params.id) }),
  );
}
