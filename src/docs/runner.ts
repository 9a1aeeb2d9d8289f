/**
 * Runs the documentation's runnable examples against a platform's HTTP app, in order, as a reader would:
 *
 * - ```sql runnable — `POST /queries` (the real query service, as `roundtrip sql` calls it); options
 *   `expect-rows=N` / `expect-rows>=N` (the last statement's row count), `expect-error=RT_…`.
 * - ```http runnable — `METHOD /path`, optional `Name: value` header lines, a blank line, a JSON body; sent with
 *   `app.inject` as the admin key in the `prod` sandbox unless the block sets `Authorization`; option
 *   `expect-status=N` (else any 2xx).
 * - A following ```expect block holds JSON the answer must contain: rows (SQL) or the body (HTTP); objects match on
 *   the keys they list, arrays element by element and in full length.
 * - `poll=N` sends the block again (every 250 ms, at most N times) until it passes: for work that finishes in the
 *   background (a segment job), as a reader polls.
 * - `as=name` keeps the answer (the rows of a SQL block, the body of an HTTP one) for later blocks of the page,
 *   which write `{{name.path.0.field}}` where they need a value from it (an id, a date).
 *
 * A failure names the page and line of the block.
 */
import { isDeepStrictEqual } from 'node:util';
import type { RunnableExample } from './markdown.ts';

/** What the runner needs of the platform: an HTTP app to inject into and a key to act with. */
export interface ExampleTarget {
  inject(request: { method: string; url: string; headers: Record<string, string>; payload?: string }): Promise<{ statusCode: number; body: string }>;
  adminToken: string;
  sandbox: string;
}

export const RUNNABLE_LANGUAGES = new Set(['sql', 'http']);

export class ExampleFailure extends Error {
  constructor(example: Pick<RunnableExample, 'file' | 'line'>, message: string) {
    super(`${example.file}:${example.line}: ${message}`);
  }
}

