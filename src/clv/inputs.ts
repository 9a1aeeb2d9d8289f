/**
 * Where a CLV job's data comes from, made into SQL the warehouse can read: a dataset's table, or a CSV the
 * caller uploaded (staged in the sandbox's staging folder, the one place its DuckDB may read files, and removed
 * afterwards). Columns are chosen by the caller or recognised by their usual names (lifetimes, BTYD, CDNOW);
 * the time column's type decides how it becomes a calendar day.
 *
 * The summary itself is built in the warehouse (`sql/rfm.ts`) into a session temp table, `clv_summary`, with
 * the same columns whether it came from transactions or from a summary file.
 */
import { createHash } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Datasets } from '../catalog/datasets.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { JsonValue, SandboxWarehouse, WarehouseSession } from '../ports/warehouse.ts';
import type { InputSpec, WindowSpec } from './payloads.ts';
import { columnRef, dayExpression, quoteIdent, quoteLiteral } from './sql/common.ts';
import { summarySql, trackingSql, type SummaryWindow, type TransactionRelation } from './sql/rfm.ts';
import type { TimeUnit } from './units.ts';

export const SUMMARY_TABLE = 'clv_summary';

/** Usual column names, first match wins (exact, then ignoring case). */
const CANDIDATES = {
  customerId: ['customer_id', 'customerId', 'cust', 'id', 'ID', 'sampleid', 'membershipNumber'],
  datetime: ['date', 'datetime', 'timestamp', 'order_date', 'transaction_date', 'transactionDate'],
  monetary: ['monetary', 'sales', 'amount', 'value', 'revenue', 'dollar_value', 'total'],
  x: ['frequency', 'x'],
  tx: ['recency', 't_x', 't.x'],
  T: ['T', 'T_cal', 'T.cal', 'periods', 'n', 'n_cal'],
  w: ['weights', 'weight', 'custs', 'count'],
  m: ['monetary_value', 'm_x', 'zbar', 'm'],
  xStar: ['frequency_holdout', 'x_star', 'x.star'],
} as const;

function pick(columns: readonly string[], names: readonly string[]): string | undefined {
  for (const name of names) if (columns.includes(name)) return name;
  const lower = columns.map((c) => c.toLowerCase());
  for (const name of names) {
    const at = lower.indexOf(name.toLowerCase());
    if (at >= 0) return columns[at];
  }
  return undefined;
}

/** A warehouse value as text (names, types and dates arrive as strings). */
const text = (value: JsonValue | undefined): string => (typeof value === 'string' ? value : JSON.stringify(value ?? null));

function invalid(message: string, details?: unknown): RoundtripError {
  return new RoundtripError('RT_CLV_INPUT_INVALID', message, details);
}

/** What the data was, recorded with every fit so a model can be traced to it. */
export type SourceInfo = { [key: string]: JsonValue };

export interface OpenedInput {
  /** A table name or `read_csv(…)`, to be aliased `src`. */
  relation: string;
  /** Top-level column names of the relation. */
  columns: string[];
  format: 'transactions' | 'summary' | 'survival';
  source: SourceInfo;
  close(): Promise<void>;
}

/** Opens the input: a dataset's table, or the uploaded CSV staged as a file. */
export async function openInput(warehouse: SandboxWarehouse, session: WarehouseSession, datasets: Datasets, sandbox: string, input: InputSpec): Promise<OpenedInput> {
  if (Boolean(input.dataset) === Boolean(input.csv)) throw invalid('Give exactly one input: a dataset, or CSV text (`--input FILE`).');
  let relation: string;
  let source: SourceInfo;
  let close = () => Promise.resolve();
  if (input.dataset) {
    const dataset = await datasets.get(sandbox, input.dataset);
    relation = quoteIdent(dataset.tableName);
    source = { kind: 'dataset', datasetId: dataset.id, dataset: dataset.name, snapshotId: dataset.lastSnapshotId };
  } else {
    const text = input.csv!;
    const file = path.join(warehouse.stagingDir, `${newId('clv')}.csv`);
    await writeFile(file, text);
    relation = `read_csv(${quoteLiteral(file)}, header = true)`;
    source = { kind: 'upload', sha256: createHash('sha256').update(text).digest('hex'), bytes: Buffer.byteLength(text) };
    close = () => rm(file, { force: true });
  }
  try {
    const described = await session.query(`DESCRIBE SELECT * FROM ${relation} AS src`);
    const columns = described.rows.map((r) => text(r.column_name));
    const looksLikeSummary = Boolean(pick(columns, CANDIDATES.x) && pick(columns, CANDIDATES.tx) && pick(columns, CANDIDATES.T));
    const format = input.format ?? (input.alive ? 'survival' : input.csv && looksLikeSummary && !input.datetime ? 'summary' : 'transactions');
    return { relation, columns, format, source, close };
  } catch (error) {
    await close();
    throw error instanceof RoundtripError && error.code !== 'RT_WAREHOUSE_FAILED' ? error : invalid(`The input cannot be read: ${(error as Error).message}`);
  }
}

