/**
 * The Postgres catalog as clients see it: virtual `pg_catalog` tables (pg_class, pg_namespace, pg_attribute,
 * pg_type, pg_database, pg_roles, pg_settings, pg_am, pg_tables) built from the sandbox's datasets, and the
 * functions catalog queries call (`version()`, `current_schema()`, `format_type`, `pg_get_userbyid`, …).
 * Catalog queries are answered here, never passed to DuckDB. Every other `pg_*` table is known and empty.
 *
 * Tables live in schema `main` (DuckDB's schema name, so `main.table` also works in queries).
 */
import type { ColumnType, JsonValue } from '../../ports/warehouse.ts';
import {
  evaluate,
  findTop,
  keeps,
  parseExpr,
  parseSelectItem,
  significantTokens,
  splitTop,
  UNKNOWN,
  upper,
  type EvalContext,
  type Expr,
  type SourceRow,
  type Value,
} from './catalog-sql.ts';
import { asText, OID, PG_TYPES, pgTypeForColumn, type PgType } from './pg-types.ts';
import type { Token } from '../sql-tokens.ts';

export const SCHEMA = 'main';
const SCHEMA_OID = 2200;
const PG_CATALOG_OID = 11;
const INFORMATION_SCHEMA_OID = 13_000;
const OWNER_OID = 10;

export interface CatalogTable {
  name: string;
  /** The dataset's name and id, shown as the table's description. */
  description: string | null;
  columns: { name: string; type: ColumnType }[];
}

/** What a catalog query can see: the session and, when the query needs them, the sandbox's tables. */
export interface CatalogView {
  sandbox: string;
  user: string;
  /** Sandboxes the key may use (`\l`). */
  databases: string[];
  tables: CatalogTable[];
  settings: ReadonlyMap<string, string>;
  version: string;
  pid: number;
  startedAt: string;
}

export interface LocalColumn {
  name: string;
  type: PgType;
}

export interface LocalResult {
  columns: LocalColumn[];
  rows: JsonValue[][];
}

/** Stable OID for a table name (FNV-1a), so `\d` can look a table up and then describe it by OID. */
export function tableOid(name: string): number {
  let hash = 0x811c9dc5;
  for (const ch of Buffer.from(name)) hash = Math.imul(hash ^ ch, 0x01000193) >>> 0;
  return 16_384 + (hash % 1_000_000_000);
}

// ------------------------------------------------------------------------------------------ virtual tables

interface TypeEntry {
  oid: number;
  name: string;
  len: number;
  category: string;
  array: number;
  elem: number;
}

const BASE_TYPES: [number, string, number, string, number][] = [
  [OID.bool, 'bool', 1, 'B', 1000],
  [OID.bytea, 'bytea', -1, 'U', 1001],
  [OID.char, 'char', 1, 'Z', 1002],
  [OID.name, 'name', 64, 'S', 1003],
  [OID.int8, 'int8', 8, 'N', 1016],
  [OID.int2, 'int2', 2, 'N', 1005],
  [OID.int4, 'int4', 4, 'N', 1007],
  [OID.text, 'text', -1, 'S', 1009],
  [OID.oid, 'oid', 4, 'N', 1028],
  [OID.json, 'json', -1, 'U', 199],
  [OID.float4, 'float4', 4, 'N', 1021],
  [OID.float8, 'float8', 8, 'N', 1022],
  [OID.unknown, 'unknown', -2, 'X', 0],
  [OID.bpchar, 'bpchar', -1, 'S', 1014],
  [OID.varchar, 'varchar', -1, 'S', 1015],
  [OID.date, 'date', 4, 'D', 1182],
  [OID.time, 'time', 8, 'D', 1183],
  [OID.timestamp, 'timestamp', 8, 'D', 1115],
  [OID.timestamptz, 'timestamptz', 8, 'D', 1185],
  [OID.interval, 'interval', 16, 'T', 1187],
  [OID.timetz, 'timetz', 12, 'D', 1270],
  [OID.numeric, 'numeric', -1, 'N', 1231],
  [OID.uuid, 'uuid', 16, 'U', 2951],
  [OID.jsonb, 'jsonb', -1, 'U', 3807],
];

