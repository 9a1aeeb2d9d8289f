/**
 * XDM field definitions: the JSON Schema subset that schemas, field groups and data types are written in,
 * how it is checked (with paths a user can act on), and how it maps to warehouse columns.
 *
 * A field is a scalar (`string` with an optional `format` of date/date-time/email/uri/uuid, `integer`, `number`,
 * `boolean`), an object with `properties`, a map (`object` with `additionalProperties`), an array with `items`,
 * or a `$ref` to a data type. Resolved schemas have no `$ref` left and close every object
 * (`additionalProperties: false`), so unknown fields are refused on write.
 */
import type { FieldIssue } from '../../core/errors.ts';
import type { ColumnSpec, ColumnType } from '../../ports/warehouse.ts';

export type StringFormat = 'date' | 'date-time' | 'email' | 'uri' | 'uuid';

interface FieldMeta {
  title?: string;
  description?: string;
}

export type FieldDefinition = FieldMeta &
  (
    | { type: 'string'; format?: StringFormat; enum?: string[]; minLength?: number; maxLength?: number; pattern?: string }
    | { type: 'integer' | 'number'; minimum?: number; maximum?: number }
    | { type: 'boolean' }
    | { type: 'object'; properties: Record<string, FieldDefinition>; required?: string[]; additionalProperties?: false }
    | { type: 'object'; additionalProperties: FieldDefinition }
    | { type: 'array'; items: FieldDefinition }
    | { $ref: string }
  );

export type ObjectField = Extract<FieldDefinition, { properties: Record<string, FieldDefinition> }>;
export type Properties = Record<string, FieldDefinition>;

const FORMATS = new Set<string>(['date', 'date-time', 'email', 'uri', 'uuid']);
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const META_KEYS = ['title', 'description'];
const ALLOWED_KEYS: Record<string, string[]> = {
  string: ['type', 'format', 'enum', 'minLength', 'maxLength', 'pattern', ...META_KEYS],
  integer: ['type', 'minimum', 'maximum', ...META_KEYS],
  number: ['type', 'minimum', 'maximum', ...META_KEYS],
  boolean: ['type', ...META_KEYS],
  object: ['type', 'properties', 'required', 'additionalProperties', ...META_KEYS],
  array: ['type', 'items', ...META_KEYS],
};

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isObjectField = (f: FieldDefinition): f is ObjectField => 'properties' in f;
export const isMapField = (f: FieldDefinition): f is Extract<FieldDefinition, { additionalProperties: FieldDefinition }> =>
  'type' in f && f.type === 'object' && isRecord(f.additionalProperties);
export const isRefField = (f: FieldDefinition): f is { $ref: string } => '$ref' in f;

/** Checks a field definition tree; returns every problem with its path (empty when valid). */
export function checkField(value: unknown, path: string): FieldIssue[] {
  if (!isRecord(value)) return [{ path, message: 'must be an object describing a field' }];
  if ('$ref' in value) {
    const extra = Object.keys(value).filter((k) => !['$ref', ...META_KEYS].includes(k));
    if (typeof value.$ref !== 'string' || value.$ref === '') return [{ path: `${path}.$ref`, message: 'must name a data type' }];
    return extra.map((k) => ({ path: `${path}.${k}`, message: 'is not allowed next to $ref' }));
  }
  const type = value.type;
  if (typeof type !== 'string' || !(type in ALLOWED_KEYS)) {
    return [{ path: `${path}.type`, message: 'must be one of string, integer, number, boolean, object, array' }];
  }
  const issues: FieldIssue[] = Object.keys(value)
    .filter((k) => !ALLOWED_KEYS[type]!.includes(k))
    .map((k) => ({ path: `${path}.${k}`, message: `is not a keyword of a ${type} field` }));
  if (type === 'string') issues.push(...checkString(value, path));
  if (type === 'object') issues.push(...checkObject(value, path));
  if (type === 'array') issues.push(...checkField(value.items, `${path}.items`));
  return issues;
}

function checkString(value: Record<string, unknown>, path: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (value.format !== undefined && (typeof value.format !== 'string' || !FORMATS.has(value.format))) {
    issues.push({ path: `${path}.format`, message: 'must be one of date, date-time, email, uri, uuid' });
  }
  if (value.enum !== undefined && (!Array.isArray(value.enum) || value.enum.some((e) => typeof e !== 'string'))) {
    issues.push({ path: `${path}.enum`, message: 'must be a list of strings' });
  }
  if (value.pattern !== undefined) {
    try {
      if (typeof value.pattern !== 'string') throw new TypeError('pattern must be a string');
      new RegExp(value.pattern, 'u');
    } catch {
      issues.push({ path: `${path}.pattern`, message: 'is not a valid regular expression' });
    }
  }
  return issues;
}

function checkObject(value: Record<string, unknown>, path: string): FieldIssue[] {
  const { properties, additionalProperties, required } = value;
  if (properties === undefined) {
    if (!isRecord(additionalProperties)) {
      return [{ path, message: 'an object needs `properties` (a struct) or `additionalProperties` (a map)' }];
    }
    return checkField(additionalProperties, `${path}.additionalProperties`);
  }
  if (!isRecord(properties)) return [{ path: `${path}.properties`, message: 'must be an object of fields' }];
  const issues = checkProperties(properties, `${path}.properties`);
  if (additionalProperties !== undefined && additionalProperties !== false) {
    issues.push({ path: `${path}.additionalProperties`, message: 'an object with properties cannot also be a map' });
  }
  if (required !== undefined) {
    if (!Array.isArray(required)) issues.push({ path: `${path}.required`, message: 'must be a list of field names' });
    else for (const name of required) if (!(String(name) in properties)) issues.push({ path: `${path}.required`, message: `names "${String(name)}", which is not a field` });
  }
  return issues;
}

export function checkProperties(properties: Record<string, unknown>, path: string): FieldIssue[] {
  return Object.entries(properties).flatMap(([name, field]) =>
    FIELD_NAME.test(name)
      ? checkField(field, `${path}.${name}`)
      : [{ path: `${path}.${name}`, message: 'field names are letters, digits and _, not starting with a digit' }],
  );
}

/** A field's type, without titles, descriptions or constraints: what must not change between versions. */
export function columnType(field: FieldDefinition): ColumnType {
  if (isRefField(field)) throw new Error(`Unresolved $ref ${field.$ref}`);
  switch (field.type) {
    case 'string':
      return { kind: field.format === 'date' ? 'date' : field.format === 'date-time' ? 'timestamp' : 'string' };
    case 'integer':
    case 'number':
    case 'boolean':
      return { kind: field.type };
    case 'array':
      return { kind: 'list', items: columnType(field.items) };
    case 'object':
      return isObjectField(field) ? { kind: 'struct', fields: columnsOf(field.properties) } : { kind: 'map', value: columnType(field.additionalProperties) };
  }
}

export function columnsOf(properties: Properties): ColumnSpec[] {
  return Object.entries(properties).map(([name, field]) => ({ name, type: columnType(field) }));
}

/** Looks a dotted path (`person.name.firstName`) up through object fields only. */
export function fieldAt(properties: Properties, dottedPath: string): FieldDefinition | undefined {
  let current: FieldDefinition | undefined = { type: 'object', properties };
  for (const part of dottedPath.split('.')) {
    if (!current || !isObjectField(current)) return undefined;
    current = current.properties[part];
  }
  return current;
}
