/**
 * The composition root: opens the adapters chosen by configuration (DuckDB + SQLite by default, PostgreSQL
 * metadata when `DATABASE_URL` is set) and wires the domain services onto them. Nothing else constructs
 * adapters, so swapping an engine is a change here and a fixture in the contract suites.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiKeys } from '../access/api-keys.ts';
import { AuditLog } from '../access/audit.ts';
import { LOCAL_OPERATOR, type Principal } from '../access/principal.ts';
import { DuckDBWarehouse } from '../adapters/duckdb/duckdb-warehouse.ts';
import { openPostgresMetadataStore, openSqliteMetadataStore } from '../adapters/sql-metadata/sql-metadata-store.ts';
import { Datasets } from '../catalog/datasets.ts';
import { PRODUCTION_SANDBOX, Sandboxes } from '../catalog/sandboxes.ts';
import { SchemaRegistry } from '../catalog/schema-registry.ts';
import { FailedRecords } from '../ingest/failed-records.ts';
import { BatchIngestion } from '../ingest/batch/batch-ingestion.ts';
import { streamingOptionsFromEnv } from '../ingest/streaming/options.ts';
import { StreamingIngest } from '../ingest/streaming/service.ts';
import { MemoryEventBus } from '../adapters/memory-bus/memory-event-bus.ts';
import type { EventBus } from '../ports/event-bus.ts';
import { ClvService } from '../clv/service.ts';
import { Destinations } from '../destinations/service.ts';
import { clvJobKinds } from '../clv/jobs.ts';
import { InsightsService, insightsJobKinds } from '../insights/index.ts';
import { Dashboards, dashboardOptionsFromEnv } from '../dashboards/service.ts';
import { AudienceService } from '../audiences/service.ts';
import { ActivationService, activationJobKinds } from '../activation/index.ts';
import { Campaigns } from '../campaigns/index.ts';
import { Backups } from '../backup/service.ts';
import { QueryService } from '../query/query-service.ts';
import { followIntervalFromEnv, GraphFollower } from '../identity/follower.ts';
import { IdentityGraph } from '../identity/graph.ts';
import { MergePolicies } from '../profile/merge-policies.ts';
import { streamingLogNotes, PrivacyService } from '../profile/privacy.ts';
import { ProfileStore } from '../profile/profile-store.ts';
import { Profiles } from '../profile/profiles.ts';
import { QuerySchedules } from '../query/schedules/schedules.ts';
import { QueryTemplates } from '../query/templates/templates.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { RoundtripError } from '../core/errors.ts';
import type { MetadataStore } from '../ports/metadata-store.ts';
import type { Warehouse } from '../ports/warehouse.ts';
import { isInitialised, layout } from './data-dir.ts';
import { JobRegistry } from './jobs.ts';

export class Platform {
  readonly audit: AuditLog;
  readonly apiKeys: ApiKeys;
  readonly sandboxes: Sandboxes;
  readonly registry: SchemaRegistry;
  readonly datasets: Datasets;
  readonly failedRecords: FailedRecords;
  /** Batch ingestion: files into datasets, checked, with failed records kept. */
  readonly batchIngestion: BatchIngestion;
  /** Committed records for downstream consumers (profiles, streaming audiences). */
  readonly bus: EventBus;
  readonly streaming: StreamingIngest;
  readonly queries: QueryService;
  readonly queryTemplates: QueryTemplates;
  /** Query schedules and their scheduler; its timer runs only under `roundtrip serve`. */
  readonly schedules: QuerySchedules;
  /** CLV: RFM summaries, model fits and their registry, predictions, historical attributes and deciles. */
  readonly clv: ClvService;
  /** Identity graph: identities linked by co-occurrence, under guardrails; unlink and relink. */
  readonly identity: IdentityGraph;
  readonly mergePolicies: MergePolicies;
  /** Profile snapshot tables, one per merge policy, kept current by the graph's changes. */
  readonly profileStore: ProfileStore;
  /** Profile lookup by any identity, the person's events, merge policy lifecycle. */
  readonly profiles: Profiles;
  /** Privacy delete of a person, and sandbox compaction. */
  readonly privacy: PrivacyService;
  /** Job kinds schedules can run besides SQL (each domain registers its own here). */
  readonly jobs = new JobRegistry();
  /** Destination catalog, accounts (credentials encrypted at rest) and connection tests; connectors in src/destinations. */
  readonly destinations: Destinations;
  /** Accelerated store, data models, CDPInsights and its refresh, accelerated queries. */
  readonly insights: InsightsService;
  /** Dashboards and widgets (guided and query pro), their data, charts and exports; standard CLV dashboards. */
  readonly dashboards: Dashboards;
  /** Audiences: segment definitions, batch jobs, streaming evaluation, estimates, memberships (listens to the graph before the profile store). */
  readonly audiences: AudienceService;
  /** Activation dataflows: audiences to destinations on schedule or streaming, run history, the activation log. */
  readonly activation: ActivationService;
  /** Campaigns: SMTP sends with holdouts, open/click/unsubscribe tracking, response events, post-campaign facts and uplift. */
  readonly campaigns: Campaigns;
  /** Backup and restore of a sandbox to and from one file (`<dataDir>/backups`). */
  readonly backups: Backups;
  /** Syncs the graph on event-bus messages and when datasets get new snapshots. */
  private readonly identityFollower: GraphFollower;

  constructor(
    readonly config: Config,
    readonly metadata: MetadataStore,
    readonly warehouse: Warehouse,
    readonly clock: Clock = systemClock,
  ) {
    this.audit = new AuditLog(metadata, clock);
    this.apiKeys = new ApiKeys(metadata, this.audit, clock);
    this.sandboxes = new Sandboxes(metadata, warehouse, this.audit, clock);
    this.registry = new SchemaRegistry(metadata, this.audit, clock, config.tenant);
    this.datasets = new Datasets(metadata, warehouse, this.registry, this.audit, clock, config);
    this.failedRecords = new FailedRecords(warehouse, clock);
    this.batchIngestion = new BatchIngestion({
      metadata,
      warehouse,
      datasets: this.datasets,
      registry: this.registry,
      failedRecords: this.failedRecords,
      audit: this.audit,
      clock,
      limits: config,
    });
    this.bus = new MemoryEventBus();
    this.streaming = new StreamingIngest({
      streamingDir: path.join(config.dataDir, 'streaming'),
      metadata,
      warehouse,
      datasets: this.datasets,
      registry: this.registry,
      failedRecords: this.failedRecords,
      audit: this.audit,
      bus: this.bus,
      clock,
      options: streamingOptionsFromEnv(),
    });
    this.queries = new QueryService(config, metadata, warehouse, this.datasets, this.registry, clock);
    const execute = this.queries.execute.bind(this.queries);
    this.queryTemplates = new QueryTemplates({ metadata, audit: this.audit, clock, execute });
    this.schedules = new QuerySchedules({ metadata, audit: this.audit, clock, execute, logLevel: config.logLevel, jobs: this.jobs });
    this.clv = new ClvService({ metadata, warehouse, datasets: this.datasets, registry: this.registry, queries: this.queries, audit: this.audit, clock, tenant: config.tenant });
    for (const job of clvJobKinds(this.clv)) this.jobs.register(job);
    this.destinations = new Destinations({ metadata, audit: this.audit, clock, config });
    this.identity = new IdentityGraph(metadata, warehouse, this.registry, this.audit);
    this.mergePolicies = new MergePolicies(metadata, this.audit, clock);
    this.audiences = new AudienceService(this);
    this.streaming.onAcknowledged((sandbox, writes, at) => this.audiences.streaming.acknowledged(sandbox, writes, at));
    this.profileStore = new ProfileStore(warehouse, this.identity, this.mergePolicies);
    this.profileStore.onRowsChanged((sandbox, policyId, ids) => this.audiences.streaming.fastPath.profilesChanged(sandbox, policyId, ids));
    this.profiles = new Profiles(metadata, this.identity, this.mergePolicies, this.profileStore, {
      // Read-your-writes for streaming: what was acknowledged for this sandbox is applied before a profile read.
      beforeRead: async (sandbox) => {
        if (this.streaming.stats().sandboxes.some((s) => s.sandbox === sandbox && s.pendingEntries > 0)) await this.streaming.flush();
      },
    });
    this.insights = new InsightsService({ metadata, warehouse, queries: this.queries, queryTemplates: this.queryTemplates, identity: this.identity, mergePolicies: this.mergePolicies, audit: this.audit, clock });
    for (const job of insightsJobKinds(this.insights)) this.jobs.register(job);
    this.dashboards = new Dashboards({ metadata, audit: this.audit, clock, insights: this.insights, ...dashboardOptionsFromEnv() });
    this.activation = new ActivationService({ metadata, warehouse, audit: this.audit, clock, mergePolicies: this.mergePolicies, profileStore: this.profileStore, accounts: this.destinations });
    for (const job of activationJobKinds(this.activation)) this.jobs.register(job);
    this.campaigns = new Campaigns({ dataDir: config.dataDir, ...(config.secretKey ? { secretKey: config.secretKey } : {}), tenant: config.tenant, metadata, warehouse, registry: this.registry, datasets: this.datasets, streaming: this.streaming, batchIngestion: this.batchIngestion, identity: this.identity, mergePolicies: this.mergePolicies, profileStore: this.profileStore, audit: this.audit, clock });
    this.campaigns.registerJobs(this.jobs);
    this.campaigns.connect({ insights: this.insights, dashboards: this.dashboards });
    this.sandboxes.onProvision((sandbox) => this.dashboards.ensureStandard(sandbox));
    this.backups = new Backups({ dataDir: config.dataDir, ...(config.secretKey ? { secretKey: config.secretKey } : {}), metadata, warehouse, audit: this.audit, clock, flushStreaming: () => this.streaming.flush() });
    this.privacy = new PrivacyService(metadata, warehouse, this.identity, this.mergePolicies, this.audit, clock, {
      beforeDelete: () => this.streaming.flush(),
      remainingNotes: (sandbox) => streamingLogNotes(path.join(config.dataDir, 'streaming', sandbox)),
    });
    this.privacy.register(this.audiences.personalDataEraser());
    this.identityFollower = new GraphFollower(metadata, this.bus, this.identity, { intervalMs: followIntervalFromEnv(), warn: (message, error) => console.warn(`[identity] ${message}:`, (error as Error).message) });
    this.identityFollower.start();
  }

  async close(): Promise<void> {
    // Scheduled runs in flight end before the warehouse they write to closes.
    await this.schedules.stop();
    // Campaign sends in flight write their events and ledger rows before streaming and the warehouse close.
    await this.campaigns.close();
    // Streaming first: it applies what it acknowledged while the warehouse is still open.
    await this.streaming.close();
    await this.bus.close();
    await this.identityFollower.stop();
    await this.audiences.close();
    await this.activation.stop();
    await this.warehouse.close();
    await this.metadata.close();
  }
}

