/**
 * Privacy delete: erase a person, found by any of their identities, from the sandbox — every record of theirs in
 * every dataset, their identities and graph links, their profile rows (with memberships) and their failed
 * records — as one job whose report says what was removed. The audit log keeps an entry with counts and the
 * namespace only, never an identity value. A record ingested later starts a new profile (new node ids).
 *
 * Finding records: identity- and profile-enabled datasets through the record index (every record carrying one
 * of the person's identities); other datasets with identity fields by extracting their identities; failed
 * records (raw rows that never parsed) by searching their text for the person's identity values.
 * Deleting rows shifts the write positions of later rows of the same snapshots, so the index is renumbered in
 * the same transaction. What can remain on disk afterwards, and `compact`, are in docs/identity-and-profiles.md.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { hasIdentities } from '../identity/extract.ts';
import { recordsCarrying } from '../identity/graph-build.ts';
import { deleteIndexRows, type GraphContext, type IdentityGraph, type IdentityRef } from '../identity/graph.ts';
import { rowsAtSql } from '../identity/positions.ts';
import { NODES, RECORDS, REFUSALS, UNLINKS } from '../identity/store.ts';
import { intList, quoteIdent, quoteLiteral } from '../identity/sql.ts';
import { FAILED_RECORDS_TABLE } from '../ingest/failed-records.ts';
import type { MetadataStore } from '../ports/metadata-store.ts';
import type { CompactionResult, JsonValue, SandboxWarehouse, Warehouse } from '../ports/warehouse.ts';
import type { MergePolicies } from './merge-policies.ts';
import { PROFILE_ID } from './merge-sql.ts';

const JOBS = '_rt_privacy_jobs';
const KEYS = '_rt_privacy_work_keys';
const JOBS_DDL = `CREATE TABLE IF NOT EXISTS ${JOBS} (id VARCHAR NOT NULL, status VARCHAR NOT NULL, namespace VARCHAR NOT NULL, requested_by VARCHAR NOT NULL,
  requested_at TIMESTAMPTZ NOT NULL, completed_at TIMESTAMPTZ, removed VARCHAR NOT NULL, notes VARCHAR NOT NULL, error VARCHAR)`;

/** Who is erased: their profile ids (graph ids and anchor nodes) and identities (namespace, normalised value). */
export interface ErasureTarget {
  sandbox: string;
  warehouse: SandboxWarehouse;
  profileIds: number[];
  identities: IdentityRef[];
}

/**
 * Something else that keeps personal data per profile or identity (the audiences' membership tables register one):
 * it registers here and is called, under the sandbox lock, by every privacy delete. Returns items removed.
 */
export interface PersonalDataEraser {
  name: string;
  erase(target: ErasureTarget): Promise<number>;
}

export interface PrivacyJob {
  id: string;
  status: 'completed' | 'failed';
  namespace: string;
  requestedBy: string;
  requestedAt: string;
  completedAt: string | null;
  removed: Record<string, JsonValue>;
  notes: string[];
  error: string | null;
}

export interface PrivacyHooks {
  /** Runs before a delete, outside the lock: e.g. make streaming apply everything it acknowledged. */
  beforeDelete?(sandbox: string): Promise<void>;
  /** Notes for the job report about stores this service cannot scrub itself (e.g. a streaming log). */
  remainingNotes?(sandbox: string): Promise<string[]>;
}

/**
 * The streaming write-ahead log keeps acknowledged requests as received until its segment (64 MiB) is full
 * and applied; this service cannot rewrite it under the streaming service, so the job says what is there.
 */
export async function streamingLogNotes(dir: string): Promise<string[]> {
  const segments = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.wal'));
  if (segments.length === 0) return [];
  let bytes = 0;
  for (const segment of segments) bytes += (await stat(path.join(dir, segment)).catch(() => ({ size: 0 }))).size;
  return [`The streaming log of this sandbox (${segments.length} segment(s), ${bytes} bytes) may still hold raw requests of this person until its segment is rotated; see docs/identity-and-profiles.md.`];
}

/** `a.b+c@x.com` → a regular expression matching it literally. */
const escapeRegex = (value: string): string => value.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');

export class PrivacyService {
  private readonly erasers: PersonalDataEraser[] = [];

  constructor(
    private readonly metadata: MetadataStore,
    private readonly warehouse: Warehouse,
    private readonly graph: IdentityGraph,
    private readonly policies: MergePolicies,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly hooks: PrivacyHooks = {},
  ) {}

  register(eraser: PersonalDataEraser): void {
    this.erasers.push(eraser);
  }

