/**
 * `roundtrip backup` and `roundtrip restore`: one sandbox to one file and back, through the backup routes (a
 * running server, or in-process). The file moves in chunks (base64 JSON down, ordered raw chunks up), so the
 * same commands work against a server on another machine.
 */
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { BackupChunk, BackupResult, RestoreResult, UploadState } from '../../backup/service.ts';
import { digestFile } from '../../backup/container.ts';
import { RoundtripError } from '../../core/errors.ts';
import { isInitialised, readServerInfo } from '../../platform/data-dir.ts';
import { initDataDir } from '../../platform/platform.ts';
import type { ApiClient } from '../client.ts';
import type { CliContext, GlobalOptions } from '../context.ts';

const CHUNK_BYTES = 8 * 1024 * 1024;
const enc = encodeURIComponent;

/** Downloads a backup file of the server into `target`, chunk by chunk, and checks its SHA-256. */
async function download(api: ApiClient, name: string, target: string, sha256: string): Promise<void> {
  const handle = await open(target, 'w');
  try {
    for (let offset = 0, size = 1; offset < size; ) {
      const chunk = await api.request<BackupChunk>('GET', `/backups/${enc(name)}/chunks?offset=${offset}&length=${CHUNK_BYTES}`);
      const bytes = Buffer.from(chunk.data, 'base64');
      await handle.write(bytes, 0, bytes.length, offset);
      offset += bytes.length;
      size = chunk.total;
      if (bytes.length === 0 && offset < size) throw new RoundtripError('RT_BACKUP_CORRUPT', `The download of ${name} stopped at byte ${offset} of ${size}.`);
    }
  } finally {
    await handle.close();
  }
  if ((await digestFile(target)).sha256 !== sha256) {
    await rm(target, { force: true });
    throw new RoundtripError('RT_BACKUP_CHECKSUM_MISMATCH', `The downloaded copy of ${name} does not match the server's SHA-256; try again.`);
  }
}

/** Uploads a local file into the server's backups folder as `name`, in ordered chunks. */
async function upload(api: ApiClient, file: string, name: string): Promise<void> {
  const handle = await open(file);
  try {
    const { size } = await handle.stat();
    if (size === 0) throw new RoundtripError('RT_BACKUP_CORRUPT', `${file} is empty: it is not a Roundtrip backup.`);
    for (let start = 0; start < size; start += CHUNK_BYTES) {
      const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, size - start));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
      await api.upload<UploadState>('PATCH', `/backups/${enc(name)}`, buffer.subarray(0, bytesRead), { 'content-range': `bytes ${start}-${start + bytesRead - 1}/${size}` });
    }
  } finally {
    await handle.close();
  }
}

export function backupCommands(program: Command, ctx: CliContext): void {
  program
    .command('backup')
    .description('Back up a sandbox (--sandbox, default prod) to one file: datasets, system tables, metadata, models')
    .option('--out <file>', 'where to write it (default ./<sandbox>-<time>.rtbackup)')
    .option('--keep-on-server', 'also keep the copy in the data directory (<dataDir>/backups)')
    .action((opts: { out?: string; keepOnServer?: boolean }) =>
      ctx.withClient(async (api, out) => {
        const made = await api.request<BackupResult>('POST', '/backups');
        const target = path.resolve(opts.out ?? made.name);
        try {
          await download(api, made.name, target, made.sha256);
        } finally {
          if (!opts.keepOnServer) await api.request('DELETE', `/backups/${enc(made.name)}`);
        }
        if (out.json) return out.value({ file: target, ...made });
        const sum = (tables: { rows: number }[]) => tables.reduce((acc, t) => acc + t.rows, 0);
        out.rows(
          [
            {
              file: target,
              sandbox: made.manifest.sandbox.name,
              bytes: made.bytes,
              warehouseTables: made.manifest.warehouse.tables.length,
              warehouseRows: sum(made.manifest.warehouse.tables),
              metadataRows: sum(made.manifest.metadata.tables),
            },
          ],
        );
        out.note(`SHA-256 ${made.sha256}`);
        if (made.manifest.secrets.sealedValues > 0) out.note('It holds encrypted credentials: restoring them needs this data directory\'s secret key (secret.key or ROUNDTRIP_SECRET_KEY).');
      }),
    );

  program
    .command('restore <file>')
    .description('Restore a sandbox from a backup file (into a new data directory, or under a new name with --as)')
    .option('--as <sandbox>', "restore under this name instead of the backed-up sandbox's")
    .option('--force', 'replace the sandbox if it exists')
    .action(async (file: string, opts: { as?: string; force?: boolean }) => {
      const globals = program.opts<GlobalOptions>();
      let fresh = false;
      await ctx.run(async () => {
        const config = ctx.config();
        // A new data directory is created on the way (its `prod` is empty, so restoring over it needs no --force).
        if (!globals.url && !readServerInfo(config.dataDir) && !isInitialised(config.dataDir)) {
          const result = await initDataDir(config);
          fresh = true;
          console.error(`Initialised ${result.dataDir}. Admin API key (shown once, store it now): ${result.adminToken}`);
        }
      });
      if (process.exitCode) return;
      await ctx.withClient(async (api, out) => {
        const name = `upload-${Date.now()}-${path.basename(file).replace(/[^A-Za-z0-9._-]/g, '_')}`.slice(0, 200);
        let restored: RestoreResult;
        try {
          await upload(api, path.resolve(file), name);
          restored = await api.request<RestoreResult>('POST', `/backups/${enc(name)}/restore`, {
            ...(opts.as ? { sandbox: opts.as } : {}),
            ...(opts.force || fresh ? { force: true } : {}),
          });
        } finally {
          await api.request('DELETE', `/backups/${enc(name)}`).catch(() => undefined);
        }
        if (out.json) return out.value(restored);
        out.rows([{ ...restored }], ['sandbox', 'restoredFrom', 'backupCreatedAt', 'warehouseTables', 'warehouseRows', 'metadataRows', 'replaced']);
        for (const warning of restored.warnings) out.note(`Note: ${warning}`);
      });
    });
}
