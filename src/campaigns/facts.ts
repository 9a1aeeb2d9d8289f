/**
 * Post-campaign facts (reference §14) in the accelerated store: the data model **CampaignInsights**, schema
 * `qsaccel.campaign_agg` (a data group of the `qsaccel` accelerated database, next to CDPInsights'
 * `qsaccel.profile_agg`), aggregates only:
 *
 * - `fact_email_response_daily`: one row per campaign × audience × CLV decile × treatment (treated | holdout) ×
 *   date, with sends, deliveries, bounces, opens (people and machines apart), first opens, clicks, first clicks,
 *   unsubscribes and attributed purchases and revenue;
 * - `dim_campaign` (name, audience, destination, holdout share, attribution window, send time), `dim_audience`
 *   (audience names from the segment definitions), `dim_clv_decile` (tiers as in CDPInsights).
 *
 * Keys are recorded like `ALTER TABLE … ADD PRIMARY|FOREIGN KEY … NOT ENFORCED` (`_rt_table_constraints`), so
 * `platform.insights.models.list` shows the fact and its dimensions and the guided composer joins them.
 *
 * The refresh follows the reference's incremental pattern (§5.5): response events newer than the checkpoint
 * (`_rt_snapshot_id` of the email-tracking dataset) are appended to `_rt_campaign_responses`, de-duplicated by
 * `_id` (NOT EXISTS) and joined to the send ledger — by message id, or by campaign and address for ESP events
 * that lost the id; the checkpoint then moves. Only campaigns touched since the last refresh (new responses,
 * new ledger rows, new orders inside their attribution window) have their fact rows deleted and recomputed,
 * so a refresh costs what changed, and a recomputed campaign is exact (first opens can move when a late event
 * arrives, which is why the unit of recomputation is the campaign and not the day). All of it — responses,
 * checkpoints, facts, dimensions — is one transaction: readers see the previous model until COMMIT, and a
 * failure leaves nothing half done (a checkpoint never moves past facts that were not written).
 *
 * Per-message working state (`_rt_campaign_responses`, `_rt_campaign_fact_state`) stays in system tables of the
 * main schema, outside the store, as CDPInsights keeps its per-profile state.
 *
 * Attribution: an order of the recipient's profile (through the identity graph, as profiles see it) within
 * `attributionDays` after the message's first human open or click counts once for that message.
 */
import { NODES, RECORDS } from '../identity/store.ts';
import { positionedRowsSql } from '../identity/positions.ts';
import { quoteIdent, quoteLiteral } from '../identity/sql.ts';
import type { DatasetRecord, MergePolicyRecord } from '../ports/metadata-store.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { piiColumns, registerAcceleratedDatabase } from '../query/accelerated.ts';
import { RoundtripError } from '../core/errors.ts';
import { columnPath, type CampaignRecord } from './service.ts';
import { LEDGER, RESPONSES, readCheckpoint, writeCheckpoint, type SqlRunner } from './store.ts';

export const CAMPAIGN_MODEL = 'CampaignInsights';
export const CAMPAIGN_DATABASE = 'qsaccel';
export const CAMPAIGN_SCHEMA = 'qsaccel.campaign_agg';
export const STORE_TABLES = { facts: 'fact_email_response_daily', campaigns: 'dim_campaign', audiences: 'dim_audience', deciles: 'dim_clv_decile' } as const;
/** A store table as SQL through the query service and accelerated queries name it: `qsaccel.campaign_agg.t`. */
export const storeTable = (table: string): string => `${CAMPAIGN_SCHEMA}.${table}`;
/** The same table as DuckDB names it (the data group is the schema `"qsaccel.campaign_agg"`). */
const st = (table: string): string => `"${CAMPAIGN_SCHEMA}"."${table}"`;
export const FACTS = storeTable(STORE_TABLES.facts);
export const CAMPAIGN_DIM = storeTable(STORE_TABLES.campaigns);
export const AUDIENCE_DIM = storeTable(STORE_TABLES.audiences);
/** `schema.table` (lower-case) of every store table: what a refresh announces to the accelerated-query cache. */
export const STORE_TABLE_NAMES: readonly string[] = Object.values(STORE_TABLES).map((t) => storeTable(t));
/**
 * Read-only views under the names the facts had before they moved into the store (`campaign_facts`,
 * `campaign_dim`), so existing SQL keeps working; the store tables are what to use.
 */
