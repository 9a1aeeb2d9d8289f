/**
 * API keys: created with a role and a list of sandboxes, shown once, stored only as a SHA-256 hash of their
 * random secret, listable without secrets and revocable. A key reads `rt_<16 hex id>_<secret>`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { newSecret } from '../core/ids.ts';
import type { ApiKeyRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { AuditLog } from './audit.ts';
import type { Principal } from './principal.ts';
import { isRole } from './roles.ts';

const KEY_FORMAT = /^rt_([0-9a-f]{16})_([A-Za-z0-9_-]{32})$/;
/** Writing "last used" on every request would turn reads into writes; once a minute is enough. */
const TOUCH_INTERVAL_MS = 60_000;

export type ApiKeyView = Omit<ApiKeyRecord, 'secretHash'>;

export interface NewApiKey {
  name: string;
  role: string;
  sandboxes?: string[];
}

const hash = (secret: string): string => createHash('sha256').update(secret).digest('hex');
const view = ({ secretHash: _hash, ...rest }: ApiKeyRecord): ApiKeyView => rest;

export class ApiKeys {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** Creates a key; the returned `token` is the only time the secret is ever visible. */
  async create(actor: Principal, input: NewApiKey): Promise<{ key: ApiKeyView; token: string }> {
    if (!isRole(input.role)) throw new RoundtripError('RT_ROLE_UNKNOWN', `"${input.role}" is not a role; use admin, data-engineer, analyst, marketer or viewer.`);
    const sandboxes = input.sandboxes?.length ? [...new Set(input.sandboxes)] : ['*'];
    for (const name of sandboxes) {
      if (name !== '*' && !(await this.metadata.sandboxes.get(name))) {
        throw new RoundtripError('RT_SANDBOX_NOT_FOUND', `Sandbox "${name}" does not exist.`, { sandbox: name });
      }
    }
    const id = randomBytes(8).toString('hex');
    const secret = newSecret(24);
    const record: ApiKeyRecord = {
      id: `key_${id}`,
      name: input.name,
      role: input.role,
      sandboxes,
      secretHash: hash(secret),
      createdAt: isoNow(this.clock),
      createdBy: actor.id,
      revokedAt: null,
      lastUsedAt: null,
    };
    await this.metadata.apiKeys.create(record);
    await this.audit.record(actor, { sandbox: null, action: 'apikey.create', resourceType: 'apikey', resourceId: record.id, details: { role: record.role, sandboxes } });
    return { key: view(record), token: `rt_${id}_${secret}` };
  }

  async list(): Promise<ApiKeyView[]> {
    return (await this.metadata.apiKeys.list()).map(view);
  }

  async revoke(actor: Principal, id: string): Promise<ApiKeyView> {
    const record = await this.metadata.apiKeys.get(id);
    if (!record) throw new RoundtripError('RT_API_KEY_NOT_FOUND', `No API key has id "${id}".`);
    await this.metadata.apiKeys.revoke(id, isoNow(this.clock));
    await this.audit.record(actor, { sandbox: null, action: 'apikey.revoke', resourceType: 'apikey', resourceId: id });
    return view((await this.metadata.apiKeys.get(id))!);
  }

  /** Turns a bearer token into a principal, or throws RT_AUTH_INVALID. */
  async authenticate(token: string): Promise<Principal> {
    const match = KEY_FORMAT.exec(token);
    const record = match ? await this.metadata.apiKeys.get(`key_${match[1]}`) : undefined;
    const expected = record ? Buffer.from(record.secretHash, 'hex') : Buffer.alloc(32);
    const given = Buffer.from(hash(match?.[2] ?? ''), 'hex');
    const valid = timingSafeEqual(expected, given) && record !== undefined && record.revokedAt === null;
    if (!valid || !record) throw new RoundtripError('RT_AUTH_INVALID', 'The API key is unknown, malformed or revoked.');
    const now = this.clock.now();
    if (!record.lastUsedAt || now.getTime() - Date.parse(record.lastUsedAt) > TOUCH_INTERVAL_MS) {
      await this.metadata.apiKeys.touch(record.id, now.toISOString());
    }
    return { id: record.id, name: record.name, role: record.role, sandboxes: record.sandboxes };
  }
}
