/**
 * Response events from outside Roundtrip: an ESP that sends the campaign (or relays it) reports sends,
 * deliveries, opens, clicks, bounces and unsubscribes.
 *
 * - Streaming: `espConnection` makes a streaming connection into the email-tracking dataset; the ESP posts
 *   XDM events in the collection envelope to `/collection/{connectionId}` (docs/campaigns.md has the envelope
 *   and the fields).
 * - Batch: an ESP export in a flat shape (one row per event: id, type, timestamp, email, campaignId, messageId,
 *   url, bounceCode, userAgent, ip, reason), as CSV or JSON, is mapped to the same XDM events and loaded through
 *   batch ingestion (checked, failed rows kept, one snapshot).
 *
 * Either way, unsubscribes become consent at once (`syncConsent`) and again before every send and refresh, and
 * opens through mail-privacy proxies are marked by the same heuristic as Roundtrip's own pixel.
 */
import { parseCsv } from '../core/csv.ts';
import { Readable } from 'node:stream';
import type { AuditLog } from '../access/audit.ts';
import { authorize, type Principal } from '../access/principal.ts';
import type { Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import type { BatchIngestion } from '../ingest/batch/batch-ingestion.ts';
import type { StreamingIngest } from '../ingest/streaming/service.ts';
import type { JsonRecord } from '../ports/warehouse.ts';
import { syncConsent } from './consent.ts';
import { emailEvent, type EmailEventKind } from './events.ts';
import { EspEvent, type EspEventT } from './payloads.ts';
import { compileSchema } from '../core/validation.ts';
import { privacyProxyOf } from './privacy-proxy.ts';
import type { CampaignService } from './service.ts';
import { type CampaignStore } from './store.ts';

export const ESP_COLUMNS = ['id', 'type', 'timestamp', 'email', 'campaignId', 'messageId', 'url', 'bounceCode', 'userAgent', 'ip', 'reason'] as const;
const isEspEvent = compileSchema(EspEvent) as (value: unknown) => value is EspEventT;
const KINDS = new Set<EmailEventKind>(['sent', 'delivered', 'opened', 'clicked', 'bounced', 'unsubscribed']);

export interface ImportDeps {
  store: CampaignStore;
  streaming: StreamingIngest;
  batchIngestion?: BatchIngestion;
  audit: AuditLog;
  clock: Clock;
  tenantKey: string;
  campaigns: CampaignService;
}


/** ESP export CSV (header row naming ESP_COLUMNS, any order) → events; empty cells are absent fields. */
export function espEventsFromCsv(text: string): EspEventT[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  const names = header.map((h) => h.trim());
  for (const required of ['id', 'type', 'timestamp', 'email', 'campaignId']) {
    if (!names.includes(required)) throw new RoundtripError('RT_CAMPAIGN_INVALID', `The ESP export needs a "${required}" column; columns are ${ESP_COLUMNS.join(', ')}.`);
  }
  return rows.map((cells, index) => {
    const event: unknown = Object.fromEntries(names.map((n, i) => [n, cells[i] ?? '']).filter(([, v]) => v !== ''));
    if (!isEspEvent(event)) throw new RoundtripError('RT_CAMPAIGN_INVALID', `Row ${index + 2} of the ESP export is not a valid event (columns ${ESP_COLUMNS.join(', ')}; type one of sent, delivered, opened, clicked, bounced, unsubscribed; an ISO timestamp).`);
    return event;
  });
}

export class ImportService {
  constructor(private readonly deps: ImportDeps) {}

  /** The XDM event of one ESP event (`_id` = `esp:<id>`, so a resent report is dropped as a duplicate). */
  async toXdm(sandbox: string, event: EspEventT, source: 'esp' | 'batch', names: Map<string, string | null>): Promise<JsonRecord> {
    const type: string = event.type;
    if (!KINDS.has(type as EmailEventKind)) throw new RoundtripError('RT_CAMPAIGN_INVALID', `Unknown event type "${type}".`);
    if (!names.has(event.campaignId)) names.set(event.campaignId, (await this.deps.campaigns.forTracking(sandbox, event.campaignId))?.doc.name ?? null);
    const kind = event.type as EmailEventKind;
    return emailEvent(this.deps.tenantKey, {
      kind,
      id: `esp:${event.id}`,
      timestamp: event.timestamp,
      email: event.email,
      campaignId: event.campaignId,
      campaignName: names.get(event.campaignId) ?? null,
      messageId: event.messageId ?? null,
      source,
      linkURL: event.url ?? null,
      bounceCode: event.bounceCode ?? null,
      unsubscribeReason: event.reason ?? null,
      userAgent: event.userAgent ?? null,
      privacyProxy: kind === 'opened' ? privacyProxyOf(event.ip, event.userAgent) : null,
    });
  }

  /** A streaming connection for an ESP into the email-tracking dataset; its secret is shown once. */
  async espConnection(actor: Principal, sandbox: string, name: string) {
    authorize(actor, 'dataset:write', sandbox);
    const dataset = await this.deps.store.trackingDataset(sandbox);
    const { connection, secret } = await this.deps.streaming.connections.create(actor, sandbox, { name, dataset: dataset.id });
    return { connectionId: connection.id, endpoint: `/collection/${connection.id}`, secret, datasetId: dataset.id, schemaId: dataset.schemaId };
  }

  /** Loads ESP events through batch ingestion as one batch; returns rows written and consent fragments made. */
  async importEvents(actor: Principal, sandbox: string, events: readonly EspEventT[]): Promise<{ received: number; written: number; consentUpdates: number }> {
    authorize(actor, 'dataset:write', sandbox);
    const batches = this.deps.batchIngestion;
    if (!batches) throw new Error('batch ingestion is not wired into campaigns');
    if (events.length === 0) return { received: 0, written: 0, consentUpdates: 0 };
    const dataset = await this.deps.store.trackingDataset(sandbox);
    const names = new Map<string, string | null>();
    const lines: string[] = [];
    for (const event of events) lines.push(JSON.stringify(await this.toXdm(sandbox, event, 'batch', names)));
    const batch = await batches.create(actor, sandbox, { datasetId: dataset.id, inputFormat: { format: 'jsonl' } });
    await batches.putFile(sandbox, batch.id, dataset.id, 'esp-export.jsonl', Readable.from([lines.join('\n')]));
    await batches.complete(actor, sandbox, batch.id);
    const done = await batches.settled(sandbox, batch.id);
    if (done.status !== 'success') throw new RoundtripError('RT_CAMPAIGN_INVALID', `The ESP export batch ${batch.id} ${done.status}: ${done.errorMessage ?? 'see its failed records'}.`, { batchId: batch.id });
    const consentUpdates = await syncConsent(this.deps.store, sandbox, this.deps.tenantKey);
    await this.deps.audit.record(actor, { sandbox, action: 'campaign.import', resourceType: 'dataset', resourceId: dataset.id, details: { batchId: batch.id, rows: done.rowsWritten } });
    return { received: events.length, written: done.rowsWritten, consentUpdates };
  }
}
