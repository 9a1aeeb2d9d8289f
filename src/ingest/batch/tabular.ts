/**
 * CSV and Parquet batches, validated and loaded in bulk by DuckDB: each file is read once (`read_csv` with
 * every cell as text, or `read_parquet`) into a temporary stage with a per-row "bad" flag computed from the
 * SQL checks of `sql-fields.ts`; then one transaction inserts the bad rows into `_rt_failed_records` (with
 * their issues, row number and raw row) and, when the rejected share stays within the threshold, the good
 * rows into the dataset table, nested into STRUCT/MAP/LIST columns.
 *
 * Columns address XDM paths with dots (`_roundtrip.membershipNumber`, `person.name.firstName`). A column at
 * an array, map or object field holds that value as JSON text (CSV) or as a nested Parquet value. A column
 * that names no field fails the rows that fill it (`RT_FIELD_UNKNOWN`), as an unknown key fails a JSON record;
 * an empty cell is an absent field, as is a Parquet NULL.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { ResolvedSchema } from '../../catalog/xdm/compose.ts';
import { isObjectField, type FieldDefinition, type Properties } from '../../catalog/xdm/fields.ts';
import { quoteIdent } from '../../adapters/duckdb/duckdb-types.ts';
import { RoundtripError } from '../../core/errors.ts';
import type { SandboxWarehouse } from '../../ports/warehouse.ts';
import { exceedsThresholdSql, insertDatasetRows, insertFailedRows, loadScript, type LoadCounts, type LoadTarget } from './load-sql.ts';
import { anyOf, expected, issue, issueList, jsonPlan, lit, scalarPlan, typeOf, type Check, type ScalarKind, type ScalarField, type Sql } from './sql-fields.ts';

export type TabularFormat = 'csv' | 'parquet';

export interface TabularOptions {
  format: TabularFormat;
  /** CSV only. */
  delimiter: string;
  /** Largest record in bytes, and what the limit is called in messages. */
  recordLimit: { bytes: number; kind: string };
}

export interface SourceColumn {
  name: string;
  /** DuckDB type name (`VARCHAR` for every CSV column). */
  type: string;
}

/**
 * The reader of a file. CSV is read with the header's columns given and sniffing off: every cell is text (the
 * checks decide what it means), and rows that do not split into the header's columns go to a rejects table.
 */
function reader(file: string, options: TabularOptions, columns: readonly SourceColumn[], rejectsOf?: number): Sql {
  if (options.format === 'parquet') return `read_parquet(${lit(file)})`;
  const types = columns.map((c) => `${lit(c.name)}: 'VARCHAR'`).join(', ');
  const rejects = rejectsOf === undefined ? '' : `, store_rejects = true, rejects_table = 'rt_rejects_${rejectsOf}', rejects_scan = 'rt_scans_${rejectsOf}'`;
  return `read_csv(${lit(file)}, auto_detect = false, header = true, columns = {${types}}, allow_quoted_nulls = false, delim = ${lit(options.delimiter)}, quote = '"', escape = '"'${rejects})`;
}

const HEADER_LIMIT = 1024 * 1024;

/** The first record of a CSV file, split as RFC 4180 says (quotes, doubled quotes, a leading BOM). */
export function parseCsvHeader(text: string, delimiter: string): string[] | undefined {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch !== '"') current += ch;
      else if (text[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = false;
    } else if (ch === '"' && current === '') quoted = true;
    else if (ch === delimiter) {
      fields.push(current);
      current = '';
    } else if (ch === '\n' || ch === '\r') return [...fields, current];
    else current += ch;
  }
  return undefined;
}

async function readCsvHeader(file: string, delimiter: string): Promise<string[]> {
  const handle = await open(file);
  try {
    const buffer = Buffer.alloc(HEADER_LIMIT);
    const { bytesRead } = await handle.read(buffer, 0, HEADER_LIMIT, 0);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    const header = parseCsvHeader(text, delimiter) ?? (bytesRead < HEADER_LIMIT ? parseCsvHeader(`${text}\n`, delimiter) : undefined);
    if (!header) throw new RoundtripError('RT_BATCH_FILE_INVALID', `${path.basename(file)}: the header line is longer than ${HEADER_LIMIT} bytes.`);
    return header;
  } finally {
    await handle.close();
  }
}