  /** Erases the person `ref` belongs to; with `compact`, also rewrites the sandbox database afterwards. */
  async delete(actor: Principal, sandbox: string, ref: IdentityRef, options: { compact?: boolean } = {}): Promise<PrivacyJob> {
    // An unknown namespace is a bad request, not a job.
    const { code } = this.graph.namespaceOf(await this.graph.readContext(sandbox, ref.namespace), ref.namespace);
    const job: PrivacyJob = {
      id: newId('priv'),
      status: 'completed',
      namespace: code,
      requestedBy: actor.id,
      requestedAt: isoNow(this.clock),
      completedAt: null,
      removed: {},
      notes: [],
      error: null,
    };
    const warehouse = await this.warehouse.sandbox(sandbox);
    await warehouse.query(JOBS_DDL);
    try {
      await this.hooks.beforeDelete?.(sandbox);
      await this.graph.sync(sandbox);
      job.removed = await this.graph.withLock(sandbox, () => this.erase(sandbox, ref));
      job.notes.push(...(await this.remainingNotes(sandbox, warehouse)));
      if (options.compact) {
        const compaction = await this.compactLocked(sandbox);
        job.removed.compaction = { ...compaction };
      } else {
        job.notes.push('Deleted rows can remain in freed pages of the database file until `roundtrip sandbox compact` rewrites it.');
      }
    } catch (error) {
      job.status = 'failed';
      job.error = error instanceof RoundtripError ? `${error.code}: ${error.message}` : 'RT_INTERNAL';
    }
    job.completedAt = isoNow(this.clock);
    await this.saveJob(warehouse, job);
    await this.audit.record(actor, {
      sandbox,
      action: 'privacy.delete',
      resourceType: 'privacy-job',
      resourceId: job.id,
      // Counts and the namespace only: this entry outlives the person's data by design.
      details: { status: job.status, namespace: job.namespace, removed: job.removed, compacted: Boolean(options.compact) },
    });
    return job;
  }

  /** Under the lock: finds and removes everything of the person; returns the counts. */
  private async erase(sandbox: string, ref: IdentityRef): Promise<Record<string, JsonValue>> {
    const context = await this.graph.context(sandbox);
    const { warehouse } = context;
    const found = await this.graph.findNode(context, ref);
    const person = found
      ? (await warehouse.query(`SELECT node, ns, id FROM ${NODES} WHERE graph = ${intList([found.graph])}`)).rows.map((r) => ({ node: Number(r.node), namespace: r.ns as string, id: r.id as string }))
      : [{ node: -1, ...(await this.graph.normalise(context, ref)) }];
    const nodes = person.map((p) => p.node).filter((n) => n >= 0);
    const identities = person.map(({ namespace, id }) => ({ namespace, id }));
    await this.collectKeys(context, nodes, identities);
    const snapshots = new Map(
      (await warehouse.query(`SELECT ds, list(DISTINCT snap) AS snaps FROM ${KEYS} GROUP BY ds`)).rows.map((r) => [r.ds as string, (r.snaps as number[]).map(Number)]),
    );
    const perDataset = Object.fromEntries(
      (await warehouse.query(`SELECT ds, count(*) AS n FROM ${KEYS} GROUP BY ds ORDER BY ds`)).rows.map((r) => [r.ds as string, Number(r.n)]),
    );
    const profileIds = found ? [found.graph, ...nodes] : [];
    const profileRows = await this.countProfileRows(sandbox, warehouse, profileIds);
    const touched = await this.graph.touchedBy(context, `SELECT ds, snap, seq FROM ${KEYS}`);
    const failed = await this.failedRecordsFilter(warehouse, identities);
    const failedCount = failed ? Number((await warehouse.query(`SELECT count(*) AS n FROM ${FAILED_RECORDS_TABLE} WHERE ${failed}`)).rows[0]?.n ?? 0) : 0;
    const unlinks = this.unlinksFilter(identities);
    const unlinkCount = Number((await warehouse.query(`SELECT count(*) AS n FROM ${UNLINKS} WHERE ${unlinks}`)).rows[0]?.n ?? 0);
    const links = Number((await warehouse.query(`SELECT count(*) AS n FROM ${RECORDS} r JOIN ${KEYS} k ON r.ds = k.ds AND r.snap = k.snap AND r.seq = k.seq WHERE r.ord > 0`)).rows[0]?.n ?? 0);
    await warehouse.query(`BEGIN TRANSACTION;
      ${this.deleteDatasetRows(context, Object.keys(perDataset), snapshots)}
      ${deleteIndexRows(KEYS)}
      ${this.renumber(RECORDS)}
      ${this.renumber(REFUSALS)}
      ${failed ? `DELETE FROM ${FAILED_RECORDS_TABLE} WHERE ${failed};` : ''}
      DELETE FROM ${UNLINKS} WHERE ${unlinks};
      COMMIT`);
    const change = await this.graph.afterRemoval(context, touched);
    profileIds.forEach((id) => (id === found?.graph ? change.graphs.add(id) : change.nodes.add(id)));
    await this.graph.notify(context, change);
    const erased: Record<string, number> = {};
    for (const eraser of this.erasers) erased[eraser.name] = await eraser.erase({ sandbox, warehouse, profileIds, identities });
    await warehouse.query(`DROP TABLE IF EXISTS ${KEYS}; CHECKPOINT`);
    return {
      records: perDataset,
      identities: nodes.length,
      links,
      profileRows,
      failedRecords: failedCount,
      unlinks: unlinkCount,
      ...erased,
    };
  }

