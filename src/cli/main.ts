/**
 * The `roundtrip` command: global options, then one sub-command per admin action. Commands talk to the
 * HTTP API (a running server, or the same routes in-process), so the CLI and the API cannot drift apart.
 */
import { Command } from 'commander';
import { adminCommands } from './commands/admin.ts';
import { catalogCommands } from './commands/catalog.ts';
import { generateCommands } from './commands/generate.ts';
import { demoCommands } from './commands/demo.ts';
import { clvCommands } from './commands/clv.ts';
import { audienceCommands } from './commands/audiences.ts';
import { identityCommands } from './commands/identity.ts';
import { ingestCommands } from './commands/ingest.ts';
import { serverCommands } from './commands/server.ts';
import { scheduleCliCommands } from './commands/schedules.ts';
import { streamingCommands } from './commands/streaming.ts';
import { sqlCommands } from './commands/sql.ts';
import { backupCommands } from './commands/backup.ts';
import { campaignCommands } from './commands/campaigns.ts';
import { cliContext } from './context.ts';

export function buildProgram(): Command {
  const program = new Command('roundtrip')
    .description('Roundtrip: an open customer data platform built around customer lifetime value')
    .option('--data-dir <dir>', 'data directory (env ROUNDTRIP_DATA_DIR, default ./.roundtrip)')
    .option('--sandbox <name>', 'sandbox to act in (default prod)')
    .option('--api-key <key>', 'API key when talking to a server (env ROUNDTRIP_API_KEY)')
    .option('--url <url>', 'talk to this server instead of the data directory')
    .option('--json', 'print JSON instead of tables')
    .showHelpAfterError();
  const ctx = cliContext(program);
  serverCommands(program, ctx);
  adminCommands(program, ctx);
  catalogCommands(program, ctx);
  ingestCommands(program, ctx);
  sqlCommands(program, ctx);
  clvCommands(program, ctx);
  audienceCommands(program, ctx);
  streamingCommands(program, ctx);
  scheduleCliCommands(program, ctx);
  identityCommands(program, ctx);
  generateCommands(program, ctx);
  backupCommands(program, ctx);
  campaignCommands(program, ctx);
  demoCommands(program, ctx);
  return program;
}

await buildProgram().parseAsync(process.argv);
