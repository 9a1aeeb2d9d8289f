/**
 * Resolve (demo step 5): the identity graph applies every committed snapshot (batches and the streamed tail)
 * in one sync, and the default merge policy's profile table follows it; the counts come from the graph's
 * stats and the profile table itself.
 */
import { quoteIdent } from '../identity/sql.ts';
import { count, need, SANDBOX, type DemoContext, type Step } from './context.ts';

/** Brings the graph and every profile table up to the datasets (new datasets included). */
export async function syncProfiles(ctx: DemoContext): Promise<number> {
  const platform = need(ctx, 'platform');
  await platform.identity.sync(SANDBOX);
  await platform.profileStore.ensureCurrent(SANDBOX);
  return count(ctx, `SELECT count(*) FROM ${quoteIdent(need(ctx, 'policy').snapshotTable)}`);
}

export const resolveStep: Step = {
  name: 'resolve',
  title: 'Resolve identities into profiles',
  fix: 'Run `roundtrip identity stats`; `roundtrip identity rebuild` rebuilds the graph from the datasets.',
  async run(ctx) {
    const platform = need(ctx, 'platform');
    // The default policy exists before the sync, so the sync builds its table.
    ctx.state.policy = await platform.mergePolicies.resolve(SANDBOX);
    ctx.progress('  linking identities and merging profiles (one bulk sync)');
    const profiles = await syncProfiles(ctx);
    const stats = await platform.identity.stats(SANDBOX);
    const refused = Object.values(stats.refusedLinks).reduce((a, b) => a + b, 0);
    return { counts: { identities: stats.identities, graphs: stats.graphs, profiles, largestGraph: stats.largestGraph, refusedLinks: refused }, note: `table ${ctx.state.policy.snapshotTable}` };
  },
};