  /** `KEYS` ← the person's records: via the record index, and by extraction in datasets the graph does not index. */
  private async collectKeys(context: GraphContext, nodes: number[], identities: IdentityRef[]): Promise<void> {
    const { warehouse } = context;
    const indexed = nodes.length ? `SELECT DISTINCT ds, snap, seq FROM ${RECORDS} WHERE node IN (${intList(nodes)})` : `SELECT NULL::VARCHAR AS ds, NULL::BIGINT AS snap, NULL::BIGINT AS seq WHERE false`;
    await warehouse.query(`CREATE OR REPLACE TABLE ${KEYS} AS ${indexed}`);
    const others = [];
    for (const dataset of await this.metadata.datasets.list(context.sandbox)) {
      if (context.sources.has(dataset.id)) continue;
      const schema = await this.graph.schemaOf(context.sandbox, dataset);
      if (hasIdentities(schema)) others.push({ source: { dataset, schema }, filter: {} });
    }
    const found = await recordsCarrying(warehouse, others, context.namespaces, context.state.settings, identities);
    if (found.length) await warehouse.query(`INSERT INTO ${KEYS} VALUES ${found.map((k) => `(${quoteLiteral(k.ds)}, ${k.snap}, ${k.seq})`).join(', ')}`);
  }

  /** One DELETE per dataset: rows located by (snapshot, write position), computed before anything moves. */
  private deleteDatasetRows(context: GraphContext, datasetIds: readonly string[], snapshots: ReadonlyMap<string, number[]>): string {
    return datasetIds
      .map((ds) => {
        const table = context.datasets.find((d) => d.id === ds)?.tableName;
        if (!table) return '';
        const keys = `SELECT snap, seq FROM ${KEYS} WHERE ds = ${quoteLiteral(ds)}`;
        return `DELETE FROM ${quoteIdent(table)} WHERE rowid IN (SELECT _rt_rowid FROM ${rowsAtSql(table, snapshots.get(ds) ?? [], keys)});`;
      })
      .join('\n');
  }

  /**
   * After the deleted records' index rows are gone: later records of the same snapshots move up by the number
   * of deleted records before them, as their rows did.
   */
  private renumber(table: string): string {
    return `UPDATE ${table} SET seq = ${table}.seq - s.by FROM (
        SELECT r.ds, r.snap, r.seq, count(*) AS by FROM (SELECT DISTINCT t.ds, t.snap, t.seq FROM ${table} t JOIN (SELECT DISTINCT ds, snap FROM ${KEYS}) a ON a.ds = t.ds AND a.snap = t.snap) r
        JOIN ${KEYS} k ON k.ds = r.ds AND k.snap = r.snap AND k.seq < r.seq GROUP BY r.ds, r.snap, r.seq
      ) s WHERE ${table}.ds = s.ds AND ${table}.snap = s.snap AND ${table}.seq = s.seq;`;
  }

  /**
   * Failed records keep the raw row as received: rows whose text holds one of the identity values (case
   * aside, as a whole word) go, and for phones rows whose digits hold the national number.
   */
  private async failedRecordsFilter(warehouse: SandboxWarehouse, identities: readonly IdentityRef[]): Promise<string | undefined> {
    if (!(await warehouse.listTables()).includes(FAILED_RECORDS_TABLE) || identities.length === 0) return undefined;
    const words = [...new Set(identities.map((i) => escapeRegex(i.id.toLowerCase())))];
    const text = `regexp_matches(lower(raw), ${quoteLiteral(`(^|[^a-z0-9_])(${words.join('|')})($|[^a-z0-9_])`)})`;
    const national = identities
      .map((i) => (i.id.startsWith('+') ? parsePhoneNumberFromString(i.id)?.nationalNumber : undefined))
      .filter((n): n is string => typeof n === 'string' && n.length >= 7);
    const digits = national.map((n) => `contains(regexp_replace(raw, '[^0-9]', '', 'g'), ${quoteLiteral(n)})`);
    return [text, ...digits].join(' OR ');
  }

