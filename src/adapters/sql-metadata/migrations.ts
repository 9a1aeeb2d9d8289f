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

export function migrationProvider(dialect: SqlDialectName): MigrationProvider {
  return {
    getMigrations: () => Promise.resolve({ '0001_platform_core': platformCore(dialect), '0002_ingestion': ingestion }),
  };
}
