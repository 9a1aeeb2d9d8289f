/**
 * The unified profile: lookup by any identity under a merge policy, the person's events newest first (paged),
 * and the merge policies' lifecycle with their snapshot tables.
 *
 * A lookup first syncs the identity graph (so every acknowledged write is in), then reads the profile's row
 * from the policy's table through its index: the identity's node gives the profile id (its graph, or the node
 * itself without stitching). Events are found through the record index — anchors of the profile's identities
 * in profile-enabled ExperienceEvent datasets — and read back from their datasets by (snapshot, position).
 */
import type { Principal } from '../access/principal.ts';
import { RoundtripError } from '../core/errors.ts';
import type { GraphNode, IdentityGraph, IdentityRef, LookupContext } from '../identity/graph.ts';
import { NODES, RECORDS } from '../identity/store.ts';
import { rowsAtSql } from '../identity/positions.ts';
import { intList, quoteLiteral } from '../identity/sql.ts';
import type { MergePolicyRecord, MetadataStore } from '../ports/metadata-store.ts';
import { SYSTEM_COLUMNS, type JsonRecord, type JsonValue } from '../ports/warehouse.ts';
import type { MergePolicies } from './merge-policies.ts';
import { PROFILE_ID } from './merge-sql.ts';
import type { MergePolicyInput, MergePolicyPatchT } from './payloads.ts';
import type { ProfileStore, SnapshotInfo } from './profile-store.ts';

export interface EventItem {
  datasetId: string;
  ingestedAt: string;
  record: JsonRecord;
}

export interface EventPageT {
  profileId: number;
  events: EventItem[];
  next: string | null;
}

export interface ProfileViewT {
  profileId: number;
  mergePolicyId: string;
  identities: IdentityRef[];
  attributes: Record<string, JsonValue>;
  identityMap: Record<string, { id: string }[]>;
  segmentMembership: Record<string, JsonValue>;
  refreshedAt: string;
  events: EventPageT;
}

interface Cursor {
  /** Event time in microseconds since the epoch (exact, unlike an ISO string with milliseconds). */
  ts: number | null;
  ds: string;
  snap: number;
  seq: number;
}

const encodeCursor = (c: Cursor): string => Buffer.from(JSON.stringify([c.ts, c.ds, c.snap, c.seq])).toString('base64url');

function decodeCursor(text: string): Cursor {
  try {
    const [ts, ds, snap, seq] = JSON.parse(Buffer.from(text, 'base64url').toString()) as [number | null, string, number, number];
    if (typeof ds !== 'string' || !Number.isSafeInteger(snap) || !Number.isSafeInteger(seq)) throw new Error('shape');
    return { ts, ds, snap, seq };
  } catch {
    throw new RoundtripError('RT_REQUEST_INVALID', '`before` is not a cursor returned as `next` by this endpoint.');
  }
}

export interface ProfileReadHooks {
  /**
   * Runs before every read: makes writes acknowledged but not yet in the datasets land first (the streaming
   * service applies its log in groups, up to a second apart), so a read sees every acknowledged record.
   */
  beforeRead?(sandbox: string): Promise<void>;
}

