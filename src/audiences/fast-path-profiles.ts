/**
 * Profile attributes for the streaming fast path: per merge policy, the columns of `profile_snapshot_<policy>`
 * that the fast segments read (the top-level fields of the paths in their PQL, `features.profileAttributes`),
 * cached per profile: preloaded for every profile when the fast segments are known (`preload`), and read in
 * batches for what is missing (one query per 256 ids, through the `profile_id` index). The profile store's
 * change notification (`ProfileStore.onRowsChanged`) drops exactly the rewritten profiles (the fast path reads
 * them again in the background), so no decision uses a row older than the profile table. A load racing a notification does not
 * keep what it read for the profiles named meanwhile.
 */
import { intList, quoteIdent } from '../identity/sql.ts';
import type { MergePolicyRecord } from '../ports/metadata-store.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';

/** Row of a profile (the projected columns), or null when the profile table has no row for it. */
export type ProfileRow = Record<string, unknown> | null;

const CHUNK = 256;
/** Profile ids per preload query. */
const PRELOAD_CHUNK = 100_000;

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
  /** Every row of this projection was read since the last whole-table notification (a preload again reads nothing new). */
  preloaded: boolean;
}

export class ProfileAttributes {
  private readonly policies = new Map<string, PolicyRows>();

  constructor(private readonly limit = 2_000_000) {}

  private policy(id: string): PolicyRows {
    let found = this.policies.get(id);
    if (!found) this.policies.set(id, (found = { rows: new Map(), projection: '', columns: undefined, racing: new Set(), epoch: 0, preloaded: false }));
    return found;
  }

  get(policyId: string, profileId: number): ProfileRow | undefined {
    return this.policies.get(policyId)?.rows.get(profileId);
  }

  /** The profile store rewrote these profiles' rows (or the whole table); returns the ids that were held (to read again). */
  invalidate(policyId: string, ids: Iterable<number> | 'all'): number[] {
    const state = this.policies.get(policyId);
    if (!state) return [];
    if (ids === 'all') {
      state.rows.clear();
      state.columns = undefined;
      state.epoch++;
      state.preloaded = false;
      return [];
    }
    const list = [...ids];
    const held = list.filter((id) => state.rows.delete(id));
    for (const r of state.racing) list.forEach((id) => r.add(id));
    return held;
  }

  /**
   * The projection of the columns the segments read (`paths`: dotted attribute paths), or undefined when the
   * policy has no profile table yet (nothing merged under it: every profile goes to the slow path).
   */
  private async projection(warehouse: SandboxWarehouse, policy: Pick<MergePolicyRecord, 'id' | 'snapshotTable'>, paths: readonly string[]): Promise<string | undefined> {
    const state = this.policy(policy.id);
    if (!state.columns) {
      try {
        state.columns = new Set((await warehouse.query(`SELECT * FROM ${quoteIdent(policy.snapshotTable)} LIMIT 0`)).columns.map((c) => c.name));
      } catch (error) {
        if (!/does not exist/i.test((error as Error).message)) throw error;
        return undefined;
      }
    }
    const wanted = [...new Set(paths.map((p) => p.split('.')[0]!))].filter((c) => state.columns!.has(c) && c !== 'profile_id').sort();
    const projection = ['profile_id', ...wanted].map(quoteIdent).join(', ');
    if (projection !== state.projection) {
      state.rows.clear();
      state.preloaded = false;
      state.projection = projection;
    }
    return projection;
  }

  /**
   * Reads rows by the filters given (each one query) and keeps them, except for the profiles a notification
   * named meanwhile; `all` also keeps "no row" (null) for the ids asked for that have none.
   */
  private async read(warehouse: SandboxWarehouse, policy: Pick<MergePolicyRecord, 'id' | 'snapshotTable'>, projection: string, filters: readonly string[], asked: readonly number[]): Promise<void> {
    const state = this.policy(policy.id);
    const racing = new Set<number>();
    const epoch = state.epoch;
    state.racing.add(racing);
    try {
      const found = new Map<number, Record<string, unknown>>();
      for (const where of filters) {
        for (const r of (await warehouse.query(`SELECT ${projection} FROM ${quoteIdent(policy.snapshotTable)} WHERE ${where}`)).rows) found.set(Number(r.profile_id), r);
        if (state.epoch !== epoch || projection !== state.projection) return;
        for (const [id, row] of found) if (!racing.has(id) && state.rows.size < this.limit) state.rows.set(id, row);
        found.clear();
      }
      for (const id of asked) if (!racing.has(id) && !state.rows.has(id)) state.rows.set(id, null);
      while (state.rows.size > this.limit) state.rows.delete(state.rows.keys().next().value!);
    } finally {
      state.racing.delete(racing);
    }
  }

  /** Reads the rows of the profiles not cached yet (`paths`: the dotted attribute paths the segments read). */
  async load(warehouse: SandboxWarehouse, policy: Pick<MergePolicyRecord, 'id' | 'snapshotTable'>, ids: readonly number[], paths: readonly string[]): Promise<void> {
    const projection = await this.projection(warehouse, policy, paths);
    if (projection === undefined) return;
    const state = this.policy(policy.id);
    const missing = ids.filter((id) => !state.rows.has(id));
    if (missing.length === 0) return;
    const filters: string[] = [];
    for (let i = 0; i < missing.length; i += CHUNK) filters.push(`profile_id IN (${intList(missing.slice(i, i + CHUNK))})`);
    await this.read(warehouse, policy, projection, filters, missing);
  }

  /**
   * Reads every profile's row (up to the limit) in ranges of profile ids, so that the first event of every
   * known profile decides from memory; the profile store's notifications keep it true afterwards.
   */
  async preload(warehouse: SandboxWarehouse, policy: Pick<MergePolicyRecord, 'id' | 'snapshotTable'>, paths: readonly string[]): Promise<void> {
    const projection = await this.projection(warehouse, policy, paths);
    const state = this.policy(policy.id);
    if (projection === undefined || state.preloaded) return;
    const epoch = state.epoch;
    const bounds = (await warehouse.query(`SELECT min(profile_id) AS lo, max(profile_id) AS hi FROM ${quoteIdent(policy.snapshotTable)}`)).rows[0];
    if (bounds?.lo === null || bounds?.lo === undefined) return;
    const filters: string[] = [];
    for (let lo = Number(bounds.lo); lo <= Number(bounds.hi); lo += PRELOAD_CHUNK) filters.push(`profile_id >= ${lo} AND profile_id < ${lo + PRELOAD_CHUNK}`);
    await this.read(warehouse, policy, projection, filters, []);
    // Rows rewritten since are dropped one by one (and read again), so the preload stays good until a rebuild.
    state.preloaded = state.epoch === epoch && state.projection === projection;
  }
}
