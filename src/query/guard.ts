/**
 * Statement guard: what SQL may never do, whatever the role. DuckDB's own locks (external access off,
 * configuration locked, one database file per sandbox) are the wall; this is the fence in front of it, so a
 * refused statement gets a clear `RT_QUERY_FORBIDDEN_STATEMENT` instead of an engine error, and so things the
 * locks do not cover (engine settings, system catalog functions, staged files, system tables) stay out of reach.
 */
import { RoundtripError } from '../core/errors.ts';
import { HOT_CATALOG } from '../ports/warehouse.ts';
import { identName, isWord, nextSignificant, significant, type Token } from './sql-tokens.ts';

const FORBIDDEN_FIRST = new Set([
  'ATTACH', 'DETACH', 'COPY', 'EXPORT', 'IMPORT', 'INSTALL', 'LOAD', 'FORCE', 'PRAGMA', 'CALL', 'CHECKPOINT',
  'RESET', 'USE', 'VACUUM', 'BEGIN', 'COMMIT', 'ROLLBACK', 'ABORT', 'START', 'END', 'PREPARE', 'EXECUTE', 'DEALLOCATE',
]);

/** Objects a CREATE must not make: they could shadow the dialect's macros or hold credentials. */
const FORBIDDEN_CREATE = new Set(['SECRET', 'MACRO', 'FUNCTION', 'PERSISTENT', 'TYPE']);

const FORBIDDEN_FUNCTIONS = new Set([
  'read_csv', 'read_csv_auto', 'read_json', 'read_json_auto', 'read_json_objects', 'read_json_objects_auto', 'read_ndjson',
  'read_ndjson_auto', 'read_ndjson_objects', 'read_parquet', 'parquet_scan', 'parquet_metadata', 'parquet_schema',
  'parquet_file_metadata', 'parquet_kv_metadata', 'parquet_bloom_probe', 'read_text', 'read_blob', 'glob', 'sniff_csv',
  'read_xlsx', 'duckdb_settings', 'current_setting', 'duckdb_databases', 'duckdb_extensions', 'duckdb_secrets',
  'duckdb_temporary_files', 'duckdb_memory', 'duckdb_logs', 'query', 'query_table', 'json_execute_serialized_sql',
  'getenv', 'load_extension', 'which_secret', 'enable_logging', 'disable_logging', 'truncate_duckdb_logs',
]);

const WRITE_VERBS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'CREATE', 'DROP', 'ALTER', 'TRUNCATE', 'COPY']);

const READ_FIRST = new Set(['SELECT', 'WITH', 'VALUES', 'FROM', 'TABLE', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'SUMMARIZE', '(']);

function forbidden(what: string): RoundtripError {
  return new RoundtripError('RT_QUERY_FORBIDDEN_STATEMENT', `${what} is not allowed: SQL in Roundtrip works on the sandbox's datasets only.`);
}

export interface Inspection {
  /** First keyword, upper-cased (`(` for a parenthesised query). */
  first: string;
  /** Whether the statement only reads. */
  readOnly: boolean;
}

/** Refuses statements that reach outside the sandbox; says whether the rest only read. */
export function inspectStatement(tokens: readonly Token[]): Inspection {
  const words = significant(tokens);
  const head = words[0];
  if (!head) return { first: '', readOnly: true };
  const first = head.type === 'punct' ? head.text : head.text.toUpperCase();
  if (FORBIDDEN_FIRST.has(first)) throw forbidden(first);
  if (first === 'CREATE') {
    const kind = words.slice(1, 4).map((t) => t.text.toUpperCase()).find((w) => !['OR', 'REPLACE', 'TEMP', 'TEMPORARY'].includes(w));
    if (kind && FORBIDDEN_CREATE.has(kind)) throw forbidden(`CREATE ${kind}`);
  }
  if (first === 'SET' && words[1]?.type !== 'var' && isWord(words[1], 'VARIABLE', 'GLOBAL', 'SESSION', 'LOCAL')) throw forbidden(`SET ${words[1]!.text}`);
  let namesHotCatalog = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[nextSignificant(tokens, i + 1)];
    if (t.type === 'ident' && next?.type === 'punct' && next.text === '(') {
      const name = t.text.toLowerCase();
      if (FORBIDDEN_FUNCTIONS.has(name) || name.startsWith('pragma_')) throw forbidden(`${t.text}()`);
    }
    if ((t.type === 'ident' || t.type === 'qident') && identName(t).toLowerCase() === HOT_CATALOG && next?.type === 'punct' && next.text === '.') namesHotCatalog = true;
    // `FROM 'file.csv'` would make DuckDB scan a file by name.
    if (isWord(t, 'FROM', 'JOIN') && next?.type === 'string') throw forbidden('Reading a file by name');
  }
  const readOnly = READ_FIRST.has(first);
  // The hot catalog holds system tables only (audience membership): read like any, written by the platform
  // alone. A write verb anywhere counts (`WITH … INSERT` starts like a read).
  if (namesHotCatalog && (!readOnly || words.some((w) => w.type === 'ident' && WRITE_VERBS.has(w.text.toUpperCase())))) {
    throw forbidden(`Changing the system catalog ${HOT_CATALOG}`);
  }
  return { first, readOnly };
}

/** A write that targets a system table (`_rt_…`) is refused: those belong to the platform. */
export function assertNotSystemTarget(table: string): void {
  if (table.toLowerCase().startsWith('_rt_')) throw forbidden(`Changing the system table ${table}`);
}
