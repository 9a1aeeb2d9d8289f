/**
 * Activation dataflows (`platform.activation`): the batch and streaming activation wizards of reference §12.2
 * and §12.3 as an API, and the runs that deliver them.
 *
 * - A dataflow (`metadata.documents` kind `activation-dataflow`) names a destination account, audiences with a
 *   schedule each, the fields to export (attributes or one identity namespace, mandatory flags, SHA-256
 *   hashing, target names) and the deduplication keys. Creating or changing one runs the review step's data
 *   usage check (`governance.ts`) and refuses it on a violation.
 * - A run exports every due audience: the export SQL (`export-sql.ts`) writes CSV parts into the staging folder
 *   with `COPY`, the destination's file connector delivers them atomically; API destinations get the changed
 *   memberships as records instead (streaming). Each run is a document (kind `activation-run`, child of the
 *   dataflow) with per-audience counts, files, bytes, duration and error code; each audience keeps its state
 *   (kind `activation-audience-state`): the last slot exported, the incremental checkpoint, and the slot in
 *   progress with its cut-off, so that a retry of a failed slot exports the same rows under the same names and
 *   the connector's idempotent delivery leaves exactly one complete set of files.
 * - `_rt_activation_log` and `_rt_activation_mappings` (`activation-log.ts`) record it all for the insights.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import { authorize } from '../access/principal.ts';
import { MEMBERSHIP_HISTORY_TABLE, ensureMembershipTables } from '../audiences/membership-tables.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { isRoundtripError, RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { connectorFor as defaultConnectorFor, type ApiRecord, type Connector, type DestinationType, type ResolvedAccount } from '../destinations/connector.ts';
import type { DocumentRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { JsonValue, SandboxWarehouse, Warehouse } from '../ports/warehouse.ts';
import type { MergePolicies } from '../profile/merge-policies.ts';
import type { ProfileStore } from '../profile/profile-store.ts';
import { writeLogRows, writeMappings, type LogRow } from './activation-log.ts';
import { headerOf, STATUS_FIELD, type Dedup, type MembershipWindow } from './export-sql.ts';
import { exportFiles, exportRecords, profileColumns, SKIP_REASONS, type ExportCounts, type ExportedRecord } from './exporter.ts';
import { DEFAULT_FILE_NAME_TEMPLATE, renderFileName, validateFileNameTemplate } from '../destinations/file-names.ts';
import { assertKnownLabels, assertNoViolations, EMPTY_LABELS, policyViolations, type LabelMap, type PolicyViolation } from './governance.ts';
import type { AudienceInput, DataflowInput, FieldInput, LabelsInput, RunRequest } from './payloads.ts';
import { dueSlot, sameSlotPeriod, validateSchedule, type AudienceSchedule } from './schedule.ts';

export const DATAFLOW_KIND = 'activation-dataflow';
export const RUN_KIND = 'activation-run';
export const AUDIENCE_STATE_KIND = 'activation-audience-state';
export const LABELS_KIND = 'governance-labels';
const LABELS_ID = 'labels';
/** Segment definitions of the audiences domain (read only here). */
const SEGMENT_KIND = 'segment-definition';

/** Rows per CSV file (reference §12.5, hard limit). */
export const SPLIT_ROWS = 5_000_000;
/** Mapped attributes per dataflow (reference §12.5, soft limit); `segmentMembership.status` does not count. */
export const MAX_MAPPED_ATTRIBUTES = 50;

type Json = { [key: string]: JsonValue };

export interface StoredDataflow {
  name: string;
  description: string;
  destinationId: string;
  mergePolicyId: string;
  mode: 'batch' | 'streaming';
  state: 'enabled' | 'disabled';
  audiences: AudienceInput[];
  fields: FieldInput[];
  deduplication: Dedup;
  splitRows: number;
  /** When each audience was added (the insights bridge table's create time). */
  mappedAt: Record<string, string>;
  createdBy: string;
}

export interface AudienceRun {
  segmentId: string;
  slot: string;
  exportType: string;
  backfill: boolean;
  status: 'succeeded' | 'failed' | 'skipped' | 'blocked';
  since: string | null;
  cutoff: string;
  profiles: number;
  exited: number;
  rows: number;
  skipped: Record<string, number>;
  failed: number;
  files: { name: string; rows: number; bytes: number; delivered: boolean; skippedAsDuplicate: boolean }[];
  bytes: number;
  durationMs: number;
  error: { code: string; message: string } | null;
  warnings: string[];
}

export interface StoredRun {
  dataflowId: string;
  trigger: 'manual' | 'schedule' | 'retry' | 'stream';
  scheduledFor: string;
  status: 'running' | 'succeeded' | 'partial' | 'failed' | 'blocked' | 'idle';
  attempts: number;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  profiles: number;
  skipped: Record<string, number>;
  failed: number;
  files: number;
  bytes: number;
  error: { code: string; message: string; details?: JsonValue } | null;
  audiences: AudienceRun[];
}

interface AudienceState {
  /** Last slot exported completely. */
  lastSlot: string | null;
  /** Incremental and streaming: memberships changed up to here were sent. */
  checkpoint: string | null;
  /** A slot started but not finished: its cut-off, reused by the retry. */
  pending: { slot: string; cutoff: string } | null;
  lastRunId: string | null;
}

