/**
 * OpenPGP encryption of export files with the public key a destination account gives (armored). Files are
 * streamed through `openpgp.encrypt` (web streams), so a multi-gigabyte export never sits in memory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as openpgp from 'openpgp';
import { RoundtripError } from '../core/errors.ts';

/** Reads and checks an armored public key: it must parse, be public and have a key that can encrypt. */
export async function readEncryptionKey(armoredKey: string): Promise<openpgp.Key> {
  let key: openpgp.Key;
  try {
    key = await openpgp.readKey({ armoredKey });
  } catch (error) {
    throw invalidKey(`is not an armored OpenPGP key: ${(error as Error).message}`);
  }
  if (key.isPrivate()) throw invalidKey('is a private key; give the public key only');
  try {
    await key.getEncryptionKey();
  } catch (error) {
    throw invalidKey(`has no usable encryption key: ${(error as Error).message}`);
  }
  return key;
}

function invalidKey(reason: string): RoundtripError {
  return new RoundtripError('RT_DESTINATION_ACCOUNT_INVALID', `The OpenPGP public key ${reason}.`, { issues: [{ path: 'pgpPublicKey', message: reason }] });
}

/**
 * openpgp's stream types come from `@openpgp/web-stream-tools`, which is not installed, so they resolve to
 * errors; these are the shapes used here (web streams in, a web stream of the binary message out).
 */
interface StreamingPgp {
  createMessage(options: { binary: ReadableStream<Uint8Array> }): Promise<unknown>;
  encrypt(options: { message: unknown; encryptionKeys: openpgp.Key; format: 'binary' }): Promise<ReadableStream<Uint8Array>>;
}
const streamingPgp = openpgp as unknown as StreamingPgp;

/** Encrypts `source` into `target` (binary OpenPGP message), streaming; returns the bytes written. */
export async function encryptFile(source: string, target: string, armoredKey: string, signal?: AbortSignal): Promise<number> {
  const encryptionKeys = await readEncryptionKey(armoredKey);
  const input = Readable.toWeb(createReadStream(source)) as unknown as ReadableStream<Uint8Array>;
  const message = await streamingPgp.createMessage({ binary: input });
  const encrypted = await streamingPgp.encrypt({ message, encryptionKeys, format: 'binary' });
  const output = createWriteStream(target);
  let bytes = 0;
  const counted = Readable.fromWeb(encrypted);
  counted.on('data', (chunk: Uint8Array) => (bytes += chunk.length));
  await pipeline(counted, output, { signal });
  return bytes;
}
