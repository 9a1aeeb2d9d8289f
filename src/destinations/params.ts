/**
 * Reading an account's `params` (JSON values checked against the catalog schema when the account was made) as
 * the text and numbers connectors need, with their defaults.
 */
import type { JsonValue } from '../ports/warehouse.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.ts';

export function textParam(params: Record<string, JsonValue>, key: string, fallback = ''): string {
  const value = params[key];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : fallback;
}

/** A positive number, or `fallback` when unset. */
export function positiveParam(params: Record<string, JsonValue>, key: string, fallback: number): number {
  const value = params[key];
  return typeof value === 'number' && value > 0 ? value : fallback;
}

/** The retry policy of an HTTP destination: `retryAttempts` and `retryBaseDelayMs` over the defaults. */
export function retryPolicyOf(params: Record<string, JsonValue>): RetryPolicy {
  return { ...DEFAULT_RETRY, attempts: positiveParam(params, 'retryAttempts', DEFAULT_RETRY.attempts), baseDelayMs: positiveParam(params, 'retryBaseDelayMs', DEFAULT_RETRY.baseDelayMs) };
}