export interface AccountSource {
  getResolvedAccount(sandbox: string, id: string): Promise<ResolvedAccount>;
  addDeleteGuard?(guard: (sandbox: string, accountId: string) => Promise<void>): void;
}

export interface ActivationDeps {
  metadata: MetadataStore;
  warehouse: Warehouse;
  audit: AuditLog;
  clock: Clock;
  mergePolicies: MergePolicies;
  profileStore: ProfileStore;
  accounts: AccountSource;
  /** The connector of a destination type (tests wrap the real ones to inject failures). */
  connectorFor?: (type: DestinationType) => Connector;
}

export interface RunOptions {
  trigger: StoredRun['trigger'];
  /** The slot the scheduler fired for; manual runs use now. */
  scheduledFor?: string;
  segmentIds?: string[];
  /** Retry of this run (same id, same slot). */
  runId?: string;
}

const emptySkipped = (): Record<string, number> => Object.fromEntries(SKIP_REASONS.map((r) => [r, 0]));
const errorOf = (error: unknown): { code: string; message: string } =>
  isRoundtripError(error) ? { code: error.code, message: error.message } : { code: 'RT_INTERNAL', message: (error as Error).message ?? String(error) };
const isStreamingSchedule = (s: AudienceInput['schedule']): s is Extract<AudienceInput['schedule'], { exportType: 'streaming' }> => s.exportType === 'streaming';

export class ActivationService {
  /** Runs in progress per sandbox/dataflow: one at a time (reference §12.5, one concurrent job per audience). */
  private readonly running = new Map<string, Promise<unknown>>();
  private streamTimer: NodeJS.Timeout | undefined;
  private streamTick: Promise<void> | undefined;
  private readonly connectorFor: (type: DestinationType) => Connector;

  constructor(private readonly deps: ActivationDeps) {
    this.connectorFor = deps.connectorFor ?? defaultConnectorFor;
    deps.accounts.addDeleteGuard?.(async (sandbox, accountId) => {
      const users = (await this.list(sandbox)).filter((d) => d.body.destinationId === accountId);
      if (users.length) {
        throw new RoundtripError('RT_DATAFLOW_ACCOUNT_IN_USE', `Destination account ${accountId} is used by dataflow(s) ${users.map((d) => d.id).join(', ')}; delete them first.`, {
          dataflows: users.map((d) => d.id),
        });
      }
    });
  }

  // ---- dataflows -------------------------------------------------------------------------------------------

  async list(sandbox: string): Promise<DocumentRecord<StoredDataflow & Json>[]> {
    return this.deps.metadata.documents.list<StoredDataflow & Json>(sandbox, DATAFLOW_KIND);
  }

  async get(sandbox: string, id: string): Promise<DocumentRecord<StoredDataflow & Json>> {
    const found = await this.deps.metadata.documents.get<StoredDataflow & Json>(sandbox, DATAFLOW_KIND, id);
    if (!found) throw new RoundtripError('RT_DATAFLOW_NOT_FOUND', `No activation dataflow ${id} in sandbox ${sandbox}.`, { id });
    return found;
  }

  async create(actor: Principal, sandbox: string, input: DataflowInput): Promise<DocumentRecord<StoredDataflow & Json>> {
    authorize(actor, 'activation:write', sandbox);
    const now = isoNow(this.deps.clock);
    const { body, account } = await this.review(sandbox, input, { mappedAt: {}, createdBy: actor.id }, now);
    const id = newId('df');
    const record = await this.deps.metadata.documents.create<StoredDataflow & Json>({ sandbox, kind: DATAFLOW_KIND, id, parentId: null, body: body as StoredDataflow & Json, createdAt: now, updatedAt: now });
    await this.syncMappings(sandbox, record, account);
    await this.deps.audit.record(actor, { sandbox, action: 'activation.dataflow.create', resourceType: 'activation-dataflow', resourceId: id, details: { destinationId: body.destinationId, audiences: body.audiences.map((a) => a.segmentId) } });
    return record;
  }

  async update(actor: Principal, sandbox: string, id: string, input: DataflowInput, expectedVersion?: number): Promise<DocumentRecord<StoredDataflow & Json>> {
    authorize(actor, 'activation:write', sandbox);
    const current = await this.get(sandbox, id);
    const now = isoNow(this.deps.clock);
    const { body, account } = await this.review(sandbox, input, { mappedAt: current.body.mappedAt, createdBy: current.body.createdBy }, now);
    const updated = await this.deps.metadata.documents.update<StoredDataflow & Json>(sandbox, DATAFLOW_KIND, id, body as StoredDataflow & Json, { updatedAt: now, expectedVersion: expectedVersion ?? current.version });
    if (!updated) throw new RoundtripError('RT_DATAFLOW_NOT_FOUND', `No activation dataflow ${id} in sandbox ${sandbox}.`, { id });
    await this.syncMappings(sandbox, updated, account);
    await this.deps.audit.record(actor, { sandbox, action: 'activation.dataflow.update', resourceType: 'activation-dataflow', resourceId: id, details: { version: updated.version } });
    return updated;
  }

