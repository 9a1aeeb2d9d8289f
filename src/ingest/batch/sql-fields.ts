/**
 * Record checks as DuckDB SQL: the bulk twin of `../record-checks.ts` (same coercion table, same issue codes,
 * paths and messages), compiled from a schema's field definitions into SQL expressions so that CSV and Parquet
 * files are validated and converted inside the engine, never row by row in JS.
 *
 * A source value has a kind: `text` (a CSV cell: the literal spelling of any type), a typed Parquet scalar
 * (`string`, `integer`, `number`, `boolean`, `timestamp`, `date`), or `json` (a JSON value of any type: a CSV
 * cell holding an array or object, or a nested Parquet value through `to_json`); `timestamp` means TIMESTAMPTZ.
 * Each field compiles to its value in the column's DuckDB type and to the checks it must pass; an issue is a
 * `STRUCT(path, code, message)`, the shape `_rt_failed_records.issues` stores.
 *
 * Coercion (reference §3.1): strings and longs become dates and date-times (ISO 8601, a missing offset meaning
 * UTC, or epoch milliseconds); booleans and arrays are never converted; nothing else is converted either.
 */
import { quoteIdent, quoteLiteral, toDuckDBType } from '../../adapters/duckdb/duckdb-types.ts';
import type { ErrorCode } from '../../core/errors.ts';
import { columnType, isMapField, isObjectField, type FieldDefinition } from '../../catalog/xdm/fields.ts';

/** A SQL expression. */
export type Sql = string;

export type ScalarKind = 'text' | 'string' | 'integer' | 'number' | 'boolean' | 'timestamp' | 'date';
export type SourceKind = ScalarKind | 'json';

export const ISSUE_TYPE = 'STRUCT(path VARCHAR, code VARCHAR, message VARCHAR)';
export const NO_ISSUES: Sql = `[]::${ISSUE_TYPE}[]`;

export const lit = quoteLiteral;

/** A problem found when `when` holds (a boolean that is never NULL). */
export interface Check {
  when: Sql;
  issue: Sql;
}

/** A code only known per row (e.g. format or type, by the JSON type of the value). */
export interface CodeExpression {
  sql: Sql;
}

export function issue(path: Sql, code: ErrorCode | CodeExpression, message: Sql): Sql {
  const codeSql = typeof code === 'string' ? lit(code) : code.sql;
  return `{'path': ${path}, 'code': ${codeSql}, 'message': ${message}}::${ISSUE_TYPE}`;
}

/** The issues of the checks that hold, in order, as a list. */
export function issueList(checks: readonly Check[]): Sql {
  if (checks.length === 0) return NO_ISSUES;
  return `list_filter([${checks.map((c) => `CASE WHEN ${c.when} THEN ${c.issue} END`).join(', ')}], x -> x IS NOT NULL)`;
}

export function anyOf(conditions: readonly Sql[]): Sql {
  return conditions.length ? conditions.map((c) => `(${c})`).join(' OR ') : 'false';
}

export const typeOf = (field: FieldDefinition): Sql => toDuckDBType(columnType(field));

// ---------------------------------------------------------------------------------------------------------
// Scalars: conversion into the column type

export type ScalarField = Extract<FieldDefinition, { type: 'string' | 'integer' | 'number' | 'boolean' }>;
type Target = 'string' | 'integer' | 'number' | 'boolean' | 'date' | 'date-time';

function targetOf(field: ScalarField): Target {
  if (field.type === 'string' && (field.format === 'date' || field.format === 'date-time')) return field.format;
  return field.type;
}

/** What Ajv says when the JSON type is wrong: dates are strings in JSON. */
function typeMessage(target: Target): string {
  return `must be ${target === 'date' || target === 'date-time' ? 'string' : target}`;
}

// JSON's number grammar: the text spellings CSV cells may use for numbers (DuckDB's casts alone accept more,
// such as ' 12', '1_000', '0x1F' or 'inf').
const JSON_INTEGER = `'-?(0|[1-9][0-9]*)'`;
const JSON_NUMBER = `'-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?'`;
const EPOCH_MS = `'-?[0-9]{1,16}'`;
const DATE_ONLY = `'[0-9]{4}-[0-9]{2}-[0-9]{2}'`;
const HAS_ZONE = `'([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$'`;
/** The range of a JS Date, which the JSON path can represent. */
const MAX_EPOCH_MS = 8_640_000_000_000_000;

