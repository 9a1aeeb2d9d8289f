/**
 * Table shapes of the SQL metadata store, as Kysely sees them. Shared by SQLite and PostgreSQL, so they use
 * only types both agree on: TEXT for strings, JSON (as text) and ISO timestamps, INTEGER for numbers and flags.
 */
import type { Generated } from 'kysely';

export interface MetadataTables {
  sandboxes: { name: string; title: string; type: string; created_at: string };
  api_keys: {
    id: string;
    name: string;
    role: string;
    sandboxes: string;
    secret_hash: string;
    created_at: string;
    created_by: string;
    revoked_at: string | null;
    last_used_at: string | null;
  };
  audit_log: {
    id: Generated<number>;
    at: string;
    actor: string;
    sandbox: string | null;
    action: string;
    resource_type: string;
    resource_id: string;
    details: string;
  };
  namespaces: { sandbox: string; code: string; name: string; id_type: string; description: string; created_at: string };
  field_groups: { sandbox: string; id: string; title: string; description: string; class_id: string; definition: string; created_at: string };
  data_types: { sandbox: string; id: string; title: string; description: string; definition: string; created_at: string };
  schema_versions: {
    sandbox: string;
    schema_id: string;
    version: number;
    title: string;
    description: string;
    class_id: string;
    definition: string;
    resolved: string;
    created_at: string;
  };
  datasets: {
    sandbox: string;
    id: string;
    name: string;
    table_name: string;
    schema_id: string;
    schema_version: number;
    profile_enabled: number;
    identity_enabled: number;
    upsert: number;
    created_at: string;
    last_snapshot_id: number;
  };
  dataset_snapshots: {
    sandbox: string;
    dataset_id: string;
    snapshot_id: number;
    batch_id: string;
    row_count: number;
    status: string;
    created_at: string;
    committed_at: string | null;
  };
  batches: {
    sandbox: string;
    id: string;
    dataset_id: string;
    status: string;
    input_format: string;
    options: string;
    files: string;
    rows_read: number;
    rows_written: number;
    rows_rejected: number;
    snapshot_id: number | null;
    error_code: string | null;
    error_message: string | null;
    created_by: string;
    created_at: string;
    updated_at: string;
    completed_at: string | null;
  };
  query_log: {
    sandbox: string;
    id: string;
    sql: string;
    params: string;
    actor: string;
    client: string;
    execution_class: string;
    status: string;
    row_count: number | null;
    error_code: string | null;
    error_message: string | null;
    started_at: string;
    ended_at: string | null;
    duration_ms: number | null;
  };
  streaming_connections: {
    sandbox: string;
    id: string;
    name: string;
    kind: string;
    datasets: string;
    secret_hash: string;
    created_by: string;
    created_at: string;
    revoked_at: string | null;
  };
  query_templates: {
    sandbox: string;
    id: string;
    name: string;
    sql: string;
    query_parameters: string;
    created_by: string;
    created_at: string;
    updated_by: string;
    updated_at: string;
  };
  query_schedules: {
    sandbox: string;
    id: string;
    name: string;
    description: string;
    template_id: string | null;
    sql: string | null;
    job: string | null;
    parameters: string;
    timing: string;
    start_date: string;
    end_date: string | null;
    output: string;
    alerts: string;
    quarantine_enabled: number;
    state: string;
    consecutive_failures: number;
    next_run_at: string | null;
    last_slot_at: string | null;
    active_run_id: string | null;
    created_by: string;
    created_at: string;
    updated_at: string;
  };
  merge_policies: {
    sandbox: string;
    id: string;
    name: string;
    class_id: string;
    method: string;
    dataset_order: string;
    id_stitching: string;
    is_default: number;
    snapshot_table: string;
    created_by: string;
    created_at: string;
    updated_at: string;
  };
  query_schedule_runs: {
    sandbox: string;
    id: string;
    schedule_id: string;
    trigger: string;
    slot_at: string | null;
    status: string;
    query_id: string | null;
    dataset_id: string | null;
    row_count: number | null;
    message: string | null;
    error_code: string | null;
    error_message: string | null;
    delay_alerted: number;
    created_at: string;
    started_at: string | null;
    ended_at: string | null;
  };
  clv_models: {
    sandbox: string;
    id: string;
    model: string;
    fit: string;
    source: string;
    diagnostics: string;
    created_by: string;
    created_at: string;
  };
  documents: {
    sandbox: string;
    kind: string;
    id: string;
    parent_id: string | null;
    body: string;
    version: number;
    created_at: string;
    updated_at: string;
  };
}

/** Tables whose rows belong to one sandbox (purged on reset). */
export const SANDBOX_SCOPED_TABLES = [
  'namespaces',
  'field_groups',
  'data_types',
  'schema_versions',
  'datasets',
  'dataset_snapshots',
  'batches',
  'query_log',
  'streaming_connections',
  'query_templates',
  'query_schedules',
  'query_schedule_runs',
  'merge_policies',
  'clv_models',
  'documents',
] as const satisfies readonly (keyof MetadataTables)[];
