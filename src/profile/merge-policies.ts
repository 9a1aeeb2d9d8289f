/**
 * Merge policies (reference §2.3): how a profile's fragments become one profile. Method `timestamp-ordered`
 * (the latest ingested value wins) or `dataset-precedence` (an ordered list of profile-enabled datasets), ID
 * stitching `private-graph` (the identity graph joins fragments) or `none` (each identity its own profile).
 * At most 5 per sandbox; exactly one default per class. A sandbox that has none gets the reference default
 * (timestamp ordered, private graph) on first use. Each policy names its profile snapshot table once.
 */
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import { tableNameFor } from '../catalog/datasets.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { MergePolicyChanges, MergePolicyRecord, MetadataStore, XdmClassId } from '../ports/metadata-store.ts';
import type { MergePolicyInput, MergePolicyPatchT } from './payloads.ts';

export const MAX_MERGE_POLICIES = 5;
const DEFAULT_NAME = 'Default timestamp-ordered';

/** The system creates the default policy; audit entries name it. */
const SYSTEM: Principal = { id: 'system', name: 'Roundtrip', role: 'admin', sandboxes: ['*'] };

export class MergePolicies {
  /** Default creations under way, so concurrent first reads create one. */
  private readonly creating = new Map<string, Promise<void>>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** Every policy of the sandbox, oldest first; creates the default first if the sandbox has none (new or reset). */
  async list(sandbox: string): Promise<MergePolicyRecord[]> {
    const policies = await this.metadata.mergePolicies.list(sandbox);
    if (policies.some((p) => p.isDefault && p.classId === 'profile')) return policies;
    await this.ensureDefault(sandbox);
    return this.metadata.mergePolicies.list(sandbox);
  }

  async get(sandbox: string, id: string): Promise<MergePolicyRecord> {
    const found = await this.metadata.mergePolicies.get(sandbox, id);
    if (!found) throw new RoundtripError('RT_MERGE_POLICY_NOT_FOUND', `Merge policy "${id}" does not exist; \`roundtrip merge-policy list\` shows them.`);
    return found;
  }

  /** The given policy, or the default of the class. */
  async resolve(sandbox: string, id?: string, classId: XdmClassId = 'profile'): Promise<MergePolicyRecord> {
    if (id) return this.get(sandbox, id);
    const policies = await this.list(sandbox);
    return policies.find((p) => p.isDefault && p.classId === classId) ?? policies.find((p) => p.isDefault)!;
  }

  private ensureDefault(sandbox: string): Promise<void> {
    let done = this.creating.get(sandbox);
    if (!done) {
      done = this.createDefault(sandbox).finally(() => this.creating.delete(sandbox));
      this.creating.set(sandbox, done);
    }
    return done;
  }

  private async createDefault(sandbox: string): Promise<void> {
    const existing = await this.metadata.mergePolicies.list(sandbox);
    if (existing.some((p) => p.isDefault && p.classId === 'profile')) return;
    const name = existing.some((p) => p.name === DEFAULT_NAME) ? `${DEFAULT_NAME} ${existing.length + 1}` : DEFAULT_NAME;
    await this.insert(SYSTEM, sandbox, { name, method: 'timestamp-ordered', idStitching: 'private-graph', isDefault: true });
  }

  async create(actor: Principal, sandbox: string, input: MergePolicyInput): Promise<MergePolicyRecord> {
    await this.list(sandbox);
    return this.insert(actor, sandbox, input);
  }

