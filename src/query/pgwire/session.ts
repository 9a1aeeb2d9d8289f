/**
 * One client connection: startup (SSLRequest, protocol version, cleartext password = API key, database =
 * sandbox), then the simple (`Q`) and extended (`P`/`B`/`D`/`E`/`S`/`C`/`H`) query protocols until `X` or the
 * socket closes. Messages are handled strictly in order. Statements run through the query service with
 * `client: 'pgwire'`; what drivers send about sessions, transactions and the catalog is answered locally.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Principal } from '../../access/principal.ts';
import { RoundtripError } from '../../core/errors.ts';
import type { JsonValue } from '../../ports/warehouse.ts';
import { tokenize, type Token } from '../sql-tokens.ts';
import type { QueryOptions, QueryOutcome, StatementResult } from '../types.ts';
import { significantTokens, upper } from './catalog-sql.ts';
import { answerCatalogQuery, type CatalogTable } from './catalog.ts';
import { beginsBlock, classifyLocal, defaultParameters, REPORTED, type LocalStatement } from './local.ts';
import * as m from './messages.ts';
import { bindParameters, parameterCount } from './parameters.ts';
import { canSendBinary, decodeBinaryParameter, encodeBinary, encodeText, OID, PG_TYPES, pgTypeForDuckDB, type PgType } from './pg-types.ts';
import { errorFields, protocolError } from './sqlstate.ts';

/** Most rows one statement returns to a Postgres client (as in the reference: 50,000). */
export const PGWIRE_MAX_ROWS = 50_000;

/** What the endpoint needs from the platform; `platformBackend` builds it, tests may fake it. */
export interface PgWireBackend {
  /** The API key given as password → its principal; throws RT_AUTH_INVALID. */
  authenticate(password: string): Promise<Principal>;
  /** Throws RT_SANDBOX_NOT_FOUND, or RT_FORBIDDEN_SANDBOX / RT_FORBIDDEN_ROLE when the key may not query the sandbox. */
  openSandbox(principal: Principal, sandbox: string): Promise<void>;
  execute(principal: Principal, sandbox: string, sql: string, options: QueryOptions): Promise<QueryOutcome>;
  /** The sandbox's tables for catalog queries (datasets first). */
  catalogTables(sandbox: string): Promise<CatalogTable[]>;
  /** Sandboxes the principal may use (`\l`). */
  databases(principal: Principal): Promise<string[]>;
  /** Stops this connection's running statement (best effort). */
  cancel?(principal: Principal, sandbox: string, sql: string, startedAt: string): Promise<void>;
}

export interface SessionOptions {
  backend: PgWireBackend;
  tls: SecureContext | undefined;
  /** Refuse clients that do not ask for TLS (when TLS is configured). */
  requireTls: boolean;
  version: string;
  startedAt: string;
  register(session: PgSession): { pid: number; secret: number };
  unregister(session: PgSession): void;
  /** A CancelRequest arrived for this backend key. */
  cancel(pid: number, secret: number): void;
  log?: (message: string) => void;
}

interface Field {
  name: string;
  type: PgType;
}

/** One statement's answer, ready to encode. */
interface WireResult {
  fields: Field[] | null;
  rows: JsonValue[][];
  tag: string;
  notices: m.NoticeFields[];
  /** ParameterStatus messages to send with it (a SET of a reported parameter). */
  statuses: Buffer[];
  empty?: boolean;
}

interface PreparedStatement {
  sql: string;
  oids: number[];
}

interface Portal {
  sql: string;
  statement: PreparedStatement;
  resultFormats: number[];
  result: WireResult | undefined;
  formats: number[] | undefined;
  sent: number;
}

type Unit = { sql: string; local: LocalStatement | undefined };

const EMPTY: WireResult = { fields: null, rows: [], tag: '', notices: [], statuses: [], empty: true };

const FLUSH_BYTES = 256 * 1024;
const STARTUP_TIMEOUT_MS = 60_000;

