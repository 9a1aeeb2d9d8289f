import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/temp.ts';
import { DEFAULT_CONFIG, resolveConfig } from './config.ts';

describe('configuration', () => {
  it('uses the documented defaults with an absolute data directory', () => {
    const config = resolveConfig({ env: {} });
    assert.equal(config.port, DEFAULT_CONFIG.port);
    assert.equal(config.dataDir, path.resolve('.roundtrip'));
    assert.equal(config.databaseUrl, undefined);
  });

  it('layers file < environment < flags', () => {
    const temp = tempDir();
    try {
      const file = path.join(temp.dir, 'config.json');
      writeFileSync(file, JSON.stringify({ port: 9000, tenant: 'acme', host: '0.0.0.0' }));
      const config = resolveConfig({ env: { ROUNDTRIP_PORT: '9100', ROUNDTRIP_CONFIG: file, DATABASE_URL: 'postgres://x' }, flags: { port: 9200 } });
      assert.equal(config.port, 9200, 'flag wins');
      assert.equal(config.tenant, 'acme', 'file value kept when nothing overrides it');
      assert.equal(config.host, '0.0.0.0');
      assert.equal(config.databaseUrl, 'postgres://x');
      assert.equal(resolveConfig({ env: { ROUNDTRIP_PORT: '9100', ROUNDTRIP_CONFIG: file } }).port, 9100, 'env beats file');
    } finally {
      temp.remove();
    }
  });

  it('reads <dataDir>/config.json when present', () => {
    const temp = tempDir();
    try {
      writeFileSync(path.join(temp.dir, 'config.json'), JSON.stringify({ duckdbThreads: 1 }));
      assert.equal(resolveConfig({ env: { ROUNDTRIP_DATA_DIR: temp.dir } }).duckdbThreads, 1);
    } finally {
      temp.remove();
    }
  });

  it('refuses invalid values with RT_CONFIG_INVALID naming the key', () => {
    assert.throws(() => resolveConfig({ env: { ROUNDTRIP_PORT: 'eighty' } }), (e: { code: string; message: string }) => e.code === 'RT_CONFIG_INVALID' && /port/.test(e.message));
    assert.throws(() => resolveConfig({ env: {}, flags: { tenant: 'Bad Tenant' } }), { code: 'RT_CONFIG_INVALID' });
    assert.throws(() => resolveConfig({ env: {}, file: '/nonexistent/config.json' }), { code: 'RT_CONFIG_INVALID' });
  });
});