const LEGACY_VIEWS = { campaign_facts: STORE_TABLES.facts, campaign_dim: STORE_TABLES.campaigns } as const;
const FACT_STATE = '_rt_campaign_fact_state';
const CONSTRAINTS = '_rt_table_constraints';

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

const STORE_DDL: Record<string, string> = {
  [STORE_TABLES.facts]: `campaign_id VARCHAR NOT NULL, audience_id VARCHAR, clv_decile INTEGER, treatment VARCHAR NOT NULL, date_key DATE NOT NULL,
  ${FACT_MEASURES.map(([m]) => `${m} ${m === 'revenue' ? 'DOUBLE' : 'BIGINT'} NOT NULL`).join(', ')}, refreshed_at TIMESTAMPTZ NOT NULL`,
  [STORE_TABLES.campaigns]: `campaign_id VARCHAR NOT NULL, campaign_name VARCHAR NOT NULL, audience_id VARCHAR, destination VARCHAR, holdout_share DOUBLE, attribution_days INTEGER, sent_at TIMESTAMPTZ`,
  [STORE_TABLES.audiences]: `audience_id VARCHAR NOT NULL, audience_name VARCHAR NOT NULL`,
  [STORE_TABLES.deciles]: `clv_decile INTEGER NOT NULL, clv_tier VARCHAR NOT NULL, decile_label VARCHAR NOT NULL`,
};

interface StoreKey {
  table: string;
  kind: 'PRIMARY KEY' | 'FOREIGN KEY';
  columns: string[];
  ref?: string;
}

/** The model's keys: the fact references its three dimensions; a campaign references its audience. */
export const STORE_KEYS: readonly StoreKey[] = [
  { table: STORE_TABLES.campaigns, kind: 'PRIMARY KEY', columns: ['campaign_id'] },
  { table: STORE_TABLES.audiences, kind: 'PRIMARY KEY', columns: ['audience_id'] },
  { table: STORE_TABLES.deciles, kind: 'PRIMARY KEY', columns: ['clv_decile'] },
  { table: STORE_TABLES.facts, kind: 'FOREIGN KEY', columns: ['campaign_id'], ref: STORE_TABLES.campaigns },
  { table: STORE_TABLES.facts, kind: 'FOREIGN KEY', columns: ['audience_id'], ref: STORE_TABLES.audiences },
  { table: STORE_TABLES.facts, kind: 'FOREIGN KEY', columns: ['clv_decile'], ref: STORE_TABLES.deciles },
  { table: STORE_TABLES.campaigns, kind: 'FOREIGN KEY', columns: ['audience_id'], ref: STORE_TABLES.audiences },
];

/** CLV tiers by decile, as CDPInsights states them (1 = top 10 % by predicted CLV). */
const DECILE_ROWS = Array.from({ length: 10 }, (_, i) => i + 1).map((d) => `(${d}, '${d === 1 ? 'Top' : d <= 3 ? 'High' : d <= 7 ? 'Medium' : 'Low'}', 'Decile ${d}')`);

const STATE_DDL = `CREATE TABLE IF NOT EXISTS ${FACT_STATE} (campaign_id VARCHAR NOT NULL, ledger_rows BIGINT NOT NULL)`;
const CONSTRAINTS_DDL = `CREATE TABLE IF NOT EXISTS ${CONSTRAINTS} (table_name VARCHAR, kind VARCHAR, columns VARCHAR[], ref_table VARCHAR, ref_columns VARCHAR[], created_at TIMESTAMPTZ)`;

const lit = (v: string) => quoteLiteral(v);
const list = (values: readonly string[]) => `[${values.map(lit).join(', ')}]::VARCHAR[]`;

