/**
 * Backup request and response bodies: the one TypeBox source the routes validate with and OpenAPI shows.
 */
import { Type, type Static } from 'typebox';
import { Manifest } from './manifest.ts';
import { MAX_CHUNK_BYTES } from './service.ts';

export const BackupNameParams = Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$', description: 'A backup file name in <dataDir>/backups' }) });

export const BackupFileView = Type.Object({ name: Type.String(), bytes: Type.Integer(), modifiedAt: Type.String() });

export const BackupView = Type.Object({
  name: Type.String(),
  bytes: Type.Integer(),
  modifiedAt: Type.String(),
  sha256: Type.String({ description: 'SHA-256 of the whole file' }),
  manifest: Manifest,
});

export const ChunkQuery = Type.Object(
  {
    offset: Type.Integer({ minimum: 0, description: 'First byte' }),
    length: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_CHUNK_BYTES, description: `At most ${MAX_CHUNK_BYTES} bytes (the default)` })),
  },
  { additionalProperties: false },
);

export const ChunkView = Type.Object({
  offset: Type.Integer(),
  bytes: Type.Integer(),
  total: Type.Integer({ description: 'Size of the whole file' }),
  data: Type.String({ description: 'The bytes, base64' }),
});

export const UploadView = Type.Object({ name: Type.String(), bytes: Type.Integer({ description: 'Bytes received so far' }), complete: Type.Boolean() });

export const RestoreBody = Type.Object(
  {
    sandbox: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$', description: "Restore under this name (default: the backed-up sandbox's)" })),
    force: Type.Optional(Type.Boolean({ description: 'Replace the sandbox if it exists' })),
  },
  { additionalProperties: false },
);
export type RestoreBodyT = Static<typeof RestoreBody>;

export const RestoreView = Type.Object({
  sandbox: Type.String(),
  restoredFrom: Type.String(),
  backupCreatedAt: Type.String(),
  roundtripVersion: Type.String(),
  replaced: Type.Boolean(),
  warehouseTables: Type.Integer(),
  warehouseRows: Type.Integer(),
  metadataRows: Type.Integer(),
  warnings: Type.Array(Type.String()),
});
