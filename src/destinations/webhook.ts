/**
 * The generic webhook destination: records are POSTed as JSON batches, each signed with HMAC-SHA256.
 *
 * Request: `POST <url>` with `content-type: application/json`, `X-Roundtrip-Delivery: <id>` (the same for the same
 * batch when a run is retried: receivers de-duplicate on it) and
 * `X-Roundtrip-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 * Body: `{ deliveryId, batch, audiences: [{ id, name }], records: [{ key, identities, attributes, audiences }] }`.
 *
 * Verify (see `verifyWebhookSignature`): split the header at `,` into `t` and `v1`; recompute the HMAC over
 * `t + "." + raw body` with the shared secret; compare in constant time; refuse when |now − t| > 300 s.
 *
 * Answers: 2xx accepts the batch; a 2xx body `{ "failures": [{ "key", "message" }] }` refuses single records
 * (`RT_DESTINATION_RECORD_INVALID`); 400/422 refuse every record of the batch as invalid, other 4xx as
 * `RT_DESTINATION_REJECTED`; 401/403 stop the send (`RT_DESTINATION_AUTH_FAILED`); 429/5xx/network errors are
 * retried with backoff, and when retries run out the send stops with the rest `RT_DESTINATION_UNREACHABLE`.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { JsonValue } from '../ports/warehouse.ts';
import { RoundtripError } from '../core/errors.ts';
import type { ApiConnector, ApiRecord, ApiRecordFailure, ApiSendResult, ConnectionTestResult, DeliverOptions, ResolvedAccount, SendContext } from './connector.ts';
import { describeFailure, HttpStatusError, httpWithRetry, type HttpStats } from './http.ts';
import { positiveParam, retryPolicyOf, textParam } from './params.ts';
import type { RetryPolicy } from './retry.ts';

export const SIGNATURE_HEADER = 'x-roundtrip-signature';
export const DELIVERY_HEADER = 'x-roundtrip-delivery';
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** The signature header value for a raw body at unix time `t` (seconds). */
export function signWebhook(secret: string, body: string, t: number = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** True when `header` is a valid signature of `body` with `secret`, made within the tolerance of `now` (seconds). */
export function verifyWebhookSignature(secret: string, header: string | undefined, body: string, options: { now?: number; toleranceSeconds?: number } = {}): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(',').map((part) => part.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || !/^[0-9a-f]{64}$/.test(parts.v1)) return false;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? SIGNATURE_TOLERANCE_SECONDS)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(parts.v1, 'hex'));
}

interface WebhookSettings {
  url: string;
  secret: string;
  batchSize: number;
  timeoutMs: number;
  policy: RetryPolicy;
}

function webhookSettings(account: ResolvedAccount): WebhookSettings {
  const { params, secrets } = account;
  return {
    url: textParam(params, 'url'),
    secret: secrets.signingSecret ?? '',
    batchSize: positiveParam(params, 'batchSize', 1000),
    timeoutMs: positiveParam(params, 'timeoutMs', 30_000),
    policy: retryPolicyOf(params),
  };
}

/** Same batch, same id: a hash of the caller's delivery id and the record keys. */
export function batchDeliveryId(deliveryId: string | undefined, records: ApiRecord[]): string {
  const hash = createHash('sha256').update(deliveryId ?? '');
  for (const record of records) hash.update('\0').update(record.key);
  return `dlv_${hash.digest('hex').slice(0, 32)}`;
}

async function post(settings: WebhookSettings, body: string, deliveryId: string, stats: HttpStats, signal?: AbortSignal): Promise<unknown> {
  try {
    const answer = await httpWithRetry({
      method: 'POST',
      url: settings.url,
      headers: () => ({ 'content-type': 'application/json', [DELIVERY_HEADER]: deliveryId, [SIGNATURE_HEADER]: signWebhook(settings.secret, body) }),
      body,
      timeoutMs: settings.timeoutMs,
      policy: settings.policy,
      signal,
      stats,
    });
    return answer.body;
  } catch (error) {
    if (error instanceof HttpStatusError && (error.status === 401 || error.status === 403)) {
      throw new RoundtripError('RT_DESTINATION_AUTH_FAILED', `The webhook refused the request (HTTP ${error.status}); check the signing secret.`, { status: error.status });
    }
    throw error;
  }
}

