/**
 * Sends that survive a crash, and the CampaignInsights store behind the post-campaign dashboard, over real
 * parts (DuckDB, smtp-server on loopback, HTTP tracking):
 * - a send killed mid-way twice (once after the SMTP transactions of a chunk, once after its events were
 *   durable), each time resumed by a fresh `Campaigns` instance: every contacted member mailed exactly once,
 *   the holdout never, the ledger complete (no row left `sending`), the interrupted rows resolved
 *   deterministically (`unconfirmed`, or the outcome their events recorded);
 * - the store: listed by `platform.insights.models` as CampaignInsights with fact/dimension types and keys;
 *   the post-campaign standard dashboard's widgets equal the facts; a refresh invalidates cached accelerated
 *   queries over the tables it wrote.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createTestPlatform, type Json, type TestPlatform } from '../testing/platform.ts';
import { Campaigns } from './index.ts';
import { isHeldOut } from './holdout.ts';
import { SendAbandoned } from './service.ts';
import { setupBrand, startSmtpSink, writeMembers, type Brand, type BrandPerson, type SmtpSink } from './test-kit.ts';

const SEGMENT = 'seg-resume';
const PEOPLE: BrandPerson[] = Array.from({ length: 60 }, (_, i) => ({ crmId: `R${String(i).padStart(3, '0')}`, email: i === 4 ? 'bounce4@example.com' : `r${i}@example.com`, firstName: `N${i}`, consent: 'y' as const }));

let t: TestPlatform;
let smtp: SmtpSink;
let base: string;
let brand: Brand;
let campaignId: string;

/** A second `Campaigns` over the same platform parts: what a restarted process would construct. */
function freshCampaigns(beforeRecord?: (stage: 'smtp-done' | 'events-written', messages: number) => void): Campaigns {
  const p = t.platform;
  return new Campaigns({
    dataDir: t.config.dataDir,
    tenant: t.config.tenant,
    metadata: p.metadata,
    warehouse: p.warehouse,
    registry: p.registry,
    datasets: p.datasets,
    streaming: p.streaming,
    batchIngestion: p.batchIngestion,
    identity: p.identity,
    mergePolicies: p.mergePolicies,
    profileStore: p.profileStore,
    audit: p.audit,
    clock: p.clock,
    chunkSize: 7,
    ...(beforeRecord ? { beforeRecord } : {}),
  });
}

const crashAt = (stage: 'smtp-done' | 'events-written', after: number) => (at: string, messages: number) => {
  if (at === stage && messages >= after) throw new SendAbandoned(`simulated crash at ${stage}`);
};

async function ledger(): Promise<Json[]> {
  const w = await t.platform.warehouse.sandbox('prod');
  return (await w.query(`SELECT profile_id, status, holdout, email FROM _rt_campaign_messages WHERE campaign_id = $c ORDER BY profile_id`, { c: campaignId })).rows;
}

