/**
 * Post-campaign facts (reference §14): an incremental refresh of `campaign_facts`, one row per campaign ×
 * audience × CLV decile × treatment (treated | holdout) × date, with sends, deliveries, bounces, opens (people
 * and machines apart), first opens, clicks, first clicks, unsubscribes and attributed purchases and revenue.
 *
 * The refresh follows the reference's incremental pattern (§5.5): response events newer than the checkpoint
 * (`_rt_snapshot_id` of the email-tracking dataset) are appended to `_rt_campaign_responses`, de-duplicated by
 * `_id` (NOT EXISTS) and joined to the send ledger — by message id, or by campaign and address for ESP events
 * that lost the id; the checkpoint then moves. Only campaigns touched since the last refresh (new responses,
 * new ledger rows, new orders inside their attribution window) have their fact rows deleted and recomputed,
 * so a refresh costs what changed, and a recomputed campaign is exact (first opens can move when a late event
 * arrives, which is why the unit of recomputation is the campaign and not the day).
 *
 * Attribution: an order of the recipient's profile (through the identity graph, as profiles see it) within
 * `attributionDays` after the message's first human open or click counts once for that message.
 *
 * HOOK (insights): when `src/insights` publishes the accelerated store, `campaign_facts` and its dimension
 * (`campaign_dim`) move there as `fact_email_response_daily`/`dim_campaign`; the SELECT below is the model's
 * refresh statement unchanged (docs/campaigns.md has the plan).
 */
import { NODES, RECORDS } from '../identity/store.ts';
import { positionedRowsSql } from '../identity/positions.ts';
import { quoteIdent, quoteLiteral } from '../identity/sql.ts';
import type { DatasetRecord, MergePolicyRecord } from '../ports/metadata-store.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { columnPath, type CampaignRecord } from './service.ts';
import { LEDGER, RESPONSES, readCheckpoint, writeCheckpoint, type SqlRunner } from './store.ts';

export const FACTS = 'campaign_facts';
export const CAMPAIGN_DIM = 'campaign_dim';
const FACT_STATE = '_rt_campaign_fact_state';

export const FACT_MEASURES = [
  ['members', 'Audience members handled by the send (treated and holdout)'],
  ['held_out', 'Members held out (not contacted)'],
  ['suppressed', 'Members not mailed because their email consent is n'],
  ['sends', 'directMarketing.emailSent events'],
  ['deliveries', 'directMarketing.emailDelivered events'],
  ['bounces', 'directMarketing.emailBounced events'],
  ['hard_bounces', 'Bounces with a 5xx code'],
  ['opens', 'Opens by people (privacy-proxy opens excluded)'],
  ['machine_opens', 'Opens by mail-privacy proxies (Apple MPP)'],
  ['unique_opens', 'Messages whose first human open is on this day'],
  ['clicks', 'directMarketing.emailClicked events'],
  ['unique_clicks', 'Messages whose first click is on this day'],
  ['unsubscribes', 'directMarketing.emailUnsubscribed events'],
  ['purchases', 'Orders attributed to the campaign (within attributionDays after an open or click)'],
  ['revenue', 'Value of the attributed orders'],
] as const;
export type FactMeasure = (typeof FACT_MEASURES)[number][0];

const FACTS_DDL = `CREATE TABLE IF NOT EXISTS ${FACTS} (campaign_id VARCHAR NOT NULL, audience_id VARCHAR, clv_decile INTEGER, treatment VARCHAR NOT NULL, date_key DATE NOT NULL,
  ${FACT_MEASURES.map(([m]) => `${m} ${m === 'revenue' ? 'DOUBLE' : 'BIGINT'} NOT NULL`).join(', ')}, refreshed_at TIMESTAMPTZ NOT NULL)`;
const DIM_DDL = `CREATE TABLE IF NOT EXISTS ${CAMPAIGN_DIM} (campaign_id VARCHAR NOT NULL, campaign_name VARCHAR NOT NULL, audience_id VARCHAR, destination VARCHAR, holdout_share DOUBLE, attribution_days INTEGER, sent_at TIMESTAMPTZ)`;
const STATE_DDL = `CREATE TABLE IF NOT EXISTS ${FACT_STATE} (campaign_id VARCHAR NOT NULL, ledger_rows BIGINT NOT NULL)`;

export async function ensureFactTables(warehouse: SqlRunner): Promise<void> {
  await warehouse.query([FACTS_DDL, DIM_DDL, STATE_DDL].join(';\n'));
}

/** An orders dataset as the attribution reads it: the path of its value column, when it has one. */
export interface OrdersSource {
  dataset: DatasetRecord;
  valuePath: string;
}

