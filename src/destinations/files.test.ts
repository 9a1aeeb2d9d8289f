import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../testing/temp.ts';
import type { ResolvedAccount } from './connector.ts';
import { connectorFor } from './connector.ts';
import { csvField, writeCsvFiles } from './csv-writer.ts';
import { DEFAULT_FILE_NAME_TEMPLATE, renderFileName, validateFileNameTemplate } from './file-names.ts';
import { localFolderConnector } from './local-folder.ts';
import { encryptFile, readEncryptionKey } from './pgp.ts';
import { parseCsv, pgpDecrypt, pgpKeyPair, SAMPLE_COLUMNS, sampleRows } from './test-kit.ts';

const temp = tempDir('roundtrip-dst-files-');
let keys: { publicKey: string; privateKey: string };
before(async () => {
  keys = await pgpKeyPair();
});
after(() => temp.remove());

function localAccount(folder: string, pgpPublicKey?: string): ResolvedAccount {
  return { id: 'dst_local', sandbox: 'prod', name: 'Local', type: 'local-folder', params: { folder }, secrets: {}, marketingActions: [], ...(pgpPublicKey ? { pgpPublicKey } : {}) };
}

function visible(folder: string): string[] {
  return readdirSync(folder).filter((f) => !f.startsWith('.')).sort();
}

describe('CSV writer', () => {
  it('quotes per RFC 4180 and reads back row by row', async () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField(null), '');
    const rows = sampleRows(50);
    const files = await writeCsvFiles({ dir: path.join(temp.dir, 'quote'), baseName: 'q', columns: SAMPLE_COLUMNS }, rows);
    assert.equal(files.length, 1);
    const text = readFileSync(files[0]!.localPath, 'utf8');
    assert.ok(text.endsWith('\r\n'), 'CRLF line ends');
    assert.deepEqual(parseCsv(text), [SAMPLE_COLUMNS, ...rows.map((r) => r.map(String))]);
    assert.equal(files[0]!.rows, 50);
    assert.equal(files[0]!.bytes, statSync(files[0]!.localPath).size);
  });

  it('splits every N rows into name.csv, name_2.csv … each with a header, and writes a header-only file for no rows', async () => {
    const dir = path.join(temp.dir, 'split');
    const rows = sampleRows(25);
    const files = await writeCsvFiles({ dir, baseName: 'Acme_segment42_20240102030405', columns: SAMPLE_COLUMNS, splitRows: 10 }, rows);
    assert.deepEqual(files.map((f) => [f.name, f.rows]), [['Acme_segment42_20240102030405.csv', 10], ['Acme_segment42_20240102030405_2.csv', 10], ['Acme_segment42_20240102030405_3.csv', 5]]);
    const back = files.flatMap((f) => {
      const [header, ...body] = parseCsv(readFileSync(f.localPath, 'utf8'));
      assert.deepEqual(header, SAMPLE_COLUMNS);
      return body;
    });
    assert.deepEqual(back, rows.map((r) => r.map(String)));
    const empty = await writeCsvFiles({ dir, baseName: 'empty', columns: ['a'] }, []);
    assert.deepEqual(empty.map((f) => [f.name, f.rows]), [['empty.csv', 0]]);
    assert.equal(readFileSync(empty[0]!.localPath, 'utf8'), 'a\r\n');
  });

  it('encrypts each file with the PGP public key; decrypting with the private key gives the original', async () => {
    const dir = path.join(temp.dir, 'pgp-writer');
    const rows = sampleRows(30);
    const plain = await writeCsvFiles({ dir: path.join(temp.dir, 'plain'), baseName: 'p', columns: SAMPLE_COLUMNS, splitRows: 20 }, rows);
    const files = await writeCsvFiles({ dir, baseName: 'p', columns: SAMPLE_COLUMNS, splitRows: 20, pgpPublicKey: keys.publicKey }, rows);
    assert.deepEqual(files.map((f) => [f.name, f.rows, f.encrypted]), [['p.csv.pgp', 20, true], ['p_2.csv.pgp', 10, true]]);
    assert.deepEqual(readdirSync(dir).sort(), ['p.csv.pgp', 'p_2.csv.pgp'], 'no plain text left behind');
    for (const [i, file] of files.entries()) {
      const encrypted = readFileSync(file.localPath);
      assert.ok(!encrypted.includes(Buffer.from('user0@example.com')));
      assert.deepEqual(await pgpDecrypt(encrypted, keys.privateKey), readFileSync(plain[i]!.localPath));
    }
  });
});

describe('file name template', () => {
  const values = { destination: 'Acme Mail', segmentId: 'aud_42', segmentName: 'Gold members', at: new Date('2024-03-05T07:08:09Z') };
  it('renders the documented default and the macros', () => {
    assert.equal(renderFileName(DEFAULT_FILE_NAME_TEMPLATE, values), 'Acme Mail_segmentaud_42_20240305070809');
    assert.equal(renderFileName('{destination}_{segmentId}_{segmentName}_{datetime}_{unixtime}_custom', values), 'Acme Mail_aud_42_Gold members_03052024_070809_1709622489_custom');
    assert.equal(renderFileName('{destination}_segment{segmentId}', { ...values, destination: 'a/b' }), 'a_b_segmentaud_42', 'no folder can sneak in');
  });
  it('refuses unknown macros, missing mandatory macros, unsafe text and names over 255 characters', () => {
    assert.throws(() => validateFileNameTemplate('{destination}_{segmentId}_{nope}'), { code: 'RT_FILE_NAME_INVALID' });
    assert.throws(() => validateFileNameTemplate('{destination}_{timestamp}'), /segmentId/);
    assert.throws(() => validateFileNameTemplate('{destination}/{segmentId}'), { code: 'RT_FILE_NAME_INVALID' });
    assert.throws(() => validateFileNameTemplate(`{destination}{segmentId}${'x'.repeat(250)}`), /255/);
    assert.throws(() => renderFileName('{destination}{segmentId}', { ...values, destination: 'd'.repeat(240) }), /255/);
    validateFileNameTemplate(`{destination}{segmentId}${'x'.repeat(200)}`);
  });
});