export const TYPES: TypeEntry[] = [
  ...BASE_TYPES.map(([oid, name, len, category, array]) => ({ oid, name, len, category, array, elem: 0 })),
  ...BASE_TYPES.filter(([, , , , array]) => array > 0).map(([oid, name, , , array]) => ({ oid: array, name: `_${name}`, len: -1, category: 'A', array: 0, elem: oid })),
];
const TYPE_BY_OID = new Map(TYPES.map((t) => [t.oid, t]));
const DISPLAY_NAMES = new Map<number, string>(Object.values(PG_TYPES).map((t) => [t.oid, t.name]));

/** `format_type(oid, typmod)`: the name psql shows in `\d`. */
export function formatType(oid: number, typmod: number | null): string | null {
  if (oid === OID.numeric && typmod !== null && typmod > 4) return `numeric(${((typmod - 4) >> 16) & 0xffff},${(typmod - 4) & 0xffff})`;
  const entry = TYPE_BY_OID.get(oid);
  if (!entry) return null;
  if (entry.elem) return `${DISPLAY_NAMES.get(entry.elem) ?? TYPE_BY_OID.get(entry.elem)?.name ?? 'unknown'}[]`;
  return DISPLAY_NAMES.get(oid) ?? entry.name;
}

function typeRow(t: TypeEntry): Record<string, JsonValue> {
  const textual = t.category === 'S';
  return {
    oid: t.oid,
    typname: t.name,
    typnamespace: PG_CATALOG_OID,
    typowner: OWNER_OID,
    typlen: t.len,
    typbyval: t.len > 0 && t.len <= 8,
    typtype: 'b',
    typcategory: t.category,
    typispreferred: false,
    typisdefined: true,
    typdelim: ',',
    typrelid: 0,
    typsubscript: t.elem ? 'array_subscript_handler' : '-',
    typelem: t.elem,
    typarray: t.array,
    typinput: t.elem ? 'array_in' : `${t.name}in`,
    typoutput: t.elem ? 'array_out' : `${t.name}out`,
    typreceive: t.elem ? 'array_recv' : `${t.name}recv`,
    typsend: t.elem ? 'array_send' : `${t.name}send`,
    typmodin: '-',
    typmodout: '-',
    typanalyze: '-',
    typalign: t.len === 8 ? 'd' : t.len === 2 ? 's' : t.len === 1 ? 'c' : 'i',
    typstorage: t.len > 0 ? 'p' : 'x',
    typnotnull: false,
    typbasetype: 0,
    typtypmod: -1,
    typndims: 0,
    typcollation: textual ? 100 : 0,
    typdefaultbin: null,
    typdefault: null,
    typacl: null,
  };
}

const namespaceRow = (oid: number, nspname: string): Record<string, JsonValue> => ({ oid, nspname, nspowner: OWNER_OID, nspacl: null });
const NAMESPACES = [namespaceRow(SCHEMA_OID, SCHEMA), namespaceRow(PG_CATALOG_OID, 'pg_catalog'), namespaceRow(INFORMATION_SCHEMA_OID, 'information_schema')];
const AM = { oid: 2, amname: 'heap', amhandler: 'heap_tableam_handler', amtype: 't' };

function classRow(table: CatalogTable): Record<string, JsonValue> {
  return {
    oid: tableOid(table.name),
    relname: table.name,
    relnamespace: SCHEMA_OID,
    reltype: 0,
    reloftype: 0,
    relowner: OWNER_OID,
    relam: AM.oid,
    relfilenode: 0,
    reltablespace: 0,
    relpages: 0,
    reltuples: -1,
    relallvisible: 0,
    reltoastrelid: 0,
    relhasindex: false,
    relisshared: false,
    relpersistence: 'p',
    relkind: 'r',
    relnatts: table.columns.length,
    relchecks: 0,
    relhasrules: false,
    relhastriggers: false,
    relhassubclass: false,
    relrowsecurity: false,
    relforcerowsecurity: false,
    relispopulated: true,
    relreplident: 'd',
    relispartition: false,
    relrewrite: 0,
    relfrozenxid: 0,
    relminmxid: 0,
    relacl: null,
    reloptions: null,
    relpartbound: null,
    relhasoids: false,
  };
}

