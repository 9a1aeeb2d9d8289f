/**
 * Credentials encrypted at rest: AES-256-GCM with a 32-byte key from configuration (`secretKey`, env
 * `ROUNDTRIP_SECRET_KEY`: 64 hex characters, base64 of 32 bytes, or a passphrase stretched with scrypt), or,
 * when unset, from `<dataDir>/secret.key`, generated on first use with mode 0600.
 *
 * A sealed value is `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts). `keyId` (a hash prefix of the key)
 * turns "wrong key" into a clear `RT_SECRET_KEY_INVALID` instead of an opaque authentication failure, and the
 * additional authenticated data binds the value to its owner (sandbox/account), so a sealed secret copied to
 * another account does not open.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RoundtripError } from '../core/errors.ts';

export const SECRET_KEY_FILE = 'secret.key';

/** Turns the configured key text into 32 bytes. */
export function keyFromText(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const raw = Buffer.from(trimmed, 'base64');
    if (raw.length === 32) return raw;
  }
  return scryptSync(trimmed, 'roundtrip/secret-key/v1', 32);
}

/** Reads `<dataDir>/secret.key`, creating it (random 32 bytes, hex, mode 0600) when missing. */
export function loadOrCreateKeyFile(dataDir: string): Buffer {
  const file = path.join(dataDir, SECRET_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    try {
      writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      // Another process created it first: use theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw keyError(`cannot create ${file}: ${(error as Error).message}`);
    }
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  const text = readFileSync(file, 'utf8');
  if (!/^[0-9a-fA-F]{64}\s*$/.test(text)) throw keyError(`${file} does not hold 64 hex characters`);
  return Buffer.from(text.trim(), 'hex');
}

function keyError(message: string): RoundtripError {
  return new RoundtripError('RT_SECRET_KEY_INVALID', `Secret key: ${message}.`);
}

export class SecretBox {
  private readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw keyError('it must be 32 bytes');
    this.keyId = createHash('sha256').update(key).digest('base64url').slice(0, 8);
  }

  /** From configuration: the configured key, else the key file of the data directory. */
  static fromConfig(config: { secretKey?: string; dataDir: string }): SecretBox {
    return new SecretBox(config.secretKey ? keyFromText(config.secretKey) : loadOrCreateKeyFile(config.dataDir));
  }

  seal(plaintext: string, owner: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(owner));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', this.keyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  }

  open(sealed: string, owner: string): string {
    const [version, keyId, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || data === undefined) throw keyError('a stored credential is not in the sealed format');
    if (keyId !== this.keyId) throw keyError('stored credentials were encrypted with another key (configure the key they were made with)');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(owner));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw keyError('a stored credential does not authenticate (tampered, or moved to another account)');
    }
  }
}
