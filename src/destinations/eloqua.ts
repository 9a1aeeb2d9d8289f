/**
 * The Oracle Eloqua API destination (reference §12.4), streaming profile-based export.
 *
 * - Auth: HTTP Basic with user `{COMPANY_NAME}\{USERNAME}` and the password, against
 *   `https://secure.<pod>.eloqua.com` (pods p01-p08 except p05; `baseUrl` overrides it, e.g. for a proxy or tests).
 * - Contacts: "Update a contact" `PUT /api/REST/1.0/data/contact/{EloquaId}` with `emailAddress` (required
 *   mapping), the optional standard fields (`firstName`, `lastName`, `address1..3`, `city`, `postalCode`,
 *   `country`) and `fieldValues: [{ id, value }]` holding each audience's membership status.
 * - Audiences: one custom contact field per activated audience, named after the audience + a unique suffix,
 *   found with `GET /api/REST/1.0/assets/contact/fields?search=<name>` or created with
 *   `POST /api/REST/1.0/assets/contact/field`. Eloqua holds at most 250 custom contact fields and answers
 *   `400 There was a validation error` past that: records of that audience fail with `RT_DESTINATION_FIELD_LIMIT`.
 * - Errors: 400 answers (e.g. `ObjectValidationError` for a missing `emailAddress`) are per-record failures
 *   `RT_DESTINATION_RECORD_INVALID` with Eloqua's body in `details`; 401/403 stop the send
 *   (`RT_DESTINATION_AUTH_FAILED`); 429/5xx/network/time-outs are retried with backoff, and when the retries of one
 *   record are exhausted the send stops and the records not sent fail with `RT_DESTINATION_UNREACHABLE`.
 * - Records are sent `concurrency` at a time (default 4) in batches of `batchSize` (default 100).
 */
import type { JsonValue } from '../ports/warehouse.ts';
import { RoundtripError } from '../core/errors.ts';
import type { ApiConnector, ApiRecord, ApiRecordFailure, ApiSendResult, AudienceRef, ConnectionTestResult, DeliverOptions, ResolvedAccount, SendContext } from './connector.ts';
import { describeFailure, HttpStatusError, httpWithRetry, type HttpStats } from './http.ts';
import { positiveParam, retryPolicyOf, textParam } from './params.ts';
import type { RetryPolicy } from './retry.ts';

export const ELOQUA_PODS = ['p01', 'p02', 'p03', 'p04', 'p06', 'p07', 'p08'] as const;
/** Eloqua's limit of custom contact fields (one per activated audience). */
export const ELOQUA_MAX_CUSTOM_FIELDS = 250;
/** Standard contact fields a mapping may target besides the required `emailAddress`. */
export const ELOQUA_STANDARD_FIELDS = ['emailAddress', 'firstName', 'lastName', 'address1', 'address2', 'address3', 'city', 'postalCode', 'country'] as const;
export const ELOQUA_IDENTITY = 'EloquaId';

interface EloquaSettings {
  baseUrl: string;
  authorization: string;
  timeoutMs: number;
  concurrency: number;
  batchSize: number;
  policy: RetryPolicy;
}

export function eloquaSettings(account: ResolvedAccount): EloquaSettings {
  const { params, secrets } = account;
  const baseUrl = textParam(params, 'baseUrl').replace(/\/+$/, '') || `https://secure.${textParam(params, 'pod')}.eloqua.com`;
  const user = `${textParam(params, 'companyName')}\\${textParam(params, 'username')}`;
  return {
    baseUrl,
    authorization: `Basic ${Buffer.from(`${user}:${secrets.password ?? ''}`).toString('base64')}`,
    timeoutMs: positiveParam(params, 'timeoutMs', 30_000),
    concurrency: positiveParam(params, 'concurrency', 4),
    batchSize: positiveParam(params, 'batchSize', 100),
    policy: retryPolicyOf(params),
  };
}

/** The custom field name of an audience: its name (letters, digits, _) plus a suffix from its id, so two audiences never share one. */
export function audienceFieldName(audience: AudienceRef): string {
  const base = audience.name.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 60) || 'audience';
  const suffix = audience.id.replace(/[^A-Za-z0-9]/g, '').slice(-12);
  return `${base}_${suffix}`;
}

