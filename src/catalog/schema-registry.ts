/**
 * Schema registry: identity namespaces, data types, field groups and versioned schemas of one sandbox, on top
 * of the built-in XDM library. Creating or evolving a schema composes it (`xdm/compose.ts`) and, for a new
 * version, checks it against the last one (`xdm/evolution.ts`) before storing it; listeners (datasets) follow.
 */
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { MetadataStore, SchemaVersionRecord, XdmClassId } from '../ports/metadata-store.ts';
import type { JsonValue } from '../ports/warehouse.ts';
import type {
  DataTypeInput,
  DataTypeViewT,
  FieldGroupInput,
  FieldGroupViewT,
  NamespaceChanges,
  NamespaceInput,
  NamespaceViewT,
  SchemaInput,
  SchemaViewT,
} from './payloads.ts';
import { composeSchema, resolveRefs, type CompositionLookup, type ResolvedSchema, type SchemaDefinition } from './xdm/compose.ts';
import { compatibilityIssues } from './xdm/evolution.ts';
import { checkField, checkProperties, type FieldDefinition, type Properties } from './xdm/fields.ts';
import { STANDARD_DATA_TYPES, STANDARD_FIELD_GROUPS, STANDARD_NAMESPACES } from './xdm/standard.ts';

export interface SchemaOptions {
  /** Made by SQL: identities may be added and dropped later (ALTER TABLE … CONSTRAINT … IDENTITY). */
  adhoc?: boolean;
  /** Fields at the root of the record rather than under the tenant object (the columns of a table made by SQL). */
  rootFields?: Properties;
}

export type SchemaVersionListener = (sandbox: string, schemaId: string, resolved: ResolvedSchema) => Promise<void>;

const asJson = (value: unknown): JsonValue => value as JsonValue;

function invalid(issues: { path: string; message: string }[], what: string): RoundtripError {
  return new RoundtripError('RT_SCHEMA_INVALID', `${what}: ${issues[0]!.path} ${issues[0]!.message}.`, { issues });
}

export function schemaView(record: SchemaVersionRecord): SchemaViewT {
  const definition = record.definition as unknown as SchemaDefinition;
  return {
    id: record.schemaId,
    version: record.version,
    title: record.title,
    description: record.description,
    class: record.classId,
    fieldGroups: definition.fieldGroups ?? [],
    identities: definition.identities ?? [],
    definition: record.definition as Record<string, unknown>,
    resolved: record.resolved as Record<string, unknown>,
    createdAt: record.createdAt,
  };
}

export class SchemaRegistry {
  private readonly listeners: SchemaVersionListener[] = [];

  constructor(
    private readonly metadata: MetadataStore,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly tenant: string,
  ) {}

  onNewVersion(listener: SchemaVersionListener): void {
    this.listeners.push(listener);
  }

  // Namespaces -------------------------------------------------------------------------------------------

  async listNamespaces(sandbox: string): Promise<NamespaceViewT[]> {
    const standard = STANDARD_NAMESPACES.map((n) => ({ ...n, description: '', standard: true }));
    const custom = (await this.metadata.namespaces.list(sandbox)).map((n) => ({ code: n.code, name: n.name, idType: n.idType, description: n.description, standard: false }));
    return [...standard, ...custom];
  }

  async getNamespace(sandbox: string, code: string): Promise<NamespaceViewT> {
    const found = (await this.listNamespaces(sandbox)).find((n) => n.code === code);
    if (!found) throw new RoundtripError('RT_NAMESPACE_NOT_FOUND', `Identity namespace "${code}" does not exist; \`roundtrip namespace list\` shows them.`);
    return found;
  }

  async createNamespace(actor: Principal, sandbox: string, input: NamespaceInput): Promise<NamespaceViewT> {
    const clash = (await this.listNamespaces(sandbox)).find((n) => n.code.toLowerCase() === input.code.toLowerCase());
    if (clash) throw new RoundtripError('RT_NAMESPACE_EXISTS', `Identity namespace "${clash.code}" already exists.`);
    const record = { sandbox, code: input.code, name: input.name, idType: input.idType, description: input.description ?? '', createdAt: isoNow(this.clock) };
    await this.metadata.namespaces.create(record);
    await this.audit.record(actor, { sandbox, action: 'namespace.create', resourceType: 'namespace', resourceId: input.code });
    return { code: record.code, name: record.name, idType: record.idType, description: record.description, standard: false };
  }

