/**
 * Test support for the `roundtrip` command: runs `bin/roundtrip.js` as a child process on a given data
 * directory, with an environment that cannot pick up a PostgreSQL URL or a server key meant for other tests.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

export const ROUNDTRIP_BIN = path.resolve(import.meta.dirname, '../../bin/roundtrip.js');
const run = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cliEnv(dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ROUNDTRIP_DATA_DIR: dataDir, DATABASE_URL: '', ROUNDTRIP_API_KEY: '', ROUNDTRIP_LOG_LEVEL: 'warn', ...extra };
}

/** A runner bound to one environment: `await cli('sandbox', 'list')` → exit code, stdout, stderr (never throws). */
export function cliRunner(env: NodeJS.ProcessEnv): (...args: string[]) => Promise<CliResult> {
  return async (...args) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [ROUNDTRIP_BIN, ...args], { env });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
}
