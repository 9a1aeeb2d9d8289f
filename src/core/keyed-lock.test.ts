import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyedLock } from './keyed-lock.ts';

describe('KeyedLock', () => {
  it('runs work for one key in call order, one at a time; other keys do not wait; a failure releases it', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const step = (name: string, ms: number) => async () => {
      log.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name}-`);
      return name;
    };
    const a1 = lock.run('a', step('a1', 20));
    const failing = lock.run('a', () => Promise.reject(new Error('boom')));
    const a2 = lock.run('a', step('a2', 1));
    const b1 = lock.run('b', step('b1', 1));
    assert.equal(lock.busy('a'), true);
    await assert.rejects(failing, /boom/);
    assert.deepEqual(await Promise.all([a1, a2, b1]), ['a1', 'a2', 'b1']);
    assert.deepEqual(log.filter((l) => l.startsWith('a')), ['a1+', 'a1-', 'a2+', 'a2-']);
    assert.ok(log.indexOf('b1-') < log.indexOf('a1-'), 'b did not wait for a');
    await new Promise((r) => setImmediate(r));
    assert.equal(lock.busy('a'), false);
  });
});