  async updateNamespace(actor: Principal, sandbox: string, code: string, changes: NamespaceChanges): Promise<NamespaceViewT> {
    const current = await this.getNamespace(sandbox, code);
    const changesIdentity = (changes.code !== undefined && changes.code !== current.code) || (changes.idType !== undefined && changes.idType !== current.idType);
    if (current.standard || changesIdentity) {
      throw new RoundtripError(
        'RT_NAMESPACE_IMMUTABLE',
        current.standard ? `"${code}" is a standard namespace and cannot change.` : `The code and identity type of "${code}" never change; create a new namespace instead.`,
      );
    }
    const next = { name: changes.name ?? current.name, description: changes.description ?? current.description };
    await this.metadata.namespaces.update(sandbox, code, next);
    await this.audit.record(actor, { sandbox, action: 'namespace.update', resourceType: 'namespace', resourceId: code, details: next });
    return { ...current, ...next };
  }

  // Data types -------------------------------------------------------------------------------------------

  async listDataTypes(sandbox: string): Promise<DataTypeViewT[]> {
    const standard = STANDARD_DATA_TYPES.map((d) => ({ id: d.id, title: d.title, description: '', standard: true, definition: d.definition as unknown as Record<string, unknown> }));
    const custom = (await this.metadata.dataTypes.list(sandbox)).map((d) => ({
      id: d.id,
      title: d.title,
      description: d.description,
      standard: false,
      definition: d.definition as Record<string, unknown>,
    }));
    return [...standard, ...custom];
  }

  async getDataType(sandbox: string, id: string): Promise<DataTypeViewT> {
    const found = (await this.listDataTypes(sandbox)).find((d) => d.id === id);
    if (!found) throw new RoundtripError('RT_DATA_TYPE_NOT_FOUND', `Data type "${id}" does not exist in this sandbox.`);
    return found;
  }

  async createDataType(actor: Principal, sandbox: string, input: DataTypeInput): Promise<DataTypeViewT> {
    const issues = checkField(input.definition, 'definition');
    if (issues.length) throw invalid(issues, 'Data type');
    const id = input.id ?? newId('dt');
    if ((await this.listDataTypes(sandbox)).some((d) => d.id === id)) throw new RoundtripError('RT_DATA_TYPE_EXISTS', `Data type "${id}" already exists.`);
    // Resolving now refuses references to missing types and cycles before anything is stored.
    await resolveRefs(input.definition as unknown as FieldDefinition, this.lookup(sandbox));
    await this.metadata.dataTypes.create({
      sandbox,
      id,
      title: input.title,
      description: input.description ?? '',
      definition: asJson(input.definition),
      createdAt: isoNow(this.clock),
    });
    await this.audit.record(actor, { sandbox, action: 'datatype.create', resourceType: 'datatype', resourceId: id });
    return this.getDataType(sandbox, id);
  }

  // Field groups -----------------------------------------------------------------------------------------

  async listFieldGroups(sandbox: string): Promise<FieldGroupViewT[]> {
    const standard = STANDARD_FIELD_GROUPS.map((g) => ({ id: g.id, title: g.title, description: '', class: g.classId, standard: true, fields: g.properties }));
    const custom = (await this.metadata.fieldGroups.list(sandbox)).map((g) => ({
      id: g.id,
      title: g.title,
      description: g.description,
      class: g.classId,
      standard: false,
      fields: g.definition as Record<string, unknown>,
    }));
    return [...standard, ...custom];
  }

  async getFieldGroup(sandbox: string, id: string): Promise<FieldGroupViewT> {
    const found = (await this.listFieldGroups(sandbox)).find((g) => g.id === id);
    if (!found) throw new RoundtripError('RT_FIELD_GROUP_NOT_FOUND', `Field group "${id}" does not exist in this sandbox.`);
    return found;
  }

  async createFieldGroup(actor: Principal, sandbox: string, input: FieldGroupInput): Promise<FieldGroupViewT> {
    const issues = checkProperties(input.fields, 'fields');
    if (issues.length) throw invalid(issues, 'Field group');
    const id = input.id ?? newId('fg');
    if ((await this.listFieldGroups(sandbox)).some((g) => g.id === id)) throw new RoundtripError('RT_FIELD_GROUP_EXISTS', `Field group "${id}" already exists.`);
    await resolveRefs({ type: 'object', properties: input.fields as Properties }, this.lookup(sandbox));
    await this.metadata.fieldGroups.create({
      sandbox,
      id,
      title: input.title,
      description: input.description ?? '',
      classId: input.class,
      definition: asJson(input.fields),
      createdAt: isoNow(this.clock),
    });
    await this.audit.record(actor, { sandbox, action: 'fieldgroup.create', resourceType: 'fieldgroup', resourceId: id });
    return this.getFieldGroup(sandbox, id);
  }

