/**
 * Statements the endpoint answers itself instead of passing them to the query service: what drivers send on
 * connect and around transactions (`SET DATESTYLE`, `SET extra_float_digits`, `SHOW transaction_isolation`,
 * `BEGIN`/`COMMIT`/`ROLLBACK`, `DISCARD ALL`), `SELECT version()`-style probes and catalog queries. Everything
 * else — the Data Distiller dialect including its own `SET name = value`, `SET @var = …` and `SHOW TABLES` — goes
 * to the query service.
 */
import type { Token } from '../sql-tokens.ts';
import { significantTokens, upper } from './catalog-sql.ts';
import { callsPgFunctionsOnly, readsCatalog } from './catalog.ts';

export const SERVER_VERSION = '15.0';

/** Session parameters a client may SET and SHOW; the `reported` ones are sent as ParameterStatus. */
export function defaultParameters(user: string, applicationName: string): Map<string, string> {
  return new Map([
    ['server_version', `${SERVER_VERSION} (Roundtrip)`],
    ['server_version_num', '150000'],
    ['server_encoding', 'UTF8'],
    ['client_encoding', 'UTF8'],
    ['datestyle', 'ISO, MDY'],
    ['intervalstyle', 'postgres'],
    ['timezone', 'UTC'],
    ['integer_datetimes', 'on'],
    ['standard_conforming_strings', 'on'],
    ['is_superuser', 'off'],
    ['session_authorization', user],
    ['application_name', applicationName],
    ['default_transaction_read_only', 'off'],
    ['in_hot_standby', 'off'],
    ['search_path', 'main'],
    ['transaction_isolation', 'read committed'],
    ['default_transaction_isolation', 'read committed'],
    ['transaction_read_only', 'off'],
    ['transaction_deferrable', 'off'],
    ['extra_float_digits', '1'],
    ['bytea_output', 'hex'],
    ['client_min_messages', 'notice'],
    ['statement_timeout', '0'],
    ['lock_timeout', '0'],
    ['idle_in_transaction_session_timeout', '0'],
    ['max_identifier_length', '63'],
    ['lc_collate', 'C.UTF-8'],
    ['lc_ctype', 'C.UTF-8'],
    ['lc_messages', 'C.UTF-8'],
    ['lc_monetary', 'C.UTF-8'],
    ['lc_numeric', 'C.UTF-8'],
    ['lc_time', 'C.UTF-8'],
    ['ssl', 'off'],
    ['row_security', 'on'],
    ['synchronous_commit', 'on'],
    ['jit', 'off'],
    ['geqo', 'on'],
    ['work_mem', '4MB'],
    ['max_connections', '100'],
    ['password_encryption', 'scram-sha-256'],
  ]);
}

/** Parameters whose changes the server reports with ParameterStatus (and sends after startup). */
export const REPORTED = new Map([
  ['server_version', 'server_version'],
  ['server_encoding', 'server_encoding'],
  ['client_encoding', 'client_encoding'],
  ['datestyle', 'DateStyle'],
  ['intervalstyle', 'IntervalStyle'],
  ['timezone', 'TimeZone'],
  ['integer_datetimes', 'integer_datetimes'],
  ['standard_conforming_strings', 'standard_conforming_strings'],
  ['is_superuser', 'is_superuser'],
  ['session_authorization', 'session_authorization'],
  ['application_name', 'application_name'],
  ['default_transaction_read_only', 'default_transaction_read_only'],
  ['in_hot_standby', 'in_hot_standby'],
]);

/** Settings drivers and tools send that have no effect here (accepted, remembered for SHOW). */
const ACCEPTED_SETTINGS = new Set([
  'extra_float_digits', 'application_name', 'client_encoding', 'datestyle', 'intervalstyle', 'timezone', 'search_path', 'statement_timeout',
  'lock_timeout', 'idle_in_transaction_session_timeout', 'client_min_messages', 'bytea_output', 'standard_conforming_strings', 'transaction_isolation',
  'default_transaction_isolation', 'default_transaction_read_only', 'transaction_read_only', 'row_security', 'synchronous_commit', 'jit', 'geqo',
  'work_mem', 'escape_string_warning', 'backslash_quote', 'join_collapse_limit', 'from_collapse_limit', 'enable_seqscan', 'lc_messages',
  'lc_monetary', 'lc_numeric', 'lc_time', 'session_replication_role', 'role', 'names', 'time zone', 'xmloption', 'default_text_search_config',
  'plan_cache_mode', 'idle_session_timeout', 'tcp_keepalives_idle', 'tcp_keepalives_interval', 'tcp_keepalives_count', 'max_parallel_workers_per_gather',
]);

export type LocalStatement =
  | { kind: 'begin'; tag: string }
  | { kind: 'commit'; tag: string }
  | { kind: 'rollback'; tag: string }
  | { kind: 'noop'; tag: string }
  | { kind: 'set'; name: string; value: string | null }
  | { kind: 'reset-all' }
  | { kind: 'show'; name: string }
  | { kind: 'discard' }
  | { kind: 'catalog' };

const TRANSACTION_WORDS = new Set(['TRANSACTION', 'WORK', 'ISOLATION', 'READ', 'DEFERRABLE', 'NOT']);
const SHOW_ALIASES: Record<string, string> = { 'transaction isolation level': 'transaction_isolation', 'time zone': 'timezone', 'session authorization': 'session_authorization' };

