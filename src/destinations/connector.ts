/**
 * Destination connectors: the delivery layer that activation dataflows (`src/activation/`) build on.
 *
 * This module is the contract between the two. A dataflow decides *what* to export (audiences, attributes,
 * dedup, consent, schedules, run history); a connector only *delivers* it, reliably:
 *
 * ```ts
 * const account = await platform.destinations.getResolvedAccount(sandbox, accountId); // secrets decrypted, internal only
 * const connector = connectorFor(account.type);
 * if (connector.kind === 'file') {
 *   // 1. write CSV files locally (src/destinations/csv-writer.ts: `writeCsvFiles`, name template, 5M-row split)
 *   // 2. deliver them; encryption with the account's OpenPGP key happens here when the files are not encrypted yet
 *   const receipts = await connector.deliver(account, files, { signal });
 * } else {
 *   const result = await connector.send(account, records, { audiences, deliveryId, signal });
 *   // result.failures: per-record failures with RT_… codes; result.sent: records accepted
 * }
 * ```
 *
 * Guarantees every connector keeps:
 * - **File connectors are atomic and idempotent.** Each file is written under a temporary name in the target
 *   folder (`.<name>.part`) and renamed when complete, so a reader never sees a partial file. Delivering again
 *   with the same names (a retried run) does not make duplicates: a complete file of the same name and size is
 *   reported `skipped`, a different one is replaced atomically. An abort (`signal`) or crash leaves at most a
 *   hidden `.part` file, which the next delivery overwrites.
 * - **API connectors retry transient failures** (HTTP 429, 5xx, network errors, time-outs) with exponential
 *   backoff and full jitter (`src/destinations/retry.ts`), and report validation failures **per record** with a
 *   stable code instead of failing the batch. Sending the same records again is safe: Eloqua contact updates are
 *   PUTs of the same values; webhook batches carry a deterministic `X-Roundtrip-Delivery` id for receivers to
 *   de-duplicate (derived from `deliveryId` and the batch's record keys).
 * - Failures that stop the whole delivery throw `RoundtripError` (RT_DESTINATION_AUTH_FAILED, RT_DESTINATION_UNREACHABLE,
 *   RT_DESTINATION_DELIVERY_FAILED, RT_DESTINATION_ABORTED, RT_FILE_NAME_INVALID).
 */
import { RoundtripError } from '../core/errors.ts';
import type { JsonValue } from '../ports/warehouse.ts';
import { eloquaConnector } from './eloqua.ts';
import { localFolderConnector } from './local-folder.ts';
import { sftpConnector } from './sftp.ts';
import { webhookConnector } from './webhook.ts';

/** Destination types of the catalog. `smtp` is listed (campaigns own it) but has no connector here. */
export const DESTINATION_TYPES = ['local-folder', 'sftp', 'eloqua', 'webhook', 'smtp'] as const;
export type DestinationType = (typeof DESTINATION_TYPES)[number];

/** An account with its secrets decrypted. Never send this over the API; `DestinationAccountView` is the public shape. */
export interface ResolvedAccount {
  id: string;
  sandbox: string;
  name: string;
  type: DestinationType;
  /** Non-secret settings of the type (host, port, folder, url, pod, company…); see the catalog for each type. */
  params: Record<string, JsonValue>;
  /** Decrypted secret settings (password, privateKey, passphrase, signingSecret…). */
  secrets: Record<string, string>;
  /** File destinations: ASCII-armored OpenPGP public key; files are encrypted with it before they leave. */
  pgpPublicKey?: string;
  /** Marketing actions the destination is used for (data governance checks by dataflows). */
  marketingActions: string[];
}

// ---- file destinations -------------------------------------------------------------------------------------

export interface FileToDeliver {
  /** Final file name at the destination (no folders), e.g. `Acme_segment42_20240101120000.csv`. */
  name: string;
  /** Where the complete file is on local disk. */
  localPath: string;
  bytes: number;
  rows: number;
  /** True when the file is already OpenPGP-encrypted (the CSV writer did it); otherwise the connector encrypts when the account has a key. */
  encrypted?: boolean;
}