function requireColumn(opened: OpenedInput, given: string | undefined, candidates: readonly string[], role: string): string {
  const name = given ?? pick(opened.columns, candidates);
  if (!name) throw invalid(`Name the ${role} column (the input has ${opened.columns.join(', ')}).`, { columns: opened.columns });
  const top = name.split('.')[0]!;
  if (!opened.columns.includes(top)) throw invalid(`The ${role} column "${name}" is not in the input (it has ${opened.columns.join(', ')}).`, { columns: opened.columns });
  return name;
}

export interface TransactionColumns {
  customerId: string;
  datetime: string;
  monetary?: string;
  category?: string;
}

/** The transaction columns, given or recognised; monetary is optional unless `needMonetary`. */
export function transactionColumns(opened: OpenedInput, input: InputSpec, needMonetary = false): TransactionColumns {
  const customerId = requireColumn(opened, input.customerId, CANDIDATES.customerId, 'customer id');
  const datetime = requireColumn(opened, input.datetime, CANDIDATES.datetime, 'date/time');
  const monetary = input.monetary || needMonetary ? requireColumn(opened, input.monetary, CANDIDATES.monetary, 'monetary') : pick(opened.columns, CANDIDATES.monetary);
  const category = input.category ? requireColumn(opened, input.category, [], 'category') : undefined;
  return { customerId, datetime, ...(monetary ? { monetary } : {}), ...(category ? { category } : {}) };
}

/** SQL expressions over `src` for the chosen columns, with the time column turned into a calendar day. */
export async function transactionRelation(session: WarehouseSession, opened: OpenedInput, columns: TransactionColumns): Promise<TransactionRelation & { category?: string }> {
  const ref = (c: string, role: string) => `src.${columnRef(c, role)}`;
  const datetime = ref(columns.datetime, 'date/time');
  const described = await session.query(`DESCRIBE SELECT ${datetime} AS t FROM ${opened.relation} AS src`);
  return {
    relation: opened.relation,
    customerId: ref(columns.customerId, 'customer id'),
    day: dayExpression(datetime, described.rows[0] ? text(described.rows[0].column_type) : 'VARCHAR'),
    ...(columns.monetary ? { monetary: ref(columns.monetary, 'monetary') } : {}),
    ...(columns.category ? { category: ref(columns.category, 'category') } : {}),
  };
}

export interface SummaryInfo {
  /** Time unit and merge period of the summary's t_x and T. */
  unit: TimeUnit;
  period: TimeUnit;
  /** Holdout length in `unit`, when the data has a holdout. */
  holdoutLength: number | null;
  /** Calibration end as a date (transaction input), for predictions' as-of. */
  calibrationEnd: string | null;
  columns: SourceInfo;
  /** Per-bucket repeat transactions for cumulative tracking (transaction input with a holdout). */
  tracking: { bucket: number; count: number }[] | null;
  /** Number of periods the tracking covers (up to the observation end). */
  trackingPeriods: number | null;
}

export function windowOf(spec: WindowSpec | undefined): SummaryWindow {
  if (spec?.calibrationEnd && spec.observationEnd && spec.calibrationEnd > spec.observationEnd) {
    throw invalid(`The calibration end ${spec.calibrationEnd} is after the observation end ${spec.observationEnd}.`);
  }
  return {
    unit: spec?.unit ?? 'week',
    period: spec?.period ?? 'day',
    ...(spec?.calibrationEnd ? { calibrationEnd: spec.calibrationEnd } : {}),
    ...(spec?.observationEnd ? { observationEnd: spec.observationEnd } : {}),
  };
}

/**
 * Builds `clv_summary` (customer_id, x, t_x, T, m, x_star) in the session from transactions or a summary
 * file. `withTracking` also counts repeat transactions per period for the cumulative-tracking diagnostic.
 */
