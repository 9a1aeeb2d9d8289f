/**
 * Streaming routes: managing streaming connections (normal API-key routes), the collection envelope
 * (`/collection/{id}`, `/collection/batch/{id}`) and the Segment tracking spec (`/v1/*`). The last two are
 * public to the API-key hook and authenticate with the connection's own secret instead (Bearer; or the Segment
 * write key as Basic user, Bearer, or `writeKey` in the body, as Segment's libraries send it).
 *
 * They live in their own Fastify scope, for an error handler that adds `Retry-After` to 429/503; the hot-path
 * routes sit in a nested scope with their own JSON parsers (below) and request logs at `warn`, where an info
 * line per request would cost more than the request.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { mayUseSandbox } from '../../access/principal.ts';
import { tenantKey } from '../../catalog/xdm/compose.ts';
import { RoundtripError, type ErrorCode } from '../../core/errors.ts';
import { collectSegmentCalls, type SegmentRequest } from '../../ingest/segment/collect.ts';
import { SEGMENT_TYPES } from '../../ingest/segment/mapping.ts';
import { setupSegmentDatasets } from '../../ingest/segment/setup.ts';
import type { ConnectionKind } from '../../ingest/streaming/connections.ts';
import { collectMessages } from '../../ingest/streaming/envelope.ts';
import { EntryBuilder } from '../../ingest/streaming/intake.ts';
import {
  CollectionBatchBody,
  CollectionBatchResponse,
  CollectionMessage,
  CollectionQuery,
  CollectionResponse,
  ConnectionBody,
  ConnectionView,
  CreatedConnection,
  SegmentSetupBody,
  SegmentSetupResult,
  StreamingStats,
  type MessageResultT,
} from '../../ingest/streaming/payloads.ts';
import type { Platform } from '../../platform/platform.ts';
import type { App } from '../app.ts';
import { errorHandler, ErrorBody } from '../http-errors.ts';

const read = { action: 'dataset:read' as const };
const write = { action: 'dataset:write' as const };
/** Hot-path routes: authenticated by their connection, logged only when something is wrong. */
const collection = { config: { public: true }, logLevel: 'warn' as const };
const IdParams = Type.Object({ id: Type.String() });
const ConnectionParams = Type.Object({ connectionId: Type.String() });
const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 413: ErrorBody, 429: ErrorBody, 503: ErrorBody };

/** A single collection message may be as large as the largest record plus its envelope; beyond is RT_RECORD_TOO_LARGE. */
const ENVELOPE_SLACK_BYTES = 16 * 1024;
const COLLECTION_BATCH_LIMIT_BYTES = 16 * 1024 * 1024;
/** Segment's own libraries cap a batch at 500 KB; a little more room for other clients. */
const SEGMENT_BODY_LIMIT_BYTES = 4 * 1024 * 1024;

/** Adds Retry-After (and Segment's X-RateLimit-Reset) to overload answers; a too-large single message is a record too large. */
function streamingErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  let failure: unknown = error;
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' && request.routeOptions.url === '/collection/:connectionId') {
    failure = new RoundtripError('RT_RECORD_TOO_LARGE', `The message is larger than the largest record accepted (${request.routeOptions.bodyLimit} bytes with its envelope).`);
  }
  const retryAfter = (failure instanceof RoundtripError ? (failure.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds : undefined) ?? undefined;
  if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter)).header('x-ratelimit-reset', String(Date.now() + retryAfter * 1000));
  errorHandler(failure, request, reply);
}

function bearer(request: FastifyRequest): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (!match) throw new RoundtripError('RT_AUTH_MISSING', 'Send the connection secret as `Authorization: Bearer <secret>`.');
  return match[1]!;
}

/** Segment write key: Basic auth user (as Segment's HTTP API documents), a Bearer token, or `writeKey` in the body (what analytics-node sends). */
function writeKey(request: FastifyRequest, body: unknown): string {
  const header = request.headers.authorization ?? '';
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (basic) return Buffer.from(basic[1]!, 'base64').toString('utf8').split(':')[0]!;
  const token = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (token) return token[1]!;
  const key = (body as { writeKey?: unknown } | null)?.writeKey;
  if (typeof key === 'string' && key !== '') return key;
  throw new RoundtripError('RT_AUTH_MISSING', 'Send the write key as Basic auth user (`<writeKey>:`), as a Bearer token, or as `writeKey` in the body.');
}

