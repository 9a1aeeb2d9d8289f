/**
 * Destinations service (`platform.destinations`): the catalog, destination accounts and connection tests.
 *
 * Accounts are `metadata.documents` of kind `destination-account`. Secret fields are sealed one by one with
 * AES-256-GCM (`secrets.ts`) bound to `<sandbox>/<account>/<field>`; the API only ever sees `secretsSet`, the
 * names of the fields that hold a value. `getResolvedAccount` opens them for connectors and is internal: no
 * route returns what it gives.
 *
 * Dataflows that use an account register a delete guard (`addDeleteGuard`) so an account in use cannot be deleted.
 */
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { compileSchema, toIssues } from '../core/validation.ts';
import type { DocumentRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { JsonValue } from '../ports/warehouse.ts';
import { CATALOG, catalogEntry, MAX_DESTINATIONS_PER_SANDBOX, type CatalogEntry } from './catalog.ts';
import { connectorFor, type ConnectionTestResult, type DestinationType, type ResolvedAccount } from './connector.ts';
import type { AccountInput, AccountViewT } from './payloads.ts';
import { readEncryptionKey } from './pgp.ts';
import { SecretBox } from './secrets.ts';

export const ACCOUNT_KIND = 'destination-account';

type ParamValue = string | number | boolean;

interface StoredAccount {
  name: string;
  description?: string;
  type: DestinationType;
  params: Record<string, ParamValue>;
  /** Field name → sealed value (`v1.<keyId>.<iv>.<tag>.<data>`). */
  sealedSecrets: Record<string, string>;
  pgpPublicKey?: string;
  pgpKeyFingerprint?: string;
  marketingActions: string[];
  createdBy: string;
}

/** Throws to refuse deleting an account (e.g. a dataflow still uses it). */
export type DeleteGuard = (sandbox: string, accountId: string) => Promise<void>;

export interface DestinationsDeps {
  metadata: MetadataStore;
  audit: AuditLog;
  clock: Clock;
  config: { secretKey?: string; dataDir: string };
}

export class Destinations {
  private box: SecretBox | undefined;
  private readonly guards: DeleteGuard[] = [];

  constructor(private readonly deps: DestinationsDeps) {}

  /** The key is read (or the key file made) on first use, so a platform that never stores a secret never makes one. */
  private secrets(): SecretBox {
    this.box ??= SecretBox.fromConfig(this.deps.config);
    return this.box;
  }

  catalog(): readonly CatalogEntry[] {
    return CATALOG;
  }

  addDeleteGuard(guard: DeleteGuard): void {
    this.guards.push(guard);
  }

  async create(actor: Principal, sandbox: string, input: AccountInput): Promise<AccountViewT> {
    const entry = catalogEntry(input.type);
    if (!entry?.implemented) throw new RoundtripError('RT_DESTINATION_TYPE_UNSUPPORTED', `Destination type ${input.type} cannot be configured here${entry ? ' (smtp destinations belong to campaigns)' : ''}.`, { type: input.type });
    if (entry.type === 'local-folder' && actor.role !== 'admin') {
      throw new RoundtripError('RT_FORBIDDEN_ROLE', 'Only admins create local-folder destinations: they write to the server’s own disk.', { type: entry.type });
    }
    const params = checked(entry.params, structuredClone(input.params), 'params') as Record<string, ParamValue>;
    const secrets = checked(entry.secrets, input.secrets ?? {}, 'secrets') as Record<string, string>;
    checkTypeRules(entry, params, secrets);
    const pgp = await this.pgpKey(entry, input.pgpPublicKey);
    const existing = await this.deps.metadata.documents.list(sandbox, ACCOUNT_KIND);
    if (existing.length >= MAX_DESTINATIONS_PER_SANDBOX) {
      throw new RoundtripError('RT_DESTINATION_LIMIT', `Sandbox ${sandbox} already has ${existing.length} destination accounts (at most ${MAX_DESTINATIONS_PER_SANDBOX}).`, { limit: MAX_DESTINATIONS_PER_SANDBOX });
    }
    const id = newId('dst');
    const box = this.secrets();
    const sealedSecrets = Object.fromEntries(Object.entries(secrets).map(([field, value]) => [field, box.seal(value, ownerOf(sandbox, id, field))]));
    const body: StoredAccount = {
      name: input.name,
      ...(input.description === undefined ? {} : { description: input.description }),
      type: entry.type,
      params,
      sealedSecrets,
      ...pgp,
      marketingActions: input.marketingActions ?? [],
      createdBy: actor.id,
    };
    const at = isoNow(this.deps.clock);
    const record = await this.deps.metadata.documents.create<StoredAccount & JsonValue>({ sandbox, kind: ACCOUNT_KIND, id, parentId: null, body: body as StoredAccount & JsonValue, createdAt: at, updatedAt: at });
    await this.deps.audit.record(actor, { sandbox, action: 'destination.create', resourceType: 'destination-account', resourceId: id, details: { name: body.name, type: body.type, secretsSet: Object.keys(sealedSecrets) } });
    return view(record);
  }

  async list(sandbox: string): Promise<AccountViewT[]> {
    const records = await this.deps.metadata.documents.list<StoredAccount & JsonValue>(sandbox, ACCOUNT_KIND);
    return records.map(view);
  }

  async get(sandbox: string, id: string): Promise<AccountViewT> {
    return view(await this.record(sandbox, id));
  }

  async delete(actor: Principal, sandbox: string, id: string): Promise<void> {
    const record = await this.record(sandbox, id);
    for (const guard of this.guards) await guard(sandbox, id);
    await this.deps.metadata.documents.delete(sandbox, ACCOUNT_KIND, id);
    await this.deps.audit.record(actor, { sandbox, action: 'destination.delete', resourceType: 'destination-account', resourceId: id, details: { name: record.body.name, type: record.body.type } });
  }

  /** Connects with the stored credentials and checks the destination takes writes; never throws for a failed test. */
  async test(actor: Principal, sandbox: string, id: string): Promise<ConnectionTestResult> {
    const account = await this.getResolvedAccount(sandbox, id);
    const result = await connectorFor(account.type).test(account);
    await this.deps.audit.record(actor, { sandbox, action: 'destination.test', resourceType: 'destination-account', resourceId: id, details: { ok: result.ok, code: result.code ?? null } });
    return result;
  }

  /** The account with decrypted secrets, for connectors. Internal: never return it from a route. */
  async getResolvedAccount(sandbox: string, id: string): Promise<ResolvedAccount> {
    const body = (await this.record(sandbox, id)).body as StoredAccount;
    const box = this.secrets();
    return {
      id,
      sandbox,
      name: body.name,
      type: body.type,
      params: body.params,
      secrets: Object.fromEntries(Object.entries(body.sealedSecrets).map(([field, sealed]) => [field, box.open(sealed, ownerOf(sandbox, id, field))])),
      ...(body.pgpPublicKey ? { pgpPublicKey: body.pgpPublicKey } : {}),
      marketingActions: body.marketingActions,
    };
  }

  private async record(sandbox: string, id: string): Promise<DocumentRecord<StoredAccount & JsonValue>> {
    const record = await this.deps.metadata.documents.get<StoredAccount & JsonValue>(sandbox, ACCOUNT_KIND, id);
    if (!record) throw new RoundtripError('RT_DESTINATION_ACCOUNT_NOT_FOUND', `No destination account ${id} in sandbox ${sandbox}.`, { id });
    return record;
  }

  private async pgpKey(entry: CatalogEntry, armored: string | undefined): Promise<Pick<StoredAccount, 'pgpPublicKey' | 'pgpKeyFingerprint'>> {
    if (armored === undefined) return {};
    if (!entry.fileEncryption) throw invalid([{ path: 'pgpPublicKey', message: `${entry.type} destinations do not take files, so they have no file encryption` }]);
    const key = await readEncryptionKey(armored);
    return { pgpPublicKey: armored, pgpKeyFingerprint: key.getFingerprint().toUpperCase() };
  }
}

function ownerOf(sandbox: string, id: string, field: string): string {
  return `${sandbox}/${id}/${field}`;
}

function invalid(issues: { path: string; message: string }[]): RoundtripError {
  const first = issues[0]!;
  return new RoundtripError('RT_DESTINATION_ACCOUNT_INVALID', `The account is invalid at ${first.path}: ${first.message}.`, { issues });
}

function checked(schema: object, value: unknown, root: string): unknown {
  const validate = compileSchema(schema);
  if (!validate(value)) throw invalid(toIssues(validate.errors, root));
  return value;
}

/** Rules a JSON Schema cannot say simply: which secret an SFTP auth type needs. */
function checkTypeRules(entry: CatalogEntry, params: Record<string, ParamValue>, secrets: Record<string, string>): void {
  if (entry.type !== 'sftp') return;
  if (params.authType === 'password' && !secrets.password) throw invalid([{ path: 'secrets.password', message: 'is required when authType is password' }]);
  if (params.authType === 'key' && !secrets.privateKey) throw invalid([{ path: 'secrets.privateKey', message: 'is required when authType is key' }]);
  if (params.authType === 'key' && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(secrets.privateKey ?? '')) {
    throw invalid([{ path: 'secrets.privateKey', message: 'is not an OpenSSH or PEM private key' }]);
  }
}

function view(record: DocumentRecord<StoredAccount & JsonValue>): AccountViewT {
  const body = record.body as StoredAccount;
  return {
    id: record.id,
    name: body.name,
    ...(body.description === undefined ? {} : { description: body.description }),
    type: body.type,
    params: body.params,
    secretsSet: Object.keys(body.sealedSecrets).sort(),
    pgpEncryption: Boolean(body.pgpPublicKey),
    ...(body.pgpKeyFingerprint ? { pgpKeyFingerprint: body.pgpKeyFingerprint } : {}),
    marketingActions: body.marketingActions,
    createdBy: body.createdBy,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}
