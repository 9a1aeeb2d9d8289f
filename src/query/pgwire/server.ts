/**
 * The Postgres wire endpoint: a TCP listener (TLS optional) that lets psql, node-postgres, psycopg2, JDBC and
 * BI tools run Data Distiller SQL. Database name = sandbox, password = API key, user name free-form.
 * `platformBackend` wires it to the platform; tests can give any `PgWireBackend`.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { authorize, mayUseSandbox, type Principal } from '../../access/principal.ts';
import { RoundtripError } from '../../core/errors.ts';
import type { Platform } from '../../platform/platform.ts';
import type { QueryOptions, QueryOutcome } from '../types.ts';
import type { CatalogTable } from './catalog.ts';
import { SERVER_VERSION } from './local.ts';
import { PgSession, type PgWireBackend } from './session.ts';

export type { PgWireBackend } from './session.ts';

export interface PgWireServerOptions {
  backend: PgWireBackend;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** PEM certificate and key: with them SSLRequest is accepted; without, refused with `N` (clients fall back to plain). */
  tls?: { cert: string | Buffer; key: string | Buffer; require?: boolean };
  /** Roundtrip's version for `SELECT version()`. */
  productVersion?: string;
  log?: (message: string) => void;
}

export interface PgWireServer {
  readonly port: number;
  readonly host: string;
  /** Connections open now. */
  readonly connections: number;
  /** Stops listening and closes every connection (running statements finish in the query service). */
  close(): Promise<void>;
}

const PLATFORM_VERSION = '0.1.0';

export async function startPgWireServer(options: PgWireServerOptions): Promise<PgWireServer> {
  const secureContext: SecureContext | undefined = options.tls ? createSecureContext({ cert: options.tls.cert, key: options.tls.key }) : undefined;
  const startedAt = new Date().toISOString();
  const productVersion = options.productVersion ?? PLATFORM_VERSION;
  const version = `PostgreSQL ${SERVER_VERSION} (Roundtrip ${productVersion}: Data Distiller SQL on DuckDB) on x86_64-pc-linux-gnu, 64-bit`;
  const sessions = new Map<number, PgSession>();
  const sockets = new Set<Socket>();

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    const session = new PgSession(socket, {
      backend: options.backend,
      tls: secureContext,
      requireTls: options.tls?.require ?? false,
      version,
      startedAt,
      ...(options.log ? { log: options.log } : {}),
      register: (s) => {
        let pid = randomInt(1000, 2 ** 31 - 1);
        while (sessions.has(pid)) pid = randomInt(1000, 2 ** 31 - 1);
        sessions.set(pid, s);
        return { pid, secret: randomInt(0, 2 ** 31 - 1) };
      },
      unregister: (s) => {
        if (sessions.get(s.pid) === s) sessions.delete(s.pid);
      },
      cancel: (pid, secret) => {
        const target = sessions.get(pid);
        if (target && target.secret === secret) target.cancelRunning().catch((error: unknown) => options.log?.(`pgwire cancel failed: ${String(error)}`));
      },
    });
    void session.run();
  });
  server.maxConnections = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    port: address.port,
    host: address.address,
    get connections() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** Reads and checks `--pg-tls-cert` / `--pg-tls-key` (PEM); throws RT_CONFIG_INVALID when they do not make a TLS context. */
export function readTlsFiles(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  try {
    const files = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
    createSecureContext(files);
    return files;
  } catch (error) {
    throw new RoundtripError('RT_CONFIG_INVALID', `The TLS certificate/key for the Postgres port could not be used: ${(error as Error).message}`);
  }
}

type Execute = (principal: Principal, sandbox: string, sql: string, options: QueryOptions) => Promise<QueryOutcome>;

/**
 * The endpoint on a platform: keys from `apiKeys`, sandboxes from `sandboxes`, SQL through the query service
 * (or the `execute` given), catalog answers from the sandbox's datasets and warehouse tables.
 */
export function platformBackend(platform: Platform, execute?: Execute): PgWireBackend {
  const run: Execute = execute ?? ((principal, sandbox, sql, options) => platform.queries.execute(principal, sandbox, sql, options));
  return {
    authenticate: (password) => platform.apiKeys.authenticate(password.trim()),
    openSandbox: async (principal, sandbox) => {
      if (!/^[a-z][a-z0-9-]{0,31}$/.test(sandbox)) {
        throw new RoundtripError('RT_SANDBOX_NOT_FOUND', `database "${sandbox}" does not exist: the database name is a sandbox name, e.g. prod.`, { sandbox });
      }
      // As over HTTP: the key's scope is checked before existence, so a key learns nothing about other sandboxes.
      authorize(principal, 'query:read', sandbox);
      await platform.sandboxes.get(sandbox);
    },
    execute: run,
    databases: async (principal) => (await platform.sandboxes.list()).map((s) => s.name).filter((name) => mayUseSandbox(principal, name)),
    catalogTables: async (sandbox) => {
      const warehouse = await platform.warehouse.sandbox(sandbox);
      const datasets = await platform.datasets.list(sandbox);
      const byTable = new Map(datasets.map((d) => [d.tableName, d]));
      const names = new Set([...datasets.map((d) => d.tableName), ...(await warehouse.listTables()).filter((t) => !t.startsWith('_rt_'))]);
      const tables: CatalogTable[] = [];
      for (const name of [...names].sort()) {
        try {
          const dataset = byTable.get(name);
          tables.push({ name, description: dataset ? `${dataset.name} (${dataset.id})` : null, columns: await warehouse.describeTable(name) });
        } catch {
          // A table dropped meanwhile, or one whose name the warehouse does not take: leave it out.
        }
      }
      return tables;
    },
    cancel: async (principal, sandbox, sql, startedAt) => {
      const running = await platform.queries.log(sandbox, { actor: principal.id, limit: 20 });
      for (const record of running) {
        if (record.status === 'running' && record.client === 'pgwire' && record.sql === sql && record.startedAt >= startedAt) {
          await platform.queries.cancel(principal, sandbox, record.id);
        }
      }
    },
  };
}
