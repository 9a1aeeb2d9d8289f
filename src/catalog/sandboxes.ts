/**
 * Sandboxes: isolated workspaces (the production sandbox `prod` and development sandboxes). Each one has its
 * own warehouse database and its own catalog records; reset empties one, delete removes it (never `prod`).
 */
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import type { MetadataStore, SandboxRecord } from '../ports/metadata-store.ts';
import type { Warehouse } from '../ports/warehouse.ts';

export const PRODUCTION_SANDBOX = 'prod';
const SANDBOX_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export interface NewSandbox {
  name: string;
  title?: string;
  type?: SandboxRecord['type'];
}

export class Sandboxes {
  /** What every new (or reset) sandbox gets, e.g. its standard dashboards; registered by the platform. */
  private readonly provisions: ((sandbox: string) => Promise<void>)[] = [];

  constructor(
    private readonly metadata: MetadataStore,
    private readonly warehouse: Warehouse,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** Runs `provision` for every sandbox created or reset from now on (after its warehouse exists). */
  onProvision(provision: (sandbox: string) => Promise<void>): void {
    this.provisions.push(provision);
  }

  async create(actor: Principal, input: NewSandbox): Promise<SandboxRecord> {
    if (!SANDBOX_NAME.test(input.name)) {
      throw new RoundtripError('RT_SANDBOX_NAME_INVALID', `"${input.name}" is not a valid sandbox name: use 1-32 of a-z, 0-9 and -, starting with a letter.`);
    }
    if (await this.metadata.sandboxes.get(input.name)) throw new RoundtripError('RT_SANDBOX_EXISTS', `Sandbox "${input.name}" already exists.`);
    const record: SandboxRecord = {
      name: input.name,
      title: input.title ?? input.name,
      type: input.type ?? (input.name === PRODUCTION_SANDBOX ? 'production' : 'development'),
      createdAt: isoNow(this.clock),
    };
    await this.metadata.sandboxes.create(record);
    await this.warehouse.sandbox(record.name);
    for (const provision of this.provisions) await provision(record.name);
    await this.audit.record(actor, { sandbox: record.name, action: 'sandbox.create', resourceType: 'sandbox', resourceId: record.name });
    return record;
  }

  list(): Promise<SandboxRecord[]> {
    return this.metadata.sandboxes.list();
  }

  async get(name: string): Promise<SandboxRecord> {
    const record = await this.metadata.sandboxes.get(name);
    if (!record) throw new RoundtripError('RT_SANDBOX_NOT_FOUND', `Sandbox "${name}" does not exist; \`roundtrip sandbox list\` shows the sandboxes.`, { sandbox: name });
    return record;
  }

  /** Empties the sandbox: its datasets, schemas and warehouse data go; the sandbox stays. */
  async reset(actor: Principal, name: string): Promise<SandboxRecord> {
    const record = await this.get(name);
    await this.warehouse.dropSandbox(name);
    await this.metadata.purgeSandbox(name);
    await this.warehouse.sandbox(name);
    for (const provision of this.provisions) await provision(name);
    await this.audit.record(actor, { sandbox: name, action: 'sandbox.reset', resourceType: 'sandbox', resourceId: name });
    return record;
  }

  async delete(actor: Principal, name: string): Promise<void> {
    await this.get(name);
    if (name === PRODUCTION_SANDBOX) throw new RoundtripError('RT_SANDBOX_PROTECTED', 'The production sandbox cannot be deleted; reset it instead.');
    await this.warehouse.dropSandbox(name);
    await this.metadata.purgeSandbox(name);
    await this.metadata.sandboxes.delete(name);
    await this.audit.record(actor, { sandbox: name, action: 'sandbox.delete', resourceType: 'sandbox', resourceId: name });
  }
}
