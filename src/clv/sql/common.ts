/**
 * SQL pieces the CLV jobs share: quoting, column references chosen by users (dotted paths into structs are
 * allowed, nothing else), how a transaction time becomes a calendar day whatever its column type, and the
 * elapsed time between two period starts in an explicit unit.
 */
import { RoundtripError } from '../../core/errors.ts';
import { DAYS_PER_UNIT, type TimeUnit } from '../units.ts';

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const quoteLiteral = (value: string): string => `'${value.replace(/'/g, "''")}'`;

const COLUMN_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** `_acme.order.total` → `"_acme"."order"."total"`; anything that is not a plain (dotted) name is refused. */
export function columnRef(path: string, role: string): string {
  if (!COLUMN_PATH.test(path)) throw new RoundtripError('RT_CLV_INPUT_INVALID', `The ${role} column "${path}" must be a column name or a dotted path into a struct (letters, digits, _).`);
  return path.split('.').map(quoteIdent).join('.');
}

/** A `YYYY-MM-DD` date as a SQL literal, or a refusal naming the option. */
export function dateLiteral(value: string, option: string): string {
  if (!ISO_DATE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)) || new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value) {
    throw new RoundtripError('RT_CLV_INPUT_INVALID', `${option} must be a date written YYYY-MM-DD (got ${value}).`);
  }
  return `DATE ${quoteLiteral(value)}`;
}

/**
 * The calendar day (UTC) of a transaction time, by the column's DuckDB type: dates as they are, timestamps
 * truncated, text parsed as ISO or `YYYYMMDD` (CDNOW), integers as `YYYYMMDD`.
 */
export function dayExpression(column: string, duckdbType: string): string {
  const type = duckdbType.toUpperCase();
  if (type === 'DATE') return column;
  if (type === 'TIMESTAMP WITH TIME ZONE') return `CAST(timezone('UTC', ${column}) AS DATE)`;
  if (type.startsWith('TIMESTAMP')) return `CAST(${column} AS DATE)`;
  if (/INT/.test(type)) return `CAST(strptime(CAST(${column} AS VARCHAR), '%Y%m%d') AS DATE)`;
  if (type === 'VARCHAR') return `CAST(coalesce(try_cast(${column} AS TIMESTAMP), try_strptime(${column}, '%Y%m%d')) AS DATE)`;
  throw new RoundtripError('RT_CLV_INPUT_INVALID', `The time column has type ${duckdbType}; use a date, a timestamp, or text in ISO 8601 / YYYYMMDD.`);
}

/** Start of the period holding `day`, as a DATE. */
export function periodStart(day: string, period: TimeUnit): string {
  return period === 'day' ? day : `CAST(date_trunc('${period}', ${day}) AS DATE)`;
}

/**
 * Time from period start `from` to period start `to`, in `unit`, as DOUBLE. Whole calendar months and years are
 * counted exactly when the period is that unit (or a coarser one); otherwise days are divided by the unit's length.
 */
export function elapsed(from: string, to: string, period: TimeUnit, unit: TimeUnit): string {
  const whole = (unit === 'month' && (period === 'month' || period === 'year')) || (unit === 'year' && period === 'year');
  if (whole) return `CAST(date_diff('${unit}', ${from}, ${to}) AS DOUBLE)`;
  const days = `CAST(date_diff('day', ${from}, ${to}) AS DOUBLE)`;
  return unit === 'day' ? days : `${days} / ${DAYS_PER_UNIT[unit]}`;
}