export class Profiles {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly graph: IdentityGraph,
    readonly policies: MergePolicies,
    readonly store: ProfileStore,
    private readonly hooks: ProfileReadHooks = {},
  ) {}

  /** The merged profile of the person an identity belongs to, with their most recent events. */
  async lookup(sandbox: string, ref: IdentityRef, options: { mergePolicyId?: string; events?: number } = {}): Promise<ProfileViewT> {
    await this.hooks.beforeRead?.(sandbox);
    const policy = await this.policies.resolve(sandbox, options.mergePolicyId);
    if (policy.classId !== 'profile') throw new RoundtripError('RT_MERGE_POLICY_INVALID', `"${policy.name}" merges ExperienceEvents; a profile lookup needs a policy of the profile class.`);
    const { context, node } = await this.graph.resolve(sandbox, ref);
    await this.store.ensureCurrent(sandbox);
    const profileId = profileIdOf(policy, node);
    const row = await this.store.row(sandbox, policy, profileId);
    if (!row) throw new RoundtripError('RT_PROFILE_NOT_FOUND', `${ref.namespace} "${ref.id}" has no profile: no profile-enabled dataset holds a record of it.`, { profileId });
    const { [PROFILE_ID]: _id, identities, segmentMembership, _rt_refreshed_at: refreshedAt, ...attributes } = row;
    const list = (identities as IdentityRef[] | null) ?? [];
    return {
      profileId,
      mergePolicyId: policy.id,
      identities: list,
      attributes: attributes as Record<string, JsonValue>,
      identityMap: identityMapOf(list),
      segmentMembership: (segmentMembership as Record<string, JsonValue> | null) ?? {},
      refreshedAt: refreshedAt as string,
      events: await this.eventPage(context, policy, node, options.events ?? 0),
    };
  }

  /** The person's events, newest first (by event time), `limit` per page; `before` continues a previous page. */
  async events(sandbox: string, ref: IdentityRef, options: { mergePolicyId?: string; limit?: number; before?: string } = {}): Promise<EventPageT> {
    await this.hooks.beforeRead?.(sandbox);
    const policy = await this.policies.resolve(sandbox, options.mergePolicyId);
    const { context, node } = await this.graph.resolve(sandbox, ref);
    return this.eventPage(context, policy, node, options.limit ?? 50, options.before ? decodeCursor(options.before) : undefined);
  }

  private async eventPage(context: LookupContext, policy: MergePolicyRecord, node: GraphNode, limit: number, before?: Cursor): Promise<EventPageT> {
    const profileId = profileIdOf(policy, node);
    if (limit === 0) return { profileId, events: [], next: null };
    const { warehouse } = context;
    const nodes = policy.idStitching === 'none' ? [node.node] : (await warehouse.query(`SELECT node FROM ${NODES} WHERE graph = ${intList([node.graph])}`)).rows.map((r) => Number(r.node));
    const datasets = (await this.metadata.datasets.list(context.sandbox)).filter((d) => d.profileEnabled);
    if (nodes.length === 0 || datasets.length === 0) return { profileId, events: [], next: null };
    const at = before?.ts === null || before === undefined ? 'NULL' : intList([before.ts]);
    const after = before
      ? `AND (tus < ${at} OR (tus = ${at} AND (ds < $ds OR (ds = $ds AND (snap < ${before.snap} OR (snap = ${before.snap} AND seq < ${before.seq}))))))`
      : '';
    // The index on `node` is used only when it is the scan's sole filter: the other filters apply to its result.
    const hits = await warehouse.query(
      `WITH hit AS MATERIALIZED (SELECT * FROM ${RECORDS} WHERE node IN (${intList(nodes)}))
       SELECT ds, snap, seq, epoch_us(ts) AS tus FROM hit WHERE ord = 0 AND ts IS NOT NULL AND ds IN (${datasets.map((d) => quoteLiteral(d.id)).join(', ')}) ${after}
       ORDER BY tus DESC NULLS LAST, ds DESC, snap DESC, seq DESC LIMIT ${Math.trunc(limit) + 1}`,
      before ? { ds: before.ds } : undefined,
    );
    const page = hits.rows.slice(0, limit).map((r) => ({ ts: r.tus === null ? null : Number(r.tus), ds: r.ds as string, snap: Number(r.snap), seq: Number(r.seq) }));
    const tables = new Map(datasets.map((d) => [d.id, d.tableName]));
    const records = await this.fetchRecords(context, page, tables);
    const events = page.flatMap((c) => records.get(`${c.ds}/${c.snap}/${c.seq}`) ?? []);
    return { profileId, events, next: hits.rows.length > limit && page.length ? encodeCursor(page[page.length - 1]!) : null };
  }

  /** Reads records back by (dataset, snapshot, position), one query per dataset. */
  private async fetchRecords(context: LookupContext, keys: readonly Cursor[], tables: ReadonlyMap<string, string>): Promise<Map<string, EventItem>> {
    const out = new Map<string, EventItem>();
    const byDataset = new Map<string, Cursor[]>();
    for (const k of keys) byDataset.set(k.ds, [...(byDataset.get(k.ds) ?? []), k]);
    for (const [ds, list] of byDataset) {
      const table = tables.get(ds);
      if (!table) continue;
      const snaps = [...new Set(list.map((k) => k.snap))];
      const keys = `SELECT * FROM (VALUES ${list.map((k) => `(${intList([k.snap])}, ${intList([k.seq])})`).join(', ')}) k(snap, seq)`;
      const rows = await context.warehouse.query(`SELECT * FROM ${rowsAtSql(table, snaps, keys)}`);
      for (const row of rows.rows) {
        const { _rt_seq: seq, _rt_rowid: _rowid, _rt_snapshot_id: snap, _rt_ingested_at: ingestedAt, ...rest } = row;
        const record = Object.fromEntries(Object.entries(rest).filter(([k]) => !(SYSTEM_COLUMNS as readonly string[]).includes(k)));
        out.set(`${ds}/${Number(snap)}/${Number(seq)}`, { datasetId: ds, ingestedAt: ingestedAt as string, record });
      }
    }
    return out;
  }

  // Merge policies -----------------------------------------------------------------------------------------

  async createPolicy(actor: Principal, sandbox: string, input: MergePolicyInput): Promise<MergePolicyRecord> {
    const policy = await this.policies.create(actor, sandbox, input);
    if (policy.classId === 'profile') await this.store.refresh(sandbox, policy.id);
    return policy;
  }

  async updatePolicy(actor: Principal, sandbox: string, id: string, patch: MergePolicyPatchT): Promise<MergePolicyRecord> {
    const policy = await this.policies.update(actor, sandbox, id, patch);
    if (policy.classId === 'profile') await this.store.refresh(sandbox, policy.id);
    return policy;
  }

  async deletePolicy(actor: Principal, sandbox: string, id: string): Promise<void> {
    const policy = await this.policies.delete(actor, sandbox, id);
    await this.store.drop(sandbox, policy);
  }

  refreshSnapshots(sandbox: string, mergePolicyId?: string): Promise<SnapshotInfo[]> {
    return this.store.refresh(sandbox, mergePolicyId);
  }
}

/** XDM's identityMap shape (namespace → [{ id }]) of a profile's identity list. */
function identityMapOf(identities: readonly IdentityRef[]): Record<string, { id: string }[]> {
  const map: Record<string, { id: string }[]> = {};
  for (const { namespace, id } of identities) (map[namespace] ??= []).push({ id });
  return map;
}

export const profileIdOf = (policy: MergePolicyRecord, node: GraphNode): number => (policy.idStitching === 'none' ? node.node : node.graph);
