/**
 * SMTP delivery with nodemailer: a pooled transport (a few kept-open connections instead of one per message)
 * throttled to the campaign's rate (`rateLimit` messages per `rateDelta` across the pool). Each message reports
 * one of three outcomes: accepted (the server's reply), refused (an SMTP reply code: 5xx is a hard bounce, 4xx a
 * soft one), or a transport failure (connection, TLS, authentication) that stops the send, because every
 * further message would fail the same way.
 */
import nodemailer from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';

export interface SmtpSettings {
  host: string;
  port: number;
  secure: boolean;
  requireTLS: boolean;
  rejectUnauthorized: boolean;
  user: string | null;
  password: string | null;
  ratePerSecond: number;
  maxConnections: number;
}

export interface OutgoingMessage {
  from: string;
  replyTo?: string | null;
  to: string;
  subject: string;
  html: string;
  messageId: string;
  headers: Record<string, string>;
}

/** `transport.transmitted`: false when the failure came before anything of the message reached the server. */
export type SendOutcome = { kind: 'accepted'; response: string } | { kind: 'refused'; code: string; response: string } | { kind: 'transport'; error: string; transmitted: boolean };

export interface Mailer {
  send(message: OutgoingMessage): Promise<SendOutcome>;
  close(): void;
}

const TRANSPORT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EAUTH', 'ETLS', 'EDNS', 'ECONNREFUSED', 'EPROTOCOL']);
/**
 * Failures that happen before a message is transmitted: the server never saw it, so sending it again later
 * cannot mail anyone twice. Anything else (a socket dropped or a timeout mid-transaction) may have been accepted.
 */
const BEFORE_TRANSMISSION = new Set(['EAUTH', 'ENOAUTH', 'ETLS', 'EDNS', 'EREQUIRETLS', 'ECONFIG']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export function openMailer(settings: SmtpSettings): Mailer {
  const options: SMTPPool.Options = {
    pool: true,
    host: settings.host,
    port: settings.port,
    secure: settings.secure,
    requireTLS: settings.requireTLS,
    tls: { rejectUnauthorized: settings.rejectUnauthorized },
    maxConnections: settings.maxConnections,
    maxMessages: 1000,
    rateDelta: 1000,
    rateLimit: Math.max(1, Math.round(settings.ratePerSecond)),
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
    ...(settings.user ? { auth: { user: settings.user, pass: settings.password ?? '' } } : {}),
  };
  const transport = nodemailer.createTransport(options);
  return {
    async send(message) {
      try {
        const info = await transport.sendMail({
          from: message.from,
          ...(message.replyTo ? { replyTo: message.replyTo } : {}),
          to: message.to,
          subject: message.subject,
          html: message.html,
          messageId: message.messageId,
          headers: message.headers,
        });
        return { kind: 'accepted', response: String(info.response ?? '') };
      } catch (error) {
        const failure = error as { code?: string; originalCode?: string; responseCode?: number; response?: string; message: string };
        if (typeof failure.responseCode === 'number' && failure.responseCode >= 400 && !TRANSPORT_CODES.has(failure.code ?? '')) {
          const enhanced = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(failure.response ?? '')?.[1];
          return { kind: 'refused', code: `${failure.responseCode}${enhanced ? ` ${enhanced}` : ''}`, response: failure.response ?? failure.message };
        }
        const transmitted = !BEFORE_TRANSMISSION.has(failure.code ?? '') && !UNREACHABLE.has(failure.originalCode ?? failure.code ?? '');
        return { kind: 'transport', error: `${failure.code ?? 'ERROR'}: ${failure.message}`, transmitted };
      }
    },
    close() {
      transport.close();
    },
  };
}
