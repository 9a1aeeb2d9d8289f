/**
 * `roundtrip init`, `roundtrip serve` and `roundtrip start` (init when needed, then serve).
 */
import type { Command } from 'commander';
import { isInitialised, clearServerInfo, writeServerInfo } from '../../platform/data-dir.ts';
import { initDataDir, openPlatform } from '../../platform/platform.ts';
import { buildApp } from '../../server/app.ts';
import type { Config } from '../../core/config.ts';
import type { CliContext } from '../context.ts';

async function init(config: Config): Promise<void> {
  const result = await initDataDir(config);
  console.log(`Initialised ${result.dataDir} with sandbox "${result.sandbox}".`);
  console.log(`Admin API key (shown once, store it now): ${result.adminToken}`);
  console.log(`  export ROUNDTRIP_API_KEY=${result.adminToken}`);
}

async function serve(config: Config): Promise<void> {
  const platform = await openPlatform(config);
  const app = await buildApp(platform, { auth: 'api-key' });
  const address = await app.listen({ host: config.host, port: config.port });
  writeServerInfo(config.dataDir, { pid: process.pid, url: address, startedAt: new Date().toISOString() });
  console.log(`Roundtrip serves ${config.dataDir} at ${address} (API docs: ${address}/docs)`);
  const stop = async (): Promise<void> => {
    clearServerInfo(config.dataDir, process.pid);
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
    .action((opts: { port?: number; host?: string }) => ctx.run(() => serve(ctx.config({ port: opts.port, host: opts.host }))));
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
