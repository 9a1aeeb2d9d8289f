/**
 * The composition root: opens the adapters chosen by configuration (DuckDB + SQLite by default, PostgreSQL
 * metadata when `DATABASE_URL` is set) and wires the domain services onto them. Nothing else constructs
 * adapters, so swapping an engine is a change here and a fixture in the contract suites.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { ApiKeys } from '../access/api-keys.ts';
import { AuditLog } from '../access/audit.ts';
import { LOCAL_OPERATOR, type Principal } from '../access/principal.ts';
import { DuckDBWarehouse } from '../adapters/duckdb/duckdb-warehouse.ts';
import { openPostgresMetadataStore, openSqliteMetadataStore } from '../adapters/sql-metadata/sql-metadata-store.ts';
import { Datasets } from '../catalog/datasets.ts';
import { PRODUCTION_SANDBOX, Sandboxes } from '../catalog/sandboxes.ts';
import { SchemaRegistry } from '../catalog/schema-registry.ts';
import { FailedRecords } from '../ingest/failed-records.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { RoundtripError } from '../core/errors.ts';
import type { MetadataStore } from '../ports/metadata-store.ts';
import type { Warehouse } from '../ports/warehouse.ts';
import { isInitialised, layout } from './data-dir.ts';

export class Platform {
  readonly audit: AuditLog;
  readonly apiKeys: ApiKeys;
  readonly sandboxes: Sandboxes;
  readonly registry: SchemaRegistry;
  readonly datasets: Datasets;
  readonly failedRecords: FailedRecords;

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
  }

  async close(): Promise<void> {
    await this.warehouse.close();
    await this.metadata.close();
  }
}

function openAdapters(config: Config): { metadata: MetadataStore; warehouse: Warehouse } {
  const paths = layout(config.dataDir);
  const metadata = config.databaseUrl
    ? openPostgresMetadataStore({ connectionString: config.databaseUrl })
    : openSqliteMetadataStore(paths.metadataFile);
  const warehouse = new DuckDBWarehouse({ directory: paths.warehouseDir, threads: config.duckdbThreads, memoryLimit: config.duckdbMemoryLimit });
  return { metadata, warehouse };
}

/** Opens an initialised data directory. */
export async function openPlatform(config: Config, clock: Clock = systemClock): Promise<Platform> {
  if (!isInitialised(config.dataDir)) {
    throw new RoundtripError('RT_DATA_DIR_NOT_INITIALISED', `${config.dataDir} is not a Roundtrip data directory; run \`roundtrip init --data-dir ${config.dataDir}\` first.`);
  }
  const { metadata, warehouse } = openAdapters(config);
  await metadata.migrate();
  return new Platform(config, metadata, warehouse, clock);
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