describe('PGP', () => {
  it('refuses a private key and garbage as the public key', async () => {
    await assert.rejects(readEncryptionKey(keys.privateKey), { code: 'RT_DESTINATION_ACCOUNT_INVALID' });
    await assert.rejects(readEncryptionKey('not a key'), { code: 'RT_DESTINATION_ACCOUNT_INVALID' });
  });
  it('streams a multi-megabyte file through encryption and back', async () => {
    const source = path.join(temp.dir, 'big.bin');
    const data = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    writeFileSync(source, data);
    const target = `${source}.pgp`;
    const bytes = await encryptFile(source, target, keys.publicKey);
    assert.equal(bytes, statSync(target).size);
    assert.ok((await pgpDecrypt(readFileSync(target), keys.privateKey)).equals(data));
  });
});

describe('local folder connector', () => {
  it('delivers atomically, skips a complete identical file on rerun, and replaces a different one', async () => {
    const folder = path.join(temp.dir, 'out');
    const files = await writeCsvFiles({ dir: path.join(temp.dir, 'staging1'), baseName: 'Local_segmentA_1', columns: SAMPLE_COLUMNS, splitRows: 40 }, sampleRows(100));
    const first = await localFolderConnector.deliver(localAccount(folder), files);
    assert.deepEqual(first.map((r) => [r.name, r.skipped, r.rows]), [['Local_segmentA_1.csv', false, 40], ['Local_segmentA_1_2.csv', false, 40], ['Local_segmentA_1_3.csv', false, 20]]);
    assert.deepEqual(readdirSync(folder).sort(), files.map((f) => f.name).sort(), 'no temporary files left');
    for (const file of files) assert.deepEqual(readFileSync(path.join(folder, file.name)), readFileSync(file.localPath));
    const again = await localFolderConnector.deliver(localAccount(folder), files);
    assert.ok(again.every((r) => r.skipped), 'a rerun does not write again');
    assert.deepEqual(readdirSync(folder).sort(), files.map((f) => f.name).sort());
    // A truncated file with the same name (say, copied by hand) is replaced by the complete one.
    writeFileSync(path.join(folder, files[0]!.name), 'partial');
    const fixed = await localFolderConnector.deliver(localAccount(folder), [files[0]!]);
    assert.equal(fixed[0]!.skipped, false);
    assert.deepEqual(readFileSync(path.join(folder, files[0]!.name)), readFileSync(files[0]!.localPath));
  });

  it('an abort before the rename leaves no visible file, and the rerun completes it', async () => {
    const folder = path.join(temp.dir, 'abort');
    const files = await writeCsvFiles({ dir: path.join(temp.dir, 'staging2'), baseName: 'big', columns: SAMPLE_COLUMNS }, sampleRows(20_000));
    const controller = new AbortController();
    const delivery = localFolderConnector.deliver(localAccount(folder), files, { signal: controller.signal });
    controller.abort();
    await assert.rejects(delivery, { code: 'RT_DESTINATION_ABORTED' });
    assert.deepEqual(existsSync(folder) ? visible(folder) : [], []);
    const receipts = await localFolderConnector.deliver(localAccount(folder), files);
    assert.equal(receipts[0]!.skipped, false);
    assert.deepEqual(readdirSync(folder), ['big.csv']);
    assert.equal(parseCsv(readFileSync(path.join(folder, 'big.csv'), 'utf8')).length, 20_001);
  });

  it('encrypts on delivery when the account has a public key', async () => {
    const folder = path.join(temp.dir, 'enc');
    const files = await writeCsvFiles({ dir: path.join(temp.dir, 'staging3'), baseName: 'e', columns: SAMPLE_COLUMNS }, sampleRows(10));
    const connector = connectorFor('local-folder');
    assert.equal(connector, localFolderConnector);
    const [receipt] = await localFolderConnector.deliver(localAccount(folder, keys.publicKey), files);
    assert.equal(receipt!.name, 'e.csv.pgp');
    assert.equal(receipt!.encrypted, true);
    assert.deepEqual(readdirSync(folder), ['e.csv.pgp']);
    assert.deepEqual(await pgpDecrypt(readFileSync(path.join(folder, 'e.csv.pgp')), keys.privateKey), readFileSync(files[0]!.localPath));
  });

  it('refuses file names with folders or a leading dot', async () => {
    await assert.rejects(localFolderConnector.deliver(localAccount(temp.dir), [{ name: '../x.csv', localPath: '/dev/null', bytes: 0, rows: 0 }]), { code: 'RT_FILE_NAME_INVALID' });
    await assert.rejects(localFolderConnector.deliver(localAccount(temp.dir), [{ name: '.x.csv', localPath: '/dev/null', bytes: 0, rows: 0 }]), { code: 'RT_FILE_NAME_INVALID' });
  });
});
