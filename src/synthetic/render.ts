/**
 * From skeleton rows to XDM records: DuckDB macros that turn codes and indices into text (names, emails,
 * ids, pages) and one SELECT per dataset whose columns are exactly the schema's top-level fields, nested as
 * XDM nests them. The same SELECTs feed every output format (`writers.ts`).
 *
 * Ids are bijections of the person (or device) index modulo a power of ten, offset by the seed: unique by
 * construction, different for every seed, and computable from the index alone, so no lookup table is needed.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteLiteral } from '../adapters/duckdb/duckdb-types.ts';
import { CHANNELS, CONSENT_VALUES, DUP_LINKS, EMAIL_EVENT_TYPES, GENDERS, PERSON_ID_DIGITS, WEB_EVENT_TYPES } from './codes.ts';
import type { ResolvedOptions } from './options.ts';
import { mix32, seedKey } from './random.ts';
import { CAMPAIGN_THEMES, CITIES, DEVICE_MODELS, DEVICE_TYPES, EMAIL_DOMAINS, FEMALE_NAMES, LAST_NAMES, MALE_NAMES, PAGES, PRODUCTS, REFERRERS, STREETS, TIERS, BRAND, emailSafe } from './vocabulary.ts';
import type { DatasetKey } from './schemas.ts';
import type { Campaign } from './simulate.ts';
import { NO_DATE } from './skeleton.ts';

/** Native timestamps for Parquet; ISO 8601 text (`2025-03-04T10:11:12Z`) for JSON Lines and CSV. */
export type TimeStyle = 'native' | 'text';

const list = (values: readonly string[]): string => `[${values.map(quoteLiteral).join(', ')}]`;
/** The four address patterns: first.last, firstlast, f.last, first_last (each followed by a number). */
const EMAIL_PATTERN_PREFIXES: ((first: string) => string)[] = [(f) => `${f}.`, (f) => f, (f) => `${f[0]!}.`, (f) => `${f}_`];
const NAMES = [...FEMALE_NAMES, ...MALE_NAMES];

/** An offset in [0, modulus) derived from the seed (53 bits before reduction), so every seed numbers its ids differently. */
function offset(options: ResolvedOptions, salt: number, modulus: number): number {
  const key = seedKey(options.seed);
  return (mix32(key ^ salt) * 0x20_0000 + (mix32(key + salt) >>> 11)) % modulus;
}

/**
 * `(x·a + b) mod 10^digits`, left-padded: a bijection because a is coprime to 10. Multipliers are chosen so
 * x·a stays below 2^63 for every index the generator can produce (BIGINT is ~7× faster than HUGEINT here).
 */
const scramble = (x: string, a: number, b: number, digits: number): string =>
  `lpad((((${x})::BIGINT * ${a} + ${b}) % ${10 ** digits})::VARCHAR, ${digits}, '0')`;

/** `2025-03` for a campaign sent in March 2025. */
const sendMonth = (campaign: Campaign): string => new Date(campaign.ts * 1000).toISOString().slice(0, 7);

/** `CMP-202503-04`: send month and number. */
export function campaignId(campaign: Campaign): string {
  return `CMP-${sendMonth(campaign).replace('-', '')}-${String(campaign.index + 1).padStart(2, '0')}`;
}

/** `2025-03 Spring sale`: send month and the theme of that month. */
export function campaignName(campaign: Campaign): string {
  const month = sendMonth(campaign);
  return `${month} ${CAMPAIGN_THEMES[Number(month.slice(5)) - 1]!}`;
}