function attributeRows(table: CatalogTable): Record<string, JsonValue>[] {
  return table.columns.map((column, index) => {
    const type = pgTypeForColumn(column.type);
    return {
      attrelid: tableOid(table.name),
      attname: column.name,
      atttypid: type.oid,
      attstattarget: -1,
      attlen: type.size,
      attnum: index + 1,
      attndims: 0,
      attcacheoff: -1,
      atttypmod: type.typmod,
      attbyval: type.size > 0 && type.size <= 8,
      attalign: type.size === 8 ? 'd' : 'i',
      attstorage: type.size > 0 ? 'p' : 'x',
      attcompression: '',
      attnotnull: false,
      atthasdef: false,
      atthasmissing: false,
      attidentity: '',
      attgenerated: '',
      attisdropped: false,
      attislocal: true,
      attinhcount: 0,
      attcollation: type.oid === OID.text ? 100 : 0,
      attacl: null,
      attoptions: null,
      attfdwoptions: null,
      attmissingval: null,
    };
  });
}

/** pg_catalog tables this endpoint knows to be empty (no indexes, constraints, functions, …). */
const EMPTY_TABLES = new Set([
  'pg_index', 'pg_indexes', 'pg_constraint', 'pg_inherits', 'pg_policy', 'pg_policies', 'pg_statistic_ext', 'pg_publication', 'pg_publication_rel',
  'pg_publication_namespace', 'pg_publication_tables', 'pg_proc', 'pg_trigger', 'pg_rewrite', 'pg_rules', 'pg_attrdef', 'pg_description', 'pg_shdescription',
  'pg_enum', 'pg_range', 'pg_extension', 'pg_views', 'pg_matviews', 'pg_sequence', 'pg_sequences', 'pg_foreign_table', 'pg_foreign_server',
  'pg_foreign_data_wrapper', 'pg_event_trigger', 'pg_depend', 'pg_shdepend', 'pg_stat_activity', 'pg_locks', 'pg_prepared_statements', 'pg_cursors',
  'pg_collation', 'pg_conversion', 'pg_cast', 'pg_operator', 'pg_opclass', 'pg_opfamily', 'pg_aggregate', 'pg_language', 'pg_tablespace',
  'pg_largeobject_metadata', 'pg_partitioned_table', 'pg_statistic', 'pg_stats', 'pg_stat_user_tables', 'pg_statio_user_tables', 'pg_user_mappings',
  'pg_subscription', 'pg_transform', 'pg_ts_config', 'pg_ts_dict', 'pg_ts_parser', 'pg_ts_template', 'pg_default_acl', 'pg_init_privs', 'pg_seclabel',
  'pg_auth_members', 'pg_db_role_setting', 'pg_timezone_names', 'pg_timezone_abbrevs', 'pg_available_extensions', 'pg_replication_slots',
]);

/** Catalog tables that produce rows, in the order a query's row source is chosen (finest first). */
const ROW_SOURCES = ['pg_attribute', 'pg_class', 'pg_tables', 'pg_type', 'pg_namespace', 'pg_database', 'pg_roles', 'pg_user', 'pg_authid', 'pg_settings', 'pg_am'];

export const CATALOG_TABLES: ReadonlySet<string> = new Set([...ROW_SOURCES, ...EMPTY_TABLES, 'pg_shadow', 'pg_group']);