describe('campaign sends survive crashes; the store feeds the post-campaign dashboard', () => {
  before(async () => {
    t = await createTestPlatform();
    smtp = await startSmtpSink();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    brand = await setupBrand(t, PEOPLE);
    await writeMembers(t, SEGMENT, brand.policyId, brand.profileIds.values());
    const at = new Date().toISOString();
    await t.platform.metadata.documents.create({ sandbox: 'prod', kind: 'segment-definition', id: SEGMENT, parentId: null, body: { name: 'Returning travellers' }, createdAt: at, updatedAt: at });
    const created = await t.call('POST', '/campaigns', {
      body: { name: 'Resume me', audience: { segmentId: SEGMENT }, smtp: { host: '127.0.0.1', port: smtp.port, from: 'news@skylark.example', ratePerSecond: 1000 }, subject: 'Hi', html: '<p>Hi <a href="https://shop.example/x">x</a></p>', holdoutShare: 0.1, trackingBaseUrl: base },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    campaignId = created.body.id;
  });
  after(async () => {
    await smtp.close();
    await t.dispose();
  });

  test('killed twice mid-send and resumed by fresh instances: everyone contacted is mailed exactly once, the ledger is complete', async () => {
    const crashed = freshCampaigns(crashAt('smtp-done', 10));
    await assert.rejects(crashed.service.send(CAMPAIGN_ACTOR, 'prod', campaignId), SendAbandoned);
    const afterFirst = await ledger();
    const open = afterFirst.filter((r) => r.status === 'sending');
    assert.ok(open.length > 0, 'the crashed chunk left rows sending: they were written before the SMTP transactions');
    assert.equal(smtp.mails.length, afterFirst.filter((r) => ['sending', 'sent'].includes(r.status)).length, 'every message handed to SMTP has a ledger row');
    assert.equal((await t.call('GET', `/campaigns/${campaignId}`)).body.status, 'sending', 'a dead process leaves the campaign sending');

    // Second process: resolves the first crash's rows, then dies after a chunk's events were made durable.
    const second = freshCampaigns(crashAt('events-written', 10));
    await assert.rejects(second.service.send(CAMPAIGN_ACTOR, 'prod', campaignId), SendAbandoned);
    const afterSecond = await ledger();
    const unconfirmed = new Set(afterSecond.filter((r) => r.status === 'unconfirmed').map((r) => Number(r.profile_id)));
    assert.deepEqual([...unconfirmed].sort(), open.map((r) => Number(r.profile_id)).sort(), 'no outcome recorded anywhere: unconfirmed, not mailed again');
    const evented = afterSecond.filter((r) => r.status === 'sending').map((r) => Number(r.profile_id));
    assert.ok(evented.length > 0);

    // Third process: through the API's own instance (its send is not running here, so the campaign is orphaned).
    const accepted = await t.call('POST', `/campaigns/${campaignId}/send`);
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    assert.ok(accepted.body.resumedFrom, 'the send says which send it resumed');
    await t.platform.campaigns.service.wait('prod', campaignId);
    const view = (await t.call('GET', `/campaigns/${campaignId}`)).body;
    assert.equal(view.status, 'sent', JSON.stringify(view.lastSend));

    const rows = await ledger();
    assert.equal(rows.length, PEOPLE.length, 'one ledger row per member');
    assert.equal(rows.filter((r) => r.status === 'sending').length, 0, 'nothing left in flight');
    for (const id of evented) assert.ok(['sent', 'bounced'].includes(rows.find((r) => Number(r.profile_id) === id)!.status), 'rows whose events were durable take their outcome');
    const heldOut = PEOPLE.filter((p) => isHeldOut(campaignId, brand.profileIds.get(p.crmId)!, 0.1)).map((p) => p.email!);
    assert.ok(heldOut.length > 0);
    const received = smtp.mails.flatMap((m) => m.to);
    const contacted = PEOPLE.map((p) => p.email!).filter((e) => !heldOut.includes(e) && !e.startsWith('bounce'));
    assert.deepEqual([...received].sort(), [...contacted].sort(), 'every contacted member mailed exactly once, the holdout never');
    assert.equal(new Set(received).size, received.length);
    const t2 = view.lastSend.totals;
    assert.deepEqual(
      [t2.recipients, t2.heldOut, t2.sent + t2.bounced + t2.unconfirmed, t2.unconfirmed, t2.sending],
      [PEOPLE.length, heldOut.length, PEOPLE.length - heldOut.length, unconfirmed.size, 0],
    );
    assert.deepEqual(view.lastSend.progress, { audience: PEOPLE.length, handled: PEOPLE.length });
  });

  test('CampaignInsights: a data model of the accelerated store with fact and dimension tables and keys', async () => {
    const refreshed = await t.call('POST', '/campaigns/facts/refresh', { body: {} });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.deepEqual(refreshed.body.tablesWritten.sort(), ['qsaccel.campaign_agg.dim_audience', 'qsaccel.campaign_agg.dim_campaign', 'qsaccel.campaign_agg.fact_email_response_daily']);
    const model = await t.platform.insights.models.get('prod', 'CampaignInsights');
    assert.equal(model.schema, 'qsaccel.campaign_agg');
    const table = (name: string) => model.tables.find((x) => x.name === `qsaccel.campaign_agg.${name}`)!;
    assert.equal(table('fact_email_response_daily').type, 'fact');
    assert.deepEqual(table('fact_email_response_daily').lookups.sort(), ['qsaccel.campaign_agg.dim_audience', 'qsaccel.campaign_agg.dim_campaign', 'qsaccel.campaign_agg.dim_clv_decile']);
    for (const dim of ['dim_campaign', 'dim_audience', 'dim_clv_decile']) assert.equal(table(dim).type, 'dimension', dim);
    assert.deepEqual(table('dim_campaign').primaryKey, ['campaign_id']);
    assert.ok(table('fact_email_response_daily').recordCount > 0);
    // A guided widget over the model (the composer's path) compiles and runs.
    const guided = await t.call('POST', '/dashboards/preview', {
      body: { widget: { title: 'Sends by audience', guided: { model: 'CampaignInsights', table: 'fact_email_response_daily', x: 'audience_name', y: { attribute: 'sends', aggregation: 'sum' }, marks: 'bars' } } },
    });
    assert.equal(guided.status, 200, JSON.stringify(guided.body));
    assert.equal(guided.body.rows[0].audience_name, 'Returning travellers');
    // Not writable as the old plain tables were: the old names are read-only views now.
    const write = await t.call('POST', '/queries', { body: { sql: `INSERT INTO campaign_facts SELECT * FROM campaign_facts` } });
    assert.notEqual(write.status, 200);
  });

  test('the post-campaign standard dashboard shows exactly the facts; a refresh invalidates cached widget results', async () => {
    const w = await t.platform.warehouse.sandbox('prod');
    const factsNow = async () =>
      (await w.query(`SELECT sum(sends) AS sends, sum(deliveries) AS deliveries, sum(unique_opens) AS opens, sum(unique_clicks) AS clicks FROM "qsaccel.campaign_agg".fact_email_response_daily WHERE treatment = 'treated'`)).rows[0]!;
    const dashboards = (await t.call('GET', '/dashboards')).body.dashboards;
    const standard = dashboards.find((d: Json) => d.standard === 'post-campaign');
    assert.ok(standard, JSON.stringify(dashboards.map((d: Json) => d.standard)));
    const dashboard = (await t.call('GET', `/dashboards/${standard.id}`)).body;
    const data = async (title: string, filters?: Json) => {
      const widget = dashboard.widgets.find((x: Json) => x.title === title);
      const res = await t.call('GET', `/dashboards/${standard.id}/widgets/${widget.id}/data${filters ? `?filters=${encodeURIComponent(JSON.stringify(filters))}` : ''}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    };
    // Two opens and a click over HTTP, then the refresh.
    const first = smtp.mails[0]!;
    for (const mail of smtp.mails.slice(0, 2)) assert.equal((await fetch(/<img src="([^"]+)"/.exec(mail.html)![1]!, { headers: { 'user-agent': 'Thunderbird/128' } })).status, 200);
    assert.equal((await fetch(/href="([^"]+\/t\/c\/[^"]+)"/.exec(first.html)![1]!, { redirect: 'manual' })).status, 302);
    const before = await data('Emails sent');
    assert.equal((await data('Emails sent')).cached, true, 'the second read is served from the accelerated-query cache');
    const refreshed = await t.call('POST', '/campaigns/facts/refresh', { body: {} });
    assert.equal(refreshed.body.responsesAdded, 3);
    assert.deepEqual(refreshed.body.tablesWritten, ['qsaccel.campaign_agg.fact_email_response_daily']);
    const facts = await factsNow();
    const sent = await data('Emails sent');
    assert.equal(sent.cached, false, 'the refresh invalidated the cached result');
    assert.deepEqual([before.rows[0].emails_sent, sent.rows[0].emails_sent], [Number(facts.sends), Number(facts.sends)]);
    const rate = (n: unknown) => Math.round((Number(n) / Number(facts.deliveries)) * 1e4) / 1e4;
    assert.equal((await data('Open rate (people, privacy-proxy opens excluded)')).rows[0].open_rate, rate(facts.opens));
    assert.equal((await data('Click-through rate')).rows[0].click_through_rate, rate(facts.clicks));
    assert.deepEqual((await data('Emails opened by audience and campaign')).rows, [{ audience_name: 'Returning travellers', campaign_name: 'Resume me', emails_opened: Number(facts.opens) }]);
    const buckets = (await data('Email opened by campaign buckets (CLV decile)')).rows;
    assert.equal(buckets.reduce((s: number, r: Json) => s + Number(r.emails_opened), 0), Number(facts.opens));
    const results = (await data('Campaign results', { campaign: [campaignId] })).rows;
    assert.deepEqual([results.length, results[0].sends, results[0].unique_opens, results[0].unique_clicks], [1, Number(facts.sends), Number(facts.opens), Number(facts.clicks)]);
    assert.deepEqual((await data('Emails sent', { campaign: ['cmp_other'] })).rows, [{ emails_sent: 0 }], 'the Campaign filter narrows every widget');
    // The same numbers through the campaign widget API.
    const api = await t.call('GET', `/campaigns/widgets/campaign-emails-sent?campaignId=${campaignId}`);
    assert.deepEqual(api.body.rows, [{ emails_sent: Number(facts.sends) }]);
  });
});

const CAMPAIGN_ACTOR = { id: 'test', name: 'test', role: 'admin' as const, sandboxes: ['*'] };
