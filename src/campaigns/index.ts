/**
 * The campaign loop (issue 11): campaigns sent through SMTP with a holdout, Roundtrip's own open/click/
 * unsubscribe tracking, response events from ESPs and files, consent from unsubscribes, and the post-campaign
 * facts, uplift and widgets. `Campaigns` is what the composition root constructs; `docs/campaigns.md`
 * describes the whole loop.
 */
import type { AuditLog } from '../access/audit.ts';
import type { Datasets } from '../catalog/datasets.ts';
import type { SchemaRegistry } from '../catalog/schema-registry.ts';
import { tenantKey } from '../catalog/xdm/compose.ts';
import type { Clock } from '../core/clock.ts';
import type { IdentityGraph } from '../identity/graph.ts';
import type { BatchIngestion } from '../ingest/batch/batch-ingestion.ts';
import type { StreamingIngest } from '../ingest/streaming/service.ts';
import type { JobRegistry } from '../platform/jobs.ts';
import type { MetadataStore } from '../ports/metadata-store.ts';
import type { Warehouse } from '../ports/warehouse.ts';
import type { MergePolicies } from '../profile/merge-policies.ts';
import type { ProfileStore } from '../profile/profile-store.ts';
import { CampaignAnalysis, type InsightsHook } from './analysis.ts';
import { postCampaignDashboard } from './dashboard.ts';
import { CAMPAIGN_MODEL, CAMPAIGN_SCHEMA, ensureFactTables } from './facts.ts';
import type { StandardDashboard } from '../dashboards/standard.ts';
import { ImportService } from './imports.ts';
import { campaignKeys, type CampaignKeys } from './secrets.ts';
import { CampaignService, type CampaignDeps } from './service.ts';
import { CampaignStore } from './store.ts';
import { Tracking } from './tracking.ts';

export interface CampaignsDeps {
  dataDir: string;
  /** Configuration `secretKey` (ROUNDTRIP_SECRET_KEY); unset: `<dataDir>/secret.key`. */
  secretKey?: string;
  tenant: string;
  metadata: MetadataStore;
  warehouse: Warehouse;
  registry: SchemaRegistry;
  datasets: Datasets;
  streaming: StreamingIngest;
  batchIngestion: BatchIngestion;
  identity: IdentityGraph;
  mergePolicies: MergePolicies;
  profileStore: ProfileStore;
  audit: AuditLog;
  clock: Clock;
  /** Overrides the data directory's secret (tests). */
  keys?: CampaignKeys;
  env?: NodeJS.ProcessEnv;
  /** Members per send chunk (tests use small ones). */
  chunkSize?: number;
  /** Test hook of the send (`CampaignDeps.beforeRecord`): simulates a crash at a chosen point. */
  beforeRecord?: CampaignDeps['beforeRecord'];
}

/** `platform.insights` as the campaign loop uses it: accelerated queries, their cache, model names. */
export interface CampaignInsightsPort extends InsightsHook {
  registerModel(schema: string, info: { name: string; description: string }): void;
}

export class Campaigns {
  readonly store: CampaignStore;
  readonly service: CampaignService;
  readonly analysis: CampaignAnalysis;
  readonly tracking: Tracking;
  readonly imports: ImportService;

  constructor(deps: CampaignsDeps) {
    const env = deps.env ?? process.env;
    const keys = deps.keys ?? campaignKeys({ dataDir: deps.dataDir, ...(deps.secretKey ? { secretKey: deps.secretKey } : {}) });
    const tenant = tenantKey(deps.tenant);
    const { metadata, clock } = deps;
    this.store = new CampaignStore({ metadata, warehouse: deps.warehouse, registry: deps.registry, datasets: deps.datasets, streaming: deps.streaming, clock, keys, tenantKey: tenant });
    this.service = new CampaignService({
      metadata,
      store: this.store,
      identity: deps.identity,
      mergePolicies: deps.mergePolicies,
      profileStore: deps.profileStore,
      audit: deps.audit,
      clock,
      keys,
      tenantKey: tenant,
      publicUrl: env.ROUNDTRIP_PUBLIC_URL ?? 'http://127.0.0.1:8080',
      ...(deps.chunkSize ? { chunkSize: deps.chunkSize } : {}),
      ...(deps.beforeRecord ? { beforeRecord: deps.beforeRecord } : {}),
    });
    this.analysis = new CampaignAnalysis({ metadata, store: this.store, campaigns: this.service, identity: deps.identity, mergePolicies: deps.mergePolicies, profileStore: deps.profileStore, tenantKey: tenant });
    this.tracking = new Tracking({ store: this.store, campaigns: this.service, keys, clock, tenantKey: tenant });
    this.imports = new ImportService({ store: this.store, streaming: deps.streaming, batchIngestion: deps.batchIngestion, audit: deps.audit, clock, tenantKey: tenant, campaigns: this.service });
  }

  /**
   * Wires the campaign loop to insights and dashboards (composition root): widgets run as accelerated queries,
   * refreshes invalidate their cached results, the store is listed as the data model CampaignInsights, and every
   * sandbox gets the post-campaign standard dashboard.
   */
  connect(parts: { insights: CampaignInsightsPort; dashboards: { addStandardDashboard(def: StandardDashboard): void } }): void {
    this.analysis.insights = parts.insights;
    parts.insights.registerModel(CAMPAIGN_SCHEMA, {
      name: CAMPAIGN_MODEL,
      description: 'Post-campaign facts: sends, deliveries, opens, clicks, unsubscribes and attributed purchases by campaign, audience, CLV decile, treatment and date.',
    });
    // Its widgets read the campaign store: create the (empty) tables with the dashboard, so a sandbox that never
    // sent a campaign shows empty widgets rather than errors.
    parts.dashboards.addStandardDashboard({ ...postCampaignDashboard, prepare: async (sandbox) => ensureFactTables(await this.store.warehouseOf(sandbox)) });
  }

  /** Lets running sends finish (their events and ledger rows) before the warehouse and streaming close. */
  async close(): Promise<void> {
    await this.service.drain();
  }

  /** `campaign.send` (due campaigns, or one) and `campaign.refresh` (the facts) for schedules. */
  registerJobs(jobs: JobRegistry): void {
    for (const job of this.service.jobKinds()) jobs.register(job);
    jobs.register({
      kind: 'campaign.refresh',
      description: 'Refresh the post-campaign facts incrementally (params: ordersDataset)',
      run: async ({ principal, sandbox, params }) => {
        const outcome = await this.analysis.refresh(principal, sandbox, typeof params.ordersDataset === 'string' ? { ordersDataset: params.ordersDataset } : {});
        return { rowCount: outcome.factRows, message: `${outcome.responsesAdded} responses; campaigns ${outcome.campaigns.join(', ') || 'none'}` };
      },
    });
  }
}

export { CAMPAIGN_WIDGETS, widgetSql, type WidgetDefinition, type WidgetParams } from './analysis.ts';
export { FACTS, CAMPAIGN_DIM, AUDIENCE_DIM, FACT_MEASURES, CAMPAIGN_MODEL, CAMPAIGN_SCHEMA, STORE_TABLES } from './facts.ts';
export { postCampaignDashboard, POST_CAMPAIGN_DASHBOARD_KEY } from './dashboard.ts';
