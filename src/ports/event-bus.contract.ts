/**
 * Contract suite of the EventBus port. An implementation runs it by adding a fixture:
 * `describeEventBusContract('memory', { open: (o) => new MemoryEventBus(o) })`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommittedRecords, EventBus } from './event-bus.ts';

export interface EventBusFixture {
  /** `maxBuffered`: how many undelivered messages one subscription may hold before publish waits. */
  open(options: { maxBuffered: number }): EventBus | Promise<EventBus>;
}

let counter = 0;
function message(sandbox: string, datasetId: string, id = `e${++counter}`): CommittedRecords {
  return { sandbox, datasetId, snapshotId: counter, batchId: `b${counter}`, source: 'test', records: [{ _id: id }], committedAt: new Date().toISOString() };
}

const ids = (received: CommittedRecords[]): unknown[] => received.map((m) => m.records[0]?._id);
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

export function describeEventBusContract(name: string, fixture: EventBusFixture): void {
  describe(`EventBus contract: ${name}`, () => {
    it('delivers committed records to a matching subscriber in publish order', async () => {
      const bus = await fixture.open({ maxBuffered: 100 });
      const received: CommittedRecords[] = [];
      bus.subscribe({ sandbox: 'prod', datasetId: 'ds_a' }, async (m) => {
        await settle();
        received.push(m);
      });
      for (const id of ['1', '2', '3']) await bus.publish(message('prod', 'ds_a', id));
      await bus.close();
      assert.deepEqual(ids(received), ['1', '2', '3']);
    });

    it('filters by sandbox and dataset; a sandbox-wide subscription sees every dataset of its sandbox', async () => {
      const bus = await fixture.open({ maxBuffered: 100 });
      const one: CommittedRecords[] = [];
      const all: CommittedRecords[] = [];
      bus.subscribe({ sandbox: 'prod', datasetId: 'ds_a' }, (m) => void one.push(m));
      bus.subscribe({ sandbox: 'prod' }, (m) => void all.push(m));
      await bus.publish(message('prod', 'ds_a', 'a'));
      await bus.publish(message('prod', 'ds_b', 'b'));
      await bus.publish(message('dev', 'ds_a', 'other-sandbox'));
      await bus.close();
      assert.deepEqual(ids(one), ['a']);
      assert.deepEqual(ids(all), ['a', 'b']);
    });

    it('keeps delivering after a handler throws, and reports the error', async () => {
      const bus = await fixture.open({ maxBuffered: 100 });
      const received: CommittedRecords[] = [];
      const errors: unknown[] = [];
      bus.subscribe(
        { sandbox: 'prod' },
        (m) => {
          if (m.records[0]?._id === 'bad') throw new Error('consumer bug');
          received.push(m);
        },
        { onError: (error) => errors.push(error) },
      );
      const other: CommittedRecords[] = [];
      bus.subscribe({ sandbox: 'prod' }, (m) => void other.push(m));
      for (const id of ['ok1', 'bad', 'ok2']) await bus.publish(message('prod', 'ds_a', id));
      await bus.close();
      assert.deepEqual(ids(received), ['ok1', 'ok2']);
      assert.deepEqual(ids(other), ['ok1', 'bad', 'ok2']);
      assert.equal(errors.length, 1);
    });

    it('stops delivering after unsubscribe', async () => {
      const bus = await fixture.open({ maxBuffered: 100 });
      const received: CommittedRecords[] = [];
      const subscription = bus.subscribe({ sandbox: 'prod' }, (m) => void received.push(m));
      await bus.publish(message('prod', 'ds_a', 'before'));
      await settle();
      await subscription.unsubscribe();
      await bus.publish(message('prod', 'ds_a', 'after'));
      await bus.close();
      assert.deepEqual(ids(received), ['before']);
    });

    it('makes the publisher wait while a slow subscriber is full (bounded memory)', async () => {
      const bus = await fixture.open({ maxBuffered: 2 });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const received: CommittedRecords[] = [];
      bus.subscribe({ sandbox: 'prod' }, async (m) => {
        await gate;
        received.push(m);
      });
      let published = 0;
      const publishing = (async () => {
        for (let i = 0; i < 6; i++) {
          await bus.publish(message('prod', 'ds_a', `m${i}`));
          published++;
        }
      })();
      await settle();
      assert.ok(published < 6, `publish should wait for room, but ${published} of 6 went through`);
      release();
      await publishing;
      await bus.close();
      assert.deepEqual(ids(received), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    });

    it('delivers what is buffered on close, then refuses publishes', async () => {
      const bus = await fixture.open({ maxBuffered: 100 });
      const received: CommittedRecords[] = [];
      bus.subscribe({ sandbox: 'prod' }, async (m) => {
        await settle();
        received.push(m);
      });
      await bus.publish(message('prod', 'ds_a', 'x'));
      await bus.publish(message('prod', 'ds_a', 'y'));
      await bus.close();
      assert.deepEqual(ids(received), ['x', 'y']);
      await assert.rejects(bus.publish(message('prod', 'ds_a', 'z')));
    });
  });
}