  private unlinksFilter(identities: readonly IdentityRef[]): string {
    if (identities.length === 0) return 'false';
    const pairs = identities.map((i) => `(${quoteLiteral(i.namespace)}, ${quoteLiteral(i.id)})`).join(', ');
    return `EXISTS (SELECT 1 FROM (VALUES ${pairs}) p(ns, id) WHERE (p.ns = ns_a AND p.id = id_a) OR (p.ns = ns_b AND p.id = id_b))`;
  }

  private async countProfileRows(sandbox: string, warehouse: SandboxWarehouse, profileIds: readonly number[]): Promise<number> {
    if (profileIds.length === 0) return 0;
    const tables = new Set(await warehouse.listTables());
    let rows = 0;
    for (const policy of await this.policies.list(sandbox)) {
      if (!tables.has(policy.snapshotTable)) continue;
      const id = policy.idStitching === 'none' ? profileIds.slice(1) : profileIds.slice(0, 1);
      if (id.length === 0) continue;
      rows += Number((await warehouse.query(`SELECT count(*) AS n FROM ${quoteIdent(policy.snapshotTable)} WHERE ${PROFILE_ID} IN (${intList(id)})`)).rows[0]?.n ?? 0);
    }
    return rows;
  }

  private async remainingNotes(sandbox: string, warehouse: SandboxWarehouse): Promise<string[]> {
    const notes = [...((await this.hooks.remainingNotes?.(sandbox)) ?? [])];
    const staged = await readdir(warehouse.stagingDir).catch(() => [] as string[]);
    if (staged.length) notes.push(`${staged.length} file(s) are in the sandbox staging folder (uploads in progress); \`roundtrip sandbox compact\` removes those no load is using.`);
    return notes;
  }

  async job(sandbox: string, id: string): Promise<PrivacyJob> {
    const found = (await this.jobs(sandbox)).find((j) => j.id === id);
    if (!found) throw new RoundtripError('RT_PRIVACY_JOB_NOT_FOUND', `Privacy job "${id}" does not exist in this sandbox.`);
    return found;
  }

  async jobs(sandbox: string): Promise<PrivacyJob[]> {
    const warehouse = await this.warehouse.sandbox(sandbox);
    await warehouse.query(JOBS_DDL);
    const rows = await warehouse.query(`SELECT * FROM ${JOBS} ORDER BY requested_at DESC, id`);
    return rows.rows.map((r) => ({
      id: r.id as string,
      status: r.status as PrivacyJob['status'],
      namespace: r.namespace as string,
      requestedBy: r.requested_by as string,
      requestedAt: r.requested_at as string,
      completedAt: (r.completed_at as string | null) ?? null,
      removed: JSON.parse(r.removed as string) as Record<string, JsonValue>,
      notes: JSON.parse(r.notes as string) as string[],
      error: (r.error as string | null) ?? null,
    }));
  }

  private async saveJob(warehouse: SandboxWarehouse, job: PrivacyJob): Promise<void> {
    await warehouse.query(`INSERT INTO ${JOBS} VALUES ($id, $status, $ns, $by, $at::TIMESTAMPTZ, $done::TIMESTAMPTZ, $removed, $notes, $error)`, {
      id: job.id,
      status: job.status,
      ns: job.namespace,
      by: job.requestedBy,
      at: job.requestedAt,
      done: job.completedAt,
      removed: JSON.stringify(job.removed),
      notes: JSON.stringify(job.notes),
      error: job.error,
    });
  }

  /** Rewrites the sandbox's database into a fresh file, so pages freed by deletes are gone from disk. */
  async compact(actor: Principal, sandbox: string): Promise<CompactionResult> {
    const result = await this.compactLocked(sandbox);
    await this.audit.record(actor, { sandbox, action: 'sandbox.compact', resourceType: 'sandbox', resourceId: sandbox, details: { ...result } });
    return result;
  }

  private compactLocked(sandbox: string): Promise<CompactionResult> {
    return this.graph.withLock(sandbox, () => this.warehouse.compact(sandbox));
  }
}