/** Parameters a client cannot change: values are always sent as UTF-8, times in UTC with explicit offsets. */
const FIXED_PARAMETERS = new Set(['client_encoding', 'server_encoding', 'server_version', 'server_version_num', 'integer_datetimes', 'is_superuser', 'session_authorization', 'timezone', 'ssl']);

export class PgSession {
  private readonly reader = new m.MessageReader();
  private stream: Duplex;
  private out: Buffer[] = [];
  private outBytes = 0;
  private principal: Principal | undefined;
  private sandbox = '';
  private user = '';
  private params = new Map<string, string>();
  private readonly ddSettings = new Map<string, string>();
  private status: 'I' | 'T' | 'E' = 'I';
  private writesInTransaction = 0;
  private readonly statements = new Map<string, PreparedStatement>();
  private readonly portals = new Map<string, Portal>();
  private skipUntilSync = false;
  private running: { sql: string; startedAt: string } | undefined;
  private tlsActive = false;
  pid = 0;
  secret = 0;

  constructor(
    private readonly socket: Socket,
    private readonly options: SessionOptions,
  ) {
    this.stream = socket;
    this.reader.attach(socket);
  }

  /** Serves the connection until it ends; never throws. */
  async run(): Promise<void> {
    // A client that never finishes logging in does not keep its socket.
    const loginTimer = setTimeout(() => this.stream.destroy(), STARTUP_TIMEOUT_MS);
    loginTimer.unref();
    try {
      const ready = await this.startup();
      clearTimeout(loginTimer);
      if (ready) await this.serve();
    } catch (error) {
      if (error instanceof m.ProtocolViolation) {
        this.send(m.errorResponse({ severity: 'FATAL', code: '08P01', message: `RT_PGWIRE_PROTOCOL: ${error.message}` }));
      } else {
        this.options.log?.(`pgwire session failed: ${(error as Error).stack ?? String(error)}`);
        this.send(m.errorResponse(errorFields(error, 'FATAL')));
      }
    } finally {
      clearTimeout(loginTimer);
      await this.flush();
      this.reader.detach();
      this.options.unregister(this);
      const stream = this.stream;
      if (!stream.destroyed) stream.end(() => stream.destroy());
    }
  }

  /** CancelRequest from another connection: stop the running statement if there is one. */
  async cancelRunning(): Promise<void> {
    const running = this.running;
    if (!running || !this.principal || !this.options.backend.cancel) return;
    await this.options.backend.cancel(this.principal, this.sandbox, running.sql, running.startedAt);
  }

  // ------------------------------------------------------------------------------------------- output

  private send(message: Buffer): void {
    this.out.push(message);
    this.outBytes += message.length;
  }

