/**
 * Identifiers: short, prefixed, random ids (`ds_4f1c…`) for catalog objects, and secrets for API keys.
 * The prefix says what an id names, which makes logs and audit rows readable.
 */
import { randomBytes } from 'node:crypto';

export function newId(prefix: string, bytes = 8): string {
  return `${prefix}_${randomBytes(bytes).toString('hex')}`;
}

export function newSecret(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}
