/**
 * Post-campaign analysis: the facts refresh (with its consent sync), uplift of treated vs holdout, the change in
 * predicted CLV, and the reference's post-campaign widgets as SQL over the CampaignInsights tables of the
 * accelerated store (`qsaccel.campaign_agg`, `facts.ts`), run as accelerated queries (`platform.insights`) and
 * published as the standard dashboard `post-campaign` (`dashboard.ts`).
 *
 * Uplift is intention-to-treat: every eligible member (an address and no opt-out) of the treated group counts,
 * opened or not, against the eligible members of the holdout, over the same window after the send
 * (`attributionDays`). That is what the holdout was drawn for; attribution by opens and clicks (the facts) is
 * the descriptive view next to it.
 */
import { authorize, type Principal } from '../access/principal.ts';
import { profileColumns } from '../activation/exporter.ts';
import { RoundtripError } from '../core/errors.ts';
import type { IdentityGraph } from '../identity/graph.ts';
import { quoteIdent, quoteLiteral } from '../identity/sql.ts';
import type { DatasetRecord, MergePolicyRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { JsonRecord, JsonValue, SandboxWarehouse } from '../ports/warehouse.ts';
import type { MergePolicies } from '../profile/merge-policies.ts';
import type { ProfileStore } from '../profile/profile-store.ts';
import { syncConsent } from './consent.ts';
import { AUDIENCE_DIM, CAMPAIGN_DIM, CAMPAIGN_SCHEMA, ensureFactTables, FACTS, ordersByProfileSql, ordersSource, refreshFacts, type OrdersSource } from './facts.ts';
import type { RefreshResultT, UpliftViewT } from './payloads.ts';
import { columnPath, type CampaignRecord, type CampaignService } from './service.ts';
import { LEDGER, type CampaignStore } from './store.ts';
import { moments, proportionDifference, welchDifference, type Interval, type Moments } from './uplift.ts';

/** The dataset orders are read from unless a call names another. */
export const DEFAULT_ORDERS_DATASET = 'Orders';
/** Where audience names come from (src/audiences/definitions.ts). */
const SEGMENT_DEFINITION_KIND = 'segment-definition';

/** What the analysis needs from `platform.insights` (given by `Campaigns.connect`): accelerated queries and their cache. */
export interface InsightsHook {
  query(principal: Principal, sandbox: string, request: { sql: string }): Promise<{ rows: Record<string, JsonValue>[] }>;
  accelerated: { invalidate(sandbox: string, tables: readonly string[]): void };
}

export interface AnalysisDeps {
  metadata: MetadataStore;
  store: CampaignStore;
  campaigns: CampaignService;
  identity: IdentityGraph;
  mergePolicies: MergePolicies;
  profileStore: ProfileStore;
  tenantKey: string;
}

export interface GroupStats {
  n: number;
  converters: number;
  revenue: Moments & { sum: number };
}

/** Per-profile outcomes → the two groups' numbers and the intervals (pure; the property test drives it). */
/** Treated against holdout; intervals may hold NaN where a group is too small (the API turns those into null). */
export function upliftFromGroups(
  treated: GroupStats,
  holdout: GroupStats,
): Pick<UpliftViewT, 'treated' | 'holdout'> & { conversion: Interval; revenuePerProfile: Interval & { df: number } } {
  const view = (g: GroupStats) => ({
    profiles: g.n,
    converters: g.converters,
    conversionRate: g.n ? g.converters / g.n : 0,
    revenue: g.revenue.sum,
    revenuePerProfile: g.n ? g.revenue.sum / g.n : 0,
  });
  return {
    treated: view(treated),
    holdout: view(holdout),
    conversion: proportionDifference(treated.converters, treated.n, holdout.converters, holdout.n),
    revenuePerProfile: welchDifference(treated.revenue, holdout.revenue),
  };
}

export function groupStats(outcomes: readonly { converted: boolean; revenue: number }[]): GroupStats {
  const revenue = outcomes.map((o) => o.revenue);
  return { n: outcomes.length, converters: outcomes.filter((o) => o.converted).length, revenue: { ...moments(revenue), sum: revenue.reduce((s, v) => s + v, 0) } };
}

export interface WidgetDefinition {
  id: string;
  title: string;
  /** Query pro mode mark: bar, line, donut, big-number, table. */
  mark: 'bar' | 'line' | 'donut' | 'big-number' | 'table';
  roles: Record<string, string>;
  sql: string;
}

const DATE_FILTER = `f.date_key BETWEEN CAST('$START_DATE' AS DATE) AND CAST('$END_DATE' AS DATE)`;
/**
 * `$CAMPAIGN_FILTER` is a list of campaign id literals, or NULL for all campaigns: the dashboard's global filter
 * "Campaign" fills it (a query-pro `param` link), `widgetSql` fills it for `GET /campaigns/widgets/{id}`.
 */
const CAMPAIGN_FILTER = `(coalesce($CAMPAIGN_FILTER) IS NULL OR f.campaign_id IN ($CAMPAIGN_FILTER))`;
const treatedIn = `f.treatment = 'treated' AND ${DATE_FILTER} AND ${CAMPAIGN_FILTER}`;
const withCampaign = `FROM ${FACTS} f JOIN ${CAMPAIGN_DIM} d ON d.campaign_id = f.campaign_id`;

/** The reference's post-campaign widgets (§1, §14), over the CampaignInsights tables. */
export const CAMPAIGN_WIDGETS: readonly WidgetDefinition[] = [
  {
    id: 'emails-opened-by-audience-and-campaign',
    title: 'Emails opened by audience and campaign',
    mark: 'bar',
    roles: { x: 'audience_name', y: 'emails_opened', color: 'campaign_name' },
    sql: `SELECT coalesce(a.audience_name, f.audience_id, 'unknown') AS audience_name, d.campaign_name, sum(f.unique_opens) AS emails_opened
${withCampaign}
LEFT JOIN ${AUDIENCE_DIM} a ON a.audience_id = f.audience_id
WHERE ${treatedIn}
GROUP BY 1, 2 ORDER BY 1, 2`,
  },
  {
    id: 'email-opened-by-campaign-buckets',
    title: 'Email opened by campaign buckets (CLV decile)',
    mark: 'bar',
    roles: { x: 'decile_bucket', y: 'open_rate', color: 'campaign_name' },
    sql: `SELECT d.campaign_name, coalesce(CAST(f.clv_decile AS VARCHAR), 'none') AS decile_bucket, sum(f.unique_opens) AS emails_opened,
  sum(f.deliveries) AS emails_delivered, round(sum(f.unique_opens) / nullif(sum(f.deliveries), 0), 4) AS open_rate
${withCampaign}
WHERE ${treatedIn}
GROUP BY 1, 2 ORDER BY 1, min(f.clv_decile) NULLS LAST`,
  },
  {
    id: 'campaign-emails-sent',
    title: 'Emails sent',
    mark: 'big-number',
    roles: { value: 'emails_sent' },
    sql: `SELECT coalesce(sum(f.sends), 0) AS emails_sent FROM ${FACTS} f WHERE ${treatedIn}`,
  },
  {
    id: 'campaign-open-rate',
    title: 'Open rate (people, privacy-proxy opens excluded)',
    mark: 'big-number',
    roles: { value: 'open_rate' },
    sql: `SELECT round(coalesce(sum(f.unique_opens) / nullif(sum(f.deliveries), 0), 0), 4) AS open_rate FROM ${FACTS} f WHERE ${treatedIn}`,
  },
  {
    id: 'campaign-click-through-rate',
    title: 'Click-through rate',
    mark: 'big-number',
    roles: { value: 'click_through_rate' },
    sql: `SELECT round(coalesce(sum(f.unique_clicks) / nullif(sum(f.deliveries), 0), 0), 4) AS click_through_rate FROM ${FACTS} f WHERE ${treatedIn}`,
  },
  {
    id: 'campaign-results',
    title: 'Campaign results',
    mark: 'table',
    roles: { sort: 'revenue' },
    sql: `SELECT d.campaign_name, sum(f.sends) AS sends, sum(f.deliveries) AS deliveries, sum(f.bounces) AS bounces, sum(f.unique_opens) AS unique_opens,
  sum(f.unique_clicks) AS unique_clicks, sum(f.unsubscribes) AS unsubscribes, sum(f.purchases) AS purchases, round(sum(f.revenue), 2) AS revenue
${withCampaign}
WHERE ${treatedIn}
GROUP BY 1 ORDER BY revenue DESC, 1`,
  },
];

export interface WidgetParams {
  startDate?: string;
  endDate?: string;
  campaignId?: string;
}

/** The widget's SQL with its parameters filled (checked: dates, ids), ready for the warehouse. */
export function widgetSql(id: string, params: WidgetParams = {}): string {
  const widget = CAMPAIGN_WIDGETS.find((w) => w.id === id);
  if (!widget) throw new RoundtripError('RT_CAMPAIGN_INVALID', `No campaign widget "${id}"; known: ${CAMPAIGN_WIDGETS.map((w) => w.id).join(', ')}.`);
  const date = (value: string | undefined, fallback: string) => {
    const v = value ?? fallback;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new RoundtripError('RT_CAMPAIGN_INVALID', `Dates are YYYY-MM-DD, not ${v}.`);
    return v;
  };
  const campaign = params.campaignId ?? '';
  if (!/^[\w-]*$/.test(campaign)) throw new RoundtripError('RT_CAMPAIGN_INVALID', `Not a campaign id: ${campaign}.`);
  return widget.sql
    .replaceAll('$START_DATE', date(params.startDate, '1970-01-01'))
    .replaceAll('$END_DATE', date(params.endDate, '9999-12-31'))
    .replaceAll('$CAMPAIGN_FILTER', campaign ? quoteLiteral(campaign) : 'NULL');
}

/** NaN and ±Infinity (a statistic a group is too small for) become null, which JSON can carry. */
export function estimatesOnly<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))) as T;
}