/** The columns of a file: the CSV header (all text), or the Parquet schema. */
export async function describeFile(warehouse: SandboxWarehouse, file: string, options: TabularOptions): Promise<SourceColumn[]> {
  let columns: SourceColumn[];
  try {
    if (options.format === 'csv') columns = (await readCsvHeader(file, options.delimiter)).map((name) => ({ name, type: 'VARCHAR' }));
    else columns = (await warehouse.query(`DESCRIBE SELECT * FROM ${reader(file, options, [])}`)).rows.map((r) => ({ name: r.column_name as string, type: r.column_type as string }));
  } catch (error) {
    if (error instanceof RoundtripError && error.code === 'RT_BATCH_FILE_INVALID') throw error;
    throw new RoundtripError('RT_BATCH_FILE_INVALID', `${path.basename(file)} cannot be read as ${options.format}: ${(error as Error).message}`);
  }
  const seen = new Set<string>();
  for (const column of columns) {
    if (column.name.trim() === '') throw new RoundtripError('RT_BATCH_FILE_INVALID', `${path.basename(file)} has a column without a name; every column names a field path.`);
    if (seen.has(column.name)) throw new RoundtripError('RT_BATCH_FILE_INVALID', `${path.basename(file)} has two columns named "${column.name}".`);
    seen.add(column.name);
  }
  return columns;
}

// ---------------------------------------------------------------------------------------------------------
// Columns → schema fields

/** A column of the file and where it lands. */
interface Leaf {
  column: string;
  /** Its name in the stage (`c0`, `c1`, …): header names are arbitrary text. */
  alias: string;
  path: string[];
  /** Undefined when the column names no field of the schema. */
  field: FieldDefinition | undefined;
  /** How the value is read: a scalar kind, or a JSON expression for arrays, maps, objects and odd types. */
  read: { kind: ScalarKind; expr: Sql } | { json: Sql; fromText: boolean };
}

function fieldAtPath(properties: Properties, path: string[]): FieldDefinition | undefined {
  let props: Properties | undefined = properties;
  let field: FieldDefinition | undefined;
  for (const segment of path) {
    // Own keys only: a column named `constructor` names no field.
    field = props && Object.hasOwn(props, segment) ? props[segment] : undefined;
    if (!field) return undefined;
    props = isObjectField(field) ? field.properties : undefined;
  }
  return field;
}

const INTEGER_TYPES = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;
const NUMBER_TYPES = /^(FLOAT|DOUBLE|DECIMAL(\(\d+,\s*\d+\))?)$/;

/** How a typed Parquet column is read: as a scalar kind, or through JSON (nested and odd types). */
function parquetRead(alias: string, type: string): Leaf['read'] {
  if (type === 'VARCHAR') return { kind: 'string', expr: alias };
  if (INTEGER_TYPES.test(type)) return { kind: 'integer', expr: alias };
  if (NUMBER_TYPES.test(type)) return { kind: 'number', expr: alias };
  if (type === 'BOOLEAN') return { kind: 'boolean', expr: alias };
  if (type === 'DATE') return { kind: 'date', expr: alias };
  // A timestamp without a zone is UTC, as ISO text without an offset is.
  if (type === 'TIMESTAMP WITH TIME ZONE') return { kind: 'timestamp', expr: alias };
  if (type.startsWith('TIMESTAMP')) return { kind: 'timestamp', expr: `timezone('UTC', CAST(${alias} AS TIMESTAMP))` };
  return { json: `to_json(${alias})`, fromText: false };
}

function isScalar(field: FieldDefinition): boolean {
  return 'type' in field && field.type !== 'object' && field.type !== 'array';
}

function toLeaf(schema: ResolvedSchema, column: SourceColumn, index: number, format: TabularFormat): Leaf {
  const alias = `c${index}`;
  const path = column.name.split('.');
  const field = fieldAtPath(schema.properties, path);
  let read: Leaf['read'];
  if (format === 'csv') read = field && !isScalar(field) ? { json: `TRY_CAST(${alias} AS JSON)`, fromText: true } : { kind: 'text', expr: alias };
  else {
    const typed = parquetRead(alias, column.type);
    read = field && !isScalar(field) ? { json: `to_json(${alias})`, fromText: false } : typed;
  }
  return { column: column.name, alias, path, field, read };
}

