/**
 * `roundtrip demo [--profiles N] [--no-serve] [--port P]` (and `npm run demo`): the whole round trip on a fresh
 * demo data directory (`--data-dir`, default ./.roundtrip-demo), a summary table of every step, then the API and
 * console served on it. The steps are in `src/demo`; this file only parses flags and prints.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { RoundtripError } from '../../core/errors.ts';
import { DEMO_STEPS, formatSummary, runDemo } from '../../demo/index.ts';
import { serveDemo } from '../../demo/serve.ts';
import type { CliContext } from '../context.ts';

export const DEMO_DATA_DIR = './.roundtrip-demo';
export const DEMO_PROFILES = 100_000;

interface DemoFlags {
  profiles: number;
  serve: boolean;
  port?: number;
  host?: string;
  seed: number;
  streamEvents?: number;
}

const integer = (flag: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new RoundtripError('RT_REQUEST_INVALID', `${flag} takes a whole number, not "${value}".`);
  return n;
};

export function demoCommands(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description(`Run the whole round trip on a fresh demo data directory (--data-dir, default ${DEMO_DATA_DIR}), print a summary, then serve the console`)
    .option('--profiles <n>', 'people of the synthetic brand', integer('--profiles'), DEMO_PROFILES)
    .option('--no-serve', 'stop after the summary instead of serving the API and console')
    .option('--port <port>', 'port to serve on afterwards (default 8080)', integer('--port'))
    .option('--host <host>', 'interface to serve on afterwards')
    .option('--seed <n>', 'random seed of the brand and the simulated responses', integer('--seed'), 42)
    .option('--stream-events <n>', 'live events streamed after the batch load (default 3% of the profiles, 500-3,000)', integer('--stream-events'))
    .action((flags: DemoFlags) =>
      ctx.run(async () => {
        // Only the global --data-dir flag picks the folder: ROUNDTRIP_DATA_DIR names the real data directory, which
        // the demo must not try to replace.
        const dataDir = path.resolve(program.opts<{ dataDir?: string }>().dataDir ?? DEMO_DATA_DIR);
        // The demo runs on the embedded default (SQLite metadata): DATABASE_URL names a real deployment's database.
        const config = { ...ctx.config({ dataDir, port: flags.port, host: flags.host }), databaseUrl: undefined };
        const progress = (line: string): void => void process.stderr.write(`${line}\n`);
        const run = await runDemo(
          { dataDir, profiles: flags.profiles, serve: flags.serve, seed: flags.seed, ...(flags.streamEvents === undefined ? {} : { streamEvents: flags.streamEvents }), config, progress },
          DEMO_STEPS,
        );
        await run.close();
        console.log(`\nRoundtrip demo: ${flags.profiles.toLocaleString('en')} profiles in ${dataDir}\n`);
        console.log(formatSummary(run.steps, run.seconds));
        const key = run.context.state.adminToken!;
        if (!flags.serve) {
          console.log(`\nServe it later with: npx roundtrip --data-dir ${dataDir} serve   (admin key: ${key})`);
          return;
        }
        const served = await serveDemo(config);
        console.log(`\nConsole: ${served.url}/console/   API docs: ${served.url}/docs`);
        console.log(`Sign in with the admin key: ${key}`);
        console.log('Ctrl-C stops the server.');
        const stop = (): void => void served.stop().then(() => process.exit(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      }),
    );
}