  async delete(actor: Principal, sandbox: string, id: string): Promise<void> {
    authorize(actor, 'activation:write', sandbox);
    const current = await this.get(sandbox, id);
    // Runs and audience states are children of the dataflow and go with it; the log rows stay (history).
    await this.deps.metadata.documents.delete(sandbox, DATAFLOW_KIND, id);
    const warehouse = await this.deps.warehouse.sandbox(sandbox);
    await writeMappings(warehouse, { id, name: current.body.name, destinationId: current.body.destinationId, destinationName: '', destinationType: '', status: 'deleted', mergePolicyId: current.body.mergePolicyId, updatedAt: isoNow(this.deps.clock) }, []);
    await this.deps.audit.record(actor, { sandbox, action: 'activation.dataflow.delete', resourceType: 'activation-dataflow', resourceId: id });
  }

  /** The wizard's checks and the review step's policy check; returns the body to store. */
  private async review(sandbox: string, input: DataflowInput, kept: Pick<StoredDataflow, 'mappedAt' | 'createdBy'>, now: string): Promise<{ body: StoredDataflow; account: ResolvedAccount }> {
    const account = await this.deps.accounts.getResolvedAccount(sandbox, input.destinationId);
    const connector = this.connectorFor(account.type);
    const mode = connector.kind === 'api' ? 'streaming' : 'batch';
    const policy = await this.deps.mergePolicies.resolve(sandbox, input.mergePolicyId);
    const seen = new Set<string>();
    for (const [i, audience] of input.audiences.entries()) {
      if (seen.has(audience.segmentId)) throw invalid(`Audience ${audience.segmentId} is listed twice.`, `audiences.${i}.segmentId`);
      seen.add(audience.segmentId);
      const segment = await this.segment(sandbox, audience.segmentId);
      if (!segment) throw invalid(`No segment definition ${audience.segmentId} in sandbox ${sandbox}.`, `audiences.${i}.segmentId`);
      if (segment.mergePolicyId && segment.mergePolicyId !== policy.id) {
        throw invalid(`Segment ${audience.segmentId} is evaluated with merge policy ${segment.mergePolicyId}, the dataflow uses ${policy.id}; one dataflow exports one merge policy's profiles.`, `audiences.${i}.segmentId`);
      }
      if (mode === 'streaming' && !isStreamingSchedule(audience.schedule)) throw invalid(`${account.type} is an API destination: audiences are activated by streaming (schedule.exportType "streaming").`, `audiences.${i}.schedule`);
      if (mode === 'batch' && isStreamingSchedule(audience.schedule)) throw invalid(`${account.type} is a file destination: give a full or incremental schedule.`, `audiences.${i}.schedule`);
      if (!isStreamingSchedule(audience.schedule)) validateSchedule(audience.schedule, `audiences.${i}.schedule`);
      if (audience.fileNameTemplate !== undefined) validateFileNameTemplate(audience.fileNameTemplate);
    }
    const deduplication = checkFields(input.fields, input.deduplication ?? null);
    assertNoViolations(await this.violations(sandbox, input.fields, deduplication, account), `Dataflow "${input.name}"`);
    const mappedAt = Object.fromEntries(input.audiences.map((a) => [a.segmentId, kept.mappedAt[a.segmentId] ?? now]));
    const body: StoredDataflow = {
      name: input.name,
      description: input.description ?? '',
      destinationId: input.destinationId,
      mergePolicyId: policy.id,
      mode,
      state: input.state ?? 'enabled',
      audiences: input.audiences,
      fields: input.fields,
      deduplication,
      splitRows: input.splitRows ?? SPLIT_ROWS,
      mappedAt,
      createdBy: kept.createdBy,
    };
    return { body, account };
  }

  private async segment(sandbox: string, id: string): Promise<{ name: string; mergePolicyId?: string } | undefined> {
    const doc = await this.deps.metadata.documents.get<Json>(sandbox, SEGMENT_KIND, id);
    if (!doc) return undefined;
    return { name: typeof doc.body.name === 'string' ? doc.body.name : id, ...(typeof doc.body.mergePolicyId === 'string' ? { mergePolicyId: doc.body.mergePolicyId } : {}) };
  }

  private async syncMappings(sandbox: string, record: DocumentRecord<StoredDataflow & Json>, account: ResolvedAccount): Promise<void> {
    const { body } = record;
    await writeMappings(
      await this.deps.warehouse.sandbox(sandbox),
      { id: record.id, name: body.name, destinationId: body.destinationId, destinationName: account.name, destinationType: account.type, status: body.state, mergePolicyId: body.mergePolicyId, updatedAt: record.updatedAt },
      body.audiences.map((a) => ({ segmentId: a.segmentId, exportType: a.schedule.exportType, startDate: a.schedule.startDate, endDate: a.schedule.endDate ?? null, createdAt: body.mappedAt[a.segmentId] ?? record.createdAt })),
    );
  }

  // ---- governance ------------------------------------------------------------------------------------------

  async labels(sandbox: string): Promise<LabelMap> {
    const doc = await this.deps.metadata.documents.get<Json>(sandbox, LABELS_KIND, LABELS_ID);
    return doc ? (doc.body as unknown as LabelMap) : EMPTY_LABELS;
  }

