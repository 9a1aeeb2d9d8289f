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
