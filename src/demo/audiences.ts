/**
 * Audiences (demo step 8): the standard CLV audiences in PQL — the top three revenue deciles of the last twelve
 * months per loyalty tier (`decilesRevenue.decileMonth12.get("GOLD") <= 3`), and the at-risk high-value
 * customers (top three lifetime deciles of their tier, P(alive) below one half) — created as batch audiences
 * and evaluated by one segment job. Members are counted from the membership table afterwards.
 */
import { RoundtripError } from '../core/errors.ts';
import { MEMBERSHIP_TABLE } from '../audiences/membership-tables.ts';
import { TIERS } from '../synthetic/vocabulary.ts';
import { api, count, need, type Audience, type DemoContext, type Step } from './context.ts';

export interface AudienceSpec {
  key: string;
  name: string;
  description: string;
  pql: string;
}

/** The tiers whose top deciles get an audience (the two the marketing team acts on). */
export const TOP_TIERS = ['GOLD', 'SILVER'] as const;
export const AT_RISK_KEY = 'at-risk';
export const AT_RISK_P_ALIVE = 0.5;

export function standardAudiences(tenant: string): AudienceSpec[] {
  const t = `_${tenant}`;
  const topOfTier = (tier: string, window: string): string => `${t}.decilesRevenue.${window}.get("${tier}") <= 3`;
  return [
    ...TOP_TIERS.map((tier) => ({
      key: `top-${tier.toLowerCase()}`,
      name: `Top CLV deciles · ${tier}`,
      description: `${tier} members in the top three revenue deciles of their tier over the last 12 months`,
      pql: topOfTier(tier, 'decileMonth12'),
    })),
    {
      key: AT_RISK_KEY,
      name: 'At-risk high-value customers',
      description: `Top three lifetime revenue deciles of their tier, but P(alive) below ${AT_RISK_P_ALIVE}`,
      pql: `(${TIERS.map((tier) => topOfTier(tier, 'decileMonthAll')).join(' or ')}) and ${t}.clvPrediction.probabilityAlive < ${AT_RISK_P_ALIVE}`,
    },
  ];
}

interface JobView {
  id: string;
  status: string;
  errors?: { code?: string; msg?: string }[];
  metrics?: { segmentedProfileCounter?: Record<string, number> };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForJob(ctx: DemoContext, id: string): Promise<JobView> {
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    const job = await api<JobView>(ctx, 'GET', `/segment/jobs/${id}`);
    if (job.status === 'SUCCEEDED' || job.status === 'FAILED' || job.status === 'CANCELLED') return job;
    await sleep(delay);
  }
}

export const audiencesStep: Step = {
  name: 'audiences',
  title: 'Build and evaluate the standard CLV audiences',
  fix: 'Check the PQL with `POST /preview`; `GET /segment/jobs` shows the failed job and its error.',
  async run(ctx) {
    const policy = need(ctx, 'policy');
    const audiences: Audience[] = [];
    for (const spec of standardAudiences(ctx.config.tenant)) {
      const created = await api<{ id: string }>(ctx, 'POST', '/segment/definitions', {
        name: spec.name,
        description: spec.description,
        expression: { type: 'PQL', format: 'pql/text', value: spec.pql },
        evaluationInfo: { batch: { enabled: true }, continuous: { enabled: false }, synchronous: { enabled: false } },
        mergePolicyId: policy.id,
      });
      audiences.push({ id: created.id, key: spec.key, name: spec.name, pql: spec.pql, members: 0 });
    }
    ctx.progress(`  ${audiences.length} audiences defined; evaluating them in one segment job`);
    const job = await api<JobView>(ctx, 'POST', '/segment/jobs', audiences.map((a) => ({ segmentId: a.id })));
    const done = await waitForJob(ctx, job.id);
    if (done.status !== 'SUCCEEDED') throw new RoundtripError((done.errors?.[0]?.code ?? 'RT_SEGMENT_EVALUATION_FAILED') as 'RT_INTERNAL', `Segment job ${job.id} ended ${done.status}: ${done.errors?.[0]?.msg ?? ''}`);
    const counts: Record<string, number> = {};
    for (const audience of audiences) {
      audience.members = await count(ctx, `SELECT count(*) FROM ${MEMBERSHIP_TABLE} WHERE segment_id = '${audience.id}' AND merge_policy_id = '${policy.id}' AND status = 'realized'`);
      counts[audience.key] = audience.members;
    }
    ctx.state.audiences = audiences;
    return { counts, note: `job ${job.id}` };
  },
};
