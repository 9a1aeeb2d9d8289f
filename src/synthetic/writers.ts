/**
 * Output formats: DuckDB writes every file with `COPY (query) TO`, so rows stream from the skeleton tables to
 * disk without passing through JS.
 * - Parquet: the records as they are (STRUCT, MAP and LIST columns, native timestamps), zstd level 1 (as small
 *   as the default level here, and ~15% less CPU).
 * - JSON Lines: one XDM record per line; absent values are left out rather than written as `null`, because the
 *   schema validator refuses `null` for a string field.
 * - CSV: one column per leaf field named by its dotted path (`person.name.firstName`); maps and lists (the
 *   identity map, product lists, id lists) are JSON text in one column.
 */
import { DuckDBListType, DuckDBMapType, DuckDBStructType, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { quoteIdent, quoteLiteral } from '../adapters/duckdb/duckdb-types.ts';
import type { OutputFormat } from './options.ts';
import type { TimeStyle } from './render.ts';

export const EXTENSIONS: Record<OutputFormat, string> = { parquet: 'parquet', csv: 'csv', jsonl: 'jsonl' };

export const timeStyleOf = (format: OutputFormat): TimeStyle => (format === 'parquet' ? 'native' : 'text');

/**
 * The query's rows as JSON text, one record per row, without null members: merging a record as a JSON Merge
 * Patch (RFC 7396) into `{}` drops every member whose value is null, at any depth, in DuckDB's native JSON code.
 * (Arrays are copied as they are; no generated array holds a null member.)
 */
export function jsonLinesQuery(query: string): string {
  return `SELECT json_merge_patch('{}', to_json(q))::VARCHAR AS line FROM (${query}) q`;
}

function flatten(expression: string, path: string, type: DuckDBType): [string, string][] {
  if (type instanceof DuckDBStructType) {
    return type.entryNames.flatMap((name, i) => flatten(`struct_extract(${expression}, ${quoteLiteral(name)})`, `${path}.${name}`, type.entryTypes[i]!));
  }
  if (type instanceof DuckDBMapType || type instanceof DuckDBListType) return [[`to_json(${expression})::VARCHAR`, path]];
  return [[expression, path]];
}

/** The query with every struct flattened into dotted-path columns (the CSV layout). */
export async function flatQuery(connection: DuckDBConnection, query: string): Promise<string> {
  const reader = await connection.runAndReadAll(`SELECT * FROM (${query}) LIMIT 0`);
  const types = reader.columnTypes();
  const columns = reader.columnNames().flatMap((name, i) => flatten(`q.${quoteIdent(name)}`, name, types[i]!));
  return `SELECT ${columns.map(([expression, path]) => `${expression} AS ${quoteIdent(path)}`).join(', ')} FROM (${query}) q`;
}

/** Writes the query's rows to `file` in `format`; returns the number of rows written. */
export async function writeQuery(connection: DuckDBConnection, query: string, file: string, format: OutputFormat): Promise<number> {
  const target = quoteLiteral(file);
  const sql =
    format === 'parquet'
      ? `COPY (${query}) TO ${target} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)`
      : format === 'jsonl'
        ? // One text column, written without quoting or escaping: each value already is a JSON document.
          `COPY (${jsonLinesQuery(query)}) TO ${target} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '')`
        : `COPY (${await flatQuery(connection, query)}) TO ${target} (FORMAT csv, HEADER true)`;
  const reader = await connection.runAndReadAll(sql);
  return Number(reader.getRows()[0]?.[0] ?? 0);
}