  async setLabels(actor: Principal, sandbox: string, input: LabelsInput): Promise<LabelMap> {
    authorize(actor, 'activation:write', sandbox);
    const labels: LabelMap = { fields: input.fields, namespaces: input.namespaces ?? {} };
    assertKnownLabels(labels);
    const now = isoNow(this.deps.clock);
    const existing = await this.deps.metadata.documents.get(sandbox, LABELS_KIND, LABELS_ID);
    if (existing) await this.deps.metadata.documents.update(sandbox, LABELS_KIND, LABELS_ID, labels as unknown as Json, { updatedAt: now, expectedVersion: existing.version });
    else await this.deps.metadata.documents.create({ sandbox, kind: LABELS_KIND, id: LABELS_ID, parentId: null, body: labels as unknown as Json, createdAt: now, updatedAt: now });
    await this.deps.audit.record(actor, { sandbox, action: 'activation.labels.update', resourceType: 'governance-labels', resourceId: LABELS_ID, details: labels as unknown as Json });
    return labels;
  }

  private async violations(sandbox: string, fields: readonly FieldInput[], dedup: Dedup, account: ResolvedAccount): Promise<PolicyViolation[]> {
    const sources = fields.filter((f) => !('attribute' in f.source && f.source.attribute === STATUS_FIELD)).map((f) => f.source);
    if (dedup && 'attributes' in dedup) for (const attribute of dedup.attributes) sources.push({ attribute });
    return policyViolations(await this.labels(sandbox), sources, account.marketingActions ?? []);
  }

  // ---- runs ------------------------------------------------------------------------------------------------

  async runs(sandbox: string, dataflowId: string, limit = 50): Promise<DocumentRecord<StoredRun & Json>[]> {
    await this.get(sandbox, dataflowId);
    return this.deps.metadata.documents.list<StoredRun & Json>(sandbox, RUN_KIND, { parentId: dataflowId, limit });
  }

  async getRun(sandbox: string, dataflowId: string, runId: string): Promise<DocumentRecord<StoredRun & Json>> {
    const run = await this.deps.metadata.documents.get<StoredRun & Json>(sandbox, RUN_KIND, runId);
    if (!run || run.parentId !== dataflowId) throw new RoundtripError('RT_ACTIVATION_RUN_NOT_FOUND', `No run ${runId} of dataflow ${dataflowId}.`, { id: runId });
    return run;
  }

  /** `POST /activation/dataflows/{id}/runs`: every (or the given) audience now, whatever its schedule says. */
  async runNow(actor: Principal, sandbox: string, dataflowId: string, request: RunRequest = {}): Promise<DocumentRecord<StoredRun & Json>> {
    authorize(actor, 'activation:write', sandbox);
    const run = await this.run(sandbox, dataflowId, { trigger: 'manual', ...(request.segmentIds ? { segmentIds: request.segmentIds } : {}) });
    await this.deps.audit.record(actor, { sandbox, action: 'activation.run', resourceType: 'activation-dataflow', resourceId: dataflowId, details: { runId: run.id, status: run.body.status } });
    return run;
  }

  /** Runs a failed (or partial) run again: same id, same slot, same file names; finished audiences are not sent twice. */
  async retry(actor: Principal, sandbox: string, dataflowId: string, runId: string): Promise<DocumentRecord<StoredRun & Json>> {
    authorize(actor, 'activation:write', sandbox);
    const previous = await this.getRun(sandbox, dataflowId, runId);
    const run = await this.run(sandbox, dataflowId, { trigger: 'retry', runId, scheduledFor: previous.body.scheduledFor, segmentIds: previous.body.audiences.map((a) => a.segmentId) });
    await this.deps.audit.record(actor, { sandbox, action: 'activation.run.retry', resourceType: 'activation-dataflow', resourceId: dataflowId, details: { runId, status: run.body.status } });
    return run;
  }

  /** Runs one dataflow once (serialised per dataflow). */
  async run(sandbox: string, dataflowId: string, options: RunOptions): Promise<DocumentRecord<StoredRun & Json>> {
    return (await this.runSerialised(sandbox, dataflowId, options)).record;
  }

