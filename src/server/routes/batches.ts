/**
 * Batch ingestion routes, in the shape of Adobe's batch API (`/data/foundation/import/batches…`): create a
 * batch, upload files (whole with PUT, or INITIALIZE + ordered PATCH chunks + COMPLETE), COMPLETE or ABORT the
 * batch, poll and list it. Also the failed records (list and JSON Lines download) and the per-dataset
 * ingestion overview. Uploads are `application/octet-stream` bodies streamed to disk, never buffered whole.
 */
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import { RoundtripError } from '../../core/errors.ts';
import { batchView } from '../../ingest/batch/batch-ingestion.ts';
import { ingestionOverview } from '../../ingest/batch/overview.ts';
import {
  BatchBody,
  BatchIdParams,
  BatchListQuery,
  BatchView,
  FailedRecordsPage,
  FailedRecordsQuery,
  FileParams,
  FileView,
  IngestionOverview,
  type FailedRecordsFilterInput,
  type FailedRecordViewT,
} from '../../ingest/batch/payloads.ts';
import { parseContentRange } from '../../ingest/batch/uploads.ts';
import type { FailedRecordFilter } from '../../ingest/failed-records.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';

const tags = ['batch ingestion'];
const read = { action: 'dataset:read' as const };
const write = { action: 'dataset:write' as const };
const BATCHES = '/data/foundation/import/batches';
const FILE = `${BATCHES}/:batchId/datasets/:datasetId/files/:fileName`;
const DOWNLOAD_PAGE = 10_000;

function single(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}

/** Uploads are raw bytes; a body another parser has read (JSON, text) is not the file. */
function assertRawBody(contentType: string | undefined): void {
  if (!contentType?.toLowerCase().startsWith('application/octet-stream')) {
    throw new RoundtripError('RT_UNSUPPORTED_MEDIA_TYPE', 'Send batch files as `Content-Type: application/octet-stream`.');
  }
}

