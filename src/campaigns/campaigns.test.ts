/**
 * The campaign loop end to end, over real parts: brand profiles → audience memberships → a campaign with a
 * 10 % holdout → SMTP delivery to a real smtp-server on loopback → the test opens pixels, follows links and
 * unsubscribes over real HTTP → response events land in the email-tracking dataset → the facts refresh
 * incrementally → the widgets show the exact counts; held-out profiles received nothing. Then ESP events by
 * streaming and by batch file, token tampering, the open-redirect guard, and unsubscribe → consent → export.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportRecords, profileColumns } from '../activation/exporter.ts';
import { createTestPlatform, type Json, type TestPlatform } from '../testing/platform.ts';
import { isHeldOut } from './holdout.ts';
import { campaignKeys } from './secrets.ts';
import { setupBrand, startSmtpSink, writeMembers, writeOrders, type Brand, type BrandPerson, type ReceivedMail, type SmtpSink } from './test-kit.ts';
import { signToken, verifyToken } from './tokens.ts';

const SEGMENT = 'seg-e2e';
const PEOPLE: BrandPerson[] = Array.from({ length: 80 }, (_, i) => ({
  crmId: `C${String(i).padStart(3, '0')}`,
  email: i === 11 ? null : i === 7 ? 'bounce7@example.com' : `p${i}@example.com`,
  firstName: i === 3 ? '<b>Bo</b> & "Co"' : i === 5 ? null : `Name${i}`,
  ...(i === 9 ? { consent: 'n' as const } : { consent: 'y' as const }),
}));
const LINKS = ['https://shop.example/new?utm_source=email&utm_campaign=spring', 'https://shop.example/sale'];
const HTML = `<html><body><p>Hello {{person.name.firstName | friend}},</p>
<p><a href="${LINKS[0]!.replace('&', '&amp;')}">New in</a> and <a href='${LINKS[1]}'>sale</a>, <a href="mailto:help@shop.example">help</a>.</p>
<p><a href="{{unsubscribeUrl}}">Unsubscribe</a></p></body></html>`;

let t: TestPlatform;
let smtp: SmtpSink;
let base: string;
let brand: Brand;
let campaignId: string;
let totals: Json;
const crmOf = (email: string) => PEOPLE.find((p) => p.email === email)!.crmId;

const urlsOf = (mail: ReceivedMail) => ({
  pixel: /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(mail.html)![1]!,
  clicks: [...mail.html.matchAll(/href=["']([^"']+\/t\/c\/[^"']+)["']/g)].map((m) => m[1]!),
  unsubscribe: /href="([^"]+\/t\/u\/[^"]+)"/.exec(mail.html)![1]!,
});
const get = (url: string, userAgent = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko)') =>
  fetch(url, { redirect: 'manual', headers: { 'user-agent': userAgent } });

async function facts(): Promise<Json> {
  const w = await t.platform.warehouse.sandbox('prod');
  return (
    await w.query(`SELECT sum(members) AS members, sum(held_out) AS held_out, sum(suppressed) AS suppressed, sum(sends) AS sends, sum(deliveries) AS deliveries, sum(bounces) AS bounces,
      sum(hard_bounces) AS hard_bounces, sum(opens) AS opens, sum(machine_opens) AS machine_opens, sum(unique_opens) AS unique_opens, sum(clicks) AS clicks,
      sum(unique_clicks) AS unique_clicks, sum(unsubscribes) AS unsubscribes, sum(purchases) AS purchases, sum(revenue) AS revenue FROM "qsaccel.campaign_agg".fact_email_response_daily WHERE campaign_id = $c`, { c: campaignId })
  ).rows[0];
}

/** POST …/send answers 202 at once; the send runs in the background: poll the campaign until it ends. */
async function sendAndWait(id: string): Promise<Json> {
  const accepted = await t.call('POST', `/campaigns/${id}/send`);
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  assert.match(accepted.body.sendId, /^snd_/);
  for (;;) {
    const res = await t.call('GET', `/campaigns/${id}`);
    if (res.body.status !== 'sending') {
      assert.equal(res.body.lastSend.sendId, accepted.body.sendId);
      return res.body;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function refresh(): Promise<Json> {
  const res = await t.call('POST', '/campaigns/facts/refresh', { body: {} });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

describe('campaign loop end to end', () => {
  before(async () => {
    t = await createTestPlatform();
    smtp = await startSmtpSink({ user: 'mailer', pass: 's3cret-pass' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    brand = await setupBrand(t, PEOPLE);
    await writeMembers(t, SEGMENT, brand.policyId, brand.profileIds.values());
    const at = new Date().toISOString();
    await t.platform.metadata.documents.create({ sandbox: 'prod', kind: 'segment-definition', id: SEGMENT, parentId: null, body: { name: 'Spring buyers' }, createdAt: at, updatedAt: at });
  });
  after(async () => {
    await smtp.close();
    await t.dispose();
  });

  test('a personalised link cannot be tracked: refused when the campaign is saved', async () => {
    const res = await t.call('POST', '/campaigns', {
      body: { name: 'bad', audience: { segmentId: SEGMENT }, smtp: { host: '127.0.0.1', port: smtp.port, from: 'a@b.c' }, subject: 's', html: '<a href="https://x.example/{{person.name.firstName}}">x</a>' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'RT_CAMPAIGN_INVALID');
  });

  test('send: holdout not contacted, bounce and suppression recorded, personalised and escaped, credentials encrypted', async () => {
    const created = await t.call('POST', '/campaigns', {
      body: {
        name: 'Spring launch',
        audience: { segmentId: SEGMENT },
        smtp: { host: '127.0.0.1', port: smtp.port, user: 'mailer', password: 's3cret-pass', from: 'Skylark <news@skylark.example>', ratePerSecond: 500 },
        subject: 'Hi {{person.name.firstName | there}}, spring is here',
        html: HTML,
        holdoutShare: 0.1,
        trackingBaseUrl: base,
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    campaignId = created.body.id;
    assert.deepEqual(created.body.links, LINKS, 'links are stored decoded, mailto is not tracked');
    assert.equal(created.body.smtp.hasPassword, true);
    assert.ok(!JSON.stringify(created.body).includes('s3cret-pass'));
    const stored = await t.platform.metadata.documents.get('prod', 'campaign', campaignId);
    assert.ok(!JSON.stringify(stored).includes('s3cret-pass'), 'the password is not stored in clear');

    const sent = await sendAndWait(campaignId);
    assert.equal(sent.status, 'sent', JSON.stringify(sent.lastSend));
    totals = sent.lastSend.totals;
    assert.deepEqual(sent.lastSend.progress, { audience: 80, handled: 80 });
    const heldOut = PEOPLE.filter((p) => isHeldOut(campaignId, brand.profileIds.get(p.crmId)!, 0.1));
    assert.ok(heldOut.length > 0, 'the holdout is not empty for 80 profiles');
    const eligible = (p: BrandPerson) => p.email !== null && p.consent !== 'n';
    const contacted = PEOPLE.filter((p) => !heldOut.includes(p) && eligible(p));
    assert.deepEqual(totals, {
      recipients: 80,
      heldOut: heldOut.length,
      noAddress: heldOut.some((p) => p.email === null) ? 0 : 1,
      suppressed: heldOut.some((p) => p.consent === 'n') ? 0 : 1,
      bounced: contacted.filter((p) => p.email!.startsWith('bounce')).length,
      sent: contacted.filter((p) => !p.email!.startsWith('bounce')).length,
      unconfirmed: 0,
      sending: 0,
    });
    // The SMTP server got exactly the contacted, non-bounced addresses; nothing for the holdout.
    const received = smtp.mails.flatMap((m) => m.to).sort();
    assert.deepEqual(received, contacted.filter((p) => !p.email!.startsWith('bounce')).map((p) => p.email!).sort());
    for (const p of heldOut) if (p.email) assert.ok(!received.includes(p.email), `${p.email} is held out`);
    assert.ok(smtp.logins.length >= 1 && smtp.logins.every((u) => u === 'mailer'), 'the decrypted credentials authenticated');
    const bo = smtp.mails.find((m) => m.to.includes('p3@example.com'));
    if (bo) assert.match(bo.html, /Hello &#60;b&#62;Bo&#60;\/b&#62; &#38; &#34;Co&#34;,/);
    const friend = smtp.mails.find((m) => m.to.includes('p5@example.com'));
    if (friend) {
      assert.match(friend.html, /Hello friend,/);
      assert.equal(friend.headers.subject, 'Hi there, spring is here');
    }
    const any = smtp.mails[0]!;
    assert.match(any.headers['list-unsubscribe']!, /^<http:\/\/127\.0\.0\.1:\d+\/t\/u\//);
    assert.equal(urlsOf(any).clicks.length, 2);
    assert.ok(any.html.includes('href="mailto:help@shop.example"'));
  });

  test('opens, clicks and an unsubscribe over HTTP land as events; facts count them exactly; a second refresh is incremental', async () => {
    const mails = [...smtp.mails].sort((a, b) => a.to[0]!.localeCompare(b.to[0]!));
    const human = mails.slice(0, 8);
    for (const mail of human) {
      const res = await get(urlsOf(mail).pixel);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/gif');
    }
    for (const mail of human.slice(0, 2)) assert.equal((await get(urlsOf(mail).pixel)).status, 200);
    for (const mail of mails.slice(8, 10)) assert.equal((await get(urlsOf(mail).pixel, 'Mozilla/5.0')).status, 200, 'Apple MPP fetch');
    for (const mail of human.slice(0, 4)) {
      const res = await get(urlsOf(mail).clicks[0]!);
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), LINKS[0]);
    }
    const again = await get(urlsOf(human[0]!).clicks[1]!);
    assert.equal(again.headers.get('location'), LINKS[1]);
    const unsubscribed = human[5]!;
    const page = await get(urlsOf(unsubscribed).unsubscribe);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form method="post"/);
    const unsub = await fetch(urlsOf(unsubscribed).unsubscribe, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    assert.equal(unsub.status, 200);
    assert.match(await unsub.text(), /unsubscribed/);

    // Orders: two clickers buy within the window (attributed), one unopened treated member buys (not attributed).
    const soon = new Date(Date.now() + 3600_000).toISOString();
    const unopened = mails[20]!.to[0]!;
    await writeOrders(t, brand.ordersDataset, [
      { id: 'o-1', crmId: crmOf(human[0]!.to[0]!), at: soon, value: 100 },
      { id: 'o-2', crmId: crmOf(human[1]!.to[0]!), at: soon, value: 50 },
      { id: 'o-3', crmId: crmOf(unopened), at: soon, value: 70 },
    ]);

    const first = await refresh();
    assert.deepEqual(first.campaigns, [campaignId]);
    const delivered = totals.sent;
    const expected = {
      members: 80,
      held_out: totals.heldOut,
      suppressed: totals.suppressed,
      sends: delivered + totals.bounced,
      deliveries: delivered,
      bounces: totals.bounced,
      hard_bounces: totals.bounced,
      opens: 10,
      machine_opens: 2,
      unique_opens: 8,
      clicks: 5,
      unique_clicks: 4,
      unsubscribes: 1,
      purchases: 2,
      revenue: 150,
    };
    assert.deepEqual(await facts(), expected);

    const widget = async (id: string) => {
      const res = await t.call('GET', `/campaigns/widgets/${id}?campaignId=${campaignId}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.rows;
    };
    assert.deepEqual(await widget('campaign-emails-sent'), [{ emails_sent: expected.sends }]);
    assert.deepEqual(await widget('campaign-open-rate'), [{ open_rate: Math.round((8 / delivered) * 1e4) / 1e4 }]);
    assert.deepEqual(await widget('campaign-click-through-rate'), [{ click_through_rate: Math.round((4 / delivered) * 1e4) / 1e4 }]);
    assert.deepEqual(await widget('emails-opened-by-audience-and-campaign'), [{ audience_name: 'Spring buyers', campaign_name: 'Spring launch', emails_opened: 8 }]);
    const results = await widget('campaign-results');
    assert.equal(results[0].purchases, 2);
    assert.equal(results[0].revenue, 150);
    const buckets = await widget('email-opened-by-campaign-buckets');
    assert.equal(buckets.reduce((s: number, r: Json) => s + r.emails_opened, 0), 8);

    // Incremental: one more first open → only this campaign recomputed, one response added.
    await get(urlsOf(mails[30]!).pixel);
    const second = await refresh();
    assert.equal(second.responsesAdded, 1);
    assert.deepEqual(second.campaigns, [campaignId]);
    assert.equal((await facts()).unique_opens, 9);
    const third = await refresh();
    assert.deepEqual([third.responsesAdded, third.campaigns], [0, []]);

    // Uplift (intention to treat): the two clickers and the unopened buyer among the treated, none in the holdout.
    const uplift = await t.call('GET', `/campaigns/${campaignId}/uplift`);
    assert.equal(uplift.status, 200, JSON.stringify(uplift.body));
    assert.equal(uplift.body.treated.converters, 3);
    assert.equal(uplift.body.treated.revenue, 220);
    assert.equal(uplift.body.holdout.converters, 0);
    assert.ok(uplift.body.conversion.low <= uplift.body.conversion.difference && uplift.body.conversion.difference <= uplift.body.conversion.high);
  });

  test('ESP events by streaming (collection envelope) and by batch file join the facts; their unsubscribe becomes consent', async () => {
    const esp = await t.call('POST', '/campaigns/responses/esp-connection', { body: { name: 'acme esp' } });
    assert.equal(esp.status, 201, JSON.stringify(esp.body));
    const mails = [...smtp.mails].sort((a, b) => a.to[0]!.localeCompare(b.to[0]!));
    const target = mails[40]!;
    const messageId = target.headers['x-roundtrip-message']!;
    const envelope = {
      header: { datasetId: esp.body.datasetId },
      body: {
        xdmEntity: {
          _id: 'esp-click-1',
          timestamp: new Date().toISOString(),
          eventType: 'directMarketing.emailClicked',
          identityMap: { Email: [{ id: target.to[0], primary: true }] },
          directMarketing: { messageID: messageId, linkURL: LINKS[1], clicks: { value: 1 } },
          _roundtrip: { campaignId, source: 'esp' },
        },
      },
    };
    const streamed = await t.app.inject({ method: 'POST', url: `/collection/${esp.body.connectionId}`, headers: { authorization: `Bearer ${esp.body.secret}` }, payload: envelope });
    assert.equal(streamed.statusCode, 200, streamed.body);
    const leaver = mails[41]!.to[0]!;
    const csv = `id,type,timestamp,email,campaignId,reason\nx-1,unsubscribed,${new Date().toISOString()},${leaver.toUpperCase()},${campaignId},"Too many, really"\n`;
    const imported = await t.call('POST', '/campaigns/responses/import-csv', { body: { csv } });
    assert.equal(imported.status, 200, JSON.stringify(imported.body));
    assert.deepEqual(imported.body, { received: 1, written: 1, consentUpdates: 1 });
    const before = await facts();
    const outcome = await refresh();
    assert.equal(outcome.responsesAdded, 2);
    const after = await facts();
    assert.equal(after.clicks, before.clicks + 1);
    assert.equal(after.unique_clicks, before.unique_clicks + 1);
    assert.equal(after.unsubscribes, before.unsubscribes + 1, 'the ESP unsubscribe without message id is joined by address');
  });

  test('unsubscribes set consent n on the profile: excluded from the next export and the next campaign', async () => {
    await t.platform.streaming.flush();
    await t.platform.identity.sync('prod');
    await t.platform.profileStore.refresh('prod');
    const w = await t.platform.warehouse.sandbox('prod');
    const ledger = (await w.query(`SELECT DISTINCT l.profile_id FROM _rt_campaign_messages l JOIN _rt_campaign_responses r ON r.message_id = l.message_id WHERE r.event_type = 'directMarketing.emailUnsubscribed'`)).rows.map((r) => Number(r.profile_id));
    assert.equal(ledger.length, 2);
    const consent = (await w.query(`SELECT profile_id, consents.marketing.email.val AS val FROM "${brand.snapshotTable}" WHERE profile_id IN (${ledger.join(', ')})`)).rows;
    assert.deepEqual(consent.map((r) => r.val), ['n', 'n']);
    const { counts, records } = await exportRecords(w, {
      profileTable: brand.snapshotTable,
      profileColumns: await profileColumns(w, brand.snapshotTable),
      segmentId: SEGMENT,
      mergePolicyId: brand.policyId,
      fields: [{ source: { attribute: 'personalEmail.address' }, target: 'email' }],
      dedup: null,
      window: { kind: 'full' },
    });
    assert.equal(counts.skipped.consent, 3, 'the two unsubscribers and the profile that had said no already');
    assert.equal(records.length + 3, 80);
    // A new campaign to the same audience suppresses them.
    const next = await t.call('POST', '/campaigns', {
      body: { name: 'Follow-up', audience: { segmentId: SEGMENT }, smtp: { host: '127.0.0.1', port: smtp.port, user: 'mailer', password: 's3cret-pass', from: 'news@skylark.example', ratePerSecond: 500 }, subject: 'More', html: '<p>More</p>', trackingBaseUrl: base },
    });
    const sent = await t.call('POST', `/campaigns/${next.body.id}/send?wait=true`);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body.totals.suppressed, 3);
    assert.equal(sent.body.totals.heldOut, 0);
  });

  test('tokens: tampering, wrong kind, unknown message and forged link indexes are all 404; no open redirect', async () => {
    const mail = smtp.mails[0]!;
    const { pixel, clicks } = urlsOf(mail);
    const token = clicks[0]!.split('/t/c/')[1]!;
    const [payload, mac] = token.split('.') as [string, string];
    const fields = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forgedPayload = Buffer.from(JSON.stringify([...fields.slice(0, 5), 1])).toString('base64url');
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const bad = [
      `${forgedPayload}.${mac}`, // link index changed, old signature
      `${payload}.${flip(mac, 5)}`,
      `${flip(payload, 3)}.${mac}`,
      pixel.split('/t/o/')[1]!.replace('.gif', ''), // an open token used as a click
      'not-a-token',
      `${payload}`,
    ];
    for (const b of bad) {
      const res = await get(`${base}/t/c/${b}`);
      assert.equal(res.status, 404, b);
      assert.equal(res.headers.get('location'), null);
    }
    assert.equal((await get(`${base}/t/o/${flip(payload, 2)}.${mac}.gif`)).status, 404);
    const keys = campaignKeys({ dataDir: t.config.dataDir });
    const parsed = verifyToken(keys.tracking, token, 'c')!;
    assert.equal(parsed.campaignId, campaignId);
    // Correctly signed, but for a link the campaign does not have / a message that does not exist.
    assert.equal((await get(`${base}/t/c/${signToken(keys.tracking, { ...parsed, link: 99 })}`)).status, 404);
    assert.equal((await get(`${base}/t/c/${signToken(keys.tracking, { ...parsed, messageId: 'f'.repeat(32) })}`)).status, 404);
    // Whatever the query says, the redirect goes to the campaign's link.
    const redirect = await get(`${clicks[0]}?url=https://evil.example&next=//evil.example`);
    assert.equal(redirect.headers.get('location'), LINKS[0]);
    const unsub = await fetch(`${base}/t/u/${flip(payload, 1)}.${mac}`, { method: 'POST' });
    assert.equal(unsub.status, 404);
  });
});
