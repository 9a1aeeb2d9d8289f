/**
 * DuckDB warehouse: the embedded default of the Warehouse port. One database file per sandbox under
 * `<dataDir>/warehouse/<sandbox>.duckdb`, opened once per process (DuckDB lets only one process hold a file).
 *
 * Isolation: each database is opened with external access disabled except for its own staging folder, and the
 * configuration is then locked, so SQL can neither read files elsewhere, nor ATTACH another sandbox's file,
 * nor switch the guard off again.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { RoundtripError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import {
  SYSTEM_COLUMNS,
  type ColumnSpec,
  type ColumnType,
  type JsonRecord,
  type QueryResult,
  type ReadOptions,
  type SandboxWarehouse,
  type Warehouse,
  type WriteStamp,
} from '../../ports/warehouse.ts';
import { columnsFromDuckDB, jsonValueConverter, quoteIdent, quoteLiteral, toDuckDBType } from './duckdb-types.ts';

export interface DuckDBWarehouseOptions {
  /** Folder holding one `<sandbox>.duckdb` file per sandbox and a `staging/<sandbox>/` folder each. */
  directory: string;
  threads: number;
  memoryLimit: string;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const SANDBOX_NAME = /^[a-z][a-z0-9-]{0,31}$/;

function assertTableName(table: string): void {
  if (!TABLE_NAME.test(table)) throw new RoundtripError('RT_WAREHOUSE_FAILED', `"${table}" is not a valid table name.`);
}

function warehouseError(error: unknown): RoundtripError {
  if (error instanceof RoundtripError) return error;
  return new RoundtripError('RT_WAREHOUSE_FAILED', (error as Error).message.split('\n')[0] ?? 'Warehouse error');
}

const SYSTEM_DDL = `"_rt_snapshot_id" BIGINT NOT NULL, "_rt_batch_id" VARCHAR NOT NULL, "_rt_ingested_at" TIMESTAMPTZ NOT NULL`;
const EXCLUDE_SYSTEM = `EXCLUDE (${SYSTEM_COLUMNS.map(quoteIdent).join(', ')})`;

class DuckDBSandboxWarehouse implements SandboxWarehouse {
  constructor(
    readonly sandbox: string,
    readonly stagingDir: string,
    private readonly instance: DuckDBInstance,
  ) {}

