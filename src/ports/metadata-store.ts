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
/** `adhoc`: schemas of tables made by SQL (CTAS), with no class fields of their own. */
export type XdmClassId = 'profile' | 'experienceevent' | 'adhoc';

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

export type QueryStatus = 'running' | 'success' | 'failed' | 'cancelled' | 'timeout';

export interface QueryLogRecord {
  sandbox: string;
  id: string;
  sql: string;
  params: JsonValue;
  /** Key id (or `local`) that ran it. */
  actor: string;
  client: string;
  executionClass: string;
  status: QueryStatus;
  rowCount: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
}

export type QueryLogChanges = Partial<Pick<QueryLogRecord, 'status' | 'rowCount' | 'errorCode' | 'errorMessage' | 'endedAt' | 'durationMs'>>;

export interface QueryLogRepository {
  create(record: QueryLogRecord): Promise<void>;
  get(sandbox: string, id: string): Promise<QueryLogRecord | undefined>;
  /** Newest first. */
  list(sandbox: string, filter?: { actor?: string; status?: QueryStatus; limit?: number }): Promise<QueryLogRecord[]>;
  update(sandbox: string, id: string, changes: QueryLogChanges): Promise<void>;
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
  delete(sandbox: string, id: string): Promise<void>;
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
  setFlags(sandbox: string, id: string, flags: Pick<DatasetRecord, 'profileEnabled' | 'identityEnabled' | 'upsert'>): Promise<void>;
  delete(sandbox: string, id: string): Promise<void>;
}

export interface SnapshotRepository {
  /** Allocates the dataset's next snapshot id (strictly increasing, never reused) as a pending snapshot. */
  begin(sandbox: string, datasetId: string, batchId: string, at: string): Promise<SnapshotRecord>;
  commit(sandbox: string, datasetId: string, snapshotId: number, rowCount: number, at: string): Promise<void>;
  fail(sandbox: string, datasetId: string, snapshotId: number, at: string): Promise<void>;
  list(sandbox: string, datasetId: string): Promise<SnapshotRecord[]>;
}

export interface QueryTemplateRecord {
  sandbox: string;
  id: string;
  name: string;
  sql: string;
  /** Default values of `'$NAME'` placeholders, keyed as given (`$user_id` or `user_id`). */
  queryParameters: JsonValue;
  createdBy: string;
  createdAt: string;
  updatedBy: string;
  updatedAt: string;
}

export interface QueryTemplateRepository {
  create(record: QueryTemplateRecord): Promise<void>;
  get(sandbox: string, id: string): Promise<QueryTemplateRecord | undefined>;
  /** Oldest first; the service filters, orders and pages (a sandbox holds few templates). */
  list(sandbox: string): Promise<QueryTemplateRecord[]>;
  update(sandbox: string, id: string, changes: Pick<QueryTemplateRecord, 'name' | 'sql' | 'queryParameters' | 'updatedBy' | 'updatedAt'>): Promise<void>;
  delete(sandbox: string, id: string): Promise<void>;
}

export type QueryScheduleState = 'ENABLED' | 'DISABLED' | 'QUARANTINED';