export async function ordersSource(warehouse: SandboxWarehouse, dataset: DatasetRecord | undefined): Promise<OrdersSource | undefined> {
  if (!dataset) return undefined;
  const path = columnPath(await warehouse.describeTable(dataset.tableName), ['commerce', 'order', 'priceTotal']);
  return path ? { dataset, valuePath: path } : undefined;
}

/**
 * Orders per profile of each policy (profile id = the anchor node, or its private graph), restricted to the
 * profiles of `ledgerFilter`: `merge_policy_id, profile_id, order_id, ts, revenue`.
 */
export function ordersByProfileSql(orders: OrdersSource | undefined, policies: readonly MergePolicyRecord[], ledgerFilter: string): string {
  const empty = `SELECT NULL::VARCHAR AS merge_policy_id, NULL::BIGINT AS profile_id, NULL::VARCHAR AS order_id, NULL::TIMESTAMPTZ AS ts, NULL::DOUBLE AS revenue WHERE false`;
  if (!orders || policies.length === 0) return empty;
  const rows = `(SELECT "_rt_snapshot_id" AS snap, _rt_seq AS seq, "_id" AS order_id, "timestamp" AS ts, ${orders.valuePath}::DOUBLE AS revenue FROM ${positionedRowsSql(orders.dataset.tableName)} WHERE ${orders.valuePath} IS NOT NULL)`;
  return policies
    .map(
      (p) => `SELECT ${quoteLiteral(p.id)} AS merge_policy_id, ${p.idStitching === 'none' ? 'n.node' : 'n.graph'} AS profile_id, o.order_id, o.ts, o.revenue
        FROM ${RECORDS} r JOIN ${NODES} n ON n.node = r.node JOIN ${rows} o ON o.snap = r.snap AND o.seq = r.seq
        WHERE r.ds = ${quoteLiteral(orders.dataset.id)} AND r.ord = 0
          AND ${p.idStitching === 'none' ? 'n.node' : 'n.graph'} IN (SELECT profile_id FROM ${LEDGER} WHERE merge_policy_id = ${quoteLiteral(p.id)} AND ${ledgerFilter})`,
    )
    .join('\nUNION ALL\n');
}

export interface RefreshInput {
  /** One session: the refresh stages rows in temp tables. */
  warehouse: SqlRunner;
  tracking: DatasetRecord;
  tenantKey: string;
  campaigns: readonly CampaignRecord[];
  policies: readonly MergePolicyRecord[];
  orders: OrdersSource | undefined;
}

export interface RefreshOutcome {
  campaigns: string[];
  responsesAdded: number;
  factRows: number;
}

const idList = (ids: readonly string[]): string => (ids.length ? ids.map(quoteLiteral).join(', ') : 'NULL');

/** Appends new response events to `_rt_campaign_responses`; returns how many rows and which campaigns. */
async function appendResponses(input: RefreshInput): Promise<{ added: number; campaigns: string[] }> {
  const { warehouse, tracking, tenantKey } = input;
  const from = await readCheckpoint(warehouse, 'responses');
  const table = quoteIdent(tracking.tableName);
  const last = Number((await warehouse.query(`SELECT coalesce(max("_rt_snapshot_id"), 0) AS s FROM ${table}`)).rows[0]?.s ?? 0);
  if (last <= from) return { added: 0, campaigns: [] };
  const t = quoteIdent(tenantKey);
  await warehouse.query(`CREATE OR REPLACE TEMP TABLE _rt_campaign_new AS
    WITH e AS (
      SELECT "_id" AS event_id, e.${t}.campaignId AS campaign_id, e.directMarketing.messageID AS message_id, lower(e.identityMap['Email'][1].id) AS email,
        eventType AS event_type, "timestamp" AS ts, e.directMarketing.linkURL AS link_url, coalesce(e.${t}.machineOpen, false) AS machine,
        e.${t}.bounceType AS bounce_type, e.${t}.source AS source, "_rt_snapshot_id" AS snapshot_id
      FROM ${table} e
      WHERE "_rt_snapshot_id" > ${from} AND "_rt_snapshot_id" <= ${last} AND eventType LIKE 'directMarketing.email%' AND e.${t}.campaignId IS NOT NULL
      QUALIFY row_number() OVER (PARTITION BY "_id" ORDER BY "_rt_snapshot_id") = 1),
    by_address AS (SELECT DISTINCT ON (campaign_id, lower(email)) campaign_id, lower(email) AS email, message_id, profile_id FROM ${LEDGER} WHERE email IS NOT NULL)
    SELECT e.event_id, e.campaign_id, coalesce(l.message_id, a.message_id, e.message_id) AS message_id, coalesce(l.profile_id, a.profile_id) AS profile_id,
      e.event_type, e.ts, e.link_url, e.machine, e.bounce_type, e.source, e.snapshot_id
    FROM e LEFT JOIN ${LEDGER} l ON l.message_id = e.message_id
      LEFT JOIN by_address a ON l.message_id IS NULL AND a.campaign_id = e.campaign_id AND a.email = e.email
    WHERE NOT EXISTS (SELECT 1 FROM ${RESPONSES} r WHERE r.event_id = e.event_id)`);
  const campaigns = (await warehouse.query(`SELECT DISTINCT campaign_id FROM _rt_campaign_new`)).rows.map((r) => r.campaign_id as string);
  const added = Number((await warehouse.query(`SELECT count(*) AS n FROM _rt_campaign_new`)).rows[0]?.n ?? 0);
  await warehouse.query(`BEGIN TRANSACTION; INSERT INTO ${RESPONSES} SELECT * FROM _rt_campaign_new; DROP TABLE _rt_campaign_new; COMMIT`);
  await writeCheckpoint(warehouse, 'responses', last);
  return { added, campaigns };
}

