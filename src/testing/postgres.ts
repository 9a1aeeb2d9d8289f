/**
 * Test support for PostgreSQL: when `DATABASE_URL` is set, each suite gets a schema of its own, dropped after.
 * `.ci/run` installs and starts PostgreSQL from Debian's packages and sets the variable, so CI always runs these.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';

export const POSTGRES_URL = process.env.DATABASE_URL;
export const POSTGRES_SKIP = POSTGRES_URL ? false : 'DATABASE_URL is not set: PostgreSQL tests need a server (.ci/run starts one)';

export async function createTestSchema(): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `rt_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  return {
    schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}
