/**
 * Datasets: typed tables in the sandbox's warehouse, made from a schema and following its versions. Every write
 * gets the dataset's next snapshot id (recorded with its batch, row count and time), which later powers
 * `history_meta()` and `SNAPSHOT SINCE/AS OF`. Flags say whether Profile and Identity use the data.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { recordChecker, type RecordChecker, type RecordIssue, type RecordLimits } from '../ingest/record-checks.ts';
import type { DatasetRecord, MetadataStore, SnapshotRecord } from '../ports/metadata-store.ts';
import type { JsonRecord, ReadOptions, SandboxWarehouse, Warehouse, WriteStamp } from '../ports/warehouse.ts';
import type { DatasetInput } from './payloads.ts';
import type { SchemaRegistry } from './schema-registry.ts';
import { hasIdentityMap, primaryIdentity, type ResolvedSchema } from './xdm/compose.ts';
import { columnsOf } from './xdm/fields.ts';

export interface WriteOutcome {
  datasetId: string;
  snapshotId: number;
  batchId: string;
  rowCount: number;
}

/** `Airline Loyalty Data` → `airline_loyalty_data`. */
export function tableNameFor(name: string): string {
  return name.trim().toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 63);
}

export interface CheckedRecords {
  valid: JsonRecord[];
  /** Index in the input and the problems of each refused record. */
  invalid: { index: number; issues: RecordIssue[] }[];
}

/** Writes rows stamped with a snapshot into the dataset's table; returns how many it wrote. */
export type AppendWork = (target: { table: string; warehouse: SandboxWarehouse; stamp: WriteStamp }) => Promise<number>;