export interface QueryScheduleRecord {
  sandbox: string;
  id: string;
  name: string;
  description: string;
  /** The template it runs, or null for inline SQL. */
  templateId: string | null;
  sql: string | null;
  /** A named job (`{ kind, params }`, see `src/platform/jobs.ts`) run instead of SQL; null for SQL schedules. */
  job: JsonValue | null;
  /** Persisted `'$NAME'` values. */
  parameters: JsonValue;
  /** `{ cron }` or `{ frequency }`. */
  timing: JsonValue;
  startDate: string;
  endDate: string | null;
  /** Where results go: `{ mode: 'none' | 'create-and-append' | 'append', … }`. */
  output: JsonValue;
  /** Which alerts, the delay threshold and the webhook. */
  alerts: JsonValue;
  quarantineEnabled: boolean;
  state: QueryScheduleState;
  consecutiveFailures: number;
  /** The next slot the scheduler will fire; null once the end date is passed. */
  nextRunAt: string | null;
  /** The last slot the scheduler handled (ran or skipped). */
  lastSlotAt: string | null;
  /** The run in progress; the one-active-run guard. */
  activeRunId: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export type QueryScheduleChanges = Partial<
  Pick<
    QueryScheduleRecord,
    | 'name'
    | 'description'
    | 'parameters'
    | 'timing'
    | 'startDate'
    | 'endDate'
    | 'output'
    | 'alerts'
    | 'quarantineEnabled'
    | 'state'
    | 'consecutiveFailures'
    | 'nextRunAt'
    | 'lastSlotAt'
    | 'updatedAt'
  >
>;

export interface QueryScheduleRepository {
  create(record: QueryScheduleRecord): Promise<void>;
  get(sandbox: string, id: string): Promise<QueryScheduleRecord | undefined>;
  /** Oldest first; the service filters, orders and pages. */
  list(sandbox: string): Promise<QueryScheduleRecord[]>;
  /**
   * ENABLED schedules whose next slot is at or before `at`, in every sandbox: the scheduler's one read across
   * sandboxes (each schedule then runs in its own).
   */
  due(at: string): Promise<QueryScheduleRecord[]>;
  /** Schedules with a run marked active, in every sandbox (for recovery after a stop). */
  withActiveRun(): Promise<QueryScheduleRecord[]>;
  update(sandbox: string, id: string, changes: QueryScheduleChanges): Promise<void>;
  /** Sets the active run only if none is set; false when another run holds it. */
  claimRun(sandbox: string, id: string, runId: string): Promise<boolean>;
  /** Clears the active run if it is still `runId`. */
  releaseRun(sandbox: string, id: string, runId: string): Promise<void>;
  /** Deletes the schedule and its run history. */
  delete(sandbox: string, id: string): Promise<void>;
  /** Ids of schedules that run the template. */
  usingTemplate(sandbox: string, templateId: string): Promise<string[]>;
}

export type QueryScheduleRunStatus = 'RUNNING' | 'SUCCESS' | 'FAILED' | 'SKIPPED';

export interface QueryScheduleRunRecord {
  sandbox: string;
  id: string;
  scheduleId: string;
  /** `schedule` (a due slot), `catch-up` (the latest of several missed slots), `manual` (trigger now). */
  trigger: string;
  /** The slot it belongs to; null for manual runs. */
  slotAt: string | null;
  status: QueryScheduleRunStatus;
  queryId: string | null;
  /** The output dataset it wrote, when the schedule has one. */
  datasetId: string | null;
  rowCount: number | null;
  message: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** Whether the delay alert went out for this run. */
  delayAlerted: boolean;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
}

export type QueryScheduleRunChanges = Partial<
  Pick<QueryScheduleRunRecord, 'status' | 'queryId' | 'datasetId' | 'rowCount' | 'message' | 'errorCode' | 'errorMessage' | 'delayAlerted' | 'endedAt'>
>;

export interface QueryScheduleRunRepository {
  create(record: QueryScheduleRunRecord): Promise<void>;
  get(sandbox: string, id: string): Promise<QueryScheduleRunRecord | undefined>;
  /** Newest first (by creation, then id). */
  list(sandbox: string, scheduleId: string, page?: { limit?: number; start?: number }): Promise<QueryScheduleRunRecord[]>;
  update(sandbox: string, id: string, changes: QueryScheduleRunChanges): Promise<void>;
  /** Keeps the newest `keep` runs of the schedule and deletes the rest. */
  prune(sandbox: string, scheduleId: string, keep: number): Promise<void>;
}

export type MergeMethod = 'timestamp-ordered' | 'dataset-precedence';
export type IdStitching = 'none' | 'private-graph';

/** How profile fragments become one profile (reference §2.3); at most 5 per sandbox, one default per class. */
export interface MergePolicyRecord {
  sandbox: string;
  id: string;
  name: string;
  /** The XDM class whose profiles it merges. */
  classId: XdmClassId;
  method: MergeMethod;
  /** Dataset ids, highest precedence first (dataset precedence only; empty otherwise). */
  datasetOrder: string[];
  idStitching: IdStitching;
  isDefault: boolean;
  /** The profile snapshot table in the sandbox's warehouse, named once at creation. */
  snapshotTable: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export type MergePolicyChanges = Partial<Pick<MergePolicyRecord, 'name' | 'method' | 'datasetOrder' | 'idStitching' | 'updatedAt'>>;

export interface MergePolicyRepository {
  /**
   * Stores the policy unless the sandbox already holds `limit` of them (then returns false). A default policy
   * demotes its class's previous default in the same transaction.
   */
  create(record: MergePolicyRecord, limit: number): Promise<boolean>;
  get(sandbox: string, id: string): Promise<MergePolicyRecord | undefined>;
  /** Oldest first. */
  list(sandbox: string): Promise<MergePolicyRecord[]>;
  update(sandbox: string, id: string, changes: MergePolicyChanges): Promise<void>;
  /** Makes the policy the only default of its class, in one transaction. */
  setDefault(sandbox: string, id: string, at: string): Promise<void>;
  delete(sandbox: string, id: string): Promise<void>;
}

/** A fitted CLV model in the registry: what was fitted, on which data snapshot, how well, and when. */
export interface ClvModelRecord {
  sandbox: string;
  id: string;
  /** bgnbd, pnbd, mbgnbd, gg, bgbb or sbg. */
  model: string;
  /** Parameters, log-likelihood, standard errors and the fit settings (penalizer, time unit). */
  fit: JsonValue;
  /** The data: dataset id and snapshot (or an uploaded file's digest), columns, window, customers. */
  source: JsonValue;
  diagnostics: JsonValue;
  createdBy: string;
  createdAt: string;
}

export interface ClvModelRepository {
  create(record: ClvModelRecord): Promise<void>;
  get(sandbox: string, id: string): Promise<ClvModelRecord | undefined>;
  /** Newest first. */
  list(sandbox: string, filter?: { model?: string; limit?: number }): Promise<ClvModelRecord[]>;
  delete(sandbox: string, id: string): Promise<void>;
}

/**
 * A configuration object of a later step of the loop (segment definitions, dashboards, destinations, dataflows,
 * campaigns, their runs…), kept as a JSON body under a `kind`. Domains that need no query beyond "by id" and
 * "by kind, newest first" use this instead of a table of their own; `version` makes updates compare-and-set.
 */
export interface DocumentRecord<T extends JsonValue = JsonValue> {
  sandbox: string;
  kind: string;
  id: string;
  /** Optional secondary key to list by (e.g. the dataflow a run belongs to). */
  parentId: string | null;
  body: T;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface DocumentRepository {
  /** Fails with `RT_DOCUMENT_CONFLICT` when a document of that kind and id exists. */
  create<T extends JsonValue>(record: Omit<DocumentRecord<T>, 'version'>): Promise<DocumentRecord<T>>;
  get<T extends JsonValue = JsonValue>(sandbox: string, kind: string, id: string): Promise<DocumentRecord<T> | undefined>;
  /** Newest first (by `createdAt`, then id). */
  list<T extends JsonValue = JsonValue>(sandbox: string, kind: string, filter?: { parentId?: string; limit?: number }): Promise<DocumentRecord<T>[]>;
  /**
   * Replaces the body; with `expectedVersion`, only when the stored version still is that one (else
   * `RT_DOCUMENT_CONFLICT`). Returns the new record, or undefined when there is no such document.
   */
  update<T extends JsonValue>(sandbox: string, kind: string, id: string, body: T, options: { updatedAt: string; expectedVersion?: number }): Promise<DocumentRecord<T> | undefined>;
  /** True when something was deleted; `parentId` children of the document are deleted with it. */
  delete(sandbox: string, kind: string, id: string): Promise<boolean>;
  /** Documents of a kind in every sandbox (for schedulers that scan all sandboxes). */
  listAllSandboxes<T extends JsonValue = JsonValue>(kind: string): Promise<DocumentRecord<T>[]>;
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
  readonly mergePolicies: MergePolicyRepository;
  readonly batches: BatchRepository;
  readonly queryLog: QueryLogRepository;
  readonly streamingConnections: StreamingConnectionRepository;
  readonly queryTemplates: QueryTemplateRepository;
  readonly querySchedules: QueryScheduleRepository;
  readonly queryScheduleRuns: QueryScheduleRunRepository;
  readonly clvModels: ClvModelRepository;
  readonly documents: DocumentRepository;
  /** Applies pending migrations; safe to call on every start. */
  migrate(): Promise<void>;
  /** Removes every record that belongs to the sandbox (not the sandbox row itself). */
  purgeSandbox(sandbox: string): Promise<void>;
  /**
   * Backup: every record that belongs to the sandbox, per table, as stored (column names and values of the
   * table, JSON parts as text), read at one instant. Rows are dialect-neutral: they import into any dialect.
   */
  exportSandbox(sandbox: string): Promise<SandboxRows>;
  /**
   * Restore: replaces every record of the sandbox with `rows` (as `exportSandbox` gave them; their `sandbox`
   * column is set to `sandbox`), in one transaction. An unknown table or column fails with `RT_BACKUP_INCOMPATIBLE`.
   */
  importSandbox(sandbox: string, rows: SandboxRows): Promise<void>;
  close(): Promise<void>;
}

/** A sandbox's records by table name, each row as the table stores it. */
export type SandboxRows = Record<string, Record<string, JsonValue>[]>;
