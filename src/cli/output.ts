/**
 * CLI output: aligned text tables for people, JSON for scripts (`--json`), and errors as `code: message`.
 */
import { isRoundtripError } from '../core/errors.ts';

export type Row = Record<string, unknown>;

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

export function table(rows: Row[], columns?: string[]): string {
  if (rows.length === 0) return '(none)';
  const cols = columns ?? Object.keys(rows[0]!);
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => Math.min(r[i]!.length, 60))));
  const line = (values: string[]) => values.map((v, i) => (v.length > 60 ? `${v.slice(0, 57)}...` : v).padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export interface Printer {
  json: boolean;
  rows(rows: Row[], columns?: string[]): void;
  value(value: unknown): void;
  note(message: string): void;
}

export function printer(json: boolean): Printer {
  return {
    json,
    rows: (rows, columns) => console.log(json ? JSON.stringify(rows, null, 2) : table(rows, columns)),
    value: (value) => console.log(JSON.stringify(value, null, 2)),
    note: (message) => {
      if (!json) console.log(message);
    },
  };
}

export function describeError(error: unknown): string {
  if (isRoundtripError(error)) {
    const issues = (error.details as { issues?: { path: string; message: string }[] } | undefined)?.issues ?? [];
    const more = issues.slice(1, 6).map((i) => `\n  - ${i.path} ${i.message}`).join('');
    return `${error.code}: ${error.message}${more}`;
  }
  return `RT_INTERNAL: ${(error as Error).message}`;
}
