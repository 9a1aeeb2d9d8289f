/**
 * Estimates and previews (reference §10.1, §10.3): an expression is evaluated on a sample of the profile
 * table chosen by the reference's policy — every profile under 1M, then 1M, then 5% above 20M — drawn with
 * DuckDB's `USING SAMPLE … (bernoulli, seed)`, which gives the same sample for the same table and seed. The
 * share that matches is scaled to the profile count, with a 95% Wilson interval (finite-population corrected,
 * so a full read has an exact answer). The matching sampled profiles are kept for a day as a paginated preview.
 *
 * Relative dates resolve at the estimate's `now`, like the reference's sample-job time.
 */
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { IdentityGraph } from '../identity/graph.ts';
import { quoteIdent, quoteLiteral } from '../identity/sql.ts';
import type { DatasetRecord, MergePolicyRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { MEMBERSHIP_VIEW } from './batch.ts';
import { prepare, toSql } from './engine.ts';
import { eventsRelationSql } from './events-relation.ts';
import { MEMBERSHIP_TABLE, ensureMembershipTables } from './membership-tables.ts';
import type { EstimateViewT } from './payloads.ts';

export const PREVIEW_KIND = 'segment-preview';
const PREVIEW_TABLE = '_rt_segment_previews';
const PREVIEW_DDL = `CREATE TABLE IF NOT EXISTS ${PREVIEW_TABLE} (preview_id VARCHAR NOT NULL, profile_id BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL)`;
const SAMPLE_SEED = 42;
const Z95 = 1.959963984540054;

/** The reference's sampling policy: how many of `total` profiles to read. */
export function sampleSizeFor(total: number): number {
  if (total < 1_000_000) return total;
  if (total <= 20_000_000) return 1_000_000;
  return Math.ceil(total * 0.05);
}

/**
 * 95% Wilson score interval for `matched` of `read` sampled from `total`, with the finite-population
 * correction (read = total gives the exact count). Returns the share's bounds and standard error.
 */
export function wilson(matched: number, read: number, total: number): { low: number; high: number; share: number; standardError: number } {
  if (read === 0) return { low: 0, high: 1, share: 0, standardError: 0 };
  const p = matched / read;
  const fpc = total > 1 ? Math.max(0, (total - read) / (total - 1)) : 0;
  const z2 = Z95 * Z95 * fpc;
  const denominator = 1 + z2 / read;
  const centre = (p + z2 / (2 * read)) / denominator;
  const half = (Math.sqrt(z2) * Math.sqrt((p * (1 - p)) / read + z2 / (4 * read * read))) / denominator;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half), share: p, standardError: Math.sqrt((p * (1 - p) * fpc) / read) };
}

export interface EstimateDeps {
  metadata: MetadataStore;
  audit: AuditLog;
  clock: Clock;
  graph: IdentityGraph;
}

export interface EstimateRequest {
  pql: string;
  policy: MergePolicyRecord;
  eventDatasets: readonly DatasetRecord[];
  sampleSize?: number;
}

export class Estimates {
  constructor(private readonly deps: EstimateDeps) {}

