/**
 * What the demo's steps share: the options, the platform and its HTTP app (in-process for admin calls, on a
 * loopback port for the calls that must be real HTTP: streaming collection and tracking), and what each step
 * leaves for the next ones (dataset ids, the merge policy, audiences, the campaign). A step is a small named
 * function with the fix to print when it fails; the runner (`runner.ts`) times it and collects its counts.
 */
import { LOCAL_OPERATOR, type Principal } from '../access/principal.ts';
import type { Config } from '../core/config.ts';
import { RoundtripError, type ErrorCode } from '../core/errors.ts';
import type { Platform } from '../platform/platform.ts';
import type { MergePolicyRecord } from '../ports/metadata-store.ts';
import type { App } from '../server/app.ts';
import type { Manifest } from '../synthetic/index.ts';

export const SANDBOX = 'prod';

export interface DemoOptions {
  /** The demo's data directory (replaced when it holds an earlier demo). */
  dataDir: string;
  /** Distinct people of the synthetic brand. */
  profiles: number;
  /** Live events streamed after the batch load (default: 3% of the profiles, between 500 and 3,000). */
  streamEvents?: number;
  seed?: number;
  /** Keep serving the API and console after the summary. */
  serve: boolean;
  /** Configuration besides the data directory (port, host, tenant, DuckDB limits, log level). */
  config?: Partial<Config>;
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
}

/** What one step reports: counts for the summary (and the test), a short note, or why it was skipped. */
export interface StepResult {
  counts: Record<string, number>;
  note?: string;
  skipped?: string;
}

export interface Step {
  name: string;
  title: string;
  /** What to do when the step fails, printed with the error. */
  fix: string;
  run(ctx: DemoContext): Promise<StepResult>;
}

export interface Audience {
  id: string;
  /** Short stable name used in the summary (top-gold, at-risk, …). */
  key: string;
  name: string;
  pql: string;
  members: number;
}

export interface CampaignOutcome {
  id: string;
  segmentId: string;
  sent: number;
  heldOut: number;
  suppressed: number;
  noAddress: number;
  received: number;
  opens: number;
  clicks: number;
}

/** State the steps fill in, in order; a later step asks for what it needs with `need`. */
export interface DemoState {
  adminToken?: string;
  platform?: Platform;
  app?: App;
  /** `http://127.0.0.1:<port>` of the listening app. */
  baseUrl?: string;
  brandDir?: string;
  manifest?: Manifest;
  /** Dataset id per brand dataset key (profiles, orders, loyalty, web, email). */
  datasets: Map<string, string>;
  policy?: MergePolicyRecord;
  audiences: Audience[];
  exportFolder?: string;
  campaign?: CampaignOutcome;
}

export interface DemoContext {
  options: Required<Pick<DemoOptions, 'dataDir' | 'profiles' | 'seed' | 'serve'>> & { streamEvents: number };
  config: Config;
  actor: Principal;
  state: DemoState;
  progress(line: string): void;
  /** Closed in reverse order when the demo ends (servers, sinks), unless serving keeps them. */
  cleanups: (() => Promise<void>)[];
}

export function createContext(options: DemoOptions, config: Config): DemoContext {
  const streamEvents = options.streamEvents ?? Math.min(3000, Math.max(500, Math.round(options.profiles * 0.03)));
  return {
    options: { dataDir: config.dataDir, profiles: options.profiles, seed: options.seed ?? 42, serve: options.serve, streamEvents },
    config,
    actor: LOCAL_OPERATOR,
    state: { datasets: new Map(), audiences: [] },
    progress: options.progress ?? (() => undefined),
    cleanups: [],
  };
}

/** A value an earlier step leaves; missing means the steps ran out of order (a bug, not a user error). */
export function need<K extends keyof DemoState>(ctx: DemoContext, key: K): NonNullable<DemoState[K]> {
  const value = ctx.state[key];
  if (value === undefined || value === null) throw new RoundtripError('RT_DEMO_STEP_FAILED', `The demo's ${String(key)} is not set: an earlier step did not run.`);
  return value;
}

/** A JSON call to the platform's HTTP API in-process, as the demo's admin key; non-2xx answers throw their `RT_…` code. */
export async function api<T = Record<string, unknown>>(ctx: DemoContext, method: string, url: string, body?: unknown): Promise<T> {
  const app = need(ctx, 'app');
  const response = await app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${need(ctx, 'adminToken')}`, 'x-sandbox-name': SANDBOX },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  const answer = response.body ? (JSON.parse(response.body) as unknown) : undefined;
  if (response.statusCode >= 300) {
    const error = (answer as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    throw new RoundtripError((error?.code ?? 'RT_INTERNAL') as ErrorCode, `${method} ${url}: ${error?.message ?? response.body}`, error?.details);
  }
  return answer as T;
}

/** One SQL statement on the sandbox warehouse; rows as plain JSON. */
export async function sql(ctx: DemoContext, statement: string): Promise<Record<string, unknown>[]> {
  const warehouse = await need(ctx, 'platform').warehouse.sandbox(SANDBOX);
  return (await warehouse.query(statement)).rows;
}

/** The first column of the first row as a number (counts). */
export async function count(ctx: DemoContext, statement: string): Promise<number> {
  const row = (await sql(ctx, statement))[0];
  return Number(Object.values(row ?? {})[0] ?? 0);
}
