/**
 * One HTTP call with a time-out, retried on transient failures (429, 5xx, network errors, time-outs) by the
 * shared backoff helper. Used by the Eloqua and webhook connectors; counts requests and retries for run stats.
 */
import { RoundtripError } from '../core/errors.ts';
import { parseRetryAfter, withRetry, type RetryPolicy } from './retry.ts';

export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly retryAfterMs?: number,
  ) {
    super(`HTTP ${status}${typeof body === 'string' && body ? `: ${body.slice(0, 200)}` : ''}`);
    this.name = 'HttpStatusError';
  }
}

export interface HttpStats {
  requests: number;
  retries: number;
}

export interface HttpCall {
  method: string;
  url: string;
  /** A function is called per attempt (e.g. to sign with a fresh timestamp). */
  headers?: Record<string, string> | (() => Record<string, string>);
  body?: string;
  timeoutMs: number;
  policy: RetryPolicy;
  signal?: AbortSignal;
  stats: HttpStats;
}

export interface HttpAnswer {
  status: number;
  body: unknown;
}

/** Transient: worth another attempt. A caller's abort is never transient. */
export function isTransient(error: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return false;
  if (error instanceof HttpStatusError) return error.status === 429 || error.status >= 500;
  return !(error instanceof RoundtripError);
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

async function once(call: HttpCall): Promise<HttpAnswer> {
  call.stats.requests++;
  const timeout = AbortSignal.timeout(call.timeoutMs);
  const response = await fetch(call.url, {
    method: call.method,
    headers: typeof call.headers === 'function' ? call.headers() : call.headers,
    body: call.body,
    signal: call.signal ? AbortSignal.any([call.signal, timeout]) : timeout,
  });
  const body = await readBody(response);
  if (response.status >= 400) throw new HttpStatusError(response.status, body, parseRetryAfter(response.headers.get('retry-after')));
  return { status: response.status, body };
}

/** Makes the call, retrying transient failures; throws the last `HttpStatusError` or network error. */
export async function httpWithRetry(call: HttpCall): Promise<HttpAnswer> {
  const outcome = await withRetry(() => once(call), {
    policy: call.policy,
    signal: call.signal,
    isRetryable: (error) => isTransient(error, call.signal),
    onRetry: () => call.stats.retries++,
  });
  return outcome.value;
}

/** Describes a failure that survived the retries, for messages and `details`. */
export function describeFailure(error: unknown): { status?: number; body?: unknown; message: string } {
  if (error instanceof HttpStatusError) return { status: error.status, body: error.body, message: error.message };
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return { message: cause?.message ?? cause?.code ?? (error as Error).message };
}
