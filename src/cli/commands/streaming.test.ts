import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../../testing/temp.ts';

const BIN = path.resolve(import.meta.dirname, '../../../bin/roundtrip.js');
const run = promisify(execFile);

describe('roundtrip streaming (CLI)', () => {
  const temp = tempDir();
  const env = { ...process.env, ROUNDTRIP_DATA_DIR: path.join(temp.dir, 'data'), DATABASE_URL: '', ROUNDTRIP_API_KEY: '', ROUNDTRIP_LOG_LEVEL: 'warn' };
  const cli = async (...args: string[]) => {
    try {
      return { code: 0, ...(await run(process.execPath, [BIN, ...args], { env })) };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  before(async () => assert.equal((await cli('init')).code, 0));
  after(() => temp.remove());

  it('sets up Segment datasets, creates a connection printing its secret once, lists and revokes it', async () => {
    const setup = await cli('streaming', 'segment-setup', '--name', 'Web');
    assert.equal(setup.code, 0, setup.stderr);
    const [eventDataset, profileDataset] = setup.stdout.match(/ds_[0-9a-f]{16}/g) ?? [];
    const created = await cli('streaming', 'create', '--name', 'web', '--kind', 'segment', '--dataset', eventDataset!, '--profile-dataset', profileDataset!);
    assert.equal(created.code, 0, created.stderr);
    const secret = /Secret \(shown once[^)]*\): (rtc_[0-9a-f]{16}_[A-Za-z0-9_-]{32})/.exec(created.stdout)?.[1];
    assert.ok(secret, created.stdout);
    const listed = JSON.parse((await cli('--json', 'streaming', 'list')).stdout) as { id: string; kind: string; revokedAt: string | null }[];
    assert.deepEqual([listed.length, listed[0]!.kind, listed[0]!.revokedAt], [1, 'segment', null]);
    assert.ok(!JSON.stringify(listed).includes(secret.slice(21)), 'the secret is never listed');
    const revoked = JSON.parse((await cli('--json', 'streaming', 'revoke', listed[0]!.id)).stdout) as { revokedAt: string | null }[];
    assert.ok(revoked[0]!.revokedAt);
  });
});
