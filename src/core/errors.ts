/**
 * Errors: the one error type a user can meet, with stable codes.
 *
 * Every code has an HTTP status and a one-line meaning; `docs/errors.md` lists each of them (a test keeps the
 * two in step). Expected failures are thrown as `RoundtripError` and turned into a JSON body
 * `{ error: { code, message, details } }` at the edge; anything else becomes `RT_INTERNAL` with no stack trace.
 */

export const ERROR_CODES = {
  // Requests
  RT_REQUEST_INVALID: { status: 400, meaning: 'The request body, path or query does not match the documented schema.' },
  RT_REQUEST_MALFORMED_JSON: { status: 400, meaning: 'The request body is not valid JSON.' },
  RT_REQUEST_TOO_LARGE: { status: 413, meaning: 'The request body is larger than the server accepts.' },
  RT_UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'The request body has a content type the endpoint does not take.' },
  RT_ROUTE_NOT_FOUND: { status: 404, meaning: 'No endpoint has this method and path.' },
  RT_INTERNAL: { status: 500, meaning: 'An unexpected failure; the server log has the details under the request id.' },
  // Access
  RT_AUTH_MISSING: { status: 401, meaning: 'The request has no `Authorization: Bearer <key>` header.' },
  RT_AUTH_INVALID: { status: 401, meaning: 'The API key is unknown, malformed or revoked.' },
  RT_FORBIDDEN_ROLE: { status: 403, meaning: "The key's role does not allow this action." },
  RT_FORBIDDEN_SANDBOX: { status: 403, meaning: 'The key is not valid for the sandbox named in `x-sandbox-name`.' },
  RT_API_KEY_NOT_FOUND: { status: 404, meaning: 'No API key has this id.' },
  RT_ROLE_UNKNOWN: { status: 400, meaning: 'The role is not one of admin, data-engineer, analyst, marketer, viewer.' },
  // Data directory and configuration
  RT_CONFIG_INVALID: { status: 500, meaning: 'A configuration value (file, environment or flag) is invalid.' },
  RT_DATA_DIR_NOT_INITIALISED: { status: 500, meaning: 'The data directory has not been created; run `roundtrip init`.' },
  RT_DATA_DIR_EXISTS: { status: 409, meaning: '`roundtrip init` found an initialised data directory and left it unchanged.' },
  RT_DATA_DIR_LOCKED: { status: 409, meaning: 'Another process owns the data directory; talk to it through its server.' },
  RT_SERVER_UNREACHABLE: { status: 503, meaning: 'The server that owns the data directory did not answer.' },
  // Sandboxes
  RT_SANDBOX_NOT_FOUND: { status: 404, meaning: 'No sandbox has this name.' },
  RT_SANDBOX_EXISTS: { status: 409, meaning: 'A sandbox with this name already exists.' },
  RT_SANDBOX_PROTECTED: { status: 409, meaning: 'The production sandbox `prod` can be reset but not deleted.' },
  RT_SANDBOX_NAME_INVALID: { status: 400, meaning: 'Sandbox names are 1-32 characters of a-z, 0-9 and -, starting with a letter.' },
  // Schema registry
  RT_SCHEMA_NOT_FOUND: { status: 404, meaning: 'No schema has this id in the sandbox.' },
  RT_SCHEMA_INVALID: { status: 400, meaning: 'The schema definition is not valid; `details` names the field path.' },
  RT_SCHEMA_FIELD_CONFLICT: { status: 400, meaning: 'Two field groups (or a field group and the class) define one field with different types.' },
  RT_SCHEMA_INCOMPATIBLE_CHANGE: { status: 409, meaning: 'A schema version may only add optional fields and identities; `details` lists what else changed.' },
  RT_SCHEMA_IDENTITY_INVALID: { status: 400, meaning: 'An identity descriptor points to a missing or non-scalar field, an unknown namespace, or a second primary.' },
  RT_FIELD_GROUP_NOT_FOUND: { status: 404, meaning: 'No field group has this id in the sandbox.' },
  RT_FIELD_GROUP_EXISTS: { status: 409, meaning: 'A field group with this id already exists.' },
  RT_FIELD_GROUP_CLASS_MISMATCH: { status: 400, meaning: 'The field group is made for another class.' },
  RT_DATA_TYPE_NOT_FOUND: { status: 404, meaning: 'A `$ref` names a data type that does not exist in the sandbox.' },
  RT_DATA_TYPE_EXISTS: { status: 409, meaning: 'A data type with this id already exists.' },
  RT_NAMESPACE_NOT_FOUND: { status: 404, meaning: 'No identity namespace has this code.' },
  RT_NAMESPACE_EXISTS: { status: 409, meaning: 'An identity namespace with this code already exists (standard or custom).' },
  RT_NAMESPACE_IMMUTABLE: { status: 409, meaning: "A namespace's code and identity type never change; standard namespaces never change." },
  // Datasets
  RT_DATASET_NOT_FOUND: { status: 404, meaning: 'No dataset has this id or name in the sandbox.' },
  RT_DATASET_EXISTS: { status: 409, meaning: 'A dataset with this name (or table name) already exists in the sandbox.' },
  RT_DATASET_PROFILE_NEEDS_IDENTITY: { status: 400, meaning: 'A profile-enabled dataset needs a schema with a primary identity (or identityMap).' },
  RT_DATASET_UPSERT_NEEDS_PROFILE: { status: 400, meaning: 'Upsert is only available on profile-enabled datasets of the Individual Profile class.' },
  RT_RECORD_INVALID: { status: 400, meaning: "A record does not match its dataset's schema; `details` names the field path." },
  RT_WAREHOUSE_FAILED: { status: 500, meaning: 'The warehouse refused a statement; the message has its words.' },
  // Ingestion: batches, streaming, failed records
  RT_BATCH_NOT_FOUND: { status: 404, meaning: 'No batch has this id in the sandbox.' },
  RT_BATCH_STATE: { status: 409, meaning: 'The batch is not in a state that allows this (files are only added while it is loading).' },
  RT_BATCH_FILE_INVALID: { status: 400, meaning: 'An uploaded file or chunk is empty, out of order, or larger than allowed.' },
  RT_INGEST_FORMAT_UNSUPPORTED: { status: 400, meaning: 'The input format is not one of json, jsonl, csv, parquet.' },
  RT_INGEST_OVERLOADED: { status: 429, meaning: 'The ingestion queue is full; retry after the number of seconds in Retry-After.' },
  RT_STREAM_CONNECTION_NOT_FOUND: { status: 404, meaning: 'No streaming connection has this id.' },
  RT_RECORD_TOO_LARGE: { status: 413, meaning: 'A record is larger than the limit of its class (ExperienceEvent 10 KB, profile 100 KB by default).' },
  RT_RECORD_MALFORMED: { status: 400, meaning: 'A row could not be parsed (bad JSON line, broken CSV row).' },
  RT_FIELD_REQUIRED: { status: 400, meaning: 'A required field is missing.' },
  RT_FIELD_TYPE: { status: 400, meaning: 'A field has the wrong type and no coercion rule applies (booleans and arrays are never converted).' },
  RT_FIELD_ENUM: { status: 400, meaning: 'A field holds a value outside its enum.' },
  RT_FIELD_FORMAT: { status: 400, meaning: 'A field does not match its format (date, date-time as ISO 8601 or epoch ms, email, uri, uuid).' },
  RT_FIELD_PATTERN: { status: 400, meaning: 'A string field does not match its pattern.' },
  RT_FIELD_RANGE: { status: 400, meaning: 'A number is outside its minimum/maximum.' },
  RT_FIELD_LENGTH: { status: 400, meaning: 'A string is shorter or longer than allowed.' },
  RT_FIELD_UNKNOWN: { status: 400, meaning: 'A record has a field its schema does not define.' },
  // Synthetic data
  RT_GENERATE_OPTIONS_INVALID: { status: 400, meaning: 'An option of `roundtrip generate` is out of range (profiles, months, seed, format).' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One bad field, named by a JSON-pointer-like dotted path. */
export interface FieldIssue {
  path: string;
  message: string;
}

export class RoundtripError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'RoundtripError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isRoundtripError(value: unknown): value is RoundtripError {
  return value instanceof RoundtripError;
}

/** Throws `RT_…` when `condition` is false; keeps guard clauses one line long. */
export function ensure(condition: unknown, code: ErrorCode, message: string, details?: unknown): asserts condition {
  if (!condition) throw new RoundtripError(code, message, details);
}