  /** `idle`: nothing was due (or everything due was delivered before), so nothing was sent or recorded. */
  private async runSerialised(sandbox: string, dataflowId: string, options: RunOptions): Promise<{ record: DocumentRecord<StoredRun & Json>; idle: boolean }> {
    const key = `${sandbox}/${dataflowId}`;
    const previous = this.running.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.runLocked(sandbox, dataflowId, options));
    this.running.set(key, next);
    try {
      return await next;
    } finally {
      if (this.running.get(key) === next) this.running.delete(key);
    }
  }

  private async runLocked(sandbox: string, dataflowId: string, options: RunOptions): Promise<{ record: DocumentRecord<StoredRun & Json>; idle: boolean }> {
    const dataflow = await this.get(sandbox, dataflowId);
    const started = this.deps.clock.now();
    const scheduledFor = options.scheduledFor ?? new Date(Math.floor(started.getTime() / 1000) * 1000).toISOString();
    // Scheduled runs have a deterministic id per slot, so the scheduler's retry of a slot continues the same run.
    const runId = options.runId ?? (options.trigger === 'schedule' ? `run_${dataflowId}_${scheduledFor.replace(/[^0-9]/g, '').slice(0, 14)}` : newId('run'));
    const existing = await this.deps.metadata.documents.get<StoredRun & Json>(sandbox, RUN_KIND, runId);
    const run: StoredRun = {
      dataflowId,
      trigger: options.trigger,
      scheduledFor,
      status: 'running',
      attempts: (existing?.body.attempts ?? 0) + 1,
      startedAt: started.toISOString(),
      finishedAt: null,
      durationMs: null,
      profiles: 0,
      skipped: emptySkipped(),
      failed: 0,
      files: 0,
      bytes: 0,
      error: null,
      audiences: [],
    };
    const save = async (): Promise<DocumentRecord<StoredRun & Json>> => {
      const now = isoNow(this.deps.clock);
      const stored = await this.deps.metadata.documents.get(sandbox, RUN_KIND, runId);
      if (stored) return (await this.deps.metadata.documents.update<StoredRun & Json>(sandbox, RUN_KIND, runId, run as StoredRun & Json, { updatedAt: now }))!;
      return this.deps.metadata.documents.create<StoredRun & Json>({ sandbox, kind: RUN_KIND, id: runId, parentId: dataflowId, body: run as StoredRun & Json, createdAt: now, updatedAt: now });
    };
    const context = { sandbox, dataflow, runId, scheduledFor, started, options };
    try {
      await this.exportAudiences(context, run);
    } catch (error) {
      // Failures before any audience (account, policy, profiles): the whole run fails or is blocked.
      run.error = { ...errorOf(error), ...(isRoundtripError(error) && error.details !== undefined ? { details: error.details as JsonValue } : {}) };
      run.status = isRoundtripError(error) && error.code === 'RT_ACTIVATION_POLICY_VIOLATION' ? 'blocked' : 'failed';
    }
    const finished = this.deps.clock.now();
    run.finishedAt = finished.toISOString();
    run.durationMs = finished.getTime() - started.getTime();
    if (run.status === 'running') run.status = summarise(run.audiences);
    // Idle stream polls and slots with nothing due leave no run behind (they would bury the history), and a
    // retry of a run that had finished leaves that run as it was.
    if (run.status === 'idle' && options.trigger !== 'manual') {
      return { record: existing ?? { sandbox, kind: RUN_KIND, id: runId, parentId: dataflowId, body: run as StoredRun & Json, version: 0, createdAt: run.startedAt, updatedAt: run.finishedAt }, idle: true };
    }
    return { record: await save(), idle: false };
  }

  private async exportAudiences(
    context: { sandbox: string; dataflow: DocumentRecord<StoredDataflow & Json>; runId: string; scheduledFor: string; started: Date; options: RunOptions },
    run: StoredRun,
  ): Promise<void> {
    const { sandbox, dataflow, options } = context;
    const df = dataflow.body;
    if (df.state === 'disabled' && options.trigger !== 'manual') return;
    const account = await this.deps.accounts.getResolvedAccount(sandbox, df.destinationId);
    // Labels may have changed since the dataflow was saved: the check runs again before anything leaves.
    assertNoViolations(await this.violations(sandbox, df.fields, df.deduplication, account), `Dataflow "${df.name}"`);
    const connector = this.connectorFor(account.type);
    const warehouse = await this.deps.warehouse.sandbox(sandbox);
    await ensureMembershipTables(warehouse);
    await this.deps.profileStore.ensureCurrent(sandbox);
    const policy = await this.deps.mergePolicies.get(sandbox, df.mergePolicyId);
    const columns = (await warehouse.listTables()).includes(policy.snapshotTable) ? await profileColumns(warehouse, policy.snapshotTable) : undefined;
    if (!columns) throw new RoundtripError('RT_DATAFLOW_INVALID', `Merge policy ${policy.id} has no profile table yet (no profile-enabled data); nothing to export.`, { mergePolicyId: policy.id });
    const audiences = df.audiences.filter((a) => !options.segmentIds || options.segmentIds.includes(a.segmentId));
    const logRows: LogRow[] = [];
    for (const audience of audiences) {
      const result = await this.exportAudience({ ...context, warehouse, account, connector, policyId: policy.id, table: policy.snapshotTable, columns, audience });
      if (!result) continue;
      run.audiences.push(result);
      accumulate(run, result);
      if (result.status !== 'skipped') logRows.push(logRow(context, account, policy.id, result, isoNow(this.deps.clock)));
    }
    await writeLogRows(warehouse, logRows);
  }

  private stateId(dataflowId: string, segmentId: string): string {
    return `${dataflowId}:${segmentId}`;
  }

  private async state(sandbox: string, dataflowId: string, segmentId: string): Promise<{ state: AudienceState; version?: number }> {
    const doc = await this.deps.metadata.documents.get<AudienceState & Json>(sandbox, AUDIENCE_STATE_KIND, this.stateId(dataflowId, segmentId));
    return doc ? { state: doc.body, version: doc.version } : { state: { lastSlot: null, checkpoint: null, pending: null, lastRunId: null } };
  }

  private async saveState(sandbox: string, dataflowId: string, segmentId: string, state: AudienceState): Promise<void> {
    const id = this.stateId(dataflowId, segmentId);
    const now = isoNow(this.deps.clock);
    const updated = await this.deps.metadata.documents.update(sandbox, AUDIENCE_STATE_KIND, id, state as AudienceState & Json, { updatedAt: now });
    if (!updated) await this.deps.metadata.documents.create({ sandbox, kind: AUDIENCE_STATE_KIND, id, parentId: dataflowId, body: state as AudienceState & Json, createdAt: now, updatedAt: now });
  }

  /** The latest batch evaluation that changed the segment (history rows not written by streaming or uploads). */
  private async lastEvaluation(warehouse: SandboxWarehouse, segmentId: string, policyId: string): Promise<Date | undefined> {
    const row = (await warehouse.query(`SELECT max("at") AS at FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE segment_id = $s AND merge_policy_id = $p AND source NOT IN ('streaming', 'external')`, { s: segmentId, p: policyId })).rows[0];
    return row?.at ? new Date(row.at as string) : undefined;
  }

  private async exportAudience(input: {
    sandbox: string;
    dataflow: DocumentRecord<StoredDataflow & Json>;
    runId: string;
    scheduledFor: string;
    started: Date;
    options: RunOptions;
    warehouse: SandboxWarehouse;
    account: ResolvedAccount;
    connector: Connector;
    policyId: string;
    table: string;
    columns: Awaited<ReturnType<typeof profileColumns>>;
    audience: AudienceInput;
  }): Promise<AudienceRun | undefined> {
    const { sandbox, dataflow, audience, warehouse, options } = input;
    const schedule = audience.schedule;
    const { state } = await this.state(sandbox, dataflow.id, audience.segmentId);
    const at = new Date(input.scheduledFor);
    let slot: string | undefined;
    if (isStreamingSchedule(schedule)) {
      const start = Date.parse(`${schedule.startDate}T00:00:00Z`);
      const end = schedule.endDate ? Date.parse(`${schedule.endDate}T00:00:00Z`) : Number.POSITIVE_INFINITY;
      slot = at.getTime() >= start && at.getTime() < end ? input.scheduledFor : undefined;
    } else if (options.trigger === 'manual' || options.trigger === 'retry') {
      slot = input.scheduledFor;
    } else {
      const batch: AudienceSchedule = schedule;
      slot = dueSlot(batch, at, batch.trigger === 'after-segment-evaluation' ? await this.lastEvaluation(warehouse, audience.segmentId, input.policyId) : undefined);
      if (slot && sameSlotPeriod(batch, state.lastSlot ?? undefined, slot)) slot = undefined;
    }
    if (!slot) return undefined;
    const began = Date.now();
    const exportType = schedule.exportType;
    const base: AudienceRun = {
      segmentId: audience.segmentId,
      slot,
      exportType,
      backfill: exportType !== 'full' && state.checkpoint === null,
      status: 'succeeded',
      since: exportType === 'full' ? null : state.checkpoint,
      cutoff: input.started.toISOString(),
      profiles: 0,
      exited: 0,
      rows: 0,
      skipped: emptySkipped(),
      failed: 0,
      files: [],
      bytes: 0,
      durationMs: 0,
      error: null,
      warnings: [],
    };
    // A scheduled or retried slot that was delivered is not sent twice; a manual run always exports.
    if (state.lastSlot === slot && !isStreamingSchedule(schedule) && options.trigger !== 'manual') {
      return { ...base, status: 'skipped', warnings: ['This slot was exported already; nothing was sent again.'] };
    }
    // A retried slot reuses its cut-off: same window, same rows, same names.
    base.cutoff = state.pending?.slot === slot ? state.pending.cutoff : base.cutoff;
    await this.saveState(sandbox, dataflow.id, audience.segmentId, { ...state, pending: { slot, cutoff: base.cutoff } });
    const window: MembershipWindow = exportType === 'full' ? { kind: 'full' } : { kind: 'incremental', since: base.since, cutoff: base.cutoff };
    const plan = {
      profileTable: input.table,
      profileColumns: input.columns,
      segmentId: audience.segmentId,
      mergePolicyId: input.policyId,
      fields: dataflow.body.fields,
      dedup: dataflow.body.deduplication,
      window,
      includeExits: isStreamingSchedule(schedule) || dataflow.body.fields.some((f) => 'attribute' in f.source && f.source.attribute === STATUS_FIELD),
    };
    const runFolder = `activation-${input.runId}-${dataflow.body.audiences.indexOf(audience)}`;
    try {
      const outcome = input.connector.kind === 'file' ? await this.deliverFiles(input, plan, runFolder, slot) : await this.sendRecords(input, plan);
      Object.assign(base, outcome);
      await this.saveState(sandbox, dataflow.id, audience.segmentId, { lastSlot: slot, checkpoint: exportType === 'full' ? state.checkpoint : base.cutoff, pending: null, lastRunId: input.runId });
      // A stream poll that found no change leaves no trace in the run history.
      if (isStreamingSchedule(schedule) && base.rows === 0 && Object.values(base.skipped).every((n) => n === 0)) return undefined;
    } catch (error) {
      base.status = 'failed';
      base.error = errorOf(error);
    } finally {
      await rm(path.join(warehouse.stagingDir, runFolder), { recursive: true, force: true });
    }
    base.durationMs = Date.now() - began;
    return base;
  }

  private async deliverFiles(
    input: { sandbox: string; dataflow: DocumentRecord<StoredDataflow & Json>; warehouse: SandboxWarehouse; account: ResolvedAccount; connector: Connector; audience: AudienceInput },
    plan: Omit<Parameters<typeof exportFiles>[0], 'warehouse' | 'runFolder' | 'baseName' | 'splitRows'>,
    runFolder: string,
    slot: string,
  ): Promise<Partial<AudienceRun>> {
    const segment = await this.segment(input.sandbox, input.audience.segmentId);
    // The slot's time, not the clock's: a retried slot makes the same names, which the connector delivers idempotently.
    const baseName = renderFileName(input.audience.fileNameTemplate ?? DEFAULT_FILE_NAME_TEMPLATE, {
      destination: input.account.name,
      segmentId: input.audience.segmentId,
      segmentName: segment?.name ?? input.audience.segmentId,
      at: new Date(slot),
    });
    const { counts, files } = await exportFiles({ ...plan, warehouse: input.warehouse, runFolder, baseName, splitRows: input.dataflow.body.splitRows });
    if (input.connector.kind !== 'file') throw new Error('unreachable');
    const receipts = await input.connector.deliver(input.account, files.map((f) => ({ name: f.name, localPath: f.localPath, bytes: f.bytes, rows: f.rows })));
    return {
      ...countsView(counts),
      files: receipts.map((r) => ({ name: r.name, rows: r.rows, bytes: r.bytes, delivered: true, skippedAsDuplicate: r.skipped })),
      bytes: receipts.reduce((sum, r) => sum + r.bytes, 0),
    };
  }

  private async sendRecords(
    input: { sandbox: string; dataflow: DocumentRecord<StoredDataflow & Json>; warehouse: SandboxWarehouse; account: ResolvedAccount; connector: Connector; audience: AudienceInput; runId: string },
    plan: Parameters<typeof exportRecords>[1],
  ): Promise<Partial<AudienceRun>> {
    const { counts, records } = await exportRecords(input.warehouse, plan);
    if (input.connector.kind !== 'api') throw new Error('unreachable');
    if (!records.length) return countsView(counts);
    const audiences = await Promise.all(input.dataflow.body.audiences.map(async (a) => ({ id: a.segmentId, name: (await this.segment(input.sandbox, a.segmentId))?.name ?? a.segmentId })));
    // The same window keeps the same delivery id across retries, so receivers can drop a batch they already have.
    const deliveryId = `${input.dataflow.id}:${input.audience.segmentId}:${plan.window.kind === 'incremental' ? (plan.window.since ?? 'backfill') : 'full'}`;
    const result = await input.connector.send(input.account, records.map((r) => apiRecord(r, input.audience.segmentId)), { audiences, deliveryId });
    // Retries exhausted (not a refusal of the records): fail the audience and keep the checkpoint, so the next
    // pass sends the same changes again instead of losing them.
    const unreachable = result.failures.find((f) => f.code === 'RT_DESTINATION_UNREACHABLE');
    if (unreachable) throw new RoundtripError('RT_DESTINATION_UNREACHABLE', unreachable.message, { sent: result.sent, failed: result.failures.length, retries: result.retries });
    const view = countsView(counts);
    const failedKeys = new Set(result.failures.map((f) => f.key));
    const failedExited = records.filter((r) => failedKeys.has(String(r.profileId)) && r.status === 'exited').length;
    return {
      ...view,
      profiles: view.profiles! - failedKeys.size,
      exited: view.exited! - failedExited,
      failed: failedKeys.size,
      warnings: [...(view.warnings ?? []), ...result.failures.slice(0, 20).map((f) => `profile ${f.key}: ${f.code} ${f.message}`)],
    };
  }

  // ---- scheduling and streaming ------------------------------------------------------------------------------

  /**
   * The `activation.run` job: the given dataflow, or every enabled one of the sandbox, at the slot the scheduler
   * fired for. A run with failed audiences throws, so the scheduler records the failure and retries the slot.
   */
  async runScheduled(sandbox: string, dataflowId: string | undefined, scheduledFor: string): Promise<{ profiles: number; runs: number; message: string }> {
    const ids = dataflowId ? [dataflowId] : (await this.list(sandbox)).filter((d) => d.body.state === 'enabled').map((d) => d.id);
    let profiles = 0;
    let runs = 0;
    const failures: string[] = [];
    for (const id of ids) {
      const { record: run, idle } = await this.runSerialised(sandbox, id, { trigger: 'schedule', scheduledFor });
      if (idle) continue;
      runs++;
      profiles += run.body.profiles;
      if (run.body.status !== 'succeeded') failures.push(`${id}: ${run.body.status}${run.body.error ? ` (${run.body.error.code})` : ''}${run.body.audiences.filter((a) => a.error).map((a) => ` ${a.segmentId}: ${a.error!.code}`).join('')}`);
    }
    if (failures.length) throw new RoundtripError('RT_ACTIVATION_RUN_FAILED', `Activation run(s) did not complete: ${failures.join('; ')}.`, { failures });
    return { profiles, runs, message: `${runs} dataflow run(s), ${profiles} profile(s) exported.` };
  }

  /** One pass over every enabled streaming dataflow (of one sandbox, or all): sends memberships changed since each checkpoint. */
  async pollStreaming(sandbox?: string): Promise<void> {
    const dataflows = sandbox ? await this.list(sandbox) : await this.deps.metadata.documents.listAllSandboxes<StoredDataflow & Json>(DATAFLOW_KIND);
    for (const d of dataflows) {
      if (d.body.mode !== 'streaming' || d.body.state !== 'enabled') continue;
      await this.run(d.sandbox, d.id, { trigger: 'stream' }).catch(() => undefined);
    }
  }

  /** Polls streaming dataflows every `intervalMs` (under `roundtrip serve`); `stop` ends it. */
  startStreaming(intervalMs = 5000): void {
    if (this.streamTimer) return;
    this.streamTimer = setInterval(() => {
      this.streamTick ??= this.pollStreaming().finally(() => (this.streamTick = undefined));
    }, intervalMs);
    this.streamTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.streamTimer) clearInterval(this.streamTimer);
    this.streamTimer = undefined;
    await this.streamTick;
    await Promise.allSettled([...this.running.values()]);
  }
}

