/**
 * SQL metadata store: the MetadataStore port over Kysely, one implementation for both dialects. The embedded
 * default is a SQLite file (better-sqlite3); setting `DATABASE_URL` switches to PostgreSQL with the same queries
 * and migrations.
 */
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, sql, SqliteDialect, type Selectable } from 'kysely';
import pg from 'pg';
import type {
  ApiKeyRecord,
  BatchChanges,
  BatchFilter,
  BatchRecord,
  BatchStatus,
  QueryLogChanges,
  QueryLogRecord,
  QueryStatus,
  StreamingConnectionRecord,
  AuditEntry,
  AuditFilter,
  DatasetRecord,
  DataTypeRecord,
  FieldGroupRecord,
  IdStitching,
  MergeMethod,
  MergePolicyChanges,
  MergePolicyRecord,
  MetadataStore,
  NamespaceRecord,
  NewAuditEntry,
  Role,
  SandboxRecord,
  SchemaVersionRecord,
  SnapshotRecord,
  SnapshotStatus,
  XdmClassId,
} from '../../ports/metadata-store.ts';
import type {
  QueryScheduleChanges,
  QueryScheduleRecord,
  QueryScheduleRunChanges,
  QueryScheduleRunRecord,
  QueryScheduleRunStatus,
  QueryScheduleState,
  QueryTemplateRecord,
  ClvModelRecord,
} from '../../ports/metadata-store.ts';
import type { JsonValue } from '../../ports/warehouse.ts';
import type { DocumentRecord, SandboxRows } from '../../ports/metadata-store.ts';
import { RoundtripError } from '../../core/errors.ts';
import { migrationProvider, type SqlDialectName } from './migrations.ts';
import { SANDBOX_SCOPED_TABLES, type MetadataTables } from './tables.ts';

type Db = Kysely<MetadataTables>;
type Row<T extends keyof MetadataTables> = Selectable<MetadataTables[T]>;

