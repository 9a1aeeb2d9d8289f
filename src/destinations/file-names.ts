/**
 * Export file names (reference §12.2): the default `<destinationName>_segment<segmentID>_<timestamp>.csv`, editable
 * with macros, at most 255 characters. Templates are written with `{macro}`; everything else is custom text.
 *
 * | macro | value |
 * |---|---|
 * | `{destination}` | destination name (mandatory) |
 * | `{segmentId}` | audience id (mandatory) |
 * | `{segmentName}` | audience name |
 * | `{timestamp}` | `yyyyMMddHHmmss` (UTC), the default date-time |
 * | `{datetime}` | `MMDDYYYY_HHMMSS` (UTC) |
 * | `{unixtime}` | Unix time, 10 digits |
 *
 * Without a date-time macro each export has the same name, so it replaces the previous file (as in the reference).
 * Split files get `_2`, `_3`… before the extension; the check reserves room for that suffix and for `.pgp`.
 */
import { RoundtripError } from '../core/errors.ts';

export const DEFAULT_FILE_NAME_TEMPLATE = '{destination}_segment{segmentId}_{timestamp}';
export const MAX_FILE_NAME_LENGTH = 255;
export const FILE_NAME_MACROS = ['destination', 'segmentId', 'segmentName', 'timestamp', 'datetime', 'unixtime'] as const;
type Macro = (typeof FILE_NAME_MACROS)[number];
const MANDATORY: Macro[] = ['destination', 'segmentId'];
/** Room kept for `_<n>` of split files, `.csv` and `.pgp`. */
const RESERVED = '_99999.csv.pgp'.length;

export interface FileNameValues {
  destination: string;
  segmentId: string;
  segmentName?: string;
  /** The export's time (UTC is used). */
  at: Date;
}

function invalid(template: string, reason: string): RoundtripError {
  return new RoundtripError('RT_FILE_NAME_INVALID', `File name template "${template.slice(0, 80)}" ${reason}.`, { template, reason });
}

/** Checks a template: known macros only, the mandatory ones present, safe custom text, ≤ 255 characters. */
export function validateFileNameTemplate(template: string): void {
  if (template.length > MAX_FILE_NAME_LENGTH) throw invalid(template, `is longer than ${MAX_FILE_NAME_LENGTH} characters`);
  const macros = [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!);
  const unknown = macros.filter((m) => !(FILE_NAME_MACROS as readonly string[]).includes(m));
  if (unknown.length > 0) throw invalid(template, `uses unknown macro(s) ${unknown.map((m) => `{${m}}`).join(', ')}; known: ${FILE_NAME_MACROS.map((m) => `{${m}}`).join(' ')}`);
  const missing = MANDATORY.filter((m) => !macros.includes(m));
  if (missing.length > 0) throw invalid(template, `must keep ${missing.map((m) => `{${m}}`).join(' and ')}`);
  const text = template.replace(/\{[^{}]*\}/g, '');
  if (!/^[A-Za-z0-9 _.()+-]*$/.test(text)) throw invalid(template, 'has custom text outside letters, digits, space and _ . ( ) + -');
  if (template.startsWith('.')) throw invalid(template, 'starts with a dot (hidden file)');
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Keeps a value usable inside a file name: no path separators or control characters. */
function safe(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  return value.replace(/[/\\\0-\x1f]+/g, '_');
}

function macroValue(macro: Macro, values: FileNameValues): string {
  const d = values.at;
  switch (macro) {
    case 'destination':
      return safe(values.destination);
    case 'segmentId':
      return safe(values.segmentId);
    case 'segmentName':
      return safe(values.segmentName ?? '');
    case 'timestamp':
      return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
    case 'datetime':
      return `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${d.getUTCFullYear()}_${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
    case 'unixtime':
      return String(Math.floor(d.getTime() / 1000)).padStart(10, '0');
  }
}

/** The base name (no extension) of an export; throws when the template or the result is not acceptable. */
export function renderFileName(template: string, values: FileNameValues): string {
  validateFileNameTemplate(template);
  const name = template.replace(/\{([^{}]*)\}/g, (_, macro: Macro) => macroValue(macro, values));
  if (name.length + RESERVED > MAX_FILE_NAME_LENGTH) throw invalid(template, `makes a name of ${name.length} characters; with the split suffix and extension it must stay within ${MAX_FILE_NAME_LENGTH}`);
  if (name.startsWith('.') || name.length === 0) throw invalid(template, 'makes an empty or hidden name');
  return name;
}

/** The n-th (1-based) file of a split export: `name.csv`, `name_2.csv`, … */
export function splitFileName(baseName: string, index: number, extension = 'csv'): string {
  return index === 1 ? `${baseName}.${extension}` : `${baseName}_${index}.${extension}`;
}