function openAdapters(config: Config): { metadata: MetadataStore; warehouse: Warehouse } {
  const paths = layout(config.dataDir);
  const metadata = config.databaseUrl
    ? openPostgresMetadataStore({ connectionString: config.databaseUrl })
    : openSqliteMetadataStore(paths.metadataFile);
  const warehouse = new DuckDBWarehouse({ directory: paths.warehouseDir, threads: config.duckdbThreads, memoryLimit: config.duckdbMemoryLimit, checkpointThreshold: config.duckdbCheckpointThreshold });
  return { metadata, warehouse };
}

/** Opens an initialised data directory. */
export async function openPlatform(config: Config, clock: Clock = systemClock): Promise<Platform> {
  if (!isInitialised(config.dataDir)) {
    throw new RoundtripError('RT_DATA_DIR_NOT_INITIALISED', `${config.dataDir} is not a Roundtrip data directory; run \`roundtrip init --data-dir ${config.dataDir}\` first.`);
  }
  const { metadata, warehouse } = openAdapters(config);
  await metadata.migrate();
  const platform = new Platform(config, metadata, warehouse, clock);
  // Replays whatever streaming acknowledged but had not applied when the last process stopped.
  platform.streaming.recover();
  // Standard dashboards come with a sandbox; prod of a data directory from before that gets them on first open.
  if (await metadata.sandboxes.get(PRODUCTION_SANDBOX)) {
    await platform.dashboards.ensureStandard(PRODUCTION_SANDBOX).catch((error: unknown) => console.warn('[dashboards] standard dashboards not provisioned at open (the next read retries):', (error as Error).message));
  }
  return platform;
}