/** Creates the store (schemas, tables, keys, deciles), moves pre-store facts away, checks no table could hold PII. */
async function createStore(warehouse: SandboxWarehouse): Promise<void> {
  const session = await warehouse.openSession();
  try {
    await session.query(`CREATE SCHEMA IF NOT EXISTS "${CAMPAIGN_DATABASE}"; CREATE SCHEMA IF NOT EXISTS "${CAMPAIGN_SCHEMA}"`);
    await registerAcceleratedDatabase(session, CAMPAIGN_DATABASE, 'acp_query_batch');
    await session.query([STATE_DDL, CONSTRAINTS_DDL, ...Object.entries(STORE_DDL).map(([t, columns]) => `CREATE TABLE IF NOT EXISTS ${st(t)} (${columns})`)].join(';\n'));
    for (const table of Object.values(STORE_TABLES)) {
      const bad = piiColumns((await session.query(`SELECT * FROM ${st(table)} LIMIT 0`)).columns);
      if (bad.length) throw new RoundtripError('RT_INSIGHTS_PII_COLUMN', `${storeTable(table)} would hold ${bad.join(', ')}; the accelerated store keeps aggregates only.`, { table: storeTable(table), columns: bad });
    }
    if (Number((await session.query(`SELECT count(*) AS n FROM ${st(STORE_TABLES.deciles)}`)).rows[0]?.n ?? 0) === 0) {
      await session.query(`INSERT INTO ${st(STORE_TABLES.deciles)} VALUES ${DECILE_ROWS.join(', ')}`);
    }
    for (const key of STORE_KEYS) {
      const table = storeTable(key.table);
      const exists = await session.query(`SELECT 1 FROM ${CONSTRAINTS} WHERE table_name = ${lit(table)} AND kind = ${lit(key.kind)} AND columns = ${list(key.columns)}`);
      if (exists.rows.length) continue;
      await session.query(`INSERT INTO ${CONSTRAINTS} VALUES (${lit(table)}, ${lit(key.kind)}, ${list(key.columns)}, ${key.ref ? lit(storeTable(key.ref)) : 'NULL'}, ${key.ref ? list(key.columns) : 'NULL'}, now())`);
    }
    // Before the store, the facts were plain tables of these names: drop them (and their state, so the next
    // refresh recomputes every campaign into the store), then keep the names as read-only views.
    for (const [name, table] of Object.entries(LEGACY_VIEWS)) {
      const base = await session.query(`SELECT count(*) AS n FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ${lit(name)}`);
      if (Number(base.rows[0]?.n ?? 0) > 0) await session.query(`DROP TABLE ${quoteIdent(name)}; DELETE FROM ${FACT_STATE}`);
      await session.query(`CREATE OR REPLACE VIEW ${quoteIdent(name)} AS SELECT * FROM ${st(table)}`);
    }
  } finally {
    session.close();
  }
}

const stores = new WeakMap<SandboxWarehouse, Promise<void>>();

/**
 * The store of a sandbox database, created once per process (concurrent first readers share the creation;
 * a catalog conflict with another writer of the `qsaccel` schemas, e.g. a CDPInsights refresh, is retried).
 */
export function ensureFactTables(warehouse: SandboxWarehouse): Promise<void> {
  let ready = stores.get(warehouse);
  if (!ready) {
    ready = (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await createStore(warehouse);
        } catch (error) {
          if (attempt >= 4 || !/conflict/i.test((error as Error).message)) throw error;
          await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
        }
      }
    })();
    ready.catch(() => stores.delete(warehouse));
    stores.set(warehouse, ready);
  }
  return ready;
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
  /** Audience id → name (segment definitions), for `dim_audience`. */
  audienceNames: ReadonlyMap<string, string>;
}