  private async insert(actor: Principal, sandbox: string, input: MergePolicyInput): Promise<MergePolicyRecord> {
    const policies = await this.metadata.mergePolicies.list(sandbox);
    if (policies.some((p) => p.name === input.name)) throw new RoundtripError('RT_MERGE_POLICY_EXISTS', `A merge policy named "${input.name}" already exists.`);
    const method = input.method ?? 'timestamp-ordered';
    const datasetOrder = await this.checkOrder(sandbox, method, input.datasetOrder);
    const classId = input.class ?? 'profile';
    const now = isoNow(this.clock);
    const record: MergePolicyRecord = {
      sandbox,
      id: newId('mp'),
      name: input.name,
      classId,
      method,
      datasetOrder,
      idStitching: input.idStitching ?? 'private-graph',
      // The first policy of a class is its default whatever was asked: a class always has one.
      isDefault: input.isDefault === true || !policies.some((p) => p.isDefault && p.classId === classId),
      snapshotTable: await this.snapshotTable(sandbox, input.name, policies),
      createdBy: actor.id,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.metadata.mergePolicies.create(record, MAX_MERGE_POLICIES))) {
      throw new RoundtripError('RT_MERGE_POLICY_LIMIT', `This sandbox already has ${MAX_MERGE_POLICIES} merge policies; delete one first.`);
    }
    await this.audit.record(actor, { sandbox, action: 'merge-policy.create', resourceType: 'merge-policy', resourceId: record.id, details: { name: record.name, method, idStitching: record.idStitching } });
    return record;
  }

  async update(actor: Principal, sandbox: string, id: string, patch: MergePolicyPatchT): Promise<MergePolicyRecord> {
    const current = await this.get(sandbox, id);
    if (patch.name !== undefined && patch.name !== current.name && (await this.metadata.mergePolicies.list(sandbox)).some((p) => p.name === patch.name)) {
      throw new RoundtripError('RT_MERGE_POLICY_EXISTS', `A merge policy named "${patch.name}" already exists.`);
    }
    if (patch.isDefault === false && current.isDefault) {
      throw new RoundtripError('RT_MERGE_POLICY_DEFAULT', `"${current.name}" is the default of its class; make another policy the default instead.`);
    }
    const method = patch.method ?? current.method;
    const order = patch.datasetOrder ?? (patch.method === 'timestamp-ordered' ? [] : current.datasetOrder);
    const changes: MergePolicyChanges = {
      ...(patch.name !== undefined && { name: patch.name }),
      method,
      datasetOrder: await this.checkOrder(sandbox, method, order),
      ...(patch.idStitching !== undefined && { idStitching: patch.idStitching }),
      updatedAt: isoNow(this.clock),
    };
    await this.metadata.mergePolicies.update(sandbox, id, changes);
    if (patch.isDefault === true && !current.isDefault) await this.metadata.mergePolicies.setDefault(sandbox, id, isoNow(this.clock));
    await this.audit.record(actor, { sandbox, action: 'merge-policy.update', resourceType: 'merge-policy', resourceId: id, details: { ...patch } });
    return this.get(sandbox, id);
  }

  async delete(actor: Principal, sandbox: string, id: string): Promise<MergePolicyRecord> {
    const current = await this.get(sandbox, id);
    if (current.isDefault) throw new RoundtripError('RT_MERGE_POLICY_DEFAULT', `"${current.name}" is the default of its class; make another policy the default before deleting it.`);
    await this.metadata.mergePolicies.delete(sandbox, id);
    await this.audit.record(actor, { sandbox, action: 'merge-policy.delete', resourceType: 'merge-policy', resourceId: id });
    return current;
  }

  /** Dataset precedence needs a list of distinct profile-enabled datasets; the other method takes none. */
  private async checkOrder(sandbox: string, method: MergePolicyRecord['method'], order: readonly string[] | undefined): Promise<string[]> {
    if (method !== 'dataset-precedence') {
      if (order?.length) throw new RoundtripError('RT_MERGE_POLICY_INVALID', 'Only the dataset-precedence method takes a dataset order.');
      return [];
    }
    if (!order?.length) throw new RoundtripError('RT_MERGE_POLICY_INVALID', 'Dataset precedence needs `datasetOrder`, the profile-enabled datasets from highest to lowest precedence.');
    const ids: string[] = [];
    for (const ref of order) {
      const dataset =
        (await this.metadata.datasets.get(sandbox, ref)) ?? (await this.metadata.datasets.getByName(sandbox, ref)) ?? (await this.metadata.datasets.getByTable(sandbox, ref));
      if (!dataset?.profileEnabled) throw new RoundtripError('RT_MERGE_POLICY_INVALID', `"${ref}" is not a profile-enabled dataset of this sandbox.`);
      if (ids.includes(dataset.id)) throw new RoundtripError('RT_MERGE_POLICY_INVALID', `"${ref}" is listed twice.`);
      ids.push(dataset.id);
    }
    return ids;
  }

  /** `profile_snapshot_<name>`, made unique against other policies and dataset tables. */
  private async snapshotTable(sandbox: string, name: string, policies: readonly MergePolicyRecord[]): Promise<string> {
    const base = `profile_snapshot_${tableNameFor(name).slice(0, 40) || 'policy'}`;
    const taken = async (table: string) => policies.some((p) => p.snapshotTable === table) || (await this.metadata.datasets.getByTable(sandbox, table)) !== undefined;
    if (!(await taken(base))) return base;
    for (let i = 2; ; i++) if (!(await taken(`${base}_${i}`))) return `${base}_${i}`;
  }
}