  /** Runs the sample job for an expression now; returns the estimate (the preview pages stay for a day). */
  async run(actor: Principal, sandbox: string, warehouse: SandboxWarehouse, request: EstimateRequest): Promise<EstimateViewT> {
    const prepared = prepare(request.pql);
    const started = performance.now();
    const now = this.deps.clock.now();
    const { policy } = request;
    await ensureMembershipTables(warehouse);
    await warehouse.query(PREVIEW_DDL);
    const previewId = newId('preview');
    const hasTable = (await warehouse.listTables()).includes(policy.snapshotTable);
    const total = hasTable ? Number((await warehouse.query(`SELECT count(*) AS n FROM ${quoteIdent(policy.snapshotTable)}`)).rows[0]?.n ?? 0) : 0;
    const wanted = Math.min(total, request.sampleSize ?? sampleSizeFor(total));
    const ratio = total === 0 ? 1 : wanted / total;
    let read = 0;
    let matched = 0;
    if (total > 0) {
      const session = await warehouse.openSession();
      try {
        const sample = ratio >= 1 ? '' : `USING SAMPLE ${(ratio * 100).toFixed(6)}% (bernoulli, ${SAMPLE_SEED})`;
        await session.query(`CREATE OR REPLACE TEMP TABLE _rt_aud_sample AS SELECT * FROM ${quoteIdent(policy.snapshotTable)} ${sample}`);
        const usesEvents = prepared.features.eventReferences > 0;
        const events = usesEvents
          ? `SELECT * FROM (${eventsRelationSql(policy, request.eventDatasets)}) WHERE profile_id IN (SELECT profile_id FROM _rt_aud_sample)`
          : eventsRelationSql(policy, []);
        await session.query(`CREATE OR REPLACE TEMP TABLE _rt_aud_sample_events AS ${events}`);
        await session.query(`CREATE OR REPLACE TEMP VIEW ${MEMBERSHIP_VIEW} AS SELECT segment_id, profile_id, status FROM ${MEMBERSHIP_TABLE} WHERE merge_policy_id = ${quoteLiteral(policy.id)}`);
        const predicate = toSql(prepared, { profileAlias: 'p', eventsTable: '_rt_aud_sample_events', membershipTable: MEMBERSHIP_VIEW, now });
        await session.query(`INSERT INTO ${PREVIEW_TABLE} SELECT ${quoteLiteral(previewId)}, p.profile_id, ${quoteLiteral(now.toISOString())}::TIMESTAMPTZ FROM _rt_aud_sample p WHERE ${predicate}`).catch((error: Error) => {
          throw new RoundtripError('RT_SEGMENT_EVALUATION_FAILED', `Evaluating the expression failed: ${error.message}`);
        });
        read = Number((await session.query(`SELECT count(*) AS n FROM _rt_aud_sample`)).rows[0]?.n ?? 0);
        matched = Number((await session.query(`SELECT count(*) AS n FROM ${PREVIEW_TABLE} WHERE preview_id = ${quoteLiteral(previewId)}`)).rows[0]?.n ?? 0);
      } finally {
        session.close();
      }
    }
    // Previews older than a day go; the pages are a convenience, not a record.
    await warehouse.query(`DELETE FROM ${PREVIEW_TABLE} WHERE created_at < ${quoteLiteral(new Date(now.getTime() - 86_400_000).toISOString())}::TIMESTAMPTZ`);
    const interval = wilson(matched, read, total);
    const view: EstimateViewT = {
      previewId,
      state: 'RESULT_READY',
      estimatedSize: Math.round(interval.share * total),
      estimatedNamespaceDistribution: [],
      numRowsToRead: read,
      profilesReadSoFar: read,
      profilesMatchedSoFar: matched,
      totalRows: total,
      standardError: Math.round(interval.standardError * total * 100) / 100,
      confidenceInterval: '95%',
      estimatedSizeRange: { low: Math.floor(interval.low * total), high: Math.ceil(interval.high * total) },
      sampling: { method: ratio >= 1 ? 'full' : 'bernoulli', seed: SAMPLE_SEED, ratio },
      runtimeMs: Math.round(performance.now() - started),
      now: now.toISOString(),
    };
    const at = isoNow(this.deps.clock);
    await this.deps.metadata.documents.create({ sandbox, kind: PREVIEW_KIND, id: previewId, parentId: null, body: { ...view, mergePolicyId: policy.id } as never, createdAt: at, updatedAt: at });
    await this.deps.audit.record(actor, { sandbox, action: 'segment.preview', resourceType: 'segment-preview', resourceId: previewId, details: { read, matched } });
    return view;
  }

  async get(sandbox: string, previewId: string): Promise<EstimateViewT & { mergePolicyId: string }> {
    const found = await this.deps.metadata.documents.get(sandbox, PREVIEW_KIND, previewId);
    if (!found) throw new RoundtripError('RT_SEGMENT_PREVIEW_NOT_FOUND', `No preview or estimate has the id "${previewId}" in sandbox ${sandbox}.`, { previewId });
    return found.body as unknown as EstimateViewT & { mergePolicyId: string };
  }

  /** A page of the matching sampled profiles, by profile id: identities and attributes. */
  async page(sandbox: string, warehouse: SandboxWarehouse, policy: MergePolicyRecord, previewId: string, offset: number, limit: number): Promise<{ results: Record<string, unknown>[]; totalCount: number }> {
    await warehouse.query(PREVIEW_DDL);
    const totalCount = Number((await warehouse.query(`SELECT count(*) AS n FROM ${PREVIEW_TABLE} WHERE preview_id = $id`, { id: previewId })).rows[0]?.n ?? 0);
    if (!(await warehouse.listTables()).includes(policy.snapshotTable)) return { results: [], totalCount };
    const rows = await warehouse.query(
      `SELECT t.* EXCLUDE ("segmentMembership", _rt_refreshed_at) FROM (SELECT profile_id FROM ${PREVIEW_TABLE} WHERE preview_id = $id ORDER BY profile_id LIMIT ${Math.trunc(limit)} OFFSET ${Math.trunc(offset)}) s
       JOIN ${quoteIdent(policy.snapshotTable)} t ON t.profile_id = s.profile_id ORDER BY t.profile_id`,
      { id: previewId },
    );
    const results = rows.rows.map(({ profile_id, identities, ...attributes }) => ({ profileId: Number(profile_id), identities, attributes }));
    return { results, totalCount };
  }
}
