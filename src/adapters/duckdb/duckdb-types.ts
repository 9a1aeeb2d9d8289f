/**
 * DuckDB type mapping: engine-neutral `ColumnType` ⇄ DuckDB DDL types, and DuckDB values → plain JSON.
 *
 * Nested XDM fields become real STRUCT/MAP/LIST columns (never JSON strings), so SQL can address
 * `_tenant.field.sub`. Values are decoded with the column's own type: big integers become numbers when they are
 * safe (strings otherwise), times ISO 8601 strings, maps objects, so JSON.stringify never meets a bigint.
 */
import {
  DuckDBListType,
  DuckDBMapType,
  DuckDBStructType,
  DuckDBTypeId,
  JSDuckDBValueConverter,
  type DuckDBType,
  type DuckDBValueConverter,
  type JS,
} from '@duckdb/node-api';
import type { DuckDBMapValue } from '@duckdb/node-api';
import type { ColumnSpec, ColumnType, JsonValue } from '../../ports/warehouse.ts';

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

const SCALAR_DDL = {
  string: 'VARCHAR',
  boolean: 'BOOLEAN',
  integer: 'BIGINT',
  number: 'DOUBLE',
  date: 'DATE',
  timestamp: 'TIMESTAMPTZ',
} as const;

export function toDuckDBType(type: ColumnType): string {
  switch (type.kind) {
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `${quoteIdent(f.name)} ${toDuckDBType(f.type)}`).join(', ')})`;
    case 'map':
      return `MAP(VARCHAR, ${toDuckDBType(type.value)})`;
    case 'list':
      return `${toDuckDBType(type.items)}[]`;
    default:
      return SCALAR_DDL[type.kind];
  }
}

const INTEGER_IDS = new Set<DuckDBTypeId>([
  DuckDBTypeId.TINYINT, DuckDBTypeId.SMALLINT, DuckDBTypeId.INTEGER, DuckDBTypeId.BIGINT, DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UTINYINT, DuckDBTypeId.USMALLINT, DuckDBTypeId.UINTEGER, DuckDBTypeId.UBIGINT, DuckDBTypeId.UHUGEINT,
]);
const NUMBER_IDS = new Set<DuckDBTypeId>([DuckDBTypeId.FLOAT, DuckDBTypeId.DOUBLE, DuckDBTypeId.DECIMAL]);
const TIMESTAMP_IDS = new Set<DuckDBTypeId>([
  DuckDBTypeId.TIMESTAMP, DuckDBTypeId.TIMESTAMP_TZ, DuckDBTypeId.TIMESTAMP_S, DuckDBTypeId.TIMESTAMP_MS, DuckDBTypeId.TIMESTAMP_NS,
]);

/** Reads a DuckDB column type back into a `ColumnType` (types with no XDM equivalent read as strings). */
export function fromDuckDBType(type: DuckDBType): ColumnType {
  if (type instanceof DuckDBStructType) {
    return { kind: 'struct', fields: type.entryNames.map((name, i) => ({ name, type: fromDuckDBType(type.entryTypes[i]!) })) };
  }
  if (type instanceof DuckDBMapType) return { kind: 'map', value: fromDuckDBType(type.valueType) };
  if (type instanceof DuckDBListType) return { kind: 'list', items: fromDuckDBType(type.valueType) };
  if (INTEGER_IDS.has(type.typeId)) return { kind: 'integer' };
  if (NUMBER_IDS.has(type.typeId)) return { kind: 'number' };
  if (TIMESTAMP_IDS.has(type.typeId)) return { kind: 'timestamp' };
  if (type.typeId === DuckDBTypeId.DATE) return { kind: 'date' };
  if (type.typeId === DuckDBTypeId.BOOLEAN) return { kind: 'boolean' };
  return { kind: 'string' };
}

export function columnsFromDuckDB(names: readonly string[], types: readonly DuckDBType[]): ColumnSpec[] {
  return names.map((name, i) => ({ name, type: fromDuckDBType(types[i]!) }));
}

function jsonFromBigInt(value: bigint): number | string {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** DuckDB value → JSON value, recursing through structs, lists and maps. */
export const jsonValueConverter: DuckDBValueConverter<JsonValue> = (value, type, converter) => {
  if (value === null) return null;
  if (INTEGER_IDS.has(type.typeId)) {
    const js = JSDuckDBValueConverter(value, type, JSDuckDBValueConverter);
    return typeof js === 'bigint' ? jsonFromBigInt(js) : (js as number);
  }
  if (TIMESTAMP_IDS.has(type.typeId)) {
    const date = JSDuckDBValueConverter(value, type, JSDuckDBValueConverter) as Date;
    return Number.isNaN(date.getTime()) ? String(value) : date.toISOString();
  }
  if (type.typeId === DuckDBTypeId.DATE) {
    const date = JSDuckDBValueConverter(value, type, JSDuckDBValueConverter) as Date;
    return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().slice(0, 10);
  }
  if (type instanceof DuckDBMapType) {
    const out: Record<string, JsonValue> = {};
    for (const entry of (value as DuckDBMapValue).entries) {
      const key = converter(entry.key, type.keyType, converter);
      out[typeof key === 'string' ? key : JSON.stringify(key)] = converter(entry.value, type.valueType, converter);
    }
    return out;
  }
  if (type.typeId === DuckDBTypeId.BLOB || type.typeId === DuckDBTypeId.BIT || type.typeId === DuckDBTypeId.GEOMETRY) {
    return Buffer.from(JSDuckDBValueConverter(value, type, JSDuckDBValueConverter) as Uint8Array).toString('base64');
  }
  if (type.typeId === DuckDBTypeId.INTERVAL || type.typeId === DuckDBTypeId.TIME || type.typeId === DuckDBTypeId.TIME_TZ || type.typeId === DuckDBTypeId.TIME_NS) {
    return String(value);
  }
  // Structs, lists and plain scalars: the library's JS conversion, recursing through this converter.
  return JSDuckDBValueConverter(value, type, converter as unknown as DuckDBValueConverter<JS>) as JsonValue;
};
