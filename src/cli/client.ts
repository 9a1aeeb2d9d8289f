/**
 * How the CLI reaches the platform. DuckDB lets one process own a data directory, so when a server is running
 * on it (its `server.json` names a live pid) the CLI talks HTTP to that server with an API key; otherwise it
 * opens the directory itself and runs the very same routes in-process as the local operator. Either way one
 * code path — the HTTP API — does the work.
 */
import type { Config } from '../core/config.ts';
import { RoundtripError, type ErrorCode } from '../core/errors.ts';
import { readServerInfo } from '../platform/data-dir.ts';
import { openPlatform, type Platform } from '../platform/platform.ts';
import { buildApp, type App } from '../server/app.ts';

export interface ApiClient {
  /** Where requests go, for messages: a URL, or the data directory. */
  readonly target: string;
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Sends raw bytes (`application/octet-stream`, e.g. a batch file or chunk) with extra headers; the answer is JSON. */
  upload<T = unknown>(method: string, path: string, body: Uint8Array, headers?: Record<string, string>): Promise<T>;
  /** A non-JSON answer (e.g. a JSON Lines download) as text. */
  requestText(method: string, path: string): Promise<string>;
  close(): Promise<void>;
}

export interface ClientOptions {
  config: Config;
  sandbox?: string;
  apiKey?: string;
  url?: string;
}

function failure(status: number, body: unknown): RoundtripError {
  const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
  if (error?.code?.startsWith('RT_')) return new RoundtripError(error.code as ErrorCode, error.message ?? '', error.details);
  return new RoundtripError('RT_INTERNAL', `Unexpected answer (HTTP ${status}).`);
}

/** A JSON answer, or undefined for an empty or non-JSON one (the status code then speaks). */
function parseJson(text: string): unknown {
  try {
    return text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

function headers(sandbox: string | undefined, apiKey?: string, json = false): Record<string, string> {
  return {
    ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
    ...(sandbox ? { 'x-sandbox-name': sandbox } : {}),
    ...(json ? { 'content-type': 'application/json' } : {}),
  };
}

class HttpClient implements ApiClient {
  constructor(
    readonly target: string,
    private readonly sandbox: string | undefined,
    private readonly apiKey: string,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.target), {
        method,
        headers: headers(this.sandbox, this.apiKey, body !== undefined),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new RoundtripError('RT_SERVER_UNREACHABLE', `The server at ${this.target} did not answer: ${(error as Error).message}`);
    }
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) throw failure(response.status, parsed);
    return parsed as T;
  }

  private async send(method: string, path: string, init: { body?: Uint8Array; headers?: Record<string, string> }): Promise<{ status: number; text: string }> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.target), { method, headers: { ...headers(this.sandbox, this.apiKey), ...init.headers }, ...(init.body ? { body: init.body } : {}) });
    } catch (error) {
      throw new RoundtripError('RT_SERVER_UNREACHABLE', `The server at ${this.target} did not answer: ${(error as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) throw failure(response.status, parseJson(text));
    return { status: response.status, text };
  }

  async upload<T>(method: string, path: string, body: Uint8Array, extra: Record<string, string> = {}): Promise<T> {
    return parseJson((await this.send(method, path, { body, headers: { 'content-type': 'application/octet-stream', ...extra } })).text) as T;
  }

  async requestText(method: string, path: string): Promise<string> {
    return (await this.send(method, path, {})).text;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

class InProcessClient implements ApiClient {
  constructor(
    readonly target: string,
    private readonly sandbox: string | undefined,
    private readonly platform: Platform,
    private readonly app: App,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.app.inject({
      method: method as 'GET',
      url: path,
      headers: headers(this.sandbox, undefined, body !== undefined),
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    const parsed = response.body ? (JSON.parse(response.body) as unknown) : undefined;
    if (response.statusCode >= 400) throw failure(response.statusCode, parsed);
    return parsed as T;
  }

  async upload<T>(method: string, path: string, body: Uint8Array, extra: Record<string, string> = {}): Promise<T> {
    const response = await this.app.inject({
      method: method as 'PUT',
      url: path,
      headers: { ...headers(this.sandbox), 'content-type': 'application/octet-stream', ...extra },
      payload: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    });
    if (response.statusCode >= 400) throw failure(response.statusCode, parseJson(response.body));
    return parseJson(response.body) as T;
  }

  async requestText(method: string, path: string): Promise<string> {
    const response = await this.app.inject({ method: method as 'GET', url: path, headers: headers(this.sandbox) });
    if (response.statusCode >= 400) throw failure(response.statusCode, parseJson(response.body));
    return response.body;
  }

  async close(): Promise<void> {
    await this.app.close();
    await this.platform.close();
  }
}

export async function connect(options: ClientOptions): Promise<ApiClient> {
  const server = options.url ?? readServerInfo(options.config.dataDir)?.url;
  if (server) {
    const apiKey = options.apiKey ?? process.env.ROUNDTRIP_API_KEY;
    if (!apiKey) {
      throw new RoundtripError('RT_AUTH_MISSING', `A server at ${server} owns ${options.config.dataDir}; set ROUNDTRIP_API_KEY (or --api-key) to talk to it.`);
    }
    return new HttpClient(server, options.sandbox, apiKey);
  }
  let platform: Platform;
  try {
    platform = await openPlatform(options.config);
  } catch (error) {
    if (error instanceof RoundtripError && error.code === 'RT_WAREHOUSE_FAILED' && /lock/i.test(error.message)) {
      throw new RoundtripError('RT_DATA_DIR_LOCKED', `Another process holds ${options.config.dataDir}; run the command against its server (--url, ROUNDTRIP_API_KEY).`);
    }
    throw error;
  }
  const app = await buildApp(platform, { auth: 'local-operator', logLevel: 'warn' });
  await app.ready();
  return new InProcessClient(options.config.dataDir, options.sandbox, platform, app);
}