function sourceRows(source: string, view: CatalogView): SourceRow[] {
  switch (source) {
    case 'pg_attribute':
      return view.tables.flatMap((table) => {
        const pgClass = classRow(table);
        return attributeRows(table).map((attribute) => ({
          pg_attribute: attribute,
          pg_class: pgClass,
          pg_namespace: NAMESPACES[0]!,
          pg_type: typeRow(TYPE_BY_OID.get(Number(attribute.atttypid))!),
        }));
      });
    case 'pg_class':
      return view.tables.map((table) => ({
        pg_class: classRow(table),
        pg_namespace: NAMESPACES[0]!,
        pg_am: AM,
        pg_tables: tablesRow(table, view),
      }));
    case 'pg_tables':
      return view.tables.map((table) => ({ pg_tables: tablesRow(table, view), pg_class: classRow(table), pg_namespace: NAMESPACES[0]! }));
    case 'pg_type':
      return TYPES.map((t) => ({ pg_type: typeRow(t), pg_namespace: NAMESPACES[1]! }));
    case 'pg_namespace':
      return NAMESPACES.map((n) => ({ pg_namespace: n }));
    case 'pg_database':
      return view.databases.map((name) => ({
        pg_database: {
          oid: tableOid(`database:${name}`),
          datname: name,
          datdba: OWNER_OID,
          encoding: 6,
          datlocprovider: 'c',
          datistemplate: false,
          datallowconn: true,
          datconnlimit: -1,
          dattablespace: 1663,
          datcollate: 'C.UTF-8',
          datctype: 'C.UTF-8',
          daticulocale: null,
          datacl: null,
        },
      }));
    case 'pg_roles':
    case 'pg_user':
    case 'pg_authid': {
      const role = {
        oid: OWNER_OID,
        rolname: view.user,
        usename: view.user,
        usesysid: OWNER_OID,
        rolsuper: false,
        usesuper: false,
        rolinherit: true,
        rolcreaterole: false,
        rolcreatedb: false,
        usecreatedb: false,
        rolcanlogin: true,
        rolreplication: false,
        userepl: false,
        rolbypassrls: false,
        usebypassrls: false,
        rolconnlimit: -1,
        rolpassword: '********',
        passwd: '********',
        rolvaliduntil: null,
        valuntil: null,
        rolconfig: null,
        useconfig: null,
      };
      return [{ pg_roles: role, pg_user: role, pg_authid: role }];
    }
    case 'pg_settings':
      return [...view.settings].map(([name, setting]) => ({
        pg_settings: { name, setting, unit: null, category: 'Client Connection Defaults', short_desc: '', extra_desc: null, context: 'user', vartype: 'string', source: 'default', boot_val: setting, reset_val: setting, pending_restart: false },
      }));
    case 'pg_am':
      return [{ pg_am: AM }];
    default:
      return [];
  }
}

function tablesRow(table: CatalogTable, view: CatalogView): Record<string, JsonValue> {
  return { schemaname: SCHEMA, tablename: table.name, tableowner: view.user, tablespace: null, hasindexes: false, hasrules: false, hastriggers: false, rowsecurity: false };
}

// --------------------------------------------------------------------------------------------- functions

function functions(view: CatalogView): EvalContext['call'] {
  const byOid = new Map(view.tables.map((t) => [tableOid(t.name), t]));
  const str = (v: Value | undefined): string | null => (v === UNKNOWN || v === null || v === undefined ? null : asText(v));
  return (name, args) => {
    switch (name) {
      case 'version':
        return view.version;
      case 'current_schema':
        return SCHEMA;
      case 'current_schemas':
        return args[0] === true ? '{pg_catalog,main}' : '{main}';
      case 'current_database':
      case 'current_catalog':
        return view.sandbox;
      case 'current_user':
      case 'session_user':
      case 'user':
      case 'current_role':
      case 'getpgusername':
        return view.user;
      case 'pg_get_userbyid':
        return view.user;
      case 'current_setting': {
        const key = str(args[0])?.toLowerCase();
        return key === undefined ? null : (view.settings.get(key) ?? (args[1] === true ? null : UNKNOWN));
      }
      case 'set_config':
        return args[1] ?? null;
      case 'pg_backend_pid':
        return view.pid;
      case 'pg_postmaster_start_time':
      case 'pg_conf_load_time':
        return view.startedAt;
      case 'now':
      case 'current_timestamp':
      case 'transaction_timestamp':
      case 'statement_timestamp':
      case 'localtimestamp':
        return new Date().toISOString();
      case 'current_date':
        return new Date().toISOString().slice(0, 10);
      case 'pg_is_in_recovery':
        return false;
      case 'txid_current':
      case 'pg_current_xact_id':
        return 1;
      case 'inet_server_addr':
      case 'inet_client_addr':
      case 'inet_server_port':
      case 'inet_client_port':
        return null;
      case 'pg_encoding_to_char':
        return 'UTF8';
      case 'pg_char_to_encoding':
        return 6;
      case 'format_type':
        return typeof args[0] === 'number' ? formatType(args[0], typeof args[1] === 'number' ? args[1] : null) : null;
      case 'obj_description':
        return typeof args[0] === 'number' ? (byOid.get(args[0])?.description ?? null) : null;
      case '__regclass':
        return typeof args[0] === 'number' ? (byOid.get(args[0])?.name ?? String(args[0])) : null;
      case 'col_description':
      case 'shobj_description':
      case 'pg_get_expr':
      case 'pg_get_indexdef':
      case 'pg_get_constraintdef':
      case 'pg_get_viewdef':
      case 'pg_get_triggerdef':
      case 'pg_get_functiondef':
      case 'pg_get_function_arguments':
      case 'pg_get_function_result':
      case 'pg_get_statisticsobjdef_columns':
      case 'pg_get_serial_sequence':
      case 'pg_size_pretty':
      case 'array_to_string':
        return null;
      case 'pg_table_size':
      case 'pg_relation_size':
      case 'pg_total_relation_size':
      case 'pg_indexes_size':
      case 'pg_database_size':
        return null;
      case 'pg_table_is_visible':
      case 'pg_type_is_visible':
      case 'pg_function_is_visible':
      case 'pg_relation_is_publishable':
      case 'has_table_privilege':
      case 'has_schema_privilege':
      case 'has_database_privilege':
      case 'has_column_privilege':
      case 'has_any_column_privilege':
      case 'pg_has_role':
        return true;
      case 'quote_ident':
        return str(args[0]);
      case 'lower':
        return str(args[0])?.toLowerCase() ?? null;
      case 'upper':
        return str(args[0])?.toUpperCase() ?? null;
      case 'coalesce':
        return args.find((a) => a !== null && a !== UNKNOWN) ?? (args.includes(UNKNOWN) ? UNKNOWN : null);
      case 'concat':
        return args.map((a) => str(a) ?? '').join('');
      default:
        return UNKNOWN;
    }
  };
}

