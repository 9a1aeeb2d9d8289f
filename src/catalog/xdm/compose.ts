/**
 * Schema composition: class + field groups + tenant fields + `$ref`s to data types → one resolved JSON Schema,
 * the single source that validates records, types dataset columns and answers "which fields are identities".
 */
import { isDeepStrictEqual } from 'node:util';
import { RoundtripError, type FieldIssue } from '../../core/errors.ts';
import type { XdmClassId } from '../../ports/metadata-store.ts';
import { columnType, fieldAt, isMapField, isObjectField, isRefField, type FieldDefinition, type Properties } from './fields.ts';
import { XDM_CLASSES } from './standard.ts';

export interface IdentityDescriptor {
  /** Dotted path of a string field, e.g. `_acme.membershipNumber` or `personalEmail.address`. */
  path: string;
  namespace: string;
  primary?: boolean;
}

export interface SchemaDefinition {
  title: string;
  description?: string;
  class: XdmClassId;
  fieldGroups?: string[];
  /** Custom fields, placed under the tenant object `_<tenant>`. */
  fields?: Properties;
  /** Required custom fields (names inside the tenant object). */
  required?: string[];
  identities?: IdentityDescriptor[];
  /** Fields at the root of the record (tables made by SQL); not part of the public payload. */
  rootFields?: Properties;
}

export interface ResolvedSchema {
  $id: string;
  title: string;
  description: string;
  type: 'object';
  properties: Properties;
  required: string[];
  additionalProperties: false;
  'meta:class': XdmClassId;
  'meta:tenant': string;
  'meta:fieldGroups': string[];
  'meta:identities': IdentityDescriptor[];
  'meta:version': number;
  /** Made by SQL (CTAS, CREATE TABLE): identities may change between versions, as ad hoc schemas allow. */
  'meta:adhoc'?: boolean;
}

export interface FieldGroupSource {
  classId: XdmClassId | 'any';
  properties: Properties;
  /** Custom field groups place their fields under the tenant object. */
  custom: boolean;
}

export interface CompositionLookup {
  fieldGroup(id: string): Promise<FieldGroupSource | undefined>;
  dataType(id: string): Promise<FieldDefinition | undefined>;
  namespaceExists(code: string): Promise<boolean>;
}

export const tenantKey = (tenant: string): string => `_${tenant}`;

/** Replaces every `$ref` by its data type, following nested references and refusing cycles. */
export async function resolveRefs(field: FieldDefinition, lookup: CompositionLookup, seen: string[] = []): Promise<FieldDefinition> {
  if (isRefField(field)) {
    if (seen.includes(field.$ref)) throw new RoundtripError('RT_SCHEMA_INVALID', `Data type "${field.$ref}" refers to itself.`, { cycle: [...seen, field.$ref] });
    const target = await lookup.dataType(field.$ref);
    if (!target) throw new RoundtripError('RT_DATA_TYPE_NOT_FOUND', `Data type "${field.$ref}" does not exist in this sandbox.`);
    const { $ref: _ref, ...meta } = field;
    return { ...(await resolveRefs(target, lookup, [...seen, field.$ref])), ...meta };
  }
  if (isObjectField(field)) return { ...field, properties: await resolvePropertyRefs(field.properties, lookup, seen) };
  if (isMapField(field)) return { ...field, additionalProperties: await resolveRefs(field.additionalProperties, lookup, seen) };
  if ('type' in field && field.type === 'array') return { ...field, items: await resolveRefs(field.items, lookup, seen) };
  return field;
}

async function resolvePropertyRefs(properties: Properties, lookup: CompositionLookup, seen: string[] = []): Promise<Properties> {
  const out: Properties = {};
  for (const [name, field] of Object.entries(properties)) out[name] = await resolveRefs(field, lookup, seen);
  return out;
}

/** Merges `source` into `target` (both resolved). A field defined twice must have one type. */
export function mergeProperties(target: Properties, source: Properties, path: string, conflicts: FieldIssue[]): Properties {
  const out: Properties = { ...target };
  for (const [name, field] of Object.entries(source)) {
    const existing = out[name];
    const at = path ? `${path}.${name}` : name;
    if (!existing) out[name] = field;
    else if (isObjectField(existing) && isObjectField(field)) {
      const required = [...new Set([...(existing.required ?? []), ...(field.required ?? [])])];
      out[name] = { ...existing, properties: mergeProperties(existing.properties, field.properties, at, conflicts), ...(required.length ? { required } : {}) };
    } else if (!isDeepStrictEqual(columnType(existing), columnType(field))) {
      conflicts.push({ path: at, message: 'is defined with two different types' });
    }
  }
  return out;
}

