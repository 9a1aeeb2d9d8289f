import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ERROR_CODES, RoundtripError } from './errors.ts';

const root = path.resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') && !full.endsWith('.test.ts') ? [full] : [];
  });
}

describe('error codes', () => {
  const documented = new Set(readFileSync(path.join(root, 'docs/errors.md'), 'utf8').match(/\bRT_[A-Z0-9_]+\b/g));

  it('lists every code of the registry in docs/errors.md, and nothing else', () => {
    const codes = Object.keys(ERROR_CODES);
    assert.deepEqual(codes.filter((c) => !documented.has(c)), [], 'codes missing from docs/errors.md');
    assert.deepEqual([...documented].filter((c) => !(c in ERROR_CODES)), [], 'docs/errors.md lists codes the code does not have');
  });

  it('uses only registered codes in the sources', () => {
    const used = new Set(sourceFiles(path.join(root, 'src')).flatMap((f) => readFileSync(f, 'utf8').match(/\bRT_[A-Z0-9_]{3,}\b/g) ?? []));
    assert.deepEqual([...used].filter((c) => !(c in ERROR_CODES)), []);
  });

  it('carries status and serialises without a stack', () => {
    const error = new RoundtripError('RT_SCHEMA_NOT_FOUND', 'nope', { id: 'x' });
    assert.equal(error.status, 404);
    assert.deepEqual(JSON.parse(JSON.stringify(error)), { code: 'RT_SCHEMA_NOT_FOUND', message: 'nope', details: { id: 'x' } });
  });
});

describe('generated documents', () => {
  it('shows the permission table of src/access/roles.ts in docs/access.md', async () => {
    const { permissionTableMarkdown } = await import('../access/roles.ts');
    assert.ok(readFileSync(path.join(root, 'docs/access.md'), 'utf8').includes(permissionTableMarkdown()), 'run `npm run docs`');
  });
});
