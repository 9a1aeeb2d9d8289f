import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { resolveConfig } from '../core/config.ts';
import { initDataDir, openPlatform } from '../platform/platform.ts';
import { buildApp } from '../server/app.ts';
import type { TestPlatform } from '../testing/platform.ts';
import { tempDir } from '../testing/temp.ts';
import { crmRecord, link, setupDatasets, write } from './test-kit.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/roundtrip.js');
const run = promisify(execFile);

describe('identity and profile CLI', () => {
  const temp = tempDir();
  const env = { ...process.env, ROUNDTRIP_DATA_DIR: temp.dir, DATABASE_URL: '', ROUNDTRIP_API_KEY: '', ROUNDTRIP_LOG_LEVEL: 'warn' };
  const cli = async (...args: string[]): Promise<unknown> => JSON.parse((await run(process.execPath, [BIN, '--json', ...args], { env })).stdout) as unknown;

  let mergedProfile = 0;
  before(async () => {
    // Data written in-process first, as the CLI would find it in a data directory no server owns.
    const config = resolveConfig({ env: {}, flags: { dataDir: temp.dir, logLevel: 'silent' } });
    await initDataDir(config);
    const platform = await openPlatform(config);
    const app = await buildApp(platform, { auth: 'local-operator', logLevel: 'silent' });
    const call: TestPlatform['call'] = async (method, url, options = {}) => {
      const response = await app.inject({ method: method as 'GET', url, ...(options.body === undefined ? {} : { payload: options.body as object }) });
      return { status: response.statusCode, body: response.body ? (JSON.parse(response.body) as unknown) : undefined };
    };
    const t = { call } as TestPlatform;
    const kit = await setupDatasets(t);
    await write(t, kit.crm, [crmRecord('CLI-1', 'cli-one@example.com'), crmRecord('CLI-2', 'cli-two@example.com')]);
    await write(t, kit.links, [link({ Email: ['cli-one@example.com'], ECID: ['cli-device'] }), link({ ECID: ['cli-device'], Phone: ['+14155550142'] })]);
    mergedProfile = ((await call('GET', '/profiles?namespace=Phone&id=%2B14155550142')).body as { profileId: number }).profileId;
    await app.close();
    await platform.close();
  });
  after(() => temp.remove());

  it('unlinks and relinks identities (audited), and compacts a sandbox', async () => {
    const unlinked = (await cli('identity', 'unlink', 'ECID:cli-device', 'Phone:+14155550142')) as { unlinkId: string; graphs: { identities: unknown[] }[] };
    assert.deepEqual(unlinked.graphs.map((g) => g.identities.length), [3, 1]);
    const relinked = (await cli('identity', 'relink', unlinked.unlinkId)) as { graphs: { graphId: number; identities: unknown[] }[] };
    assert.deepEqual(relinked.graphs.map((g) => [g.graphId, g.identities.length]), [[mergedProfile, 4]]);
    const compacted = (await cli('sandbox', 'compact', 'prod')) as { sandbox: string }[];
    assert.equal(compacted[0]!.sandbox, 'prod');
  });
});