  private async flush(): Promise<void> {
    if (this.out.length === 0) return;
    const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    this.outBytes = 0;
    if (this.stream.destroyed || !this.stream.writable) return;
    if (!this.stream.write(data)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.stream.off('drain', done);
          this.stream.off('close', done);
          resolve();
        };
        this.stream.once('drain', done);
        this.stream.once('close', done);
      });
    }
  }

  private async maybeFlush(): Promise<void> {
    if (this.outBytes >= FLUSH_BYTES) await this.flush();
  }

  // ------------------------------------------------------------------------------------------ startup

  private fatal(code: string, message: string, detail?: string): false {
    this.send(m.errorResponse({ severity: 'FATAL', code, message, ...(detail ? { detail } : {}) }));
    return false;
  }

  private async startup(): Promise<boolean> {
    let packet: Buffer | undefined;
    for (;;) {
      packet = await this.reader.nextStartup();
      if (!packet) return false;
      const code = packet.readInt32BE(0);
      if (code === m.SSL_REQUEST) {
        if (this.options.tls && !this.tlsActive) {
          if (this.reader.pending > 0) return this.fatal('08P01', 'RT_PGWIRE_PROTOCOL: data received after SSLRequest before the answer.');
          await this.upgradeToTls(this.options.tls);
        } else {
          this.stream.write('N');
        }
        continue;
      }
      if (code === m.GSSENC_REQUEST) {
        this.stream.write('N');
        continue;
      }
      if (code === m.CANCEL_REQUEST) {
        if (packet.length >= 12) this.options.cancel(packet.readInt32BE(4), packet.readInt32BE(8));
        return false;
      }
      break;
    }
    const code = packet.readInt32BE(0);
    if (code >> 16 !== 3) return this.fatal('0A000', `RT_PGWIRE_UNSUPPORTED: unsupported frontend protocol ${code >> 16}.${code & 0xffff}: this server speaks 3.0.`);
    const startup = m.parseStartupParameters(packet);
    const unrecognised = Object.keys(startup).filter((k) => k.startsWith('_pq_.'));
    if ((code & 0xffff) > 0 || unrecognised.length) this.send(m.negotiateProtocolVersion(0, unrecognised));
    if (startup.replication && startup.replication !== 'false' && startup.replication !== '0') {
      return this.fatal('0A000', 'RT_PGWIRE_UNSUPPORTED: replication connections are not supported.');
    }
    if (this.options.tls && this.options.requireTls && !this.tlsActive) {
      return this.fatal('28000', 'RT_AUTH_INVALID: this server accepts TLS connections only (sslmode=require).');
    }
    this.user = startup.user ?? '';
    this.params = defaultParameters(this.user, startup.application_name ?? '');
    if (this.tlsActive) this.params.set('ssl', 'on');
    // Drivers send settings in the startup packet too (JDBC: DateStyle, extra_float_digits).
    for (const [key, value] of Object.entries(startup)) {
      const name = key.toLowerCase();
      if (this.params.has(name) && !FIXED_PARAMETERS.has(name)) this.params.set(name, value);
    }
    this.applyStartupOptions(startup.options);

    this.send(m.authenticationCleartextPassword());
    await this.flush();
    const answer = await this.reader.next();
    if (!answer) return false;
    if (answer.type !== 'p') return this.fatal('08P01', `RT_PGWIRE_PROTOCOL: expected a password message, got "${answer.type}".`);
    const password = new m.BodyReader(answer.body).cstring();
    try {
      this.principal = await this.options.backend.authenticate(password);
    } catch (error) {
      const fields = errorFields(error, 'FATAL');
      return this.fatal(fields.code === '28P01' ? '28P01' : fields.code, `password authentication failed for user "${this.user}": ${fields.message}`, 'Give an API key (rt_…) as the password.');
    }
    const database = (startup.database || this.user).split(':')[0]!;
    this.sandbox = database;
    try {
      await this.options.backend.openSandbox(this.principal, database);
    } catch (error) {
      const fields = errorFields(error, 'FATAL');
      return this.fatal(fields.code, fields.message, fields.detail);
    }
    const keys = this.options.register(this);
    this.pid = keys.pid;
    this.secret = keys.secret;
    this.send(m.authenticationOk());
    for (const [name, reported] of REPORTED) this.send(m.parameterStatus(reported, this.params.get(name) ?? ''));
    this.send(m.backendKeyData(this.pid, this.secret));
    this.send(m.readyForQuery('I'));
    await this.flush();
    return true;
  }

  private async upgradeToTls(context: SecureContext): Promise<void> {
    this.reader.detach();
    this.socket.write('S');
    const tls = new TLSSocket(this.socket, { isServer: true, secureContext: context });
    // A failed handshake or a reset later must not become an uncaught 'error' event.
    tls.on('error', () => tls.destroy());
    this.stream = tls;
    this.tlsActive = true;
    this.reader.attach(tls);
    await new Promise<void>((resolve) => {
      tls.once('secure', resolve);
      tls.once('error', () => resolve());
      tls.once('close', () => resolve());
    });
  }

  /** `options=-c search_path=x -c statement_timeout=0` from the startup packet. */
  private applyStartupOptions(options: string | undefined): void {
    if (!options) return;
    for (const match of options.matchAll(/(?:-c\s*|--)([A-Za-z_.]+)=(\S+)/g)) {
      const name = match[1]!.toLowerCase();
      if (this.params.has(name) && !FIXED_PARAMETERS.has(name)) this.params.set(name, match[2]!);
    }
  }

  // ------------------------------------------------------------------------------------------ serving

  private async serve(): Promise<void> {
    for (;;) {
      const message = await this.reader.next();
      if (!message || message.type === 'X') return;
      if (this.skipUntilSync && message.type !== 'S') continue;
      try {
        await this.dispatch(message);
      } catch (error) {
        if (error instanceof m.ProtocolViolation) throw error;
        this.sendError(error);
        if (message.type === 'Q') this.send(m.readyForQuery(this.status));
        else this.skipUntilSync = true;
        await this.flush();
      }
    }
  }

  private sendError(error: unknown): void {
    this.send(m.errorResponse(errorFields(error)));
    if (this.status === 'T') this.status = 'E';
  }

  private async dispatch(message: m.FrontendMessage): Promise<void> {
    const body = new m.BodyReader(message.body);
    switch (message.type) {
      case 'Q':
        return this.simpleQuery(body.cstring());
      case 'P':
        return this.parse(body);
      case 'B':
        return this.bind(body);
      case 'D':
        return this.describe(body);
      case 'E':
        return this.executePortal(body);
      case 'S':
        this.skipUntilSync = false;
        this.portals.delete('');
        this.send(m.readyForQuery(this.status));
        return this.flush();
      case 'H':
        return this.flush();
      case 'C': {
        const kind = body.byte();
        const name = body.cstring();
        if (kind === 'S') this.statements.delete(name);
        else this.portals.delete(name);
        this.send(m.closeComplete());
        return;
      }
      case 'F':
        throw new RoundtripError('RT_PGWIRE_UNSUPPORTED', 'Function calls (the fast-path interface) are not supported.');
      case 'd':
      case 'c':
      case 'f':
        throw new RoundtripError('RT_PGWIRE_UNSUPPORTED', 'COPY is not supported; use SELECT or the HTTP API for bulk reads and ingestion.');
      default:
        throw protocolError(`Unknown message type "${message.type}".`);
    }
  }

  // ---------------------------------------------------------------------------------- simple protocol

  private async simpleQuery(sql: string): Promise<void> {
    const units = this.split(sql);
    if (units.length === 0) {
      this.send(m.emptyQueryResponse());
    }
    try {
      for (const unit of units) {
        for (const result of await this.runUnit(unit)) await this.sendResult(result, undefined, 0);
      }
    } catch (error) {
      this.sendError(error);
    }
    this.send(m.readyForQuery(this.status));
    await this.flush();
  }

  /**
   * Splits a query string into statements and groups consecutive ones the query service runs into one call
   * (so a script keeps its session: temporary tables, settings). Blocks go whole.
   */
  private split(sql: string): Unit[] {
    let tokens: Token[];
    try {
      tokens = tokenize(sql);
    } catch {
      return [{ sql, local: undefined }];
    }
    const significant = tokens.filter((t) => t.type !== 'ws' && t.type !== 'comment');
    if (significant.length === 0 || significant.every((t) => t.type === 'punct' && t.text === ';')) return [];
    if (significant.some((t) => t.type === 'dollar') || beginsBlock(significant)) return [{ sql, local: undefined }];
    const statements: string[] = [];
    let current: Token[] = [];
    let depth = 0;
    for (const t of tokens) {
      if (t.type === 'punct' && t.text === '(') depth++;
      if (t.type === 'punct' && t.text === ')') depth--;
      if (depth === 0 && t.type === 'punct' && t.text === ';') {
        statements.push(current.map((x) => x.text).join(''));
        current = [];
      } else current.push(t);
    }
    statements.push(current.map((x) => x.text).join(''));
    const units: Unit[] = [];
    const nonEmpty = statements.filter((s) => significantTokens(s).length > 0);
    for (const statement of nonEmpty) {
      const local = this.classify(statement);
      const previous = units[units.length - 1];
      if (!local && previous && !previous.local) previous.sql += `;\n${statement.trim()}`;
      else units.push({ sql: statement.trim(), local });
    }
    if (units.length === 1 && !units[0]!.local) return [{ sql, local: undefined }];
    return units;
  }

  private classify(sql: string): LocalStatement | undefined {
    const local = classifyLocal(sql);
    if (local?.kind === 'show' && local.name !== 'all' && !this.params.has(local.name)) return undefined;
    return local;
  }

  /** In a failed transaction block only COMMIT/ROLLBACK run (as in Postgres, SQLSTATE 25P02). */
  private checkAborted(local: LocalStatement | undefined): void {
    if (this.status === 'E' && local?.kind !== 'rollback' && local?.kind !== 'commit') {
      throw new RoundtripError('RT_QUERY_FAILED', 'current transaction is aborted, commands ignored until end of transaction block (send ROLLBACK).');
    }
  }

  private async runUnit(unit: Unit): Promise<WireResult[]> {
    this.checkAborted(unit.local);
    if (unit.local) return [await this.runLocal(unit.local, unit.sql)];
    return this.runRemote(unit.sql, 'all');
  }

  private async runLocal(local: LocalStatement, sql: string): Promise<WireResult> {
    const result = (tag: string, extra: Partial<WireResult> = {}): WireResult => ({ fields: null, rows: [], tag, notices: [], statuses: [], ...extra });
    switch (local.kind) {
      case 'begin': {
        const notices: m.NoticeFields[] = this.status !== 'I' ? [{ severity: 'WARNING', code: '25001', message: 'there is already a transaction in progress' }] : [];
        if (this.status === 'I') {
          this.status = 'T';
          this.writesInTransaction = 0;
        }
        return result(local.tag, { notices });
      }
      case 'commit': {
        const tag = this.status === 'E' ? 'ROLLBACK' : 'COMMIT';
        const notices: m.NoticeFields[] = this.status === 'I' ? [{ severity: 'WARNING', code: '25P01', message: 'there is no transaction in progress' }] : [];
        this.status = 'I';
        return result(tag, { notices });
      }
      case 'rollback': {
        const notices: m.NoticeFields[] = [];
        if (this.status === 'I') notices.push({ severity: 'WARNING', code: '25P01', message: 'there is no transaction in progress' });
        if (this.writesInTransaction > 0) {
          notices.push({
            severity: 'WARNING',
            code: '01000',
            message: `ROLLBACK does not undo anything: Roundtrip runs every statement on its own, and ${this.writesInTransaction} statement(s) since BEGIN already took effect.`,
          });
        }
        this.status = 'I';
        this.writesInTransaction = 0;
        return result('ROLLBACK', { notices });
      }
      case 'noop':
        return result(local.tag);
      case 'set': {
        const defaults = defaultParameters(this.user, '');
        const fixed = FIXED_PARAMETERS.has(local.name);
        const value = fixed ? (this.params.get(local.name) ?? '') : (local.value ?? defaults.get(local.name) ?? '');
        this.params.set(local.name, value);
        const reported = REPORTED.get(local.name);
        const ignored = fixed && local.value !== null && local.value.replace(/[-_]/g, '').toLowerCase() !== value.replace(/[-_]/g, '').toLowerCase();
        const notices: m.NoticeFields[] = ignored
          ? [{ severity: 'NOTICE', code: '00000', message: `${local.name} stays ${value}: Roundtrip sends text as UTF-8 and times in UTC with explicit offsets.` }]
          : [];
        return result(local.value === null ? 'RESET' : 'SET', { notices, statuses: reported ? [m.parameterStatus(reported, value)] : [] });
      }
      case 'reset-all':
        this.params = defaultParameters(this.user, this.params.get('application_name') ?? '');
        return result('RESET');
      case 'discard':
        this.params = defaultParameters(this.user, this.params.get('application_name') ?? '');
        this.ddSettings.clear();
        this.statements.clear();
        this.portals.clear();
        return result('DISCARD ALL');
      case 'show': {
        if (local.name === 'all') {
          const rows = [...this.params].map(([name, setting]) => [name, setting, '']);
          return result('SHOW', { fields: [field('name'), field('setting'), field('description')], rows });
        }
        return result('SHOW', { fields: [field(local.name)], rows: [[this.params.get(local.name) ?? '']] });
      }
      case 'catalog': {
        const needsTables = /pg_class|pg_attribute|pg_tables|regclass|obj_description/i.test(sql);
        const answer = answerCatalogQuery(sql, {
          sandbox: this.sandbox,
          user: this.user,
          databases: /pg_database/i.test(sql) ? await this.options.backend.databases(this.principal!) : [this.sandbox],
          tables: needsTables ? await this.options.backend.catalogTables(this.sandbox) : [],
          settings: this.params,
          version: this.options.version,
          pid: this.pid,
          startedAt: this.options.startedAt,
        });
        return result(`SELECT ${answer.rows.length}`, { fields: answer.columns, rows: answer.rows });
      }
    }
  }

  /** Runs SQL through the query service; `which` picks every statement's result or only the last one. */
  private async runRemote(sql: string, which: 'all' | 'last'): Promise<WireResult[]> {
    const prefix = [...this.ddSettings.values()];
    const text = prefix.length ? `${prefix.join(';\n')};\n${sql}` : sql;
    this.running = { sql: text, startedAt: new Date(Date.now() - 1000).toISOString() };
    let outcome: QueryOutcome;
    try {
      outcome = await this.options.backend.execute(this.principal!, this.sandbox, text, { client: 'pgwire', maxRows: PGWIRE_MAX_ROWS });
    } finally {
      this.running = undefined;
    }
    const results = outcome.results.slice(prefix.length);
    for (const r of results) {
      const setting = /^\s*SET\s+(?!@)([A-Za-z_][A-Za-z0-9_.]*)/i.exec(r.statement);
      if (r.kind === 'set' && setting) this.ddSettings.set(setting[1]!.toLowerCase(), r.statement.replace(/;\s*$/, ''));
      if (this.status === 'T' && r.kind !== 'select' && r.kind !== 'show' && r.kind !== 'set') this.writesInTransaction++;
    }
    const mapped = results.map(toWireResult);
    if (which === 'last') {
      const last = mapped[mapped.length - 1];
      if (!last) return [EMPTY];
      return [{ ...last, notices: mapped.flatMap((r) => r.notices) }];
    }
    return mapped;
  }

  /** Writes a result: notices, parameter changes, RowDescription (unless described already), rows, tag. */
  private async sendResult(result: WireResult, formats: number[] | undefined, from: number, maxRows = 0, describe = true): Promise<boolean> {
    for (const notice of result.notices) this.send(m.noticeResponse(notice));
    for (const status of result.statuses) this.send(status);
    if (result.empty) {
      this.send(m.emptyQueryResponse());
      return true;
    }
    const fields = result.fields;
    if (fields && describe) this.send(m.rowDescription(fields.map((f, i) => ({ ...f, format: formats?.[i] ?? 0 }))));
    const end = maxRows > 0 ? Math.min(result.rows.length, from + maxRows) : result.rows.length;
    if (fields) {
      for (let r = from; r < end; r++) {
        const row = result.rows[r]!;
        this.send(m.dataRow(fields.map((f, i) => (formats?.[i] === 1 ? encodeBinary(row[i], f.type) : encodeText(row[i], f.type)))));
        if ((r & 255) === 255) await this.maybeFlush();
      }
    }
    if (end < result.rows.length) {
      this.send(m.portalSuspended());
      return false;
    }
    this.send(m.commandComplete(result.tag));
    return true;
  }

  // -------------------------------------------------------------------------------- extended protocol

  private parse(body: m.BodyReader): void {
    const name = body.cstring();
    const sql = body.cstring();
    const count = body.int16();
    const oids: number[] = [];
    for (let i = 0; i < count; i++) oids.push(body.int32());
    if (name !== '' && this.statements.has(name)) throw new RoundtripError('RT_PGWIRE_PROTOCOL', `prepared statement "${name}" already exists`);
    const needed = parameterCount(sql);
    while (oids.length < needed) oids.push(0);
    this.statements.set(name, { sql, oids });
    this.send(m.parseComplete());
  }

  private bind(body: m.BodyReader): void {
    const portalName = body.cstring();
    const statementName = body.cstring();
    const statement = this.statements.get(statementName);
    if (!statement) throw new RoundtripError('RT_PGWIRE_PROTOCOL', `prepared statement "${statementName}" does not exist`);
    const formatCount = body.int16();
    const formats: number[] = [];
    for (let i = 0; i < formatCount; i++) formats.push(body.int16());
    const valueCount = body.int16();
    if (valueCount !== statement.oids.length && valueCount < parameterCount(statement.sql)) {
      throw new RoundtripError('RT_PGWIRE_PROTOCOL', `bind message supplies ${valueCount} parameters, but prepared statement "${statementName}" requires ${statement.oids.length}`);
    }
    const values: (string | null)[] = [];
    for (let i = 0; i < valueCount; i++) {
      const length = body.int32();
      if (length === -1) {
        values.push(null);
        continue;
      }
      const data = body.bytes(length);
      const format = formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : formats[i]!;
      if (format === 0) values.push(data.toString('utf8'));
      else {
        const decoded = decodeBinaryParameter(data, statement.oids[i] ?? 0);
        if (decoded === undefined) throw new RoundtripError('RT_PGWIRE_UNSUPPORTED', `Parameter $${i + 1}: binary format for type OID ${statement.oids[i]} is not supported; send it as text.`);
        values.push(decoded);
      }
    }
    const resultCount = body.int16();
    const resultFormats: number[] = [];
    for (let i = 0; i < resultCount; i++) resultFormats.push(body.int16());
    const sql = bindParameters(statement.sql, values, statement.oids);
    this.portals.set(portalName, { sql, statement, resultFormats, result: undefined, formats: undefined, sent: 0 });
    this.send(m.bindComplete());
  }

  private async describe(body: m.BodyReader): Promise<void> {
    const kind = body.byte();
    const name = body.cstring();
    if (kind === 'S') {
      const statement = this.statements.get(name);
      if (!statement) throw new RoundtripError('RT_PGWIRE_PROTOCOL', `prepared statement "${name}" does not exist`);
      this.send(m.parameterDescription(statement.oids.map((oid) => oid || OID.text)));
      const fields = await this.describeStatement(statement);
      this.send(fields ? m.rowDescription(fields.map((f) => ({ ...f, format: 0 }))) : m.noData());
      return;
    }
    const portal = this.portals.get(name);
    if (!portal) throw new RoundtripError('RT_PGWIRE_PROTOCOL', `portal "${name}" does not exist`);
    const result = await this.runPortal(portal);
    this.send(result.fields ? m.rowDescription(result.fields.map((f, i) => ({ ...f, format: portal.formats![i]! }))) : m.noData());
  }

  /** Result columns of a statement before it is bound: local ones are computed, SELECTs run with NULL parameters and LIMIT 0. */
  private async describeStatement(statement: PreparedStatement): Promise<Field[] | null> {
    const sql = bindParameters(
      statement.sql,
      statement.oids.map(() => null),
      statement.oids,
    );
    const units = this.split(sql);
    if (units.length !== 1) return null;
    const unit = units[0]!;
    if (unit.local) return unit.local.kind === 'show' || unit.local.kind === 'catalog' ? (await this.runLocal(unit.local, unit.sql)).fields : null;
    let tokens: Token[];
    try {
      tokens = significantTokens(sql);
    } catch {
      return null;
    }
    while (tokens.length && tokens[tokens.length - 1]!.type === 'punct' && tokens[tokens.length - 1]!.text === ';') tokens.pop();
    const first = upper(tokens[0]);
    if (first === 'SHOW') return (await this.runRemote(sql, 'last'))[0]!.fields;
    if (!['SELECT', 'WITH', 'VALUES', 'FROM', 'TABLE'].includes(first)) return null;
    const body = sql.slice(0, tokens[tokens.length - 1]!.start + tokens[tokens.length - 1]!.text.length);
    const [result] = await this.runRemote(`SELECT * FROM (\n${body}\n) AS _rt_describe LIMIT 0`, 'last');
    return result!.fields;
  }

  private async runPortal(portal: Portal): Promise<WireResult> {
    if (!portal.result) {
      const units = this.split(portal.sql);
      let result: WireResult;
      if (units.length === 0) result = EMPTY;
      else if (units.length === 1 && units[0]!.local) {
        this.checkAborted(units[0]!.local);
        result = await this.runLocal(units[0]!.local, units[0]!.sql);
      } else {
        this.checkAborted(undefined);
        result = (await this.runRemote(portal.sql, 'last'))[0]!;
      }
      portal.result = result;
      const wanted = portal.resultFormats;
      portal.formats = (result.fields ?? []).map((f, i) => {
        const format = wanted.length === 0 ? 0 : wanted.length === 1 ? wanted[0]! : (wanted[i] ?? 0);
        return format === 1 && canSendBinary(f.type) ? 1 : 0;
      });
    }
    return portal.result;
  }

  private async executePortal(body: m.BodyReader): Promise<void> {
    const name = body.cstring();
    const maxRows = body.int32();
    const portal = this.portals.get(name);
    if (!portal) throw new RoundtripError('RT_PGWIRE_PROTOCOL', `portal "${name}" does not exist`);
    const result = await this.runPortal(portal);
    // Execute never sends RowDescription: the client got it from Describe (or did not ask).
    const done = await this.sendResult(result, portal.formats, portal.sent, maxRows, false);
    portal.sent = done ? result.rows.length : portal.sent + maxRows;
    portal.result = { ...result, notices: [], statuses: [] };
    await this.maybeFlush();
  }
}

