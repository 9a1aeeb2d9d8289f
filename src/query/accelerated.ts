/**
 * The accelerated store as the query service sees it (reference §7): `CREATE DATABASE d WITH (TYPE=QSACCEL,
 * ACCOUNT=acp_query_batch)` marks the data group `d` as accelerated in `_rt_accelerated_databases`; its schemas
 * (`CREATE SCHEMA d.s`, the DuckDB schema `"d.s"` of the sandbox's own database, so sandbox isolation and the
 * external-access lock are the ones of every other table) hold aggregates only.
 *
 * This module owns what the executor needs for that: the names (`d.s.t` and `d.s.t.column` anywhere in a
 * statement), the refusal of identity and PII columns in accelerated tables (the statement runs in a
 * transaction that is rolled back when the resulting table has one), the stripping of the reference's
 * `WITH (DISTRIBUTION = REPLICATE)` option, and the write notifications that invalidate cached results.
 */
import type { IdentityDescriptor } from '../catalog/xdm/compose.ts';
import { RoundtripError } from '../core/errors.ts';
import type { ColumnType, QueryColumn, WarehouseSession } from '../ports/warehouse.ts';
import { closingParen, identName, isTrivia, isWord, nextSignificant, type Token } from './sql-tokens.ts';

export const ACCELERATED_DATABASES = '_rt_accelerated_databases';
const DDL = `CREATE TABLE IF NOT EXISTS ${ACCELERATED_DATABASES} (database_name VARCHAR PRIMARY KEY, account VARCHAR, created_at TIMESTAMPTZ NOT NULL)`;

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
const synthetic = (text: string): Token => ({ type: 'ident', text, start: -1 });
const isName = (t: Token | undefined) => t?.type === 'ident' || t?.type === 'qident';
const isDot = (t: Token | undefined) => t?.type === 'punct' && t.text === '.';

/** Records `database` as an accelerated store (idempotent). */
export async function registerAcceleratedDatabase(session: Pick<WarehouseSession, 'query'>, database: string, account: string | null): Promise<void> {
  await session.query(DDL);
  await session.query(`INSERT INTO ${ACCELERATED_DATABASES} VALUES ($d, $a, now()) ON CONFLICT DO NOTHING`, { d: database.toLowerCase(), a: account });
}

export async function forgetAcceleratedDatabase(session: Pick<WarehouseSession, 'query'>, database: string): Promise<void> {
  await session.query(DDL);
  await session.query(`DELETE FROM ${ACCELERATED_DATABASES} WHERE database_name = $d`, { d: database.toLowerCase() });
}

/** Every data-group schema of the sandbox (`"d.s"`), lower-cased, and which of them are accelerated. */
export async function dataGroupSchemas(session: Pick<WarehouseSession, 'query'>): Promise<{ all: Set<string>; accelerated: Set<string> }> {
  const rows = await session.query(`SELECT lower(schema_name) AS name FROM duckdb_schemas() WHERE database_name = current_database() AND contains(schema_name, '.')`);
  const all = new Set(rows.rows.map((r) => r.name as string));
  const accelerated = new Set<string>();
  if (all.size === 0) return { all, accelerated };
  const registry = await session.query(`SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = '${ACCELERATED_DATABASES}'`);
  if (Number(registry.rows[0]?.n ?? 0) === 0) return { all, accelerated };
  const dbs = new Set((await session.query(`SELECT database_name FROM ${ACCELERATED_DATABASES}`)).rows.map((r) => r.database_name as string));
  for (const schema of all) if (dbs.has(schema.split('.')[0]!)) accelerated.add(schema);
  return { all, accelerated };
}

/**
 * `d.s.t` and `d.s.t.col` (anywhere: a four-part column reference like the reference's
 * `qsaccel.profile_agg.adwh_dim_destination.destination_name`) → `"d.s"."t"[."col"]`, when `d.s` is a data-group
 * schema. A two-part `s.t` in a table position resolves too when exactly one data group has a schema `s`
 * (the reference's `audiencemodel.externalaudiencereach`). Nested field paths (`t.struct.field`) are left alone
 * because their first two parts never name a data-group schema.
 */
export function rewriteDataGroupChains(tokens: readonly Token[], schemas: ReadonlySet<string>): Token[] {
  if (schemas.size === 0) return [...tokens];
  const bySuffix = new Map<string, string[]>();
  for (const s of schemas) {
    const suffix = s.slice(s.indexOf('.') + 1);
    bySuffix.set(suffix, [...(bySuffix.get(suffix) ?? []), s]);
  }
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const previous = out.length > 0 ? out[out.length - 1] : undefined;
    const startsChain = isName(t) && !isDot(previous);
    if (startsChain && isDot(tokens[i + 1]) && isName(tokens[i + 2]) && isDot(tokens[i + 3]) && isName(tokens[i + 4])) {
      const schema = `${identName(t)}.${identName(tokens[i + 2]!)}`.toLowerCase();
      if (schemas.has(schema)) {
        let text = `${quote(schema)}.${quote(identName(tokens[i + 4]!))}`;
        let end = i + 4;
        if (isDot(tokens[i + 5]) && isName(tokens[i + 6])) {
          text += `.${quote(identName(tokens[i + 6]!))}`;
          end = i + 6;
        }
        out.push(synthetic(text));
        i = end;
        continue;
      }
    }
    const before = [...out].reverse().find((x) => !isTrivia(x));
    if (startsChain && isWord(before, 'FROM', 'JOIN', 'INTO', 'TABLE', 'UPDATE') && isDot(tokens[i + 1]) && isName(tokens[i + 2]) && !isDot(tokens[i + 3])) {
      const candidates = bySuffix.get(identName(t).toLowerCase()) ?? [];
      if (candidates.length === 1) {
        out.push(synthetic(`${quote(candidates[0]!)}.${quote(identName(tokens[i + 2]!))}`));
        i += 2;
        continue;
      }
    }
    out.push(t);
  }
  return out;
}

