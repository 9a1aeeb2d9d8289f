/**
 * MetadataStore port: the small, transactional facts of the platform (sandboxes, API keys, audit log, schema
 * registry, datasets and their snapshots). Rows are plain records; JSON-shaped parts (schema definitions,
 * audit details) are opaque values the store keeps as given.
 *
 * Every record but sandboxes and keys belongs to one sandbox, and every lookup takes the sandbox: there is no
 * call that reads across sandboxes, which is what makes isolation hold at this layer.
 */
import type { JsonValue } from './warehouse.ts';

export type Role = 'admin' | 'data-engineer' | 'analyst' | 'marketer' | 'viewer';
export type XdmClassId = 'profile' | 'experienceevent';

export interface SandboxRecord {
  name: string;
  title: string;
  type: 'production' | 'development';
  createdAt: string;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  /** Sandboxes the key may use; `['*']` means all. */
  sandboxes: string[];
  secretHash: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  sandbox: string | null;
  action: string;
  resourceType: string;
  resourceId: string;
  details: JsonValue;
}

export type NewAuditEntry = Omit<AuditEntry, 'id'>;

export interface AuditFilter {
  sandbox?: string;
  actor?: string;
  resourceType?: string;
  action?: string;
  since?: string;
  limit?: number;
}

export interface NamespaceRecord {
  sandbox: string;
  code: string;
  name: string;
  idType: string;
  description: string;
  createdAt: string;
}

export interface FieldGroupRecord {
  sandbox: string;
  id: string;
  title: string;
  description: string;
  /** The class it may join, or `any`. */
  classId: XdmClassId | 'any';
  definition: JsonValue;
  createdAt: string;
}

export interface DataTypeRecord {
  sandbox: string;
  id: string;
  title: string;
  description: string;
  definition: JsonValue;
  createdAt: string;
}

export interface SchemaVersionRecord {
  sandbox: string;
  schemaId: string;
  version: number;
  title: string;
  description: string;
  classId: XdmClassId;
  /** What the user asked for (field groups, fields, identities). */
  definition: JsonValue;
  /** The composed JSON Schema with every reference resolved. */
  resolved: JsonValue;
  createdAt: string;
}

export interface DatasetRecord {
  sandbox: string;
  id: string;
  name: string;
  tableName: string;
  schemaId: string;
  schemaVersion: number;
  profileEnabled: boolean;
  identityEnabled: boolean;
  upsert: boolean;
  createdAt: string;
  lastSnapshotId: number;
}

export type SnapshotStatus = 'pending' | 'committed' | 'failed';

export interface SnapshotRecord {
  sandbox: string;
  datasetId: string;
  snapshotId: number;
  batchId: string;
  rowCount: number;
  status: SnapshotStatus;
  createdAt: string;
  committedAt: string | null;
}

export type BatchStatus = 'loading' | 'processing' | 'success' | 'failed' | 'aborted';