/** Campaigns whose ledger grew since their facts were computed. */
async function ledgerChanged(warehouse: SqlRunner): Promise<string[]> {
  const rows = await warehouse.query(`SELECT l.campaign_id FROM (SELECT campaign_id, count(*) AS n FROM ${LEDGER} GROUP BY 1) l
    LEFT JOIN ${FACT_STATE} s USING (campaign_id) WHERE s.ledger_rows IS DISTINCT FROM l.n`);
  return rows.rows.map((r) => r.campaign_id as string);
}

/** Campaigns whose attribution window (first send → last send + days) overlaps orders written since the last refresh. */
async function ordersTouched(input: RefreshInput): Promise<string[]> {
  const { warehouse, orders, campaigns } = input;
  if (!orders) return [];
  const from = await readCheckpoint(warehouse, 'orders');
  const table = quoteIdent(orders.dataset.tableName);
  const span = (await warehouse.query(`SELECT max("_rt_snapshot_id") AS s, min("timestamp") AS lo, max("timestamp") AS hi FROM ${table} WHERE "_rt_snapshot_id" > ${from}`)).rows[0];
  if (!span || span.s === null) return [];
  const days = new Map(campaigns.map((c) => [c.id, c.doc.attributionDays]));
  const windows = (await warehouse.query(`SELECT campaign_id, min(handled_at) AS first, max(handled_at) AS last FROM ${LEDGER} GROUP BY 1`)).rows;
  await writeCheckpoint(warehouse, 'orders', Number(span.s));
  const lo = Date.parse(span.lo as string);
  const hi = Date.parse(span.hi as string);
  return windows
    .filter((w) => Date.parse(w.first as string) <= hi && Date.parse(w.last as string) + (days.get(w.campaign_id as string) ?? 7) * 86_400_000 >= lo)
    .map((w) => w.campaign_id as string);
}

/** The measures as one UNION ALL branch: given expressions, zeros elsewhere. */
function branch(keys: string, given: Partial<Record<FactMeasure, string>>, from: string): string {
  return `SELECT ${keys}, ${FACT_MEASURES.map(([m]) => `${given[m] ?? '0'} AS ${m}`).join(', ')} ${from}`;
}

