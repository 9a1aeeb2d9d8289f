import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliEnv, cliRunner } from '../../testing/cli.ts';
import { tempDir } from '../../testing/temp.ts';

describe('roundtrip streaming (CLI)', () => {
  const temp = tempDir();
  const cli = cliRunner(cliEnv(path.join(temp.dir, 'data')));
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
