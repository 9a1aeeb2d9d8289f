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
import { CampaignAnalysis } from './analysis.ts';
import { ImportService } from './imports.ts';
import { campaignKeys, type CampaignKeys } from './secrets.ts';
import { CampaignService } from './service.ts';
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
    });
    this.analysis = new CampaignAnalysis({ metadata, store: this.store, campaigns: this.service, identity: deps.identity, mergePolicies: deps.mergePolicies, profileStore: deps.profileStore, tenantKey: tenant });
    this.tracking = new Tracking({ store: this.store, campaigns: this.service, keys, clock, tenantKey: tenant });
    this.imports = new ImportService({ store: this.store, streaming: deps.streaming, batchIngestion: deps.batchIngestion, audit: deps.audit, clock, tenantKey: tenant, campaigns: this.service });
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
export { FACTS, CAMPAIGN_DIM, FACT_MEASURES } from './facts.ts';