  /** One connection per operation: cheap in DuckDB, and it keeps concurrent requests from queueing on one. */
  private async withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.instance.connect();
    try {
      return await work(connection);
    } catch (error) {
      throw warehouseError(error);
    } finally {
      connection.closeSync();
    }
  }

  private run(sql: string): Promise<void> {
    return this.withConnection(async (c) => {
      await c.run(sql);
    });
  }

  async createTable(table: string, columns: ColumnSpec[]): Promise<void> {
    assertTableName(table);
    const ddl = columns.map((c) => `${quoteIdent(c.name)} ${toDuckDBType(c.type)}`);
    await this.run(`CREATE TABLE ${quoteIdent(table)} (${[...ddl, SYSTEM_DDL].join(', ')})`);
  }

  async addColumn(table: string, column: string, type: ColumnType): Promise<void> {
    assertTableName(table);
    await this.run(`ALTER TABLE ${quoteIdent(table)} ADD COLUMN ${quoteIdent(column)} ${toDuckDBType(type)}`);
  }

  async widenColumn(table: string, column: string, type: ColumnType): Promise<void> {
    assertTableName(table);
    // DuckDB casts struct to struct by field name, so added fields (also inside lists and maps) come in as NULL.
    await this.run(`ALTER TABLE ${quoteIdent(table)} ALTER COLUMN ${quoteIdent(column)} TYPE ${toDuckDBType(type)}`);
  }

  async dropTable(table: string): Promise<void> {
    assertTableName(table);
    await this.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
  }

  async listTables(): Promise<string[]> {
    const result = await this.query(`SELECT table_name FROM duckdb_tables() WHERE NOT internal ORDER BY table_name`);
    return result.rows.map((r) => r.table_name as string);
  }

  async describeTable(table: string): Promise<ColumnSpec[]> {
    assertTableName(table);
    return this.withConnection(async (c) => {
      const reader = await c.runAndReadAll(`SELECT * ${EXCLUDE_SYSTEM} FROM ${quoteIdent(table)} LIMIT 0`);
      return columnsFromDuckDB(reader.columnNames(), reader.columnTypes());
    });
  }

  async appendRecords(table: string, records: readonly JsonRecord[], stamp: WriteStamp): Promise<number> {
    assertTableName(table);
    if (records.length === 0) return 0;
    const columns = await this.describeTable(table);
    // Bulk path: stage the records as JSON Lines and let DuckDB parse them straight into the typed columns.
    const file = path.join(this.stagingDir, `${newId('append')}.jsonl`);
    await writeFile(file, records.map((r) => JSON.stringify(r)).join('\n'));
    const columnTypes = columns.map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(toDuckDBType(c.type))}`).join(', ');
    const names = columns.map((c) => quoteIdent(c.name)).join(', ');
    try {
      return await this.withConnection(async (c) => {
        const reader = await c.runAndReadAll(
          `INSERT INTO ${quoteIdent(table)} (${names}, ${SYSTEM_COLUMNS.map(quoteIdent).join(', ')})
           SELECT ${names}, $snapshot, $batch, now()
           FROM read_json(${quoteLiteral(file)}, format = 'newline_delimited', columns = {${columnTypes}})`,
          { snapshot: stamp.snapshotId, batch: stamp.batchId },
        );
        return Number(reader.getRows()[0]?.[0] ?? 0);
      });
    } finally {
      await rm(file, { force: true });
    }
  }

  async readRecords(table: string, options: ReadOptions = {}): Promise<JsonRecord[]> {
    assertTableName(table);
    const where = options.snapshotId === undefined ? '' : `WHERE "_rt_snapshot_id" = ${Math.trunc(options.snapshotId)}`;
    const limit = options.limit === undefined ? '' : `LIMIT ${Math.trunc(options.limit)}`;
    const offset = options.offset === undefined ? '' : `OFFSET ${Math.trunc(options.offset)}`;
    const result = await this.query(`SELECT * ${EXCLUDE_SYSTEM} FROM ${quoteIdent(table)} ${where} ORDER BY rowid ${limit} ${offset}`);
    return result.rows;
  }

  async countRows(table: string, options: Pick<ReadOptions, 'snapshotId'> = {}): Promise<number> {
    assertTableName(table);
    const where = options.snapshotId === undefined ? '' : `WHERE "_rt_snapshot_id" = ${Math.trunc(options.snapshotId)}`;
    const result = await this.query(`SELECT count(*) AS n FROM ${quoteIdent(table)} ${where}`);
    return Number(result.rows[0]?.n ?? 0);
  }

  async query(sql: string, params?: Record<string, string | number | boolean | null>): Promise<QueryResult> {
    return this.withConnection(async (c) => {
      const reader = await c.runAndReadAll(sql, params);
      const names = reader.columnNames();
      const types = reader.columnTypes();
      return {
        columns: names.map((name, i) => ({ name, type: types[i]!.toString() })),
        rows: reader.convertRowObjects(jsonValueConverter),
      };
    });
  }
}

export class DuckDBWarehouse implements Warehouse {
  private readonly open = new Map<string, Promise<{ instance: DuckDBInstance; sandbox: DuckDBSandboxWarehouse }>>();

  constructor(private readonly options: DuckDBWarehouseOptions) {}

  private paths(name: string): { file: string; staging: string } {
    if (!SANDBOX_NAME.test(name)) throw new RoundtripError('RT_SANDBOX_NAME_INVALID', `"${name}" is not a valid sandbox name.`);
    return {
      file: path.join(this.options.directory, `${name}.duckdb`),
      staging: path.join(this.options.directory, 'staging', name),
    };
  }

  private async openSandbox(name: string): Promise<{ instance: DuckDBInstance; sandbox: DuckDBSandboxWarehouse }> {
    const { file, staging } = this.paths(name);
    await mkdir(staging, { recursive: true });
    const instance = await DuckDBInstance.create(file, {
      threads: String(this.options.threads),
      memory_limit: this.options.memoryLimit,
    });
    const setup = await instance.connect();
    try {
      await setup.run(`SET allowed_directories = [${quoteLiteral(staging + path.sep)}]`);
      await setup.run(`SET enable_external_access = false`);
      await setup.run(`SET lock_configuration = true`);
    } finally {
      setup.closeSync();
    }
    return { instance, sandbox: new DuckDBSandboxWarehouse(name, staging, instance) };
  }

  async sandbox(name: string): Promise<SandboxWarehouse> {
    let opening = this.open.get(name);
    if (!opening) {
      opening = this.openSandbox(name);
      this.open.set(name, opening);
      opening.catch(() => this.open.delete(name));
    }
    try {
      return (await opening).sandbox;
    } catch (error) {
      throw warehouseError(error);
    }
  }

  private async closeSandbox(name: string): Promise<void> {
    const opening = this.open.get(name);
    this.open.delete(name);
    if (!opening) return;
    try {
      (await opening).instance.closeSync();
    } catch {
      // It never opened; nothing to close.
    }
  }

  async dropSandbox(name: string): Promise<void> {
    const { file, staging } = this.paths(name);
    await this.closeSandbox(name);
    await Promise.all([rm(file, { force: true }), rm(`${file}.wal`, { force: true }), rm(staging, { recursive: true, force: true })]);
  }

  async close(): Promise<void> {
    await Promise.all([...this.open.keys()].map((name) => this.closeSandbox(name)));
  }
}