function field(name: string): Field {
  return { name, type: PG_TYPES.text };
}

/** `CREATE OR REPLACE TEMP VIEW x` → `CREATE VIEW`; `INSERT …` → `INSERT 0 n`; SELECT → `SELECT n`. */
export function commandTag(result: StatementResult): string {
  const words = result.statement
    .replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)*/, '')
    .split(/[\s(;]+/)
    .filter((w) => w && !['OR', 'REPLACE', 'TEMP', 'TEMPORARY', 'IF', 'NOT', 'EXISTS', 'UNIQUE'].includes(w.toUpperCase()))
    .map((w) => w.toUpperCase());
  const first = words[0] ?? '';
  const rows = result.columns.length ? result.rows.length : result.rowCount;
  switch (result.kind) {
    case 'select':
      return first === 'SHOW' || first === 'DESCRIBE' ? 'SHOW' : `SELECT ${rows}`;
    case 'show':
      return 'SHOW';
    case 'ctas':
      return `SELECT ${result.rowCount}`;
    case 'itas':
      return `INSERT 0 ${result.rowCount}`;
    case 'set':
      return 'SET';
    case 'block':
      return result.columns.length ? `SELECT ${rows}` : 'DO';
    case 'dml':
      if (first === 'INSERT') return `INSERT 0 ${result.rowCount}`;
      if (first === 'TRUNCATE') return 'TRUNCATE TABLE';
      return `${first} ${result.rowCount}`;
    case 'ddl':
      return words.slice(0, 2).join(' ');
    default:
      return result.columns.length ? `SELECT ${rows}` : first || 'OK';
  }
}

function toWireResult(result: StatementResult): WireResult {
  const fields = result.columns.length ? result.columns.map((c) => ({ name: c.name, type: pgTypeForDuckDB(c.type) })) : null;
  const notices: m.NoticeFields[] = [];
  if (result.message && result.kind !== 'set' && result.kind !== 'select') notices.push({ severity: 'NOTICE', code: '00000', message: result.message });
  if (result.truncated) {
    notices.push({
      severity: 'WARNING',
      code: '01000',
      message: `Only the first ${result.rows.length} rows are returned to Postgres clients; the statement produced more. Add a LIMIT, aggregate, or use CREATE TABLE AS for full results.`,
    });
  }
  return {
    fields,
    rows: result.columns.length ? result.rows.map((row) => result.columns.map((c) => row[c.name] ?? null)) : [],
    tag: commandTag(result),
    notices,
    statuses: [],
  };
}
