/**
 * A lock per key (a sandbox, usually): work for one key runs one at a time, in call order, as a promise chain;
 * a failed holder releases it. The identity graph serialises its changes with it, streaming audiences their
 * membership writes.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Whether some work for the key is running or waiting. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }
}
