/**
 * Where the campaign loop keeps its data in a sandbox, and how it writes response events durably.
 *
 * - Campaigns are `metadata.documents` of kind `campaign`; the sandbox's tracking setup is the document
 *   `campaign-setup/tracking` (dataset ids, the internal streaming connection and its sealed secret).
 * - `Email Tracking`: the ExperienceEvent dataset of response events (the synthetic brand's email schema plus
 *   the tracking fields of `events.ts`), profile-enabled so that responses join the person's profile.
 * - `Email Consent`: a profile-enabled dataset of consent fragments (`consents.marketing.email.val = 'n'`)
 *   anchored on the person's identities; the timestamp-ordered merge makes the newest consent win.
 * - `_rt_campaign_messages` (the send ledger, one row per campaign × audience member: message id, whether held
 *   out, suppressed, sent or bounced, the CLV decile and predicted CLV at send time), `_rt_campaign_responses`
 *   (response events joined to the ledger, de-duplicated by `_id`), `_rt_campaign_checkpoints` and the
 *   `campaign_facts` table (`facts.ts`).
 *
 * Own events go through streaming ingestion (`platform.streaming`): written to its write-ahead log and
 * acknowledged once synced, then applied to the dataset in the background — durable from the moment the
 * pixel or redirect is answered, and cheap (one dataset snapshot per second of traffic, not per hit).
 */
