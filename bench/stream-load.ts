/**
 * Load generator for the streaming benchmark, run as its own process so it does not share an event loop (or a
 * profile) with the server: autocannon posting collection envelopes with `eventsPerRequest` events each, every
 * event with a unique `_id`, and printing autocannon's result (plus the events it had acknowledged) as JSON.
 *
 *   npx tsx bench/stream-load.ts '{"url":"http://127.0.0.1:PORT","connectionId":"sc_…","secret":"rtc_…",
 *                                 "eventsPerRequest":100,"requests":5000,"connections":32,"runId":"a"}'
 */
import { createRequire } from 'node:module';

/** The part of autocannon 8's API used here (the package ships no type declarations). */
interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  setupRequest(request: Record<string, unknown>): Record<string, unknown>;
}
interface AutocannonResult {
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
  requests: { sent: number };
  statusCodeStats?: Record<string, { count: number }>;
  latency: { p50: number; p90: number; p99: number; max: number };
}
type Autocannon = (options: { url: string; connections: number; amount: number; timeout: number; overallRate?: number; requests: AutocannonRequest[] }) => Promise<AutocannonResult>;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface LoadOptions {
  url: string;
  connectionId: string;
  secret: string;
  eventsPerRequest: number;
  /** Requests to send; all are awaited, so acknowledged counts are exact. */
  requests: number;
  connections: number;
  /** Prefix of the event ids, unique per run. */
  runId: string;
  /** Requests/s offered in all (autocannon's `overallRate`); as fast as acknowledged when absent. */
  rate?: number;
}

export interface LoadResult {
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  eventsAcknowledged: number;
  durationSeconds: number;
  requestsPerSecond: number;
  eventsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

/** One event as a browser or app would send it (~350 bytes), with the id spliced in. */
function eventText(id: string, n: number): string {
  return (
    `{"header":{"schemaRef":{"id":"bench"}},"body":{"xdmEntity":{"_id":"${id}","timestamp":"${new Date(1_714_000_000_000 + n).toISOString()}",` +
    `"eventType":"commerce.productViews","commerce":{"productViews":{"value":1}},` +
    `"productListItems":[{"SKU":"SKU-${n % 997}","name":"Trail shoe","quantity":1,"priceTotal":59.9}],` +
    `"web":{"webPageDetails":{"name":"Product","URL":"https://shop.example/p/${n % 997}"}},` +
    `"identityMap":{"ECID":[{"id":"ecid-${n % 100_000}","authenticatedState":"ambiguous","primary":true}]}}}}`
  );
}

/** Request bodies are built by string concatenation: JSON.stringify in the generator would steal CPU from the server. */
function bodyFactory(options: LoadOptions): () => string {
  let next = 0;
  return () => {
    const events: string[] = [];
    for (let i = 0; i < options.eventsPerRequest; i++, next++) events.push(eventText(`${options.runId}-${next}`, next));
    return options.eventsPerRequest === 1 ? events[0]! : `{"messages":[${events.join(',')}]}`;
  };
}

async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const body = bodyFactory(options);
  const path = options.eventsPerRequest === 1 ? `/collection/${options.connectionId}` : `/collection/batch/${options.connectionId}`;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    amount: options.requests,
    timeout: 30,
    ...(options.rate !== undefined && { overallRate: options.rate }),
    requests: [
      {
        method: 'POST',
        path,
        headers: { authorization: `Bearer ${options.secret}`, 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: body() }),
      },
    ],
  });
  const ok = result['2xx'];
  const durationSeconds = result.duration;
  return {
    requests: result.requests.sent,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, v]) => [code, v.count])),
    eventsAcknowledged: ok * options.eventsPerRequest,
    durationSeconds,
    requestsPerSecond: ok / durationSeconds,
    eventsPerSecond: (ok * options.eventsPerRequest) / durationSeconds,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
  };
}

const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
console.log(JSON.stringify(await runLoad(options)));