export interface InitResult {
  dataDir: string;
  sandbox: string;
  adminKeyId: string;
  /** Shown once; only its hash is stored. */
  adminToken: string;
}

/** Creates the data directory, the `prod` sandbox and a first admin key. Refuses an initialised directory. */
export async function initDataDir(config: Config, clock: Clock = systemClock): Promise<InitResult> {
  const paths = layout(config.dataDir);
  if (isInitialised(config.dataDir)) {
    throw new RoundtripError('RT_DATA_DIR_EXISTS', `${config.dataDir} is already initialised; nothing was changed. Use \`roundtrip key create\` for a new key.`);
  }
  mkdirSync(paths.warehouseDir, { recursive: true });
  const { metadata, warehouse } = openAdapters(config);
  const platform = new Platform(config, metadata, warehouse, clock);
  try {
    await metadata.migrate();
    const operator: Principal = LOCAL_OPERATOR;
    if (!(await metadata.sandboxes.get(PRODUCTION_SANDBOX))) {
      await platform.sandboxes.create(operator, { name: PRODUCTION_SANDBOX, title: 'Production', type: 'production' });
    }
    const { key, token } = await platform.apiKeys.create(operator, { name: 'first admin', role: 'admin', sandboxes: ['*'] });
    writeFileSync(paths.marker, JSON.stringify({ format: 1, createdAt: clock.now().toISOString() }, null, 2));
    return { dataDir: config.dataDir, sandbox: PRODUCTION_SANDBOX, adminKeyId: key.id, adminToken: token };
  } finally {
    await platform.close();
  }
}
