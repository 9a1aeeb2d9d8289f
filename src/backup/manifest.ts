/**
 * The manifest of a sandbox backup (`manifest.json`, the first entry of the archive): what was saved, from
 * where, by which version, and the size and SHA-256 of every other entry. `docs/operations.md` documents it.
 *
 * `formatVersion` changes only when a reader of the previous version could not restore the file; additions
 * (new metadata tables, new manifest fields) keep the version, and a reader ignores fields it does not know.
 */
import { readFileSync } from 'node:fs';
import { Type, type Static } from 'typebox';
import { RoundtripError } from '../core/errors.ts';
import { compileSchema } from '../core/validation.ts';

export const BACKUP_FORMAT = 'roundtrip-sandbox-backup';
export const BACKUP_FORMAT_VERSION = 1;
export const MANIFEST_ENTRY = 'manifest.json';
export const WAREHOUSE_ENTRY = 'warehouse.duckdb';
export const metadataEntry = (table: string): string => `metadata/${table}.jsonl`;
/** Every name an archive may hold; anything else is refused before it reaches the disk. */
export const ENTRY_NAME = /^(manifest\.json|warehouse\.duckdb|metadata\/[a-z][a-z0-9_]{0,62}\.jsonl)$/;

const TableCount = Type.Object({ name: Type.String(), rows: Type.Integer({ minimum: 0 }) });

export const Manifest = Type.Object({
  format: Type.Literal(BACKUP_FORMAT),
  formatVersion: Type.Integer({ minimum: 1 }),
  roundtripVersion: Type.String(),
  createdAt: Type.String(),
  sandbox: Type.Object({
    name: Type.String(),
    title: Type.String(),
    type: Type.Union([Type.Literal('production'), Type.Literal('development')]),
    createdAt: Type.String(),
  }),
  source: Type.Object({
    metadataDialect: Type.String({ description: 'sqlite or postgres' }),
    warehouseEngine: Type.String({ description: 'Engine and version that wrote warehouse.duckdb' }),
  }),
  warehouse: Type.Object({ tables: Type.Array(TableCount, { description: 'Every table of the sandbox database with its row count' }) }),
  metadata: Type.Object({ tables: Type.Array(TableCount, { description: 'Every sandbox-scoped metadata table with its row count' }) }),
  files: Type.Array(Type.Object({ path: Type.String(), bytes: Type.Integer({ minimum: 0 }), sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }) })),
  secrets: Type.Object({
    sealedValues: Type.Integer({ minimum: 0, description: 'Encrypted credentials in the metadata (kept encrypted)' }),
    keyIds: Type.Array(Type.String(), { description: 'Ids of the secret keys they were sealed with (never the keys)' }),
  }),
});
export type ManifestT = Static<typeof Manifest>;

/** The running Roundtrip's version, from package.json. */
export const ROUNDTRIP_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Parses and checks a manifest: a newer format is RT_BACKUP_INCOMPATIBLE, anything malformed RT_BACKUP_CORRUPT. */
export function parseManifest(text: string): ManifestT {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RoundtripError('RT_BACKUP_CORRUPT', 'The backup manifest is not valid JSON.');
  }
  const head = value as { format?: unknown; formatVersion?: unknown } | null;
  if (head?.format !== BACKUP_FORMAT) throw new RoundtripError('RT_BACKUP_CORRUPT', 'The file is not a Roundtrip sandbox backup (its manifest names another format).');
  if (typeof head.formatVersion === 'number' && head.formatVersion > BACKUP_FORMAT_VERSION) {
    throw new RoundtripError('RT_BACKUP_INCOMPATIBLE', `The backup has format version ${head.formatVersion}; this Roundtrip (${ROUNDTRIP_VERSION}) reads up to ${BACKUP_FORMAT_VERSION}. Upgrade, then restore.`, {
      formatVersion: head.formatVersion,
    });
  }
  const validate = compileSchema(Manifest);
  if (!validate(value)) throw new RoundtripError('RT_BACKUP_CORRUPT', 'The backup manifest is incomplete or malformed.', { errors: validate.errors?.slice(0, 5) });
  return value as ManifestT;
}