import type { Principal } from '../access/principal.ts';
import type { Datasets } from '../catalog/datasets.ts';
import type { SchemaRegistry } from '../catalog/schema-registry.ts';
import type { Properties } from '../catalog/xdm/fields.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { EntryBuilder } from '../ingest/streaming/intake.ts';
import type { LiveConnection } from '../ingest/streaming/connections.ts';
import type { StreamingIngest } from '../ingest/streaming/service.ts';
import type { DatasetRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { JsonRecord, SandboxWarehouse, Warehouse } from '../ports/warehouse.ts';
import { brandSchemas } from '../synthetic/schemas.ts';
import { TRACKING_FIELDS } from './events.ts';
import type { CampaignKeys } from './secrets.ts';

export const CAMPAIGN_KIND = 'campaign';
const SETUP_KIND = 'campaign-setup';
const SETUP_ID = 'tracking';
export const TRACKING_DATASET = 'Email Tracking';
export const CONSENT_DATASET = 'Email Consent';
export const LEDGER = '_rt_campaign_messages';
export const RESPONSES = '_rt_campaign_responses';
export const CHECKPOINTS = '_rt_campaign_checkpoints';

/** The platform itself, as the actor of what the campaign loop creates and writes on its own. */
export const CAMPAIGN_SYSTEM: Principal = { id: 'system:campaigns', name: 'campaign loop', role: 'admin', sandboxes: ['*'] };

export interface TrackingSetup {
  trackingDatasetId: string;
  consentDatasetId: string;
  connectionId: string;
  sealedSecret: string;
}

const LEDGER_DDL = `CREATE TABLE IF NOT EXISTS ${LEDGER} (
  campaign_id VARCHAR NOT NULL, message_id VARCHAR NOT NULL, profile_id BIGINT NOT NULL, merge_policy_id VARCHAR NOT NULL,
  segment_id VARCHAR NOT NULL, email VARCHAR, holdout BOOLEAN NOT NULL, eligible BOOLEAN NOT NULL, status VARCHAR NOT NULL, smtp_response VARCHAR,
  clv_decile INTEGER, predicted_clv DOUBLE, handled_at TIMESTAMPTZ NOT NULL)`;
const RESPONSES_DDL = `CREATE TABLE IF NOT EXISTS ${RESPONSES} (
  event_id VARCHAR NOT NULL, campaign_id VARCHAR NOT NULL, message_id VARCHAR, profile_id BIGINT, event_type VARCHAR NOT NULL,
  ts TIMESTAMPTZ NOT NULL, link_url VARCHAR, machine BOOLEAN NOT NULL, bounce_type VARCHAR, source VARCHAR, snapshot_id BIGINT NOT NULL)`;
const CHECKPOINTS_DDL = `CREATE TABLE IF NOT EXISTS ${CHECKPOINTS} (name VARCHAR NOT NULL, value BIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL)`;

const ensuredTables = new WeakSet<SandboxWarehouse>();

export async function ensureCampaignTables(warehouse: SandboxWarehouse): Promise<void> {
  if (ensuredTables.has(warehouse)) return;
  await warehouse.query([LEDGER_DDL, RESPONSES_DDL, CHECKPOINTS_DDL].join(';\n'));
  ensuredTables.add(warehouse);
}

/** Anything that runs SQL: the warehouse (pooled connections) or one session (temp tables live there). */
export type SqlRunner = Pick<SandboxWarehouse, 'query'>;

export async function readCheckpoint(warehouse: SqlRunner, name: string): Promise<number> {
  const row = (await warehouse.query(`SELECT value FROM ${CHECKPOINTS} WHERE name = $n`, { n: name })).rows[0];
  return row ? Number(row.value) : 0;
}

export async function writeCheckpoint(warehouse: SqlRunner, name: string, value: number): Promise<void> {
  await warehouse.query(`DELETE FROM ${CHECKPOINTS} WHERE name = $n`, { n: name });
  await warehouse.query(`INSERT INTO ${CHECKPOINTS} VALUES ($n, ${Math.trunc(value)}, now())`, { n: name });
}

export interface StoreDeps {
  metadata: MetadataStore;
  warehouse: Warehouse;
  registry: SchemaRegistry;
  datasets: Datasets;
  streaming: StreamingIngest;
  clock: Clock;
  keys: CampaignKeys;
  tenantKey: string;
}

export class CampaignStore {
  private readonly setups = new Map<string, Promise<TrackingSetup>>();

  constructor(private readonly deps: StoreDeps) {}

  async warehouseOf(sandbox: string): Promise<SandboxWarehouse> {
    const warehouse = await this.deps.warehouse.sandbox(sandbox);
    await ensureCampaignTables(warehouse);
    return warehouse;
  }

  /** The sandbox's tracking setup, created on first use (once per process per sandbox, even when asked concurrently). */
  setup(sandbox: string): Promise<TrackingSetup> {
    let pending = this.setups.get(sandbox);
    if (!pending) {
      pending = this.loadOrCreate(sandbox);
      this.setups.set(sandbox, pending);
      pending.catch(() => this.setups.delete(sandbox));
    }
    return pending;
  }

  async trackingDataset(sandbox: string): Promise<DatasetRecord> {
    return this.deps.datasets.get(sandbox, (await this.setup(sandbox)).trackingDatasetId);
  }

  private async loadOrCreate(sandbox: string): Promise<TrackingSetup> {
    const stored = await this.deps.metadata.documents.get<TrackingSetup & Record<string, string>>(sandbox, SETUP_KIND, SETUP_ID);
    if (stored && (await this.deps.metadata.datasets.get(sandbox, stored.body.trackingDatasetId)) && (await this.deps.metadata.streamingConnections.get(stored.body.connectionId))) {
      return stored.body;
    }
    const tracking = await this.ensureDataset(sandbox, TRACKING_DATASET, () => this.trackingSchema());
    const consent = await this.ensureDataset(sandbox, CONSENT_DATASET, () => ({
      title: 'Email marketing consent (campaign unsubscribes)',
      description: 'Consent fragments written when a person unsubscribes; anchored on the identities of their profile.',
      class: 'profile' as const,
      fieldGroups: ['identity-map', 'consents'],
    }));
    const { connection, secret } = await this.deps.streaming.connections.create(CAMPAIGN_SYSTEM, sandbox, { name: 'campaign tracking (internal)', dataset: tracking.id, profileDataset: consent.id });
    const body: TrackingSetup = {
      trackingDatasetId: tracking.id,
      consentDatasetId: consent.id,
      connectionId: connection.id,
      sealedSecret: this.deps.keys.box.seal(secret, `${sandbox}/${connection.id}`),
    };
    const now = isoNow(this.deps.clock);
    if (stored) await this.deps.metadata.documents.update(sandbox, SETUP_KIND, SETUP_ID, body as unknown as Record<string, string>, { updatedAt: now });
    else await this.deps.metadata.documents.create({ sandbox, kind: SETUP_KIND, id: SETUP_ID, parentId: null, body: body as unknown as Record<string, string>, createdAt: now, updatedAt: now });
    return body;
  }

  /** The synthetic brand's email-responses schema, with the tracking fields added. */
  private trackingSchema() {
    const base = brandSchemas(this.deps.tenantKey.slice(1)).email;
    return {
      ...base,
      title: 'Email tracking (campaign responses)',
      description: 'directMarketing.email* response events from Roundtrip campaigns, ESPs and batch files.',
      fields: { ...base.fields, ...(TRACKING_FIELDS as unknown as Properties) },
    };
  }

  private async ensureDataset(sandbox: string, name: string, schema: () => Parameters<SchemaRegistry['createSchema']>[2]): Promise<DatasetRecord> {
    const existing = await this.deps.metadata.datasets.getByName(sandbox, name);
    if (existing) return existing;
    const created = await this.deps.registry.createSchema(CAMPAIGN_SYSTEM, sandbox, schema());
    return this.deps.datasets.create(CAMPAIGN_SYSTEM, sandbox, { name, schemaId: created.id, profileEnabled: true, identityEnabled: true });
  }

  private async connection(sandbox: string): Promise<LiveConnection> {
    const setup = await this.setup(sandbox);
    const secret = this.deps.keys.box.open(setup.sealedSecret, `${sandbox}/${setup.connectionId}`);
    return this.deps.streaming.connections.authenticate(secret, { kind: 'xdm', connectionId: setup.connectionId });
  }

  /**
   * Writes events (and consent fragments) through the streaming log; resolves once they are durable.
   * Records are checked synchronously: a record the schema refuses is a bug here, so it throws.
   */
  async write(sandbox: string, events: readonly JsonRecord[], consents: readonly JsonRecord[] = []): Promise<void> {
    if (events.length === 0 && consents.length === 0) return;
    const live = await this.connection(sandbox);
    const { streaming } = this.deps;
    streaming.admit();
    const { xactionId, receivedTimeMs } = streaming.transaction();
    const builder = new EntryBuilder(live, xactionId, receivedTimeMs);
    const offer = (role: 'event' | 'profile', records: readonly JsonRecord[], offset: number) =>
      records.forEach((record, i) => {
        const verdict = builder.offer(live.targets[role]!, record, offset + i + 1, () => JSON.stringify(record), { synchronous: true, refuseOversize: true });
        if (verdict.status !== 200) throw new Error(`campaign ${role} record refused: ${verdict.error?.code} ${verdict.error?.message}`);
      });
    offer('event', events, 0);
    offer('profile', consents, events.length);
    await streaming.commit(builder);
  }

  /** Applies what streaming acknowledged, so that SQL over the datasets sees it. */
  flush(): Promise<void> {
    return this.deps.streaming.flush();
  }
}
