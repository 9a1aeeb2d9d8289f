/**
 * The demo at a small size, in process, without serving: every step's counts are checked against what the data
 * directory then holds, computed independently in SQL (dataset rows, failed records, profiles, CLV rows,
 * audience members from the PQL's meaning, exported CSV rows, the campaign ledger and holdout hash, tracking
 * events and facts). Also: a failing step names itself, its fix and keeps its code; a foreign folder is refused.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MEMBERSHIP_TABLE } from '../audiences/membership-tables.ts';
import { RoundtripError } from '../core/errors.ts';
import { tempDir } from '../testing/temp.ts';
import { csvRows } from './act.ts';
import { AT_RISK_KEY, AT_RISK_P_ALIVE, TOP_TIERS } from './audiences.ts';
import { sql, type DemoContext, type Step } from './context.ts';
import { DEMO_STEPS, runDemo, type DemoRun, type StepRecord } from './index.ts';
import { CLV_DECILE_FACTS } from './measure.ts';
import { DEMO_MARKER, prepareDirectory } from './setup.ts';
import { TIERS } from '../synthetic/vocabulary.ts';

const PROFILES = 2000;

describe('roundtrip demo at 2,000 profiles', () => {
  const temp = tempDir('roundtrip-demo-');
  const dataDir = path.join(temp.dir, 'demo');
  let run: DemoRun;
  let ctx: DemoContext;
  const step = (name: string): StepRecord => run.steps.find((s) => s.name === name)!;
  /** A step's counts; a missing key reads as NaN, which fails any equality. */
  const counts = (name: string): { readonly [key: string]: number } & Record<'rowsRead' | 'rowsRejected' | 'rowsWritten' | 'applied' | 'profiles' | 'members' | 'exported' | 'skippedConsent' | 'skippedNoEmail' | 'widgets', number> =>
    new Proxy(step(name).counts, { get: (target, key: string) => target[key] ?? Number.NaN }) as never;
  const one = async (statement: string): Promise<number> => Number(Object.values((await sql(ctx, statement))[0] ?? {})[0] ?? 0);
  let table: string;
  const t = '_roundtrip';

  before(async () => {
    const lines: string[] = [];
    run = await runDemo({ dataDir, profiles: PROFILES, serve: false, config: { logLevel: 'silent', duckdbMemoryLimit: '1GB' }, progress: (l) => lines.push(l) }, DEMO_STEPS);
    ctx = run.context;
    table = `"${ctx.state.policy!.snapshotTable}"`;
    assert.ok(lines.some((l) => l.startsWith('[11/11]')), 'progress names every step');
  });
  after(async () => {
    await run?.close();
    temp.remove();
  });

  it('runs every step, none skipped or failed, in well under the time budget', () => {
    assert.deepEqual(
      run.steps.map((s) => `${s.name}:${s.status}`),
      DEMO_STEPS.map((s) => `${s.name}:ok`),
    );
    assert.ok(run.seconds < 90, `${run.seconds} s`);
  });

  it('initialises a marked demo directory with a working admin key', async () => {
    assert.ok(existsSync(path.join(dataDir, DEMO_MARKER)));
    const res = await ctx.state.app!.inject({ method: 'GET', url: '/sandboxes', headers: { authorization: `Bearer ${ctx.state.adminToken}` } });
    assert.equal(res.statusCode, 200);
  });

  it('ingests every generated row: dataset rows = rows read − failed records', async () => {
    const c = counts('ingest');
    const manifest = ctx.state.manifest!;
    assert.equal(counts('generate').people, PROFILES);
    assert.equal(c.rowsRead, manifest.datasets.reduce((s, d) => s + d.rows + (d.malformed?.rows ?? 0), 0));
    assert.ok(c.rowsRejected > 0, 'the malformed rows are refused');
    assert.equal(c.rowsRejected, await one(`SELECT count(*) FROM _rt_failed_records WHERE source = 'batch'`));
    let stored = 0;
    for (const d of manifest.datasets) stored += await one(`SELECT count(*) FROM ${d.table}`);
    assert.equal(stored - counts('stream').applied, c.rowsRead - c.rowsRejected);
    assert.equal(c.rowsWritten, c.rowsRead - c.rowsRejected);
  });

  it('streams the live tail through the collection endpoint: every event acknowledged is stored', async () => {
    const c = counts('stream');
    assert.equal(c.sent, ctx.options.streamEvents);
    assert.equal(c.stored, c.sent);
    assert.equal(c.applied, c.stored);
    assert.equal(await one(`SELECT count(*) FROM web_events WHERE _id LIKE 'live-%'`), c.stored);
  });

  it('resolves one profile per identity graph', async () => {
    const c = counts('resolve');
    assert.equal(c.profiles, await one(`SELECT count(*) FROM ${table}`));
    assert.equal(c.profiles, await one('SELECT count(DISTINCT graph) FROM _rt_identity_nodes'));
    assert.equal(c.identities, await one('SELECT count(*) FROM _rt_identity_nodes'));
    assert.ok(c.profiles < counts('ingest').rowsWritten && c.profiles > PROFILES * 0.9, `${c.profiles} profiles`);
  });

  it('writes one CLV attribute row per buyer before asOf and one prediction per buyer', async () => {
    const asOf = ctx.state.manifest!.window.end.slice(0, 10);
    assert.equal(counts('clv-attributes').customers, await one(`SELECT count(DISTINCT customer_id) FROM clv_transactions WHERE purchased_at < TIMESTAMPTZ '${asOf}'`));
    assert.equal(counts('clv-attributes').customers, await one('SELECT count(*) FROM clv_attributes'));
    assert.equal(counts('clv-predict').predictions, await one('SELECT count(DISTINCT customer_id) FROM clv_transactions'));
    assert.equal(counts('clv-predict').predictions, await one('SELECT count(*) FROM clv_predictions'));
    assert.ok((await one(`SELECT count(*) FROM ${table} WHERE ${t}.clvPrediction.probabilityAlive IS NOT NULL`)) > 0, 'predictions are merged into profiles');
  });

  it('evaluates each audience to exactly the profiles its PQL describes', async () => {
    const c = counts('audiences');
    for (const tier of TOP_TIERS) assert.equal(c[`top-${tier.toLowerCase()}`], await one(`SELECT count(*) FROM ${table} WHERE ${t}.decilesRevenue.decileMonth12['${tier}'] <= 3`), tier);
    const topAll = TIERS.map((tier) => `coalesce(${t}.decilesRevenue.decileMonthAll['${tier}'] <= 3, false)`).join(' OR ');
    assert.equal(c[AT_RISK_KEY], await one(`SELECT count(*) FROM ${table} WHERE (${topAll}) AND ${t}.clvPrediction.probabilityAlive < ${AT_RISK_P_ALIVE}`));
    assert.ok(c[AT_RISK_KEY] > 0 && c['top-silver']! > 0, JSON.stringify(c));
  });

  it('exports the members who consent and have an email to the local folder', async () => {
    const c = counts('activate');
    const audience = ctx.state.audiences.find((a) => step('activate').note!.startsWith(a.key))!;
    const expected = await one(`SELECT count(*) FROM ${MEMBERSHIP_TABLE} m JOIN ${table} p ON p.profile_id = m.profile_id
      WHERE m.segment_id = '${audience.id}' AND m.status = 'realized'
        AND coalesce(p.consents.marketing.email.val, '') NOT IN ('n', 'dn') AND trim(coalesce(p.personalEmail.address, '')) <> ''`);
    assert.equal(c.members, audience.members);
    assert.equal(csvRows(ctx.state.exportFolder!), expected);
    assert.equal(c.fileRows, expected);
    assert.equal(c.exported, expected);
    assert.equal(c.skippedConsent + c.skippedNoEmail + c.exported, c.members);
  });

  it('mails the treated, consenting members with an address, and holds out by the documented hash', async () => {
    const campaign = ctx.state.campaign!;
    const members = await sql(ctx, `SELECT m.profile_id AS id, p.consents.marketing.email.val AS consent, p.personalEmail.address AS email
      FROM ${MEMBERSHIP_TABLE} m JOIN ${table} p ON p.profile_id = m.profile_id WHERE m.segment_id = '${campaign.segmentId}' AND m.status = 'realized'`);
    const heldOut = (id: unknown): boolean => {
      const digest = createHash('sha256').update(`${campaign.id}:${String(id)}`).digest();
      return Number(digest.readBigUInt64BE(0) >> 12n) / 2 ** 52 < 0.1;
    };
    const treated = members.filter((m) => !heldOut(m.id));
    const mailable = treated.filter((m) => typeof m.email === 'string' && m.email !== '' && m.consent !== 'n');
    assert.equal(campaign.heldOut, members.length - treated.length);
    assert.equal(campaign.received, mailable.length);
    assert.equal(campaign.sent, mailable.length);
    assert.equal(await one(`SELECT count(*) FROM _rt_campaign_messages WHERE campaign_id = '${campaign.id}' AND status = 'sent'`), campaign.received);
  });

  it('records every simulated open and click as tracking events and in the campaign facts', async () => {
    const campaign = ctx.state.campaign!;
    assert.ok(campaign.opens > 0 && campaign.clicks > 0, JSON.stringify(campaign));
    const events = async (type: string): Promise<number> =>
      one(`SELECT count(*) FROM email_tracking WHERE eventType = 'directMarketing.${type}' AND ${t}.campaignId = '${campaign.id}'`);
    assert.equal(await events('emailOpened'), campaign.opens);
    assert.equal(await events('emailClicked'), campaign.clicks);
    const m = counts('measure');
    assert.equal(m.factOpens, campaign.opens);
    assert.equal(m.factClicks, campaign.clicks);
    assert.equal(m.factSends, campaign.sent);
  });

  it('fills the insights model and every standard dashboard widget', async () => {
    const m = counts('measure');
    assert.equal(m.clvDecileProfiles, await one(`SELECT sum(count_of_profiles) FROM ${CLV_DECILE_FACTS} WHERE date_key = (SELECT max(date_key) FROM ${CLV_DECILE_FACTS})`));
    assert.ok(m.clvDecileProfiles > 0);
    assert.ok(m.widgets > 0);
    assert.equal(m.widgetsWithData, m.widgets);
  });
});

