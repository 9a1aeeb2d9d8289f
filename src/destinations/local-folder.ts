/**
 * The local-folder destination: files land in a folder of this machine (or a mounted share). Each file is copied
 * to `.<name>.part` in the target folder, fsynced, renamed over the final name, and the folder fsynced, so a
 * reader sees either no file or the whole file, also after a power cut.
 */
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { RoundtripError } from '../core/errors.ts';
import type { ConnectionTestResult, FileConnector, ResolvedAccount } from './connector.ts';
import { deliverFiles, partName, type FileTarget } from './file-delivery.ts';

function folderOf(account: ResolvedAccount): string {
  const folder = account.params.folder;
  if (typeof folder !== 'string' || !path.isAbsolute(folder)) {
    throw new RoundtripError('RT_DESTINATION_ACCOUNT_INVALID', 'A local-folder destination needs an absolute `folder`.', { issues: [{ path: 'params.folder', message: 'absolute path required' }] });
  }
  return folder;
}

async function fsyncPath(target: string, flags: number): Promise<void> {
  const handle = await open(target, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function localFolderTarget(folder: string): FileTarget {
  const at = (name: string): string => path.join(folder, name);
  return {
    pathOf: at,
    sizeOf: async (name) => {
      try {
        return (await stat(at(name))).size;
      } catch {
        return undefined;
      }
    },
    upload: async (localPath, tempName, signal) => {
      await mkdir(folder, { recursive: true });
      await pipeline(createReadStream(localPath), createWriteStream(at(tempName)), { signal });
      await fsyncPath(at(tempName), constants.O_RDONLY);
    },
    rename: async (from, to) => {
      await rename(at(from), at(to));
      await fsyncPath(folder, constants.O_RDONLY);
    },
    remove: (name) => rm(at(name), { force: true }),
  };
}

export const localFolderConnector: FileConnector = {
  kind: 'file',
  deliver: (account, files, options) => deliverFiles(localFolderTarget(folderOf(account)), account, files, options),
  test: async (account): Promise<ConnectionTestResult> => {
    const started = Date.now();
    try {
      const folder = folderOf(account);
      await mkdir(folder, { recursive: true });
      const probe = path.join(folder, partName(`roundtrip-probe-${process.pid}`));
      await writeFile(probe, 'ok');
      await rm(probe, { force: true });
      return { ok: true, message: `Folder ${folder} is writable.`, durationMs: Date.now() - started };
    } catch (error) {
      const code = error instanceof RoundtripError ? error.code : 'RT_DESTINATION_DELIVERY_FAILED';
      return { ok: false, code, message: (error as Error).message, durationMs: Date.now() - started };
    }
  },
};
