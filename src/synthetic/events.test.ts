/**
 * The datasets agree with each other: every online order has its checkout (same order id, device and products)
 * just before it, the loyalty ledger adds up to the profiles' points and tiers, and email responses follow the
 * funnel, stop after an unsubscribe or a hard bounce, go only to consenting people, and rise with true value.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateTemp, openDb, type Db, type Generated } from './test-support.ts';

describe('consistency between datasets for 5,000 people', () => {
  let brand: Generated;
  let db: Db;

  before(async () => {
    brand = await generateTemp({ profiles: 5_000, seed: 5 });
    db = await openDb();
    await db.query(`CREATE TABLE orders AS SELECT "_id" AS id, "timestamp" AS ts, identityMap['ECID'][1].id AS ecid, "_roundtrip".channel AS channel,
      list_sort(list_transform(productListItems, i -> i.SKU)) AS skus FROM ${brand.files('orders')}`);
    await db.query(`CREATE TABLE web AS SELECT "timestamp" AS ts, eventType, identityMap['ECID'][1].id AS ecid, commerce."order".purchaseID AS purchase,
      productListItems[1].SKU AS sku, "_roundtrip".sessionId AS session FROM ${brand.files('web')}`);
    await db.query(`CREATE TABLE email AS SELECT "timestamp" AS ts, eventType AS type, identityMap['CRMID'][1].id AS crm, "_roundtrip".campaignId AS campaign
      FROM ${brand.files('email')}`);
  });

  after(() => {
    db.close();
    brand.remove();
  });

  it('gives every web and app order one checkout on the same device, with the same products, just before it', async () => {
    const checkouts = await db.query<{ channel: string; n: number; same_device: boolean; just_before: boolean }>(`
      SELECT o.channel, count(w.purchase) AS n, bool_and(w.ecid = o.ecid) AS same_device, bool_and(w.ts < o.ts AND w.ts >= o.ts - INTERVAL 1 MINUTE) AS just_before
      FROM orders o LEFT JOIN web w ON w.purchase = o.id AND w.eventType = 'commerce.checkouts' GROUP BY o.id, o.channel`);
    for (const row of checkouts) {
      if (row.channel === 'store') assert.equal(row.n, 0);
      else assert.deepEqual([row.n, row.same_device, row.just_before], [1, true, true], JSON.stringify(row));
    }
    assert.ok(checkouts.some((r) => r.channel === 'store') && checkouts.some((r) => r.channel === 'app'));
    assert.equal(await db.value(`SELECT count(*) FROM web WHERE eventType = 'commerce.checkouts' AND purchase NOT IN (SELECT id FROM orders)`), 0);
    const cartMismatch = await db.value(`
      WITH carts AS (SELECT session, list_sort(list(sku) FILTER (eventType = 'commerce.productListAdds')) AS skus, any_value(purchase) FILTER (purchase IS NOT NULL) AS purchase
                     FROM web GROUP BY session HAVING count(purchase) > 0)
      SELECT count(*) FROM carts JOIN orders o ON o.id = carts.purchase WHERE carts.skus <> o.skus`);
    assert.equal(cartMismatch, 0);
  });

  it('adds the loyalty ledger up to the points and tier of each profile', async () => {
    const mismatches = await db.query(`
      WITH ledger AS (
        SELECT "_roundtrip".membershipNumber AS member,
               sum("_roundtrip".mileage) FILTER ("_roundtrip".transactionType = 'AWARD_MILES') AS award,
               arg_max("_roundtrip".loyaltyStatus, "_id".split('-')[3]::INTEGER) AS last_status,
               count(*) FILTER ("_roundtrip".transactionDetails LIKE 'ORD-%' AND "_roundtrip".transactionType = 'STATUS_MILES') AS orders
        FROM ${brand.files('loyalty')} GROUP BY member),
      orders AS (SELECT identityMap['Loyalty'][1].id AS member, count(*) AS n FROM ${brand.files('orders')} GROUP BY member)
      SELECT p.loyalty.loyaltyID, p.loyalty.points, l.award, p.loyalty.tier, l.last_status, l.orders, o.n
      FROM ${brand.files('profiles')} p JOIN ledger l ON l.member = p.loyalty.loyaltyID LEFT JOIN orders o ON o.member = l.member
      WHERE p.loyalty.points <> coalesce(l.award, 0) OR p.loyalty.tier <> l.last_status OR l.orders <> coalesce(o.n, 0)`);
    assert.deepEqual(mismatches, []);
    const tiers = await db.query<{ tier: string }>(`SELECT loyalty.tier AS tier, count(*) AS n FROM ${brand.files('profiles')} GROUP BY 1`);
    assert.deepEqual(tiers.map((t) => t.tier).sort(), ['FLYER', 'FREQUENT', 'GOLD', 'SILVER']);
  });

  it('follows the email funnel and stops after an unsubscribe or a hard bounce', async () => {
    const funnel = await db.query<{ types: string[] }>(`
      SELECT crm, campaign, list(type ORDER BY ts, type) AS types FROM email GROUP BY crm, campaign`);
    const allowed = /^(directMarketing\.emailSent,directMarketing\.(emailBounced|emailDelivered(,directMarketing\.emailOpened(,directMarketing\.emailClicked)?(,directMarketing\.emailUnsubscribed)?)?))$/;
    for (const row of funnel) assert.match(row.types.join(','), allowed);
    const afterStop = await db.value(`
      WITH stops AS (SELECT crm, min(ts) AS stopped FROM email WHERE type IN ('directMarketing.emailUnsubscribed', 'directMarketing.emailBounced') GROUP BY crm)
      SELECT count(*) FROM email JOIN stops USING (crm) WHERE type = 'directMarketing.emailSent' AND ts > stopped`);
    assert.equal(afterStop, 0);
  });

  it('emails only people who consented (or withdrew by unsubscribing)', async () => {
    const wrong = await db.value(`
      WITH recipients AS (SELECT DISTINCT crm FROM email),
           people AS (SELECT crm_ids[1] AS crm, email_consent FROM ${brand.files('customers')})
      SELECT count(*) FROM recipients JOIN people USING (crm)
      WHERE email_consent <> 'y' AND crm NOT IN (SELECT crm FROM email WHERE type = 'directMarketing.emailUnsubscribed')`);
    assert.equal(wrong, 0);
  });

  it('has plausible rates, with opens and clicks rising with true customer value', async () => {
    const [rates] = await db.query<{ open_rate: number; click_to_open: number; bounce_rate: number }>(`
      SELECT count(*) FILTER (type = 'directMarketing.emailOpened') / count(*) FILTER (type = 'directMarketing.emailDelivered') AS open_rate,
             count(*) FILTER (type = 'directMarketing.emailClicked') / count(*) FILTER (type = 'directMarketing.emailOpened') AS click_to_open,
             count(*) FILTER (type = 'directMarketing.emailBounced') / count(*) FILTER (type = 'directMarketing.emailSent') AS bounce_rate
      FROM email`);
    const { open_rate, click_to_open, bounce_rate } = rates!;
    assert.ok(open_rate > 0.1 && open_rate < 0.35, `open rate ${open_rate}`);
    assert.ok(click_to_open > 0.1 && click_to_open < 0.4, `click-to-open ${click_to_open}`);
    assert.ok(bounce_rate < 0.05, `bounce rate ${bounce_rate}`);
    // True value: expected purchases in a year while active (52λ) × true mean spend; compare the bottom and top quartiles.
    const byValue = await db.query<{ quartile: number; open_rate: number; click_rate: number }>(`
      WITH value AS (SELECT crm_ids[1] AS crm, ntile(4) OVER (ORDER BY "lambda" * 52 * expected_spend) AS quartile FROM ${brand.files('customers')} WHERE is_customer)
      SELECT quartile, count(*) FILTER (type = 'directMarketing.emailOpened') / count(*) FILTER (type = 'directMarketing.emailDelivered') AS open_rate,
             count(*) FILTER (type = 'directMarketing.emailClicked') / count(*) FILTER (type = 'directMarketing.emailDelivered') AS click_rate
      FROM email JOIN value USING (crm) GROUP BY quartile ORDER BY quartile`);
    const [bottom, , , top] = byValue;
    assert.ok(top!.open_rate > 1.5 * bottom!.open_rate, JSON.stringify(byValue));
    assert.ok(top!.click_rate > 2 * bottom!.click_rate, JSON.stringify(byValue));
  });
});