describe('demo guard rails', () => {
  it('refuses a non-empty folder that is not a demo directory, and replaces one that is', () => {
    const temp = tempDir('roundtrip-demo-guard-');
    try {
      writeFileSync(path.join(temp.dir, 'notes.txt'), 'mine');
      assert.throws(() => prepareDirectory(temp.dir), (e: unknown) => e instanceof RoundtripError && e.code === 'RT_DEMO_DATA_DIR_NOT_EMPTY');
      assert.ok(existsSync(path.join(temp.dir, 'notes.txt')), 'nothing was removed');
      const demo = path.join(temp.dir, 'old-demo');
      mkdirSync(path.join(demo, 'warehouse'), { recursive: true });
      writeFileSync(path.join(demo, DEMO_MARKER), '{}');
      assert.equal(prepareDirectory(demo), 'replaced');
      assert.ok(!existsSync(path.join(demo, 'warehouse')));
      assert.equal(prepareDirectory(path.join(temp.dir, 'new')), 'created');
    } finally {
      temp.remove();
    }
  });

  it('a failing step names itself and its fix, keeps the error code, and closes what was opened', async () => {
    let closed = false;
    const steps: Step[] = [
      {
        name: 'first',
        title: 'First',
        fix: 'nothing',
        run: (ctx) => {
          ctx.cleanups.push(() => Promise.resolve(void (closed = true)));
          return Promise.resolve({ counts: { n: 1 } });
        },
      },
      { name: 'broken', title: 'Broken step', fix: 'Do the documented thing.', run: () => Promise.reject(new RoundtripError('RT_CLV_FIT_FAILED', 'no data')) },
      { name: 'never', title: 'Never', fix: '', run: () => Promise.reject(new Error('must not run')) },
    ];
    const temp = tempDir('roundtrip-demo-fail-');
    try {
      await assert.rejects(
        runDemo({ dataDir: temp.dir, profiles: 10, serve: false, config: { logLevel: 'silent' } }, steps),
        (e: unknown) => e instanceof RoundtripError && e.code === 'RT_CLV_FIT_FAILED' && /"broken"/.test(e.message) && /Fix: Do the documented thing\./.test(e.message) && (e.details as { step: string }).step === 'broken',
      );
      assert.ok(closed);
      const unexpected: Step[] = [{ name: 'boom', title: 'Boom', fix: 'Report it.', run: () => Promise.reject(new TypeError('x is undefined')) }];
      await assert.rejects(runDemo({ dataDir: temp.dir, profiles: 10, serve: false, config: { logLevel: 'silent' } }, unexpected), (e: unknown) => e instanceof RoundtripError && e.code === 'RT_DEMO_STEP_FAILED');
    } finally {
      temp.remove();
    }
  });
});
