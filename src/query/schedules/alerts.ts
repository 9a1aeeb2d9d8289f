/**
 * Schedule alerts (start, success, failure, quarantine, delay). Every alert goes to the log; the events a schedule
 * subscribes to are also POSTed as JSON to its webhook. With a shared secret the request carries
 * `x-roundtrip-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, so the receiver can check both
 * origin and freshness. Deliveries are fire-and-forget: a slow or failing webhook is logged and never delays or
 * fails a run.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { AlertEvent, AlertSpec } from './model.ts';

/** The subset of a pino logger the scheduler uses (Fastify's `app.log` fits). */
export interface ScheduleLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AlertPayload {
  event: AlertEvent;
  at: string;
  sandbox: string;
  schedule: { id: string; name: string; state: string };
  run: {
    id: string;
    trigger: string;
    slotAt: string | null;
    status: string;
    queryId: string | null;
    errorCode: string | null;
    errorMessage: string | null;
    startedAt: string | null;
    endedAt: string | null;
  } | null;
  message: string;
}

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<{ ok: boolean; status: number }>;

const LEVELS = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, silent: Infinity } as const;
export type LogLevel = keyof typeof LEVELS;

/** JSON lines on stderr at or above `level`: the log of a platform that no HTTP server has given its logger. */
export function stderrLogger(level: LogLevel): ScheduleLogger {
  const write = (at: number, obj: object, msg: string): void => {
    if (at >= LEVELS[level]) process.stderr.write(`${JSON.stringify({ level: at, time: Date.now(), msg, ...obj })}\n`);
  };
  return { info: (o, m) => write(30, o, m), warn: (o, m) => write(40, o, m), error: (o, m) => write(50, o, m) };
}

export function signature(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const LOG_LEVEL: Record<AlertEvent, keyof ScheduleLogger> = { start: 'info', success: 'info', failure: 'warn', delay: 'warn', quarantine: 'error' };

export class AlertSender {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private logger: ScheduleLogger,
    private readonly fetchFn: FetchLike = fetch,
    private readonly timeoutMs = 10_000,
  ) {}

  setLogger(logger: ScheduleLogger): void {
    this.logger = logger;
  }

  get log(): ScheduleLogger {
    return this.logger;
  }

  send(spec: AlertSpec, payload: AlertPayload): void {
    this.logger[LOG_LEVEL[payload.event]]({ alert: payload.event, sandbox: payload.sandbox, scheduleId: payload.schedule.id, runId: payload.run?.id }, payload.message);
    if (!spec.webhook || !spec.events.includes(payload.event)) return;
    const delivery = this.deliver(spec.webhook, payload).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  /** Resolves once every delivery started so far has ended (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private async deliver(webhook: NonNullable<AlertSpec['webhook']>, payload: AlertPayload): Promise<void> {
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'roundtrip-schedules',
      'x-roundtrip-event': `schedule.${payload.event}`,
      'x-roundtrip-delivery': randomUUID(),
    };
    // Wall time, not the platform clock: the receiver compares it with its own clock.
    if (webhook.secret) headers['x-roundtrip-signature'] = signature(webhook.secret, Math.floor(Date.now() / 1000), body);
    const where = { alert: payload.event, scheduleId: payload.schedule.id, webhook: webhook.url };
    try {
      const response = await this.fetchFn(webhook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      if (!response.ok) this.logger.warn({ ...where, status: response.status }, `Alert webhook answered HTTP ${response.status}; the alert was not retried.`);
    } catch (error) {
      this.logger.warn({ ...where, error: (error as Error).message }, 'Alert webhook could not be reached; the alert was not retried.');
    }
  }
}
