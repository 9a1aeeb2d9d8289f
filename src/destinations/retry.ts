/**
 * Retries with exponential backoff and full jitter, shared by every connector that talks to a remote service.
 *
 * A call is retried only when `isRetryable` says its failure is transient (HTTP 429 and 5xx, network errors,
 * time-outs); anything else (a 4xx validation answer, refused credentials) ends the loop at once. The delay
 * before attempt n+1 is a random value in [0, min(maxDelayMs, baseDelayMs · 2^n)] ("full jitter": clients that
 * failed together do not retry together), raised to the server's `Retry-After` when it gave one.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** Attempts in total, the first included (>= 1). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Random source in [0, 1); tests pass a fixed one. */
  random?: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 10_000 };

/** A failure that carries how long the server asked us to wait (HTTP `Retry-After`). */
export interface RetryAfterHint {
  retryAfterMs?: number;
}

export interface RetryOutcome<T> {
  value: T;
  /** Attempts made (1 when the first one succeeded). */
  attempts: number;
}

/** Delay before the retry that follows failed attempt number `attempt` (0-based). */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const jittered = Math.floor((policy.random ?? Math.random)() * ceiling);
  return retryAfterMs === undefined ? jittered : Math.min(policy.maxDelayMs, Math.max(jittered, retryAfterMs));
}

/**
 * Runs `fn` until it succeeds, fails with a non-retryable error, runs out of attempts, or `signal` aborts.
 * The last error is thrown as is; `onRetry` sees each retried failure (for counting and logging).
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: { policy?: RetryPolicy; isRetryable: (error: unknown) => boolean; signal?: AbortSignal; onRetry?: (error: unknown, attempt: number, delayMs: number) => void },
): Promise<RetryOutcome<T>> {
  const policy = options.policy ?? DEFAULT_RETRY;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return { value: await fn(attempt), attempts: attempt + 1 };
    } catch (error) {
      if (attempt + 1 >= policy.attempts || !options.isRetryable(error) || options.signal?.aborted) throw error;
      const delay = backoffDelay(policy, attempt, (error as RetryAfterHint).retryAfterMs);
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, undefined, { signal: options.signal });
    }
  }
}

/** Parses an HTTP `Retry-After` header (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
