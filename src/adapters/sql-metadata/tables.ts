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
  'streaming_connections',
] as const satisfies readonly (keyof MetadataTables)[];
