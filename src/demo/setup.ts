/**
 * Step 1 of the demo: a fresh data directory (an earlier demo directory is replaced, any other non-empty folder
 * refused), its admin key, and the platform opened on it with its HTTP app listening on a loopback port.
 *
 * The identity graph's background follower is switched off for the demo's own platform: the demo resolves
 * identities explicitly once the batch load is in (one bulk build instead of an incremental sync after each of
 * the dozen batches racing the next load). `roundtrip serve` afterwards opens the directory with the follower on.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RoundtripError } from '../core/errors.ts';
import { readServerInfo } from '../platform/data-dir.ts';
import { initDataDir, openPlatform, type Platform } from '../platform/platform.ts';
import type { Config } from '../core/config.ts';
import { buildApp, type App } from '../server/app.ts';
import type { DemoContext, Step } from './context.ts';

/** Left in a demo directory so the next run knows it may replace it. */
export const DEMO_MARKER = 'demo.json';

/** Empties `dir` when it is an earlier demo (or creates it); refuses any other non-empty folder. */
export function prepareDirectory(dir: string): 'created' | 'replaced' | 'empty' {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    return 'created';
  }
  const entries = readdirSync(dir);
  if (entries.length === 0) return 'empty';
  if (!entries.includes(DEMO_MARKER)) {
    throw new RoundtripError('RT_DEMO_DATA_DIR_NOT_EMPTY', `${dir} is not empty and is not an earlier demo directory (no ${DEMO_MARKER}); the demo replaces only its own. Give another --data-dir.`);
  }
  const server = readServerInfo(dir);
  if (server) throw new RoundtripError('RT_DATA_DIR_LOCKED', `A server (pid ${server.pid}, ${server.url}) serves the earlier demo in ${dir}; stop it first (Ctrl-C in its terminal).`);
  for (const entry of entries) rmSync(path.join(dir, entry), { recursive: true, force: true });
  return 'replaced';
}

/** Opens the platform with the background identity follower off (see the header), and its app. */
export async function openForDemo(config: Config, follow: boolean): Promise<{ platform: Platform; app: App }> {
  const key = 'ROUNDTRIP_IDENTITY_POLL_MS';
  const before = process.env[key];
  if (!follow && before === undefined) process.env[key] = '0';
  let platform: Platform;
  try {
    platform = await openPlatform(config);
  } finally {
    if (before === undefined) delete process.env[key];
  }
  // Request lines would drown the demo's progress; warnings and errors still show.
  const app = await buildApp(platform, { auth: 'api-key', logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel });
  return { platform, app };
}

export const initStep: Step = {
  name: 'init',
  title: 'Data directory and admin key',
  fix: 'Point --data-dir at a new or empty folder (or an earlier demo directory), and check it is writable.',
  async run(ctx: DemoContext) {
    const dir = ctx.options.dataDir;
    const how = prepareDirectory(dir);
    const { adminToken } = await initDataDir(ctx.config);
    writeFileSync(path.join(dir, DEMO_MARKER), JSON.stringify({ profiles: ctx.options.profiles, seed: ctx.options.seed, createdAt: new Date().toISOString() }, null, 2));
    ctx.state.adminToken = adminToken;
    ctx.progress(`Admin API key (shown once): ${adminToken}`);
    const { platform, app } = await openForDemo(ctx.config, false);
    ctx.state.platform = platform;
    ctx.state.app = app;
    ctx.cleanups.push(async () => {
      await app.close();
      await platform.close();
    });
    // Real HTTP for what a browser, a collector or a mail client would call: loopback, a free port.
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    ctx.state.baseUrl = address;
    return { counts: { sandboxes: 1 }, note: `${how} ${dir}` };
  },
};
