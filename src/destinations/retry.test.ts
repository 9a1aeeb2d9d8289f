import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, parseRetryAfter, withRetry, type RetryPolicy } from './retry.ts';

const fast: RetryPolicy = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 };
class Transient extends Error {}

describe('retry helper', () => {
  it('backoff grows exponentially, is capped, and jitter stays within [0, ceiling]', () => {
    const policy: RetryPolicy = { attempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
    assert.equal(backoffDelay({ ...policy, random: () => 0.999999 }, 0), 99);
    assert.equal(backoffDelay({ ...policy, random: () => 0.999999 }, 2), 399);
    assert.equal(backoffDelay({ ...policy, random: () => 0.999999 }, 8), 999, 'capped at maxDelayMs');
    assert.equal(backoffDelay({ ...policy, random: () => 0 }, 5), 0);
    for (let attempt = 0; attempt < 8; attempt++) {
      const delay = backoffDelay(policy, attempt);
      assert.ok(delay >= 0 && delay <= Math.min(1000, 100 * 2 ** attempt), `attempt ${attempt}: ${delay}`);
    }
    assert.equal(backoffDelay({ ...policy, random: () => 0 }, 0, 700), 700, 'Retry-After raises the delay');
    assert.equal(backoffDelay({ ...policy, random: () => 0 }, 0, 60_000), 1000, 'but never past maxDelayMs');
  });

  it('retries transient failures until success and reports the attempts', async () => {
    let calls = 0;
    const retried: number[] = [];
    const outcome = await withRetry(
      () => {
        calls++;
        return calls < 3 ? Promise.reject(new Transient('503')) : Promise.resolve('done');
      },
      { policy: fast, isRetryable: (e) => e instanceof Transient, onRetry: (_e, attempt) => retried.push(attempt) },
    );
    assert.deepEqual(outcome, { value: 'done', attempts: 3 });
    assert.deepEqual(retried, [0, 1]);
  });

  it('does not retry a permanent failure, and gives up after the last attempt', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(() => {
        calls++;
        return Promise.reject(new Error('400'));
      }, { policy: fast, isRetryable: (e) => e instanceof Transient }),
      /400/,
    );
    assert.equal(calls, 1);
    calls = 0;
    await assert.rejects(
      withRetry(() => {
        calls++;
        return Promise.reject(new Transient(`try ${calls}`));
      }, { policy: fast, isRetryable: () => true }),
      /try 4/,
    );
    assert.equal(calls, 4);
  });

  it('stops waiting when the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(withRetry(() => Promise.reject(new Transient('x')), { policy: { attempts: 10, baseDelayMs: 5000, maxDelayMs: 5000, random: () => 0.99 }, isRetryable: () => true, signal: controller.signal }));
    assert.ok(Date.now() - started < 2000);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4000), 6000);
    assert.equal(parseRetryAfter(null), undefined);
    assert.equal(parseRetryAfter('soon'), undefined);
  });
});
