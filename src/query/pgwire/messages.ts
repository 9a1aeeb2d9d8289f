/**
 * Postgres wire protocol v3 framing: reading frontend messages off a socket and building backend messages.
 *
 * Frontend: the first packet is untyped (`int32 length, int32 code, …`: startup, SSLRequest, GSSENCRequest,
 * CancelRequest); every later one is `byte type, int32 length, body`. Backend messages are built as Buffers
 * by the functions below and written by the session.
 */
import type { Duplex } from 'node:stream';
import type { PgType } from './pg-types.ts';

export const PROTOCOL_V3 = 196608;
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;

/** Longest message accepted (a Parse with a very long query, a Bind with large values). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface FrontendMessage {
  type: string;
  body: Buffer;
}

export class ProtocolViolation extends Error {}

/**
 * Buffers bytes from a stream and hands out whole packets. `detach` lets the session move to a TLS socket after
 * SSLRequest; `next*` resolve to undefined when the stream ends.
 */
export class MessageReader {
  private buffer: Buffer = Buffer.alloc(0);
  private ended = false;
  private waiter: (() => void) | undefined;
  private stream: Duplex | undefined;
  private readonly onData = (chunk: Buffer): void => {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    this.wake();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.wake();
  };

  attach(stream: Duplex): void {
    this.stream = stream;
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onEnd);
  }

  detach(): void {
    this.stream?.off('data', this.onData);
    this.stream?.off('end', this.onEnd);
    this.stream?.off('close', this.onEnd);
    this.stream?.off('error', this.onEnd);
    this.stream = undefined;
  }

  /** Bytes received and not read yet (a client must not send more after SSLRequest before the answer). */
  get pending(): number {
    return this.buffer.length;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  private async need(bytes: number): Promise<boolean> {
    while (this.buffer.length < bytes) {
      if (this.ended) return false;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    return true;
  }

  private take(bytes: number): Buffer {
    const out = this.buffer.subarray(0, bytes);
    this.buffer = this.buffer.subarray(bytes);
    return out;
  }

  /** The untyped first packet (its body after the length), or undefined at end of stream. */
  async nextStartup(): Promise<Buffer | undefined> {
    if (!(await this.need(4))) return undefined;
    const length = this.buffer.readInt32BE(0);
    if (length < 8 || length > 10_000) throw new ProtocolViolation(`invalid startup packet length ${length}`);
    if (!(await this.need(length))) return undefined;
    return this.take(length).subarray(4);
  }

  async next(): Promise<FrontendMessage | undefined> {
    if (!(await this.need(5))) return undefined;
    const type = String.fromCharCode(this.buffer[0]!);
    const length = this.buffer.readInt32BE(1);
    if (length < 4 || length > MAX_MESSAGE_BYTES) throw new ProtocolViolation(`invalid length ${length} for message "${type}"`);
    if (!(await this.need(1 + length))) return undefined;
    const packet = this.take(1 + length);
    return { type, body: packet.subarray(5) };
  }
}

/** Reads fields out of a message body in order. */
export class BodyReader {
  private offset = 0;
  constructor(private readonly body: Buffer) {}

  int16(): number {
    this.check(2);
    const v = this.body.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    this.check(4);
    const v = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  byte(): string {
    this.check(1);
    return String.fromCharCode(this.body[this.offset++]!);
  }

  cstring(): string {
    const end = this.body.indexOf(0, this.offset);
    if (end === -1) throw new ProtocolViolation('unterminated string in message');
    const v = this.body.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return v;
  }

  bytes(n: number): Buffer {
    this.check(n);
    const v = this.body.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  get remaining(): number {
    return this.body.length - this.offset;
  }

  private check(n: number): void {
    if (this.offset + n > this.body.length) throw new ProtocolViolation('message shorter than its fields');
  }
}

/** Startup packet parameters (`user`, `database`, `application_name`, `options`, …). */
export function parseStartupParameters(body: Buffer): Record<string, string> {
  const reader = new BodyReader(body.subarray(4));
  const params: Record<string, string> = {};
  while (reader.remaining > 1) {
    const key = reader.cstring();
    if (key === '') break;
    params[key] = reader.cstring();
  }
  return params;
}

// ---------------------------------------------------------------------------------------------- backend

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

const cstr = (s: string): Buffer => Buffer.from(`${s.replace(/\0/g, '')}\0`, 'utf8');
const int16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

export const authenticationOk = (): Buffer => message('R', int32(0));
export const authenticationCleartextPassword = (): Buffer => message('R', int32(3));
export const parameterStatus = (name: string, value: string): Buffer => message('S', Buffer.concat([cstr(name), cstr(value)]));
export const backendKeyData = (pid: number, secret: number): Buffer => message('K', Buffer.concat([int32(pid), int32(secret)]));
export const readyForQuery = (status: 'I' | 'T' | 'E'): Buffer => message('Z', Buffer.from(status, 'latin1'));
export const parseComplete = (): Buffer => message('1', Buffer.alloc(0));
export const bindComplete = (): Buffer => message('2', Buffer.alloc(0));
export const closeComplete = (): Buffer => message('3', Buffer.alloc(0));
export const noData = (): Buffer => message('n', Buffer.alloc(0));
export const portalSuspended = (): Buffer => message('s', Buffer.alloc(0));
export const emptyQueryResponse = (): Buffer => message('I', Buffer.alloc(0));
export const commandComplete = (tag: string): Buffer => message('C', cstr(tag));

export const parameterDescription = (oids: readonly number[]): Buffer => message('t', Buffer.concat([int16(oids.length), ...oids.map(int32)]));

export function negotiateProtocolVersion(minor: number, unrecognised: readonly string[]): Buffer {
  return message('v', Buffer.concat([int32(minor), int32(unrecognised.length), ...unrecognised.map(cstr)]));
}

export interface WireField {
  name: string;
  type: PgType;
  /** 0 text, 1 binary. */
  format: number;
}

export function rowDescription(fields: readonly WireField[]): Buffer {
  const parts: Buffer[] = [int16(fields.length)];
  for (const f of fields) {
    const fixed = Buffer.alloc(18);
    fixed.writeInt32BE(0, 0); // table oid
    fixed.writeInt16BE(0, 4); // column attribute number
    fixed.writeInt32BE(f.type.oid, 6);
    fixed.writeInt16BE(f.type.size, 10);
    fixed.writeInt32BE(f.type.typmod, 12);
    fixed.writeInt16BE(f.format, 16);
    parts.push(cstr(f.name), fixed);
  }
  return message('T', Buffer.concat(parts));
}

/** One row; each value already encoded (text as UTF-8, or binary), null for SQL NULL. */
export function dataRow(values: readonly (Buffer | string | null)[]): Buffer {
  const parts: Buffer[] = [int16(values.length)];
  for (const v of values) {
    if (v === null) parts.push(int32(-1));
    else {
      const bytes = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
      parts.push(int32(bytes.length), bytes);
    }
  }
  return message('D', Buffer.concat(parts));
}

export interface NoticeFields {
  severity: 'ERROR' | 'FATAL' | 'WARNING' | 'NOTICE' | 'INFO';
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

function fieldsBody(f: NoticeFields): Buffer {
  const parts = [Buffer.from('S'), cstr(f.severity), Buffer.from('V'), cstr(f.severity), Buffer.from('C'), cstr(f.code), Buffer.from('M'), cstr(f.message)];
  if (f.detail) parts.push(Buffer.from('D'), cstr(f.detail));
  if (f.hint) parts.push(Buffer.from('H'), cstr(f.hint));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export const errorResponse = (f: NoticeFields): Buffer => message('E', fieldsBody(f));
export const noticeResponse = (f: NoticeFields): Buffer => message('N', fieldsBody(f));
