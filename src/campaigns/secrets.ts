/**
 * Campaign keys, from the platform's one secret key (configuration `secretKey` / `ROUNDTRIP_SECRET_KEY`, else
 * `<dataDir>/secret.key`, as `src/destinations/secrets.ts` manages it):
 *
 * - `box`: the destinations' `SecretBox` (AES-256-GCM, bound to its owner) seals SMTP passwords and the internal
 *   streaming connection's secret at rest, like every other destination credential;
 * - `tracking`: an HMAC-SHA256 key for open/click/unsubscribe tokens (`tokens.ts`), derived from the root key
 *   with HKDF so that it is never the encryption key itself, and changes when the root key is rotated.
 */
import { hkdfSync } from 'node:crypto';
import { keyFromText, loadOrCreateKeyFile, SecretBox } from '../destinations/secrets.ts';

export interface CampaignKeys {
  box: SecretBox;
  tracking: Buffer;
}

export function keysFrom(root: Buffer): CampaignKeys {
  return { box: new SecretBox(root), tracking: Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), 'roundtrip campaigns tracking tokens', 32)) };
}

export function campaignKeys(config: { secretKey?: string; dataDir: string }): CampaignKeys {
  return keysFrom(config.secretKey ? keyFromText(config.secretKey) : loadOrCreateKeyFile(config.dataDir));
}
