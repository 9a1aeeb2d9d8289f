/**
 * Runs the export plan of one audience on a warehouse session and hands back what to deliver: CSV files written
 * by the engine itself (`COPY … TO` into the sandbox's staging folder, the one place the guarded engine may
 * write; one statement per part of `splitRows` rows), or the records of an API send. Counts come from the
 * plan's temporary tables, so skipped profiles are counted by reason without a second pass over the profiles.
 */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { quoteIdent, quoteLiteral } from '../identity/sql.ts';
import type { ColumnSpec, SandboxWarehouse, WarehouseSession } from '../ports/warehouse.ts';
import { buildExportPlan, CANDIDATES, ROWS, type ExportPlan, type ExportPlanInput } from './export-sql.ts';
import { splitFileName } from '../destinations/file-names.ts';

export const SKIP_REASONS = ['consent', 'missingMandatory', 'duplicate', 'tooManyIdentities', 'profileMissing'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

const NUMBERED = 'act_parts';
/** File order: by profile, then identity (a profile exported once per id of a namespace). */
const ORDER = 'ORDER BY profile_id, _identity';

export interface ExportCounts {
  /** Distinct profiles written (active and exited). */
  profiles: number;
  exited: number;
  /** Rows written (one per identity when a namespace is exported). */
  rows: number;
  skipped: Record<string, number>;
  warnings: string[];
}

export interface StagedFile {
  name: string;
  localPath: string;
  rows: number;
  bytes: number;
}

export interface FileExportInput extends ExportPlanInput {
  warehouse: SandboxWarehouse;
  /** Sub-folder of the staging folder for this run's files (removed by the caller after delivery). */
  runFolder: string;
  /** Base name without extension; parts are `<base>.csv`, `<base>_2.csv`, … */
  baseName: string;
  splitRows: number;
}

async function withPlan<T>(warehouse: SandboxWarehouse, input: ExportPlanInput, work: (session: WarehouseSession, plan: ExportPlan, counts: ExportCounts) => Promise<T>): Promise<T> {
  const plan = buildExportPlan(input);
  const session = await warehouse.openSession();
  try {
    for (const statement of plan.statements) await session.query(statement);
    return await work(session, plan, await countsOf(session, plan));
  } finally {
    await session.query(`DROP TABLE IF EXISTS ${NUMBERED}; DROP TABLE IF EXISTS ${ROWS}; DROP TABLE IF EXISTS ${CANDIDATES}`).catch(() => undefined);
    session.close();
  }
}

async function countsOf(session: WarehouseSession, plan: ExportPlan): Promise<ExportCounts> {
  const skipped: Record<string, number> = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0]));
  for (const row of (await session.query(`SELECT _skip, count(*) AS n FROM ${CANDIDATES} WHERE _skip IS NOT NULL GROUP BY ALL`)).rows) {
    skipped[row._skip as string] = Number(row.n);
  }
  const eligible = Number((await session.query(`SELECT count(*) AS n FROM ${CANDIDATES} WHERE _skip IS NULL`)).rows[0]?.n ?? 0);
  const out = (await session.query(`SELECT count(*) AS rows, count(DISTINCT profile_id) AS profiles, count(DISTINCT profile_id) FILTER (WHERE _status = 'exited') AS exited FROM ${ROWS}`)).rows[0]!;
  const profiles = Number(out.profiles);
  // A profile none of whose rows survived deduplication was dropped as a duplicate.
  skipped.duplicate = eligible - profiles;
  return { profiles, exited: Number(out.exited), rows: Number(out.rows), skipped, warnings: plan.warnings };
}

function selectList(plan: ExportPlan): string {
  return plan.columns.map((c) => `${c.column} AS ${quoteIdent(c.header)}`).join(', ');
}

/** Writes the audience's rows as CSV parts into the staging folder. Always at least one file (a header-only one when nobody changed). */
export async function exportFiles(input: FileExportInput): Promise<{ counts: ExportCounts; files: StagedFile[] }> {
  return withPlan(input.warehouse, input, async (session, plan, counts) => {
    const folder = path.join(input.warehouse.stagingDir, input.runFolder);
    await mkdir(folder, { recursive: true });
    const parts = Math.max(1, Math.ceil(counts.rows / input.splitRows));
    // One part needs no numbering (a window over every row costs a sort); split exports number the rows once.
    if (parts > 1) await session.query(`CREATE OR REPLACE TEMP TABLE ${NUMBERED} AS SELECT *, row_number() OVER (${ORDER}) AS _rn FROM ${ROWS}`);
    const files: StagedFile[] = [];
    for (let i = 0; i < parts; i++) {
      const name = splitFileName(input.baseName, i + 1);
      const localPath = path.join(folder, name);
      const from = i * input.splitRows;
      const rows = parts > 1 ? `FROM ${NUMBERED} WHERE _rn > ${from} AND _rn <= ${from + input.splitRows} ORDER BY _rn` : `FROM ${ROWS} ${ORDER}`;
      await session.query(`COPY (SELECT ${selectList(plan)} ${rows}) TO ${quoteLiteral(localPath)} (FORMAT csv, HEADER true)`);
      files.push({ name, localPath, rows: Math.min(input.splitRows, counts.rows - from), bytes: (await stat(localPath)).size });
    }
    return { counts, files };
  });
}

export interface ExportedRecord {
  profileId: number;
  status: string;
  /** Header → value, in field order. */
  values: { header: string; identity: boolean; value: string | null }[];
}

/** The audience's rows as records (API destinations): one per profile, the first id of the exported namespace. */
export async function exportRecords(warehouse: SandboxWarehouse, input: ExportPlanInput): Promise<{ counts: ExportCounts; records: ExportedRecord[] }> {
  return withPlan(warehouse, { ...input, onePerProfile: true }, async (session, plan, counts) => {
    const rows = (await session.query(`SELECT profile_id, _status, ${plan.columns.map((c) => c.column).join(', ')} FROM ${ROWS} ${ORDER}`)).rows;
    const records = rows.map((row) => ({
      profileId: Number(row.profile_id),
      status: row._status as string,
      values: plan.columns.map((c) => ({ header: c.header, identity: c.identity, value: (row[c.column] as string | null) ?? null })),
    }));
    return { counts, records };
  });
}

/** Columns of a profile table (which has no dataset system columns, so `describeTable` does not apply). */
export async function profileColumns(warehouse: SandboxWarehouse, table: string): Promise<ColumnSpec[]> {
  const result = await warehouse.query(`SELECT * FROM ${quoteIdent(table)} LIMIT 0`);
  return result.columns.map((c) => ({ name: c.name, type: c.columnType }));
}
