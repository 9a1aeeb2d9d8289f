/**
 * Errors on the wire: a `RoundtripError` becomes an ErrorResponse with a SQLSTATE a Postgres client
 * understands, our `RT_` code in front of the message (so every client shows it) and again in the detail.
 */
import { isRoundtripError, RoundtripError, type ErrorCode } from '../../core/errors.ts';
import type { NoticeFields } from './messages.ts';

const BY_CODE: Partial<Record<ErrorCode, string>> = {
  RT_AUTH_MISSING: '28P01',
  RT_AUTH_INVALID: '28P01',
  RT_SANDBOX_NOT_FOUND: '3D000',
  RT_FORBIDDEN_ROLE: '42501',
  RT_FORBIDDEN_SANDBOX: '42501',
  RT_DATASET_NOT_FOUND: '42P01',
  RT_QUERY_SYNTAX: '42601',
  RT_QUERY_PARAMETER_MISSING: '42P02',
  RT_QUERY_VARIABLE_UNKNOWN: '42P02',
  RT_QUERY_TIMEOUT: '57014',
  RT_QUERY_CANCELLED: '57014',
  RT_QUERY_FORBIDDEN_STATEMENT: '42501',
  RT_QUERY_READ_ONLY: '25006',
  RT_QUERY_SNAPSHOT_EXPIRED: '55000',
  RT_QUERY_SNAPSHOT_INVALID: '22023',
  RT_QUERY_COLUMN_NAME: '42602',
  RT_QUERY_UNSUPPORTED: '0A000',
  RT_PGWIRE_PROTOCOL: '08P01',
  RT_PGWIRE_PARAMETER: '22P02',
  RT_PGWIRE_UNSUPPORTED: '0A000',
  RT_INTERNAL: 'XX000',
};

/** DuckDB's own error classes (the engine's words start the message of RT_QUERY_FAILED). */
const ENGINE_CLASSES: [RegExp, string][] = [
  [/Parser Error/i, '42601'],
  [/Catalog Error.*(Table|View) with name/i, '42P01'],
  [/Catalog Error.*(Function|Macro)/i, '42883'],
  [/Catalog Error/i, '42704'],
  [/Binder Error.*(column|Referenced column)/i, '42703'],
  [/Binder Error.*No function matches/i, '42883'],
  [/Binder Error/i, '42803'],
  [/Conversion Error|Could not convert|Invalid Input Error/i, '22P02'],
  [/Out of Range/i, '22003'],
  [/Division by zero/i, '22012'],
  [/Constraint Error/i, '23000'],
  [/Out of Memory/i, '53200'],
  [/Interrupt/i, '57014'],
];

const BY_STATUS: Record<number, string> = { 400: '42000', 401: '28000', 403: '42501', 404: '42704', 408: '57014', 409: '55000', 413: '54000', 429: '53300', 503: '08006' };

export function sqlstateFor(error: RoundtripError): string {
  const direct = BY_CODE[error.code];
  if (direct) return direct;
  if (error.code === 'RT_QUERY_FAILED' || error.code === 'RT_WAREHOUSE_FAILED') {
    return ENGINE_CLASSES.find(([pattern]) => pattern.test(error.message))?.[1] ?? '42000';
  }
  return BY_STATUS[error.status] ?? 'XX000';
}

/** Any thrown value as an ErrorResponse's fields; unexpected errors become RT_INTERNAL without their stack. */
export function errorFields(error: unknown, severity: 'ERROR' | 'FATAL' = 'ERROR'): NoticeFields {
  const rt = isRoundtripError(error) ? error : new RoundtripError('RT_INTERNAL', 'An unexpected failure; the server log has the details.');
  const detail = rt.details === undefined ? `Roundtrip error code ${rt.code}.` : `Roundtrip error code ${rt.code}; details: ${JSON.stringify(rt.details)}`;
  return { severity, code: sqlstateFor(rt), message: `${rt.code}: ${rt.message}`, detail };
}

/** A protocol-level error (bad message, unsupported feature) as a RoundtripError. */
export function protocolError(message: string): RoundtripError {
  return new RoundtripError('RT_PGWIRE_PROTOCOL', message);
}
