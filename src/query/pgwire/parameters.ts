/**
 * Extended-query parameters. The query service takes SQL text, so `$1`, `$2`, … are replaced by SQL literals
 * before the statement runs: typed by the OIDs the client gave in Parse (numbers checked and inserted bare,
 * booleans as TRUE/FALSE, dates and timestamps as typed literals), otherwise quoted string literals that DuckDB
 * casts where they are used, as Postgres does with untyped parameters. Strings are quoted by doubling `'`
 * (DuckDB strings have no backslash escapes), so a value can never end its literal. `$n` inside strings,
 * quoted identifiers and comments is left alone; `'$NAME'` template placeholders are not positional parameters.
 */
import { RoundtripError } from '../../core/errors.ts';
import { tokenize } from '../sql-tokens.ts';
import { OID } from './pg-types.ts';

/** Highest `$n` used in the statement (the number of parameters it takes). */
export function parameterCount(sql: string): number {
  let max = 0;
  for (const token of safeTokens(sql)) if (token.type === 'positional') max = Math.max(max, Number(token.text.slice(1)));
  return max;
}

function safeTokens(sql: string): ReturnType<typeof tokenize> {
  try {
    return tokenize(sql);
  } catch {
    // The query service reports syntax errors with positions; here only the parameters matter.
    return [];
  }
}

const quote = (value: string): string => `'${value.replace(/'/g, "''")}'`;

const INTEGER = /^\s*[+-]?\d+\s*$/;
const NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const SPECIAL_FLOAT = /^\s*[+-]?(nan|infinity|inf)\s*$/i;
const TRUE_WORDS = new Set(['t', 'true', 'y', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['f', 'false', 'n', 'no', 'off', '0']);

function invalid(index: number, value: string, type: string): RoundtripError {
  return new RoundtripError('RT_PGWIRE_PARAMETER', `Parameter $${index} is declared ${type} but its value ${quote(value.slice(0, 60))} is not one.`, { parameter: index, type });
}

/** One parameter value as a SQL literal, by the type OID the client declared (0: unspecified). */
const NULL_TYPES: Record<number, string> = {
  [OID.int2]: 'SMALLINT',
  [OID.int4]: 'INTEGER',
  [OID.int8]: 'BIGINT',
  [OID.oid]: 'BIGINT',
  [OID.float4]: 'FLOAT',
  [OID.float8]: 'DOUBLE',
  [OID.numeric]: 'DOUBLE',
  [OID.bool]: 'BOOLEAN',
  [OID.date]: 'DATE',
  [OID.timestamp]: 'TIMESTAMP',
  [OID.timestamptz]: 'TIMESTAMPTZ',
  [OID.text]: 'VARCHAR',
  [OID.varchar]: 'VARCHAR',
  [OID.bytea]: 'BLOB',
};

export function literalFor(value: string | null, oid: number, index: number): string {
  if (value === null) return NULL_TYPES[oid] ? `CAST(NULL AS ${NULL_TYPES[oid]})` : 'NULL';
  switch (oid) {
    case OID.int2:
    case OID.int4:
    case OID.int8:
    case OID.oid:
      if (!INTEGER.test(value)) throw invalid(index, value, 'an integer');
      return `(${value.trim()})`;
    case OID.float4:
    case OID.float8:
    case OID.numeric:
      if (SPECIAL_FLOAT.test(value)) return `CAST(${quote(value.trim())} AS DOUBLE)`;
      if (!NUMBER.test(value)) throw invalid(index, value, 'a number');
      return `(${value.trim()})`;
    case OID.bool: {
      const word = value.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return 'TRUE';
      if (FALSE_WORDS.has(word)) return 'FALSE';
      throw invalid(index, value, 'a boolean');
    }
    case OID.date:
      return `DATE ${quote(value)}`;
    case OID.timestamp:
      return `TIMESTAMP ${quote(value)}`;
    case OID.timestamptz:
      return `TIMESTAMPTZ ${quote(value)}`;
    case OID.bytea:
      return `CAST(${quote(value)} AS BLOB)`;
    default:
      return quote(value);
  }
}

/**
 * The statement with every `$n` replaced by its value's literal. Refuses a `$n` with no value (Postgres:
 * "there is no parameter $n").
 */
export function bindParameters(sql: string, values: readonly (string | null)[], oids: readonly number[]): string {
  if (values.length === 0 && !sql.includes('$')) return sql;
  const tokens = safeTokens(sql);
  if (tokens.length === 0) return sql;
  return tokens
    .map((token) => {
      if (token.type !== 'positional') return token.text;
      const index = Number(token.text.slice(1));
      if (index < 1 || index > values.length) {
        throw new RoundtripError('RT_PGWIRE_PARAMETER', `There is no parameter $${index}: the statement was bound with ${values.length}.`, { parameter: index });
      }
      return literalFor(values[index - 1]!, oids[index - 1] ?? 0, index);
    })
    .join('');
}
