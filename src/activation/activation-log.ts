/**
 * What activation leaves in the sandbox warehouse for the insights models (CDPInsights destination tables,
 * reference §8.2: `adwh_dim_destination`, `adwh_dim_br_segment_destinations`), as two system tables:
 *
 * - `_rt_activation_mappings`: one row per (dataflow, audience) as configured now — the segment ↔ destination
 *   bridge with its interval and the destination's status; rewritten when a dataflow changes, removed with it.
 * - `_rt_activation_log`: one row per (run, audience) — what was exported when: profiles, exits, skips, files,
 *   bytes, status and error code. A retried run replaces its rows, so each slot is counted once.
 *
 * Columns are documented in docs/activation.md; insights read them, only this module writes them.
 */
import { quoteLiteral } from '../identity/sql.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';

export const ACTIVATION_LOG_TABLE = '_rt_activation_log';
export const ACTIVATION_MAPPINGS_TABLE = '_rt_activation_mappings';

const DDL = [
  `CREATE TABLE IF NOT EXISTS ${ACTIVATION_LOG_TABLE} (run_id VARCHAR NOT NULL, dataflow_id VARCHAR NOT NULL, dataflow_name VARCHAR NOT NULL,
    destination_id VARCHAR NOT NULL, destination_name VARCHAR NOT NULL, destination_type VARCHAR NOT NULL, segment_id VARCHAR NOT NULL,
    merge_policy_id VARCHAR NOT NULL, export_type VARCHAR NOT NULL, slot TIMESTAMPTZ NOT NULL, status VARCHAR NOT NULL,
    profiles BIGINT NOT NULL, exited BIGINT NOT NULL, skipped BIGINT NOT NULL, failed BIGINT NOT NULL, files INTEGER NOT NULL, bytes BIGINT NOT NULL,
    error_code VARCHAR, started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${ACTIVATION_MAPPINGS_TABLE} (dataflow_id VARCHAR NOT NULL, dataflow_name VARCHAR NOT NULL, destination_id VARCHAR NOT NULL,
    destination_name VARCHAR NOT NULL, destination_type VARCHAR NOT NULL, destination_status VARCHAR NOT NULL, segment_id VARCHAR NOT NULL,
    merge_policy_id VARCHAR NOT NULL, export_type VARCHAR NOT NULL, start_date DATE NOT NULL, end_date DATE, created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL)`,
];

const ensured = new WeakSet<SandboxWarehouse>();

export async function ensureActivationTables(warehouse: SandboxWarehouse): Promise<void> {
  if (ensured.has(warehouse)) return;
  for (const statement of DDL) await warehouse.query(statement);
  ensured.add(warehouse);
}

export interface LogRow {
  runId: string;
  dataflowId: string;
  dataflowName: string;
  destinationId: string;
  destinationName: string;
  destinationType: string;
  segmentId: string;
  mergePolicyId: string;
  exportType: string;
  slot: string;
  status: string;
  profiles: number;
  exited: number;
  skipped: number;
  failed: number;
  files: number;
  bytes: number;
  errorCode: string | null;
  startedAt: string;
  finishedAt: string;
}

const lit = (v: string | null): string => (v === null ? 'NULL' : quoteLiteral(v));
const int = (v: number): string => String(Math.trunc(v));

export async function writeLogRows(warehouse: SandboxWarehouse, rows: readonly LogRow[]): Promise<void> {
  if (!rows.length) return;
  await ensureActivationTables(warehouse);
  const keys = rows.map((r) => `(${lit(r.runId)}, ${lit(r.segmentId)})`).join(', ');
  const values = rows
    .map(
      (r) =>
        `(${[r.runId, r.dataflowId, r.dataflowName, r.destinationId, r.destinationName, r.destinationType, r.segmentId, r.mergePolicyId, r.exportType].map(lit).join(', ')}, ${lit(r.slot)}::TIMESTAMPTZ, ${lit(r.status)},
        ${[r.profiles, r.exited, r.skipped, r.failed, r.files, r.bytes].map(int).join(', ')}, ${lit(r.errorCode)}, ${lit(r.startedAt)}::TIMESTAMPTZ, ${lit(r.finishedAt)}::TIMESTAMPTZ)`,
    )
    .join(',\n');
  await warehouse.query(`BEGIN TRANSACTION;
    DELETE FROM ${ACTIVATION_LOG_TABLE} WHERE (run_id, segment_id) IN (${keys});
    INSERT INTO ${ACTIVATION_LOG_TABLE} VALUES ${values};
    COMMIT`);
}

export interface MappingRow {
  segmentId: string;
  exportType: string;
  startDate: string;
  endDate: string | null;
  createdAt: string;
}

/** Replaces the dataflow's mapping rows (none: the dataflow was deleted). */
export async function writeMappings(
  warehouse: SandboxWarehouse,
  dataflow: { id: string; name: string; destinationId: string; destinationName: string; destinationType: string; status: string; mergePolicyId: string; updatedAt: string },
  audiences: readonly MappingRow[],
): Promise<void> {
  await ensureActivationTables(warehouse);
  const values = audiences
    .map(
      (a) =>
        `(${[dataflow.id, dataflow.name, dataflow.destinationId, dataflow.destinationName, dataflow.destinationType, dataflow.status, a.segmentId, dataflow.mergePolicyId, a.exportType].map(lit).join(', ')},
        ${lit(a.startDate)}::DATE, ${a.endDate ? `${lit(a.endDate)}::DATE` : 'NULL'}, ${lit(a.createdAt)}::TIMESTAMPTZ, ${lit(dataflow.updatedAt)}::TIMESTAMPTZ)`,
    )
    .join(',\n');
  await warehouse.query(`BEGIN TRANSACTION;
    DELETE FROM ${ACTIVATION_MAPPINGS_TABLE} WHERE dataflow_id = ${lit(dataflow.id)};
    ${values ? `INSERT INTO ${ACTIVATION_MAPPINGS_TABLE} VALUES ${values};` : ''}
    COMMIT`);
}
