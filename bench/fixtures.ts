/**
 * Shared pieces of the benchmarks that generate their data inside DuckDB (no JSON): reproducible draws, the
 * identity map type, a CRM profile dataset and a login event dataset, bulk snapshots written with
 * `INSERT … SELECT`, and a timer that prints one line per step.
 */
import { LOCAL_OPERATOR } from '../src/access/principal.ts';
import type { Platform } from '../src/platform/platform.ts';

export const SANDBOX = 'prod';
export const IDENTITY_MAP = `MAP(VARCHAR, STRUCT(id VARCHAR, "authenticatedState" VARCHAR, "primary" BOOLEAN)[])`;
/** A uniform draw in [0, 1) from a row number and a salt, reproducible run after run. */
export const draw = (i: string, salt: number): string => `(hash(${i}, ${salt}) % 1000000) / 1000000.0`;

/** Runs a step and prints its label and seconds (labels padded to `width`). */
export async function timed<T>(label: string, work: () => Promise<T>, width = 44): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  const ms = performance.now() - started;
  console.log(`${label.padEnd(width)} ${(ms / 1000).toFixed(2)} s`);
  return { value, ms };
}

/** A profile dataset `crm` (CRMID primary, Email) and an event dataset `logins`, both profile-enabled. */
export async function createCrmAndLogins(platform: Platform): Promise<{ crm: string; logins: string }> {
  const crmSchema = await platform.registry.createSchema(LOCAL_OPERATOR, SANDBOX, {
    title: 'CRM',
    class: 'profile',
    fieldGroups: ['person-details', 'personal-contact-details', 'identity-map'],
    fields: { crmId: { type: 'string' }, tier: { type: 'string' }, points: { type: 'integer' } },
    identities: [
      { path: '_roundtrip.crmId', namespace: 'CRMID', primary: true },
      { path: 'personalEmail.address', namespace: 'Email' },
    ],
  });
  const loginSchema = await platform.registry.createSchema(LOCAL_OPERATOR, SANDBOX, { title: 'Logins', class: 'experienceevent', fieldGroups: ['web-details', 'identity-map'] });
  const crm = await platform.datasets.create(LOCAL_OPERATOR, SANDBOX, { name: 'crm', schemaId: crmSchema.id, profileEnabled: true });
  const logins = await platform.datasets.create(LOCAL_OPERATOR, SANDBOX, { name: 'logins', schemaId: loginSchema.id, profileEnabled: true });
  return { crm: crm.id, logins: logins.id };
}

let batches = 0;

/** Writes generated rows as one snapshot of the dataset; `select` gets the system columns to add. */
export async function generateRows(platform: Platform, datasetId: string, select: (system: string) => string): Promise<number> {
  const dataset = await platform.datasets.get(SANDBOX, datasetId);
  const outcome = await platform.datasets.appendWith(LOCAL_OPERATOR, SANDBOX, dataset, `bench-${datasetId}-${++batches}`, async ({ table, warehouse, stamp }) => {
    const result = await warehouse.query(`INSERT INTO "${table}" BY NAME ${select(`${stamp.snapshotId} AS _rt_snapshot_id, '${stamp.batchId}' AS _rt_batch_id, now() AS _rt_ingested_at`)}`);
    return Number(result.rows[0]?.Count ?? 0);
  });
  return outcome.rowCount;
}