class EloquaClient {
  readonly stats: HttpStats = { requests: 0, retries: 0 };
  constructor(
    private readonly settings: EloquaSettings,
    private readonly signal?: AbortSignal,
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    try {
      const answer = await httpWithRetry({
        method,
        url: `${this.settings.baseUrl}${path}`,
        headers: { authorization: this.settings.authorization, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs: this.settings.timeoutMs,
        policy: this.settings.policy,
        signal: this.signal,
        stats: this.stats,
      });
      return answer.body;
    } catch (error) {
      if (error instanceof HttpStatusError && (error.status === 401 || error.status === 403)) {
        throw new RoundtripError('RT_DESTINATION_AUTH_FAILED', `Eloqua refused the credentials (HTTP ${error.status}); check company, user, password and pod.`, { status: error.status });
      }
      throw error;
    }
  }

  /** Finds or creates the custom contact field of each audience; an audience whose field cannot be made maps to its failure. */
  async audienceFields(audiences: AudienceRef[]): Promise<{ fields: Map<string, string>; refused: Map<string, ApiRecordFailure> }> {
    const fields = new Map<string, string>();
    const refused = new Map<string, ApiRecordFailure>();
    for (const audience of audiences) {
      const name = audienceFieldName(audience);
      const found = (await this.call('GET', `/api/REST/1.0/assets/contact/fields?search=${encodeURIComponent(`name='${name}'`)}&depth=minimal`)) as { elements?: { id: string; name: string }[] } | undefined;
      const existing = found?.elements?.find((f) => f.name === name);
      if (existing) {
        fields.set(audience.id, String(existing.id));
        continue;
      }
      try {
        const created = (await this.call('POST', '/api/REST/1.0/assets/contact/field', { name, dataType: 'text', displayType: 'text' })) as { id: string };
        fields.set(audience.id, String(created.id));
      } catch (error) {
        if (!(error instanceof HttpStatusError) || error.status !== 400) throw error;
        refused.set(audience.id, {
          key: '',
          code: 'RT_DESTINATION_FIELD_LIMIT',
          message: `Eloqua refused custom contact field ${name} for audience ${audience.id} (at most ${ELOQUA_MAX_CUSTOM_FIELDS} custom contact fields).`,
          details: { status: 400, body: error.body as JsonValue, audience: audience.id, field: name },
        });
      }
    }
    return { fields, refused };
  }
}

/** The contact update body of a record (reference §12.4 mappings). */
export function contactBody(record: ApiRecord, fields: Map<string, string>): Record<string, JsonValue> {
  const body: Record<string, JsonValue> = { id: record.identities[ELOQUA_IDENTITY]! };
  for (const name of ELOQUA_STANDARD_FIELDS) {
    const value = record.attributes[name];
    if (value !== undefined && value !== null && value !== '') body[name] = String(value);
  }
  const fieldValues = Object.entries(record.audiences).flatMap(([audience, status]) => (fields.has(audience) ? [{ id: fields.get(audience)!, value: status }] : []));
  if (fieldValues.length > 0) body.fieldValues = fieldValues;
  return body;
}

function recordFailure(record: ApiRecord, error: unknown): ApiRecordFailure {
  const failure = describeFailure(error);
  if (error instanceof HttpStatusError && error.status === 400) {
    return { key: record.key, code: 'RT_DESTINATION_RECORD_INVALID', message: `Eloqua answered a validation error for contact ${record.identities[ELOQUA_IDENTITY]}.`, details: { status: 400, body: (error.body ?? null) as JsonValue } };
  }
  if (error instanceof HttpStatusError && error.status < 500 && error.status !== 429) {
    return { key: record.key, code: 'RT_DESTINATION_REJECTED', message: `Eloqua refused contact ${record.identities[ELOQUA_IDENTITY]}: ${failure.message}`, details: { status: error.status, body: (error.body ?? null) as JsonValue } };
  }
  return { key: record.key, code: 'RT_DESTINATION_UNREACHABLE', message: `Eloqua did not take contact ${record.identities[ELOQUA_IDENTITY]} after retries: ${failure.message}`, details: { status: failure.status ?? null } };
}

/** Records that cannot be sent at all: no EloquaId, or only audiences whose field Eloqua refused. */
function precheck(record: ApiRecord, refused: Map<string, ApiRecordFailure>): ApiRecordFailure | undefined {
  if (!record.identities[ELOQUA_IDENTITY]) {
    return { key: record.key, code: 'RT_DESTINATION_RECORD_INVALID', message: `The required mapping ${ELOQUA_IDENTITY} is empty for this profile.`, details: { property: ELOQUA_IDENTITY } };
  }
  const refusedAudience = Object.keys(record.audiences).find((a) => refused.has(a));
  return refusedAudience ? { ...refused.get(refusedAudience)!, key: record.key } : undefined;
}

async function send(account: ResolvedAccount, records: ApiRecord[], context: SendContext): Promise<ApiSendResult> {
  const started = Date.now();
  const settings = eloquaSettings(account);
  const client = new EloquaClient(settings, context.signal);
  const { fields, refused } = await client.audienceFields(context.audiences);
  const failures: ApiRecordFailure[] = [];
  let sent = 0;
  let stopped: ApiRecordFailure | undefined;
  const sendOne = async (record: ApiRecord): Promise<void> => {
    const invalid = precheck(record, refused);
    if (invalid) return void failures.push(invalid);
    if (stopped) return void failures.push({ ...stopped, key: record.key });
    try {
      await client.call('PUT', `/api/REST/1.0/data/contact/${encodeURIComponent(record.identities[ELOQUA_IDENTITY]!)}`, contactBody(record, fields));
      sent++;
    } catch (error) {
      if (error instanceof RoundtripError) throw error;
      const failure = recordFailure(record, error);
      if (failure.code === 'RT_DESTINATION_UNREACHABLE') stopped = failure;
      failures.push(failure);
    }
  };
  for (let start = 0; start < records.length; start += settings.batchSize) {
    context.signal?.throwIfAborted();
    await runPool(records.slice(start, start + settings.batchSize), settings.concurrency, sendOne);
  }
  return { sent, failures, requests: client.stats.requests, retries: client.stats.retries, durationMs: Date.now() - started };
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function runPool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

async function test(account: ResolvedAccount, options: DeliverOptions = {}): Promise<ConnectionTestResult> {
  const started = Date.now();
  const client = new EloquaClient({ ...eloquaSettings(account), policy: { attempts: 2, baseDelayMs: 200, maxDelayMs: 1000 } }, options.signal);
  try {
    await client.call('GET', '/api/REST/1.0/assets/contact/fields?count=1&depth=minimal');
    return { ok: true, message: 'Eloqua accepted the credentials.', durationMs: Date.now() - started };
  } catch (error) {
    const code = error instanceof RoundtripError ? error.code : 'RT_DESTINATION_UNREACHABLE';
    return { ok: false, code, message: error instanceof RoundtripError ? error.message : `Eloqua did not answer: ${describeFailure(error).message}`, durationMs: Date.now() - started };
  }
}

export const eloquaConnector: ApiConnector = { kind: 'api', send, test };