const json = (value: JsonValue): string => JSON.stringify(value);
const toDocument = <T extends JsonValue>(r: Selectable<MetadataTables['documents']>): DocumentRecord<T> => ({
  sandbox: r.sandbox,
  kind: r.kind,
  id: r.id,
  parentId: r.parent_id,
  body: JSON.parse(r.body) as T,
  version: Number(r.version),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const parse = (text: string): JsonValue => JSON.parse(text) as JsonValue;
const flag = (value: boolean): number => (value ? 1 : 0);

const toApiKey = (r: Row<'api_keys'>): ApiKeyRecord => ({
  id: r.id,
  name: r.name,
  role: r.role as Role,
  sandboxes: JSON.parse(r.sandboxes) as string[],
  secretHash: r.secret_hash,
  createdAt: r.created_at,
  createdBy: r.created_by,
  revokedAt: r.revoked_at,
  lastUsedAt: r.last_used_at,
});

const toAudit = (r: Row<'audit_log'>): AuditEntry => ({
  id: Number(r.id),
  at: r.at,
  actor: r.actor,
  sandbox: r.sandbox,
  action: r.action,
  resourceType: r.resource_type,
  resourceId: r.resource_id,
  details: parse(r.details),
});

const toNamespace = (r: Row<'namespaces'>): NamespaceRecord => ({
  sandbox: r.sandbox,
  code: r.code,
  name: r.name,
  idType: r.id_type,
  description: r.description,
  createdAt: r.created_at,
});

const toFieldGroup = (r: Row<'field_groups'>): FieldGroupRecord => ({
  sandbox: r.sandbox,
  id: r.id,
  title: r.title,
  description: r.description,
  classId: r.class_id as FieldGroupRecord['classId'],
  definition: parse(r.definition),
  createdAt: r.created_at,
});

const toDataType = (r: Row<'data_types'>): DataTypeRecord => ({
  sandbox: r.sandbox,
  id: r.id,
  title: r.title,
  description: r.description,
  definition: parse(r.definition),
  createdAt: r.created_at,
});

const toSchemaVersion = (r: Row<'schema_versions'>): SchemaVersionRecord => ({
  sandbox: r.sandbox,
  schemaId: r.schema_id,
  version: Number(r.version),
  title: r.title,
  description: r.description,
  classId: r.class_id as XdmClassId,
  definition: parse(r.definition),
  resolved: parse(r.resolved),
  createdAt: r.created_at,
});

const toDataset = (r: Row<'datasets'>): DatasetRecord => ({
  sandbox: r.sandbox,
  id: r.id,
  name: r.name,
  tableName: r.table_name,
  schemaId: r.schema_id,
  schemaVersion: Number(r.schema_version),
  profileEnabled: Boolean(r.profile_enabled),
  identityEnabled: Boolean(r.identity_enabled),
  upsert: Boolean(r.upsert),
  createdAt: r.created_at,
  lastSnapshotId: Number(r.last_snapshot_id),
});

const toSnapshot = (r: Row<'dataset_snapshots'>): SnapshotRecord => ({
  sandbox: r.sandbox,
  datasetId: r.dataset_id,
  snapshotId: Number(r.snapshot_id),
  batchId: r.batch_id,
  rowCount: Number(r.row_count),
  status: r.status as SnapshotStatus,
  createdAt: r.created_at,
  committedAt: r.committed_at,
});

const toBatch = (r: Row<'batches'>): BatchRecord => ({
  sandbox: r.sandbox,
  id: r.id,
  datasetId: r.dataset_id,
  status: r.status as BatchStatus,
  inputFormat: r.input_format,
  options: parse(r.options),
  files: parse(r.files),
  rowsRead: Number(r.rows_read),
  rowsWritten: Number(r.rows_written),
  rowsRejected: Number(r.rows_rejected),
  snapshotId: r.snapshot_id === null ? null : Number(r.snapshot_id),
  errorCode: r.error_code,
  errorMessage: r.error_message,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  completedAt: r.completed_at,
});

const toConnection = (r: Row<'streaming_connections'>): StreamingConnectionRecord => ({
  sandbox: r.sandbox,
  id: r.id,
  name: r.name,
  kind: r.kind,
  datasets: parse(r.datasets),
  secretHash: r.secret_hash,
  createdBy: r.created_by,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

const toQueryLog = (r: Row<'query_log'>): QueryLogRecord => ({
  sandbox: r.sandbox,
  id: r.id,
  sql: r.sql,
  params: parse(r.params),
  actor: r.actor,
  client: r.client,
  executionClass: r.execution_class,
  status: r.status as QueryStatus,
  rowCount: r.row_count === null ? null : Number(r.row_count),
  errorCode: r.error_code,
  errorMessage: r.error_message,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
});

const toQueryTemplate = (r: Row<'query_templates'>): QueryTemplateRecord => ({
  sandbox: r.sandbox,
  id: r.id,
  name: r.name,
  sql: r.sql,
  queryParameters: parse(r.query_parameters),
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedBy: r.updated_by,
  updatedAt: r.updated_at,
});

const toQuerySchedule = (r: Row<'query_schedules'>): QueryScheduleRecord => ({
  sandbox: r.sandbox,
  id: r.id,
  name: r.name,
  description: r.description,
  templateId: r.template_id,
  sql: r.sql,
  job: r.job === null ? null : parse(r.job),
  parameters: parse(r.parameters),
  timing: parse(r.timing),
  startDate: r.start_date,
  endDate: r.end_date,
  output: parse(r.output),
  alerts: parse(r.alerts),
  quarantineEnabled: Boolean(r.quarantine_enabled),
  state: r.state as QueryScheduleState,
  consecutiveFailures: Number(r.consecutive_failures),
  nextRunAt: r.next_run_at,
  lastSlotAt: r.last_slot_at,
  activeRunId: r.active_run_id,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toQueryScheduleRun = (r: Row<'query_schedule_runs'>): QueryScheduleRunRecord => ({
  sandbox: r.sandbox,
  id: r.id,
  scheduleId: r.schedule_id,
  trigger: r.trigger,
  slotAt: r.slot_at,
  status: r.status as QueryScheduleRunStatus,
  queryId: r.query_id,
  datasetId: r.dataset_id,
  rowCount: r.row_count === null ? null : Number(r.row_count),
  message: r.message,
  errorCode: r.error_code,
  errorMessage: r.error_message,
  delayAlerted: Boolean(r.delay_alerted),
  createdAt: r.created_at,
  startedAt: r.started_at,
  endedAt: r.ended_at,
});

const toMergePolicy = (r: Row<'merge_policies'>): MergePolicyRecord => ({
  sandbox: r.sandbox,
  id: r.id,
  name: r.name,
  classId: r.class_id as XdmClassId,
  method: r.method as MergeMethod,
  datasetOrder: JSON.parse(r.dataset_order) as string[],
  idStitching: r.id_stitching as IdStitching,
  isDefault: Boolean(r.is_default),
  snapshotTable: r.snapshot_table,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toClvModel = (r: Row<'clv_models'>): ClvModelRecord => ({
  sandbox: r.sandbox,
  id: r.id,
  model: r.model,
  fit: parse(r.fit),
  source: parse(r.source),
  diagnostics: parse(r.diagnostics),
  createdBy: r.created_by,
  createdAt: r.created_at,
});

export class SqlMetadataStore implements MetadataStore {
  constructor(
    private readonly db: Db,
    readonly dialect: SqlDialectName,
  ) {}

  async migrate(): Promise<void> {
    // Migrations of separate features are independent; allow a new one to sort before those already applied.
    // Kysely checks for its lock table across all schemas; naming the schema in use keeps a copy left in another
    // schema (e.g. `public`) from hiding that this one has none yet.
    const schema = this.dialect === 'postgres' ? (await sql<{ schema: string }>`SELECT current_schema() AS schema`.execute(this.db)).rows[0]?.schema : undefined;
    const migrator = new Migrator({ db: this.db, provider: migrationProvider(this.dialect), allowUnorderedMigrations: true, ...(schema ? { migrationTableSchema: schema } : {}) });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(`Metadata migration failed: ${JSON.stringify(error)}`);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async purgeSandbox(sandbox: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      for (const table of SANDBOX_SCOPED_TABLES) await tx.deleteFrom(table).where('sandbox', '=', sandbox).execute();
    });
  }

  async exportSandbox(sandbox: string): Promise<SandboxRows> {
    // One transaction, so that the tables agree with each other: SQLite reads one snapshot in a transaction;
    // PostgreSQL needs REPEATABLE READ for that (its default gives each statement its own).
    return this.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (tx) => {
        const out: SandboxRows = {};
        for (const table of SANDBOX_SCOPED_TABLES) out[table] = await tx.selectFrom(table).selectAll().where('sandbox', '=', sandbox).execute();
        return out;
      });
  }

  async importSandbox(sandbox: string, rows: SandboxRows): Promise<void> {
    const known = new Set<string>(SANDBOX_SCOPED_TABLES);
    const unknown = Object.keys(rows).filter((table) => !known.has(table));
    if (unknown.length) throw new RoundtripError('RT_BACKUP_INCOMPATIBLE', `The backup has metadata tables this version does not know: ${unknown.join(', ')}.`, { tables: unknown });
    await this.db.transaction().execute(async (tx) => {
      for (const table of SANDBOX_SCOPED_TABLES) await tx.deleteFrom(table).where('sandbox', '=', sandbox).execute();
      for (const table of SANDBOX_SCOPED_TABLES) {
        const records = (rows[table] ?? []).map((row) => ({ ...row, sandbox }));
        if (records.length === 0) continue;
        // Both dialects cap bound parameters per statement (SQLite 32766, PostgreSQL 65535).
        const perInsert = Math.max(1, Math.floor(20_000 / Object.keys(records[0]!).length));
        for (let at = 0; at < records.length; at += perInsert) {
          try {
            await tx.insertInto(table).values(records.slice(at, at + perInsert)).execute();
          } catch (error) {
            throw new RoundtripError('RT_BACKUP_INCOMPATIBLE', `Metadata table ${table} could not take the backup's rows: ${(error as Error).message}`, { table });
          }
        }
      }
    });
  }

  readonly sandboxes = {
    create: async (r: SandboxRecord) => {
      await this.db.insertInto('sandboxes').values({ name: r.name, title: r.title, type: r.type, created_at: r.createdAt }).execute();
    },
    get: async (name: string) => {
      const r = await this.db.selectFrom('sandboxes').selectAll().where('name', '=', name).executeTakeFirst();
      return r && { name: r.name, title: r.title, type: r.type as SandboxRecord['type'], createdAt: r.created_at };
    },
    list: async () => {
      const rows = await this.db.selectFrom('sandboxes').selectAll().orderBy('name').execute();
      return rows.map((r) => ({ name: r.name, title: r.title, type: r.type as SandboxRecord['type'], createdAt: r.created_at }));
    },
    delete: async (name: string) => {
      await this.db.deleteFrom('sandboxes').where('name', '=', name).execute();
    },
  };

  readonly apiKeys = {
    create: async (r: ApiKeyRecord) => {
      await this.db
        .insertInto('api_keys')
        .values({
          id: r.id,
          name: r.name,
          role: r.role,
          sandboxes: JSON.stringify(r.sandboxes),
          secret_hash: r.secretHash,
          created_at: r.createdAt,
          created_by: r.createdBy,
          revoked_at: r.revokedAt,
          last_used_at: r.lastUsedAt,
        })
        .execute();
    },
    get: async (id: string) => {
      const r = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toApiKey(r);
    },
    list: async () => (await this.db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id').execute()).map(toApiKey),
    revoke: async (id: string, at: string) => {
      const result = await this.db
        .updateTable('api_keys')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    touch: async (id: string, at: string) => {
      await this.db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
    },
  };

  readonly audit = {
    append: async (e: NewAuditEntry) => {
      const row = await this.db
        .insertInto('audit_log')
        .values({
          at: e.at,
          actor: e.actor,
          sandbox: e.sandbox,
          action: e.action,
          resource_type: e.resourceType,
          resource_id: e.resourceId,
          details: json(e.details),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toAudit(row);
    },
    list: async (f: AuditFilter) => {
      let q = this.db.selectFrom('audit_log').selectAll();
      if (f.sandbox !== undefined) q = q.where('sandbox', '=', f.sandbox);
      if (f.actor !== undefined) q = q.where('actor', '=', f.actor);
      if (f.resourceType !== undefined) q = q.where('resource_type', '=', f.resourceType);
      if (f.action !== undefined) q = q.where('action', '=', f.action);
      if (f.since !== undefined) q = q.where('at', '>=', f.since);
      const rows = await q.orderBy('id', 'desc').limit(f.limit ?? 100).execute();
      return rows.map(toAudit);
    },
  };

  readonly namespaces = {
    create: async (r: NamespaceRecord) => {
      await this.db
        .insertInto('namespaces')
        .values({ sandbox: r.sandbox, code: r.code, name: r.name, id_type: r.idType, description: r.description, created_at: r.createdAt })
        .execute();
    },
    get: async (sandbox: string, code: string) => {
      const r = await this.db.selectFrom('namespaces').selectAll().where('sandbox', '=', sandbox).where('code', '=', code).executeTakeFirst();
      return r && toNamespace(r);
    },
    list: async (sandbox: string) =>
      (await this.db.selectFrom('namespaces').selectAll().where('sandbox', '=', sandbox).orderBy('code').execute()).map(toNamespace),
    update: async (sandbox: string, code: string, changes: Pick<NamespaceRecord, 'name' | 'description'>) => {
      await this.db
        .updateTable('namespaces')
        .set({ name: changes.name, description: changes.description })
        .where('sandbox', '=', sandbox)
        .where('code', '=', code)
        .execute();
    },
  };

  readonly fieldGroups = {
    create: async (r: FieldGroupRecord) => {
      await this.db
        .insertInto('field_groups')
        .values({
          sandbox: r.sandbox,
          id: r.id,
          title: r.title,
          description: r.description,
          class_id: r.classId,
          definition: json(r.definition),
          created_at: r.createdAt,
        })
        .execute();
    },
    get: async (sandbox: string, id: string) => {
      const r = await this.db.selectFrom('field_groups').selectAll().where('sandbox', '=', sandbox).where('id', '=', id).executeTakeFirst();
      return r && toFieldGroup(r);
    },
    list: async (sandbox: string) =>
      (await this.db.selectFrom('field_groups').selectAll().where('sandbox', '=', sandbox).orderBy('id').execute()).map(toFieldGroup),
    delete: async (sandbox: string, id: string) => {
      await this.db.deleteFrom('field_groups').where('sandbox', '=', sandbox).where('id', '=', id).execute();
    },
  };

  readonly dataTypes = {
    create: async (r: DataTypeRecord) => {
      await this.db
        .insertInto('data_types')
        .values({ sandbox: r.sandbox, id: r.id, title: r.title, description: r.description, definition: json(r.definition), created_at: r.createdAt })
        .execute();
    },
    get: async (sandbox: string, id: string) => {
      const r = await this.db.selectFrom('data_types').selectAll().where('sandbox', '=', sandbox).where('id', '=', id).executeTakeFirst();
      return r && toDataType(r);
    },
    list: async (sandbox: string) =>
      (await this.db.selectFrom('data_types').selectAll().where('sandbox', '=', sandbox).orderBy('id').execute()).map(toDataType),
  };

  readonly schemas = {
    addVersion: async (r: SchemaVersionRecord) => {
      await this.db.transaction().execute(async (tx) => {
        const latest = await tx
          .selectFrom('schema_versions')
          .select((eb) => eb.fn.max('version').as('version'))
          .where('sandbox', '=', r.sandbox)
          .where('schema_id', '=', r.schemaId)
          .executeTakeFirst();
        const expected = Number(latest?.version ?? 0) + 1;
        if (r.version !== expected) throw new Error(`Schema ${r.schemaId}: version ${r.version} does not follow ${expected - 1}`);
        await tx
          .insertInto('schema_versions')
          .values({
            sandbox: r.sandbox,
            schema_id: r.schemaId,
            version: r.version,
            title: r.title,
            description: r.description,
            class_id: r.classId,
            definition: json(r.definition),
            resolved: json(r.resolved),
            created_at: r.createdAt,
          })
          .execute();
      });
    },
    get: async (sandbox: string, schemaId: string, version?: number) => {
      let q = this.db.selectFrom('schema_versions').selectAll().where('sandbox', '=', sandbox).where('schema_id', '=', schemaId);
      if (version !== undefined) q = q.where('version', '=', version);
      const r = await q.orderBy('version', 'desc').limit(1).executeTakeFirst();
      return r && toSchemaVersion(r);
    },
    list: async (sandbox: string) => {
      const rows = await this.db
        .selectFrom('schema_versions as v')
        .selectAll('v')
        .where('v.sandbox', '=', sandbox)
        .where((eb) =>
          eb(
            'v.version',
            '=',
            eb
              .selectFrom('schema_versions as w')
              .select((e) => e.fn.max('w.version').as('max'))
              .whereRef('w.sandbox', '=', 'v.sandbox')
              .whereRef('w.schema_id', '=', 'v.schema_id'),
          ),
        )
        .orderBy('v.created_at')
        .orderBy('v.schema_id')
        .execute();
      return rows.map(toSchemaVersion);
    },
    versions: async (sandbox: string, schemaId: string) =>
      (
        await this.db
          .selectFrom('schema_versions')
          .selectAll()
          .where('sandbox', '=', sandbox)
          .where('schema_id', '=', schemaId)
          .orderBy('version')
          .execute()
      ).map(toSchemaVersion),
  };

  readonly datasets = {
    create: async (r: DatasetRecord) => {
      await this.db
        .insertInto('datasets')
        .values({
          sandbox: r.sandbox,
          id: r.id,
          name: r.name,
          table_name: r.tableName,
          schema_id: r.schemaId,
          schema_version: r.schemaVersion,
          profile_enabled: flag(r.profileEnabled),
          identity_enabled: flag(r.identityEnabled),
          upsert: flag(r.upsert),
          created_at: r.createdAt,
          last_snapshot_id: r.lastSnapshotId,
        })
        .execute();
    },
    get: async (sandbox: string, id: string) => this.findDataset(sandbox, 'id', id),
    getByName: async (sandbox: string, name: string) => this.findDataset(sandbox, 'name', name),
    getByTable: async (sandbox: string, tableName: string) => this.findDataset(sandbox, 'table_name', tableName),
    list: async (sandbox: string) =>
      (await this.db.selectFrom('datasets').selectAll().where('sandbox', '=', sandbox).orderBy('name').execute()).map(toDataset),
    setFlags: async (sandbox: string, id: string, f: Pick<DatasetRecord, 'profileEnabled' | 'identityEnabled' | 'upsert'>) => {
      await this.db
        .updateTable('datasets')
        .set({ profile_enabled: flag(f.profileEnabled), identity_enabled: flag(f.identityEnabled), upsert: flag(f.upsert) })
        .where('sandbox', '=', sandbox)
        .where('id', '=', id)
        .execute();
    },
    setSchemaVersion: async (sandbox: string, id: string, version: number) => {
      await this.db.updateTable('datasets').set({ schema_version: version }).where('sandbox', '=', sandbox).where('id', '=', id).execute();
    },
    delete: async (sandbox: string, id: string) => {
      await this.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('dataset_snapshots').where('sandbox', '=', sandbox).where('dataset_id', '=', id).execute();
        await tx.deleteFrom('datasets').where('sandbox', '=', sandbox).where('id', '=', id).execute();
      });
    },
  };

  private async findDataset(sandbox: string, column: 'id' | 'name' | 'table_name', value: string): Promise<DatasetRecord | undefined> {
    const r = await this.db.selectFrom('datasets').selectAll().where('sandbox', '=', sandbox).where(column, '=', value).executeTakeFirst();
    return r && toDataset(r);
  }

  readonly snapshots = {
    begin: async (sandbox: string, datasetId: string, batchId: string, at: string) =>
      this.db.transaction().execute(async (tx) => {
        const bumped = await tx
          .updateTable('datasets')
          .set((eb) => ({ last_snapshot_id: eb('last_snapshot_id', '+', 1) }))
          .where('sandbox', '=', sandbox)
          .where('id', '=', datasetId)
          .returning('last_snapshot_id')
          .executeTakeFirst();
        if (!bumped) throw new Error(`Dataset ${datasetId} does not exist in sandbox ${sandbox}`);
        const row = {
          sandbox,
          dataset_id: datasetId,
          snapshot_id: Number(bumped.last_snapshot_id),
          batch_id: batchId,
          row_count: 0,
          status: 'pending',
          created_at: at,
          committed_at: null,
        };
        await tx.insertInto('dataset_snapshots').values(row).execute();
        return toSnapshot(row);
      }),
    commit: async (sandbox: string, datasetId: string, snapshotId: number, rowCount: number, at: string) => {
      await this.setSnapshot(sandbox, datasetId, snapshotId, { status: 'committed', row_count: rowCount, committed_at: at });
    },
    fail: async (sandbox: string, datasetId: string, snapshotId: number, at: string) => {
      await this.setSnapshot(sandbox, datasetId, snapshotId, { status: 'failed', committed_at: at });
    },
    list: async (sandbox: string, datasetId: string) =>
      (
        await this.db
          .selectFrom('dataset_snapshots')
          .selectAll()
          .where('sandbox', '=', sandbox)
          .where('dataset_id', '=', datasetId)
          .orderBy('snapshot_id')
          .execute()
      ).map(toSnapshot),
  };

  readonly mergePolicies = {
    create: async (r: MergePolicyRecord, limit: number) =>
      this.db.transaction().execute(async (tx) => {
        const held = await tx.selectFrom('merge_policies').select((eb) => eb.fn.countAll<number>().as('n')).where('sandbox', '=', r.sandbox).executeTakeFirst();
        if (Number(held?.n ?? 0) >= limit) return false;
        if (r.isDefault) {
          await tx.updateTable('merge_policies').set({ is_default: 0 }).where('sandbox', '=', r.sandbox).where('class_id', '=', r.classId).execute();
        }
        await tx
          .insertInto('merge_policies')
          .values({
            sandbox: r.sandbox,
            id: r.id,
            name: r.name,
            class_id: r.classId,
            method: r.method,
            dataset_order: JSON.stringify(r.datasetOrder),
            id_stitching: r.idStitching,
            is_default: flag(r.isDefault),
            snapshot_table: r.snapshotTable,
            created_by: r.createdBy,
            created_at: r.createdAt,
            updated_at: r.updatedAt,
          })
          .execute();
        return true;
      }),
    get: async (sandbox: string, id: string) => {
      const r = await this.db.selectFrom('merge_policies').selectAll().where('sandbox', '=', sandbox).where('id', '=', id).executeTakeFirst();
      return r && toMergePolicy(r);
    },
    list: async (sandbox: string) =>
      (await this.db.selectFrom('merge_policies').selectAll().where('sandbox', '=', sandbox).orderBy('created_at').orderBy('id').execute()).map(toMergePolicy),
    update: async (sandbox: string, id: string, c: MergePolicyChanges) => {
      const set = {
        ...(c.name !== undefined && { name: c.name }),
        ...(c.method !== undefined && { method: c.method }),
        ...(c.datasetOrder !== undefined && { dataset_order: JSON.stringify(c.datasetOrder) }),
        ...(c.idStitching !== undefined && { id_stitching: c.idStitching }),
        ...(c.updatedAt !== undefined && { updated_at: c.updatedAt }),
      };
      if (Object.keys(set).length === 0) return;
      await this.db.updateTable('merge_policies').set(set).where('sandbox', '=', sandbox).where('id', '=', id).execute();
    },
    setDefault: async (sandbox: string, id: string, at: string) => {
      await this.db.transaction().execute(async (tx) => {
        const policy = await tx.selectFrom('merge_policies').select('class_id').where('sandbox', '=', sandbox).where('id', '=', id).executeTakeFirst();
        if (!policy) throw new Error(`Merge policy ${id} does not exist in sandbox ${sandbox}`);
        await tx.updateTable('merge_policies').set({ is_default: 0 }).where('sandbox', '=', sandbox).where('class_id', '=', policy.class_id).where('id', '<>', id).execute();
        await tx.updateTable('merge_policies').set({ is_default: 1, updated_at: at }).where('sandbox', '=', sandbox).where('id', '=', id).execute();
      });
    },
    delete: async (sandbox: string, id: string) => {
      await this.db.deleteFrom('merge_policies').where('sandbox', '=', sandbox).where('id', '=', id).execute();
    },
  };

  readonly batches = {
    create: async (r: BatchRecord) => {
      await this.db
        .insertInto('batches')
        .values({
          sandbox: r.sandbox,
          id: r.id,
          dataset_id: r.datasetId,
          status: r.status,
          input_format: r.inputFormat,
          options: json(r.options),
          files: json(r.files),
          rows_read: r.rowsRead,
          rows_written: r.rowsWritten,
          rows_rejected: r.rowsRejected,
          snapshot_id: r.snapshotId,
          error_code: r.errorCode,
          error_message: r.errorMessage,
          created_by: r.createdBy,
          created_at: r.createdAt,
          updated_at: r.updatedAt,
          completed_at: r.completedAt,
        })
        .execute();
    },
    get: async (sandbox: string, id: string) => {
      const r = await this.db.selectFrom('batches').selectAll().where('sandbox', '=', sandbox).where('id', '=', id).executeTakeFirst();
      return r && toBatch(r);
    },
    list: async (sandbox: string, filter: BatchFilter = {}) => {
      let q = this.db.selectFrom('batches').selectAll().where('sandbox', '=', sandbox);
      if (filter.datasetId !== undefined) q = q.where('dataset_id', '=', filter.datasetId);
      if (filter.status !== undefined) q = q.where('status', '=', filter.status);
      return (await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit ?? 100).execute()).map(toBatch);
    },
    update: async (sandbox: string, id: string, c: BatchChanges) => {
      const set = {
        ...(c.status !== undefined && { status: c.status }),
        ...(c.files !== undefined && { files: json(c.files) }),
        ...(c.rowsRead !== undefined && { rows_read: c.rowsRead }),
        ...(c.rowsWritten !== undefined && { rows_written: c.rowsWritten }),
        ...(c.rowsRejected !== undefined && { rows_rejected: c.rowsRejected }),
        ...(c.snapshotId !== undefined && { snapshot_id: c.snapshotId }),
        ...(c.errorCode !== undefined && { error_code: c.errorCode }),
        ...(c.errorMessage !== undefined && { error_message: c.errorMessage }),
        ...(c.updatedAt !== undefined && { updated_at: c.updatedAt }),
        ...(c.completedAt !== undefined && { completed_at: c.completedAt }),
      };
      if (Object.keys(set).length === 0) return;
      await this.db.updateTable('batches').set(set).where('sandbox', '=', sandbox).where('id', '=', id).execute();
    },
  };

  readonly queryLog = {
    create: async (r: QueryLogRecord) => {
      await this.db
        .insertInto('query_log')
        .values({
          sandbox: r.sandbox,
          id: r.id,
          sql: r.sql,
          params: json(r.params),
          actor: r.actor,
          client: r.client,
          execution_class: r.executionClass,
          status: r.status,
          row_count: r.rowCount,
          error_code: r.errorCode,
          error_message: r.errorMessage,
          started_at: r.startedAt,
          ended_at: r.endedAt,
          duration_ms: r.durationMs,
        })
        .execute();
    },
    get: async (sandbox: string, id: string) => {
      const r = await this.db.selectFrom('query_log').selectAll().where('sandbox', '=', sandbox).where('id', '=', id).executeTakeFirst();
      return r && toQueryLog(r);
    },
    list: async (sandbox: string, filter: { actor?: string; status?: QueryStatus; limit?: number } = {}) => {
      let q = this.db.selectFrom('query_log').selectAll().where('sandbox', '=', sandbox);
      if (filter.actor !== undefined) q = q.where('actor', '=', filter.actor);
      if (filter.status !== undefined) q = q.where('status', '=', filter.status);
      return (await q.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(filter.limit ?? 100).execute()).map(toQueryLog);
    },
    update: async (sandbox: string, id: string, c: QueryLogChanges) => {
      const set = {
        ...(c.status !== undefined && { status: c.status }),
        ...(c.rowCount !== undefined && { row_count: c.rowCount }),
        ...(c.errorCode !== undefined && { error_code: c.errorCode }),
        ...(c.errorMessage !== undefined && { error_message: c.errorMessage }),
        ...(c.endedAt !== undefined && { ended_at: c.endedAt }),
        ...(c.durationMs !== undefined && { duration_ms: c.durationMs }),
      };
      if (Object.keys(set).length) await this.db.updateTable('query_log').set(set).where('sandbox', '=', sandbox).where('id', '=', id).execute();
    },
  };

  readonly streamingConnections = {
    create: async (r: StreamingConnectionRecord) => {
      await this.db
        .insertInto('streaming_connections')
        .values({
          sandbox: r.sandbox,
          id: r.id,
          name: r.name,
          kind: r.kind,
          datasets: json(r.datasets),
          secret_hash: r.secretHash,
          created_by: r.createdBy,
          created_at: r.createdAt,
          revoked_at: r.revokedAt,
        })
        .execute();
    },
    get: async (id: string) => {
      const r = await this.db.selectFrom('streaming_connections').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toConnection(r);
    },
    list: async (sandbox: string) =>
      (await this.db.selectFrom('streaming_connections').selectAll().where('sandbox', '=', sandbox).orderBy('created_at').execute()).map(toConnection),
    revoke: async (id: string, at: string) => {
      await this.db.updateTable('streaming_connections').set({ revoked_at: at }).where('id', '=', id).execute();
    },
  };

  readonly queryTemplates = {
    create: async (r: QueryTemplateRecord) => {
      await this.db
        .insertInto('query_templates')
        .values({
          sandbox: r.sandbox,
          id: r.id,
          name: r.name,
          sql: r.sql,
          query_parameters: json(r.queryParameters),
          created_by: r.createdBy,
          created_at: r.createdAt,
          updated_by: r.updatedBy,
          updated_at: r.updatedAt,
        })
        .execute();
    },
    get: async (sandbox: string, id: string) => {
      const r = await this.db.selectFrom('query_templates').selectAll().where('sandbox', '=', sandbox).where('id', '=', id).executeTakeFirst();
      return r && toQueryTemplate(r);
    },
    list: async (sandbox: string) =>
      (await this.db.selectFrom('query_templates').selectAll().where('sandbox', '=', sandbox).orderBy('created_at').orderBy('id').execute()).map(toQueryTemplate),
    update: async (sandbox: string, id: string, c: Pick<QueryTemplateRecord, 'name' | 'sql' | 'queryParameters' | 'updatedBy' | 'updatedAt'>) => {
      await this.db
        .updateTable('query_templates')
        .set({ name: c.name, sql: c.sql, query_parameters: json(c.queryParameters), updated_by: c.updatedBy, updated_at: c.updatedAt })
        .where('sandbox', '=', sandbox)
        .where('id', '=', id)
        .execute();
    },
    delete: async (sandbox: string, id: string) => {
      await this.db.deleteFrom('query_templates').where('sandbox', '=', sandbox).where('id', '=', id).execute();
    },
  };

  readonly querySchedules = {
    create: async (r: QueryScheduleRecord) => {
      await this.db
        .insertInto('query_schedules')
        .values({
          sandbox: r.sandbox,
          id: r.id,
          name: r.name,
          description: r.description,
          template_id: r.templateId,
          sql: r.sql,
          job: r.job === null ? null : json(r.job),
          parameters: json(r.parameters),
          timing: json(r.timing),
          start_date: r.startDate,
          end_date: r.endDate,
          output: json(r.output),
          alerts: json(r.alerts),
          quarantine_enabled: flag(r.quarantineEnabled),
          state: r.state,
          consecutive_failures: r.consecutiveFailures,
          next_run_at: r.nextRunAt,
          last_slot_at: r.lastSlotAt,
          active_run_id: r.activeRunId,
          created_by: r.createdBy,
          created_at: r.createdAt,
          updated_at: r.updatedAt,
        })
        .execute();
    },
    get: async (sandbox: string, id: string) => {
      const r = await this.db.selectFrom('query_schedules').selectAll().where('sandbox', '=', sandbox).where('id', '=', id).executeTakeFirst();
      return r && toQuerySchedule(r);
    },
    list: async (sandbox: string) =>
      (await this.db.selectFrom('query_schedules').selectAll().where('sandbox', '=', sandbox).orderBy('created_at').orderBy('id').execute()).map(toQuerySchedule),
    due: async (at: string) =>
      (
        await this.db
          .selectFrom('query_schedules')
          .selectAll()
          .where('state', '=', 'ENABLED')
          .where('next_run_at', 'is not', null)
          .where('next_run_at', '<=', at)
          .orderBy('next_run_at')
          .orderBy('id')
          .execute()
      ).map(toQuerySchedule),
    withActiveRun: async () =>
      (await this.db.selectFrom('query_schedules').selectAll().where('active_run_id', 'is not', null).execute()).map(toQuerySchedule),
    update: async (sandbox: string, id: string, c: QueryScheduleChanges) => {
      const set = {
        ...(c.name !== undefined && { name: c.name }),
        ...(c.description !== undefined && { description: c.description }),
        ...(c.parameters !== undefined && { parameters: json(c.parameters) }),
        ...(c.timing !== undefined && { timing: json(c.timing) }),
        ...(c.startDate !== undefined && { start_date: c.startDate }),
        ...(c.endDate !== undefined && { end_date: c.endDate }),
        ...(c.output !== undefined && { output: json(c.output) }),
        ...(c.alerts !== undefined && { alerts: json(c.alerts) }),
        ...(c.quarantineEnabled !== undefined && { quarantine_enabled: flag(c.quarantineEnabled) }),
        ...(c.state !== undefined && { state: c.state }),
        ...(c.consecutiveFailures !== undefined && { consecutive_failures: c.consecutiveFailures }),
        ...(c.nextRunAt !== undefined && { next_run_at: c.nextRunAt }),
        ...(c.lastSlotAt !== undefined && { last_slot_at: c.lastSlotAt }),
        ...(c.updatedAt !== undefined && { updated_at: c.updatedAt }),
      };
      if (Object.keys(set).length) await this.db.updateTable('query_schedules').set(set).where('sandbox', '=', sandbox).where('id', '=', id).execute();
    },
    claimRun: async (sandbox: string, id: string, runId: string) => {
      const result = await this.db
        .updateTable('query_schedules')
        .set({ active_run_id: runId })
        .where('sandbox', '=', sandbox)
        .where('id', '=', id)
        .where('active_run_id', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    releaseRun: async (sandbox: string, id: string, runId: string) => {
      await this.db
        .updateTable('query_schedules')
        .set({ active_run_id: null })
        .where('sandbox', '=', sandbox)
        .where('id', '=', id)
        .where('active_run_id', '=', runId)
        .execute();
    },
    delete: async (sandbox: string, id: string) => {
      await this.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('query_schedule_runs').where('sandbox', '=', sandbox).where('schedule_id', '=', id).execute();
        await tx.deleteFrom('query_schedules').where('sandbox', '=', sandbox).where('id', '=', id).execute();
      });
    },
    usingTemplate: async (sandbox: string, templateId: string) =>
      (await this.db.selectFrom('query_schedules').select('id').where('sandbox', '=', sandbox).where('template_id', '=', templateId).orderBy('id').execute()).map(
        (r) => r.id,
      ),
  };

  readonly queryScheduleRuns = {
    create: async (r: QueryScheduleRunRecord) => {
      await this.db
        .insertInto('query_schedule_runs')
        .values({
          sandbox: r.sandbox,
          id: r.id,
          schedule_id: r.scheduleId,
          trigger: r.trigger,
          slot_at: r.slotAt,
          status: r.status,
          query_id: r.queryId,
          dataset_id: r.datasetId,
          row_count: r.rowCount,
          message: r.message,
          error_code: r.errorCode,
          error_message: r.errorMessage,
          delay_alerted: flag(r.delayAlerted),
          created_at: r.createdAt,
          started_at: r.startedAt,
          ended_at: r.endedAt,
        })
        .execute();
    },
    get: async (sandbox: string, id: string) => {
      const r = await this.db.selectFrom('query_schedule_runs').selectAll().where('sandbox', '=', sandbox).where('id', '=', id).executeTakeFirst();
      return r && toQueryScheduleRun(r);
    },
    list: async (sandbox: string, scheduleId: string, page: { limit?: number; start?: number } = {}) =>
      (
        await this.db
          .selectFrom('query_schedule_runs')
          .selectAll()
          .where('sandbox', '=', sandbox)
          .where('schedule_id', '=', scheduleId)
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(page.limit ?? 100)
          .offset(page.start ?? 0)
          .execute()
      ).map(toQueryScheduleRun),
    update: async (sandbox: string, id: string, c: QueryScheduleRunChanges) => {
      const set = {
        ...(c.status !== undefined && { status: c.status }),
        ...(c.queryId !== undefined && { query_id: c.queryId }),
        ...(c.datasetId !== undefined && { dataset_id: c.datasetId }),
        ...(c.rowCount !== undefined && { row_count: c.rowCount }),
        ...(c.message !== undefined && { message: c.message }),
        ...(c.errorCode !== undefined && { error_code: c.errorCode }),
        ...(c.errorMessage !== undefined && { error_message: c.errorMessage }),
        ...(c.delayAlerted !== undefined && { delay_alerted: flag(c.delayAlerted) }),
        ...(c.endedAt !== undefined && { ended_at: c.endedAt }),
      };
      if (Object.keys(set).length) await this.db.updateTable('query_schedule_runs').set(set).where('sandbox', '=', sandbox).where('id', '=', id).execute();
    },
    prune: async (sandbox: string, scheduleId: string, keep: number) => {
      const cutoff = await this.db
        .selectFrom('query_schedule_runs')
        .select(['created_at', 'id'])
        .where('sandbox', '=', sandbox)
        .where('schedule_id', '=', scheduleId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .offset(keep)
        .limit(1)
        .executeTakeFirst();
      if (!cutoff) return;
      await this.db
        .deleteFrom('query_schedule_runs')
        .where('sandbox', '=', sandbox)
        .where('schedule_id', '=', scheduleId)
        .where((eb) => eb.or([eb('created_at', '<', cutoff.created_at), eb.and([eb('created_at', '=', cutoff.created_at), eb('id', '<=', cutoff.id)])]))
        .execute();
    },
  };

  readonly clvModels = {
    create: async (r: ClvModelRecord) => {
      await this.db
        .insertInto('clv_models')
        .values({
          sandbox: r.sandbox,
          id: r.id,
          model: r.model,
          fit: json(r.fit),
          source: json(r.source),
          diagnostics: json(r.diagnostics),
          created_by: r.createdBy,
          created_at: r.createdAt,
        })
        .execute();
    },
    get: async (sandbox: string, id: string) => {
      const r = await this.db.selectFrom('clv_models').selectAll().where('sandbox', '=', sandbox).where('id', '=', id).executeTakeFirst();
      return r && toClvModel(r);
    },
    list: async (sandbox: string, filter: { model?: string; limit?: number } = {}) => {
      let query = this.db.selectFrom('clv_models').selectAll().where('sandbox', '=', sandbox);
      if (filter.model) query = query.where('model', '=', filter.model);
      return (await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit ?? 100).execute()).map(toClvModel);
    },
    delete: async (sandbox: string, id: string) => {
      await this.db.deleteFrom('clv_models').where('sandbox', '=', sandbox).where('id', '=', id).execute();
    },
  };

  readonly documents = {
    create: async <T extends JsonValue>(r: Omit<DocumentRecord<T>, 'version'>): Promise<DocumentRecord<T>> => {
      const row = { sandbox: r.sandbox, kind: r.kind, id: r.id, parent_id: r.parentId, body: json(r.body), version: 1, created_at: r.createdAt, updated_at: r.updatedAt };
      const inserted = await this.db.insertInto('documents').values(row).onConflict((oc) => oc.columns(['sandbox', 'kind', 'id']).doNothing()).executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) throw new RoundtripError('RT_DOCUMENT_CONFLICT', `A ${r.kind} with id ${r.id} exists already.`, { kind: r.kind, id: r.id });
      return { ...r, version: 1 };
    },
    get: async <T extends JsonValue>(sandbox: string, kind: string, id: string) => {
      const r = await this.db.selectFrom('documents').selectAll().where('sandbox', '=', sandbox).where('kind', '=', kind).where('id', '=', id).executeTakeFirst();
      return r && toDocument<T>(r);
    },
    list: async <T extends JsonValue>(sandbox: string, kind: string, filter: { parentId?: string; limit?: number } = {}) => {
      let query = this.db.selectFrom('documents').selectAll().where('sandbox', '=', sandbox).where('kind', '=', kind);
      if (filter.parentId !== undefined) query = query.where('parent_id', '=', filter.parentId);
      if (filter.limit !== undefined) query = query.limit(filter.limit);
      return (await query.orderBy('created_at', 'desc').orderBy('id', 'desc').execute()).map((r) => toDocument<T>(r));
    },
    update: async <T extends JsonValue>(sandbox: string, kind: string, id: string, body: T, options: { updatedAt: string; expectedVersion?: number }) => {
      return this.db.transaction().execute(async (tx) => {
        const current = await tx.selectFrom('documents').selectAll().where('sandbox', '=', sandbox).where('kind', '=', kind).where('id', '=', id).executeTakeFirst();
        if (!current) return undefined;
        if (options.expectedVersion !== undefined && current.version !== options.expectedVersion) {
          throw new RoundtripError('RT_DOCUMENT_CONFLICT', `The ${kind} ${id} was changed since it was read (version ${current.version}, expected ${options.expectedVersion}).`, { kind, id, version: current.version });
        }
        const changed = await tx
          .updateTable('documents')
          .set({ body: json(body), version: current.version + 1, updated_at: options.updatedAt })
          .where('sandbox', '=', sandbox)
          .where('kind', '=', kind)
          .where('id', '=', id)
          .where('version', '=', current.version)
          .executeTakeFirst();
        if (Number(changed.numUpdatedRows) === 0) throw new RoundtripError('RT_DOCUMENT_CONFLICT', `The ${kind} ${id} was changed concurrently; retry.`, { kind, id });
        return toDocument<T>({ ...current, body: json(body), version: current.version + 1, updated_at: options.updatedAt });
      });
    },
    delete: async (sandbox: string, kind: string, id: string) => {
      return this.db.transaction().execute(async (tx) => {
        const deleted = await tx.deleteFrom('documents').where('sandbox', '=', sandbox).where('kind', '=', kind).where('id', '=', id).executeTakeFirst();
        if (Number(deleted.numDeletedRows) === 0) return false;
        await tx.deleteFrom('documents').where('sandbox', '=', sandbox).where('parent_id', '=', id).execute();
        return true;
      });
    },
    listAllSandboxes: async <T extends JsonValue>(kind: string) => {
      return (await this.db.selectFrom('documents').selectAll().where('kind', '=', kind).orderBy('created_at', 'desc').orderBy('id', 'desc').execute()).map((r) => toDocument<T>(r));
    },
  };

  private async setSnapshot(
    sandbox: string,
    datasetId: string,
    snapshotId: number,
    changes: Partial<Pick<Row<'dataset_snapshots'>, 'status' | 'row_count' | 'committed_at'>>,
  ): Promise<void> {
    await this.db
      .updateTable('dataset_snapshots')
      .set(changes)
      .where('sandbox', '=', sandbox)
      .where('dataset_id', '=', datasetId)
      .where('snapshot_id', '=', snapshotId)
      .execute();
  }
}

export function openSqliteMetadataStore(file: string): SqlMetadataStore {
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  database.pragma('busy_timeout = 5000');
  database.pragma('foreign_keys = ON');
  return new SqlMetadataStore(new Kysely<MetadataTables>({ dialect: new SqliteDialect({ database }) }), 'sqlite');
}

export interface PostgresOptions {
  connectionString: string;
  /** Schema to keep the tables in (default `public`); tests use one schema per run. */
  searchPath?: string;
}

export function openPostgresMetadataStore(options: PostgresOptions): SqlMetadataStore {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: 10,
    ...(options.searchPath ? { options: `-c search_path=${options.searchPath}` } : {}),
  });
  return new SqlMetadataStore(new Kysely<MetadataTables>({ dialect: new PostgresDialect({ pool }) }), 'postgres');
}
