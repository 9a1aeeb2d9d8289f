/**
 * In-process event bus: the embedded default of the EventBus port. Each subscription has its own bounded
 * buffer and one delivery loop, so handlers see messages in publish order, one at a time, and a slow handler
 * holds back only the publisher (which waits for room), never the other subscribers' order or memory.
 *
 * Nothing here is durable on purpose: messages are published after the warehouse commit ("in-process queue
 * over durable group commit"), and a consumer that restarts reads what it missed from the dataset by snapshot.
 */
import type { CommittedHandler, CommittedRecords, EventBus, SubscribeOptions, Subscription, Topic } from '../../ports/event-bus.ts';

export interface MemoryEventBusOptions {
  /** Messages a subscription may hold before `publish` waits (default 1,000). */
  maxBuffered?: number;
}

class MemorySubscription implements Subscription {
  private readonly buffer: CommittedRecords[] = [];
  private readonly roomWaiters: (() => void)[] = [];
  /** Set and cleared synchronously, so a push never sees a loop that is about to stop without it. */
  private delivering = false;
  private idle: Promise<void> = Promise.resolve();
  active = true;

  constructor(
    private readonly topic: Topic,
    private readonly handler: CommittedHandler,
    private readonly options: SubscribeOptions,
    private readonly maxBuffered: number,
    private readonly forget: (subscription: MemorySubscription) => void,
  ) {}

  matches(message: CommittedRecords): boolean {
    return this.active && message.sandbox === this.topic.sandbox && (this.topic.datasetId === undefined || this.topic.datasetId === message.datasetId);
  }

  /** Buffers the message; resolves when the buffer is back under its bound. */
  async push(message: CommittedRecords): Promise<void> {
    this.buffer.push(message);
    if (!this.delivering) {
      this.delivering = true;
      this.idle = this.deliver();
    }
    while (this.active && this.buffer.length > this.maxBuffered) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  private async deliver(): Promise<void> {
    try {
      for (let message = this.buffer.shift(); message && this.active; message = this.buffer.shift()) {
        this.roomWaiters.splice(0).forEach((wake) => wake());
        try {
          await this.handler(message);
        } catch (error) {
          this.options.onError?.(error, message);
        }
      }
    } finally {
      this.delivering = false;
    }
  }

  /** Resolves once everything buffered so far has been handled. */
  async drained(): Promise<void> {
    await this.idle;
  }

  async unsubscribe(): Promise<void> {
    this.active = false;
    this.buffer.length = 0;
    this.roomWaiters.splice(0).forEach((wake) => wake());
    this.forget(this);
    await this.idle;
  }
}

export class MemoryEventBus implements EventBus {
  private readonly subscriptions = new Set<MemorySubscription>();
  private readonly maxBuffered: number;
  private closed = false;

  constructor(options: MemoryEventBusOptions = {}) {
    this.maxBuffered = Math.max(1, options.maxBuffered ?? 1_000);
  }

  async publish(message: CommittedRecords): Promise<void> {
    if (this.closed) throw new Error('The event bus is closed.');
    const targets = [...this.subscriptions].filter((s) => s.matches(message));
    await Promise.all(targets.map((s) => s.push(message)));
  }

  subscribe(topic: Topic, handler: CommittedHandler, options: SubscribeOptions = {}): Subscription {
    const subscription = new MemorySubscription(topic, handler, options, this.maxBuffered, (s) => this.subscriptions.delete(s));
    this.subscriptions.add(subscription);
    return subscription;
  }

  async close(): Promise<void> {
    this.closed = true;
    const open = [...this.subscriptions];
    await Promise.all(open.map((s) => s.drained()));
    await Promise.all(open.map((s) => s.unsubscribe()));
  }
}
