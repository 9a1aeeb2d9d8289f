/**
 * Postgres types on the wire: which type OID a DuckDB column is announced as, how values are written in the
 * text format (and the binary format for the simple scalar types), and how bound parameter values are read.
 *
 * Values arrive as the query service's JSON-safe rows: big integers as numbers or strings, times as ISO
 * strings, nested STRUCT/MAP/LIST values as objects and arrays (sent as `json` text).
 */
import type { ColumnType, JsonValue } from '../../ports/warehouse.ts';

export interface PgType {
  oid: number;
  /** Postgres type name, as `format_type` shows it. */
  name: string;
  /** `pg_type.typlen`: bytes, or -1 for variable length. */
  size: number;
  /** Type modifier (`numeric(p,s)`), -1 when none. */
  typmod: number;
  /** DuckDB `JSON` columns: values are JSON text already (nested columns are objects to serialise). */
  jsonText?: true;
}

export const OID = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  unknown: 705,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

const t = (oid: number, name: string, size: number, typmod = -1): PgType => ({ oid, name, size, typmod });

export const PG_TYPES = {
  bool: t(OID.bool, 'boolean', 1),
  bytea: t(OID.bytea, 'bytea', -1),
  char: t(OID.char, '"char"', 1),
  name: t(OID.name, 'name', 64),
  int8: t(OID.int8, 'bigint', 8),
  int2: t(OID.int2, 'smallint', 2),
  int4: t(OID.int4, 'integer', 4),
  text: t(OID.text, 'text', -1),
  oid: t(OID.oid, 'oid', 4),
  json: t(OID.json, 'json', -1),
  float4: t(OID.float4, 'real', 4),
  float8: t(OID.float8, 'double precision', 8),
  varchar: t(OID.varchar, 'character varying', -1),
  date: t(OID.date, 'date', 4),
  time: t(OID.time, 'time without time zone', 8),
  timestamp: t(OID.timestamp, 'timestamp without time zone', 8),
  timestamptz: t(OID.timestamptz, 'timestamp with time zone', 8),
  interval: t(OID.interval, 'interval', 16),
  timetz: t(OID.timetz, 'time with time zone', 12),
  numeric: t(OID.numeric, 'numeric', -1),
  uuid: t(OID.uuid, 'uuid', 16),
} as const satisfies Record<string, PgType>;

/** `DECIMAL(18,2)` → numeric with typmod ((18 << 16) | 2) + 4, as Postgres encodes it. */
function numericType(precision: number, scale: number): PgType {
  return { ...PG_TYPES.numeric, name: `numeric(${precision},${scale})`, typmod: ((precision << 16) | scale) + 4 };
}

const SCALARS: Record<string, PgType> = {
  VARCHAR: PG_TYPES.text,
  BOOLEAN: PG_TYPES.bool,
  TINYINT: PG_TYPES.int2,
  SMALLINT: PG_TYPES.int2,
  UTINYINT: PG_TYPES.int2,
  INTEGER: PG_TYPES.int4,
  USMALLINT: PG_TYPES.int4,
  BIGINT: PG_TYPES.int8,
  UINTEGER: PG_TYPES.int8,
  UBIGINT: PG_TYPES.numeric,
  HUGEINT: PG_TYPES.numeric,
  UHUGEINT: PG_TYPES.numeric,
  VARINT: PG_TYPES.numeric,
  BIGNUM: PG_TYPES.numeric,
  FLOAT: PG_TYPES.float4,
  DOUBLE: PG_TYPES.float8,
  DECIMAL: PG_TYPES.numeric,
  DATE: PG_TYPES.date,
  TIME: PG_TYPES.time,
  'TIME WITH TIME ZONE': PG_TYPES.timetz,
  TIME_NS: PG_TYPES.time,
  TIMESTAMP: PG_TYPES.timestamp,
  TIMESTAMP_S: PG_TYPES.timestamp,
  TIMESTAMP_MS: PG_TYPES.timestamp,
  TIMESTAMP_NS: PG_TYPES.timestamp,
  'TIMESTAMP WITH TIME ZONE': PG_TYPES.timestamptz,
  TIMESTAMPTZ: PG_TYPES.timestamptz,
  INTERVAL: PG_TYPES.interval,
  UUID: PG_TYPES.uuid,
  BLOB: PG_TYPES.bytea,
  JSON: { ...PG_TYPES.json, jsonText: true },
};

/**
 * The Postgres type a DuckDB result column is announced as. Nested types (STRUCT, MAP, lists, arrays,
 * UNION) travel as `json`; anything without a Postgres counterpart (ENUM, BIT, the `NULL` type) as `text`.
 */
export function pgTypeForDuckDB(duckdbType: string): PgType {
  const type = duckdbType.trim().toUpperCase();
  if (/^(STRUCT|MAP|UNION)\s*\(/.test(type) || /\[\d*\]$/.test(type)) return PG_TYPES.json;
  const decimal = /^DECIMAL\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(type);
  if (decimal) return numericType(Number(decimal[1]), Number(decimal[2]));
  return SCALARS[type] ?? PG_TYPES.text;
}

/** The Postgres type of an engine-neutral column type (the catalog's view of a dataset column). */
export function pgTypeForColumn(type: ColumnType): PgType {
  switch (type.kind) {
    case 'string':
      return PG_TYPES.text;
    case 'boolean':
      return PG_TYPES.bool;
    case 'integer':
      return PG_TYPES.int8;
    case 'number':
      return PG_TYPES.float8;
    case 'date':
      return PG_TYPES.date;
    case 'timestamp':
      return PG_TYPES.timestamptz;
    default:
      return PG_TYPES.json;
  }
}

/** A JSON value as text: strings as they are, objects and arrays as JSON. */
export const asText = (value: JsonValue): string => (typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value));