export interface RefreshOutcome {
  campaigns: string[];
  responsesAdded: number;
  factRows: number;
  /** Store tables the refresh wrote (`schema.table`), for the accelerated-query cache. */
  tablesWritten: string[];
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
  await warehouse.query(`INSERT INTO ${RESPONSES} SELECT * FROM _rt_campaign_new; DROP TABLE _rt_campaign_new`);
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

/** The dimension rows as SQL VALUES, in a stable order (compared with what the store holds to skip no-op writes). */
function dimensionRows(input: RefreshInput, sent: ReadonlySet<string>): { campaigns: string[]; audiences: string[] } {
  const campaigns = input.campaigns
    .filter((c) => sent.has(c.id))
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((c) => `(${[c.id, c.doc.name, c.doc.audience.segmentId, `smtp:${c.doc.smtp.host}`].map(lit).join(', ')}, ${c.doc.holdoutShare}::DOUBLE, ${c.doc.attributionDays}::INTEGER, ${c.doc.lastSend ? `${lit(c.doc.lastSend.startedAt)}::TIMESTAMPTZ` : 'NULL'})`);
  const audienceIds = [...new Set(input.campaigns.filter((c) => sent.has(c.id)).map((c) => c.doc.audience.segmentId))].sort();
  const audiences = audienceIds.map((id) => `(${lit(id)}, ${lit(input.audienceNames.get(id) ?? id)})`);
  return { campaigns, audiences };
}

/** Replaces a dimension's rows when they differ from `rows`; returns whether it wrote. */
async function replaceDimension(warehouse: SqlRunner, table: string, rows: readonly string[], order: string): Promise<boolean> {
  const current = (await warehouse.query(`SELECT * FROM ${st(table)} ORDER BY ${order}`)).rows;
  const wanted = rows.length ? (await warehouse.query(`SELECT * FROM (VALUES ${rows.join(', ')}) ORDER BY 1`)).rows : [];
  if (JSON.stringify(current.map((r) => Object.values(r))) === JSON.stringify(wanted.map((r) => Object.values(r)))) return false;
  await warehouse.query(`DELETE FROM ${st(table)}${rows.length ? `; INSERT INTO ${st(table)} VALUES ${rows.join(', ')}` : ''}`);
  return true;
}

/**
 * The incremental refresh, in one transaction on the given session: new responses in, touched campaigns'
 * facts recomputed, dimensions brought up to date, checkpoints moved — or, on any failure, none of it.
 */
export async function refreshFacts(input: RefreshInput): Promise<RefreshOutcome> {
  const { warehouse } = input;
  await warehouse.query('BEGIN TRANSACTION');
  try {
    const outcome = await refreshInTransaction(input);
    await warehouse.query('COMMIT');
    return outcome;
  } catch (error) {
    await warehouse.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await warehouse.query(`DROP TABLE IF EXISTS _rt_campaign_fact_rows; DROP TABLE IF EXISTS _rt_campaign_new`).catch(() => undefined);
  }
}

async function refreshInTransaction(input: RefreshInput): Promise<RefreshOutcome> {
  const { warehouse } = input;
  const responses = await appendResponses(input);
  const known = new Set(input.campaigns.map((c) => c.id));
  const touched = [...new Set([...responses.campaigns, ...(await ledgerChanged(warehouse)), ...(await ordersTouched(input))])].filter((id) => known.has(id)).sort();
  const written: string[] = [];
  let factRows = 0;
  if (touched.length > 0) {
    const ids = idList(touched);
    await warehouse.query(`CREATE OR REPLACE TEMP TABLE _rt_campaign_fact_rows AS ${factsSelectSql(input, touched)}`);
    await warehouse.query(`DELETE FROM ${st(STORE_TABLES.facts)} WHERE campaign_id IN (${ids});
      INSERT INTO ${st(STORE_TABLES.facts)} SELECT * FROM _rt_campaign_fact_rows;
      DELETE FROM ${FACT_STATE} WHERE campaign_id IN (${ids});
      INSERT INTO ${FACT_STATE} SELECT campaign_id, count(*) FROM ${LEDGER} WHERE campaign_id IN (${ids}) GROUP BY 1`);
    factRows = Number((await warehouse.query(`SELECT count(*) AS n FROM _rt_campaign_fact_rows`)).rows[0]?.n ?? 0);
    written.push(FACTS);
  }
  // Dimensions cover every campaign with a ledger (renamed audiences and campaigns follow without a new send).
  const sent = new Set((await warehouse.query(`SELECT DISTINCT campaign_id FROM ${LEDGER}`)).rows.map((r) => r.campaign_id as string));
  const dims = dimensionRows(input, sent);
  if (await replaceDimension(warehouse, STORE_TABLES.campaigns, dims.campaigns, 'campaign_id')) written.push(CAMPAIGN_DIM);
  if (await replaceDimension(warehouse, STORE_TABLES.audiences, dims.audiences, 'audience_id')) written.push(AUDIENCE_DIM);
  return { campaigns: touched, responsesAdded: responses.added, factRows, tablesWritten: written };
}
