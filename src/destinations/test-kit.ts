/**
 * Test support for destination tests: an RFC 4180 reader to check delivered files row by row, sample export
 * rows with the characters that need quoting, and an OpenPGP key pair made for the test.
 */
import * as openpgp from 'openpgp';
import type { CsvValue } from './csv-writer.ts';

export { parseCsv } from '../core/csv.ts';

export const SAMPLE_COLUMNS = ['personalEmail.address', 'person.name.firstName', 'person.name.lastName', 'segmentMembership.status'];

/** `n` profile rows; every 7th has a comma, a quote or a line break in the name. */
export function sampleRows(n: number): CsvValue[][] {
  const odd = ['O"Brien', 'Smith, Jr.', 'Line\nBreak', 'Ünïcødé', 'Tab\there', 'Carriage\r\nReturn', ''];
  return Array.from({ length: n }, (_, i) => [`user${i}@example.com`, `First${i}`, i % 7 === 0 ? odd[(i / 7) % odd.length]! : `Last${i}`, i % 3 === 0 ? 'exited' : 'realized']);
}

export async function pgpKeyPair(): Promise<{ publicKey: string; privateKey: string }> {
  const { publicKey, privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Roundtrip test', email: 'test@example.com' }], format: 'armored' });
  return { publicKey, privateKey };
}

/** Decrypts a binary OpenPGP message with an armored private key. */
export async function pgpDecrypt(encrypted: Uint8Array, armoredPrivateKey: string): Promise<Buffer> {
  const privateKey = await openpgp.readPrivateKey({ armoredKey: armoredPrivateKey });
  const message = await openpgp.readMessage({ binaryMessage: encrypted });
  // openpgp's stream-aware result types do not resolve without @openpgp/web-stream-tools (see pgp.ts).
  const result = (await openpgp.decrypt({ message, decryptionKeys: privateKey, format: 'binary' })) as unknown as { data: Uint8Array };
  return Buffer.from(result.data);
}
