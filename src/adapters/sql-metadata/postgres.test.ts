import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeMetadataStoreContract } from '../../ports/metadata-store.contract.ts';
import { createTestSchema, POSTGRES_SKIP, POSTGRES_URL } from '../../testing/postgres.ts';
import { openPostgresMetadataStore } from './sql-metadata-store.ts';

let drop: (() => Promise<void>) | undefined;
describeMetadataStoreContract(
  'PostgreSQL (pg)',
  {
    open: async () => {
      const schema = await createTestSchema();
      drop = schema.drop;
      return openPostgresMetadataStore({ connectionString: POSTGRES_URL!, searchPath: schema.schema });
    },
    dispose: async () => drop?.(),
  },
  POSTGRES_SKIP,
);

describe('PostgreSQL migrations per schema', { skip: POSTGRES_SKIP }, () => {
  it('migrates a schema of its own even when another schema on the search path already holds migration tables', async () => {
    const first = await createTestSchema();
    const second = await createTestSchema();
    try {
      for (const schema of [first, second]) {
        const store = openPostgresMetadataStore({ connectionString: POSTGRES_URL!, searchPath: schema.schema });
        try {
          await store.migrate();
          assert.deepEqual(await store.sandboxes.list(), []);
        } finally {
          await store.close();
        }
      }
      // The second one ran with `first` holding kysely_migration_lock: Kysely's existence check looks in every schema.
    } finally {
      await first.drop();
      await second.drop();
    }
  });
});
