/**
 * Runs the demo's steps in order: announces each, times it, keeps its counts, and turns a failure into an error
 * that names the step and its fix while keeping the underlying `RT_…` code (or `RT_DEMO_STEP_FAILED` for
 * anything unexpected). The summary table is built here too.
 */
import { resolveConfig } from '../core/config.ts';
import { isRoundtripError, RoundtripError } from '../core/errors.ts';
import { createContext, type DemoContext, type DemoOptions, type Step } from './context.ts';

export interface StepRecord {
  name: string;
  title: string;
  status: 'ok' | 'skipped' | 'failed';
  seconds: number;
  counts: Record<string, number>;
  note?: string;
}

export interface DemoRun {
  steps: StepRecord[];
  seconds: number;
  context: DemoContext;
  /** Closes what the steps opened (app, platform, sinks), in reverse order. */
  close(): Promise<void>;
}

export async function closeAll(ctx: DemoContext): Promise<void> {
  while (ctx.cleanups.length) {
    const cleanup = ctx.cleanups.pop()!;
    await cleanup().catch((error: unknown) => ctx.progress(`  (while closing: ${(error as Error).message})`));
  }
}

/** The failure of a step as the user sees it: which step, what went wrong, what to do. */
export function stepError(step: Step, error: unknown): RoundtripError {
  const cause = error as Error;
  const message = `Demo step "${step.name}" (${step.title}) failed: ${cause.message}\nFix: ${step.fix}`;
  if (isRoundtripError(error)) return new RoundtripError(error.code, message, { step: step.name, cause: error.details });
  return new RoundtripError('RT_DEMO_STEP_FAILED', message, { step: step.name, cause: cause.stack?.split('\n').slice(0, 3).join(' | ') });
}

export async function runDemo(options: DemoOptions, steps: readonly Step[]): Promise<DemoRun> {
  // Embedded default only: a DATABASE_URL in the environment belongs to a real deployment (or to other tests).
  const config = { ...resolveConfig({ flags: { ...options.config, dataDir: options.dataDir } }), databaseUrl: undefined };
  const ctx = createContext(options, config);
  const records: StepRecord[] = [];
  const started = performance.now();
  for (const [i, step] of steps.entries()) {
    ctx.progress(`[${i + 1}/${steps.length}] ${step.title}…`);
    const t0 = performance.now();
    try {
      const result = await step.run(ctx);
      const seconds = round((performance.now() - t0) / 1000);
      records.push({ name: step.name, title: step.title, status: result.skipped ? 'skipped' : 'ok', seconds, counts: result.counts, ...(result.skipped ? { note: `skipped: ${result.skipped}` } : result.note ? { note: result.note } : {}) });
      ctx.progress(result.skipped ? `      skipped: ${result.skipped}` : `      done in ${seconds} s  ${formatCounts(result.counts)}`);
    } catch (error) {
      records.push({ name: step.name, title: step.title, status: 'failed', seconds: round((performance.now() - t0) / 1000), counts: {} });
      ctx.progress(formatSummary(records));
      await closeAll(ctx);
      throw stepError(step, error);
    }
  }
  return { steps: records, seconds: round((performance.now() - started) / 1000), context: ctx, close: () => closeAll(ctx) };
}

const round = (seconds: number): number => Math.round(seconds * 100) / 100;

export function formatCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v.toLocaleString('en') : v.toFixed(2)}`)
    .join(', ');
}

/** The summary table: one line per step with its status, seconds and counts. */
export function formatSummary(records: readonly StepRecord[], total?: number): string {
  const rows = records.map((r, i) => [String(i + 1), r.name, r.status, r.seconds.toFixed(2), [formatCounts(r.counts), r.note].filter(Boolean).join('  ·  ')]);
  const header = ['#', 'step', 'status', 'seconds', 'counts'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string => cells.map((cell, c) => (c === 3 ? cell.padStart(widths[c]!) : c === cells.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ');
  const out = [line(header), line(widths.map((w) => '-'.repeat(Math.min(w, 60)))), ...rows.map(line)];
  if (total !== undefined) out.push(`total ${total.toFixed(2)} s`);
  return out.join('\n');
}
