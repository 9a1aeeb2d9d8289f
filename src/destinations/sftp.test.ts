import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateSshKeyPair, sshdUnavailable, startSshd, type SshdServer, type SshKeyPair } from '../testing/sshd.ts';
import { tempDir } from '../testing/temp.ts';
import type { ResolvedAccount } from './connector.ts';
import { writeCsvFiles } from './csv-writer.ts';
import { sftpConnector } from './sftp.ts';
import { parseCsv, SAMPLE_COLUMNS, sampleRows } from './test-kit.ts';

const unavailable = sshdUnavailable();
const temp = tempDir('roundtrip-dst-sftp-');
let server: SshdServer;
let clientKey: SshKeyPair;

before(async () => {
  if (unavailable) return;
  clientKey = await generateSshKeyPair();
  server = await startSshd({ authorizedKeys: [clientKey.publicKey] });
});
after(async () => {
  await server?.stop();
  temp.remove();
});

function account(auth: 'password' | 'key', folder: string, extra: Record<string, string> = {}): ResolvedAccount {
  return {
    id: 'dst_sftp',
    sandbox: 'prod',
    name: 'SFTP',
    type: 'sftp',
    params: { host: server.host, port: server.port, username: server.username, authType: auth, folder, ...extra },
    secrets: auth === 'password' ? { password: server.password ?? '' } : { privateKey: clientKey.privateKey },
    marketingActions: [],
  };
}

const visible = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')).sort() : []);

describe('SFTP connector against a real OpenSSH sshd', { skip: unavailable }, () => {
  it('delivers by SSH key; the files read back row by row; a rerun does not duplicate', async () => {
    const rows = sampleRows(2500);
    const files = await writeCsvFiles({ dir: path.join(temp.dir, 'key'), baseName: 'Acme_segmentaud1_20240101000000', columns: SAMPLE_COLUMNS, splitRows: 1000 }, rows);
    const receipts = await sftpConnector.deliver(account('key', 'exports/key'), files);
    assert.deepEqual(receipts.map((r) => [r.name, r.skipped, r.rows]), [['Acme_segmentaud1_20240101000000.csv', false, 1000], ['Acme_segmentaud1_20240101000000_2.csv', false, 1000], ['Acme_segmentaud1_20240101000000_3.csv', false, 500]]);
    const remote = path.join(server.root, 'exports/key');
    assert.deepEqual(readdirSync(remote).sort(), files.map((f) => f.name).sort(), 'only the final files, no .part left');
    const back = files.flatMap((f) => parseCsv(readFileSync(path.join(remote, f.name), 'utf8')).slice(1));
    assert.deepEqual(back, rows.map((r) => r.map(String)));
    const mtimes = files.map((f) => statSync(path.join(remote, f.name)).mtimeMs);
    const rerun = await sftpConnector.deliver(account('key', 'exports/key'), files);
    assert.ok(rerun.every((r) => r.skipped), 'nothing uploaded twice');
    assert.deepEqual(readdirSync(remote).sort(), files.map((f) => f.name).sort());
    assert.deepEqual(files.map((f) => statSync(path.join(remote, f.name)).mtimeMs), mtimes);
  });

  it('delivers by password', async (t) => {
    if (!server.password) return t.skip('password auth needs root and unshare (see src/testing/sshd.ts)');
    const rows = sampleRows(300);
    const files = await writeCsvFiles({ dir: path.join(temp.dir, 'pw'), baseName: 'pw', columns: SAMPLE_COLUMNS }, rows);
    const [receipt] = await sftpConnector.deliver(account('password', 'exports/pw', { hostKeySha256: server.hostKeySha256 }), files);
    assert.equal(receipt!.remotePath, 'exports/pw/pw.csv');
    assert.deepEqual(parseCsv(readFileSync(path.join(server.root, 'exports/pw/pw.csv'), 'utf8')), [SAMPLE_COLUMNS, ...rows.map((r) => r.map(String))]);
  });

  it('an abort in the middle of an upload leaves no visible file; the rerun produces exactly one complete file', async () => {
    const files = await writeCsvFiles({ dir: path.join(temp.dir, 'abort'), baseName: 'crash', columns: SAMPLE_COLUMNS }, sampleRows(150_000));
    const remote = path.join(server.root, 'exports/abort');
    const controller = new AbortController();
    const delivery = sftpConnector.deliver(account('key', 'exports/abort'), files, { signal: controller.signal });
    const part = path.join(remote, '.crash.csv.part');
    // Abort once the upload has started writing (the temporary file exists and has bytes).
    let started = false;
    for (let i = 0; i < 2000 && !started; i++) {
      started = existsSync(part) && statSync(part).size > 0;
      if (!started) await new Promise((r) => setTimeout(r, 5));
    }
    controller.abort();
    assert.ok(started, 'the upload had begun when it was aborted');
    await assert.rejects(delivery, { code: 'RT_DESTINATION_ABORTED' });
    assert.deepEqual(visible(remote), [], 'no visible partial file');
    const [receipt] = await sftpConnector.deliver(account('key', 'exports/abort'), files);
    assert.equal(receipt!.skipped, false);
    assert.deepEqual(readdirSync(remote), ['crash.csv'], 'exactly one file, the temporary one renamed away');
    assert.equal(statSync(path.join(remote, 'crash.csv')).size, files[0]!.bytes);
    assert.deepEqual(readFileSync(path.join(remote, 'crash.csv')), readFileSync(files[0]!.localPath));
  });

  it('refused credentials and a wrong pinned host key fail with RT_DESTINATION_AUTH_FAILED, without retrying', async () => {
    const wrongKey = await generateSshKeyPair();
    const refused = { ...account('key', 'x'), secrets: { privateKey: wrongKey.privateKey } };
    await assert.rejects(sftpConnector.deliver(refused, []), { code: 'RT_DESTINATION_AUTH_FAILED' });
    const pinned = account('key', 'x', { hostKeySha256: `SHA256:${'A'.repeat(43)}` });
    await assert.rejects(sftpConnector.deliver(pinned, []), { code: 'RT_DESTINATION_AUTH_FAILED' });
    const test = await sftpConnector.test(refused);
    assert.equal(test.ok, false);
    assert.equal(test.code, 'RT_DESTINATION_AUTH_FAILED');
    const ok = await sftpConnector.test(account('key', 'probe', { hostKeySha256: server.hostKeySha256 }));
    assert.equal(ok.ok, true, ok.message);
    assert.deepEqual(readdirSync(path.join(server.root, 'probe')), [], 'the probe file is removed');
  });

  it('an unreachable server fails with RT_DESTINATION_UNREACHABLE', async () => {
    const closed = { ...account('key', 'x'), params: { ...account('key', 'x').params, port: 1, timeoutMs: 500 } };
    await assert.rejects(sftpConnector.deliver(closed, []), { code: 'RT_DESTINATION_UNREACHABLE' });
  });
});