/** Closes every object with properties, so a record with an unknown field is refused. */
function closeObjects(field: FieldDefinition): FieldDefinition {
  if (isObjectField(field)) return { ...field, properties: closeAll(field.properties), additionalProperties: false };
  if (isMapField(field)) return { ...field, additionalProperties: closeObjects(field.additionalProperties) };
  if ('type' in field && field.type === 'array') return { ...field, items: closeObjects(field.items) };
  return field;
}

const closeAll = (properties: Properties): Properties => Object.fromEntries(Object.entries(properties).map(([k, f]) => [k, closeObjects(f)]));

async function checkIdentities(identities: IdentityDescriptor[], properties: Properties, lookup: CompositionLookup): Promise<FieldIssue[]> {
  const issues: FieldIssue[] = [];
  const seenPaths = new Set<string>();
  identities.forEach((identity, i) => {
    const field = fieldAt(properties, identity.path);
    const at = `identities[${i}]`;
    if (!field) issues.push({ path: `${at}.path`, message: `"${identity.path}" is not a field of the schema (arrays and maps cannot hold identities)` });
    else if (!('type' in field) || field.type !== 'string' || ('format' in field && (field.format === 'date' || field.format === 'date-time'))) {
      issues.push({ path: `${at}.path`, message: `"${identity.path}" must be a string field to hold an identity` });
    }
    if (seenPaths.has(identity.path)) issues.push({ path: `${at}.path`, message: `"${identity.path}" is already an identity` });
    seenPaths.add(identity.path);
  });
  for (const [i, identity] of identities.entries()) {
    if (!(await lookup.namespaceExists(identity.namespace))) {
      issues.push({ path: `identities[${i}].namespace`, message: `"${identity.namespace}" is not an identity namespace of this sandbox` });
    }
  }
  if (identities.filter((d) => d.primary).length > 1) issues.push({ path: 'identities', message: 'at most one identity can be primary' });
  return issues;
}

export async function composeSchema(
  definition: SchemaDefinition,
  lookup: CompositionLookup,
  context: { id: string; sandbox: string; tenant: string; version: number; adhoc?: boolean },
): Promise<ResolvedSchema> {
  const cls = XDM_CLASSES[definition.class];
  const tenant = tenantKey(context.tenant);
  const conflicts: FieldIssue[] = [];
  let properties: Properties = { ...cls.properties };
  for (const id of definition.fieldGroups ?? []) {
    const group = await lookup.fieldGroup(id);
    if (!group) throw new RoundtripError('RT_FIELD_GROUP_NOT_FOUND', `Field group "${id}" does not exist in this sandbox.`);
    if (group.classId !== 'any' && group.classId !== definition.class) {
      throw new RoundtripError('RT_FIELD_GROUP_CLASS_MISMATCH', `Field group "${id}" is for ${group.classId} schemas, not ${definition.class}.`);
    }
    const resolved = await resolvePropertyRefs(group.properties, lookup);
    properties = mergeProperties(properties, group.custom ? { [tenant]: { type: 'object', properties: resolved } } : resolved, '', conflicts);
  }
  if (definition.fields && Object.keys(definition.fields).length > 0) {
    const own: FieldDefinition = { type: 'object', properties: await resolvePropertyRefs(definition.fields, lookup), ...(definition.required?.length ? { required: definition.required } : {}) };
    properties = mergeProperties(properties, { [tenant]: own }, '', conflicts);
  }
  if (definition.rootFields) properties = mergeProperties(properties, await resolvePropertyRefs(definition.rootFields, lookup), '', conflicts);
  if (conflicts.length) throw new RoundtripError('RT_SCHEMA_FIELD_CONFLICT', `Field ${conflicts[0]!.path} ${conflicts[0]!.message}.`, { issues: conflicts });
  const identities = definition.identities ?? [];
  const identityIssues = await checkIdentities(identities, properties, lookup);
  if (identityIssues.length) {
    throw new RoundtripError('RT_SCHEMA_IDENTITY_INVALID', `${identityIssues[0]!.path}: ${identityIssues[0]!.message}.`, { issues: identityIssues });
  }
  return {
    $id: `https://ns.roundtrip.dev/${context.sandbox}/schemas/${context.id}`,
    title: definition.title,
    description: definition.description ?? '',
    type: 'object',
    properties: closeAll(properties),
    required: cls.required,
    additionalProperties: false,
    'meta:class': definition.class,
    'meta:tenant': tenant,
    'meta:fieldGroups': definition.fieldGroups ?? [],
    'meta:identities': identities,
    'meta:version': context.version,
    ...(context.adhoc ? { 'meta:adhoc': true } : {}),
  };
}

export const primaryIdentity = (schema: ResolvedSchema): IdentityDescriptor | undefined => schema['meta:identities'].find((d) => d.primary);
export const hasIdentityMap = (schema: ResolvedSchema): boolean => 'identityMap' in schema.properties;