/** Drops `WITH ( DISTRIBUTION = REPLICATE )` (and other table options) between a CTAS's name and its AS. */
export function stripTableOptions(tokens: readonly Token[], afterName: number): Token[] {
  const withAt = nextSignificant(tokens, afterName);
  if (!isWord(tokens[withAt], 'WITH')) return [...tokens];
  const open = nextSignificant(tokens, withAt + 1);
  if (tokens[open]?.text !== '(') return [...tokens];
  const close = closingParen(tokens, open);
  const asAt = nextSignificant(tokens, close + 1);
  if (!isWord(tokens[asAt], 'AS')) return [...tokens];
  return [...tokens.slice(0, withAt), ...tokens.slice(close + 1)];
}

/**
 * Column names that identify a person, whatever the dataset: contact points, names, identity namespaces and
 * profile/customer identifiers (compared lower-case without `_`).
 */
const PII_NAMES = new Set([
  'email', 'emailaddress', 'personalemail', 'workemail', 'phone', 'phonenumber', 'mobile', 'mobilephone', 'homephone', 'sms',
  'name', 'firstname', 'lastname', 'fullname', 'middlename', 'givenname', 'familyname', 'personname', 'courtesytitle',
  'birthdate', 'dateofbirth', 'dob', 'birthday', 'ssn', 'taxid', 'passport', 'address', 'street', 'street1', 'street2', 'postalcode', 'zip',
  'ipaddress', 'ip', 'ecid', 'crmid', 'idfa', 'gaid', 'aaid', 'cookieid', 'deviceid',
  'identity', 'identities', 'identitymap', 'profileid', 'personid', 'customerid', 'userid', 'memberid', 'membershipnumber', 'loyaltyid', 'accountid',
  'id', '_id',
]);

const normal = (name: string) => name.toLowerCase().replace(/_/g, '');

/** Names derived from the sandbox's datasets: leaf names of identity fields and namespace codes. */
export function identityNames(descriptors: readonly IdentityDescriptor[]): Set<string> {
  const names = new Set<string>();
  for (const d of descriptors) {
    names.add(normal(d.path.split('.').pop() ?? d.path));
    names.add(normal(d.namespace));
  }
  return names;
}

function piiIn(name: string, type: ColumnType, extra: ReadonlySet<string>, path: string, out: string[]): void {
  const n = normal(name);
  if (PII_NAMES.has(n) || extra.has(n) || /(^|_)(email|phone)(_|$)/i.test(name)) out.push(path);
  if (type.kind === 'struct') for (const f of type.fields) piiIn(f.name, f.type, extra, `${path}.${f.name}`, out);
  if (type.kind === 'list') piiIn(name, type.items, new Set(), path, []);
  if (type.kind === 'map') out.push(...(n.includes('identit') ? [path] : []));
}

/** The columns (paths inside structs) of a table that would hold identities or PII. */
export function piiColumns(columns: readonly QueryColumn[], extra: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  for (const c of columns) piiIn(c.name, c.columnType, extra, c.name, out);
  return out;
}

/** The `schema`/`table` of a `"d.s"."t"` rendering or of parts `[d, s, t]`. */
export function qualifiedTarget(parts: readonly string[]): { schema: string; table: string } | undefined {
  if (parts.length !== 3) return undefined;
  return { schema: `${parts[0]}.${parts[1]}`.toLowerCase(), table: parts[2]!.toLowerCase() };
}

/**
 * Runs a write to an accelerated table in a transaction; when the table then has an identity or PII column the
 * transaction is rolled back and the statement refused with `RT_INSIGHTS_PII_COLUMN`.
 */
export async function guardedAcceleratedWrite<T>(
  session: WarehouseSession,
  target: { schema: string; table: string },
  extraPii: ReadonlySet<string>,
  run: () => Promise<T>,
): Promise<T> {
  await session.query('BEGIN TRANSACTION');
  try {
    const outcome = await run();
    const exists = await session.query(`SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = $s AND table_name = $t`, { s: target.schema, t: target.table });
    if (Number(exists.rows[0]?.n ?? 0) > 0) {
      const shape = await session.query(`SELECT * FROM ${quote(target.schema)}.${quote(target.table)} LIMIT 0`);
      const bad = piiColumns(shape.columns, extraPii);
      if (bad.length > 0) {
        throw new RoundtripError(
          'RT_INSIGHTS_PII_COLUMN',
          `${target.schema}.${target.table} is in the accelerated store, which keeps aggregates only: ${bad.join(', ')} would identify people (identity or personal data). Aggregate them away (count, bucket) instead.`,
          { table: `${target.schema}.${target.table}`, columns: bad },
        );
      }
    }
    await session.query('COMMIT');
    return outcome;
  } catch (error) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Listeners told which accelerated tables a statement wrote (`schema.table`, lower-case), for result caches. */
export class AcceleratedWrites {
  private readonly listeners = new Set<(sandbox: string, tables: readonly string[]) => void>();

  on(listener: (sandbox: string, tables: readonly string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(sandbox: string, tables: readonly string[]): void {
    for (const listener of this.listeners) listener(sandbox, tables);
  }
}
