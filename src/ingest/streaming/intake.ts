/**
 * Intake: what every streaming endpoint (collection envelope, Segment spec) does with one record before it is
 * acknowledged. The record is checked against its dataset's compiled checker; a valid one joins the request's
 * log entry, an invalid one is kept as a failed record with its issues (or refused outright under
 * synchronous validation, and always when it is over the size limit on the collection endpoints). The whole
 * request then becomes one `StreamEntry`: one line in the write-ahead log, one acknowledgement.
 */
import type { RecordIssue } from '../record-checks.ts';
import type { JsonRecord } from '../../ports/warehouse.ts';
import type { LiveConnection, Target } from './connections.ts';
import type { MessageResultT } from './payloads.ts';

/** A record kept aside: its dataset, 1-based position in the request, text as received, and problems. */
export interface FailedItem {
  datasetId: string;
  rowNumber: number;
  raw: string;
  issues: RecordIssue[];
}

/** One request, as written to the log. */
export interface StreamEntry {
  connectionId: string;
  xactionId: string;
  receivedTimeMs: number;
  /** Valid records per dataset id, in arrival order. */
  writes: Record<string, JsonRecord[]>;
  failed: FailedItem[];
  /**
   * The JSON text of each record in `writes` (same keys, same order), kept from the check so neither the log nor
   * the warehouse append serialises a record again. Not part of the log entry: absent on entries read back.
   */
  lines?: Record<string, string[]>;
}

/** The log payload of an entry: `JSON.stringify(entry)` without `lines`, built from them when present. */
export function entryPayload(entry: StreamEntry): string {
  const { lines } = entry;
  if (!lines) return JSON.stringify({ connectionId: entry.connectionId, xactionId: entry.xactionId, receivedTimeMs: entry.receivedTimeMs, writes: entry.writes, failed: entry.failed });
  const writes = Object.keys(entry.writes).map((datasetId) => `${JSON.stringify(datasetId)}:[${lines[datasetId]!.join(',')}]`);
  return `{"connectionId":${JSON.stringify(entry.connectionId)},"xactionId":${JSON.stringify(entry.xactionId)},"receivedTimeMs":${JSON.stringify(entry.receivedTimeMs)},"writes":{${writes.join(',')}},"failed":${JSON.stringify(entry.failed)}}`;
}

export interface OfferOptions {
  /** Refuse invalid records (400) instead of keeping them as failed records. */
  synchronous: boolean;
  /** Refuse records over the size limit (413) instead of keeping them as failed records. */
  refuseOversize: boolean;
}

export type Verdict = Omit<MessageResultT, 'xactionId'>;

/** The first issue as an error (code + message), for refusals. */
export function issueSummary(issues: RecordIssue[]): { code: string; message: string } {
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return { code: first.code, message: `${first.path || '(record)'} ${first.message}${more}` };
}

export class EntryBuilder {
  private readonly writes: Record<string, JsonRecord[]> = {};
  private readonly lines: Record<string, string[]> = {};
  private readonly failed: FailedItem[] = [];
  private recordCount = 0;

  constructor(
    readonly connection: LiveConnection,
    readonly xactionId: string,
    readonly receivedTimeMs: number,
  ) {}

  /** Checks `record` for `target`; `raw` renders the message as received, only when it is kept as failed. */
  offer(target: Target, record: unknown, rowNumber: number, raw: () => string, options: OfferOptions): Verdict {
    const result = target.checker.check(target.role === 'profile' ? withRecordId(record, `${this.xactionId}:${rowNumber}`) : record);
    if (result.ok) {
      (this.writes[target.dataset.id] ??= []).push(result.record);
      (this.lines[target.dataset.id] ??= []).push(result.json);
      this.recordCount++;
      return { status: 200 };
    }
    const { issues } = result;
    if (options.refuseOversize && issues.some((i) => i.code === 'RT_RECORD_TOO_LARGE')) return { status: 413, issues, error: issueSummary(issues) };
    if (options.synchronous) return { status: 400, issues, error: issueSummary(issues) };
    this.keepFailed(target.dataset.id, rowNumber, raw(), issues);
    return { status: 202, issues };
  }

  /** Keeps a message that could not even be turned into a record (e.g. a Segment call without ids). */
  keepFailed(datasetId: string, rowNumber: number, raw: string, issues: RecordIssue[]): void {
    this.failed.push({ datasetId, rowNumber, raw, issues });
    this.recordCount++;
  }

  /** Records (valid and failed) in the entry; an empty entry is not written. */
  get size(): number {
    return this.recordCount;
  }

  entry(): StreamEntry {
    return { connectionId: this.connection.id, xactionId: this.xactionId, receivedTimeMs: this.receivedTimeMs, writes: this.writes, failed: this.failed, lines: this.lines };
  }
}

/**
 * Profile records may come without `_id` (XDM makes it optional there); giving each one a stable id here is
 * what lets a replay of the log recognise it as already stored.
 */
function withRecordId(record: unknown, id: string): unknown {
  if (typeof record !== 'object' || record === null || Array.isArray(record) || '_id' in record) return record;
  return { _id: id, ...record };
}