function invalid(message: string, path: string): RoundtripError {
  return new RoundtripError('RT_DATAFLOW_INVALID', message, { issues: [{ path, message }] });
}

/**
 * The "Select attributes" rules (reference §12.2, §12.5): unique target names, at most 50 mapped attributes, one
 * identity namespace (then it is the deduplication key), namespaces and attributes not mixed as keys.
 */
function checkFields(fields: readonly FieldInput[], dedup: Dedup): Dedup {
  const targets = new Set<string>();
  fields.forEach((field, i) => {
    const target = headerOf(field);
    if (targets.has(target)) throw invalid(`Two fields export to "${target}".`, `fields.${i}.target`);
    targets.add(target);
  });
  const attributes = fields.filter((f) => 'attribute' in f.source && f.source.attribute !== STATUS_FIELD);
  if (attributes.length > MAX_MAPPED_ATTRIBUTES) throw invalid(`At most ${MAX_MAPPED_ATTRIBUTES} mapped attributes per dataflow (reference guardrail); ${attributes.length} given.`, 'fields');
  const namespaces = fields.flatMap((f) => ('identity' in f.source ? [f.source.identity] : []));
  if (namespaces.length > 1) throw invalid('Only one identity namespace can be exported; add other identities as attributes.', 'fields');
  const namespace = namespaces[0];
  if (namespace) {
    if (dedup && 'attributes' in dedup) throw invalid('Identity namespaces and profile attributes cannot be mixed as deduplication keys; the exported namespace is the key.', 'deduplication');
    if (dedup && 'namespace' in dedup && dedup.namespace !== namespace) throw invalid(`The deduplication namespace must be the exported one (${namespace}).`, 'deduplication.namespace');
    // An exported identity is automatically the deduplication key.
    return { namespace };
  }
  if (dedup && 'namespace' in dedup) throw invalid(`Export the ${dedup.namespace} identity (a field with source.identity) to deduplicate by it.`, 'deduplication.namespace');
  return dedup;
}

