/**
 * `roundtrip sql "…"`: runs Data Distiller SQL (statements and anonymous blocks) and prints the last result
 * as a table, JSON or CSV; `roundtrip sql --file script.sql`; `roundtrip queries` shows the query log.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { RoundtripError } from '../../core/errors.ts';
import type { QueryOutcome } from '../../query/types.ts';
import type { CliContext } from '../context.ts';
import { table, type Row } from '../output.ts';

const csvCell = (value: unknown): string => {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

export function toCsv(columns: string[], rows: Row[]): string {
  return [columns.map(csvCell).join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\n');
}

function print(outcome: QueryOutcome, format: string): void {
  const last = outcome.last;
  const columns = last.columns.map((c) => c.name);
  if (format === 'json') console.log(JSON.stringify(outcome, null, 2));
  else if (format === 'csv') console.log(toCsv(columns, last.rows));
  else {
    for (const r of outcome.results.slice(0, -1)) if (r.message) console.log(r.message);
    if (columns.length) console.log(table(last.rows, columns));
    if (last.message) console.log(last.message);
    if (last.truncated) console.error(`(first ${last.rows.length} rows; pass --limit for more)`);
  }
}

const collectParam = (value: string, previous: Record<string, string> = {}): Record<string, string> => {
  const at = value.indexOf('=');
  if (at < 1) throw new RoundtripError('RT_REQUEST_INVALID', `--param takes NAME=value, not "${value}".`);
  return { ...previous, [value.slice(0, at).replace(/^\$/, '')]: value.slice(at + 1) };
};

export function sqlCommands(program: Command, ctx: CliContext): void {
  program
    .command('sql [statement]')
    .description('Run Data Distiller SQL in the sandbox and print the last result')
    .option('--file <path>', 'read the SQL from a file (- for standard input)')
    .option('--format <format>', 'table, json or csv', 'table')
    .option('--limit <n>', 'rows to return (at most 500)', (v) => Number(v))
    .option('--param <NAME=value>', "value for a '$NAME' placeholder (repeat)", collectParam)
    .action((statement: string | undefined, opts: { file?: string; format: string; limit?: number; param?: Record<string, string> }) =>
      ctx.withClient(async (api) => {
        const sql = opts.file ? readFileSync(opts.file === '-' ? 0 : opts.file, 'utf8') : statement;
        if (!sql) throw new RoundtripError('RT_REQUEST_INVALID', 'Give the SQL as an argument or with --file.');
        if (!['table', 'json', 'csv'].includes(opts.format)) throw new RoundtripError('RT_REQUEST_INVALID', '--format is table, json or csv.');
        print(await api.request<QueryOutcome>('POST', '/queries', { sql, params: opts.param, limit: opts.limit }), opts.format);
      }),
    );
  program
    .command('queries')
    .description('The query log of the sandbox, newest first')
    .option('--limit <n>', 'how many', '20')
    .action((opts: { limit: string }) =>
      ctx.withClient(async (api, out) => {
        const { queries } = await api.request<{ queries: Row[] }>('GET', `/queries?limit=${encodeURIComponent(opts.limit)}`);
        out.rows(queries.map((q) => ({ ...q, sql: String(q.sql).replace(/\s+/g, ' ').slice(0, 60) })), ['id', 'startedAt', 'actor', 'status', 'durationMs', 'rowCount', 'sql']);
      }),
    );
}
