/**
 * EventBus port: how records that were just committed to a dataset reach downstream consumers (profiles,
 * streaming audiences) without polling the warehouse. A message is one committed write — the dataset's
 * snapshot id and the records exactly as stored — published only after the warehouse commit, so a consumer
 * never sees a record that a reader of the dataset could not see.
 *
 * Delivery is at-least-once per live subscription, in publish order per subscription. The bus is not the
 * system of record: a consumer that was down catches up from the dataset itself (`_rt_snapshot_id` greater
 * than the last snapshot it handled), which is why every message carries its snapshot id.
 *
 * Embedded default: `src/adapters/memory-bus/` (in-process, bounded per subscriber); scale-out: NATS JetStream.
 * Both run the contract suite in `event-bus.contract.ts`.
 */
import type { JsonRecord } from './warehouse.ts';

export interface CommittedRecords {
  sandbox: string;
  datasetId: string;
  snapshotId: number;
  batchId: string;
  /** Where the write came from: `streaming`, `batch`, … */
  source: string;
  /** The records as stored (after coercion), in write order. */
  records: readonly JsonRecord[];
  committedAt: string;
}

export interface Topic {
  sandbox: string;
  /** Omit to receive every dataset of the sandbox. */
  datasetId?: string;
}

export type CommittedHandler = (message: CommittedRecords) => void | Promise<void>;

export interface SubscribeOptions {
  /** For logs and errors, e.g. `profile-updater`. */
  name?: string;
  /** Called when the handler throws; the message counts as delivered (the dataset still has it). */
  onError?: (error: unknown, message: CommittedRecords) => void;
}

export interface Subscription {
  /** Stops delivery; resolves once the message being handled (if any) is done. */
  unsubscribe(): Promise<void>;
}

export interface EventBus {
  /**
   * Hands the message to every matching subscription. Resolves once each has accepted it into its buffer;
   * when a subscriber's buffer is full it waits for room, so a slow consumer slows the publisher down
   * (backpressure) instead of growing memory.
   */
  publish(message: CommittedRecords): Promise<void>;
  subscribe(topic: Topic, handler: CommittedHandler, options?: SubscribeOptions): Subscription;
  /** Delivers what is buffered, then refuses further publishes. */
  close(): Promise<void>;
}
