/**
 * Test support: a real platform (DuckDB files, SQLite metadata or PostgreSQL when asked) in a temporary data
 * directory, with its HTTP app and an admin key, plus a small client for `app.inject`.
 */
import { resolveConfig, type Config } from '../core/config.ts';
import { initDataDir, openPlatform, type Platform } from '../platform/platform.ts';
import { buildApp, type App } from '../server/app.ts';
import { tempDir } from './temp.ts';

/** Response bodies in tests are read freely; the assertions are the type check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- arbitrary JSON bodies
export type Json = any;

export interface TestPlatform {
  platform: Platform;
  app: App;
  adminToken: string;
  config: Config;
  /** JSON request as the given key (admin by default) in the given sandbox. */
  call(method: string, url: string, options?: { body?: unknown; token?: string | null; sandbox?: string }): Promise<{ status: number; body: Json }>;
  dispose(): Promise<void>;
}

export async function createTestPlatform(overrides: Partial<Config> = {}): Promise<TestPlatform> {
  const temp = tempDir();
  const config = resolveConfig({ env: {}, flags: { dataDir: temp.dir, logLevel: 'silent', duckdbMemoryLimit: '1GB', ...overrides } });
  const { adminToken } = await initDataDir(config);
  const platform = await openPlatform(config);
  const app = await buildApp(platform, { auth: 'api-key', logLevel: 'silent' });
  await app.ready();
  const call: TestPlatform['call'] = async (method, url, options = {}) => {
    const token = options.token === undefined ? adminToken : options.token;
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (options.sandbox) headers['x-sandbox-name'] = options.sandbox;
    const response = await app.inject({ method: method as 'GET', url, headers, ...(options.body === undefined ? {} : { payload: options.body as object }) });
    return { status: response.statusCode, body: response.body ? (JSON.parse(response.body) as unknown) : undefined };
  };
  return {
    platform,
    app,
    adminToken,
    config,
    call,
    dispose: async () => {
      await app.close();
      await platform.close();
      temp.remove();
    },
  };
}