/** 200 when every message was stored, 202 when some became failed records, 207 when some were refused. */
function batchStatus(results: readonly MessageResultT[]): number {
  if (results.some((r) => r.status >= 400)) return 207;
  return results.some((r) => r.status === 202) ? 202 : 200;
}

/**
 * Bodies of the hot-path routes are parsed with plain `JSON.parse`: the prototype-poisoning scan Fastify adds
 * costs a third of the parse, and is not needed here because every record is checked against a closed schema
 * (a `__proto__` key is an unknown field) and nothing merges parsed objects into existing ones.
 * `text/plain` is JSON too: browser Segment clients send that to avoid CORS preflights.
 */
function installJsonParsers(scope: App): void {
  const parse = (_request: FastifyRequest, body: string | Buffer, done: (error: Error | null, value?: unknown) => void): void => {
    try {
      done(null, JSON.parse(body as string));
    } catch (error) {
      done(new RoundtripError('RT_REQUEST_MALFORMED_JSON', `The body is not valid JSON: ${(error as Error).message}`), undefined);
    }
  };
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, parse);
  scope.addContentTypeParser('text/plain', { parseAs: 'string' }, parse);
}

function connectionRoutes(scope: App, platform: Platform): void {
  const { streaming } = platform;
  const tags = ['streaming'];
  scope.post(
    '/streaming/connections',
    { config: write, schema: { tags, summary: 'Create a streaming connection (its secret is shown once)', body: ConnectionBody, response: { 201: CreatedConnection } } },
    async (req, reply) => reply.status(201).send(await streaming.connections.create(req.principal, req.sandbox, req.body)),
  );
  scope.get('/streaming/connections', { config: read, schema: { tags, summary: 'List streaming connections', response: { 200: Type.Object({ connections: Type.Array(ConnectionView) }) } } }, async (req) => ({
    connections: await streaming.connections.list(req.sandbox),
  }));
  scope.get('/streaming/connections/:id', { config: read, schema: { tags, params: IdParams, response: { 200: ConnectionView } } }, async (req) => streaming.connections.get(req.sandbox, req.params.id));
  scope.delete('/streaming/connections/:id', { config: write, schema: { tags, summary: 'Revoke a streaming connection', params: IdParams, response: { 200: ConnectionView } } }, async (req) =>
    streaming.connections.revoke(req.principal, req.sandbox, req.params.id),
  );
  scope.post(
    '/streaming/segment-setup',
    { config: write, schema: { tags, summary: 'Create the event and profile schemas + datasets a Segment connection writes to', body: SegmentSetupBody, response: { 201: SegmentSetupResult } } },
    async (req, reply) => reply.status(201).send(await setupSegmentDatasets(platform.registry, platform.datasets, req.principal, req.sandbox, req.body.name)),
  );
  scope.get('/streaming/stats', { config: { ...read, scope: 'global' }, schema: { tags, summary: 'Queue depth and counters of streaming ingestion', response: { 200: StreamingStats } } }, (req) => {
    const stats = streaming.stats();
    // The counters are the server's; per-sandbox positions only for sandboxes the key may use.
    return { ...stats, sandboxes: stats.sandboxes.filter((s) => mayUseSandbox(req.principal, s.sandbox)) };
  });
  scope.post('/streaming/flush', { config: { ...write, scope: 'global' }, schema: { tags, summary: 'Apply everything acknowledged so far to the datasets now' } }, async (_req, reply) => {
    await streaming.flush();
    return reply.status(204).send();
  });
}

/** Admits the request, authenticates its connection and opens its log entry. */
async function openEntry(platform: Platform, secret: string, kind: ConnectionKind, connectionId?: string): Promise<EntryBuilder> {
  const { streaming } = platform;
  streaming.admit();
  const connection = await streaming.connections.authenticate(secret, { kind, connectionId });
  const { xactionId, receivedTimeMs } = streaming.transaction();
  return new EntryBuilder(connection, xactionId, receivedTimeMs);
}