/** Creates the macros every dataset query uses, in the `main` schema of the generator's own database. */
export async function createMacros(connection: DuckDBConnection, options: ResolvedOptions, campaigns: readonly Campaign[]): Promise<void> {
  const o = (salt: number, digits: number): number => offset(options, salt, 10 ** digits);
  const macros: Record<string, [string, string]> = {
    rt_ts_native: ['x', 'to_timestamp(x)'],
    rt_ts_text: ['x', `strftime(to_timestamp(x), '%Y-%m-%dT%H:%M:%SZ')`],
    rt_day: ['x', 'to_timestamp(x)::DATE'],
    rt_person: ['pid', `'P' || lpad(pid::VARCHAR, ${PERSON_ID_DIGITS}, '0')`],
    rt_crm: ['pid, acct', `'CRM' || ${scramble('pid * 2 + acct', 7_919_399_993, o(1, 10), 10)}`],
    rt_member: ['pid, acct', `chr((65 + (pid * 2 + acct) % 3)::INTEGER) || ${scramble('pid * 2 + acct', 387_420_489, o(2, 9), 9)}`],
    // 38 digits like an Adobe ECID: four 9-digit bijections of the device id (so ECIDs are unique) and 2 more.
    // One printf is cheaper than four lpads, and the ECID is computed for every web event.
    rt_ecid: [
      'g',
      `printf('%09d%09d%09d%09d%02d', ${[982_451_653, 961_748_941, 899_809_363, 817_504_243].map((a, i) => `(g::BIGINT * ${a} + ${o(3 + i, 9)}) % 1000000000`).join(', ')}, g % 89)`,
    ],
    rt_phone_digits: ['pid', scramble('pid', 7_654_321, o(7, 7), 7)],
    rt_phone: [
      'pid, fmt',
      `CASE fmt WHEN 1 THEN '+1555' || rt_phone_digits(pid) WHEN 2 THEN '(555) ' || rt_phone_digits(pid)[1:3] || '-' || rt_phone_digits(pid)[4:7] ELSE '555-' || rt_phone_digits(pid)[1:3] || '-' || rt_phone_digits(pid)[4:7] END`,
    ],
    rt_order_id: ['pid, seq', `'ORD-' || ${scramble('pid', 73_939_133, o(8, 8), 8)} || '-' || lpad(seq::VARCHAR, 4, '0')`],
    rt_name: ['i', `${list(NAMES)}[i + 1]`],
    rt_last: ['i', `${list(LAST_NAMES)}[i + 1]`],
    rt_last_e: ['i', `${list(LAST_NAMES.map(emailSafe))}[i + 1]`],
    rt_domain: ['i', `${list(EMAIL_DOMAINS.map(([d]) => d))}[i + 1]`],
    // Email codes are packed by `codes.ts#packEmail`: name, last name, domain, pattern, case. Every pattern is
    // "prefix of the first name" + last name + number, so the local part is two list lookups, not a CASE.
    rt_email_prefix: ['code', `${list(EMAIL_PATTERN_PREFIXES.flatMap((prefix) => NAMES.map((n) => prefix(emailSafe(n)))))}[((code >> 20) & 15) * ${NAMES.length} + (code & 255) + 1]`],
    rt_local: ['pid, code', `rt_email_prefix(code) || rt_last_e((code >> 8) & 255) || (pid + 1)::VARCHAR`],
    rt_capitalise: ['s', 'upper(left(s, 1)) || substr(s, 2)'],
    rt_email: [
      'pid, code',
      `CASE (code >> 24) & 3
          WHEN 0 THEN rt_local(pid, code) || '@' || rt_domain((code >> 16) & 15)
          WHEN 1 THEN rt_capitalise(rt_local(pid, code)) || '@' || rt_capitalise(rt_domain((code >> 16) & 15))
          WHEN 2 THEN upper(rt_local(pid, code) || '@' || rt_domain((code >> 16) & 15))
          ELSE NULL END`,
    ],
    rt_street: ['i', `${list(STREETS)}[i + 1]`],
    rt_city: ['i', `${list(CITIES.map((c) => c[0]))}[i + 1]`],
    rt_region: ['i', `${list(CITIES.map((c) => c[1]))}[i + 1]`],
    rt_country: ['i', `${list(CITIES.map((c) => c[3]))}[i + 1]`],
    rt_postal: [
      'i, z',
      `CASE WHEN rt_country(i) IN ('US', 'DE', 'FR') THEN ${list(CITIES.map((c) => c[2]))}[i + 1] || lpad(z::VARCHAR, 2, '0')
            ELSE ${list(CITIES.map((c) => c[2]))}[i + 1] || ' ' || (1 + z::INTEGER % 9)::VARCHAR || chr(65 + z::INTEGER % 26) || chr(65 + (z::INTEGER * 7) % 26) END`,
    ],
    rt_gender: ['i', `${list(GENDERS)}[i + 1]`],
    rt_consent: ['i', `${list(CONSENT_VALUES)}[i + 1]`],
    rt_channel: ['i', `${list(CHANNELS)}[i + 1]`],
    rt_tier: ['i', `${list(TIERS)}[i + 1]`],
    rt_dup_link: ['i', `${list(DUP_LINKS)}[i + 1]`],
    rt_sku: ['i', `${list(PRODUCTS.map((p) => p.sku))}[i + 1]`],
    rt_product: ['i', `${list(PRODUCTS.map((p) => p.name))}[i + 1]`],
    rt_line: ['sku, cents', `struct_pack(SKU := rt_sku(sku), name := rt_product(sku), quantity := 1::BIGINT, priceTotal := cents::DOUBLE / 100)`],
    rt_page_name: ['i', `${list(PAGES.map((p) => p[0]))}[i + 1]`],
    rt_page_url: ['i', `${quoteLiteral(BRAND.site)} || ${list(PAGES.map((p) => p[1]))}[i + 1]`],
    rt_referrer: ['i', `${list(REFERRERS)}[i + 1]`],
    rt_device_type: ['i', `${list(DEVICE_TYPES)}[i + 1]`],
    rt_device_model: ['t, i', `[${DEVICE_TYPES.map((t) => list(DEVICE_MODELS[t])).join(', ')}][t + 1][i + 1]`],
    rt_web_type: ['i', `${list(WEB_EVENT_TYPES)}[i + 1]`],
    rt_email_type: ['i', `${list(EMAIL_EVENT_TYPES)}[i + 1]`],
    rt_campaign_id: ['i', campaigns.length ? `${list(campaigns.map(campaignId))}[i + 1]` : 'NULL::VARCHAR'],
    rt_campaign_name: ['i', campaigns.length ? `${list(campaigns.map(campaignName))}[i + 1]` : 'NULL::VARCHAR'],
    rt_item: ['id, state, prim', `struct_pack(id := id, authenticatedState := state, "primary" := prim)`],
    rt_one: ['flag', 'CASE WHEN flag THEN struct_pack(value := 1::DOUBLE) END'],
  };
  for (const [name, [params, body]] of Object.entries(macros)) {
    await connection.run(`CREATE OR REPLACE MACRO main.${name}(${params}) AS (${body})`);
  }
}

