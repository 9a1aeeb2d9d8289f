/**
 * Migrations of the SQL metadata store, written once with Kysely's schema builder so that the same steps run
 * on SQLite and PostgreSQL. Append new migrations; never edit one that has shipped.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';

export type SqlDialectName = 'sqlite' | 'postgres';

function platformCore(dialect: SqlDialectName): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('sandboxes')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('sandboxes', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('last_used_at', 'text')
        .execute();
      await db.schema
        .createTable('audit_log')
        .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('sandbox', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('resource_id', 'text', (c) => c.notNull())
        .addColumn('details', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_sandbox_at').on('audit_log').columns(['sandbox', 'at']).execute();
      await db.schema
        .createTable('namespaces')
        .addColumn('sandbox', 'text', (c) => c.notNull())
        .addColumn('code', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('id_type', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('namespaces_pk', ['sandbox', 'code'])
        .execute();
      for (const table of ['field_groups', 'data_types'] as const) {
        let builder = db.schema
          .createTable(table)
          .addColumn('sandbox', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('description', 'text', (c) => c.notNull());
        if (table === 'field_groups') builder = builder.addColumn('class_id', 'text', (c) => c.notNull());
        await builder
          .addColumn('definition', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint(`${table}_pk`, ['sandbox', 'id'])
          .execute();
      }
      await db.schema
        .createTable('schema_versions')
        .addColumn('sandbox', 'text', (c) => c.notNull())
        .addColumn('schema_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('class_id', 'text', (c) => c.notNull())
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('resolved', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('schema_versions_pk', ['sandbox', 'schema_id', 'version'])
        .execute();
      await db.schema
        .createTable('datasets')
        .addColumn('sandbox', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('table_name', 'text', (c) => c.notNull())
        .addColumn('schema_id', 'text', (c) => c.notNull())
        .addColumn('schema_version', 'integer', (c) => c.notNull())
        .addColumn('profile_enabled', 'integer', (c) => c.notNull())
        .addColumn('identity_enabled', 'integer', (c) => c.notNull())
        .addColumn('upsert', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_snapshot_id', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('datasets_pk', ['sandbox', 'id'])
        .addUniqueConstraint('datasets_name_unique', ['sandbox', 'name'])
        .addUniqueConstraint('datasets_table_unique', ['sandbox', 'table_name'])
        .execute();
      await db.schema
        .createTable('dataset_snapshots')
        .addColumn('sandbox', 'text', (c) => c.notNull())
        .addColumn('dataset_id', 'text', (c) => c.notNull())
        .addColumn('snapshot_id', 'integer', (c) => c.notNull())
        .addColumn('batch_id', 'text', (c) => c.notNull())
        .addColumn('row_count', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('committed_at', 'text')
        .addPrimaryKeyConstraint('dataset_snapshots_pk', ['sandbox', 'dataset_id', 'snapshot_id'])
        .execute();
    },
  };
}

const ingestion: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('batches')
      .addColumn('sandbox', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('dataset_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('input_format', 'text', (c) => c.notNull())
      .addColumn('options', 'text', (c) => c.notNull())
      .addColumn('files', 'text', (c) => c.notNull())
      .addColumn('rows_read', 'integer', (c) => c.notNull())
      .addColumn('rows_written', 'integer', (c) => c.notNull())
      .addColumn('rows_rejected', 'integer', (c) => c.notNull())
      .addColumn('snapshot_id', 'integer')
      .addColumn('error_code', 'text')
      .addColumn('error_message', 'text')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('completed_at', 'text')
      .addPrimaryKeyConstraint('batches_pk', ['sandbox', 'id'])
      .execute();
    await db.schema.createIndex('batches_dataset').on('batches').columns(['sandbox', 'dataset_id', 'created_at']).execute();
    await db.schema
      .createTable('streaming_connections')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('sandbox', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('datasets', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text')
      .execute();
  },
};

const queryLog: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('query_log')
      .addColumn('sandbox', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('sql', 'text', (c) => c.notNull())
      .addColumn('params', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('client', 'text', (c) => c.notNull())
      .addColumn('execution_class', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('row_count', 'integer')
      .addColumn('error_code', 'text')
      .addColumn('error_message', 'text')
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('ended_at', 'text')
      .addColumn('duration_ms', 'integer')
      .addPrimaryKeyConstraint('query_log_pk', ['sandbox', 'id'])
      .execute();
    await db.schema.createIndex('query_log_started').on('query_log').columns(['sandbox', 'started_at']).execute();
  },
};

/** Query templates, schedules and their run history (the Jobs port's embedded form: state in metadata). */
const querySchedules: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('query_templates')
      .addColumn('sandbox', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('sql', 'text', (c) => c.notNull())
      .addColumn('query_parameters', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('query_templates_pk', ['sandbox', 'id'])
      .execute();
    await db.schema
      .createTable('query_schedules')
      .addColumn('sandbox', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('template_id', 'text')
      .addColumn('sql', 'text')
      .addColumn('parameters', 'text', (c) => c.notNull())
      .addColumn('timing', 'text', (c) => c.notNull())
      .addColumn('start_date', 'text', (c) => c.notNull())
      .addColumn('end_date', 'text')
      .addColumn('output', 'text', (c) => c.notNull())
      .addColumn('alerts', 'text', (c) => c.notNull())
      .addColumn('quarantine_enabled', 'integer', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('consecutive_failures', 'integer', (c) => c.notNull())
      .addColumn('next_run_at', 'text')
      .addColumn('last_slot_at', 'text')
      .addColumn('active_run_id', 'text')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('query_schedules_pk', ['sandbox', 'id'])
      .execute();
    await db.schema.createIndex('query_schedules_due').on('query_schedules').columns(['state', 'next_run_at']).execute();
    await db.schema
      .createTable('query_schedule_runs')
      .addColumn('sandbox', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('schedule_id', 'text', (c) => c.notNull())
      .addColumn('trigger', 'text', (c) => c.notNull())
      .addColumn('slot_at', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('query_id', 'text')
      .addColumn('dataset_id', 'text')
      .addColumn('row_count', 'integer')
      .addColumn('message', 'text')
      .addColumn('error_code', 'text')
      .addColumn('error_message', 'text')
      .addColumn('delay_alerted', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text')
      .addColumn('ended_at', 'text')
      .addPrimaryKeyConstraint('query_schedule_runs_pk', ['sandbox', 'id'])
      .execute();
    await db.schema.createIndex('query_schedule_runs_schedule').on('query_schedule_runs').columns(['sandbox', 'schedule_id', 'created_at']).execute();
  },
};

/** Merge policies of the profile store (at most 5 per sandbox, one default per class). */
const mergePolicies: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('merge_policies')
      .addColumn('sandbox', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('class_id', 'text', (c) => c.notNull())
      .addColumn('method', 'text', (c) => c.notNull())
      .addColumn('dataset_order', 'text', (c) => c.notNull())
      .addColumn('id_stitching', 'text', (c) => c.notNull())
      .addColumn('is_default', 'integer', (c) => c.notNull())
      .addColumn('snapshot_table', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('merge_policies_pk', ['sandbox', 'id'])
      .addUniqueConstraint('merge_policies_name_unique', ['sandbox', 'name'])
      .execute();
  },
};

/** The CLV model registry: fitted parameters, the data snapshot they came from, diagnostics, time. */
const clvModels: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('clv_models')
      .addColumn('sandbox', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('fit', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('diagnostics', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('clv_models_pk', ['sandbox', 'id'])
      .execute();
    await db.schema.createIndex('clv_models_created').on('clv_models').columns(['sandbox', 'created_at']).execute();
  },
};

const documents: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('documents')
      .addColumn('sandbox', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('parent_id', 'text')
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('documents_pk', ['sandbox', 'kind', 'id'])
      .execute();
    await db.schema.createIndex('documents_kind_created').on('documents').columns(['sandbox', 'kind', 'created_at']).execute();
    await db.schema.createIndex('documents_parent').on('documents').columns(['sandbox', 'kind', 'parent_id']).execute();
  },
};

const scheduleJobs: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('query_schedules').addColumn('job', 'text').execute();
  },
};

export function migrationProvider(dialect: SqlDialectName): MigrationProvider {
  return {
    getMigrations: () => Promise.resolve({ '0001_platform_core': platformCore(dialect), '0002_ingestion': ingestion, '0003_merge_policies': mergePolicies, '0004_query_log': queryLog, '0005_query_schedules': querySchedules, '0006_clv_models': clvModels, '0007_documents': documents, '0008_schedule_jobs': scheduleJobs }),
  };
}
