/**
 * Where the identity graph lives: `_rt_identity_*` system tables in the sandbox's own warehouse database, next
 * to the datasets they index (so a sandbox reset or a compaction treats them like everything else).
 *
 * - `nodes`: one row per identity (namespace, normalised value) with a stable node id (first seen, first
 *   numbered) and its graph, the smallest node id of its connected component. `key` (the engine's 64-bit
 *   `hash` of namespace and value, recomputed if the engine version changes) carries an ART index for point
 *   lookups: DuckDB uses an index only for a filter on one indexed column alone, not on two VARCHARs.
 * - `records`: the record → identity index. One row per identity occurrence: which record (dataset, snapshot,
 *   position in the snapshot), its rank in the record (`ord` 0 is the record's anchor, its primary identity;
 *   every other identity of the record is linked to it) and, for ExperienceEvents only, the event time
 *   (`ts` is what tells events from profile fragments). Kept narrow: it is the largest table of the graph. Events and profile
 *   fragments map to profiles through it at query time, so a merge or unmerge never rewrites them.
 * - `refusals`: links the guardrails refused, with the reason; `unlinks`: removed links (identity pairs that
 *   must stay apart, also through a rebuild); `applied`: snapshots processed, in processing order, and
 *   whether their dataset linked identities then (a change of that flag rebuilds the graph);
 *   `state`: the node id counter, a version bumped by every change, and the graph settings.
 * - `changes` / `change_log`: what each snapshot apply touched, per graph version (see `changeLogStatements`),
 *   so that readers of a few changed graphs (the insights refresh) need not scan `nodes`.
 */
import { RoundtripError } from '../core/errors.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { identityKeySql } from './normalize.ts';
import { quoteLiteral } from './sql.ts';

export const NODES = '_rt_identity_nodes';
export const RECORDS = '_rt_identity_records';
export const REFUSALS = '_rt_identity_refusals';
export const UNLINKS = '_rt_identity_unlinks';
export const APPLIED = '_rt_identity_applied';
export const STATE = '_rt_identity_state';
export const CHANGES = '_rt_identity_changes';
export const CHANGE_LOG = '_rt_identity_change_log';
export const NODES_KEY_INDEX = `${NODES}_key`;
export const RECORDS_NODE_INDEX = `${RECORDS}_node`;
/** Scratch tables of one run: TEMP tables of its session, gone when it ends. */
export const WORK = {
  identities: '_rt_identity_work_identities',
  newNodes: '_rt_identity_work_new_nodes',
  records: '_rt_identity_work_records',
  reach: '_rt_identity_work_reach',
  scope: '_rt_identity_work_scope',
  result: '_rt_identity_work_result',
  refused: '_rt_identity_work_refused',
} as const;

export interface GraphSettings {
  /** Identities a graph may hold; a link that would make it larger is refused (reference guardrail: 50). */
  maxIdentities: number;
  /** Namespaces a graph may hold at most one identity of (a person has one CRM id). */
  uniqueNamespaces: string[];
  /** ISO country for phone numbers written without a country code; none means such numbers stay as written. */
  phoneDefaultCountry: string | null;
}

export const DEFAULT_SETTINGS: GraphSettings = { maxIdentities: 50, uniqueNamespaces: ['CRMID'], phoneDefaultCountry: null };

const DDL = [
  `CREATE TABLE IF NOT EXISTS ${NODES} (node BIGINT NOT NULL, key UBIGINT NOT NULL, ns VARCHAR NOT NULL, id VARCHAR NOT NULL, graph BIGINT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS ${NODES_KEY_INDEX} ON ${NODES} (key)`,
  `CREATE TABLE IF NOT EXISTS ${RECORDS} (ds VARCHAR NOT NULL, snap BIGINT NOT NULL, seq BIGINT NOT NULL, ord BIGINT NOT NULL, node BIGINT NOT NULL, ts TIMESTAMPTZ)`,
  `CREATE INDEX IF NOT EXISTS ${RECORDS_NODE_INDEX} ON ${RECORDS} (node)`,
  `CREATE TABLE IF NOT EXISTS ${REFUSALS} (ds VARCHAR NOT NULL, snap BIGINT NOT NULL, seq BIGINT NOT NULL, ord BIGINT NOT NULL, a BIGINT NOT NULL, b BIGINT NOT NULL, reason VARCHAR NOT NULL, namespace VARCHAR, refused_at TIMESTAMPTZ NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${UNLINKS} (id VARCHAR NOT NULL, ns_a VARCHAR NOT NULL, id_a VARCHAR NOT NULL, ns_b VARCHAR NOT NULL, id_b VARCHAR NOT NULL, created_by VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${APPLIED} (ds VARCHAR NOT NULL, snap BIGINT NOT NULL, pos BIGINT NOT NULL, rows BIGINT NOT NULL, linking BOOLEAN NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${STATE} (next_node BIGINT NOT NULL, next_pos BIGINT NOT NULL, version BIGINT NOT NULL, settings VARCHAR NOT NULL, engine VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${CHANGES} (version BIGINT NOT NULL, node BIGINT NOT NULL, graph BIGINT NOT NULL, ns VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${CHANGE_LOG} (version BIGINT NOT NULL, listed BOOLEAN NOT NULL, rows BIGINT NOT NULL, logged_at TIMESTAMPTZ NOT NULL)`,
  `INSERT INTO ${STATE} SELECT 1, 1, 0, ${quoteLiteral(JSON.stringify(DEFAULT_SETTINGS))}, library_version FROM pragma_version() WHERE NOT EXISTS (SELECT 1 FROM ${STATE})`,
];

