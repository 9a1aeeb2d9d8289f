/**
 * The SFTP destination (reference §12.1 "SFTP with Password" / "SFTP with SSH Key"), over `ssh2-sftp-client`.
 * Files go to `<folder>/.<name>.part` and are renamed into place with OpenSSH's posix-rename (atomic, replaces
 * the target); a complete file of the same name and size is not uploaded again. Connecting is retried on
 * network errors; refused credentials are not retried. An optional `hostKeySha256` pins the server's host key.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import SftpClient from 'ssh2-sftp-client';
import { RoundtripError } from '../core/errors.ts';
import type { ConnectionTestResult, DeliverOptions, FileConnector, ResolvedAccount } from './connector.ts';
import { deliverFiles, partName, type FileTarget } from './file-delivery.ts';
import { positiveParam, textParam } from './params.ts';
import { withRetry, type RetryPolicy } from './retry.ts';

const CONNECT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 250, maxDelayMs: 2000 };

export interface SftpSettings {
  host: string;
  port: number;
  username: string;
  folder: string;
  password?: string;
  privateKey?: string;
  passphrase?: string;
  hostKeySha256?: string;
  readyTimeoutMs: number;
}

export function sftpSettings(account: ResolvedAccount): SftpSettings {
  const { params, secrets } = account;
  return {
    host: textParam(params, 'host'),
    port: positiveParam(params, 'port', 22),
    username: textParam(params, 'username'),
    folder: textParam(params, 'folder') || '.',
    password: secrets.password,
    privateKey: secrets.privateKey,
    passphrase: secrets.passphrase,
    hostKeySha256: textParam(params, 'hostKeySha256') || undefined,
    readyTimeoutMs: positiveParam(params, 'timeoutMs', 20_000),
  };
}

function isHostKeyMismatch(error: unknown): boolean {
  return /host denied|verification failed/i.test((error as Error).message ?? '');
}

function isAuthFailure(error: unknown): boolean {
  const e = error as { level?: string; message?: string };
  return e.level === 'client-authentication' || /authentication|all configured authentication methods failed/i.test(e.message ?? '');
}

/** Opens a connection (retried on network errors) and runs `work`; the connection always ends. */
export async function withSftp<T>(settings: SftpSettings, work: (client: SftpClient) => Promise<T>, signal?: AbortSignal): Promise<T> {
  // The library's default listeners print every connection end to the console; failures reach us as rejections.
  const client = new SftpClient('roundtrip', { error: () => undefined, end: () => undefined, close: () => undefined });
  const onAbort = (): void => void client.end().catch(() => undefined);
  try {
    await withRetry(
      () =>
        client.connect({
          host: settings.host,
          port: settings.port,
          username: settings.username,
          password: settings.password,
          privateKey: settings.privateKey,
          passphrase: settings.passphrase,
          readyTimeout: settings.readyTimeoutMs,
          tryKeyboard: false,
          hostVerifier: settings.hostKeySha256 ? (key: Buffer) => createHash('sha256').update(key).digest('base64').replace(/=+$/, '') === settings.hostKeySha256!.replace(/^SHA256:/, '').replace(/=+$/, '') : undefined,
        }),
      { policy: CONNECT_RETRY, isRetryable: (error) => !isAuthFailure(error) && !isHostKeyMismatch(error), signal },
    );
  } catch (error) {
    await client.end().catch(() => undefined);
    if (signal?.aborted) throw new RoundtripError('RT_DESTINATION_ABORTED', 'Delivery was stopped while connecting.');
    if (isHostKeyMismatch(error)) throw new RoundtripError('RT_DESTINATION_AUTH_FAILED', `SFTP server ${settings.host}:${settings.port} showed a host key other than the pinned ${settings.hostKeySha256}.`, { host: settings.host, port: settings.port });
    if (isAuthFailure(error)) throw new RoundtripError('RT_DESTINATION_AUTH_FAILED', `SFTP server ${settings.host}:${settings.port} refused the credentials of ${settings.username}.`, { host: settings.host, port: settings.port });
    throw new RoundtripError('RT_DESTINATION_UNREACHABLE', `SFTP server ${settings.host}:${settings.port} did not accept a connection: ${(error as Error).message}`, { host: settings.host, port: settings.port });
  }
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await work(client);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await client.end().catch(() => undefined);
  }
}

export function sftpTarget(client: SftpClient, folder: string): FileTarget {
  const at = (name: string): string => path.posix.join(folder, name);
  let folderReady = false;
  return {
    pathOf: at,
    sizeOf: async (name) => {
      try {
        return (await client.stat(at(name))).size;
      } catch {
        return undefined;
      }
    },
    upload: async (localPath, tempName, signal) => {
      if (!folderReady && !(await client.exists(folder))) await client.mkdir(folder, true);
      folderReady = true;
      // fastPut writes several chunks in flight (far faster than a piped put). A transfer in flight does not
      // settle when its connection ends, so an abort settles it here (and `withSftp` ends the connection).
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new Error('aborted'));
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      try {
        await Promise.race([client.fastPut(localPath, at(tempName)), aborted]);
      } finally {
        if (onAbort) signal?.removeEventListener('abort', onAbort);
      }
    },
    rename: async (from, to) => {
      try {
        await client.posixRename(at(from), at(to));
      } catch {
        // Servers without the posix-rename extension: plain SFTP rename refuses an existing target.
        if (await client.exists(at(to))) await client.delete(at(to));
        await client.rename(at(from), at(to));
      }
    },
    remove: async (name) => {
      await client.delete(at(name), true);
    },
  };
}

export const sftpConnector: FileConnector = {
  kind: 'file',
  deliver: (account, files, options: DeliverOptions = {}) => {
    const settings = sftpSettings(account);
    return withSftp(settings, (client) => deliverFiles(sftpTarget(client, settings.folder), account, files, options), options.signal);
  },
  test: async (account, options: DeliverOptions = {}): Promise<ConnectionTestResult> => {
    const started = Date.now();
    const settings = sftpSettings(account);
    try {
      await withSftp(
        settings,
        async (client) => {
          if (!(await client.exists(settings.folder))) await client.mkdir(settings.folder, true);
          const probe = path.posix.join(settings.folder, partName(`roundtrip-probe-${process.pid}`));
          await client.put(Buffer.from('ok'), probe);
          await client.delete(probe, true);
        },
        options.signal,
      );
      return { ok: true, message: `Connected to ${settings.host}:${settings.port}; folder ${settings.folder} is writable.`, durationMs: Date.now() - started };
    } catch (error) {
      const code = error instanceof RoundtripError ? error.code : 'RT_DESTINATION_DELIVERY_FAILED';
      return { ok: false, code, message: (error as Error).message, durationMs: Date.now() - started };
    }
  },
};
