/**
 * Record checks: the coercion table and validation that every ingestion path applies to a record before it is
 * written (`reference/adobe-reference.md` §3.1). Strings and longs become dates and date-times (ISO 8601 or
 * epoch milliseconds); booleans and arrays are never converted. Problems come back as issues with the field
 * path and a stable code (RT_FIELD_TYPE, RT_FIELD_ENUM, …), so a failed record says exactly what to fix.
 */
import type { ErrorObject } from 'ajv';
import type { ErrorCode } from '../core/errors.ts';
import { compileSchema, issueMessage, issuePath } from '../core/validation.ts';
import type { JsonRecord } from '../ports/warehouse.ts';
import type { ResolvedSchema } from '../catalog/xdm/compose.ts';
import { isMapField, isObjectField, type FieldDefinition } from '../catalog/xdm/fields.ts';

export interface RecordIssue {
  path: string;
  code: ErrorCode;
  message: string;
}

/**
 * A valid record comes back with its JSON text (`json`): the checker serialises it anyway to measure it, and
 * ingestion writes that same text to the log and to the warehouse's staging file instead of serialising again.
 */
export type CheckResult = { ok: true; record: JsonRecord; json: string } | { ok: false; issues: RecordIssue[] };

export interface RecordLimits {
  eventRecordLimitBytes: number;
  profileRecordLimitBytes: number;
}

const KEYWORD_CODES: Record<string, ErrorCode> = {
  required: 'RT_FIELD_REQUIRED',
  type: 'RT_FIELD_TYPE',
  enum: 'RT_FIELD_ENUM',
  format: 'RT_FIELD_FORMAT',
  pattern: 'RT_FIELD_PATTERN',
  minimum: 'RT_FIELD_RANGE',
  maximum: 'RT_FIELD_RANGE',
  minLength: 'RT_FIELD_LENGTH',
  maxLength: 'RT_FIELD_LENGTH',
  additionalProperties: 'RT_FIELD_UNKNOWN',
};

export function issueFromAjv(error: ErrorObject): RecordIssue {
  return { path: issuePath(error), code: KEYWORD_CODES[error.keyword] ?? 'RT_FIELD_TYPE', message: issueMessage(error) };
}

const EPOCH_MS = /^-?\d{1,16}$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const HAS_ZONE = /(Z|[+-]\d{2}:?\d{2})$/i;

const valid = (date: Date): Date | undefined => (Number.isNaN(date.getTime()) ? undefined : date);

/** ISO 8601 (a missing offset means UTC) or epoch milliseconds → a Date; undefined when neither, or out of range. */
function parseInstant(value: unknown): Date | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return valid(new Date(value));
  if (typeof value !== 'string') return undefined;
  if (EPOCH_MS.test(value)) return valid(new Date(Number(value)));
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const text = DATE_ONLY.test(value) ? `${value}T00:00:00Z` : HAS_ZONE.test(value) ? value : `${value}Z`;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A date-time already in the form `toISOString` gives, with a day and hour that cannot roll over into another. */
const CANONICAL_DATE_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

export function coerceDateTime(value: unknown): unknown {
  // Most streamed timestamps are canonical already: they would come back unchanged, so skip the Date round trip.
  if (typeof value === 'string' && CANONICAL_DATE_TIME.test(value)) return value;
  return parseInstant(value)?.toISOString() ?? value;
}

export function coerceDate(value: unknown): unknown {
  if (typeof value === 'string' && DATE_ONLY.test(value)) return value;
  return parseInstant(value)?.toISOString().slice(0, 10) ?? value;
}

type Coercer = (value: unknown) => unknown;

/** Builds a coercer for a field, or undefined when nothing under it ever needs coercion. */
function coercerFor(field: FieldDefinition): Coercer | undefined {
  if ('format' in field && field.type === 'string') {
    if (field.format === 'date-time') return coerceDateTime;
    if (field.format === 'date') return coerceDate;
    return undefined;
  }
  if (isObjectField(field)) {
    const children = Object.entries(field.properties).flatMap(([name, child]) => {
      const coerce = coercerFor(child);
      return coerce ? [[name, coerce] as const] : [];
    });
    if (children.length === 0) return undefined;
    // Copy-on-write: a record whose values are already canonical comes back as the same object, so the text
    // measured before coercion is still its text.
    return (value) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
      const source = value as Record<string, unknown>;
      let out: Record<string, unknown> | undefined;
      for (const [name, coerce] of children) {
        const before = source[name];
        if (before === undefined || before === null) continue;
        const after = coerce(before);
        if (after !== before) (out ??= { ...source })[name] = after;
      }
      return out ?? value;
    };
  }
  if (isMapField(field)) {
    const inner = coercerFor(field.additionalProperties);
    if (!inner) return undefined;
    return (value) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
      const source = value as Record<string, unknown>;
      let out: Record<string, unknown> | undefined;
      for (const key of Object.keys(source)) {
        const before = source[key];
        if (before === null) continue;
        const after = inner(before);
        if (after !== before) (out ??= { ...source })[key] = after;
      }
      return out ?? value;
    };
  }
  if ('items' in field) {
    const inner = coercerFor(field.items);
    if (!inner) return undefined;
    return (value) => {
      if (!Array.isArray(value)) return value;
      const source = value as unknown[];
      let out: unknown[] | undefined;
      for (let i = 0; i < source.length; i++) {
        const before = source[i];
        if (before === null) continue;
        const after = inner(before);
        if (after !== before) (out ??= [...source])[i] = after;
      }
      return out ?? source;
    };
  }
  return undefined;
}

/** Whether a `default` keyword appears anywhere in the schema. */
function hasDefaults(node: unknown): boolean {
  if (typeof node !== 'object' || node === null) return false;
  if (Array.isArray(node)) return node.some(hasDefaults);
  return Object.entries(node).some(([key, value]) => key === 'default' || hasDefaults(value));
}

export interface RecordChecker {
  check(raw: unknown): CheckResult;
}

export function recordChecker(schema: ResolvedSchema, limits: RecordLimits): RecordChecker {
  const coerce = coercerFor(schema) ?? ((v: unknown) => v);
  const validate = compileSchema(schema);
  const limit = schema['meta:class'] === 'experienceevent' ? limits.eventRecordLimitBytes : limits.profileRecordLimitBytes;
  const kind = schema['meta:class'] === 'experienceevent' ? 'ExperienceEvent' : 'profile';
  // The validator fills in schema defaults (Ajv `useDefaults`); only then can the record change while validated.
  const fillsDefaults = hasDefaults(schema);
  return {
    check(raw) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        return { ok: false, issues: [{ path: '', code: 'RT_RECORD_MALFORMED', message: 'a record must be a JSON object' }] };
      }
      const text = JSON.stringify(raw);
      // UTF-16 length ≤ UTF-8 bytes ≤ 3 × length: only a text near the limit needs its bytes counted.
      const bytes = text.length * 3 <= limit ? text.length : Buffer.byteLength(text);
      if (bytes > limit) {
        return { ok: false, issues: [{ path: '', code: 'RT_RECORD_TOO_LARGE', message: `is ${bytes} bytes; the ${kind} limit is ${limit}` }] };
      }
      const record = coerce(raw) as JsonRecord;
      if (!validate(record)) return { ok: false, issues: (validate.errors ?? []).map(issueFromAjv) };
      return { ok: true, record, json: record === raw && !fillsDefaults ? text : JSON.stringify(record) };
    },
  };
}