export class CampaignAnalysis {
  /** Accelerated queries and their cache (`platform.insights`), once `Campaigns.connect` gave them. */
  insights: InsightsHook | undefined;

  private readonly running = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: AnalysisDeps) {}

  /** One refresh (or uplift computation) per sandbox at a time in this process. */
  private serial<T>(sandbox: string, work: () => Promise<T>): Promise<T> {
    const previous = this.running.get(sandbox) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.running.set(sandbox, next);
    return next;
  }

  private async orders(warehouse: SandboxWarehouse, sandbox: string, ref: string | undefined): Promise<OrdersSource | undefined> {
    const name = ref ?? DEFAULT_ORDERS_DATASET;
    const dataset: DatasetRecord | undefined =
      (await this.deps.metadata.datasets.get(sandbox, name)) ?? (await this.deps.metadata.datasets.getByName(sandbox, name)) ?? (await this.deps.metadata.datasets.getByTable(sandbox, name));
    if (!dataset && ref) throw new RoundtripError('RT_DATASET_NOT_FOUND', `Orders dataset "${ref}" does not exist in this sandbox.`);
    return ordersSource(warehouse, dataset);
  }

  private async policies(sandbox: string, warehouse: SandboxWarehouse): Promise<MergePolicyRecord[]> {
    const ids = (await warehouse.query(`SELECT DISTINCT merge_policy_id FROM ${LEDGER}`)).rows.map((r) => r.merge_policy_id as string);
    return (await this.deps.mergePolicies.list(sandbox)).filter((p) => ids.includes(p.id));
  }

  /** Brings everything the analysis reads up to date: streamed events applied, consent synced, graph followed. */
  private async prepare(sandbox: string): Promise<{ warehouse: SandboxWarehouse; consentUpdates: number }> {
    const { store } = this.deps;
    const warehouse = await store.warehouseOf(sandbox);
    await store.setup(sandbox);
    await store.flush();
    const consentUpdates = await syncConsent(store, sandbox, this.deps.tenantKey);
    if (consentUpdates) await store.flush();
    await this.deps.identity.sync(sandbox);
    return { warehouse, consentUpdates };
  }

  /** Audience id → name, from the segment definitions. */
  private async audienceNames(sandbox: string): Promise<Map<string, string>> {
    const docs = await this.deps.metadata.documents.list<{ name?: string } & Record<string, JsonValue>>(sandbox, SEGMENT_DEFINITION_KIND);
    return new Map(docs.filter((d) => typeof d.body.name === 'string').map((d) => [d.id, d.body.name!]));
  }

  /**
   * Incremental refresh of the CampaignInsights store (and the `campaign.refresh` job): one transaction, then
   * the accelerated-query cache forgets results that read the tables it wrote.
   */
  refresh(actor: Principal, sandbox: string, options: { ordersDataset?: string } = {}): Promise<RefreshResultT> {
    authorize(actor, 'activation:write', sandbox);
    return this.serial(sandbox, async () => {
      const { warehouse, consentUpdates } = await this.prepare(sandbox);
      await ensureFactTables(warehouse);
      const session = await warehouse.openSession();
      try {
        const outcome = await refreshFacts({
          warehouse: session,
          tracking: await this.deps.store.trackingDataset(sandbox),
          tenantKey: this.deps.tenantKey,
          campaigns: await this.deps.campaigns.list(sandbox),
          policies: await this.policies(sandbox, warehouse),
          orders: await this.orders(warehouse, sandbox, options.ordersDataset),
          audienceNames: await this.audienceNames(sandbox),
        });
        if (outcome.tablesWritten.length) this.insights?.accelerated.invalidate(sandbox, outcome.tablesWritten);
        return { ...outcome, consentUpdates, table: FACTS };
      } finally {
        session.close();
      }
    });
  }

  /** Conversion and revenue per eligible member, treated vs holdout, within the window after the send; CLV change. */
  uplift(actor: Principal, sandbox: string, campaignId: string, options: { ordersDataset?: string; windowDays?: number } = {}): Promise<UpliftViewT> {
    authorize(actor, 'audience:read', sandbox);
    return this.serial(sandbox, async () => {
      const campaign = await this.deps.campaigns.get(sandbox, campaignId);
      const { warehouse } = await this.prepare(sandbox);
      const days = options.windowDays ?? campaign.doc.attributionDays;
      const policies = await this.policies(sandbox, warehouse);
      const orders = ordersByProfileSql(await this.orders(warehouse, sandbox, options.ordersDataset), policies, `campaign_id = ${quoteLiteral(campaignId)}`);
      const rows = (
        await warehouse.query(`WITH led AS (SELECT * FROM ${LEDGER} WHERE campaign_id = $c AND eligible), orders AS (${orders})
          SELECT l.holdout, count(o.order_id) > 0 AS converted, coalesce(sum(o.revenue), 0)::DOUBLE AS revenue
          FROM led l LEFT JOIN orders o ON o.merge_policy_id = l.merge_policy_id AND o.profile_id = l.profile_id AND o.ts >= l.handled_at AND o.ts < l.handled_at + to_days(${Math.trunc(days)})
          GROUP BY l.message_id, l.holdout`, { c: campaignId })
      ).rows;
      const outcomes = (holdout: boolean) => rows.filter((r) => r.holdout === holdout).map((r) => ({ converted: r.converted === true, revenue: Number(r.revenue) }));
      return estimatesOnly({
        campaignId,
        windowDays: days,
        ...upliftFromGroups(groupStats(outcomes(false)), groupStats(outcomes(true))),
        clvChange: await this.clvChange(sandbox, warehouse, campaign, policies),
      });
    });
  }

  /** Predicted CLV now minus at send time, per eligible member with both; treated vs holdout (Welch). */
  private async clvChange(sandbox: string, warehouse: SandboxWarehouse, campaign: CampaignRecord, policies: MergePolicyRecord[]): Promise<UpliftViewT['clvChange']> {
    await this.deps.profileStore.ensureCurrent(sandbox);
    const tables = new Set(await warehouse.listTables());
    const parts: string[] = [];
    for (const policy of policies) {
      if (!tables.has(policy.snapshotTable)) continue;
      const path = columnPath(await profileColumns(warehouse, policy.snapshotTable), [this.deps.tenantKey, 'clvPrediction', 'predictedClv']);
      if (!path) continue;
      parts.push(`SELECT l.holdout, (p.${path} - l.predicted_clv)::DOUBLE AS change FROM ${LEDGER} l JOIN ${quoteIdent(policy.snapshotTable)} p ON p.profile_id = l.profile_id
        WHERE l.campaign_id = ${quoteLiteral(campaign.id)} AND l.merge_policy_id = ${quoteLiteral(policy.id)} AND l.eligible AND l.predicted_clv IS NOT NULL AND p.${path} IS NOT NULL`);
    }
    if (parts.length === 0) return null;
    const rows = (await warehouse.query(parts.join('\nUNION ALL\n'))).rows;
    if (rows.length === 0) return null;
    const changes = (holdout: boolean) => rows.filter((r) => r.holdout === holdout).map((r) => Number(r.change));
    const treated = moments(changes(false));
    const holdout = moments(changes(true));
    return { profiles: rows.length, treatedMeanChange: treated.mean, holdoutMeanChange: holdout.mean, difference: welchDifference(treated, holdout) };
  }

  /** Runs one of the post-campaign widgets as an accelerated query (after a refresh, it shows the exact counts). */
  async widget(actor: Principal, sandbox: string, id: string, params: WidgetParams = {}): Promise<{ id: string; title: string; rows: JsonRecord[] }> {
    authorize(actor, 'dashboard:read', sandbox);
    const sql = widgetSql(id, params);
    const title = CAMPAIGN_WIDGETS.find((w) => w.id === id)!.title;
    await ensureFactTables(await this.deps.store.warehouseOf(sandbox));
    if (this.insights) return { id, title, rows: (await this.insights.query(actor, sandbox, { sql })).rows };
    // Without the insights service (a bare Campaigns in a test): the same SQL on a session, names as DuckDB has them.
    const session = await (await this.deps.store.warehouseOf(sandbox)).openSession();
    try {
      return { id, title, rows: (await session.query(sql.replaceAll(`${CAMPAIGN_SCHEMA}.`, `"${CAMPAIGN_SCHEMA}".`))).rows };
    } finally {
      session.close();
    }
  }
}
