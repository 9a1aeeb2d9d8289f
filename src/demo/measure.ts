/**
 * Measure (demo step 11): the post-campaign facts refreshed from the tracking events and the orders, and the
 * CDPInsights model of the accelerated store refreshed, so the dashboards have numbers; the counts are read
 * back from `campaign_facts` and `adwh_fact_clv_decile`.
 */
import { api, count, sql, type DemoContext, type Step } from './context.ts';

interface RefreshRun {
  status: string;
  mode: string;
  processDate: string;
  profilesRecomputed: number;
  error: { code: string; message: string } | null;
}

export const CLV_DECILE_FACTS = '"qsaccel.profile_agg".adwh_fact_clv_decile';

interface DashboardList {
  dashboards: { id: string; standard?: unknown }[];
}

/** Runs every widget of the standard dashboards (created on first read) and counts those that show rows. */
export async function dashboardWidgets(ctx: DemoContext): Promise<{ widgets: number; widgetsWithData: number }> {
  const { dashboards } = await api<DashboardList>(ctx, 'GET', '/dashboards');
  let widgets = 0;
  let widgetsWithData = 0;
  for (const dashboard of dashboards.filter((d) => d.standard)) {
    const view = await api<{ widgets: { id: string }[] }>(ctx, 'GET', `/dashboards/${dashboard.id}`);
    for (const widget of view.widgets) {
      widgets++;
      const data = await api<{ rows: unknown[] }>(ctx, 'GET', `/dashboards/${dashboard.id}/widgets/${widget.id}/data`);
      if (data.rows.length > 0) widgetsWithData++;
    }
  }
  return { widgets, widgetsWithData };
}

export const measureStep: Step = {
  name: 'measure',
  title: 'Refresh campaign facts and the CDPInsights model',
  fix: 'Rerun `POST /campaigns/facts/refresh` and `POST /insights/models/CDPInsights/refresh`; `GET /insights/refresh-runs` keeps the cause of a failed refresh.',
  async run(ctx) {
    const counts: Record<string, number> = {};
    const campaign = ctx.state.campaign;
    if (campaign) {
      await api(ctx, 'POST', '/campaigns/facts/refresh', { ordersDataset: 'Orders' });
      const row = (await sql(ctx, `SELECT coalesce(sum(sends), 0) AS sends, coalesce(sum(unique_opens), 0) AS opens, coalesce(sum(clicks), 0) AS clicks FROM campaign_facts WHERE campaign_id = '${campaign.id}'`))[0] ?? {};
      counts.factSends = Number(row.sends);
      counts.factOpens = Number(row.opens);
      counts.factClicks = Number(row.clicks);
    }
    const run = await api<RefreshRun>(ctx, 'POST', '/insights/models/CDPInsights/refresh', {});
    counts.profilesRecomputed = run.profilesRecomputed;
    counts.clvDecileProfiles = await count(ctx, `SELECT coalesce(sum(count_of_profiles), 0) FROM ${CLV_DECILE_FACTS} WHERE date_key = DATE '${run.processDate}'`);
    Object.assign(counts, await dashboardWidgets(ctx));
    return { counts, note: `insights ${run.mode} refresh for ${run.processDate}` };
  },
};