// ------------------------------------------------------------------------------------------- the evaluator

const CLAUSES = new Set(['FROM', 'WHERE', 'GROUP', 'HAVING', 'ORDER', 'LIMIT', 'OFFSET', 'WINDOW', 'FOR', 'FETCH']);
const AGGREGATES = new Set(['count', 'min', 'max', 'sum', 'bool_and', 'bool_or', 'string_agg', 'array_agg']);
const JOIN_WORDS = new Set(['JOIN', 'INNER', 'LEFT', 'RIGHT', 'FULL', 'CROSS', 'OUTER', 'NATURAL', 'LATERAL']);

interface FromEntry {
  table: string;
  alias: string;
  outer: boolean;
}

/** `FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON …, pg_am am` → its tables. */
function readFrom(tokens: Token[]): FromEntry[] {
  const entries: FromEntry[] = [];
  let i = 0;
  let outer = false;
  while (i < tokens.length) {
    const t = tokens[i]!;
    const word = upper(t);
    if (t.type === 'punct' && t.text === ',') {
      outer = false;
      i++;
      continue;
    }
    if (JOIN_WORDS.has(word)) {
      if (word === 'LEFT' || word === 'RIGHT' || word === 'FULL') outer = true;
      i++;
      continue;
    }
    if (word === 'ON' || word === 'USING') {
      // Skip the join condition up to the next join word or comma at this depth.
      const next = findTop(tokens, (x) => JOIN_WORDS.has(upper(x)) || (x.type === 'punct' && x.text === ','), i + 1);
      i = next === -1 ? tokens.length : next;
      outer = false;
      continue;
    }
    if (t.type === 'punct' && t.text === '(') {
      const close = findTop(tokens, (x, j) => j > i && x.type === 'punct' && x.text === ')', i + 1);
      i = close === -1 ? tokens.length : close + 1;
      i = skipAlias(tokens, i);
      entries.push({ table: '(subquery)', alias: '', outer });
      outer = false;
      continue;
    }
    if (t.type === 'ident' || t.type === 'qident') {
      let name = t.type === 'qident' ? t.text.slice(1, -1) : t.text.toLowerCase();
      i++;
      while (tokens[i]?.type === 'punct' && tokens[i]!.text === '.' && tokens[i + 1]) {
        const part = tokens[i + 1]!;
        name = part.type === 'qident' ? part.text.slice(1, -1) : part.text.toLowerCase();
        i += 2;
      }
      if (tokens[i]?.type === 'punct' && tokens[i]!.text === '(') {
        const close = findTop(tokens, (x, j) => j > i && x.type === 'punct' && x.text === ')', i + 1);
        i = close === -1 ? tokens.length : close + 1;
        name = `${name}()`;
      }
      const aliasStart = i;
      i = skipAlias(tokens, i);
      const aliasToken = tokens.slice(aliasStart, i).filter((x) => upper(x) !== 'AS')[0];
      const alias = aliasToken ? (aliasToken.type === 'qident' ? aliasToken.text.slice(1, -1) : aliasToken.text.toLowerCase()) : name;
      entries.push({ table: name, alias, outer });
      outer = false;
      continue;
    }
    i++;
  }
  return entries;
}

