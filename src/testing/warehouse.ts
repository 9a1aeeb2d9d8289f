/**
 * Test support: a DuckDB warehouse in a temporary folder, closed and removed after the suite that asks for it.
 */
import { after } from 'node:test';
import { DuckDBWarehouse } from '../adapters/duckdb/duckdb-warehouse.ts';
import { tempDir } from './temp.ts';

/** Call inside a `describe`: the warehouse and its folder go when the suite ends. */
export function suiteWarehouse(options: { threads?: number; memoryLimit?: string } = {}): { warehouse: DuckDBWarehouse; dir: string } {
  const folder = tempDir();
  const warehouse = new DuckDBWarehouse({ directory: folder.dir, threads: options.threads ?? 1, memoryLimit: options.memoryLimit ?? '512MB' });
  after(async () => {
    await warehouse.close();
    folder.remove();
  });
  return { warehouse, dir: folder.dir };
}