const isPrefix = (prefix: string[], path: string[]): boolean => prefix.length < path.length && prefix.every((p, i) => path[i] === p);

function mapColumns(schema: ResolvedSchema, columns: SourceColumn[], format: TabularFormat): Leaf[] {
  if (columns.length === 0) throw new RoundtripError('RT_BATCH_FILE_INVALID', 'The file has no columns.');
  const leaves = columns.map((c, i) => toLeaf(schema, c, i, format));
  for (const a of leaves) {
    const clash = leaves.find((b) => b !== a && a.field && (isPrefix(a.path, b.path) || a.column === b.column));
    if (clash) {
      throw new RoundtripError('RT_BATCH_FILE_INVALID', `Columns "${a.column}" and "${clash.column}" both set ${a.column}; give each field one column.`);
    }
  }
  return leaves;
}

// ---------------------------------------------------------------------------------------------------------
// Rows: checks, nested values, raw text

interface Collected {
  checks: Check[];
  /** Issue lists of JSON values (arrays, maps, objects). */
  lists: Sql[];
  /** Converted values computed once, as stage columns (`v0`, `v1`, …), that checks and inserts read. */
  converted: { alias: string; value: Sql }[];
}

interface NodeValue {
  /** True when the field has a value in the row. */
  present: Sql;
  /** Undefined when no column feeds the field. */
  value: Sql | undefined;
}

/** Registers a converted value as a stage column, computed once per row; returns its name. */
function stageColumn(out: Collected, value: Sql): Sql {
  const alias = `v${out.converted.length}`;
  out.converted.push({ alias, value });
  return alias;
}

function leafValue(leaf: Leaf, field: FieldDefinition, out: Collected, nullIsAbsent: boolean): NodeValue {
  const path = lit(leaf.column);
  const present = `${leaf.alias} IS NOT NULL`;
  if ('kind' in leaf.read) {
    const plan = scalarPlan(leaf.read.expr, leaf.read.kind, field as ScalarField, path, (value) => stageColumn(out, value));
    out.checks.push(...plan.checks);
    return { present, value: plan.value };
  }
  const json = stageColumn(out, leaf.read.json);
  if (leaf.read.fromText) {
    out.checks.push({ when: `(${present} AND ${json} IS NULL)`, issue: issue(path, 'RT_FIELD_TYPE', lit(`${expected(field)} (written as JSON)`)) });
  }
  const plan = jsonPlan(json, field, path, 0, { nullIsAbsent });
  out.lists.push(plan.issues);
  return { present, value: plan.value };
}

interface ObjectNode extends NodeValue {
  /** The children that have a value, in schema order: the root's are the dataset columns to insert. */
  members: { name: string; value: Sql }[];
}

/** An object field: its children's checks, its required fields, and its STRUCT (NULL when no child has a value). */
function objectValue(properties: Properties, required: readonly string[], path: string[], leaves: Leaf[], out: Collected, nullIsAbsent: boolean): ObjectNode {
  const start = out.checks.length;
  const children = Object.entries(properties).map(([name, field]) => {
    const at = [...path, name];
    const exact = leaves.find((l) => l.field && l.path.join('.') === at.join('.'));
    if (exact) return { name, field, node: leafValue(exact, field, out, nullIsAbsent) };
    if (isObjectField(field) && leaves.some((l) => l.field && isPrefix(at, l.path))) {
      return { name, field, node: objectValue(field.properties, field.required ?? [], at, leaves, out, nullIsAbsent) };
    }
    return { name, field, node: { present: 'false', value: undefined } };
  });
  const fed = children.filter((c) => c.node.value !== undefined);
  const present = path.length === 0 ? 'true' : anyOf(fed.map((c) => c.node.present));
  const requiredChecks = required.map((name): Check => {
    const child = children.find((c) => c.name === name);
    const when = child?.node.value === undefined ? present : `(${present}) AND NOT (${child.node.present})`;
    return { when, issue: issue(lit([...path, name].join('.')), 'RT_FIELD_REQUIRED', lit('is required')) };
  });
  out.checks.splice(start, 0, ...requiredChecks);
  const members = fed.map((c) => ({ name: c.name, value: c.node.value! }));
  if (fed.length === 0) return { present, value: undefined, members };
  const packed = children.map((c) => `${quoteIdent(c.name)} := ${c.node.value ?? `NULL::${typeOf(c.field)}`}`);
  return { present, value: `CASE WHEN ${present} THEN struct_pack(${packed.join(', ')}) END`, members };
}