export interface BatchRecord {
  sandbox: string;
  id: string;
  datasetId: string;
  status: BatchStatus;
  /** json, jsonl, csv or parquet; `stream` for batches that streaming ingestion commits. */
  inputFormat: string;
  /** Format options and the rejected-share threshold, as given at creation. */
  options: JsonValue;
  /** Uploaded files: name, bytes, completeness. */
  files: JsonValue;
  rowsRead: number;
  rowsWritten: number;
  rowsRejected: number;
  snapshotId: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export type BatchChanges = Partial<
  Pick<BatchRecord, 'status' | 'files' | 'rowsRead' | 'rowsWritten' | 'rowsRejected' | 'snapshotId' | 'errorCode' | 'errorMessage' | 'updatedAt' | 'completedAt'>
>;

export interface BatchFilter {
  datasetId?: string;
  status?: BatchStatus;
  limit?: number;
}

export interface StreamingConnectionRecord {
  sandbox: string;
  id: string;
  name: string;
  /** `xdm` (Adobe collection envelope) or `segment` (Segment tracking spec). */
  kind: string;
  /** Which datasets receive what, e.g. `{ "event": "ds_…", "profile": "ds_…" }`. */
  datasets: JsonValue;
  /** SHA-256 of the connection's own secret (write key). */
  secretHash: string;
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface BatchRepository {
  create(record: BatchRecord): Promise<void>;
  get(sandbox: string, id: string): Promise<BatchRecord | undefined>;
  /** Newest first. */
  list(sandbox: string, filter?: BatchFilter): Promise<BatchRecord[]>;
  update(sandbox: string, id: string, changes: BatchChanges): Promise<void>;
}

export interface StreamingConnectionRepository {
  create(record: StreamingConnectionRecord): Promise<void>;
  /** Connections are addressed by id alone (the collection URL carries no sandbox); the record says which. */
  get(id: string): Promise<StreamingConnectionRecord | undefined>;
  list(sandbox: string): Promise<StreamingConnectionRecord[]>;
  revoke(id: string, at: string): Promise<void>;
}

export interface SandboxRepository {
  create(record: SandboxRecord): Promise<void>;
  get(name: string): Promise<SandboxRecord | undefined>;
  list(): Promise<SandboxRecord[]>;
  delete(name: string): Promise<void>;
}

export interface ApiKeyRepository {
  create(record: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  revoke(id: string, at: string): Promise<boolean>;
  touch(id: string, at: string): Promise<void>;
}

export interface AuditRepository {
  append(entry: NewAuditEntry): Promise<AuditEntry>;
  /** Newest first. */
  list(filter: AuditFilter): Promise<AuditEntry[]>;
}

export interface NamespaceRepository {
  create(record: NamespaceRecord): Promise<void>;
  get(sandbox: string, code: string): Promise<NamespaceRecord | undefined>;
  list(sandbox: string): Promise<NamespaceRecord[]>;
  update(sandbox: string, code: string, changes: Pick<NamespaceRecord, 'name' | 'description'>): Promise<void>;
}

export interface FieldGroupRepository {
  create(record: FieldGroupRecord): Promise<void>;
  get(sandbox: string, id: string): Promise<FieldGroupRecord | undefined>;
  list(sandbox: string): Promise<FieldGroupRecord[]>;
}

export interface DataTypeRepository {
  create(record: DataTypeRecord): Promise<void>;
  get(sandbox: string, id: string): Promise<DataTypeRecord | undefined>;
  list(sandbox: string): Promise<DataTypeRecord[]>;
}

export interface SchemaRepository {
  /** Stores a version; version 1 creates the schema, later versions must follow the latest one. */
  addVersion(record: SchemaVersionRecord): Promise<void>;
  /** The latest version, or the given one. */
  get(sandbox: string, schemaId: string, version?: number): Promise<SchemaVersionRecord | undefined>;
  /** Latest version of every schema. */
  list(sandbox: string): Promise<SchemaVersionRecord[]>;
  versions(sandbox: string, schemaId: string): Promise<SchemaVersionRecord[]>;
}

export interface DatasetRepository {
  create(record: DatasetRecord): Promise<void>;
  get(sandbox: string, id: string): Promise<DatasetRecord | undefined>;
  getByName(sandbox: string, name: string): Promise<DatasetRecord | undefined>;
  getByTable(sandbox: string, tableName: string): Promise<DatasetRecord | undefined>;
  list(sandbox: string): Promise<DatasetRecord[]>;
  setSchemaVersion(sandbox: string, id: string, version: number): Promise<void>;
  delete(sandbox: string, id: string): Promise<void>;
}

export interface SnapshotRepository {
  /** Allocates the dataset's next snapshot id (strictly increasing, never reused) as a pending snapshot. */
  begin(sandbox: string, datasetId: string, batchId: string, at: string): Promise<SnapshotRecord>;
  commit(sandbox: string, datasetId: string, snapshotId: number, rowCount: number, at: string): Promise<void>;
  fail(sandbox: string, datasetId: string, snapshotId: number, at: string): Promise<void>;
  list(sandbox: string, datasetId: string): Promise<SnapshotRecord[]>;
}

export interface MetadataStore {
  readonly dialect: string;
  readonly sandboxes: SandboxRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly audit: AuditRepository;
  readonly namespaces: NamespaceRepository;
  readonly fieldGroups: FieldGroupRepository;
  readonly dataTypes: DataTypeRepository;
  readonly schemas: SchemaRepository;
  readonly datasets: DatasetRepository;
  readonly snapshots: SnapshotRepository;
  readonly batches: BatchRepository;
  readonly streamingConnections: StreamingConnectionRepository;
  /** Applies pending migrations; safe to call on every start. */
  migrate(): Promise<void>;
  /** Removes every record that belongs to the sandbox (not the sandbox row itself). */
  purgeSandbox(sandbox: string): Promise<void>;
  close(): Promise<void>;
}