export class Datasets {
  private readonly checkers = new Map<string, RecordChecker>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly warehouse: Warehouse,
    private readonly registry: SchemaRegistry,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly limits: RecordLimits,
  ) {
    registry.onNewVersion((sandbox, schemaId, resolved) => this.followSchema(sandbox, schemaId, resolved));
  }

  /** `fromSql`: a table made by SQL may be labelled PROFILE before it has an identity (added later with ALTER TABLE). */
  async create(actor: Principal, sandbox: string, input: DatasetInput, options: { fromSql?: boolean } = {}): Promise<DatasetRecord> {
    const schema = await this.registry.getResolved(sandbox, input.schemaId);
    const tableName = tableNameFor(input.name);
    if ((await this.metadata.datasets.getByName(sandbox, input.name)) || (await this.metadata.datasets.getByTable(sandbox, tableName))) {
      throw new RoundtripError('RT_DATASET_EXISTS', `A dataset named "${input.name}" (table ${tableName}) already exists in this sandbox.`);
    }
    const profileEnabled = input.profileEnabled ?? false;
    const identityEnabled = input.identityEnabled ?? profileEnabled;
    const upsert = input.upsert ?? false;
    if (!options.fromSql && (profileEnabled || identityEnabled) && !primaryIdentity(schema) && !hasIdentityMap(schema)) {
      throw new RoundtripError('RT_DATASET_PROFILE_NEEDS_IDENTITY', `Schema "${input.schemaId}" has no primary identity and no identityMap; mark an identity field first.`);
    }
    if (upsert && (!profileEnabled || (schema['meta:class'] !== 'profile' && !options.fromSql))) {
      throw new RoundtripError('RT_DATASET_UPSERT_NEEDS_PROFILE', 'Upsert needs a profile-enabled dataset of the Individual Profile class.');
    }
    const record: DatasetRecord = {
      sandbox,
      id: newId('ds'),
      name: input.name,
      tableName,
      schemaId: input.schemaId,
      schemaVersion: schema['meta:version'],
      profileEnabled,
      identityEnabled,
      upsert,
      createdAt: isoNow(this.clock),
      lastSnapshotId: 0,
    };
    await (await this.warehouse.sandbox(sandbox)).createTable(tableName, columnsOf(schema.properties));
    await this.metadata.datasets.create(record);
    await this.audit.record(actor, { sandbox, action: 'dataset.create', resourceType: 'dataset', resourceId: record.id, details: { name: record.name, schemaId: record.schemaId } });
    return record;
  }

  list(sandbox: string): Promise<DatasetRecord[]> {
    return this.metadata.datasets.list(sandbox);
  }

  /** By id, name or table name. */
  async get(sandbox: string, ref: string): Promise<DatasetRecord> {
    const found =
      (await this.metadata.datasets.get(sandbox, ref)) ??
      (await this.metadata.datasets.getByName(sandbox, ref)) ??
      (await this.metadata.datasets.getByTable(sandbox, ref));
    if (!found) throw new RoundtripError('RT_DATASET_NOT_FOUND', `Dataset "${ref}" does not exist in this sandbox; \`roundtrip dataset list\` shows them.`);
    return found;
  }

  async delete(actor: Principal, sandbox: string, ref: string): Promise<void> {
    const dataset = await this.get(sandbox, ref);
    await (await this.warehouse.sandbox(sandbox)).dropTable(dataset.tableName);
    await this.metadata.datasets.delete(sandbox, dataset.id);
    await this.audit.record(actor, { sandbox, action: 'dataset.delete', resourceType: 'dataset', resourceId: dataset.id });
  }

  /** The coercing validator of the dataset's current schema version (compiled once per version). */
  async checker(sandbox: string, dataset: DatasetRecord): Promise<RecordChecker> {
    const key = `${sandbox}/${dataset.schemaId}@${dataset.schemaVersion}`;
    let checker = this.checkers.get(key);
    if (!checker) {
      checker = recordChecker(await this.registry.getResolved(sandbox, dataset.schemaId, dataset.schemaVersion), this.limits);
      this.checkers.set(key, checker);
    }
    return checker;
  }

  /** Coerces and validates records against the dataset's schema, splitting the good from the bad. */
  async check(sandbox: string, dataset: DatasetRecord, records: readonly unknown[]): Promise<CheckedRecords> {
    const checker = await this.checker(sandbox, dataset);
    const out: CheckedRecords = { valid: [], invalid: [] };
    records.forEach((raw, index) => {
      const result = checker.check(raw);
      if (result.ok) out.valid.push(result.record);
      else out.invalid.push({ index, issues: result.issues });
    });
    return out;
  }

  /**
   * Runs one write as the dataset's next snapshot: allocates the id, lets `work` append the stamped rows
   * (JSON records or a bulk `INSERT … SELECT`), then commits the snapshot with its row count, or marks it failed.
   */
  async appendWith(actor: Principal, sandbox: string, dataset: DatasetRecord, batchId: string, work: AppendWork): Promise<WriteOutcome> {
    const snapshot = await this.metadata.snapshots.begin(sandbox, dataset.id, batchId, isoNow(this.clock));
    try {
      const warehouse = await this.warehouse.sandbox(sandbox);
      const rowCount = await work({ table: dataset.tableName, warehouse, stamp: { snapshotId: snapshot.snapshotId, batchId } });
      await this.metadata.snapshots.commit(sandbox, dataset.id, snapshot.snapshotId, rowCount, isoNow(this.clock));
      await this.audit.record(actor, { sandbox, action: 'dataset.write', resourceType: 'dataset', resourceId: dataset.id, details: { snapshotId: snapshot.snapshotId, batchId, rowCount } });
      return { datasetId: dataset.id, snapshotId: snapshot.snapshotId, batchId, rowCount };
    } catch (error) {
      await this.metadata.snapshots.fail(sandbox, dataset.id, snapshot.snapshotId, isoNow(this.clock));
      throw error;
    }
  }

  /** Appends records that already passed `check` as one snapshot. */
  appendChecked(actor: Principal, sandbox: string, dataset: DatasetRecord, records: readonly JsonRecord[], batchId: string): Promise<WriteOutcome> {
    return this.appendWith(actor, sandbox, dataset, batchId, ({ table, warehouse, stamp }) => warehouse.appendRecords(table, records, stamp));
  }

  /**
   * Writes records as one snapshot. All or nothing: a record that does not match the schema refuses the whole
   * write (batch and streaming ingestion keep bad records aside instead).
   */
  async write(actor: Principal, sandbox: string, ref: string, records: readonly JsonRecord[], batchId = newId('batch')): Promise<WriteOutcome> {
    const dataset = await this.get(sandbox, ref);
    const { valid, invalid } = await this.check(sandbox, dataset, records);
    if (invalid.length) {
      const first = invalid[0]!;
      const issue = first.issues[0];
      throw new RoundtripError('RT_RECORD_INVALID', `Record ${first.index}: ${issue?.path || '(root)'} ${issue?.message ?? 'is invalid'} (${issue?.code}).`, {
        records: invalid.slice(0, 100),
      });
    }
    return this.appendChecked(actor, sandbox, dataset, valid, batchId);
  }

  async read(sandbox: string, ref: string, options: ReadOptions = {}): Promise<JsonRecord[]> {
    const dataset = await this.get(sandbox, ref);
    return (await this.warehouse.sandbox(sandbox)).readRecords(dataset.tableName, { limit: 100, ...options });
  }

  async snapshots(sandbox: string, ref: string): Promise<SnapshotRecord[]> {
    const dataset = await this.get(sandbox, ref);
    return this.metadata.snapshots.list(sandbox, dataset.id);
  }

  /** Brings every dataset of a schema to its new version: new columns are added, widened structs altered. */
  private async followSchema(sandbox: string, schemaId: string, resolved: ResolvedSchema): Promise<void> {
    const warehouse = await this.warehouse.sandbox(sandbox);
    for (const dataset of await this.metadata.datasets.list(sandbox)) {
      if (dataset.schemaId !== schemaId) continue;
      const existing = new Map((await warehouse.describeTable(dataset.tableName)).map((c) => [c.name, c.type]));
      for (const column of columnsOf(resolved.properties)) {
        const before = existing.get(column.name);
        if (!before) await warehouse.addColumn(dataset.tableName, column.name, column.type);
        else if (!isDeepStrictEqual(before, column.type)) await warehouse.widenColumn(dataset.tableName, column.name, column.type);
      }
      await this.metadata.datasets.setSchemaVersion(sandbox, dataset.id, resolved['meta:version']);
    }
  }
}