function skipAlias(tokens: Token[], i: number): number {
  if (upper(tokens[i]) === 'AS') i++;
  const t = tokens[i];
  if (t && (t.type === 'qident' || (t.type === 'ident' && !JOIN_WORDS.has(upper(t)) && !['ON', 'USING', 'WHERE'].includes(upper(t))))) {
    i++;
    if (tokens[i]?.type === 'punct' && tokens[i]!.text === '(') {
      const close = findTop(tokens, (x, j) => j > i && x.type === 'punct' && x.text === ')', i + 1);
      i = close === -1 ? tokens.length : close + 1;
    }
  }
  return i;
}

interface Branch {
  items: { expr: Expr; name: string; star: boolean }[];
  distinct: boolean;
  from: FromEntry[];
  where: Expr | undefined;
  grouped: boolean;
}

function readBranch(tokens: Token[]): Branch {
  // WITH …: the CTEs are not evaluated; a query reading one finds an unknown table (no rows).
  if (upper(tokens[0]) === 'WITH') tokens = tokens.slice(Math.max(findTop(tokens, (t) => upper(t) === 'SELECT'), 0));
  let i = upper(tokens[0]) === 'SELECT' ? 1 : 0;
  let distinct = false;
  if (upper(tokens[i]) === 'ALL') i++;
  if (upper(tokens[i]) === 'DISTINCT') {
    distinct = true;
    i++;
    if (upper(tokens[i]) === 'ON' && tokens[i + 1]?.text === '(') {
      const close = findTop(tokens, (x, j) => j > i + 1 && x.type === 'punct' && x.text === ')', i + 2);
      i = close + 1;
    }
  }
  const clauseAt = (word: string): number => findTop(tokens, (t) => upper(t) === word, i);
  const fromAt = clauseAt('FROM');
  const endOf = (start: number): number => {
    const next = findTop(tokens, (t, j) => j > start && CLAUSES.has(upper(t)), start + 1);
    return next === -1 ? tokens.length : next;
  };
  const listEnd = fromAt === -1 ? endOf(i - 1) : fromAt;
  const items = splitTop(tokens.slice(i, listEnd), (t) => t.type === 'punct' && t.text === ',')
    .filter((p) => p.length)
    .map(parseSelectItem);
  const from = fromAt === -1 ? [] : readFrom(tokens.slice(fromAt + 1, endOf(fromAt)));
  const whereAt = clauseAt('WHERE');
  const where = whereAt === -1 ? undefined : parseExpr(tokens.slice(whereAt + 1, endOf(whereAt)));
  return { items, distinct, from, where, grouped: clauseAt('GROUP') !== -1 };
}

function inferType(name: string, values: JsonValue[]): PgType {
  const present = values.filter((v) => v !== null);
  if (present.length && present.every((v) => typeof v === 'boolean')) return PG_TYPES.bool;
  if (present.length && present.every((v) => typeof v === 'number' && Number.isInteger(v))) {
    if (name === 'oid' || /(relid|typid|namespace|owner|^typelem|^typarray|^reltype|^relam|^datdba)$/.test(name)) return PG_TYPES.oid;
    return present.every((v) => Math.abs(v as number) < 2 ** 31) ? PG_TYPES.int4 : PG_TYPES.int8;
  }
  if (present.length && present.every((v) => typeof v === 'number')) return PG_TYPES.float8;
  if (/^(relname|nspname|attname|typname|datname|rolname|usename|tablename|schemaname|amname)$/.test(name)) return PG_TYPES.name;
  return PG_TYPES.text;
}