const site = quoteLiteral(BRAND.site);
const IDENTITY_MAP = `MAP(VARCHAR, STRUCT(id VARCHAR, authenticatedState VARCHAR, "primary" BOOLEAN)[])`;

/**
 * An identityMap from `namespace → identity item` pairs. Casting a STRUCT to a MAP is much cheaper in DuckDB
 * than building the MAP (which checks its keys row by row), and the identity map is the costliest column.
 */
const identityMap = (entries: Record<string, string>): string =>
  `CAST(struct_pack(${Object.entries(entries).map(([ns, item]) => `"${ns}" := [${item}]`).join(', ')}) AS ${IDENTITY_MAP})`;

/** The XDM records of one dataset, in skeleton order (no join, no sort: the order is the simulation's). */
export function datasetQuery(key: DatasetKey, tenant: string, style: TimeStyle, where = ''): string {
  const ts = (x: string): string => `rt_ts_${style}(${x})`;
  const t = `"_${tenant}"`;
  switch (key) {
    case 'profiles':
      return `SELECT
        'prf-' || pid || '-' || acct AS "_id",
        struct_pack(
          name := struct_pack(firstName := nf, lastName := nl, fullName := nf || ' ' || nl),
          birthDate := CASE WHEN birth <> ${NO_DATE} THEN DATE '1970-01-01' + birth END,
          gender := CASE WHEN gender < 3 THEN rt_gender(gender) END) AS person,
        CASE WHEN (email >> 24) & 3 <> 3 THEN struct_pack(address := rt_email(pid, email)) END AS personalEmail,
        CASE WHEN phone > 0 THEN struct_pack(number := rt_phone(pid, phone)) END AS mobilePhone,
        CASE WHEN street_no > 0 THEN struct_pack(
          street1 := street_no::VARCHAR || ' ' || rt_street(street), city := rt_city(city), postalCode := rt_postal(city, zip),
          region := rt_region(city), countryCode := rt_country(city)) END AS homeAddress,
        struct_pack(loyaltyID := rt_member(pid, acct), tier := rt_tier(tier), points := points::DOUBLE, joinDate := rt_day(created)) AS loyalty,
        CASE WHEN email_consent > 0 OR sms_consent > 0 THEN struct_pack(marketing := struct_pack(
          email := CASE WHEN email_consent > 0 THEN struct_pack(val := rt_consent(email_consent), "time" := ${ts('consent_ts')}) END,
          sms := CASE WHEN sms_consent > 0 THEN struct_pack(val := rt_consent(sms_consent), "time" := ${ts('created')}) END)) END AS consents,
        struct_pack(crmId := rt_crm(pid, acct), signupChannel := rt_channel(channel), signupTimestamp := ${ts('created')}) AS ${t}
      FROM (SELECT *,
          CASE WHEN upper_name = 1 THEN upper(rt_name(fname)) ELSE rt_name(fname) END AS nf,
          CASE WHEN upper_name = 1 THEN upper(rt_last(lname)) ELSE rt_last(lname) END AS nl
        FROM s_accounts ${where})`;
    case 'orders':
      return `SELECT
        order_id AS "_id",
        ${ts('ts')} AS "timestamp",
        'commerce.purchases' AS eventType,
        CASE WHEN dev < 0
          THEN ${identityMap({ CRMID: `rt_item(rt_crm(pid, acct), 'authenticated', true)`, Loyalty: `rt_item(rt_member(pid, acct), 'authenticated', false)` })}
          ELSE ${identityMap({ CRMID: `rt_item(rt_crm(pid, acct), 'authenticated', true)`, Loyalty: `rt_item(rt_member(pid, acct), 'authenticated', false)`, ECID: `rt_item(rt_ecid(dev), 'authenticated', false)` })}
          END AS identityMap,
        struct_pack(
          "order" := struct_pack(purchaseID := order_id, priceTotal := total::DOUBLE / 100, currencyCode := '${BRAND.currency}'),
          purchases := rt_one(true)) AS commerce,
        list_slice([rt_line(sku1, cents1), rt_line(sku2, cents2), rt_line(sku3, cents3)], 1, items) AS productListItems,
        struct_pack(channel := rt_channel(channel), storeId := CASE WHEN channel = 2 THEN 'STORE-' || lpad((store::INTEGER + 1)::VARCHAR, 3, '0') END) AS ${t}
      FROM (SELECT *, rt_order_id(pid, seq) AS order_id FROM s_orders ${where})`;
    case 'loyalty':
      return `SELECT
        'mil-' || pid || '-' || seq AS "_id",
        ${ts('ts')} AS "timestamp",
        struct_pack(
          membershipNumber := rt_member(pid, acct),
          emailAddress := CASE WHEN (email >> 24) & 3 <> 3 THEN struct_pack(address := rt_email(pid, email)) END,
          transactionDate := rt_day(ts),
          transactionType := CASE WHEN kind IN (1, 3) THEN 'AWARD_MILES' ELSE 'STATUS_MILES' END,
          transactionDetails := CASE kind WHEN 0 THEN 'New member' WHEN 3 THEN 'Reward redemption' WHEN 4 THEN 'New credit card' ELSE rt_order_id(pid, order_seq) END,
          mileage := miles::BIGINT,
          loyaltyStatus := rt_tier(tier)) AS ${t}
      FROM s_loyalty ${where}`;
    case 'web':
      return `SELECT
        'web-' || pid || '-' || seq AS "_id",
        ${ts('ts')} AS "timestamp",
        rt_web_type(kind) AS eventType,
        CASE WHEN auth = 0
          THEN ${identityMap({ ECID: `rt_item(ecid, 'ambiguous', true)` })}
          ELSE ${identityMap({ ECID: `rt_item(ecid, 'authenticated', true)`, CRMID: `rt_item(rt_crm(pid, acct), 'authenticated', false)` })}
          END AS identityMap,
        struct_pack(
          webPageDetails := CASE kind
            WHEN 0 THEN struct_pack(name := rt_page_name(page), URL := rt_page_url(page))
            WHEN 3 THEN struct_pack(name := 'Checkout', URL := ${site} || '/checkout')
            WHEN 4 THEN struct_pack(name := 'Sign in', URL := ${site} || '/account/login')
            ELSE struct_pack(name := rt_product(product), URL := ${site} || '/p/' || rt_sku(product)) END,
          webReferrer := CASE WHEN ref > 0 THEN struct_pack(URL := rt_referrer(ref)) END) AS web,
        struct_pack("type" := rt_device_type(devtype), model := rt_device_model(devtype, model), isMobileDevice := devtype > 0) AS device,
        CASE WHEN kind IN (1, 2, 3) THEN struct_pack(
          "order" := CASE WHEN kind = 3 THEN struct_pack(purchaseID := rt_order_id(pid, order_seq), priceTotal := cents::DOUBLE / 100, currencyCode := '${BRAND.currency}') END,
          productViews := rt_one(kind = 1),
          productListAdds := rt_one(kind = 2),
          checkouts := rt_one(kind = 3)) END AS commerce,
        CASE WHEN kind IN (1, 2) THEN [rt_line(product, cents)] END AS productListItems,
        struct_pack(channel := rt_channel(channel), sessionId := 'ses-' || pid || '-' || sess) AS ${t}
      FROM (SELECT *, rt_ecid(dev) AS ecid FROM s_web ${where})`;
    case 'email':
      return `SELECT
        'eml-' || pid || '-' || campaign || '-' || kind AS "_id",
        ${ts('ts')} AS "timestamp",
        rt_email_type(kind) AS eventType,
        ${identityMap({ Email: `rt_item(rt_email(pid, email), 'ambiguous', true)`, CRMID: `rt_item(rt_crm(pid, 0), 'ambiguous', false)` })} AS identityMap,
        struct_pack(
          messageID := 'MSG-' || rt_campaign_id(campaign),
          mailingName := rt_campaign_name(campaign),
          linkURL := CASE WHEN kind = 3 THEN rt_page_url(link) || '?utm_source=email&utm_campaign=' || rt_campaign_id(campaign) END,
          emailBouncedCode := CASE WHEN kind = 4 THEN '550 5.1.1' END,
          unsubscribeReason := CASE WHEN kind = 5 THEN ['Too many emails', 'Not relevant', 'Never signed up', 'Other'][pid % 4 + 1] END,
          sends := rt_one(kind = 0),
          emailDelivered := rt_one(kind = 1),
          opens := rt_one(kind = 2),
          clicks := rt_one(kind = 3),
          bounces := rt_one(kind = 4),
          unsubscriptions := rt_one(kind = 5)) AS directMarketing,
        struct_pack(campaignId := rt_campaign_id(campaign)) AS ${t}
      FROM s_email ${where}`;
  }
}