/** Epoch milliseconds (BIGINT) → TIMESTAMPTZ, NULL outside the range a JS Date can hold. */
const fromEpochMs = (ms: Sql): Sql => `CASE WHEN abs(${ms}) <= ${MAX_EPOCH_MS} THEN make_timestamptz((${ms}) * 1000) END`;
const integral = (x: Sql): Sql => `CASE WHEN isfinite(${x}) AND (${x}) = trunc(${x}) AND abs(${x}) < 9.2e18 THEN CAST(${x} AS BIGINT) END`;

/**
 * ISO 8601 text (a missing offset means UTC, a date alone means midnight UTC) or epoch milliseconds as text →
 * TIMESTAMPTZ, NULL when it is neither. The fallback spells forms DuckDB's cast does not read (a lower-case
 * `z`, no seconds) the way JS `Date` reads them.
 */
export function dateTimeFromText(s: Sql): Sql {
  // The common spelling (full ISO 8601 in UTC, as exports write it) skips the regular expressions below.
  const fast = `CASE WHEN ${s} LIKE '____-__-__T__:__:__%Z' THEN TRY_CAST(${s} AS TIMESTAMPTZ) END`;
  const zoned = `CASE WHEN regexp_matches(${s}, ${HAS_ZONE}) THEN ${s} ELSE ${s} || 'Z' END`;
  const respelled = `regexp_replace(upper(${zoned}), '^([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2})(Z|[+-])', '\\1:00\\2')`;
  const general = `CASE WHEN regexp_full_match(${s}, ${EPOCH_MS}) THEN ${fromEpochMs(`CAST(${s} AS BIGINT)`)}
    WHEN regexp_full_match(${s}, ${DATE_ONLY}) THEN TRY_CAST(${s} || 'T00:00:00Z' AS TIMESTAMPTZ)
    WHEN regexp_matches(${s}, '^[0-9]{4}-[0-9]{2}-[0-9]{2}') THEN coalesce(TRY_CAST(${zoned} AS TIMESTAMPTZ), TRY_CAST(${respelled} AS TIMESTAMPTZ)) END`;
  return `coalesce(${fast}, ${general})`;
}

/** The UTC calendar date of an instant. */
const utcDate = (instant: Sql): Sql => `CAST(timezone('UTC', ${instant}) AS DATE)`;

export function dateFromText(s: Sql): Sql {
  return `CASE WHEN regexp_full_match(${s}, ${DATE_ONLY}) THEN TRY_CAST(${s} AS DATE) ELSE ${utcDate(dateTimeFromText(s))} END`;
}

/** `timestamp` sources are TIMESTAMPTZ already (a reader turns naive Parquet timestamps into UTC instants); a date is midnight UTC. */
const instantOf = (x: Sql, kind: 'timestamp' | 'date'): Sql => (kind === 'date' ? `timezone('UTC', CAST(${x} AS TIMESTAMP))` : x);

interface Conversion {
  value: Sql;
  /** The code when the value comes out NULL from a non-null source. */
  failure: ErrorCode;
}