const column = (table: string, name: string): Expr => ({ k: 'col', table, name });
const toJson = (v: Value): JsonValue => (v === UNKNOWN ? null : v);

function usesAggregate(e: Expr): boolean {
  if (e.k === 'fn') return AGGREGATES.has(e.name.toLowerCase()) || e.args.some(usesAggregate);
  if (e.k === 'cast' || e.k === 'not' || e.k === 'isnull') return usesAggregate(e.e);
  if (e.k === 'bin') return usesAggregate(e.l) || usesAggregate(e.r);
  return false;
}

/**
 * Answers one catalog SELECT (or a UNION of them) over the virtual tables. Queries without FROM evaluate
 * their functions once (`SELECT version(), current_schema()`).
 */
export function answerCatalogQuery(sql: string, view: CatalogView): LocalResult {
  let tokens = significantTokens(sql);
  while (tokens.length && tokens[tokens.length - 1]!.type === 'punct' && tokens[tokens.length - 1]!.text === ';') tokens = tokens.slice(0, -1);
  // ORDER BY / LIMIT / OFFSET after the last UNION branch apply to the whole result.
  const branchTokens = splitTop(tokens, (t) => upper(t) === 'UNION' || upper(t) === 'INTERSECT' || upper(t) === 'EXCEPT').map((b) => (upper(b[0]) === 'ALL' || upper(b[0]) === 'DISTINCT' ? b.slice(1) : b));
  const last = branchTokens[branchTokens.length - 1]!;
  const orderAt = findTop(last, (t, j) => upper(t) === 'ORDER' && upper(last[j + 1]) === 'BY');
  const limitAt = findTop(last, (t) => upper(t) === 'LIMIT');
  const offsetAt = findTop(last, (t) => upper(t) === 'OFFSET');
  const tailStart = Math.min(...[orderAt, limitAt, offsetAt].filter((x) => x !== -1), last.length);
  branchTokens[branchTokens.length - 1] = last.slice(0, tailStart);

  const call = functions(view);
  let columns: LocalColumn[] | undefined;
  const rows: { out: JsonValue[]; source: SourceRow; ctx: EvalContext }[] = [];
  for (const part of branchTokens) {
    const branch = readBranch(part);
    const tables = branch.from.map((f) => f.table);
    const main = tables.length === 0 ? undefined : (ROW_SOURCES.find((s) => tables.includes(s)) ?? tables[0]!);
    const aliases = new Map(branch.from.map((f) => [f.alias, f.table]));
    const ctx: EvalContext = { aliases, main, call, keyword: (name) => call(name.toLowerCase(), [], {}) };
    let sources: SourceRow[] = main === undefined ? [{}] : sourceRows(main, view);
    // An inner join with a table that has no rows (or one this endpoint cannot produce) leaves nothing.
    const reachable = new Set(sources[0] ? Object.keys(sources[0]) : [main]);
    if (branch.from.some((f) => !f.outer && !reachable.has(f.table))) sources = [];
    const where = branch.where;
    if (where) sources = sources.filter((row) => keeps(where, row, ctx));
    const items = branch.items.flatMap((item) =>
      item.star && main ? Object.keys(sourceRows(main, view)[0]?.[main] ?? {}).map((name) => ({ expr: column(main, name), name, star: false })) : [item],
    );
    const aggregate = !branch.grouped && items.some((item) => usesAggregate(item.expr));
    if (aggregate) {
      // count(…) counts the rows; other aggregates see the first row (catalog queries rarely need more).
      const counting: EvalContext = { ...ctx, call: (name, args, row) => (name === 'count' ? sources.length : call(name, args, row)) };
      const out = items.map((item) => toJson(evaluate(item.expr, sources[0] ?? {}, counting)));
      rows.push({ out, source: sources[0] ?? {}, ctx });
    } else {
      for (const source of sources) rows.push({ out: items.map((item) => toJson(evaluate(item.expr, source, ctx))), source, ctx });
    }
    columns ??= items.map((item, index) => ({ name: item.name, type: inferType(item.name, rows.map((r) => r.out[index] ?? null)) }));
    if (branch.distinct) {
      const seen = new Set<string>();
      for (let k = rows.length - 1; k >= 0; k--) {
        const key = JSON.stringify(rows[k]!.out);
        if (seen.has(key)) rows.splice(k, 1);
        seen.add(key);
      }
    }
  }
  columns ??= [];

  if (orderAt !== -1) {
    const end = [limitAt, offsetAt].filter((x) => x > orderAt).sort((a, b) => a - b)[0] ?? last.length;
    const keys = splitTop(last.slice(orderAt + 2, end), (t) => t.type === 'punct' && t.text === ',').map((key) => {
      const desc = upper(key[key.length - 1]) === 'DESC';
      const body = key.filter((t, n) => !(n === key.length - 1 && ['ASC', 'DESC'].includes(upper(t))));
      const position = body.length === 1 && body[0]!.type === 'number' ? Number(body[0]!.text) - 1 : -1;
      const named = body.length === 1 ? (columns ?? []).findIndex((c) => c.name === (body[0]!.type === 'qident' ? body[0]!.text.slice(1, -1) : body[0]!.text.toLowerCase())) : -1;
      return { desc, index: position >= 0 ? position : named, expr: parseExpr(body) };
    });
    const valueOf = (row: (typeof rows)[number], key: (typeof keys)[number]): JsonValue => (key.index >= 0 ? (row.out[key.index] ?? null) : toJson(evaluate(key.expr, row.source, row.ctx)));
    rows.sort((a, b) => {
      for (const key of keys) {
        const x = valueOf(a, key);
        const y = valueOf(b, key);
        if (x === y) continue;
        if (x === null) return key.desc ? -1 : 1;
        if (y === null) return key.desc ? 1 : -1;
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : asText(x) < asText(y) ? -1 : 1;
        return key.desc ? -c : c;
      }
      return 0;
    });
  }
  const numberAfter = (at: number): number | undefined => (at === -1 || last[at + 1]?.type !== 'number' ? undefined : Number(last[at + 1]!.text));
  const offset = numberAfter(offsetAt) ?? 0;
  const limit = numberAfter(limitAt);
  const out = rows.slice(offset, limit === undefined ? undefined : offset + limit).map((r) => r.out);
  return { columns, rows: out };
}