function collectionRoutes(scope: App, platform: Platform): void {
  const { streaming } = platform;
  const tags = ['collection'];
  const description = 'Authenticated with the streaming connection secret (`Authorization: Bearer <secret>`), not an API key.';
  const singleLimit = Math.max(platform.config.eventRecordLimitBytes, platform.config.profileRecordLimitBytes) + ENVELOPE_SLACK_BYTES;
  scope.post(
    '/collection/:connectionId',
    {
      ...collection,
      bodyLimit: singleLimit,
      schema: { tags, summary: 'Stream one message', description, params: ConnectionParams, querystring: CollectionQuery, body: CollectionMessage, response: { 200: CollectionResponse, 202: CollectionResponse, ...errors } },
    },
    async (req, reply) => {
      const builder = await openEntry(platform, bearer(req), 'xdm', req.params.connectionId);
      const synchronous = req.query.synchronousValidation === true;
      const [result] = collectMessages(builder, [req.body], synchronous);
      const ids = { xactionId: builder.xactionId, receivedTimeMs: builder.receivedTimeMs };
      if (result!.error) {
        const details = { ...ids, ...(synchronous && { synchronousValidation: { status: 'fail' } }), issues: result!.issues ?? [] };
        throw new RoundtripError(result!.error.code as ErrorCode, result!.error.message, details);
      }
      await streaming.commit(builder);
      return reply.status(result!.status).send({
        inletId: builder.connection.id,
        ...ids,
        ...(synchronous && { synchronousValidation: { status: 'pass' } }),
        ...(result!.issues && { issues: result!.issues }),
      });
    },
  );
  scope.post(
    '/collection/batch/:connectionId',
    {
      ...collection,
      bodyLimit: COLLECTION_BATCH_LIMIT_BYTES,
      schema: {
        tags,
        summary: 'Stream many messages',
        description,
        params: ConnectionParams,
        querystring: CollectionQuery,
        body: CollectionBatchBody,
        response: { 200: CollectionBatchResponse, 202: CollectionBatchResponse, 207: CollectionBatchResponse, ...errors },
      },
    },
    async (req, reply) => {
      const builder = await openEntry(platform, bearer(req), 'xdm', req.params.connectionId);
      const synchronous = req.query.synchronousValidation === true;
      const responses = collectMessages(builder, req.body.messages, synchronous);
      await streaming.commit(builder);
      return reply.status(batchStatus(responses)).send({
        inletId: builder.connection.id,
        xactionId: builder.xactionId,
        receivedTimeMs: builder.receivedTimeMs,
        ...(synchronous && { synchronousValidation: { status: responses.every((r) => r.status < 400) ? 'pass' : 'fail' } }),
        responses,
      });
    },
  );
}

function segmentRoutes(scope: App, platform: Platform): void {
  const { streaming } = platform;
  const tenant = tenantKey(platform.config.tenant);
  const tags = ['segment'];
  const description = 'Authenticated with the write key (a streaming connection secret): Basic auth user, Bearer token, or `writeKey` in the body.';
  const response = { 200: Type.Object({ success: Type.Boolean() }), ...errors };
  const ingest = async (req: FastifyRequest, request: SegmentRequest): Promise<{ success: true }> => {
    const builder = await openEntry(platform, writeKey(req, req.body), 'segment');
    collectSegmentCalls(builder, request, tenant);
    await streaming.commit(builder);
    return { success: true };
  };
  for (const type of SEGMENT_TYPES) {
    scope.post(
      `/v1/${type}`,
      { ...collection, bodyLimit: SEGMENT_BODY_LIMIT_BYTES, schema: { tags, summary: `Segment ${type} call`, description, body: Type.Record(Type.String(), Type.Unknown()), response } },
      async (req) => ingest(req, { calls: [req.body], defaultType: type }),
    );
  }
  const BatchBody = Type.Object({ batch: Type.Array(Type.Unknown()), context: Type.Optional(Type.Unknown()), sentAt: Type.Optional(Type.Unknown()), writeKey: Type.Optional(Type.String()) });
  for (const url of ['/v1/batch', '/v1/import']) {
    scope.post(url, { ...collection, bodyLimit: SEGMENT_BODY_LIMIT_BYTES, schema: { tags, summary: 'Segment batch of calls (what analytics-node sends)', description, body: BatchBody, response } }, async (req) =>
      ingest(req, { calls: req.body.batch, context: req.body.context, sentAt: req.body.sentAt }),
    );
  }
}

export function streamingRoutes(app: App, platform: Platform): void {
  void app.register((scope: App, _options, done) => {
    scope.setErrorHandler(streamingErrorHandler);
    connectionRoutes(scope, platform);
    void scope.register((hot: App, _hotOptions, hotDone) => {
      // Overload is answered before the body is read: a 429 must not cost the parse of the body it refuses.
      hot.addHook('onRequest', (_request, _reply, next) => {
        try {
          platform.streaming.admit();
          next();
        } catch (error) {
          next(error as Error);
        }
      });
      installJsonParsers(hot);
      collectionRoutes(hot, platform);
      segmentRoutes(hot, platform);
      hotDone();
    });
    done();
  });
}