/** How a source kind becomes the target type; undefined when it never does (a type error). */
function convert(x: Sql, kind: ScalarKind, target: Target): Conversion | undefined {
  const type: ErrorCode = 'RT_FIELD_TYPE';
  const format: ErrorCode = 'RT_FIELD_FORMAT';
  switch (target) {
    case 'string':
      return kind === 'text' || kind === 'string' ? { value: x, failure: type } : undefined;
    case 'integer':
      if (kind === 'text') {
        return {
          value: `CASE WHEN regexp_full_match(${x}, ${JSON_INTEGER}) THEN TRY_CAST(${x} AS BIGINT) WHEN regexp_full_match(${x}, ${JSON_NUMBER}) THEN ${integral(`TRY_CAST(${x} AS DOUBLE)`)} END`,
          failure: type,
        };
      }
      if (kind === 'integer') return { value: `TRY_CAST(${x} AS BIGINT)`, failure: type };
      return kind === 'number' ? { value: integral(x), failure: type } : undefined;
    case 'number':
      if (kind === 'text') return { value: `CASE WHEN regexp_full_match(${x}, ${JSON_NUMBER}) THEN TRY_CAST(${x} AS DOUBLE) END`, failure: type };
      return kind === 'integer' || kind === 'number' ? { value: `CAST(${x} AS DOUBLE)`, failure: type } : undefined;
    case 'boolean':
      if (kind === 'text') return { value: `CASE ${x} WHEN 'true' THEN true WHEN 'false' THEN false END`, failure: type };
      return kind === 'boolean' ? { value: x, failure: type } : undefined;
    case 'date-time':
      if (kind === 'text' || kind === 'string') return { value: dateTimeFromText(x), failure: format };
      if (kind === 'integer') return { value: fromEpochMs(`TRY_CAST(${x} AS BIGINT)`), failure: format };
      if (kind === 'number') return { value: fromEpochMs(integral(x)), failure: type };
      return kind === 'timestamp' || kind === 'date' ? { value: instantOf(x, kind), failure: format } : undefined;
    case 'date':
      if (kind === 'text' || kind === 'string') return { value: dateFromText(x), failure: format };
      if (kind === 'integer') return { value: utcDate(fromEpochMs(`TRY_CAST(${x} AS BIGINT)`)), failure: format };
      if (kind === 'number') return { value: utcDate(fromEpochMs(integral(x))), failure: type };
      if (kind === 'timestamp') return { value: utcDate(instantOf(x, kind)), failure: format };
      return kind === 'date' ? { value: `CAST(${x} AS DATE)`, failure: format } : undefined;
  }
}

// Ajv-formats (full mode) spells email and uuid this way; uri is looser here (scheme, colon, no spaces).
const FORMAT_PATTERNS: Record<string, string> = {
  email: "(?i)^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
  uuid: '(?i)^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$',
  uri: '(?i)^[a-z][a-z0-9+.-]*:[^\\s]*$',
};

/** Enum, length, pattern, format and range checks on a converted, non-null value. */
function constraintChecks(v: Sql, field: ScalarField, path: Sql): Check[] {
  const checks: Check[] = [];
  const add = (when: Sql, code: ErrorCode, message: string): void => {
    checks.push({ when: `coalesce(${when}, false)`, issue: issue(path, code, lit(message)) });
  };
  if (field.type === 'string') {
    if (field.enum) add(`${v} NOT IN (${field.enum.map(lit).join(', ')})`, 'RT_FIELD_ENUM', 'must be equal to one of the allowed values');
    if (field.minLength !== undefined) add(`length(${v}) < ${field.minLength}`, 'RT_FIELD_LENGTH', `must NOT have fewer than ${field.minLength} characters`);
    if (field.maxLength !== undefined) add(`length(${v}) > ${field.maxLength}`, 'RT_FIELD_LENGTH', `must NOT have more than ${field.maxLength} characters`);
    if (field.pattern !== undefined) add(`NOT regexp_matches(${v}, ${lit(field.pattern)})`, 'RT_FIELD_PATTERN', `must match pattern "${field.pattern}"`);
    const pattern = field.format ? FORMAT_PATTERNS[field.format] : undefined;
    if (pattern) add(`NOT regexp_matches(${v}, ${lit(pattern)})`, 'RT_FIELD_FORMAT', `must match format "${field.format}"`);
  }
  if (field.type === 'integer' || field.type === 'number') {
    if (field.minimum !== undefined) add(`${v} < ${field.minimum}`, 'RT_FIELD_RANGE', `must be >= ${field.minimum}`);
    if (field.maximum !== undefined) add(`${v} > ${field.maximum}`, 'RT_FIELD_RANGE', `must be <= ${field.maximum}`);
  }
  return checks;
}

export interface ScalarPlan {
  /** The value in the column's type; NULL when the source is NULL or does not convert. */
  value: Sql;
  checks: Check[];
}

/** A scalar field read from a source of a known kind. */
/**
 * A scalar field read from a source of a known kind. `bind` may replace the converted value by a reference
 * to it (a stage column computed once), which the checks and the value then use.
 */
