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
  RT_JOB_KIND_UNKNOWN: { status: 400, meaning: 'A schedule names a job kind that no part of the platform provides; `details.kind` is the name.' },
  RT_DOCUMENT_CONFLICT: { status: 409, meaning: 'The object exists already, or was changed by someone else since it was read; read it again and retry.' },
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
  RT_FIELD_GROUP_IN_USE: { status: 409, meaning: 'The field group is standard or used by a schema, so it cannot be deleted.' },
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
  RT_BATCH_FILE_INVALID: { status: 400, meaning: 'An uploaded file or chunk is empty, has a bad name, or is larger than allowed.' },
  RT_BATCH_FILE_NOT_FOUND: { status: 404, meaning: 'The batch has no file with this name; a chunked upload starts with `?action=INITIALIZE`.' },
  RT_BATCH_CHUNK_OUT_OF_ORDER: { status: 409, meaning: "A chunk's Content-Range does not start where the file ends (a gap or an overlap); `details.expectedStart` says where the next one must start." },
  RT_BATCH_THRESHOLD_EXCEEDED: { status: 422, meaning: "More of the batch's rows were rejected than its failureThreshold allows; nothing was written and the failed records say why." },
  RT_BATCH_INTERRUPTED: { status: 500, meaning: 'The server stopped while the batch was processing; nothing of it was written. Upload it again as a new batch.' },
  RT_INGEST_FORMAT_UNSUPPORTED: { status: 400, meaning: 'The input format is not one of json, jsonl, csv, parquet.' },
  RT_INGEST_OVERLOADED: { status: 429, meaning: 'The ingestion queue is full; retry after the number of seconds in Retry-After.' },
  RT_STREAM_CONNECTION_NOT_FOUND: { status: 404, meaning: 'No streaming connection has this id.' },
  RT_STREAM_CONNECTION_INVALID: { status: 400, meaning: 'A streaming connection needs existing datasets (one ExperienceEvent, one profile), and for Segment the segment field groups and known identity namespaces.' },
  RT_STREAM_CONNECTION_KIND: { status: 400, meaning: 'The secret belongs to a connection of the other kind: xdm connections send to /collection, Segment connections to /v1.' },
  RT_STREAM_DATASET_NOT_ALLOWED: { status: 400, meaning: 'A collection message names a dataset (or schema) the streaming connection does not write to.' },
  RT_STREAM_UNAVAILABLE: { status: 503, meaning: 'Streaming ingestion cannot take messages now (shutting down, or its log cannot be written); retry after Retry-After.' },
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
  // Query service
  RT_QUERY_SYNTAX: { status: 400, meaning: 'The SQL could not be read (unterminated string, unbalanced parentheses, a block without END); the message gives the position.' },
  RT_QUERY_FAILED: { status: 400, meaning: "DuckDB refused the statement; the message has the engine's words and the statement." },
  RT_QUERY_PARAMETER_MISSING: { status: 400, meaning: "A `'$NAME'` placeholder has no value in the run (or the schedule)." },
  RT_QUERY_VARIABLE_UNKNOWN: { status: 400, meaning: 'A block uses `@name` before `SET @name = SELECT …` gave it a value.' },
  RT_QUERY_TIMEOUT: { status: 408, meaning: 'The query ran past its time-out (ad hoc 10 min, batch 24 h by default) and was stopped.' },
  RT_QUERY_CANCELLED: { status: 409, meaning: 'The query was cancelled by a user.' },
  RT_QUERY_NOT_FOUND: { status: 404, meaning: 'No query with this id is in the query log of the sandbox.' },
  RT_QUERY_FORBIDDEN_STATEMENT: { status: 403, meaning: 'The statement reaches outside the sandbox (files, network, extensions, settings, other databases) and is never allowed.' },
  RT_QUERY_READ_ONLY: { status: 403, meaning: 'The role may run SELECT queries only; CTAS, INSERT and DDL need the query:write permission.' },
  RT_QUERY_SNAPSHOT_EXPIRED: { status: 409, meaning: 'The start snapshot is older than the retention; `SET resolve_fallback_snapshot_on_failure=true` falls back to the earliest one.' },
  RT_QUERY_SNAPSHOT_INVALID: { status: 400, meaning: 'A SNAPSHOT clause names something other than a snapshot id, HEAD or TAIL, or a table that is not a dataset.' },
  RT_QUERY_COLUMN_NAME: { status: 400, meaning: 'A CTAS column has no usable name; give every expression an alias (letters, digits, _).' },
  RT_QUERY_UNSUPPORTED: { status: 400, meaning: 'The statement is part of the Data Distiller dialect but not supported by Roundtrip; docs/query-dialect.md lists what is.' },
  // Query templates and schedules
  RT_TEMPLATE_NOT_FOUND: { status: 404, meaning: 'No query template has this id in the sandbox.' },
  RT_TEMPLATE_IN_USE: { status: 409, meaning: 'A schedule runs this template; delete or change those schedules first (`details.schedules`).' },
  RT_SCHEDULE_NOT_FOUND: { status: 404, meaning: 'No query schedule (or schedule run) has this id in the sandbox.' },
  RT_SCHEDULE_INVALID: { status: 400, meaning: 'The schedule cannot be used: cron syntax, frequency fields, dates, output, alerts or webhook; `details.issues` names the field.' },
  RT_SCHEDULE_OUTPUT_SQL: { status: 400, meaning: 'A schedule with an output dataset needs one SELECT without INSERT INTO or CREATE TABLE AS; the schedule writes the dataset itself.' },
  RT_SCHEDULE_STATE: { status: 409, meaning: 'The schedule is not in a state that allows this (only a disabled or quarantined schedule can be deleted).' },
  RT_SCHEDULE_RUN_ACTIVE: { status: 409, meaning: 'The schedule has a run in progress (one active run at a time); wait for it to end.' },
  RT_SCHEDULE_RUN_INTERRUPTED: { status: 500, meaning: 'The run was in progress when the server stopped; it was marked failed and not retried.' },
  // Postgres wire protocol
  RT_PGWIRE_PROTOCOL: { status: 400, meaning: 'A Postgres client sent a message the wire endpoint cannot read (malformed, out of order, or a bind that does not match its statement).' },
  RT_PGWIRE_PARAMETER: { status: 400, meaning: 'A `$n` parameter value does not match the type the client declared for it (e.g. `abc` for an int8).' },
  RT_PGWIRE_UNSUPPORTED: { status: 400, meaning: 'The Postgres wire endpoint does not support this (COPY, function calls, replication, some catalog queries); docs/postgres-wire.md lists what it does.' },
  // Identity graph, profiles, merge policies, privacy
  RT_IDENTITY_NOT_FOUND: { status: 404, meaning: 'No record of an identity-enabled dataset carries this identity (namespace and value, after normalisation).' },
  RT_IDENTITY_NOT_LINKED: { status: 409, meaning: 'The two identities are not in the same identity graph, so there is no link to remove.' },
  RT_IDENTITY_UNLINK_NOT_FOUND: { status: 404, meaning: 'No removed link (unlink) has this id in the sandbox.' },
  RT_IDENTITY_SETTINGS_INVALID: { status: 400, meaning: 'A graph setting is out of range: maxIdentities 2-10000, unique namespaces that exist, a two-letter phone country.' },
  RT_PROFILE_NOT_FOUND: { status: 404, meaning: 'The identity is known but no profile-enabled dataset has a record or event of its profile.' },
  RT_MERGE_POLICY_NOT_FOUND: { status: 404, meaning: 'No merge policy has this id in the sandbox.' },
  RT_MERGE_POLICY_EXISTS: { status: 409, meaning: 'A merge policy with this name already exists in the sandbox.' },
  RT_MERGE_POLICY_LIMIT: { status: 409, meaning: 'A sandbox holds at most 5 merge policies; delete one first.' },
  RT_MERGE_POLICY_INVALID: { status: 400, meaning: 'Dataset precedence needs an ordered list of profile-enabled datasets (only that method takes one); profile lookups need a profile-class policy.' },
  RT_MERGE_POLICY_DEFAULT: { status: 409, meaning: 'The default merge policy of a class cannot be deleted or un-defaulted; make another policy the default first.' },
  RT_PRIVACY_JOB_NOT_FOUND: { status: 404, meaning: 'No privacy job has this id in the sandbox.' },
  // Synthetic data
  RT_GENERATE_OPTIONS_INVALID: { status: 400, meaning: 'An option of `roundtrip generate` is out of range (profiles, months, seed, format).' },
  // Demo (`roundtrip demo`)
  RT_DEMO_DATA_DIR_NOT_EMPTY: { status: 409, meaning: 'The demo was pointed at a non-empty folder that is not an earlier demo directory; it replaces only its own. Give another --data-dir.' },
  RT_DEMO_STEP_FAILED: { status: 500, meaning: 'A step of `roundtrip demo` failed unexpectedly; the message names the step and what to do, `details.step` names it too.' },
  // CLV engine
  RT_CLV_INPUT_INVALID: { status: 400, meaning: 'The CLV input cannot be used: a column is missing or of the wrong kind, a summary row breaks a rule (recency after age, fractional frequency), or an option is out of range.' },
  RT_CLV_FIT_FAILED: { status: 422, meaning: 'The model could not be fitted to this data (the likelihood is not finite at the optimum, or there is too little data).' },
  RT_CLV_ASSUMPTION_VIOLATED: { status: 422, meaning: "The data breaks the model's assumption, e.g. Gamma-Gamma refused because spend and frequency are correlated above the threshold; `details` has the measured value." },
  RT_CLV_MODEL_NOT_FOUND: { status: 404, meaning: 'No fitted CLV model has this id in the sandbox.' },
  // Destinations (catalog, accounts, connectors)
  RT_DESTINATION_TYPE_UNSUPPORTED: { status: 400, meaning: 'The destination type is not in the catalog, or has no connector here (smtp destinations are sent by campaigns).' },
  RT_DESTINATION_ACCOUNT_NOT_FOUND: { status: 404, meaning: 'No destination account has this id in the sandbox.' },
  RT_DESTINATION_ACCOUNT_INVALID: { status: 400, meaning: "The account's settings do not fit its type (a required field, a port, a folder, an OpenPGP public key, a pod); `details.issues` names the field." },
  RT_DESTINATION_LIMIT: { status: 409, meaning: 'A sandbox holds at most 100 destination accounts; delete one first.' },
  RT_DESTINATION_AUTH_FAILED: { status: 502, meaning: 'The destination refused the credentials (SFTP login, HTTP 401/403); fix the account and test the connection.' },
  RT_DESTINATION_UNREACHABLE: { status: 502, meaning: 'The destination did not answer, or kept answering 429/5xx, after every retry (network error, time-out); the message has the last failure.' },
  RT_DESTINATION_DELIVERY_FAILED: { status: 502, meaning: 'A file could not be written at the destination (folder missing, permission, disk full); nothing partial is visible there.' },
  RT_DESTINATION_REJECTED: { status: 502, meaning: 'The destination refused a request with a 4xx answer other than a validation error; `details` has its status and body.' },
  RT_DESTINATION_RECORD_INVALID: { status: 422, meaning: "The destination answered a validation error for a record (e.g. Eloqua's ObjectValidationError for a missing emailAddress), or a required mapping (EloquaId, emailAddress) is empty." },
  RT_DESTINATION_FIELD_LIMIT: { status: 422, meaning: 'Eloqua holds at most 250 custom contact fields (one per activated audience); it answered 400 when one more was created.' },
  RT_DESTINATION_ABORTED: { status: 409, meaning: 'The delivery was stopped before it ended; files not renamed into place are not visible, and a rerun completes them.' },
  RT_FILE_NAME_INVALID: { status: 400, meaning: 'An export file name template is longer than 255 characters, uses an unknown macro, drops the destination name or segment id, or makes a name with / or a leading dot.' },
  RT_SECRET_KEY_INVALID: { status: 500, meaning: 'The secret key (ROUNDTRIP_SECRET_KEY or <dataDir>/secret.key) is unreadable or is not the key the credentials were encrypted with.' },
  // PQL (audiences)
  RT_PQL_SYNTAX: { status: 400, meaning: 'The PQL expression cannot be read; `details` has the line, column and the text near the error.' },
  RT_PQL_UNKNOWN_FUNCTION: { status: 400, meaning: 'The PQL expression calls a function PQL does not have; the message suggests the closest name.' },
  RT_PQL_TYPE: { status: 400, meaning: 'A PQL function got the wrong number or kind of arguments (e.g. a text where a number is needed); `details` has the line and column.' },
  RT_PQL_UNSUPPORTED: { status: 400, meaning: 'The PQL construct is documented by Adobe but not supported by Roundtrip; docs/pql.md lists what is.' },
  // Audiences (segment definitions, jobs, memberships, estimates, external audiences)
  RT_SEGMENT_NOT_FOUND: { status: 404, meaning: 'No segment definition (audience) has this id in the sandbox.' },
  RT_SEGMENT_INVALID: { status: 400, meaning: 'The segment definition cannot be used: inSegment names a missing segment or makes a cycle, or an external audience was given an expression.' },
  RT_SEGMENT_NOT_ELIGIBLE: { status: 400, meaning: 'Streaming (continuous) or edge (synchronous) evaluation was asked for an expression that is not eligible; `details.reasons` says why. Use batch.' },
  RT_SEGMENT_IN_USE: { status: 409, meaning: 'Other segments read this one through inSegment; change them first (`details.segments`).' },
  RT_SEGMENT_EVALUATION_FAILED: { status: 400, meaning: "The warehouse refused the audience's compiled SQL (e.g. a field no dataset has); the message has the engine's words." },
  RT_SEGMENT_JOB_NOT_FOUND: { status: 404, meaning: 'No segment job has this id in the sandbox.' },
  RT_SEGMENT_PREVIEW_NOT_FOUND: { status: 404, meaning: 'No preview or estimate has this id in the sandbox (they are kept for a day).' },
  RT_AUDIENCE_UPLOAD_INVALID: { status: 400, meaning: 'An external audience upload has no values, an unknown identity namespace, or names a column the CSV does not have.' },
  // Segment builder (rule model ⇄ PQL)
  RT_SEGMENT_RULE_INVALID: { status: 400, meaning: 'The rule-builder tree has a mistake the schema cannot see (an operator without its value, between with min above max, Ignore year where not allowed); `details.issues` lists each with its code and path.' },
  // Insights (accelerated store, data models, accelerated queries)
  RT_INSIGHTS_PII_COLUMN: { status: 400, meaning: 'A table of the accelerated store would hold an identity or personal (PII) column; the store keeps aggregates only (`details.columns` names them).' },
  RT_INSIGHTS_QUERY_INVALID: { status: 400, meaning: 'An accelerated query needs exactly one of `sql` and `templateId`, and may read only tables of the accelerated store.' },
  RT_INSIGHTS_MODEL_NOT_FOUND: { status: 404, meaning: 'No data model (or table of it) has this name in the sandbox; list them with GET /insights/models.' },
  RT_INSIGHTS_REFRESH_FAILED: { status: 500, meaning: 'A model refresh failed and was rolled back; the previous model stays readable (the run record has the cause).' },
  RT_INSIGHTS_REFRESH_PARAMS: { status: 400, meaning: 'The parameters of an `insights.refresh` job are invalid (model name, `full` boolean, `processDate` YYYY-MM-DD).' },
  // Dashboards and widgets
  RT_DASHBOARD_NOT_FOUND: { status: 404, meaning: 'No dashboard has this id in the sandbox.' },
  RT_DASHBOARD_WIDGET_NOT_FOUND: { status: 404, meaning: 'The dashboard has no widget with this id.' },
  RT_DASHBOARD_WIDGET_LIMIT: { status: 409, meaning: 'A dashboard holds at most 10 widgets (configurable: ROUNDTRIP_DASHBOARD_MAX_WIDGETS); delete one first.' },
  RT_DASHBOARD_LAYOUT_INVALID: { status: 400, meaning: 'A widget leaves the 12-column grid or overlaps another widget; `details` names the widgets and their positions.' },
  RT_DASHBOARD_WIDGET_INVALID: { status: 400, meaning: 'The widget cannot be built: mode does not match the dashboard, unknown table or attribute, no foreign-key path to a table, an aggregation that does not fit the type, or an encoding naming a missing column.' },
  RT_DASHBOARD_FILTER_INVALID: { status: 400, meaning: 'A global filter is unknown to the dashboard, its query does not return `id` and `value` columns, or chosen values are not a JSON object of arrays.' },
  // Activation dataflows
  RT_DATAFLOW_NOT_FOUND: { status: 404, meaning: 'No activation dataflow has this id in the sandbox.' },
  RT_DATAFLOW_INVALID: { status: 400, meaning: 'The dataflow cannot be set up as given (unknown segment, a schedule the destination type does not take, duplicate target names, more than one identity namespace, mixed deduplication keys, a non-scalar attribute); `details.issues` names the field.' },
  RT_DATAFLOW_ACCOUNT_IN_USE: { status: 409, meaning: 'The destination account is used by activation dataflows (`details.dataflows`); delete or repoint them first.' },
  RT_ACTIVATION_POLICY_VIOLATION: { status: 422, meaning: "A field's data usage labels forbid one of the destination's marketing actions; `details.violations` explains each (field, label, action). Remove the field or use another destination." },
  RT_ACTIVATION_RUN_NOT_FOUND: { status: 404, meaning: 'The dataflow has no run with this id.' },
  RT_ACTIVATION_RUN_FAILED: { status: 502, meaning: 'A scheduled activation run did not complete for every audience; the run history has each failure with its own code, and the scheduler retries the slot.' },
  // Campaigns (send, tracking, post-campaign analysis)
  RT_CAMPAIGN_NOT_FOUND: { status: 404, meaning: 'No campaign has this id in the sandbox.' },
  RT_CAMPAIGN_INVALID: { status: 400, meaning: 'The campaign (template, links, settings) or a response import is not valid; the message names what.' },
  RT_CAMPAIGN_STATE: { status: 409, meaning: 'The campaign is sending (or sent) and cannot be changed or sent again now.' },
  RT_CAMPAIGN_SEND_FAILED: { status: 502, meaning: 'The SMTP server could not be used (connection, TLS, authentication); what was sent is recorded, and sending again resumes with the rest.' },
  RT_TRACKING_TOKEN_INVALID: { status: 404, meaning: 'A tracking or unsubscribe link is not valid (tampered, unknown or for a deleted campaign).' },
  // Backup and restore of a sandbox
  RT_BACKUP_NOT_FOUND: { status: 404, meaning: 'No backup file of this name is in the data directory (`<dataDir>/backups`).' },
  RT_BACKUP_CORRUPT: { status: 422, meaning: 'The file is not a Roundtrip backup, or is truncated or damaged (gzip, tar or manifest check failed); take the backup again or use another copy.' },
  RT_BACKUP_CHECKSUM_MISMATCH: { status: 422, meaning: 'A part of the backup does not match the SHA-256 (or size) its manifest records: the file was altered; nothing was restored.' },
  RT_BACKUP_INCOMPATIBLE: { status: 422, meaning: 'The backup was written by a newer Roundtrip (format version, metadata table or column unknown here); upgrade before restoring.' },
  RT_BACKUP_UPLOAD_INVALID: { status: 400, meaning: 'A backup upload chunk is out of order or does not carry the bytes its `Content-Range` announces; `details.expectedStart` says where to resume.' },
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
