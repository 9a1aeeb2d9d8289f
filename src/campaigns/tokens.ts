/**
 * Tracking tokens: what the pixel, click and unsubscribe URLs carry. A token names the sandbox, campaign,
 * message (a random 128-bit id, so tokens cannot be enumerated), what it is for (`o` open, `c` click, `u`
 * unsubscribe) and, for a click, the index of the link in the campaign's own link list; it is signed with
 * HMAC-SHA256 under the tracking key (`secrets.ts`). A changed byte anywhere fails the check, compared in
 * constant time; a click token can only ever point at a link of its campaign, because the URL itself is never
 * in the token — only its index into the list stored with the campaign.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type TokenKind = 'o' | 'c' | 'u';

export interface TrackingToken {
  sandbox: string;
  campaignId: string;
  messageId: string;
  kind: TokenKind;
  /** Index into the campaign's links (clicks only). */
  link?: number;
}

const VERSION = 1;

const mac = (key: Buffer, payload: string): Buffer => createHmac('sha256', key).update(payload).digest();

export function signToken(key: Buffer, token: TrackingToken): string {
  const fields = [VERSION, token.sandbox, token.campaignId, token.messageId, token.kind, ...(token.kind === 'c' ? [token.link ?? 0] : [])];
  const payload = Buffer.from(JSON.stringify(fields)).toString('base64url');
  return `${payload}.${mac(key, payload).toString('base64url')}`;
}

/** The token's content when the signature is right and the shape is one this version makes; else undefined. */
export function verifyToken(key: Buffer, text: string, expected?: TokenKind): TrackingToken | undefined {
  if (text.length > 1024) return undefined;
  const dot = text.indexOf('.');
  if (dot <= 0) return undefined;
  const payload = text.slice(0, dot);
  const given = Buffer.from(text.slice(dot + 1), 'base64url');
  const wanted = mac(key, payload);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return undefined;
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(fields) || fields[0] !== VERSION) return undefined;
  const [, sandbox, campaignId, messageId, kind, link] = fields as unknown[];
  if (typeof sandbox !== 'string' || typeof campaignId !== 'string' || typeof messageId !== 'string') return undefined;
  if (kind !== 'o' && kind !== 'c' && kind !== 'u') return undefined;
  if (expected !== undefined && kind !== expected) return undefined;
  if (kind === 'c' && !(Number.isSafeInteger(link) && (link as number) >= 0)) return undefined;
  return { sandbox, campaignId, messageId, kind, ...(kind === 'c' ? { link: link as number } : {}) };
}