export function scalarPlan(x: Sql, kind: ScalarKind, field: ScalarField, path: Sql, bind: (value: Sql) => Sql = (v) => v): ScalarPlan {
  const target = targetOf(field);
  const conversion = convert(x, kind, target);
  if (!conversion) {
    return { value: `NULL::${typeOf(field)}`, checks: [{ when: `${x} IS NOT NULL`, issue: issue(path, 'RT_FIELD_TYPE', lit(typeMessage(target))) }] };
  }
  // Text read as text never fails to convert.
  if (conversion.value === x) return { value: x, checks: constraintChecks(x, field, path) };
  const value = bind(conversion.value);
  const message = conversion.failure === 'RT_FIELD_FORMAT' ? `must match format "${target}"` : typeMessage(target);
  return {
    value,
    checks: [{ when: `(${x} IS NOT NULL AND ${value} IS NULL)`, issue: issue(path, conversion.failure, lit(message)) }, ...constraintChecks(value, field, path)],
  };
}

// ---------------------------------------------------------------------------------------------------------
// JSON values: any field, recursively (objects, maps, arrays), with paths built at run time

/** JSON type (as `json_type` names it) → the scalar kind and expression it is read as. */
const JSON_KINDS: [jsonTypes: string[], kind: ScalarKind, read: (j: Sql) => Sql][] = [
  [['VARCHAR'], 'string', (j) => `(${j} ->> '$')`],
  [['BIGINT', 'UBIGINT'], 'integer', (j) => `TRY_CAST(${j} AS BIGINT)`],
  [['DOUBLE'], 'number', (j) => `TRY_CAST(${j} AS DOUBLE)`],
  [['BOOLEAN'], 'boolean', (j) => `TRY_CAST(${j} AS BOOLEAN)`],
];

export interface JsonPlan {
  value: Sql;
  /** A list of issues (empty when the value is valid); the value is absent-safe: a NULL source gives no issues. */
  issues: Sql;
}

export interface JsonOptions {
  /** Parquet spells "absent" as NULL; in JSON text a null is a value of the wrong type, as the JSON path says. */
  nullIsAbsent: boolean;
}

function jsonScalar(j: Sql, field: ScalarField, path: Sql): JsonPlan {
  const target = targetOf(field);
  const branches = JSON_KINDS.flatMap(([types, kind, read]) => {
    const conversion = convert(read(j), kind, target);
    return conversion ? [{ types, conversion }] : [];
  });
  const inTypes = (types: string[]): Sql => `json_type(${j}) IN (${types.map(lit).join(', ')})`;
  const value = branches.length ? `CASE ${branches.map((b) => `WHEN ${inTypes(b.types)} THEN ${b.conversion.value}`).join(' ')} END` : `NULL::${typeOf(field)}`;
  const formatTypes = branches.filter((b) => b.conversion.failure === 'RT_FIELD_FORMAT').flatMap((b) => b.types);
  const failure: ErrorCode | CodeExpression = formatTypes.length ? { sql: `CASE WHEN ${inTypes(formatTypes)} THEN 'RT_FIELD_FORMAT' ELSE 'RT_FIELD_TYPE' END` } : 'RT_FIELD_TYPE';
  const message = formatTypes.length
    ? `CASE WHEN ${inTypes(formatTypes)} THEN ${lit(`must match format "${target}"`)} ELSE ${lit(typeMessage(target))} END`
    : lit(typeMessage(target));
  const checks: Check[] = [{ when: `(${value}) IS NULL`, issue: issue(path, failure, message) }, ...constraintChecks(`(${value})`, field, path)];
  return { value, issues: issueList(checks) };
}

const depthVar = (name: string, depth: number): string => `${name}${depth}`;

/** What Ajv says when a value of this field has the wrong JSON type. */
export function expected(field: FieldDefinition): string {
  if (isObjectField(field) || isMapField(field)) return 'must be object';
  if ('type' in field && field.type === 'array') return 'must be array';
  return typeMessage(targetOf(field as ScalarField));
}

/** An element of a JSON array or map: a JSON null comes out of the cast as SQL NULL, and is a wrong type. */
function jsonElement(e: Sql, field: FieldDefinition, path: Sql, depth: number, options: JsonOptions): JsonPlan {
  const inner = jsonPlan(e, field, path, depth, options);
  return { value: inner.value, issues: `CASE WHEN ${e} IS NULL THEN [${issue(path, 'RT_FIELD_TYPE', lit(expected(field)))}] ELSE ${inner.issues} END` };
}

