/**
 * What every CLI command shares: the resolved configuration (global flags + env + file), the client to the
 * platform, the printer, and one place that turns failures into `RT_…: message` and an exit code.
 */
import type { Command } from 'commander';
import { resolveConfig, type Config } from '../core/config.ts';
import { connect, type ApiClient } from './client.ts';
import { describeError, printer, type Printer } from './output.ts';

export interface GlobalOptions {
  dataDir?: string;
  sandbox?: string;
  apiKey?: string;
  url?: string;
  json?: boolean;
}

export interface CliContext {
  config(flags?: Partial<Config>): Config;
  out(): Printer;
  /** Runs `work` with a client; closes it and reports errors. */
  withClient(work: (client: ApiClient, out: Printer) => Promise<void>): Promise<void>;
  run(work: () => Promise<void>): Promise<void>;
}

export function cliContext(program: Command): CliContext {
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const run = async (work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (error) {
      console.error(describeError(error));
      process.exitCode = 1;
    }
  };
  const config = (flags: Partial<Config> = {}): Config =>
    resolveConfig({ flags: { dataDir: globals().dataDir, ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) } });
  return {
    config,
    out: () => printer(Boolean(globals().json)),
    run,
    withClient: (work) =>
      run(async () => {
        const g = globals();
        const client = await connect({ config: config(), sandbox: g.sandbox, apiKey: g.apiKey, url: g.url });
        try {
          await work(client, printer(Boolean(g.json)));
        } finally {
          await client.close();
        }
      }),
  };
}