const ensured = new WeakMap<SandboxWarehouse, Promise<void>>();

/**
 * Creates the tables on first use of a sandbox database (a reset gives a new database object, so it runs
 * again), and recomputes the lookup keys if the engine changed since they were written: they come from the
 * engine's `hash()`, which a new version may compute differently.
 */
export function ensureIdentityTables(warehouse: SandboxWarehouse): Promise<void> {
  let done = ensured.get(warehouse);
  if (!done) {
    done = (async () => {
      await warehouse.query(DDL.join(';\n'));
      await rekeyIfEngineChanged(warehouse);
    })();
    ensured.set(warehouse, done);
    done.catch(() => ensured.delete(warehouse));
  }
  return done;
}

/** Recomputes every identity's lookup key when the engine version differs from the one that wrote them. */
export async function rekeyIfEngineChanged(warehouse: SandboxWarehouse): Promise<boolean> {
  const row = (await warehouse.query(`SELECT s.engine = v.library_version AS same FROM ${STATE} s, pragma_version() v`)).rows[0];
  if (row?.same !== false) return false;
  await warehouse.query(`BEGIN TRANSACTION;
    DROP INDEX IF EXISTS ${NODES_KEY_INDEX};
    UPDATE ${NODES} SET key = ${identityKeySql('ns', 'id')};
    CREATE INDEX ${NODES_KEY_INDEX} ON ${NODES} (key);
    UPDATE ${STATE} SET engine = (SELECT library_version FROM pragma_version());
    COMMIT`);
  return true;
}

export interface GraphState {
  nextNode: number;
  nextPos: number;
  version: number;
  settings: GraphSettings;
}

export async function readState(warehouse: SandboxWarehouse): Promise<GraphState> {
  const row = (await warehouse.query(`SELECT next_node, next_pos, version, settings FROM ${STATE}`)).rows[0];
  if (!row) throw new RoundtripError('RT_INTERNAL', 'The identity graph state row is missing.');
  return {
    nextNode: Number(row.next_node),
    nextPos: Number(row.next_pos),
    version: Number(row.version),
    settings: { ...DEFAULT_SETTINGS, ...(JSON.parse(row.settings as string) as Partial<GraphSettings>) },
  };
}

/**
 * Bounds of the change log: a version touching more identities than `perVersion` is logged unlisted (a reader
 * scans `nodes` instead); the oldest versions go once the log holds more than `rows` rows or `versions` versions.
 */
export const CHANGE_LOG_LIMITS = { perVersion: 200_000, rows: 1_000_000, versions: 10_000 };

/**
 * The change log of the graph version the enclosing transaction has just set in `state`, written in that
 * transaction: `touched` (a relation `node, graph, ns`) is every identity of every graph the change touched,
 * with its graph and namespace after it; null when there are more than `CHANGE_LOG_LIMITS.perVersion`
 * (`rows`, an estimate). Only snapshot applies log; any other change (an unlink, a removal, a rebuild) bumps the
 * version without a `change_log` row, and a reader that finds a version of its range missing or unlisted
 * falls back to reading `nodes`. Over the identities a range of versions logged, each one's row of the latest
 * version is where it is now (its graph could only change again by a logged change), and every identity of
 * those graphs is among them. One statement string (one round trip); it also prunes the oldest versions.
 */
export function changeLogStatements(touched: string | null, rows: number): string {
  const version = `(SELECT version FROM ${STATE})`;
  const { perVersion, rows: budget, versions } = CHANGE_LOG_LIMITS;
  const listed = touched !== null && rows <= perVersion;
  return [
    ...(listed ? [`INSERT INTO ${CHANGES} SELECT ${version}, t.node, t.graph, t.ns FROM (${touched}) t`] : []),
    `INSERT INTO ${CHANGE_LOG} VALUES (${version}, ${listed}, ${listed ? rows : 0}, now())`,
    `DELETE FROM ${CHANGE_LOG} WHERE version < (SELECT min(version) FROM (
      SELECT version, sum(rows) OVER (ORDER BY version DESC) AS upto, row_number() OVER (ORDER BY version DESC) AS k FROM ${CHANGE_LOG})
      WHERE upto <= ${budget} AND k <= ${versions})`,
    `DELETE FROM ${CHANGES} WHERE version < (SELECT min(version) FROM ${CHANGE_LOG})`,
  ].join(';\n');
}