function countsView(counts: ExportCounts): Partial<AudienceRun> {
  return { profiles: counts.profiles, exited: counts.exited, rows: counts.rows, skipped: counts.skipped, warnings: counts.warnings };
}

function apiRecord(record: ExportedRecord, segmentId: string): ApiRecord {
  const identities: Record<string, string> = {};
  const attributes: Record<string, string | null> = {};
  for (const v of record.values) {
    if (v.identity) {
      if (v.value !== null) identities[v.header] = v.value;
    } else if (v.header !== STATUS_FIELD) attributes[v.header] = v.value;
  }
  return { key: String(record.profileId), identities, attributes, audiences: { [segmentId]: record.status === 'exited' ? 'exited' : 'realized' } };
}

function accumulate(run: StoredRun, audience: AudienceRun): void {
  run.profiles += audience.profiles;
  run.failed += audience.failed;
  run.files += audience.files.length;
  run.bytes += audience.bytes;
  for (const [reason, n] of Object.entries(audience.skipped)) run.skipped[reason] = (run.skipped[reason] ?? 0) + n;
}

function summarise(audiences: readonly AudienceRun[]): StoredRun['status'] {
  const worked = audiences.filter((a) => a.status !== 'skipped');
  if (!worked.length) return 'idle';
  const failed = worked.filter((a) => a.status === 'failed').length;
  if (failed === 0) return 'succeeded';
  return failed === worked.length ? 'failed' : 'partial';
}

function logRow(
  context: { dataflow: DocumentRecord<StoredDataflow & Json>; runId: string; started: Date },
  account: ResolvedAccount,
  policyId: string,
  audience: AudienceRun,
  finishedAt: string,
): LogRow {
  const { dataflow } = context;
  return {
    runId: context.runId,
    dataflowId: dataflow.id,
    dataflowName: dataflow.body.name,
    destinationId: account.id,
    destinationName: account.name,
    destinationType: account.type,
    segmentId: audience.segmentId,
    mergePolicyId: policyId,
    exportType: audience.exportType,
    slot: audience.slot,
    status: audience.status,
    profiles: audience.profiles,
    exited: audience.exited,
    skipped: Object.values(audience.skipped).reduce((a, b) => a + b, 0),
    failed: audience.failed,
    files: audience.files.length,
    bytes: audience.bytes,
    errorCode: audience.error?.code ?? null,
    startedAt: context.started.toISOString(),
    finishedAt,
  };
}
