/**
 * `roundtrip init`, `roundtrip serve` and `roundtrip start` (init when needed, then serve).
 */
import type { Command } from 'commander';
import { isInitialised, clearServerInfo, writeServerInfo } from '../../platform/data-dir.ts';
import { initDataDir, openPlatform } from '../../platform/platform.ts';
import { buildApp } from '../../server/app.ts';
import { startBackgroundWork } from '../../server/background.ts';
import { platformBackend, readTlsFiles, startPgWireServer, type PgWireServer } from '../../query/pgwire/server.ts';
import type { Config } from '../../core/config.ts';
import type { CliContext } from '../context.ts';
import { RoundtripError } from '../../core/errors.ts';

async function init(config: Config): Promise<void> {
  const result = await initDataDir(config);
  console.log(`Initialised ${result.dataDir} with sandbox "${result.sandbox}".`);
  console.log(`Admin API key (shown once, store it now): ${result.adminToken}`);
  console.log(`  export ROUNDTRIP_API_KEY=${result.adminToken}`);
}

/** `serve --pg-port`: the Postgres wire endpoint next to the HTTP server (docs/postgres-wire.md). */
interface PgOptions {
  pgPort?: number;
  pgTlsCert?: string;
  pgTlsKey?: string;
}

async function serve(config: Config, pgOptions: PgOptions = {}): Promise<void> {
  const { pgPort, pgTlsCert, pgTlsKey } = pgOptions;
  if (pgPort !== undefined && !(Number.isInteger(pgPort) && pgPort >= 0 && pgPort <= 65535)) {
    throw new RoundtripError('RT_CONFIG_INVALID', `--pg-port must be a port number (0-65535), not "${pgPort}".`);
  }
  if (Boolean(pgTlsCert) !== Boolean(pgTlsKey) || (pgTlsCert && pgPort === undefined)) {
    throw new RoundtripError('RT_CONFIG_INVALID', '--pg-tls-cert and --pg-tls-key go together (PEM files), with --pg-port.');
  }
  const tls = pgTlsCert && pgTlsKey ? readTlsFiles(pgTlsCert, pgTlsKey) : undefined;
  const platform = await openPlatform(config);
  const app = await buildApp(platform, { auth: 'api-key' });
  const address = await app.listen({ host: config.host, port: config.port });
  let pg: PgWireServer | undefined;
  if (pgPort !== undefined) {
    try {
      pg = await startPgWireServer({ backend: platformBackend(platform), host: config.host, port: pgPort, ...(tls ? { tls } : {}), log: (m) => console.error(m) });
    } catch (error) {
      await app.close();
      await platform.close();
      throw new RoundtripError('RT_CONFIG_INVALID', `The Postgres wire endpoint could not listen on ${config.host}:${pgPort}: ${(error as Error).message}`);
    }
  }
  // Only the server runs the scheduler's timer and streaming activation: they work while the data directory is served.
  startBackgroundWork(platform, app.log);
  writeServerInfo(config.dataDir, { pid: process.pid, url: address, startedAt: new Date().toISOString(), ...(pg ? { pgPort: pg.port } : {}) });
  console.log(`Roundtrip serves ${config.dataDir} at ${address} (console: ${address}/console/, API docs: ${address}/docs)`);
  if (pg) console.log(`Postgres wire endpoint on ${pg.host}:${pg.port}${tls ? ' (TLS)' : ''}: database = sandbox name, password = API key`);
  const stop = async (): Promise<void> => {
    clearServerInfo(config.dataDir, process.pid);
    await pg?.close();
    await app.close();
    await platform.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

export function serverCommands(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description('Create the data directory, the prod sandbox and a first admin key')
    .action(() => ctx.run(() => init(ctx.config())));
  program
    .command('serve')
    .description('Serve the HTTP API (and console) on the data directory')
    .option('--port <port>', 'port to listen on (0 picks a free one)', (v) => Number(v))
    .option('--host <host>', 'interface to bind')
    .option('--pg-port <port>', 'also serve the Postgres wire protocol on this port (0 picks a free one)', (v) => Number(v))
    .option('--pg-tls-cert <file>', 'PEM certificate for TLS on the Postgres port (with --pg-tls-key)')
    .option('--pg-tls-key <file>', 'PEM private key for TLS on the Postgres port')
    .action((opts: { port?: number; host?: string } & PgOptions) =>
      ctx.run(() => serve(ctx.config({ port: opts.port, host: opts.host }), { pgPort: opts.pgPort, pgTlsCert: opts.pgTlsCert, pgTlsKey: opts.pgTlsKey })),
    );
  program
    .command('start')
    .description('Initialise the data directory if needed, then serve it')
    .option('--port <port>', 'port to listen on', (v) => Number(v))
    .option('--host <host>', 'interface to bind')
    .action((opts: { port?: number; host?: string }) =>
      ctx.run(async () => {
        const config = ctx.config({ port: opts.port, host: opts.host });
        if (!isInitialised(config.dataDir)) await init(config);
        await serve(config);
      }),
    );
}
