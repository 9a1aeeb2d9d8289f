/**
 * The end of the demo: serve the filled data directory as `roundtrip serve` does (API, console at `/console/`,
 * the scheduler's timer, `server.json` for the CLI), with the identity follower back on, until Ctrl-C.
 */
import { clearServerInfo, writeServerInfo } from '../platform/data-dir.ts';
import type { Config } from '../core/config.ts';
import { startBackgroundWork } from '../server/background.ts';
import { openForDemo } from './setup.ts';

export interface Served {
  url: string;
  stop(): Promise<void>;
}

export async function serveDemo(config: Config): Promise<Served> {
  const { platform, app } = await openForDemo(config, true);
  let url: string;
  try {
    url = await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await app.close();
    await platform.close();
    throw error;
  }
  startBackgroundWork(platform, app.log);
  writeServerInfo(config.dataDir, { pid: process.pid, url, startedAt: new Date().toISOString() });
  return {
    url,
    stop: async () => {
      clearServerInfo(config.dataDir, process.pid);
      await app.close();
      await platform.close();
    },
  };
}