/** One row per person: the latent values, outcomes and identities behind the generated data. */
export function groundTruthQuery(options: ResolvedOptions, end: number, style: TimeStyle): string {
  const ts = (x: string): string => `rt_ts_${style}(${x})`;
  return `SELECT
      rt_person(pid) AS person_id,
      customer = 1 AS is_customer,
      ${ts('signup')} AS signup_at,
      CASE WHEN orders > 0 THEN ${ts('first_order')} END AS first_purchase_at,
      CASE WHEN orders > 0 THEN ${ts('last_order')} END AS last_purchase_at,
      lam AS "lambda",
      dropout AS p,
      nu,
      died = 1 AS dropped_out,
      CASE WHEN orders > 0 THEN orders - 1 END AS x,
      CASE WHEN orders > 0 THEN (last_order::DOUBLE - first_order) / 604800 END AS t_x,
      CASE WHEN orders > 0 THEN (${end}::DOUBLE - first_order) / 604800 END AS "T",
      orders AS transactions,
      spend_cents / 100 AS spend_total,
      CASE WHEN orders > 1 THEN repeat_cents / 100 / (orders - 1) END AS repeat_spend_mean,
      ${options.gammaGamma.p} / nu AS expected_spend,
      devices,
      shared = 1 AS shared_device,
      accounts,
      rt_dup_link(dup_link) AS duplicate_link,
      rt_consent(consent) AS email_consent,
      bad_email = 1 AS bad_email,
      list_slice([rt_crm(pid, 0), rt_crm(pid, 1)], 1, accounts) AS crm_ids,
      list_slice([rt_member(pid, 0), rt_member(pid, 1)], 1, accounts) AS loyalty_ids,
      rt_email(pid, email) AS email,
      CASE WHEN phone > 0 THEN rt_phone(pid, 1) END AS phone,
      list_transform(range(devices), s -> rt_ecid(pid * 5 + s)) AS ecids,
      CASE WHEN shared = 1 THEN rt_ecid((pid - pid % 2) * 5 + 4) END AS shared_ecid
    FROM s_persons`;
}