const words = (tokens: readonly Token[]): string[] => tokens.map((t) => (t.type === 'ident' ? t.text.toUpperCase() : t.text));
const settingValue = (tokens: readonly Token[]): string =>
  tokens
    .filter((t) => !(t.type === 'punct' && t.text === ','))
    .map((t) => (t.type === 'string' ? t.text.slice(1, -1).replace(/''/g, "'") : t.type === 'qident' ? t.text.slice(1, -1) : t.text))
    .join(', ');

/** Statements that begin an anonymous Data Distiller block without `$$` (`BEGIN SELECT …; END`). */
export function beginsBlock(tokens: readonly Token[]): boolean {
  return upper(tokens[0]) === 'BEGIN' && tokens.length > 1 && !(tokens[1]!.type === 'punct' && tokens[1]!.text === ';') && !TRANSACTION_WORDS.has(upper(tokens[1]));
}

/** What the endpoint does with one statement itself, or undefined when the query service runs it. */
export function classifyLocal(sql: string): LocalStatement | undefined {
  let tokens: Token[];
  try {
    tokens = significantTokens(sql);
  } catch {
    return undefined;
  }
  while (tokens.length && tokens[tokens.length - 1]!.type === 'punct' && tokens[tokens.length - 1]!.text === ';') tokens.pop();
  const w = words(tokens);
  const first = w[0];
  switch (first) {
    case 'BEGIN':
      return beginsBlock(tokens) ? undefined : { kind: 'begin', tag: 'BEGIN' };
    case 'START':
      return w[1] === 'TRANSACTION' ? { kind: 'begin', tag: 'START TRANSACTION' } : undefined;
    case 'COMMIT':
    case 'END':
      return w.length === 1 || w[1] === 'WORK' || w[1] === 'TRANSACTION' || w[1] === 'AND' ? { kind: 'commit', tag: 'COMMIT' } : undefined;
    case 'ROLLBACK':
    case 'ABORT':
      if (w.includes('TO')) return { kind: 'noop', tag: 'ROLLBACK' };
      return { kind: 'rollback', tag: 'ROLLBACK' };
    case 'SAVEPOINT':
      return { kind: 'noop', tag: 'SAVEPOINT' };
    case 'RELEASE':
      return { kind: 'noop', tag: 'RELEASE' };
    case 'DISCARD':
      return { kind: 'discard' };
    case 'DEALLOCATE':
      return { kind: 'noop', tag: w.includes('ALL') ? 'DEALLOCATE ALL' : 'DEALLOCATE' };
    case 'LISTEN':
    case 'UNLISTEN':
    case 'NOTIFY':
      return { kind: 'noop', tag: first };
    case 'CLOSE':
      return w[1] === 'ALL' ? { kind: 'noop', tag: 'CLOSE CURSOR ALL' } : undefined;
    case 'SET':
      return classifySet(tokens.slice(1));
    case 'RESET': {
      const name = w.slice(1).join(' ').toLowerCase();
      if (name === 'all') return { kind: 'reset-all' };
      return ACCEPTED_SETTINGS.has(name) ? { kind: 'set', name, value: null } : undefined;
    }
    case 'SHOW': {
      const raw = tokens
        .slice(1)
        .map((t) => (t.type === 'qident' ? t.text.slice(1, -1) : t.text))
        .join(' ')
        .toLowerCase();
      const name = SHOW_ALIASES[raw] ?? raw;
      return name === 'all' || /^[a-z_][a-z0-9_.]*$/.test(name) ? { kind: 'show', name } : undefined;
    }
    case 'SELECT':
    case 'WITH':
      return readsCatalog(tokens) || callsPgFunctionsOnly(tokens) ? { kind: 'catalog' } : undefined;
    default:
      return undefined;
  }
}

function classifySet(tokens: Token[]): LocalStatement | undefined {
  let w = words(tokens);
  if (w[0] === 'SESSION' || w[0] === 'LOCAL') {
    if (w[1] === 'CHARACTERISTICS' || w[1] === 'AUTHORIZATION') return { kind: 'noop', tag: 'SET' };
    tokens = tokens.slice(1);
    w = w.slice(1);
  }
  if (tokens[0]?.type === 'var') return undefined;
  if (w[0] === 'TRANSACTION' || w[0] === 'ROLE' || w[0] === 'CONSTRAINTS') return { kind: 'noop', tag: 'SET' };
  if (w[0] === 'TIME' && w[1] === 'ZONE') return { kind: 'set', name: 'timezone', value: w[2] === 'DEFAULT' || w[2] === 'LOCAL' ? null : settingValue(tokens.slice(2)) };
  if (w[0] === 'NAMES') return { kind: 'set', name: 'client_encoding', value: settingValue(tokens.slice(1)) };
  const name = tokens[0]?.type === 'qident' ? tokens[0].text.slice(1, -1).toLowerCase() : (w[0] ?? '').toLowerCase();
  if (!ACCEPTED_SETTINGS.has(name)) return undefined;
  const rest = tokens.slice(w[1] === 'TO' || w[1] === '=' ? 2 : 1);
  return { kind: 'set', name, value: upper(rest[0]) === 'DEFAULT' ? null : settingValue(rest) };
}
