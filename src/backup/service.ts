/**
 * Backup and restore of one sandbox, to and from one file (`docs/operations.md`).
 *
 * A backup holds the sandbox's warehouse database (datasets, `_rt_*` system tables with the identity graph,
 * profile snapshots, memberships, accelerated-store tables), copied while the sandbox is quiesced, and every
 * record of every sandbox-scoped metadata table read at that same instant (schemas, datasets and snapshots,
 * merge policies, CLV models, query templates and schedules, and the documents of audiences, dashboards,
 * destinations, dataflows and campaigns). Streaming ingestion is flushed first, so what it acknowledged is in.
 * Encrypted credentials stay encrypted: restoring needs the same secret key.
 *
 * Backup files live in `<dataDir>/backups/`; the API moves them in and out (download in chunks, upload in
 * ordered chunks), so the CLI works the same against a server and in-process.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import { PRODUCTION_SANDBOX } from '../catalog/sandboxes.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { SecretBox } from '../destinations/secrets.ts';
import type { MetadataStore, SandboxRecord, SandboxRows } from '../ports/metadata-store.ts';
import type { JsonValue, Warehouse } from '../ports/warehouse.ts';
import { digestFile, readContainer, writeContainer, type ContainerEntry } from './container.ts';
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  ENTRY_NAME,
  MANIFEST_ENTRY,
  metadataEntry,
  parseManifest,
  ROUNDTRIP_VERSION,
  WAREHOUSE_ENTRY,
  type ManifestT,
} from './manifest.ts';

export interface BackupDeps {
  dataDir: string;
  /** Configuration `secretKey`, to tell whether restored credentials will open here. */
  secretKey?: string;
  metadata: MetadataStore;
  warehouse: Warehouse;
  audit: AuditLog;
  clock: Clock;
  /** Applies what streaming ingestion acknowledged, so that a backup holds it and a restore replaces it. */
  flushStreaming: () => Promise<void>;
}

export interface BackupFile {
  name: string;
  bytes: number;
  modifiedAt: string;
}

export interface BackupResult extends BackupFile {
  /** SHA-256 of the whole file, to check a copy of it. */
  sha256: string;
  manifest: ManifestT;
}

export interface RestoreOptions {
  /** Restore under this name instead of the backed-up sandbox's. */
  sandbox?: string;
  /** Replace the sandbox when it exists. */
  force?: boolean;
  /** Called with the target sandbox before anything changes (the route's access check). */
  check?: (sandbox: string) => void;
}

export interface RestoreResult {
  sandbox: string;
  restoredFrom: string;
  backupCreatedAt: string;
  roundtripVersion: string;
  replaced: boolean;
  warehouseTables: number;
  warehouseRows: number;
  metadataRows: number;
  /** Things to do after the restore (credentials, renamed streaming connections). */
  warnings: string[];
}

export interface BackupChunk {
  offset: number;
  bytes: number;
  total: number;
  /** The chunk's bytes, base64. */
  data: string;
}

export interface UploadState {
  name: string;
  bytes: number;
  complete: boolean;
}

/** Same rule as the catalog's: a restore checks it before it changes anything. */
const SANDBOX_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
/** `v1.<keyId>.<iv>.<tag>.` of a value sealed by `SecretBox` (src/destinations/secrets.ts), wherever it is nested. */
const SEALED = /(?<![A-Za-z0-9_.-])v1\.([A-Za-z0-9_-]{8})\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\./g;
export const MAX_CHUNK_BYTES = 8 * 1024 * 1024;

function sealedKeyIds(text: string): string[] {
  return [...text.matchAll(SEALED)].map((m) => m[1]!);
}

const total = (counts: { rows: number }[]): number => counts.reduce((sum, t) => sum + t.rows, 0);

export class Backups {
  readonly directory: string;

  constructor(private readonly deps: BackupDeps) {
    this.directory = path.join(deps.dataDir, 'backups');
  }

