/**
 * Keeps the identity graph (and through its listeners the profile tables) following the datasets in the
 * background, so SQL over the profile snapshot tables sees new data without anyone reading a profile first:
 *
 * - every committed write published on the event bus (streaming micro-batches) triggers a sync of its sandbox
 *   right away;
 * - a light poll (metadata only: the datasets' last snapshot ids) catches writes that are not published
 *   (batches, `POST /datasets/{id}/records`) within `intervalMs`.
 *
 * Reads never depend on it: every profile read syncs first. Syncs of one sandbox never overlap; a trigger that
 * arrives during one makes exactly one more run afterwards.
 */
import type { EventBus, Subscription } from '../ports/event-bus.ts';
import type { MetadataStore } from '../ports/metadata-store.ts';
import type { IdentityGraph } from './graph.ts';

/** `ROUNDTRIP_IDENTITY_POLL_MS` (default 2000; 0 turns the background follower off, e.g. in a benchmark). */
export function followIntervalFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ROUNDTRIP_IDENTITY_POLL_MS;
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : 2000;
}

export interface FollowerOptions {
  intervalMs: number;
  warn?: (message: string, error: unknown) => void;
}

export class GraphFollower {
  private timer: NodeJS.Timeout | undefined;
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** Per sandbox, what the datasets looked like at the last poll (ids and last snapshot ids). */
  private readonly seen = new Map<string, string>();
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly metadata: MetadataStore,
    private readonly bus: EventBus,
    private readonly graph: IdentityGraph,
    private readonly options: FollowerOptions,
  ) {}

  start(): void {
    if (this.timer || this.stopped || this.options.intervalMs <= 0) return;
    const tick = (): void => {
      this.polling ??= this.poll().finally(() => (this.polling = undefined));
    };
    // The first poll waits one interval: `initDataDir` builds the platform before the metadata is migrated.
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops polling and listening; resolves once the syncs under way are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
    await Promise.all([...this.subscriptions.values()].map((s) => s.unsubscribe()));
    this.subscriptions.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  private async poll(): Promise<void> {
    try {
      for (const { name } of await this.metadata.sandboxes.list()) {
        if (this.stopped) return;
        this.listen(name);
        const datasets = (await this.metadata.datasets.list(name)).filter((d) => d.identityEnabled || d.profileEnabled);
        const state = datasets.map((d) => `${d.id}:${d.lastSnapshotId}:${d.identityEnabled}:${d.profileEnabled}`).join(',');
        if (this.seen.get(name) !== state) {
          this.seen.set(name, state);
          if (datasets.length) this.trigger(name);
        }
      }
    } catch (error) {
      this.options.warn?.('Polling for new dataset snapshots failed', error);
    }
  }

  private listen(sandbox: string): void {
    if (this.subscriptions.has(sandbox)) return;
    const subscription = this.bus.subscribe({ sandbox }, () => this.trigger(sandbox), { name: 'identity-graph' });
    this.subscriptions.set(sandbox, subscription);
  }

  /** Runs a sync of the sandbox now, or once more after the one under way. */
  trigger(sandbox: string): void {
    if (this.stopped) return;
    if (this.running.has(sandbox)) {
      this.again.add(sandbox);
      return;
    }
    const sync = async (): Promise<void> => {
      // A sandbox deleted meanwhile must not get its database file back by a late trigger.
      if (await this.metadata.sandboxes.get(sandbox)) await this.graph.sync(sandbox);
    };
    const run = sync()
      .catch((error: unknown) => this.options.warn?.(`Background sync of sandbox ${sandbox} failed`, error))
      .finally(() => {
        this.running.delete(sandbox);
        if (this.again.delete(sandbox)) this.trigger(sandbox);
      });
    this.running.set(sandbox, run);
  }
}
