/**
 * The ingestion benchmark in one run: batch CSV ingestion against plain DuckDB `read_csv` (`ingest-batch.ts`),
 * then streaming over loopback HTTP with 100 events per request and with one (`ingest-stream.ts`). Each part
 * runs as its own process so one's memory and threads do not skew the other.
 *
 *   npx tsx bench/ingest.ts [--rows 1000000] [--seconds 20]
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '20' } } });
const here = import.meta.dirname;

function run(script: string, args: string[]): void {
  console.log(`\n== ${script} ${args.join(' ')}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, script), ...args], { stdio: 'inherit' });
  if (result.status !== 0) process.exitCode = 1;
}

run('ingest-batch.ts', ['--rows', values.rows]);
run('ingest-stream.ts', ['--seconds', values.seconds]);