export async function buildSummary(
  session: WarehouseSession,
  opened: OpenedInput,
  input: InputSpec,
  window: SummaryWindow & { holdoutLength?: number },
  options: { needMonetary?: boolean; withTracking?: boolean } = {},
): Promise<SummaryInfo> {
  await session.query(`DROP TABLE IF EXISTS ${SUMMARY_TABLE}`);
  if (opened.format === 'summary') return summaryFromFile(session, opened, window);
  if (opened.format !== 'transactions') throw invalid(`This model needs transactions or a summary, not a ${opened.format} input.`);
  const columns = transactionColumns(opened, input, options.needMonetary);
  const relation = await transactionRelation(session, opened, columns);
  await session.query(`CREATE TEMP TABLE ${SUMMARY_TABLE} AS SELECT *, CAST(1 AS DOUBLE) AS w FROM (${summarySql(relation, window)})`);
  const bounds = await session.query(`SELECT any_value(duration_holdout) AS d, any_value(calibration_end) AS c, count(*) AS n FROM ${SUMMARY_TABLE}`);
  const row = bounds.rows[0] ?? {};
  if (Number(row.n ?? 0) === 0) throw invalid('The input has no customers with a purchase in the calibration window.');
  const holdout = window.calibrationEnd ? Number(row.d) : null;
  let tracking: SummaryInfo['tracking'] = null;
  let trackingPeriods: number | null = null;
  if (options.withTracking && holdout !== null) {
    const counted = await session.query(trackingSql(relation, window));
    tracking = counted.rows.map((r) => ({ bucket: Number(r.bucket), count: Number(r.n) }));
    trackingPeriods = counted.rows.length ? Number(counted.rows[0]!.periods) : null;
  }
  return {
    unit: window.unit,
    period: window.period,
    holdoutLength: holdout,
    calibrationEnd: row.c === null || row.c === undefined ? null : text(row.c),
    columns: columns as unknown as SourceInfo,
    tracking,
    trackingPeriods,
  };
}

/** A summary file (lifetimes / BTYD columns) as `clv_summary`; weights expand nothing, they stay a column. */
async function summaryFromFile(session: WarehouseSession, opened: OpenedInput, window: SummaryWindow & { holdoutLength?: number }): Promise<SummaryInfo> {
  const col = (names: readonly string[], role: string, required: boolean) => {
    const name = pick(opened.columns, names);
    if (!name && required) throw invalid(`The summary has no ${role} column (looked for ${names.join(', ')}).`);
    return name;
  };
  const x = col(CANDIDATES.x, 'frequency', true)!;
  const tx = col(CANDIDATES.tx, 'recency', true)!;
  const T = col(CANDIDATES.T, 'age (T)', true)!;
  const w = col(CANDIDATES.w, 'weight', false);
  const m = col(CANDIDATES.m, 'monetary value', false);
  const xStar = col(CANDIDATES.xStar, 'holdout frequency', false);
  const q = (c: string | undefined, fallback: string) => (c ? `CAST(src.${quoteIdent(c)} AS DOUBLE)` : fallback);
  const id = pick(opened.columns, CANDIDATES.customerId);
  await session.query(`CREATE TEMP TABLE ${SUMMARY_TABLE} AS
    SELECT ${id ? `CAST(src.${quoteIdent(id)} AS VARCHAR)` : `CAST(row_number() OVER () AS VARCHAR)`} AS customer_id,
           CAST(src.${quoteIdent(x)} AS INTEGER) AS x, ${q(tx, '0')} AS t_x, ${q(T, '0')} AS "T", ${q(m, '0')} AS m,
           ${q(xStar, '0')} AS x_star, ${q(w, '1')} AS w, CAST(NULL AS DATE) AS calibration_end
    FROM ${opened.relation} AS src`);
  const columns: SourceInfo = { frequency: x, recency: tx, T, ...(w ? { weight: w } : {}), ...(m ? { monetary: m } : {}), ...(xStar ? { holdoutFrequency: xStar } : {}) };
  return {
    unit: window.unit,
    period: window.period,
    holdoutLength: xStar && window.holdoutLength ? window.holdoutLength : null,
    calibrationEnd: null,
    columns,
    tracking: null,
    trackingPeriods: null,
  };
}

/** The survival curve of a retention CSV: the `alive` column (default: the second column), periods 0..k. */
export async function survivalCurve(session: WarehouseSession, opened: OpenedInput, input: InputSpec): Promise<number[]> {
  const column = input.alive ?? opened.columns[1];
  if (!column || !opened.columns.includes(column)) throw invalid(`Name the survival column with alive (the input has ${opened.columns.join(', ')}).`);
  const rows = await session.query(`SELECT CAST(src.${quoteIdent(column)} AS DOUBLE) AS alive FROM ${opened.relation} AS src`);
  return rows.rows.map((r) => Number(r.alive));
}
