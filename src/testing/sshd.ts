/**
 * Test support: a real OpenSSH `sshd` (Debian's openssh-server) on a loopback port, serving one SFTP-only user
 * (`ForceCommand internal-sftp`, no shell, no forwarding) whose files land in a temporary folder.
 *
 * It runs as the current user with `-D -e -f <temp config>` and a temporary ed25519 host key. Key auth always
 * works. Password auth needs sshd to check a password, which only root can do (it reads /etc/shadow): as root
 * the helper starts sshd in a private mount namespace (`unshare --mount`) where /etc/passwd and /etc/shadow are
 * bind-mounted copies holding an extra user with the test password, so the machine's accounts are never
 * touched. Without root, `unshare` (mount namespaces allowed) or `openssl`, `password` is undefined and password
 * tests skip.
 * As root, sshd wants its privilege-separation folder `/run/sshd`; the helper creates it when missing.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './temp.ts';

const run = promisify(execFile);
export const SSHD_BIN = process.env.ROUNDTRIP_SSHD ?? '/usr/sbin/sshd';

/** Why SFTP tests cannot run here, or undefined when they can. */
export function sshdUnavailable(): string | undefined {
  if (!existsSync(SSHD_BIN)) return `OpenSSH server not installed (${SSHD_BIN} missing): apt-get install -y openssh-server`;
  if (!existsSync('/usr/bin/ssh-keygen')) return 'ssh-keygen missing: apt-get install -y openssh-client';
  return undefined;
}

export interface SshdServer {
  host: string;
  port: number;
  username: string;
  /** Set when password auth works (see the header); undefined otherwise. */
  password?: string;
  /** Where the SFTP user lands (the login folder); files uploaded to relative paths appear here. */
  root: string;
  /** Host key fingerprint as `ssh-keygen -lf` prints it (`SHA256:…`). */
  hostKeySha256: string;
  /** What sshd logged so far (for failing tests). */
  log(): string;
  stop(): Promise<void>;
}

export interface SshKeyPair {
  privateKey: string;
  publicKey: string;
}

/** A fresh ed25519 key pair in OpenSSH format (`passphrase` encrypts the private key). */
export async function generateSshKeyPair(passphrase = ''): Promise<SshKeyPair> {
  const temp = tempDir('roundtrip-sshkey-');
  try {
    const file = path.join(temp.dir, 'id');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'roundtrip-test', '-f', file]);
    return { privateKey: readFileSync(file, 'utf8'), publicKey: readFileSync(`${file}.pub`, 'utf8').trim() };
  } finally {
    temp.remove();
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when the port answers with an SSH banner. */
async function waitForBanner(port: number, child: ChildProcess, log: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}:\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('SSH-'));
      });
      socket.once('error', () => resolve(false));
      socket.setTimeout(1000, () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not answer on port ${port}:\n${log()}`);
}

async function canUsePrivateMounts(): Promise<boolean> {
  // The password hash of the test user comes from `openssl passwd -6`.
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/unshare') || !existsSync('/usr/bin/openssl')) return false;
  try {
    await run('unshare', ['--mount', '--propagation', 'private', 'true']);
    return true;
  } catch {
    return false;
  }
}

/** Copies of /etc/passwd and /etc/shadow with one more user (uid of the current user) and its password hash. */
async function accountFiles(dir: string, username: string, password: string, home: string): Promise<{ passwd: string; shadow: string }> {
  const { stdout } = await run('openssl', ['passwd', '-6', '-salt', randomBytes(8).toString('hex'), password]);
  const shell = existsSync('/usr/sbin/nologin') ? '/usr/sbin/nologin' : '/bin/false';
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const passwd = path.join(dir, 'passwd');
  const shadow = path.join(dir, 'shadow');
  writeFileSync(passwd, `${readFileSync('/etc/passwd', 'utf8').trimEnd()}\n${username}:x:${uid}:${gid}:Roundtrip SFTP test:${home}:${shell}\n`);
  writeFileSync(shadow, `${readFileSync('/etc/shadow', 'utf8').trimEnd()}\n${username}:${stdout.trim()}:19000:0:99999:7:::\n`, { mode: 0o600 });
  return { passwd, shadow };
}

export interface SshdOptions {
  /** OpenSSH public key lines the user may log in with. */
  authorizedKeys?: string[];
  /** Password of the user (random when unset); only used when password auth is possible. */
  password?: string;
}

export async function startSshd(options: SshdOptions = {}): Promise<SshdServer> {
  const unavailable = sshdUnavailable();
  if (unavailable) throw new Error(unavailable);
  const temp = tempDir('roundtrip-sshd-');
  const root = path.join(temp.dir, 'sftp');
  mkdirSync(root, { recursive: true });
  const hostKey = path.join(temp.dir, 'host_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const fingerprint = (await run('ssh-keygen', ['-lf', `${hostKey}.pub`])).stdout.split(' ')[1] ?? '';
  const authorizedKeys = path.join(temp.dir, 'authorized_keys');
  writeFileSync(authorizedKeys, (options.authorizedKeys ?? []).map((k) => `${k.trim()}\n`).join(''), { mode: 0o600 });

  const withPassword = await canUsePrivateMounts();
  const username = withPassword ? 'rtsftp' : os.userInfo().username;
  const password = withPassword ? (options.password ?? randomBytes(12).toString('base64url')) : undefined;
  const port = await freePort();
  const config = path.join(temp.dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress 127.0.0.1`,
      `Port ${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${path.join(temp.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `StrictModes no`,
      `UsePAM no`,
      `PubkeyAuthentication yes`,
      `PasswordAuthentication ${withPassword ? 'yes' : 'no'}`,
      `KbdInteractiveAuthentication no`,
      `PermitRootLogin yes`,
      `AllowUsers ${username}`,
      `Subsystem sftp internal-sftp`,
      `ForceCommand internal-sftp -u 0022 -d ${root}`,
      `DisableForwarding yes`,
      `PermitTTY no`,
      `MaxStartups 50`,
      `LogLevel VERBOSE`,
      '',
    ].join('\n'),
  );

  let args: string[];
  let command: string;
  if (withPassword) {
    const files = await accountFiles(temp.dir, username, password!, root);
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    command = 'unshare';
    args = ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/shadow && exec "$3" -D -e -f "$4"', 'sh', files.passwd, files.shadow, SSHD_BIN, config];
  } else {
    command = SSHD_BIN;
    args = ['-D', '-e', '-f', config];
  }
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const log = (): string => output;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    temp.remove();
  };
  try {
    await waitForBanner(port, child, log);
  } catch (error) {
    await stop();
    throw error;
  }
  return { host: '127.0.0.1', port, username, ...(password ? { password } : {}), root, hostKeySha256: fingerprint, log, stop };
}