function jsonObject(j: Sql, field: Extract<FieldDefinition, { properties: object }>, path: Sql, depth: number, options: JsonOptions): JsonPlan {
  const k = depthVar('k', depth);
  const names = Object.keys(field.properties);
  const unknownKeys = names.length ? `list_filter(json_keys(${j}), ${k} -> ${k} NOT IN (${names.map(lit).join(', ')}))` : `json_keys(${j})`;
  const unknown = `list_transform(${unknownKeys}, ${k} -> ${issue(`${path} || '.' || ${k}`, 'RT_FIELD_UNKNOWN', lit('is not a known field'))})`;
  const required = new Set(field.required ?? []);
  const lists: Sql[] = [unknown];
  const members: string[] = [];
  for (const [name, child] of Object.entries(field.properties)) {
    const at = lit(`$."${name}"`);
    const present = options.nullIsAbsent ? `coalesce(json_type(${j}, ${at}) <> 'NULL', false)` : `json_exists(${j}, ${at})`;
    const childPath = `${path} || ${lit(`.${name}`)}`;
    const plan = jsonPlan(`json_extract(${j}, ${at})`, child, childPath, depth + 1, options);
    if (required.has(name)) lists.push(`CASE WHEN NOT ${present} THEN [${issue(childPath, 'RT_FIELD_REQUIRED', lit('is required'))}] ELSE ${NO_ISSUES} END`);
    lists.push(`CASE WHEN ${present} THEN ${plan.issues} ELSE ${NO_ISSUES} END`);
    members.push(`${quoteIdent(name)} := CASE WHEN ${present} THEN ${plan.value} END`);
  }
  return {
    value: `CASE WHEN json_type(${j}) = 'OBJECT' THEN CAST(struct_pack(${members.join(', ')}) AS ${typeOf(field)}) END`,
    issues: `CASE WHEN json_type(${j}) <> 'OBJECT' THEN [${issue(path, 'RT_FIELD_TYPE', lit('must be object'))}] ELSE flatten([${lists.join(', ')}]) END`,
  };
}

/**
 * A JSON value against any field. The path is a SQL string expression (array indexes and map keys are only
 * known at run time), spelled as Ajv spells it: `a.b[0].c`, map keys as `.key`.
 */
export function jsonPlan(j: Sql, field: FieldDefinition, path: Sql, depth = 0, options: JsonOptions = { nullIsAbsent: false }): JsonPlan {
  let plan: JsonPlan;
  if (isObjectField(field)) plan = jsonObject(j, field, path, depth, options);
  else if (isMapField(field)) {
    const e = depthVar('e', depth);
    const entries = `map_entries(TRY_CAST(${j} AS MAP(VARCHAR, JSON)))`;
    const element = jsonElement(`${e}.value`, field.additionalProperties, `${path} || '.' || ${e}.key`, depth + 1, options);
    plan = {
      value: `CASE WHEN json_type(${j}) = 'OBJECT' THEN map_from_entries(list_transform(${entries}, ${e} -> {'key': ${e}.key, 'value': ${element.value}})) END`,
      issues: `CASE WHEN json_type(${j}) <> 'OBJECT' THEN [${issue(path, 'RT_FIELD_TYPE', lit('must be object'))}] ELSE flatten(list_transform(${entries}, ${e} -> ${element.issues})) END`,
    };
  } else if ('type' in field && field.type === 'array') {
    const e = depthVar('e', depth);
    const i = depthVar('i', depth);
    const items = `TRY_CAST(${j} AS JSON[])`;
    const element = jsonElement(e, field.items, `${path} || '[' || (${i} - 1) || ']'`, depth + 1, options);
    plan = {
      value: `CASE WHEN json_type(${j}) = 'ARRAY' THEN list_transform(${items}, ${e} -> ${element.value}) END`,
      issues: `CASE WHEN json_type(${j}) <> 'ARRAY' THEN [${issue(path, 'RT_FIELD_TYPE', lit('must be array'))}] ELSE flatten(list_transform(${items}, (${e}, ${i}) -> ${element.issues})) END`,
    };
  } else if ('type' in field) plan = jsonScalar(j, field, path);
  else throw new Error('Unresolved $ref in a resolved schema');
  return { value: plan.value, issues: depth === 0 ? `CASE WHEN ${j} IS NULL THEN ${NO_ISSUES} ELSE ${plan.issues} END` : plan.issues };
}
