/**
 * Configuration: one typed object, resolved once from (lowest to highest precedence) documented defaults,
 * a JSON file, environment variables and command-line flags. `docs/configuration.md` lists every key.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Type, type Static } from 'typebox';
import { RoundtripError } from './errors.ts';
import { assertValid } from './validation.ts';

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, description: 'Where metadata, warehouse files and staging live.' }),
    host: Type.String({ description: 'Interface the HTTP server binds to.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, description: 'HTTP port (0 picks a free one).' }),
    databaseUrl: Type.Optional(Type.String({ description: 'PostgreSQL URL for metadata; SQLite in the data directory when unset.' })),
    tenant: Type.String({ pattern: '^[a-z][a-z0-9]{1,39}$', description: 'Tenant id; custom XDM fields live under `_<tenant>`.' }),
    duckdbThreads: Type.Integer({ minimum: 1, maximum: 256, description: 'DuckDB worker threads per sandbox database.' }),
    duckdbMemoryLimit: Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$', description: 'DuckDB memory limit per sandbox database.' }),
    duckdbCheckpointThreshold: Type.String({
      pattern: '^[0-9]+(\\.[0-9]+)?\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$',
      description: 'Write-ahead log size at which DuckDB checkpoints a sandbox database (a checkpoint stalls its writers; larger: rarer stalls, longer replay after a crash).',
    }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, description: 'Largest HTTP request body accepted.' }),
    eventRecordLimitBytes: Type.Integer({ minimum: 256, description: 'Largest ExperienceEvent record accepted (JSON bytes).' }),
    profileRecordLimitBytes: Type.Integer({ minimum: 256, description: 'Largest profile record accepted (JSON bytes).' }),
    snapshotRetentionHours: Type.Number({ minimum: 0, description: 'How long snapshot metadata stays resolvable for SNAPSHOT SINCE/BETWEEN.' }),
    queryTimeoutMs: Type.Integer({ minimum: 1, description: 'Time-out of ad hoc queries.' }),
    batchQueryTimeoutMs: Type.Integer({ minimum: 1, description: 'Time-out of batch queries (CTAS, ITAS, blocks run by schedules).' }),
    queryRowLimit: Type.Integer({ minimum: 1, description: 'Rows an ad hoc query returns by default (API, CLI, console).' }),
    queryMaxRowLimit: Type.Integer({ minimum: 1, description: 'Most rows a caller may ask an ad hoc query for.' }),
    queryConcurrency: Type.Integer({ minimum: 1, description: 'Queries running at once per sandbox; more wait in a queue.' }),
    secretKey: Type.Optional(Type.String({ minLength: 16, description: 'Key that encrypts stored credentials (AES-256-GCM): 64 hex characters, base64 of 32 bytes, or a passphrase (scrypt-derived). Unset: <dataDir>/secret.key, generated with mode 0600.' })),
    logLevel: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('silent')]),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

export const DEFAULT_CONFIG: Config = {
  dataDir: './.roundtrip',
  host: '127.0.0.1',
  port: 8080,
  tenant: 'roundtrip',
  duckdbThreads: 2,
  duckdbMemoryLimit: '4GB',
  duckdbCheckpointThreshold: '256MiB',
  bodyLimitBytes: 64 * 1024 * 1024,
  snapshotRetentionHours: 48,
  queryTimeoutMs: 10 * 60 * 1000,
  batchQueryTimeoutMs: 24 * 60 * 60 * 1000,
  queryRowLimit: 100,
  queryMaxRowLimit: 500,
  queryConcurrency: 4,
  eventRecordLimitBytes: 10 * 1024,
  profileRecordLimitBytes: 100 * 1024,
  logLevel: 'info',
};

/** Environment variable → config key. `DATABASE_URL` keeps its conventional name. */
export const ENV_KEYS: Record<string, keyof Config> = {
  ROUNDTRIP_DATA_DIR: 'dataDir',
  ROUNDTRIP_HOST: 'host',
  ROUNDTRIP_PORT: 'port',
  DATABASE_URL: 'databaseUrl',
  ROUNDTRIP_TENANT: 'tenant',
  ROUNDTRIP_DUCKDB_THREADS: 'duckdbThreads',
  ROUNDTRIP_DUCKDB_MEMORY_LIMIT: 'duckdbMemoryLimit',
  ROUNDTRIP_DUCKDB_CHECKPOINT_THRESHOLD: 'duckdbCheckpointThreshold',
  ROUNDTRIP_BODY_LIMIT: 'bodyLimitBytes',
  ROUNDTRIP_EVENT_RECORD_LIMIT: 'eventRecordLimitBytes',
  ROUNDTRIP_PROFILE_RECORD_LIMIT: 'profileRecordLimitBytes',
  ROUNDTRIP_SNAPSHOT_RETENTION_HOURS: 'snapshotRetentionHours',
  ROUNDTRIP_QUERY_TIMEOUT_MS: 'queryTimeoutMs',
  ROUNDTRIP_BATCH_QUERY_TIMEOUT_MS: 'batchQueryTimeoutMs',
  ROUNDTRIP_QUERY_ROW_LIMIT: 'queryRowLimit',
  ROUNDTRIP_QUERY_MAX_ROW_LIMIT: 'queryMaxRowLimit',
  ROUNDTRIP_QUERY_CONCURRENCY: 'queryConcurrency',
  ROUNDTRIP_LOG_LEVEL: 'logLevel',
  ROUNDTRIP_SECRET_KEY: 'secretKey',
};

const NUMERIC_KEYS = new Set<keyof Config>([
  'port', 'duckdbThreads', 'bodyLimitBytes', 'eventRecordLimitBytes', 'profileRecordLimitBytes', 'snapshotRetentionHours',
  'queryTimeoutMs', 'batchQueryTimeoutMs', 'queryRowLimit', 'queryMaxRowLimit', 'queryConcurrency',
]);

export interface ConfigSources {
  env?: NodeJS.ProcessEnv;
  /** Path of a JSON config file; defaults to `ROUNDTRIP_CONFIG`, then `<dataDir>/config.json` when present. */
  file?: string;
  flags?: Partial<Config>;
}

function fromEnv(env: NodeJS.ProcessEnv): Partial<Config> {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    out[key] = NUMERIC_KEYS.has(key) && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }
  return out;
}

function readConfigFile(file: string): Partial<Config> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Partial<Config>;
  } catch (error) {
    throw new RoundtripError('RT_CONFIG_INVALID', `Config file ${file} is not readable JSON: ${(error as Error).message}`);
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function resolveConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const envValues = fromEnv(env);
  const flags = withoutUndefined(sources.flags ?? {});
  const provisionalDir = flags.dataDir ?? envValues.dataDir ?? DEFAULT_CONFIG.dataDir;
  const file = sources.file ?? env.ROUNDTRIP_CONFIG ?? path.join(provisionalDir, 'config.json');
  const fileValues = existsSync(file) ? readConfigFile(file) : sources.file ? readConfigFile(file) : {};
  const merged = { ...DEFAULT_CONFIG, ...fileValues, ...envValues, ...flags };
  const config = assertValid<Config>(ConfigSchema, merged, 'RT_CONFIG_INVALID', 'Configuration');
  return { ...config, dataDir: path.resolve(config.dataDir) };
}