  /** Deletes a custom field group that no schema uses. */
  async deleteFieldGroup(actor: Principal, sandbox: string, id: string): Promise<void> {
    const group = await this.getFieldGroup(sandbox, id);
    if (group.standard) throw new RoundtripError('RT_FIELD_GROUP_IN_USE', `"${id}" is a standard field group and cannot be deleted.`);
    const users = (await this.listSchemas(sandbox)).filter((s) => s.fieldGroups.includes(id)).map((s) => s.id);
    if (users.length) throw new RoundtripError('RT_FIELD_GROUP_IN_USE', `Field group "${id}" is used by schema ${users.join(', ')}.`, { schemas: users });
    await this.metadata.fieldGroups.delete(sandbox, id);
    await this.audit.record(actor, { sandbox, action: 'fieldgroup.delete', resourceType: 'fieldgroup', resourceId: id });
  }

  // Schemas ----------------------------------------------------------------------------------------------

  async listSchemas(sandbox: string): Promise<SchemaViewT[]> {
    return (await this.metadata.schemas.list(sandbox)).map(schemaView);
  }

  async getSchema(sandbox: string, id: string, version?: number): Promise<SchemaViewT> {
    return schemaView(await this.getRecord(sandbox, id, version));
  }

  async getResolved(sandbox: string, id: string, version?: number): Promise<ResolvedSchema> {
    return (await this.getRecord(sandbox, id, version)).resolved as unknown as ResolvedSchema;
  }

  async schemaVersions(sandbox: string, id: string): Promise<SchemaViewT[]> {
    await this.getRecord(sandbox, id);
    return (await this.metadata.schemas.versions(sandbox, id)).map(schemaView);
  }

  async createSchema(actor: Principal, sandbox: string, input: SchemaInput, options: SchemaOptions = {}): Promise<SchemaViewT> {
    const id = newId('sch');
    const record = await this.compose(sandbox, id, 1, input, options);
    await this.metadata.schemas.addVersion(record);
    await this.audit.record(actor, { sandbox, action: 'schema.create', resourceType: 'schema', resourceId: id, details: { title: input.title, class: input.class } });
    return schemaView(record);
  }

  /** Stores the definition as the next version when it is a compatible change of the current one. */
  async updateSchema(actor: Principal, sandbox: string, id: string, input: SchemaInput, options: SchemaOptions = {}): Promise<SchemaViewT> {
    const current = await this.getRecord(sandbox, id);
    const adhoc = (current.resolved as unknown as ResolvedSchema)['meta:adhoc'] === true;
    const next = await this.compose(sandbox, id, current.version + 1, input, { ...options, adhoc });
    const issues = compatibilityIssues(current.resolved as unknown as ResolvedSchema, next.resolved as unknown as ResolvedSchema);
    if (issues.length) {
      throw new RoundtripError('RT_SCHEMA_INCOMPATIBLE_CHANGE', `Version ${next.version} is not a compatible change: ${issues[0]!.path} ${issues[0]!.message}.`, { issues });
    }
    await this.metadata.schemas.addVersion(next);
    for (const listener of this.listeners) await listener(sandbox, id, next.resolved as unknown as ResolvedSchema);
    await this.audit.record(actor, { sandbox, action: 'schema.update', resourceType: 'schema', resourceId: id, details: { version: next.version } });
    return schemaView(next);
  }

  private async getRecord(sandbox: string, id: string, version?: number): Promise<SchemaVersionRecord> {
    const record = await this.metadata.schemas.get(sandbox, id, version);
    if (!record) throw new RoundtripError('RT_SCHEMA_NOT_FOUND', `Schema "${id}"${version ? ` version ${version}` : ''} does not exist in this sandbox.`);
    return record;
  }

  private async compose(sandbox: string, id: string, version: number, input: SchemaInput, options: SchemaOptions = {}): Promise<SchemaVersionRecord> {
    const issues = checkProperties(input.fields ?? {}, 'fields');
    if (issues.length) throw invalid(issues, 'Schema');
    const definition: SchemaDefinition = { ...input, fields: input.fields as Properties | undefined, ...(options.rootFields ? { rootFields: options.rootFields } : {}) };
    const resolved = await composeSchema(definition, this.lookup(sandbox), { id, sandbox, tenant: this.tenant, version, adhoc: options.adhoc });
    return {
      sandbox,
      schemaId: id,
      version,
      title: input.title,
      description: input.description ?? '',
      classId: input.class,
      definition: asJson(definition),
      resolved: asJson(resolved),
      createdAt: isoNow(this.clock),
    };
  }

  private lookup(sandbox: string): CompositionLookup {
    return {
      fieldGroup: async (id) => {
        const group = (await this.listFieldGroups(sandbox)).find((g) => g.id === id);
        return group && { classId: group.class as XdmClassId | 'any', properties: group.fields as Properties, custom: !group.standard };
      },
      dataType: async (id) => (await this.listDataTypes(sandbox)).find((d) => d.id === id)?.definition as FieldDefinition | undefined,
      namespaceExists: async (code) => (await this.listNamespaces(sandbox)).some((n) => n.code === code),
    };
  }
}
