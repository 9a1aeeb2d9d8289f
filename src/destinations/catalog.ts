/**
 * The destination catalog: every destination type, the settings an account of it needs (non-secret `params`,
 * secret `secrets`, file options), what it maps, and its limits. The TypeBox schemas here both validate
 * accounts and are shown by `GET /destinations/catalog`, so the catalog never drifts from what is accepted.
 */
import { Type, type TSchema } from 'typebox';
import type { DestinationType } from './connector.ts';
import { ELOQUA_IDENTITY, ELOQUA_MAX_CUSTOM_FIELDS, ELOQUA_PODS, ELOQUA_STANDARD_FIELDS } from './eloqua.ts';

const retryParams = {
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 300_000, description: 'Time-out of one request (default 30000)' })),
  retryAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'Attempts per request, the first included (default 5)' })),
  retryBaseDelayMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000, description: 'First backoff delay; doubles per retry, with full jitter (default 200)' })),
};
const HttpUrl = (description: string) => Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048, description });

export interface CatalogEntry {
  type: DestinationType;
  title: string;
  description: string;
  /** How it delivers: files to a folder, records to an API, or email (campaigns). */
  kind: 'file' | 'api' | 'email';
  /** False when listed for completeness but not delivered by this module (smtp: campaigns). */
  implemented: boolean;
  params: TSchema;
  secrets: TSchema;
  /** Accounts of file destinations may give an armored OpenPGP public key (`pgpPublicKey`). */
  fileEncryption: boolean;
  mappings?: { required: { source: string; target: string }[]; optional: { source: string; target: string }[] };
  limits?: Record<string, number>;
}

const LocalFolder: CatalogEntry = {
  type: 'local-folder',
  title: 'Local folder',
  description: 'CSV files written to a folder of the server (or a mounted share): temporary name, fsync, rename. Only admins create these accounts.',
  kind: 'file',
  implemented: true,
  params: Type.Object({ folder: Type.String({ pattern: '^/', maxLength: 1024, description: 'Absolute folder path; created when missing' }) }, { additionalProperties: false }),
  secrets: Type.Object({}, { additionalProperties: false }),
  fileEncryption: true,
};

const Sftp: CatalogEntry = {
  type: 'sftp',
  title: 'SFTP (password or SSH key)',
  description: 'CSV files uploaded over SFTP as `.<name>.part`, then renamed into place (email marketing file destinations, reference §12.1).',
  kind: 'file',
  implemented: true,
  params: Type.Object(
    {
      host: Type.String({ minLength: 1, maxLength: 255, description: 'Domain or IP address' }),
      port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, default: 22, description: 'Default 22' })),
      username: Type.String({ minLength: 1, maxLength: 255 }),
      authType: Type.Union([Type.Literal('password'), Type.Literal('key')], { description: 'password: secrets.password; key: secrets.privateKey (+ passphrase)' }),
      folder: Type.Optional(Type.String({ maxLength: 1024, description: 'Folder path on the server (default: the login folder); created when missing' })),
      hostKeySha256: Type.Optional(Type.String({ pattern: '^(SHA256:)?[A-Za-z0-9+/]{43}=?$', description: 'Pin the server host key (as `ssh-keygen -lf` prints it); unset accepts any key' })),
      timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 300_000, description: 'Connection time-out (default 20000)' })),
    },
    { additionalProperties: false },
  ),
  secrets: Type.Object(
    {
      password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
      privateKey: Type.Optional(Type.String({ minLength: 1, maxLength: 65536, description: 'OpenSSH or PEM private key' })),
      passphrase: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    },
    { additionalProperties: false },
  ),
  fileEncryption: true,
};

const Eloqua: CatalogEntry = {
  type: 'eloqua',
  title: 'Oracle Eloqua (API)',
  description: 'Streaming profile-based export by Eloqua "Update a contact" with Basic auth `Company\\User`; one custom contact field per audience (reference §12.4).',
  kind: 'api',
  implemented: true,
  params: Type.Object(
    {
      companyName: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\\\:]+$' }),
      username: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\\\:]+$' }),
      pod: Type.Union(ELOQUA_PODS.map((p) => Type.Literal(p)), { description: 'From secure.<pod>.eloqua.com' }),
      baseUrl: Type.Optional(HttpUrl('Overrides https://secure.<pod>.eloqua.com (a proxy, or a test server)')),
      concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 32, description: 'Contact updates in flight (default 4)' })),
      batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'Records per batch (default 100)' })),
      ...retryParams,
    },
    { additionalProperties: false },
  ),
  secrets: Type.Object({ password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
  fileEncryption: false,
  mappings: {
    required: [
      { source: 'identityMap: Eid', target: `Identity: ${ELOQUA_IDENTITY}` },
      { source: 'xdm: personalEmail.address', target: 'Attribute: emailAddress' },
    ],
    optional: [
      { source: 'xdm: person.name.firstName', target: 'Attribute: firstName' },
      { source: 'xdm: person.name.lastName', target: 'Attribute: lastName' },
      { source: 'xdm: workAddress.street1', target: 'Attribute: address1' },
      { source: 'xdm: workAddress.street2', target: 'Attribute: address2' },
      { source: 'xdm: workAddress.street3', target: 'Attribute: address3' },
      { source: 'xdm: workAddress.city', target: 'Attribute: city' },
      { source: 'xdm: workAddress.postalCode', target: 'Attribute: postalCode' },
      { source: 'xdm: workAddress.country', target: 'Attribute: country' },
    ],
  },
  limits: { customContactFields: ELOQUA_MAX_CUSTOM_FIELDS, standardFields: ELOQUA_STANDARD_FIELDS.length },
};

const Webhook: CatalogEntry = {
  type: 'webhook',
  title: 'Webhook (signed JSON batches)',
  description: 'Records POSTed as JSON batches with `X-Roundtrip-Signature: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>">` (docs/destinations.md says how to verify).',
  kind: 'api',
  implemented: true,
  params: Type.Object(
    {
      url: HttpUrl('Where batches are POSTed'),
      batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'Records per batch (default 1000)' })),
      ...retryParams,
    },
    { additionalProperties: false },
  ),
  secrets: Type.Object({ signingSecret: Type.String({ minLength: 16, maxLength: 1024, description: 'Shared HMAC secret (16+ characters)' }) }, { additionalProperties: false }),
  fileEncryption: false,
};

const Smtp: CatalogEntry = {
  type: 'smtp',
  title: 'Email over SMTP (campaigns)',
  description: 'Sends campaign email through an SMTP relay; configured and delivered by campaigns, not by these connectors.',
  kind: 'email',
  implemented: false,
  params: Type.Object({}, { additionalProperties: true }),
  secrets: Type.Object({}, { additionalProperties: true }),
  fileEncryption: false,
};

export const CATALOG: readonly CatalogEntry[] = [LocalFolder, Sftp, Eloqua, Webhook, Smtp];

export function catalogEntry(type: string): CatalogEntry | undefined {
  return CATALOG.find((entry) => entry.type === type);
}

/** Guardrail (reference §12.5): destinations per sandbox (hard). */
export const MAX_DESTINATIONS_PER_SANDBOX = 100;