/** The rows of `campaign_facts` for the given campaigns. */
export function factsSelectSql(input: RefreshInput, ids: readonly string[]): string {
  const list = idList(ids);
  const days = input.campaigns.filter((c) => ids.includes(c.id)).map((c) => `(${quoteLiteral(c.id)}, ${c.doc.attributionDays})`);
  const keys = `campaign_id, audience_id, clv_decile, treatment, date_key`;
  const event = (type: string) => `(event_type = 'directMarketing.email${type}')`;
  return `WITH led AS (SELECT *, CASE WHEN holdout THEN 'holdout' ELSE 'treated' END AS treatment FROM ${LEDGER} WHERE campaign_id IN (${list})),
    days(campaign_id, days) AS (VALUES ${days.length ? days.join(', ') : `(NULL, 0)`}),
    resp AS (SELECT r.*, coalesce(l.segment_id, NULL) AS audience_id, l.clv_decile, coalesce(l.treatment, 'treated') AS treatment
      FROM ${RESPONSES} r LEFT JOIN led l ON l.message_id = r.message_id WHERE r.campaign_id IN (${list})),
    firsts AS (SELECT campaign_id, message_id, any_value(audience_id) AS audience_id, any_value(clv_decile) AS clv_decile, any_value(treatment) AS treatment,
        min(ts) FILTER (WHERE ${event('Opened')} AND NOT machine) AS first_open, min(ts) FILTER (WHERE ${event('Clicked')}) AS first_click
      FROM resp WHERE message_id IS NOT NULL GROUP BY 1, 2),
    orders AS (${ordersByProfileSql(input.orders, input.policies, `campaign_id IN (${list})`)}),
    attributed AS (SELECT DISTINCT ON (l.message_id, o.order_id) l.campaign_id, l.segment_id AS audience_id, l.clv_decile, l.treatment, o.ts, o.revenue
      FROM led l JOIN firsts f ON f.message_id = l.message_id JOIN days d ON d.campaign_id = l.campaign_id
        JOIN orders o ON o.merge_policy_id = l.merge_policy_id AND o.profile_id = l.profile_id
      WHERE o.ts >= least(f.first_open, f.first_click) AND o.ts < least(f.first_open, f.first_click) + to_days(d.days)),
    measures AS (
      ${branch(`campaign_id, segment_id AS audience_id, clv_decile, treatment, handled_at::DATE AS date_key`, { members: '1', held_out: `(status = 'held_out')::INT`, suppressed: `(status = 'suppressed')::INT` }, 'FROM led')}
      UNION ALL ${branch(`campaign_id, audience_id, clv_decile, treatment, ts::DATE AS date_key`, {
        sends: `${event('Sent')}::INT`,
        deliveries: `${event('Delivered')}::INT`,
        bounces: `${event('Bounced')}::INT`,
        hard_bounces: `(${event('Bounced')} AND coalesce(bounce_type, 'hard') = 'hard')::INT`,
        opens: `(${event('Opened')} AND NOT machine)::INT`,
        machine_opens: `(${event('Opened')} AND machine)::INT`,
        clicks: `${event('Clicked')}::INT`,
        unsubscribes: `${event('Unsubscribed')}::INT`,
      }, 'FROM resp')}
      UNION ALL ${branch(`campaign_id, audience_id, clv_decile, treatment, first_open::DATE AS date_key`, { unique_opens: '1' }, 'FROM firsts WHERE first_open IS NOT NULL')}
      UNION ALL ${branch(`campaign_id, audience_id, clv_decile, treatment, first_click::DATE AS date_key`, { unique_clicks: '1' }, 'FROM firsts WHERE first_click IS NOT NULL')}
      UNION ALL ${branch(`campaign_id, audience_id, clv_decile, treatment, ts::DATE AS date_key`, { purchases: '1', revenue: 'revenue' }, 'FROM attributed')})
    SELECT ${keys}, ${FACT_MEASURES.map(([m]) => `sum(${m})${m === 'revenue' ? '::DOUBLE' : '::BIGINT'} AS ${m}`).join(', ')}, now() AS refreshed_at
    FROM measures GROUP BY ALL`;
}

/** The incremental refresh: new responses in, touched campaigns recomputed. */
export async function refreshFacts(input: RefreshInput): Promise<RefreshOutcome> {
  const { warehouse } = input;
  await ensureFactTables(warehouse);
  const responses = await appendResponses(input);
  const known = new Set(input.campaigns.map((c) => c.id));
  const touched = [...new Set([...responses.campaigns, ...(await ledgerChanged(warehouse)), ...(await ordersTouched(input))])].filter((id) => known.has(id)).sort();
  if (touched.length === 0) return { campaigns: [], responsesAdded: responses.added, factRows: 0 };
  const list = idList(touched);
  const dims = input.campaigns
    .filter((c) => touched.includes(c.id))
    .map((c) => `(${[c.id, c.doc.name, c.doc.audience.segmentId, `smtp:${c.doc.smtp.host}`].map(quoteLiteral).join(', ')}, ${c.doc.holdoutShare}, ${c.doc.attributionDays}, ${c.doc.lastSend ? `${quoteLiteral(c.doc.lastSend.startedAt)}::TIMESTAMPTZ` : 'NULL'})`);
  await warehouse.query(`CREATE OR REPLACE TEMP TABLE _rt_campaign_fact_rows AS ${factsSelectSql(input, touched)}`);
  await warehouse.query(`BEGIN TRANSACTION;
    DELETE FROM ${FACTS} WHERE campaign_id IN (${list});
    INSERT INTO ${FACTS} SELECT * FROM _rt_campaign_fact_rows;
    DELETE FROM ${CAMPAIGN_DIM} WHERE campaign_id IN (${list});
    INSERT INTO ${CAMPAIGN_DIM} VALUES ${dims.join(', ')};
    DELETE FROM ${FACT_STATE} WHERE campaign_id IN (${list});
    INSERT INTO ${FACT_STATE} SELECT campaign_id, count(*) FROM ${LEDGER} WHERE campaign_id IN (${list}) GROUP BY 1;
    COMMIT`);
  const factRows = Number((await warehouse.query(`SELECT count(*) AS n FROM _rt_campaign_fact_rows`)).rows[0]?.n ?? 0);
  await warehouse.query(`DROP TABLE IF EXISTS _rt_campaign_fact_rows`);
  return { campaigns: touched, responsesAdded: responses.added, factRows };
}
