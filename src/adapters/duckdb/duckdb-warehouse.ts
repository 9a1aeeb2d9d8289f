/**
 * DuckDB warehouse: the embedded default of the Warehouse port. One database file per sandbox under
 * `<dataDir>/warehouse/<sandbox>.duckdb`, opened once per process (DuckDB lets only one process hold a file),
 * with its hot catalog (`HOT_CATALOG`, the tables streaming writes many times a second) in
 * `<sandbox>.hot.duckdb`, attached to the same instance: DuckDB has one commit lock per attached database.
 *
 * Isolation: each database is opened with external access disabled except for its own staging folder, and the
 * configuration is then locked, so SQL can neither read files elsewhere, nor ATTACH another sandbox's file,
 * nor switch the guard off again.
 */
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { RoundtripError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import {
  HOT_CATALOG,
  SYSTEM_COLUMNS,
  type ColumnSpec,
  type ColumnType,
  type CompactionResult,
  type JsonRecord,
  type QueryResult,
  type ReadOptions,
  type SandboxDatabaseSummary,
  type ScalarValue,
  type SandboxWarehouse,
  type Warehouse,
  type WarehouseSession,
  type WriteStamp,
} from '../../ports/warehouse.ts';
import { columnsFromDuckDB, fromDuckDBType, jsonValueConverter, quoteIdent, quoteLiteral, toDuckDBType } from './duckdb-types.ts';

export interface DuckDBWarehouseOptions {
  /** Folder holding one `<sandbox>.duckdb` file per sandbox and a `staging/<sandbox>/` folder each. */
  directory: string;
  threads: number;
  memoryLimit: string;
  /**
   * WAL size that triggers a checkpoint (DuckDB's default: 16MB). The commit that crosses it checkpoints, and
   * other writers wait meanwhile: at streaming rates the default stalls membership writes for up to a second
   * every few seconds (bench/audiences.ts).
   */
  checkpointThreshold?: string;
}

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const HOT_PREFIX = `${HOT_CATALOG}.main.`;
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

async function runQuery(c: DuckDBConnection, sql: string, params?: Record<string, string | number | boolean | null>): Promise<QueryResult> {
  const reader = await c.runAndReadAll(sql, params);
  const names = reader.columnNames();
  const types = reader.columnTypes();
  return {
    columns: names.map((name, i) => ({ name, type: types[i]!.toString(), columnType: fromDuckDBType(types[i]!) })),
    rows: reader.convertRowObjects(jsonValueConverter),
  };
}

/** DuckDB's appender: rows go straight into the table's column vectors (cast on flush), in the connection's transaction. */
async function appendRows(c: DuckDBConnection, table: string, rows: readonly (readonly ScalarValue[])[]): Promise<void> {
  const hot = table.startsWith(HOT_PREFIX);
  const name = hot ? table.slice(HOT_PREFIX.length) : table;
  assertTableName(name);
  if (rows.length === 0) return;
  const appender = hot ? await c.createAppender(name, 'main', HOT_CATALOG) : await c.createAppender(name);
  try {
    for (const row of rows) {
      for (const value of row) {
        if (value === null) appender.appendNull();
        else if (typeof value === 'string') appender.appendVarchar(value);
        else if (typeof value === 'boolean') appender.appendBoolean(value);
        else if (Number.isSafeInteger(value)) appender.appendBigInt(BigInt(value));
        else appender.appendDouble(value);
      }
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

class DuckDBSandboxWarehouse implements SandboxWarehouse {
  /** Connections in use (operations and sessions); `exclusively` waits for none. */
  private active = 0;
  private drained: (() => void) | undefined;
  /** Set while `exclusively` runs: new operations wait for it. */
  private gate: Promise<void> | undefined;

  constructor(
    readonly sandbox: string,
    readonly stagingDir: string,
    private instance: DuckDBInstance,
  ) {}

  private async acquire(): Promise<DuckDBConnection> {
    while (this.gate) await this.gate;
    this.active++;
    try {
      return await this.instance.connect();
    } catch (error) {
      this.release();
      throw error;
    }
  }

  private release(): void {
    this.active--;
    if (this.active === 0) this.drained?.();
  }

  /** One connection per operation: cheap in DuckDB, and it keeps concurrent requests from queueing on one. */
  private async withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.acquire();
    try {
      return await work(connection);
    } catch (error) {
      throw warehouseError(error);
    } finally {
      connection.closeSync();
      this.release();
    }
  }

  /**
   * Runs `work` with no connection open and none opening (compaction); `work` returns the instance to use
   * from then on (a new one, or the old file reopened) with its result or its failure.
   */
  async exclusively<T>(work: (current: DuckDBInstance) => Promise<{ next: DuckDBInstance } & ({ result: T } | { error: unknown })>): Promise<T> {
    while (this.gate) await this.gate;
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => (open = resolve));
    try {
      if (this.active > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      this.drained = undefined;
      const outcome = await work(this.instance);
      this.instance = outcome.next;
      if ('error' in outcome) throw outcome.error;
      return outcome.result;
    } finally {
      this.gate = undefined;
      open();
    }
  }

  close(): void {
    this.instance.closeSync();
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
    const result = await this.query(`SELECT table_name FROM duckdb_tables() WHERE NOT internal AND database_name = current_database() ORDER BY table_name`);
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
    return this.withConnection((c) => runQuery(c, sql, params));
  }

  async openSession(): Promise<WarehouseSession> {
    const connection = await this.acquire();
    let closed = false;
    return {
      query: async (sql, params) => {
        try {
          return await runQuery(connection, sql, params);
        } catch (error) {
          throw warehouseError(error);
        }
      },
      appendRows: async (table, rows) => {
        try {
          await appendRows(connection, table, rows);
        } catch (error) {
          throw warehouseError(error);
        }
      },
      interrupt: () => connection.interrupt(),
      close: () => {
        if (closed) return;
        closed = true;
        connection.closeSync();
        this.release();
      },
    };
  }
}

export class DuckDBWarehouse implements Warehouse {
  private readonly open = new Map<string, Promise<DuckDBSandboxWarehouse>>();

  constructor(private readonly options: DuckDBWarehouseOptions) {}

  private paths(name: string): SandboxFiles {
    if (!SANDBOX_NAME.test(name)) throw new RoundtripError('RT_SANDBOX_NAME_INVALID', `"${name}" is not a valid sandbox name.`);
    return {
      file: path.join(this.options.directory, `${name}.duckdb`),
      hot: path.join(this.options.directory, `${name}.hot.duckdb`),
      staging: path.join(this.options.directory, 'staging', name),
    };
  }

  /**
   * Opens a sandbox's files with the guard: the hot catalog attached, then external access only to its
   * staging folder and the configuration locked (so SQL can attach nothing else).
   */
  private async openInstance({ file, hot, staging }: SandboxFiles): Promise<DuckDBInstance> {
    await mkdir(staging, { recursive: true });
    const instance = await DuckDBInstance.create(file, {
      threads: String(this.options.threads),
      memory_limit: this.options.memoryLimit,
      ...(this.options.checkpointThreshold ? { checkpoint_threshold: this.options.checkpointThreshold } : {}),
    });
    const setup = await instance.connect();
    try {
      await setup.run(`ATTACH ${quoteLiteral(hot)} AS ${HOT_CATALOG}`);
      await setup.run(`SET allowed_directories = [${quoteLiteral(staging + path.sep)}]`);
      await setup.run(`SET enable_external_access = false`);
      await setup.run(`SET lock_configuration = true`);
    } catch (error) {
      setup.closeSync();
      instance.closeSync();
      throw error;
    }
    setup.closeSync();
    return instance;
  }

  private async openSandbox(name: string): Promise<DuckDBSandboxWarehouse> {
    const files = this.paths(name);
    // A compaction interrupted after the swap leaves the old files behind: they only hold stale data.
    for (const file of [files.file, files.hot]) await scrubAndRemove(`${file}.old`);
    return new DuckDBSandboxWarehouse(name, files.staging, await this.openInstance(files));
  }

  private sandboxObject(name: string): Promise<DuckDBSandboxWarehouse> {
    let opening = this.open.get(name);
    if (!opening) {
      opening = this.openSandbox(name);
      this.open.set(name, opening);
      opening.catch(() => this.open.delete(name));
    }
    return opening;
  }

  async sandbox(name: string): Promise<SandboxWarehouse> {
    try {
      return await this.sandboxObject(name);
    } catch (error) {
      throw warehouseError(error);
    }
  }

  /**
   * Compaction: DuckDB keeps freed blocks in its file (deleted rows' bytes stay until overwritten), so each of
   * the sandbox's files is copied into a new file with `COPY FROM DATABASE` by a separate, unguarded in-memory
   * instance, the files are swapped, the old one is overwritten with zeros and removed, and the sandbox
   * reopens on the new files. Every operation waits meanwhile.
   */
  async compact(name: string): Promise<CompactionResult> {
    const files = this.paths(name);
    const sandbox = await this.sandboxObject(name);
    return sandbox.exclusively<CompactionResult>(async (current) => {
      await checkpointAndClose(current);
      const bytesBefore = await filesSize([files.file, `${files.file}.wal`, files.hot, `${files.hot}.wal`]);
      try {
        for (const file of [files.file, files.hot]) await this.compactFile(file);
      } catch (error) {
        return { next: await this.openInstance(files), error: warehouseError(error) };
      }
      const stagingFilesRemoved = await removeStaleStaging(files.staging);
      const bytesAfter = await filesSize([files.file, files.hot]);
      return { next: await this.openInstance(files), result: { sandbox: name, bytesBefore, bytesAfter, stagingFilesRemoved } };
    });
  }

  /** Rewrites one closed database file through a copy; on failure the original stays (or is put back). */
  private async compactFile(file: string): Promise<void> {
    if (!(await fileSize(file))) return;
    try {
      await this.withCopier(async (c) => {
        await c.run(`ATTACH ${quoteLiteral(file)} AS src (READ_ONLY)`);
        await c.run(`ATTACH ${quoteLiteral(`${file}.compact`)} AS dst`);
        await c.run('COPY FROM DATABASE src TO dst');
      });
      await rename(file, `${file}.old`);
      await rename(`${file}.compact`, file);
      await rm(`${file}.wal`, { force: true });
      await scrubAndRemove(`${file}.old`);
    } catch (error) {
      await rm(`${file}.compact`, { force: true });
      await rm(`${file}.compact.wal`, { force: true });
      if (!(await fileSize(file)) && (await fileSize(`${file}.old`))) await rename(`${file}.old`, file);
      throw error;
    }
  }

  /**
   * Runs `work` on a connection of a separate, unguarded in-memory instance (the sandbox's own instance cannot
   * ATTACH files); the databases `work` attached are detached after it.
   */
  private async withCopier<T>(work: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const copier = await DuckDBInstance.create(':memory:', { threads: String(this.options.threads), memory_limit: this.options.memoryLimit });
    const c = await copier.connect();
    try {
      const result = await work(c);
      await c.run('USE memory');
      const attached = await c.runAndReadAll(`SELECT database_name FROM duckdb_databases() WHERE NOT internal AND database_name <> 'memory'`);
      for (const row of attached.getRowObjects()) await c.run(`DETACH ${quoteIdent(row.database_name as string)}`);
      return result;
    } finally {
      c.closeSync();
      copier.closeSync();
    }
  }

  /**
   * Backup: like compaction, the sandbox is checkpointed and closed, copied with `COPY FROM DATABASE` (so the
   * copy holds no freed pages, i.e. no bytes of rows deleted for privacy), and reopened. The backup is one
   * file: the main database, with the hot catalog's tables in a schema named after it.
   */
  async exportSandbox(name: string, target: string, whileQuiesced?: () => Promise<void>): Promise<SandboxDatabaseSummary> {
    const files = this.paths(name);
    const sandbox = await this.sandboxObject(name);
    return sandbox.exclusively<SandboxDatabaseSummary>(async (current) => {
      await checkpointAndClose(current);
      try {
        await whileQuiesced?.();
        await rm(target, { force: true });
        const result = await this.withCopier(async (c) => {
          await c.run(`ATTACH ${quoteLiteral(files.file)} AS src (READ_ONLY)`);
          await c.run(`ATTACH ${quoteLiteral(files.hot)} AS src_hot (READ_ONLY)`);
          await c.run(`ATTACH ${quoteLiteral(target)} AS dst`);
          await c.run('COPY FROM DATABASE src TO dst');
          await c.run(`CREATE SCHEMA dst.${HOT_CATALOG}`);
          await copyTables(c, { database: 'src_hot', schema: 'main' }, { database: 'dst', schema: HOT_CATALOG });
          return summariseDatabase(c, 'dst');
        });
        return { next: await this.openInstance(files), result };
      } catch (error) {
        await Promise.all([rm(target, { force: true }), rm(`${target}.wal`, { force: true })]);
        return { next: await this.openInstance(files), error: warehouseError(error) };
      }
    });
  }

  /**
   * Restore: the backup is copied (not moved) into new database files of this engine version, its hot schema
   * into the hot file (a backup without one restores an empty hot catalog), then swapped in.
   */
  async importSandbox(name: string, source: string): Promise<SandboxDatabaseSummary> {
    const files = this.paths(name);
    await this.closeSandbox(name);
    await mkdir(this.options.directory, { recursive: true });
    const [main, hot] = [`${files.file}.restore`, `${files.hot}.restore`];
    const removeTemps = () => Promise.all([main, hot].flatMap((t) => [rm(t, { force: true }), rm(`${t}.wal`, { force: true })]));
    try {
      await removeTemps();
      const summary = await this.withCopier(async (c) => {
        await c.run(`ATTACH ${quoteLiteral(source)} AS src (READ_ONLY)`);
        await c.run(`ATTACH ${quoteLiteral(main)} AS dst`);
        await c.run(`ATTACH ${quoteLiteral(hot)} AS dst_hot`);
        await c.run('COPY FROM DATABASE src TO dst');
        await c.run(`DROP SCHEMA IF EXISTS dst.${HOT_CATALOG} CASCADE`);
        await copyTables(c, { database: 'src', schema: HOT_CATALOG }, { database: 'dst_hot', schema: 'main' });
        return summariseDatabase(c, 'src');
      });
      for (const file of [files.file, files.hot]) await rm(`${file}.wal`, { force: true });
      await rename(main, files.file);
      await rename(hot, files.hot);
      return summary;
    } catch (error) {
      await removeTemps();
      throw warehouseError(error);
    }
  }

  private async closeSandbox(name: string): Promise<void> {
    const opening = this.open.get(name);
    this.open.delete(name);
    if (!opening) return;
    try {
      (await opening).close();
    } catch {
      // It never opened; nothing to close.
    }
  }

  async dropSandbox(name: string): Promise<void> {
    const { file, hot, staging } = this.paths(name);
    await this.closeSandbox(name);
    await Promise.all([file, `${file}.wal`, hot, `${hot}.wal`].map((f) => rm(f, { force: true })));
    await rm(staging, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    await Promise.all([...this.open.keys()].map((name) => this.closeSandbox(name)));
  }
}

/** A sandbox's files: the main database, the hot catalog's database, the staging folder. */
interface SandboxFiles {
  file: string;
  hot: string;
  staging: string;
}

/** Writes everything to the database files and closes them, so that another instance may attach the files. */
async function checkpointAndClose(instance: DuckDBInstance): Promise<void> {
  const checkpoint = await instance.connect();
  try {
    await checkpoint.run('CHECKPOINT');
    await checkpoint.run(`CHECKPOINT ${HOT_CATALOG}`);
  } finally {
    checkpoint.closeSync();
  }
  instance.closeSync();
}

/**
 * Copies every table of one schema into another (definitions with their constraints, rows, indexes), across
 * attached databases. DuckDB gives each definition as SQL naming the table unqualified in a `main` schema and
 * schema-qualified elsewhere: the statements run with the target schema as the default, the source's schema
 * qualifier taken off.
 */
async function copyTables(c: DuckDBConnection, from: { database: string; schema: string }, to: { database: string; schema: string }): Promise<void> {
  const where = `database_name = ${quoteLiteral(from.database)} AND schema_name = ${quoteLiteral(from.schema)}`;
  const tables = (await c.runAndReadAll(`SELECT table_name, sql FROM duckdb_tables() WHERE ${where} AND NOT internal ORDER BY table_name`)).getRowObjects();
  const indexes = (await c.runAndReadAll(`SELECT sql FROM duckdb_indexes() WHERE ${where} AND sql IS NOT NULL`)).getRowObjects();
  const unqualified = (sql: string) => (from.schema === 'main' ? sql : sql.replace(`${from.schema}.`, ''));
  const qualified = (database: string, schema: string, table: string) => [database, schema, table].map(quoteIdent).join('.');
  await c.run(`USE ${quoteIdent(to.database)}.${quoteIdent(to.schema)}`);
  for (const t of tables) {
    await c.run(unqualified(t.sql as string));
    const table = t.table_name as string;
    await c.run(`INSERT INTO ${qualified(to.database, to.schema, table)} SELECT * FROM ${qualified(from.database, from.schema, table)}`);
  }
  for (const index of indexes) await c.run(unqualified(index.sql as string));
  await c.run('USE memory');
}

/** The engine version and every table of an attached database with its row count. */
async function summariseDatabase(c: DuckDBConnection, database: string): Promise<SandboxDatabaseSummary> {
  const version = (await c.runAndReadAll('SELECT version() AS v')).getRowObjects()[0]!.v as string;
  const listed = await c.runAndReadAll(
    `SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ${quoteLiteral(database)} AND NOT internal ORDER BY schema_name, table_name`,
  );
  const tables: SandboxDatabaseSummary['tables'] = [];
  for (const row of listed.getRowObjects()) {
    const [schema, table] = [row.schema_name as string, row.table_name as string];
    const counted = await c.runAndReadAll(`SELECT count(*) AS n FROM ${quoteIdent(database)}.${quoteIdent(schema)}.${quoteIdent(table)}`);
    tables.push({ name: schema === 'main' ? table : `${schema}.${table}`, rows: Number(counted.getRowObjects()[0]!.n) });
  }
  return { engine: `duckdb ${version}`, tables };
}

async function filesSize(files: readonly string[]): Promise<number> {
  let total = 0;
  for (const file of files) total += await fileSize(file);
  return total;
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** Overwrites a file with zeros before removing it, so its bytes do not linger in free disk blocks. */
async function scrubAndRemove(file: string): Promise<void> {
  const size = await fileSize(file);
  if (size === 0) return rm(file, { force: true });
  const handle = await open(file, 'r+');
  try {
    const zeros = Buffer.alloc(Math.min(size, 8 * 1024 * 1024));
    for (let at = 0; at < size; at += zeros.length) await handle.write(zeros, 0, Math.min(zeros.length, size - at), at);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rm(file, { force: true });
}

/**
 * Staging files at the folder's top level older than an hour: what appends that never finished left behind.
 * Batch uploads (`batches/`) belong to their batches, which remove them when they end.
 */
async function removeStaleStaging(staging: string): Promise<number> {
  const cutoff = Date.now() - 60 * 60 * 1000;
  let removed = 0;
  for (const entry of await readdir(staging, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isFile()) continue;
    const file = path.join(staging, entry.name);
    if ((await stat(file)).mtimeMs < cutoff) {
      await scrubAndRemove(file);
      removed++;
    }
  }
  return removed;
}