/** `2024-05-01T10:00:00.000Z` → `2024-05-01 10:00:00+00` (with `+00` only for timestamptz). */
function pgTimestamp(value: string, withZone: boolean): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(value);
  if (!match) return value;
  const fraction = match[3] && !/^\.0+$/.test(match[3]) ? match[3].replace(/0+$/, '') : '';
  const zone = match[4] === undefined || match[4] === 'Z' ? '+00' : match[4].replace(/:00$/, '');
  return `${match[1]} ${match[2]}${fraction}${withZone ? zone : ''}`;
}

/** A value in the Postgres text format, or null for SQL NULL. */
export function encodeText(value: JsonValue | undefined, type: PgType): string | null {
  if (value === null || value === undefined) return null;
  switch (type.oid) {
    case OID.bool:
      return value === true || value === 't' || value === 'true' ? 't' : 'f';
    case OID.timestamptz:
      return typeof value === 'string' ? pgTimestamp(value, true) : asText(value);
    case OID.timestamp:
      return typeof value === 'string' ? pgTimestamp(value, false) : asText(value);
    case OID.bytea:
      return typeof value === 'string' ? `\\x${Buffer.from(value, 'base64').toString('hex')}` : asText(value);
    case OID.json:
      return type.jsonText && typeof value === 'string' ? value : JSON.stringify(value);
  }
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

/** Types this server can also send in the binary format; others go as text whatever the client asked. */
export function canSendBinary(type: PgType): boolean {
  return [OID.bool, OID.int2, OID.int4, OID.int8, OID.oid, OID.float4, OID.float8, OID.text, OID.varchar, OID.name, OID.json, OID.date, OID.timestamp, OID.timestamptz, OID.bytea].includes(
    type.oid as 16,
  );
}

/** A value in the binary format (only for types where `canSendBinary`). */
export function encodeBinary(value: JsonValue | undefined, type: PgType): Buffer | null {
  if (value === null || value === undefined) return null;
  switch (type.oid) {
    case OID.bool:
      return Buffer.from([value === true ? 1 : 0]);
    case OID.int2: {
      const b = Buffer.alloc(2);
      b.writeInt16BE(Number(value));
      return b;
    }
    case OID.int4: {
      const b = Buffer.alloc(4);
      b.writeInt32BE(Number(value));
      return b;
    }
    case OID.oid: {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(Number(value));
      return b;
    }
    case OID.int8: {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(BigInt(value as number | string));
      return b;
    }
    case OID.float4: {
      const b = Buffer.alloc(4);
      b.writeFloatBE(Number(value));
      return b;
    }
    case OID.float8: {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(Number(value));
      return b;
    }
    case OID.date: {
      const b = Buffer.alloc(4);
      b.writeInt32BE(Math.round((Date.parse(`${asText(value)}T00:00:00Z`) - PG_EPOCH_MS) / 86_400_000));
      return b;
    }
    case OID.timestamp:
    case OID.timestamptz: {
      const iso = asText(value);
      const ms = Date.parse(/Z|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(BigInt(ms - PG_EPOCH_MS) * 1000n);
      return b;
    }
    case OID.bytea:
      return Buffer.from(asText(value), 'base64');
    default:
      return Buffer.from(encodeText(value, type) ?? '', 'utf8');
  }
}

/** Reads a parameter sent in the binary format into its text form, for the types clients send that way. */
export function decodeBinaryParameter(data: Buffer, oid: number): string | undefined {
  switch (oid) {
    case OID.bool:
      return data[0] ? 't' : 'f';
    case OID.int2:
      return String(data.readInt16BE(0));
    case OID.int4:
      return String(data.readInt32BE(0));
    case OID.oid:
      return String(data.readUInt32BE(0));
    case OID.int8:
      return data.readBigInt64BE(0).toString();
    case OID.float4:
      return String(data.readFloatBE(0));
    case OID.float8:
      return String(data.readDoubleBE(0));
    case OID.text:
    case OID.varchar:
    case OID.name:
    case OID.bpchar:
    case OID.json:
    case OID.unknown:
    case 0:
      return data.toString('utf8');
    case OID.jsonb:
      return data.subarray(1).toString('utf8');
    case OID.date:
      return new Date(PG_EPOCH_MS + data.readInt32BE(0) * 86_400_000).toISOString().slice(0, 10);
    case OID.timestamp:
    case OID.timestamptz: {
      const micros = data.readBigInt64BE(0);
      const iso = new Date(PG_EPOCH_MS + Number(micros / 1000n)).toISOString();
      return oid === OID.timestamp ? iso.slice(0, -1) : iso;
    }
    case OID.uuid: {
      const hex = data.toString('hex');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
    case OID.bytea:
      return `\\x${data.toString('hex')}`;
    default:
      return undefined;
  }
}