/** `{{name.path}}` → the value kept by an earlier `as=name` block of the page. */
export function fillPlaceholders(text: string, kept: ReadonlyMap<string, unknown>, example: RunnableExample): string {
  // A placeholder that is a whole JSON string ("{{x}}") takes the value as JSON, escaped (SQL text in a body).
  const quoted = text.replace(/"\{\{\s*([A-Za-z_][\w]*)((?:\.[\w-]+)*)\s*\}\}"/g, (_m, name: string, path: string) => JSON.stringify(valueAt(kept, name, path, example)));
  return quoted.replace(/\{\{\s*([A-Za-z_][\w]*)((?:\.[\w-]+)*)\s*\}\}/g, (_m, name: string, path: string) => {
    const value = valueAt(kept, name, path, example);
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}

function valueAt(kept: ReadonlyMap<string, unknown>, name: string, path: string, example: RunnableExample): unknown {
  if (!kept.has(name)) throw new ExampleFailure(example, `{{${name}${path}}}: no earlier block of this page kept "${name}" (as=${name}).`);
  let value: unknown = kept.get(name);
  for (const key of path.split('.').filter(Boolean)) {
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    if (value === undefined) throw new ExampleFailure(example, `{{${name}${path}}}: "${key}" is not in the kept answer.`);
  }
  return value;
}

/** Whether `actual` holds everything `expected` lists (see the header). Returns the first difference's path. */
export function containsAt(actual: unknown, expected: unknown, path = '$'): string | undefined {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path}: expected an array`;
    if (actual.length !== expected.length) return `${path}: ${actual.length} items, expected ${expected.length}`;
    for (let i = 0; i < expected.length; i++) {
      const at = containsAt(actual[i], expected[i], `${path}[${i}]`);
      if (at) return at;
    }
    return undefined;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${path}: expected an object`;
    for (const [key, value] of Object.entries(expected)) {
      const at = containsAt((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
      if (at) return at;
    }
    return undefined;
  }
  return isDeepStrictEqual(actual, expected) ? undefined : `${path}: ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`;
}

interface Answer {
  status: number;
  body: unknown;
}

async function send(target: ExampleTarget, method: string, url: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const all: Record<string, string> = { authorization: `Bearer ${target.adminToken}`, 'x-sandbox-name': target.sandbox, ...headers };
  if (body !== undefined && !Object.keys(all).some((h) => h.toLowerCase() === 'content-type')) all['content-type'] = 'application/json';
  const response = await target.inject({ method, url, headers: all, ...(body === undefined ? {} : { payload: body }) });
  let parsed: unknown = response.body;
  try {
    parsed = response.body ? (JSON.parse(response.body) as unknown) : undefined;
  } catch {
    // Not JSON (a CSV, a PDF): kept as text.
  }
  return { status: response.statusCode, body: parsed };
}

/** `METHOD /path`, headers, blank line, body. */
export function parseHttp(text: string, example: RunnableExample): { method: string; url: string; headers: Record<string, string>; body?: string } {
  const lines = text.replace(/^\s*\n/, '').split('\n');
  const request = /^\s*(GET|POST|PUT|PATCH|DELETE)\s+(\/\S*)(?:\s+HTTP\/[\d.]+)?\s*$/.exec(lines[0] ?? '');
  if (!request) throw new ExampleFailure(example, `an http block starts with "METHOD /path", not "${lines[0] ?? ''}".`);
  const headers: Record<string, string> = {};
  let i = 1;
  for (; i < lines.length && lines[i]!.trim() !== ''; i++) {
    const header = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(lines[i]!);
    if (!header) throw new ExampleFailure(example, `"${lines[i]!}" is not a header line; leave a blank line before the body.`);
    headers[header[1]!.toLowerCase()] = header[2]!.trim();
  }
  const body = lines.slice(i + 1).join('\n').trim();
  return { method: request[1]!, url: request[2]!, headers, ...(body ? { body } : {}) };
}

function errorOf(body: unknown): { code?: string; message?: string } {
  return (body as { error?: { code?: string; message?: string } } | undefined)?.error ?? {};
}

async function runSql(target: ExampleTarget, example: RunnableExample, sql: string): Promise<unknown> {
  const answer = await send(target, 'POST', '/queries', {}, JSON.stringify({ sql, limit: 500 }));
  const expectedError = example.options.get('expect-error')?.value;
  const error = errorOf(answer.body);
  if (expectedError) {
    if (error.code !== expectedError) throw new ExampleFailure(example, `expected ${expectedError}, got ${answer.status} ${error.code ?? JSON.stringify(answer.body).slice(0, 300)}`);
    return answer.body;
  }
  if (answer.status !== 200) throw new ExampleFailure(example, `the SQL failed: ${error.code ?? answer.status}: ${error.message ?? JSON.stringify(answer.body)}`);
  const last = (answer.body as { last: { rows: unknown[]; rowCount: number } }).last;
  const rows = example.options.get('expect-rows');
  if (rows) {
    const wanted = Number(rows.value);
    const ok = rows.op === '=' ? last.rowCount === wanted : last.rowCount >= wanted;
    if (!ok) throw new ExampleFailure(example, `expected ${rows.op === '=' ? '' : 'at least '}${wanted} rows, got ${last.rowCount}.`);
  }
  return last.rows;
}

async function runHttp(target: ExampleTarget, example: RunnableExample, text: string): Promise<unknown> {
  const request = parseHttp(text, example);
  const answer = await send(target, request.method, request.url, request.headers, request.body);
  const wanted = example.options.get('expect-status')?.value;
  const ok = wanted ? answer.status === Number(wanted) : answer.status >= 200 && answer.status < 300;
  if (!ok) {
    const error = errorOf(answer.body);
    throw new ExampleFailure(example, `${request.method} ${request.url} answered ${answer.status}${wanted ? ` (expected ${wanted})` : ''}: ${error.code ?? ''} ${error.message ?? JSON.stringify(answer.body).slice(0, 300)}`);
  }
  return answer.body;
}

async function runOnce(target: ExampleTarget, example: RunnableExample, text: string): Promise<unknown> {
  const answer = example.lang === 'sql' ? await runSql(target, example, text) : await runHttp(target, example, text);
  if (example.expect) {
    const difference = containsAt(answer, example.expect.value);
    if (difference) throw new ExampleFailure(example, `the answer differs from the expect block (line ${example.expect.line}) at ${difference}`);
  }
  return answer;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one page's examples in order; the first failure stops the page. Returns how many ran. */
export async function runExamples(target: ExampleTarget, examples: readonly RunnableExample[]): Promise<number> {
  const kept = new Map<string, unknown>();
  for (const example of examples) {
    if (!RUNNABLE_LANGUAGES.has(example.lang)) throw new ExampleFailure(example, `"${example.lang}" blocks cannot run; runnable blocks are ${[...RUNNABLE_LANGUAGES].join(', ')}.`);
    const text = fillPlaceholders(example.body, kept, example);
    const tries = Math.max(1, Number(example.options.get('poll')?.value ?? 1));
    let answer: unknown;
    for (let attempt = 1; ; attempt++) {
      try {
        answer = await runOnce(target, example, text);
        break;
      } catch (error) {
        if (!(error instanceof ExampleFailure) || attempt >= tries) throw error;
        await sleep(250);
      }
    }
    const name = example.options.get('as')?.value;
    if (name) kept.set(name, answer);
  }
  return examples.length;
}
