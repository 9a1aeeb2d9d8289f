/**
 * Test support for templates and schedules: a real platform (DuckDB, SQLite metadata, the query service) on a
 * temporary data directory whose clock the test sets, that can be closed and reopened on the same directory as a
 * restart; and a webhook receiver on 127.0.0.1 that records what it is sent.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../core/clock.ts';
import { resolveConfig, type Config } from '../../core/config.ts';
import { initDataDir, openPlatform, type Platform } from '../../platform/platform.ts';
import { buildApp, type App } from '../../server/app.ts';
import type { Json } from '../../testing/platform.ts';
import { createTestSchema, POSTGRES_URL } from '../../testing/postgres.ts';
import { tempDir } from '../../testing/temp.ts';

export class FakeClock implements Clock {
  private at: number;
  constructor(iso: string) {
    this.at = Date.parse(iso);
  }
  now(): Date {
    return new Date(this.at);
  }
  set(iso: string): Date {
    this.at = Date.parse(iso);
    return this.now();
  }
}

export interface Bed {
  clock: FakeClock;
  config: Config;
  platform: Platform;
  app: App;
  token: string;
  /** JSON request as the admin key in `prod`. */
  call(method: string, url: string, body?: unknown): Promise<{ status: number; body: Json }>;
  /** Sets the clock, ticks the scheduler at that instant and waits for the runs it started. */
  tickAt(iso: string): Promise<void>;
  /** Closes the platform and opens it again on the same data directory (a restart). */
  restart(untilIso?: string): Promise<void>;
  dispose(): Promise<void>;
}

/** `postgres` puts the metadata in PostgreSQL (a schema of its own, dropped on dispose) instead of SQLite. */
export async function createBed(startIso: string, options: { postgres?: boolean } = {}): Promise<Bed> {
  const temp = tempDir('roundtrip-schedules-');
  const clock = new FakeClock(startIso);
  let databaseUrl: string | undefined;
  let dropSchema = (): Promise<void> => Promise.resolve();
  if (options.postgres) {
    const schema = await createTestSchema();
    dropSchema = schema.drop;
    const url = new URL(POSTGRES_URL!);
    url.searchParams.set('options', `-c search_path=${schema.schema}`);
    databaseUrl = url.toString();
  }
  const config = resolveConfig({ env: {}, flags: { dataDir: temp.dir, logLevel: 'silent', duckdbMemoryLimit: '512MB', duckdbThreads: 1, databaseUrl } });
  const { adminToken } = await initDataDir(config, clock);
  const open = async (): Promise<{ platform: Platform; app: App }> => {
    const platform = await openPlatform(config, clock);
    const app = await buildApp(platform, { auth: 'api-key', logLevel: 'silent' });
    await app.ready();
    return { platform, app };
  };
  const close = async (): Promise<void> => {
    await bed.app.close();
    await bed.platform.close();
  };
  const bed: Bed = {
    clock,
    config,
    token: adminToken,
    ...(await open()),
    call: async (method, url, body) => {
      const response = await bed.app.inject({
        method: method as 'GET',
        url,
        headers: { authorization: `Bearer ${adminToken}` },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      return { status: response.statusCode, body: response.body ? (JSON.parse(response.body) as unknown) : {} };
    },
    tickAt: async (iso) => {
      await bed.platform.schedules.tick(clock.set(iso));
      await bed.platform.schedules.idle();
    },
    restart: async (untilIso) => {
      await close();
      if (untilIso) clock.set(untilIso);
      Object.assign(bed, await open());
    },
    dispose: async () => {
      await close();
      temp.remove();
      await dropSchema();
    },
  };
  return bed;
}

export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  json: { event: string; schedule: { id: string }; run: { id: string; status: string } | null; message: string };
}

export interface WebhookReceiver {
  url: string;
  deliveries: Delivery[];
  /** Deliveries for one schedule, as event names in order. */
  events(scheduleId: string): string[];
  close(): Promise<void>;
}

export async function startWebhook(status = 204): Promise<WebhookReceiver> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      deliveries.push({ headers: req.headers, body, json: JSON.parse(body) as Delivery['json'] });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    deliveries,
    events: (scheduleId) => deliveries.filter((d) => d.json.schedule.id === scheduleId).map((d) => d.json.event),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