export function batchRoutes(app: App, platform: Platform): void {
  const batches = platform.batchIngestion;

  /** Failed-record filters with the dataset given by id or name. */
  const failedFilter = async (sandbox: string, query: FailedRecordsFilterInput): Promise<FailedRecordFilter> => ({
    ...query,
    ...(query.datasetId === undefined ? {} : { datasetId: (await platform.datasets.get(sandbox, query.datasetId)).id }),
  });

  void app.register((scope: App, _options, done) => {
    // Batches complete in the background: closing the app waits for them rather than cutting them off.
    scope.addHook('onClose', () => batches.drain());
    // Upload bodies stay unread here: the handlers stream `request.raw` to the file.
    scope.addContentTypeParser('application/octet-stream', (_request, _payload, parsed) => parsed(null, undefined));

    scope.post(BATCHES, { config: write, schema: { tags, summary: 'Create a batch (status loading)', body: BatchBody, response: { 201: BatchView } } }, async (req, reply) =>
      reply.status(201).send(batchView(await batches.create(req.principal, req.sandbox, req.body))),
    );
    scope.get(BATCHES, { config: read, schema: { tags, summary: 'List batches, newest first', querystring: BatchListQuery, response: { 200: Type.Object({ batches: Type.Array(BatchView) }) } } }, async (req) => ({
      batches: (await batches.list(req.sandbox, req.query)).map(batchView),
    }));
    scope.get(`${BATCHES}/:batchId`, { config: read, schema: { tags, summary: 'A batch: status and counts', params: BatchIdParams, response: { 200: BatchView } } }, async (req) =>
      batchView(await batches.get(req.sandbox, req.params.batchId)),
    );
    scope.post(
      `${BATCHES}/:batchId`,
      {
        config: write,
        schema: {
          tags,
          summary: 'COMPLETE (process in the background: processing → success | failed) or ABORT a loading batch',
          params: BatchIdParams,
          querystring: Type.Object({ action: Type.Union([Type.Literal('COMPLETE'), Type.Literal('ABORT')]) }),
          response: { 200: BatchView, 202: BatchView },
        },
      },
      async (req, reply) => {
        const { batchId } = req.params;
        if (req.query.action === 'ABORT') return batchView(await batches.abort(req.principal, req.sandbox, batchId));
        return reply.status(202).send(batchView(await batches.complete(req.principal, req.sandbox, batchId)));
      },
    );

    scope.put(
      FILE,
      { config: write, schema: { tags, summary: 'Upload a whole file (application/octet-stream)', params: FileParams, response: { 200: FileView } } },
      async (req) => {
        assertRawBody(req.headers['content-type']);
        return batches.putFile(req.sandbox, req.params.batchId, req.params.datasetId, req.params.fileName, req.raw);
      },
    );
    scope.post(
      FILE,
      {
        config: write,
        schema: {
          tags,
          summary: 'INITIALIZE a chunked upload, or COMPLETE it once every chunk is in',
          params: FileParams,
          querystring: Type.Object({ action: Type.Union([Type.Literal('INITIALIZE'), Type.Literal('COMPLETE')]) }),
          response: { 200: FileView, 201: FileView },
        },
      },
      async (req, reply) => {
        const { batchId, datasetId, fileName } = req.params;
        if (req.query.action === 'COMPLETE') return batches.completeFile(req.sandbox, batchId, datasetId, fileName);
        return reply.status(201).send(await batches.initializeFile(req.sandbox, batchId, datasetId, fileName));
      },
    );
    scope.patch(
      FILE,
      {
        config: write,
        schema: { tags, summary: 'Append the next chunk (Content-Range: bytes start-end/total, in order)', params: FileParams, response: { 200: FileView } },
      },
      async (req) => {
        assertRawBody(req.headers['content-type']);
        const range = parseContentRange(single(req.headers['content-range']));
        return batches.appendChunk(req.sandbox, req.params.batchId, req.params.datasetId, req.params.fileName, range, req.raw);
      },
    );

    scope.get('/failed-records', { config: read, schema: { tags, summary: 'Failed records (rows refused by ingestion), in the order they were kept', querystring: FailedRecordsQuery, response: { 200: FailedRecordsPage } } }, async (req) => {
      const filter = await failedFilter(req.sandbox, req.query);
      const [total, failedRecords] = await Promise.all([
        platform.failedRecords.count(req.sandbox, { ...filter, limit: undefined, offset: undefined }),
        platform.failedRecords.list(req.sandbox, { ...filter, limit: filter.limit ?? 100 }),
      ]);
      // The store returns rows in the table's shape, which is the view's.
      return { total, failedRecords: failedRecords as unknown as FailedRecordViewT[] };
    });
    scope.get(
      '/failed-records/download',
      { config: read, schema: { tags, summary: 'Failed records as JSON Lines (all that match, streamed)', querystring: Type.Omit(FailedRecordsQuery, ['limit', 'offset']) } },
      async (req, reply) => {
        const filter = await failedFilter(req.sandbox, req.query);
        if (filter.batchId === undefined && filter.datasetId === undefined) {
          throw new RoundtripError('RT_REQUEST_INVALID', 'Name the failed records to download: batchId or datasetId.');
        }
        const sandbox = req.sandbox;
        async function* lines(): AsyncGenerator<string> {
          for (let offset = 0; ; offset += DOWNLOAD_PAGE) {
            const page = await platform.failedRecords.list(sandbox, { ...filter, limit: DOWNLOAD_PAGE, offset });
            if (page.length) yield page.map((r) => `${JSON.stringify(r)}\n`).join('');
            if (page.length < DOWNLOAD_PAGE) return;
          }
        }
        const name = filter.batchId ?? filter.datasetId ?? 'failed-records';
        return reply.type('application/x-ndjson').header('content-disposition', `attachment; filename="${name}.failed.jsonl"`).send(Readable.from(lines()));
      },
    );

    scope.get(
      '/datasets/:id/ingestion',
      { config: read, schema: { tags, summary: 'Ingestion overview: recent batches, streaming commits, failure rates, failed records', params: Type.Object({ id: Type.String() }), response: { 200: IngestionOverview } } },
      async (req) => {
        const dataset = await platform.datasets.get(req.sandbox, req.params.id);
        return ingestionOverview(batches, platform.failedRecords, await platform.warehouse.sandbox(req.sandbox), dataset);
      },
    );
    done();
  });
}
