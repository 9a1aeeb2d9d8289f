/**
 * Profile attributes for the streaming fast path: per merge policy, the columns of `profile_snapshot_<policy>`
 * that the fast segments read (the top-level fields of the paths in their PQL, `features.profileAttributes`),
 * cached per profile. Missing profiles are read in batches (one query per 256 ids, through the `profile_id`
 * index); the profile store's change notification (`ProfileStore.onRowsChanged`) drops exactly the rewritten
 * profiles, so the next event of such a profile reads its row again. A load racing a notification does not
 * keep what it read for the profiles named meanwhile.
 */
import { intList, quoteIdent } from '../identity/sql.ts';
import type { MergePolicyRecord } from '../ports/metadata-store.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';

/** Row of a profile (the projected columns), or null when the profile table has no row for it. */
export type ProfileRow = Record<string, unknown> | null;

const CHUNK = 256;

interface PolicyRows {
  rows: Map<number, ProfileRow>;
  /** Columns the cache holds (a different projection reads everything again). */
  projection: string;
  /** Columns of the profile table, read once and again after a full rebuild. */
  columns: Set<string> | undefined;
  /** Profiles named by a notification while a load was reading (per running load). */
  racing: Set<Set<number>>;
  /** Bumped by a whole-table notification: loads that started before keep nothing. */
  epoch: number;
}

export class ProfileAttributes {
  private readonly policies = new Map<string, PolicyRows>();

  constructor(private readonly limit = 500_000) {}

  private policy(id: string): PolicyRows {
    let found = this.policies.get(id);
    if (!found) this.policies.set(id, (found = { rows: new Map(), projection: '', columns: undefined, racing: new Set(), epoch: 0 }));
    return found;
  }

  get(policyId: string, profileId: number): ProfileRow | undefined {
    return this.policies.get(policyId)?.rows.get(profileId);
  }

  /** The profile store rewrote these profiles' rows (or the whole table). */
  invalidate(policyId: string, ids: Iterable<number> | 'all'): void {
    const state = this.policies.get(policyId);
    if (!state) return;
    if (ids === 'all') {
      state.rows.clear();
      state.columns = undefined;
      state.epoch++;
      return;
    }
    const list = [...ids];
    for (const id of list) state.rows.delete(id);
    for (const r of state.racing) list.forEach((id) => r.add(id));
  }

  /** Reads the rows of the profiles not cached yet (`paths`: the dotted attribute paths the segments read). */
  async load(warehouse: SandboxWarehouse, policy: Pick<MergePolicyRecord, 'id' | 'snapshotTable'>, ids: readonly number[], paths: readonly string[]): Promise<void> {
    const state = this.policy(policy.id);
    if (!state.columns) {
      try {
        state.columns = new Set((await warehouse.query(`SELECT * FROM ${quoteIdent(policy.snapshotTable)} LIMIT 0`)).columns.map((c) => c.name));
      } catch (error) {
        // No profile table yet (nothing merged under this policy): every profile goes to the slow path.
        if (!/does not exist/i.test((error as Error).message)) throw error;
        return;
      }
    }
    const wanted = [...new Set(paths.map((p) => p.split('.')[0]!))].filter((c) => state.columns!.has(c) && c !== 'profile_id').sort();
    const projection = ['profile_id', ...wanted].map(quoteIdent).join(', ');
    if (projection !== state.projection) {
      state.rows.clear();
      state.projection = projection;
    }
    const missing = ids.filter((id) => !state.rows.has(id));
    if (missing.length === 0) return;
    const racing = new Set<number>();
    const epoch = state.epoch;
    state.racing.add(racing);
    try {
      const found = new Map<number, Record<string, unknown>>();
      for (let i = 0; i < missing.length; i += CHUNK) {
        const chunk = missing.slice(i, i + CHUNK);
        for (const r of (await warehouse.query(`SELECT ${projection} FROM ${quoteIdent(policy.snapshotTable)} WHERE profile_id IN (${intList(chunk)})`)).rows) found.set(Number(r.profile_id), r);
      }
      if (state.epoch !== epoch || projection !== state.projection) return;
      for (const id of missing) if (!racing.has(id)) state.rows.set(id, found.get(id) ?? null);
      while (state.rows.size > this.limit) state.rows.delete(state.rows.keys().next().value!);
    } finally {
      state.racing.delete(racing);
    }
  }
}
