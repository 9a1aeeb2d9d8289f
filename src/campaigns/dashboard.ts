/**
 * The post-campaign standard dashboard (reference §14): the post-campaign widgets of `CAMPAIGN_WIDGETS` as
 * query-pro widgets over the CampaignInsights tables, with a global filter "Campaign" (all campaigns when
 * nothing is chosen). `Campaigns.connect` registers it with `platform.dashboards.addStandardDashboard`, so every
 * sandbox gets it (`dsh_std_post-campaign`) the first time its dashboards are read.
 */
import type { DashboardCreateT } from '../dashboards/payloads.ts';
import type { StandardDashboard } from '../dashboards/standard.ts';
import { CAMPAIGN_WIDGETS, type WidgetDefinition } from './analysis.ts';
import { CAMPAIGN_DIM } from './facts.ts';

type Widget = NonNullable<DashboardCreateT['widgets']>[number];
type QueryPro = NonNullable<Widget['queryPro']>;

export const POST_CAMPAIGN_DASHBOARD_KEY = 'post-campaign';
const CAMPAIGN_FILTER_ID = 'campaign';

/** Grid places: the two charts side by side, the three big numbers under them, the results table last. */
const LAYOUT: Record<string, { x: number; y: number; w: number; h: number }> = {
  'emails-opened-by-audience-and-campaign': { x: 0, y: 0, w: 6, h: 4 },
  'email-opened-by-campaign-buckets': { x: 6, y: 0, w: 6, h: 4 },
  'campaign-emails-sent': { x: 0, y: 4, w: 4, h: 2 },
  'campaign-open-rate': { x: 4, y: 4, w: 4, h: 2 },
  'campaign-click-through-rate': { x: 8, y: 4, w: 4, h: 2 },
  'campaign-results': { x: 0, y: 6, w: 12, h: 4 },
};

function queryPro(widget: WidgetDefinition): QueryPro {
  const { roles } = widget;
  const base: QueryPro = { sql: widget.sql, marks: widget.mark, filterLinks: [{ filterId: CAMPAIGN_FILTER_ID, param: 'CAMPAIGN_FILTER' }] };
  if (widget.mark === 'bar') return { ...base, encoding: { x: roles.x!, y: [roles.y!], ...(roles.color ? { color: roles.color } : {}) } };
  if (widget.mark === 'big-number') return { ...base, encoding: { value: roles.value! } };
  if (widget.mark === 'table') return { ...base, table: { defaultSort: { column: roles.sort!, direction: 'desc' } } };
  return base;
}

export const postCampaignDashboard: StandardDashboard = {
  key: POST_CAMPAIGN_DASHBOARD_KEY,
  build: () => ({
    name: 'Post-campaign analysis',
    description: 'Emails opened by audience and campaign, open rate by CLV decile bucket, emails sent, open rate, click-through rate and campaign results, treated members only (CampaignInsights).',
    mode: 'query-pro',
    filters: [{ id: CAMPAIGN_FILTER_ID, label: 'Campaign', sql: `SELECT campaign_id AS id, campaign_name AS value\nFROM ${CAMPAIGN_DIM}\nORDER BY sent_at DESC NULLS LAST, campaign_name` }],
    widgets: CAMPAIGN_WIDGETS.map((w) => ({
      title: w.title,
      layout: LAYOUT[w.id]!,
      ...(w.mark === 'bar' ? { properties: { axisLabels: { x: w.roles.x === 'audience_name' ? 'Audience' : 'CLV decile (1 = highest)', y: w.roles.y === 'open_rate' ? 'Open rate' : 'Emails opened' } } } : {}),
      queryPro: queryPro(w),
    })),
  }),
};