/** Whether a statement reads the Postgres catalog (and so is answered here). */
export function readsCatalog(tokens: readonly Token[]): boolean {
  return tokens.some((t, i) => {
    if (t.type !== 'ident') return false;
    const word = t.text.toLowerCase();
    if (word === 'pg_catalog' && tokens[i + 1]?.text === '.') return true;
    return CATALOG_TABLES.has(word) && tokens[i - 1]?.text !== '.';
  });
}

/** Functions only Postgres has: a SELECT without FROM calling one of them is answered here. */
export const PG_FUNCTIONS = new Set([
  'version', 'current_schema', 'current_schemas', 'current_database', 'current_catalog', 'current_user', 'session_user', 'current_role',
  'current_setting', 'set_config', 'pg_backend_pid', 'pg_postmaster_start_time', 'pg_conf_load_time', 'pg_is_in_recovery', 'txid_current',
  'pg_current_xact_id', 'inet_server_addr', 'inet_client_addr', 'inet_server_port', 'inet_client_port', 'pg_encoding_to_char', 'format_type',
  'obj_description', 'col_description', 'has_table_privilege', 'has_schema_privilege', 'has_database_privilege', 'pg_has_role', 'getpgusername',
  'pg_get_userbyid', 'pg_table_is_visible', 'pg_size_pretty', 'pg_database_size',
]);

/** `SELECT version()`-style statements: no FROM, and at least one Postgres-only function or keyword. */
export function callsPgFunctionsOnly(tokens: readonly Token[]): boolean {
  if (upper(tokens[0]) !== 'SELECT') return false;
  if (findTop(tokens, (t) => upper(t) === 'FROM') !== -1) return false;
  return tokens.some((t, i) => t.type === 'ident' && PG_FUNCTIONS.has(t.text.toLowerCase()) && (tokens[i + 1]?.text === '(' || ['CURRENT_USER', 'SESSION_USER', 'CURRENT_ROLE', 'CURRENT_CATALOG', 'CURRENT_SCHEMA'].includes(t.text.toUpperCase())));
}