export interface DeliveryReceipt {
  /** Name the file has at the destination (with `.pgp` appended when the connector encrypted it). */
  name: string;
  /** Full path at the destination (folder + name). */
  remotePath: string;
  /** Bytes written at the destination (after encryption). */
  bytes: number;
  rows: number;
  encrypted: boolean;
  /** True when an identical complete file (same name and size) was already there, so nothing was uploaded. */
  skipped: boolean;
  durationMs: number;
}

export interface DeliverOptions {
  signal?: AbortSignal;
}

export interface FileConnector {
  kind: 'file';
  /** Uploads every file atomically (temp name, then rename); idempotent when retried with the same names. */
  deliver(account: ResolvedAccount, files: FileToDeliver[], options?: DeliverOptions): Promise<DeliveryReceipt[]>;
  /** Connects and checks the folder is writable (writes and removes a probe file). */
  test(account: ResolvedAccount, options?: DeliverOptions): Promise<ConnectionTestResult>;
}

// ---- API destinations --------------------------------------------------------------------------------------

/** Segment membership status as in XDM `segmentMembership.status`. */
export type MembershipStatus = 'realized' | 'exited';

export interface ApiRecord {
  /** Stable key of the record (the profile id): per-record failures and delivery ids refer to it. */
  key: string;
  /** Target identities, e.g. `{ EloquaId: '123' }` (already mapped and hashed by the dataflow). */
  identities: Record<string, string>;
  /** Target attributes, e.g. `{ emailAddress: 'a@b.c', firstName: 'Ann' }` (already mapped). */
  attributes: Record<string, string | number | boolean | null>;
  /** Membership of the activated audiences, by audience id. */
  audiences: Record<string, MembershipStatus>;
}

export interface AudienceRef {
  id: string;
  name: string;
}

export interface SendContext {
  /** Every audience of the dataflow (Eloqua makes one custom contact field per audience). */
  audiences: AudienceRef[];
  /** Stable id of this delivery attempt's logical unit (e.g. the dataflow run id): a retried run passes the same one. */
  deliveryId?: string;
  signal?: AbortSignal;
}

export interface ApiRecordFailure {
  key: string;
  /** `RT_DESTINATION_RECORD_INVALID` (validation error answered by the destination), `RT_DESTINATION_FIELD_LIMIT`, `RT_DESTINATION_REJECTED`, `RT_DESTINATION_UNREACHABLE` (retries exhausted). */
  code: string;
  message: string;
  /** What the destination answered (e.g. Eloqua's `ObjectValidationError` body) and the HTTP status. */
  details?: JsonValue;
}

export interface ApiSendResult {
  /** Records the destination accepted. */
  sent: number;
  failures: ApiRecordFailure[];
  /** HTTP requests made, including retries. */
  requests: number;
  retries: number;
  durationMs: number;
}

export interface ApiConnector {
  kind: 'api';
  /** Sends records in batches; never throws for per-record problems (they are in `failures`). Throws `RT_DESTINATION_AUTH_FAILED` when credentials are refused. */
  send(account: ResolvedAccount, records: ApiRecord[], context: SendContext): Promise<ApiSendResult>;
  test(account: ResolvedAccount, options?: DeliverOptions): Promise<ConnectionTestResult>;
}

export type Connector = FileConnector | ApiConnector;

export interface ConnectionTestResult {
  ok: boolean;
  /** Stable code when not ok (`RT_DESTINATION_AUTH_FAILED`, `RT_DESTINATION_UNREACHABLE`, …). */
  code?: string;
  message: string;
  durationMs: number;
}

/** The connector of a destination type; `smtp` belongs to campaigns and has none here. */
export function connectorFor(type: DestinationType): Connector {
  switch (type) {
    case 'local-folder':
      return localFolderConnector;
    case 'sftp':
      return sftpConnector;
    case 'eloqua':
      return eloquaConnector;
    case 'webhook':
      return webhookConnector;
    default:
      throw new RoundtripError('RT_DESTINATION_TYPE_UNSUPPORTED', `Destination type ${type} has no connector here (smtp is sent by campaigns).`, { type });
  }
}
