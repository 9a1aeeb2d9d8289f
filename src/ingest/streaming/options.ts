/**
 * Tuning of streaming ingestion: the bound of the in-memory queue (what was acknowledged but is not in the
 * warehouse yet), how often the background consumer applies the log to the datasets, and how big one applied
 * group may get. Defaults suit one machine; each can be set by environment variable (they are read here
 * rather than in `core/config.ts` until the configuration file grows a `streaming` section).
 */

export interface StreamingOptions {
  /** Bytes of log entries acknowledged but not yet applied before requests get 429 (default 64 MiB). */
  queueLimitBytes: number;
  /** Records acknowledged but not yet applied before requests get 429 (default 250,000). */
  queueLimitRecords: number;
  /** The consumer waits this long after the first pending entry, so one snapshot holds many requests (default 1000 ms). */
  applyIntervalMs: number;
  /** Largest number of records applied as one snapshot per dataset (default 25,000): bounds the staging file and how long one insert runs. */
  maxApplyRecords: number;
  /** Write-ahead log segment size (default 64 MiB). */
  segmentBytes: number;
  /**
   * Most `_id`s per dataset kept in memory for duplicate suppression (default 1,000,000, ~80 MB). A table with
   * more is asked with a semi-join over its `_id` column at every apply instead (exact too, but slower).
   */
  dedupIds: number;
}

export const DEFAULT_STREAMING_OPTIONS: StreamingOptions = {
  queueLimitBytes: 64 * 1024 * 1024,
  queueLimitRecords: 250_000,
  applyIntervalMs: 1000,
  maxApplyRecords: 25_000,
  segmentBytes: 64 * 1024 * 1024,
  dedupIds: 1_000_000,
};

export const STREAMING_ENV: Record<string, keyof StreamingOptions> = {
  ROUNDTRIP_STREAM_QUEUE_BYTES: 'queueLimitBytes',
  ROUNDTRIP_STREAM_QUEUE_RECORDS: 'queueLimitRecords',
  ROUNDTRIP_STREAM_APPLY_INTERVAL_MS: 'applyIntervalMs',
  ROUNDTRIP_STREAM_MAX_APPLY_RECORDS: 'maxApplyRecords',
  ROUNDTRIP_STREAM_SEGMENT_BYTES: 'segmentBytes',
  ROUNDTRIP_STREAM_DEDUP_IDS: 'dedupIds',
};

/** Defaults overridden by the `ROUNDTRIP_STREAM_…` variables that hold a non-negative integer. */
export function streamingOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StreamingOptions {
  const options = { ...DEFAULT_STREAMING_OPTIONS };
  for (const [name, key] of Object.entries(STREAMING_ENV)) {
    const raw = env[name];
    if (raw !== undefined && /^\d+$/.test(raw)) options[key] = Number(raw);
  }
  return options;
}
