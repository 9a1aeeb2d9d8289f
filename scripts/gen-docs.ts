/**
 * Regenerates the parts of docs/ that code owns: docs/errors.md (every RT_ code with its status and meaning)
 * and the permission table in docs/access.md. Run `npm run docs` after adding a code or an action; tests fail
 * while the documents and the code disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { permissionTableMarkdown } from '../src/access/roles.ts';
import { ERROR_CODES } from '../src/core/errors.ts';

const docs = path.resolve(import.meta.dirname, '../docs');

const errors = [
  '# Error codes',
  '',
  'Every error a user can meet has a stable code. HTTP answers carry it as `{ "error": { "code", "message", "details" } }`;',
  'the CLI prints `CODE: message` and exits with status 1. `details.issues` lists field problems as `{ path, message }`.',
  'Generated from `src/core/errors.ts` by `npm run docs`.',
  '',
  '| code | HTTP | meaning |',
  '|---|---|---|',
  ...Object.entries(ERROR_CODES).map(([code, { status, meaning }]) => `| \`${code}\` | ${status} | ${meaning} |`),
  '',
].join('\n');
writeFileSync(path.join(docs, 'errors.md'), errors);

const accessFile = path.join(docs, 'access.md');
const access = readFileSync(accessFile, 'utf8');
const start = '<!-- permission-table:start -->';
const end = '<!-- permission-table:end -->';
const table = `${start}\n${permissionTableMarkdown()}\n${end}`;
writeFileSync(accessFile, access.replace(new RegExp(`${start}[\\s\\S]*${end}`), table));
console.log('docs/errors.md and docs/access.md regenerated');