  /** The path of a backup file in the backups folder; names are plain file names. */
  filePath(name: string): string {
    if (!FILE_NAME.test(name)) throw new RoundtripError('RT_REQUEST_INVALID', `"${name}" is not a backup file name: 1-200 letters, digits, '.', '_' or '-', starting with a letter or digit.`);
    return path.join(this.directory, name);
  }

  private async existing(name: string): Promise<{ file: string; bytes: number; modifiedAt: string }> {
    const file = this.filePath(name);
    try {
      const info = await stat(file);
      if (info.isFile()) return { file, bytes: info.size, modifiedAt: info.mtime.toISOString() };
    } catch {
      // reported below
    }
    throw new RoundtripError('RT_BACKUP_NOT_FOUND', `No backup named ${name} in ${this.directory}; \`GET /backups\` lists them.`, { name });
  }

  private async workDir(): Promise<string> {
    await mkdir(this.directory, { recursive: true });
    return mkdtemp(path.join(this.directory, '.work-'));
  }

  /** Backs the sandbox up into a new file of the backups folder. */
  async create(actor: Principal, sandbox: string): Promise<BackupResult> {
    const record = await this.deps.metadata.sandboxes.get(sandbox);
    if (!record) throw new RoundtripError('RT_SANDBOX_NOT_FOUND', `Sandbox "${sandbox}" does not exist; \`roundtrip sandbox list\` shows the sandboxes.`, { sandbox });
    await this.deps.flushStreaming();
    const createdAt = isoNow(this.deps.clock);
    const name = `${sandbox}-${createdAt.replace(/[-:.]/g, '')}-${newId('b', 3).slice(2)}.rtbackup`;
    const work = await this.workDir();
    try {
      const database = path.join(work, WAREHOUSE_ENTRY);
      let rows: SandboxRows = {};
      const summary = await this.deps.warehouse.exportSandbox(sandbox, database, async () => {
        rows = await this.deps.metadata.exportSandbox(sandbox);
      });
      const entries: ContainerEntry[] = [{ name: WAREHOUSE_ENTRY, file: database }];
      const keyIds = new Set<string>();
      let sealedValues = 0;
      for (const [table, tableRows] of Object.entries(rows)) {
        const text = tableRows.map((row) => `${JSON.stringify(row)}\n`).join('');
        const found = sealedKeyIds(text);
        sealedValues += found.length;
        for (const id of found) keyIds.add(id);
        const file = path.join(work, metadataEntry(table));
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, text);
        entries.push({ name: metadataEntry(table), file });
      }
      const manifest: ManifestT = {
        format: BACKUP_FORMAT,
        formatVersion: BACKUP_FORMAT_VERSION,
        roundtripVersion: ROUNDTRIP_VERSION,
        createdAt,
        sandbox: record,
        source: { metadataDialect: this.deps.metadata.dialect, warehouseEngine: summary.engine },
        warehouse: { tables: summary.tables },
        metadata: { tables: Object.entries(rows).map(([table, tableRows]) => ({ name: table, rows: tableRows.length })) },
        files: [],
        secrets: { sealedValues, keyIds: [...keyIds].sort() },
      };
      for (const entry of entries) manifest.files.push({ path: entry.name, ...(await digestFile(entry.file)) });
      const manifestFile = path.join(work, MANIFEST_ENTRY);
      await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
      const target = this.filePath(name);
      const partial = path.join(work, 'backup.partial');
      await writeContainer(partial, [{ name: MANIFEST_ENTRY, file: manifestFile }, ...entries]);
      await rename(partial, target);
      const { sha256, bytes } = await digestFile(target);
      await this.deps.audit.record(actor, {
        sandbox,
        action: 'sandbox.backup',
        resourceType: 'sandbox',
        resourceId: sandbox,
        details: { file: name, bytes, sha256, warehouseRows: total(summary.tables), metadataRows: total(manifest.metadata.tables) },
      });
      return { name, bytes, sha256, modifiedAt: createdAt, manifest };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async list(): Promise<BackupFile[]> {
    const entries = await readdir(this.directory, { withFileTypes: true }).catch(() => []);
    const files: BackupFile[] = [];
    for (const entry of entries) {
      if (!entry.isFile() || !FILE_NAME.test(entry.name)) continue;
      const info = await stat(path.join(this.directory, entry.name));
      files.push({ name: entry.name, bytes: info.size, modifiedAt: info.mtime.toISOString() });
    }
    return files.sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt) || a.name.localeCompare(b.name));
  }

  async remove(actor: Principal, name: string): Promise<void> {
    const { file } = await this.existing(name);
    await rm(file, { force: true });
    await this.deps.audit.record(actor, { sandbox: null, action: 'backup.delete', resourceType: 'backup', resourceId: name });
  }

  /** Streams the whole file (for `curl -o`). */
  async stream(name: string): Promise<{ file: string; bytes: number }> {
    return this.existing(name);
  }

  /** Up to `length` bytes from `offset`, base64: how a JSON client downloads a backup. */
  async readChunk(name: string, offset: number, length = MAX_CHUNK_BYTES): Promise<BackupChunk> {
    const { file, bytes: size } = await this.existing(name);
    const wanted = Math.max(0, Math.min(length, MAX_CHUNK_BYTES, size - offset));
    const buffer = Buffer.alloc(wanted);
    const handle = await open(file);
    try {
      const { bytesRead } = await handle.read(buffer, 0, wanted, offset);
      return { offset, bytes: bytesRead, total: size, data: buffer.subarray(0, bytesRead).toString('base64') };
    } finally {
      await handle.close();
    }
  }

  /**
   * Receives an uploaded backup: whole (no range), or in chunks that must arrive in order (`start` equal to
   * what is already there; a chunk at 0 starts over). The file takes its name once the last byte is in.
   */
  async receive(name: string, body: Readable, range?: { start: number; end: number; total: number | null }): Promise<UploadState> {
    const target = this.filePath(name);
    await mkdir(this.directory, { recursive: true });
    const partial = path.join(this.directory, `.${name}.upload`);
    if (!range) {
      await pipeline(body, createWriteStream(partial));
      await rename(partial, target);
      return { name, bytes: (await stat(target)).size, complete: true };
    }
    const before = range.start === 0 ? 0 : await stat(partial).then((s) => s.size, () => 0);
    if (range.start !== before) {
      body.resume();
      throw new RoundtripError('RT_BACKUP_UPLOAD_INVALID', `The upload of ${name} has ${before} bytes, so the next chunk must start at byte ${before}, not ${range.start}.`, { expectedStart: before, start: range.start });
    }
    await pipeline(body, createWriteStream(partial, { flags: range.start === 0 ? 'w' : 'a' }));
    const after = (await stat(partial)).size;
    if (after - before !== range.end - range.start + 1) {
      await truncate(partial, before);
      throw new RoundtripError('RT_BACKUP_UPLOAD_INVALID', `The chunk carried ${after - before} bytes but its Content-Range announced ${range.end - range.start + 1}; it was not kept.`, { expectedStart: before });
    }
    const complete = range.total !== null && after === range.total;
    if (complete) await rename(partial, target);
    return { name, bytes: after, complete };
  }

  /** Restores a backup file of the backups folder. */
  async restore(actor: Principal, name: string, options: RestoreOptions = {}): Promise<RestoreResult> {
    return this.restoreFile(actor, (await this.existing(name)).file, options);
  }

  /**
   * Restores from any backup file: unpacks and checks all of it first (manifest, sizes, checksums, rows), and
   * only then replaces anything, so a damaged file changes nothing.
   */
  async restoreFile(actor: Principal, file: string, options: RestoreOptions = {}): Promise<RestoreResult> {
    const work = await this.workDir();
    try {
      const { manifest, rows, database } = await this.unpack(file, work);
      const target = options.sandbox ?? manifest.sandbox.name;
      if (!SANDBOX_NAME.test(target)) {
        throw new RoundtripError('RT_SANDBOX_NAME_INVALID', `"${target}" is not a valid sandbox name: use 1-32 of a-z, 0-9 and -, starting with a letter.`);
      }
      options.check?.(target);
      const existing = await this.deps.metadata.sandboxes.get(target);
      if (existing && !options.force) {
        throw new RoundtripError('RT_SANDBOX_EXISTS', `Sandbox "${target}" already exists; restore under another name (--as) or replace it (--force).`, { sandbox: target });
      }
      const warnings = [...(await this.renameTakenConnections(target, rows)), ...this.secretWarnings(manifest, target)];
      await this.deps.flushStreaming();
      const record: SandboxRecord =
        target === manifest.sandbox.name
          ? manifest.sandbox
          : { name: target, title: target, type: target === PRODUCTION_SANDBOX ? 'production' : 'development', createdAt: isoNow(this.deps.clock) };
      // The sandbox row goes first and comes back last: nothing (scheduler, graph follower) sees a half-restored sandbox.
      if (existing) await this.deps.metadata.sandboxes.delete(target);
      try {
        await this.deps.warehouse.dropSandbox(target);
        const summary = await this.deps.warehouse.importSandbox(target, database).catch((error: unknown) => {
          throw new RoundtripError('RT_BACKUP_INCOMPATIBLE', `The warehouse database (written by ${manifest.source.warehouseEngine}) could not be restored: ${(error as Error).message}`);
        });
        if (JSON.stringify(summary.tables) !== JSON.stringify(manifest.warehouse.tables)) {
          throw new RoundtripError('RT_BACKUP_CORRUPT', 'The restored warehouse tables or row counts differ from the manifest.', { expected: manifest.warehouse.tables, restored: summary.tables });
        }
        await this.deps.metadata.importSandbox(target, rows);
        await this.deps.metadata.sandboxes.create(record);
        await this.deps.audit.record(actor, {
          sandbox: target,
          action: 'sandbox.restore',
          resourceType: 'sandbox',
          resourceId: target,
          details: { from: manifest.sandbox.name, backupCreatedAt: manifest.createdAt, roundtripVersion: manifest.roundtripVersion, replaced: Boolean(existing) },
        });
        return {
          sandbox: target,
          restoredFrom: manifest.sandbox.name,
          backupCreatedAt: manifest.createdAt,
          roundtripVersion: manifest.roundtripVersion,
          replaced: Boolean(existing),
          warehouseTables: summary.tables.length,
          warehouseRows: total(summary.tables),
          metadataRows: total(manifest.metadata.tables),
          warnings,
        };
      } catch (error) {
        // Leave no half-restored sandbox behind (a replaced one is gone by now: the error says to restore again).
        await this.deps.warehouse.dropSandbox(target).catch(() => undefined);
        await this.deps.metadata.purgeSandbox(target).catch(() => undefined);
        if (existing) {
          await this.deps.metadata.sandboxes.create(existing).catch(() => undefined);
          if (error instanceof RoundtripError) error.message += ` Sandbox "${target}" was emptied; restore again with --force.`;
        }
        throw error;
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Unpacks into `work` and checks everything against the manifest. */
  private async unpack(file: string, work: string): Promise<{ manifest: ManifestT; rows: SandboxRows; database: string }> {
    const extracted = await readContainer(file, work, (name) => ENTRY_NAME.test(name));
    if (extracted[0]?.name !== MANIFEST_ENTRY) throw new RoundtripError('RT_BACKUP_CORRUPT', 'The file is not a Roundtrip sandbox backup: it does not start with a manifest.');
    const manifest = parseManifest(await readFile(extracted[0].file, 'utf8'));
    const byName = new Map(extracted.slice(1).map((e) => [e.name, e]));
    for (const expected of manifest.files) {
      const found = byName.get(expected.path);
      if (!found) throw new RoundtripError('RT_BACKUP_CORRUPT', `The backup lacks ${expected.path}, which its manifest lists.`, { entry: expected.path });
      if (found.bytes !== expected.bytes || found.sha256 !== expected.sha256) {
        throw new RoundtripError('RT_BACKUP_CHECKSUM_MISMATCH', `${expected.path} does not match its checksum in the manifest: the backup was altered.`, {
          entry: expected.path,
          expected: { bytes: expected.bytes, sha256: expected.sha256 },
          found: { bytes: found.bytes, sha256: found.sha256 },
        });
      }
      byName.delete(expected.path);
    }
    if (byName.size) throw new RoundtripError('RT_BACKUP_CORRUPT', `The backup holds entries its manifest does not list: ${[...byName.keys()].join(', ')}.`);
    const rows: SandboxRows = {};
    for (const table of manifest.metadata.tables) {
      const text = await readFile(path.join(work, metadataEntry(table.name)), 'utf8').catch(() => {
        throw new RoundtripError('RT_BACKUP_CORRUPT', `The backup lacks the rows of metadata table ${table.name}.`);
      });
      const lines = text.split('\n').filter((line) => line.length > 0);
      if (lines.length !== table.rows) throw new RoundtripError('RT_BACKUP_CORRUPT', `Metadata table ${table.name} has ${lines.length} rows; the manifest says ${table.rows}.`);
      rows[table.name] = lines.map((line) => JSON.parse(line) as Record<string, JsonValue>);
    }
    if (!manifest.files.some((f) => f.path === WAREHOUSE_ENTRY)) throw new RoundtripError('RT_BACKUP_CORRUPT', 'The backup lacks the warehouse database.');
    return { manifest, rows, database: path.join(work, WAREHOUSE_ENTRY) };
  }

  /**
   * Streaming connection ids are global (the collection URL carries no sandbox): a copy restored beside its
   * original gets new ids for the connections the original still holds.
   */
  private async renameTakenConnections(target: string, rows: SandboxRows): Promise<string[]> {
    const warnings: string[] = [];
    for (const row of rows.streaming_connections ?? []) {
      if (typeof row.id !== 'string') continue;
      const id = row.id;
      const holder = await this.deps.metadata.streamingConnections.get(id);
      if (!holder || holder.sandbox === target) continue;
      const renamed = newId(id.includes('_') ? id.slice(0, id.lastIndexOf('_')) : 'conn');
      row.id = renamed;
      warnings.push(`Streaming connection ${id} belongs to sandbox ${holder.sandbox}; the restored copy is ${renamed} (same write key).`);
    }
    return warnings;
  }

  /** Whether the restored credentials will open here: same key, same sandbox name (they are bound to it). */
  private secretWarnings(manifest: ManifestT, target: string): string[] {
    const { sealedValues, keyIds } = manifest.secrets;
    if (sealedValues === 0) return [];
    const warnings: string[] = [];
    const localKeyId = SecretBox.fromConfig({ dataDir: this.deps.dataDir, ...(this.deps.secretKey ? { secretKey: this.deps.secretKey } : {}) })
      .seal('probe', 'probe')
      .split('.')[1]!;
    if (keyIds.some((id) => id !== localKeyId)) {
      warnings.push(
        `${sealedValues} stored credentials were encrypted with secret key ${keyIds.join(', ')}; this data directory uses ${localKeyId}. Set ROUNDTRIP_SECRET_KEY (or copy secret.key) to the key of the backed-up data directory, or enter the credentials again.`,
      );
    }
    if (target !== manifest.sandbox.name) {
      warnings.push(`Stored credentials are bound to sandbox ${manifest.sandbox.name}; under ${target} they do not open: enter destination, SMTP and tracking credentials again.`);
    }
    return warnings;
  }
}
