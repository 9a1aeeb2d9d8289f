/**
 * Segment intake: the calls of one `/v1/*` request (one call, or a `batch`) offered to the request's log entry.
 * Batch-level `context` and `sentAt` apply to every call that lacks its own, as in Segment's HTTP API. A call
 * that cannot be mapped (no ids, unknown type) or does not fit its dataset (over the size limit, a bad
 * timestamp) is kept as a failed record: Segment clients only learn about a whole request, so nothing is
 * refused one call at a time.
 */
import type { EntryBuilder } from '../streaming/intake.ts';
import { mapSegmentCall, type SegmentType } from './mapping.ts';

export interface SegmentRequest {
  calls: readonly unknown[];
  /** The endpoint's type (`/v1/track` → track); `/v1/batch` calls carry their own. */
  defaultType?: SegmentType;
  /** Batch-level defaults. */
  context?: unknown;
  sentAt?: unknown;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function withBatchDefaults(call: unknown, request: SegmentRequest): unknown {
  if (!isObject(call)) return call;
  const context = isObject(request.context) ? { ...request.context, ...(isObject(call.context) ? call.context : {}) } : call.context;
  return { ...call, context, sentAt: call.sentAt ?? request.sentAt };
}

export function collectSegmentCalls(builder: EntryBuilder, request: SegmentRequest, tenantKey: string): void {
  const { connection } = builder;
  const receivedAt = new Date(builder.receivedTimeMs).toISOString();
  request.calls.forEach((call, index) => {
    const mapped = mapSegmentCall(
      withBatchDefaults(call, request),
      { tenantKey, identities: connection.identities, receivedAt, fallbackId: `${builder.xactionId}:${index}` },
      request.defaultType,
    );
    // Segment connections always have both datasets (checked when the connection is created).
    const target = connection.targets[mapped.role]!;
    const raw = (): string => JSON.stringify(call) ?? 'null';
    if (mapped.ok) builder.offer(target, mapped.record, index + 1, raw, { synchronous: false, refuseOversize: false });
    else builder.keepFailed(target.dataset.id, index + 1, raw(), mapped.issues);
  });
}