/** The row as the user wrote it: the CSV line rebuilt from its cells, or the Parquet row as JSON. */
function rawRow(leaves: Leaf[], options: TabularOptions): Sql {
  if (options.format === 'parquet') return `CAST(to_json(struct_pack(${leaves.map((l) => `${quoteIdent(l.column)} := ${l.alias}`).join(', ')})) AS VARCHAR)`;
  const d = lit(options.delimiter);
  const cell = (a: string): Sql =>
    `CASE WHEN ${a} IS NULL THEN '' WHEN ${a} = '' OR contains(${a}, ${d}) OR regexp_matches(${a}, '["\\r\\n]') THEN '"' || replace(${a}, '"', '""') || '"' ELSE ${a} END`;
  return leaves.map((l) => cell(l.alias)).join(` || ${d} || `);
}

/** Bytes of a row: its cells (CSV) or the text of its values (Parquet), plus separators. */
function rowSize(leaves: Leaf[], options: TabularOptions): Sql {
  const bytes = leaves.map((l) => `coalesce(strlen(${options.format === 'csv' ? l.alias : `CAST(${l.alias} AS VARCHAR)`}), 0)`);
  return `(${bytes.join(' + ')} + ${leaves.length - 1})`;
}

export interface RowPlan {
  /** Stage columns of converted values, computed once per row from the cells (`c0`, …). */
  converted: { alias: string; value: Sql }[];
  /** True for a row with at least one issue; cheap, since it runs on every row. */
  bad: Sql;
  /** The row's issues as a list (evaluated for bad rows only). */
  issues: Sql;
  columns: { name: string; value: Sql }[];
  raw: Sql;
}

export function planRows(schema: ResolvedSchema, columns: SourceColumn[], options: TabularOptions): RowPlan {
  const leaves = mapColumns(schema, columns, options.format);
  const out: Collected = { checks: [], lists: [], converted: [] };
  const root = objectValue(schema.properties, schema.required, [], leaves, out, options.format === 'parquet');
  const size = rowSize(leaves, options);
  const tooLarge: Check = {
    when: `${size} > ${options.recordLimit.bytes}`,
    issue: issue("''", 'RT_RECORD_TOO_LARGE', `'is ' || ${size} || ${lit(` bytes; the ${options.recordLimit.kind} limit is ${options.recordLimit.bytes}`)}`),
  };
  const unknown: Check[] = leaves
    .filter((l) => !l.field)
    .map((l) => ({ when: `${l.alias} IS NOT NULL`, issue: issue(lit(l.column), 'RT_FIELD_UNKNOWN', lit('is not a known field')) }));
  const checks = [tooLarge, ...out.checks, ...unknown];
  return {
    converted: out.converted,
    bad: anyOf([...checks.map((c) => c.when), ...out.lists.map((l) => `len(${l}) > 0`)]),
    issues: `flatten([${[issueList(checks), ...out.lists].join(', ')}])`,
    columns: root.members,
    raw: rawRow(leaves, options),
  };
}

// ---------------------------------------------------------------------------------------------------------
// The load script

export interface TabularFile {
  /** Absolute path inside the sandbox's staging folder. */
  path: string;
  columns: SourceColumn[];
}

function stageStatements(file: TabularFile, index: number, plan: RowPlan, options: TabularOptions): Sql[] {
  const aliases = file.columns.map((c, i) => `${quoteIdent(c.name)} AS c${i}`).join(', ');
  const cells = `SELECT ${aliases} FROM ${reader(file.path, options, file.columns, index)}`;
  const converted = plan.converted.length ? `SELECT *, ${plan.converted.map((c) => `${c.value} AS ${c.alias}`).join(', ')} FROM (${cells})` : cells;
  const statements = [`CREATE TEMP TABLE rt_stage_${index} AS SELECT *, ${plan.bad} AS rt_bad FROM (${converted})`];
  // Rows the CSV reader could not split into the header's columns; `before` counts the parsed rows ahead of
  // each, so that parsed rows and malformed ones share one numbering (the record's position in the file).
  statements.push(
    options.format === 'csv'
      ? `CREATE TEMP TABLE rt_malformed_${index} AS SELECT line - 1 AS ordinal, line - 2 - (row_number() OVER (ORDER BY line) - 1) AS before, raw, message FROM (
           SELECT line, first(trim(csv_line, chr(13) || chr(10))) AS raw, first(error_type || ': ' || error_message) AS message FROM rt_rejects_${index} GROUP BY line)`
      : `CREATE TEMP TABLE rt_malformed_${index} (ordinal BIGINT, before BIGINT, raw VARCHAR, message VARCHAR)`,
  );
  return statements;
}