function batchFailures(records: ApiRecord[], error: unknown): ApiRecordFailure[] {
  const failure = describeFailure(error);
  const status = error instanceof HttpStatusError ? error.status : undefined;
  const code = status === 400 || status === 422 ? 'RT_DESTINATION_RECORD_INVALID' : status !== undefined && status < 500 && status !== 429 ? 'RT_DESTINATION_REJECTED' : 'RT_DESTINATION_UNREACHABLE';
  return records.map((r) => ({ key: r.key, code, message: `The webhook did not take the batch: ${failure.message}`, details: { status: status ?? null, body: (failure.body ?? null) as JsonValue } }));
}

function answeredFailures(records: ApiRecord[], answer: unknown): ApiRecordFailure[] {
  const listed = (answer as { failures?: { key?: unknown; message?: unknown }[] } | undefined)?.failures;
  if (!Array.isArray(listed)) return [];
  const keys = new Set(records.map((r) => r.key));
  return listed
    .filter((f) => typeof f.key === 'string' && keys.has(f.key))
    .map((f) => ({ key: String(f.key), code: 'RT_DESTINATION_RECORD_INVALID', message: typeof f.message === 'string' ? f.message : 'Refused by the webhook.' }));
}

async function send(account: ResolvedAccount, records: ApiRecord[], context: SendContext): Promise<ApiSendResult> {
  const started = Date.now();
  const settings = webhookSettings(account);
  const stats: HttpStats = { requests: 0, retries: 0 };
  const failures: ApiRecordFailure[] = [];
  let sent = 0;
  let stopped = false;
  for (let start = 0, batch = 1; start < records.length; start += settings.batchSize, batch++) {
    context.signal?.throwIfAborted();
    const slice = records.slice(start, start + settings.batchSize);
    if (stopped) {
      failures.push(...batchFailures(slice, new Error('an earlier batch exhausted its retries')));
      continue;
    }
    const deliveryId = batchDeliveryId(context.deliveryId, slice);
    const body = JSON.stringify({ deliveryId, batch, audiences: context.audiences, records: slice });
    try {
      const refused = answeredFailures(slice, await post(settings, body, deliveryId, stats, context.signal));
      failures.push(...refused);
      sent += slice.length - refused.length;
    } catch (error) {
      if (error instanceof RoundtripError || context.signal?.aborted) throw error;
      const batchFailed = batchFailures(slice, error);
      stopped = batchFailed[0]?.code === 'RT_DESTINATION_UNREACHABLE';
      failures.push(...batchFailed);
    }
  }
  return { sent, failures, requests: stats.requests, retries: stats.retries, durationMs: Date.now() - started };
}

async function test(account: ResolvedAccount, options: DeliverOptions = {}): Promise<ConnectionTestResult> {
  const started = Date.now();
  const settings = { ...webhookSettings(account), policy: { attempts: 2, baseDelayMs: 200, maxDelayMs: 1000 } };
  const body = JSON.stringify({ deliveryId: 'test', batch: 0, audiences: [], records: [] });
  try {
    await post(settings, body, 'dlv_test', { requests: 0, retries: 0 }, options.signal);
    return { ok: true, message: 'The webhook accepted an empty signed batch.', durationMs: Date.now() - started };
  } catch (error) {
    const code = error instanceof RoundtripError ? error.code : error instanceof HttpStatusError && error.status < 500 && error.status !== 429 ? 'RT_DESTINATION_REJECTED' : 'RT_DESTINATION_UNREACHABLE';
    return { ok: false, code, message: (error as Error).message, durationMs: Date.now() - started };
  }
}

export const webhookConnector: ApiConnector = { kind: 'api', send, test };