function countsStatements(files: number, threshold: number): Sql[] {
  const perFile = Array.from(
    { length: files },
    (_, i) => `SELECT ${i} AS file, (SELECT count(*) FROM rt_stage_${i}) AS parsed, (SELECT count(*) FROM rt_stage_${i} WHERE rt_bad) AS invalid, (SELECT count(*) FROM rt_malformed_${i}) AS malformed`,
  );
  return [
    `CREATE TEMP TABLE rt_files AS SELECT *, coalesce(sum(parsed + malformed) OVER (ORDER BY file ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS first_offset FROM (${perFile.join(' UNION ALL ')})`,
    `CREATE TEMP TABLE rt_verdict AS SELECT CAST(sum(parsed + malformed) AS BIGINT) AS rows_read, CAST(sum(invalid + malformed) AS BIGINT) AS rows_rejected,
       NOT ${exceedsThresholdSql('sum(parsed + malformed)', 'sum(invalid + malformed)', threshold)} AS accepted FROM rt_files`,
  ];
}

function loadStatements(index: number, plan: RowPlan, target: LoadTarget): Sql[] {
  const offset = `(SELECT first_offset FROM rt_files WHERE file = ${index})`;
  const malformedIssue = issue("''", 'RT_RECORD_MALFORMED', 'message');
  return [
    insertFailedRows(target.stamp, target.datasetId, [
      { rowNumber: `${offset} + ordinal`, raw: 'raw', issues: `[${malformedIssue}]`, from: `rt_malformed_${index}` },
      {
        rowNumber: `${offset} + s.rowid + 1 + (SELECT count(*) FROM rt_malformed_${index} m WHERE m.before <= s.rowid)`,
        raw: plan.raw,
        issues: plan.issues,
        from: `rt_stage_${index} s WHERE rt_bad`,
      },
    ]),
    ...(plan.columns.length
      ? [insertDatasetRows(target.table, target.stamp, { columns: plan.columns, from: `rt_stage_${index}`, where: 'NOT rt_bad AND (SELECT accepted FROM rt_verdict)' })]
      : []),
  ];
}

/** One script for the whole batch: stage every file and count, then in one transaction keep the failed rows and write the good ones if accepted. */
export function tabularScript(schema: ResolvedSchema, files: TabularFile[], options: TabularOptions, target: LoadTarget): Sql {
  const plans = files.map((f) => planRows(schema, f.columns, options));
  const prepare = [...files.flatMap((f, i) => stageStatements(f, i, plans[i]!, options)), ...countsStatements(files.length, target.threshold)];
  const writes = files.flatMap((_, i) => loadStatements(i, plans[i]!, target));
  const result = `SELECT rows_read, rows_rejected, accepted,
    (SELECT list({'records': parsed + malformed, 'rejected': invalid + malformed, 'firstRow': first_offset + 1} ORDER BY file) FROM rt_files) AS files, $batch AS batch
    FROM rt_verdict`;
  return loadScript(prepare, writes, result);
}

export async function loadTabular(warehouse: SandboxWarehouse, schema: ResolvedSchema, files: TabularFile[], options: TabularOptions, target: LoadTarget): Promise<LoadCounts> {
  const result = await warehouse.query(tabularScript(schema, files, options, target), { batch: target.stamp.batchId });
  const row = result.rows[0]!;
  return {
    rowsRead: Number(row.rows_read),
    rowsRejected: Number(row.rows_rejected),
    accepted: row.accepted === true,
    files: (row.files as { records: number; rejected: number; firstRow: number }[]).map((f) => ({ records: Number(f.records), rejected: Number(f.rejected), firstRow: Number(f.firstRow) })),
  };
}
