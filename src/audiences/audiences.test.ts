import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Clock } from '../core/clock.ts';
import { resolveConfig } from '../core/config.ts';
import { initDataDir, openPlatform, type Platform } from '../platform/platform.ts';
import { buildApp, type App } from '../server/app.ts';
import type { Json } from '../testing/platform.ts';
import { tempDir } from '../testing/temp.ts';
import { MEMBERSHIP_HISTORY_TABLE, MEMBERSHIP_TABLE } from './membership-tables.ts';
import { wilson } from './estimates.ts';

/** A real platform whose clock the test moves (for the 30-day purge), with the HTTP app. */
interface Clocked {
  platform: Platform;
  app: App;
  clock: { at: number } & Clock;
  call(method: string, url: string, options?: { body?: unknown; token?: string }): Promise<{ status: number; body: Json }>;
  dispose(): Promise<void>;
}

async function clockedPlatform(): Promise<Clocked> {
  const temp = tempDir();
  const clock = { at: Date.parse('2026-03-01T12:00:00Z'), now: () => new Date(clock.at) };
  const config = resolveConfig({ env: {}, flags: { dataDir: temp.dir, logLevel: 'silent', duckdbMemoryLimit: '1GB' } });
  const { adminToken } = await initDataDir(config, clock);
  const platform = await openPlatform(config, clock);
  const app = await buildApp(platform, { auth: 'api-key', logLevel: 'silent' });
  await app.ready();
  const call: Clocked['call'] = async (method, url, options = {}) => {
    const response = await app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${options.token ?? adminToken}` }, ...(options.body === undefined ? {} : { payload: options.body as object }) });
    return { status: response.statusCode, body: response.body ? (JSON.parse(response.body) as unknown) : undefined };
  };
  return {
    platform,
    app,
    clock,
    call,
    dispose: async () => {
      await app.close();
      await platform.close();
      temp.remove();
    },
  };
}

const MEMBER_SCHEMA = {
  title: 'Loyalty members',
  class: 'profile',
  fieldGroups: ['person-details', 'personal-contact-details', 'identity-map'],
  fields: { crmId: { type: 'string' }, loyaltyStatus: { type: 'string' }, revenueDeciles: { $ref: 'deciles' } },
  identities: [
    { path: '_roundtrip.crmId', namespace: 'CRMID', primary: true },
    { path: 'personalEmail.address', namespace: 'Email' },
  ],
};
const EVENT_SCHEMA = { title: 'Member events', class: 'experienceevent', fieldGroups: ['commerce-details', 'direct-marketing', 'identity-map'] };

const DAY = 86_400_000;
const TIERS = ['GOLD', 'SILVER', 'GOLD', 'FLYER', 'GOLD'];

interface Person {
  i: number;
  crmId: string;
  email: string;
  tier: string;
  decile: number;
  /** Days before the start of the test of the person's last email open (none: never opened). */
  openedDaysAgo: number | null;
}

function people(n: number): Person[] {
  return Array.from({ length: n }, (_, i) => ({
    i,
    crmId: `C${String(i).padStart(4, '0')}`,
    email: `member${i}@example.com`,
    tier: TIERS[i % TIERS.length]!,
    decile: ((i * 7) % 10) + 1,
    openedDaysAgo: i % 3 === 0 ? null : (i * 11) % 50,
  }));
}

const memberRecord = (p: Person, tier = p.tier) => ({
  _id: `m-${p.crmId}-${tier}`,
  personalEmail: { address: p.email },
  _roundtrip: { crmId: p.crmId, loyaltyStatus: tier, revenueDeciles: { decileMonth6: { [tier]: p.decile } } },
});

const openEvent = (p: Person, at: number) => ({
  _id: `open-${p.crmId}-${at}`,
  timestamp: new Date(at).toISOString(),
  eventType: 'directMarketing.emailOpened',
  identityMap: { CRMID: [{ id: p.crmId }] },
});

/** The workflow audience (reference §4, §10): top 3 revenue deciles among GOLD members who opened an email in 30 days. */
const WORKFLOW_PQL = `_roundtrip.loyaltyStatus = "GOLD" and _roundtrip.revenueDeciles.decileMonth6.get("GOLD") <= 3
  and exists E from xEvent where (E.eventType = "directMarketing.emailOpened" and E.timestamp occurs <= 30 days before now)`;

const expectedWorkflow = (list: readonly Person[], tierOf: (p: Person) => string = (p) => p.tier) =>
  list.filter((p) => tierOf(p) === 'GOLD' && p.decile <= 3 && p.openedDaysAgo !== null && p.openedDaysAgo < 30).map((p) => p.crmId).sort();

async function created(t: Clocked, url: string, body: unknown): Promise<string> {
  const res = await t.call('POST', url, { body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id as string;
}

async function jobDone(t: Clocked, ids: string[]): Promise<Json> {
  const job = await t.call('POST', '/segment/jobs', { body: ids.map((segmentId) => ({ segmentId })) });
  assert.equal(job.status, 200, JSON.stringify(job.body));
  assert.ok(['NEW', 'QUEUED', 'PROCESSING', 'SUCCEEDED'].includes(job.body.status));
  await t.platform.audiences.jobs.wait('prod', job.body.id);
  const done = await t.call('GET', `/segment/jobs/${job.body.id}`);
  assert.equal(done.body.status, 'SUCCEEDED', JSON.stringify(done.body));
  return done.body;
}

/** CRM ids of a segment's realized members, through the API (all pages). */
async function memberCrmIds(t: Clocked, segmentId: string, limit = 7): Promise<string[]> {
  const out: string[] = [];
  for (let offset: number | null = 0; offset !== null; ) {
    const page = await t.call('GET', `/segment/definitions/${segmentId}/members?limit=${limit}&offset=${offset}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    for (const m of page.body.members) out.push((m.identities as { namespace: string; id: string }[]).find((i) => i.namespace === 'CRMID')!.id);
    offset = page.body.page.next;
  }
  return out.sort();
}

describe('audiences', () => {
  let t: Clocked;
  let group: Person[];
  let members: string;
  let events: string;
  let workflow: string;
  const start = Date.parse('2026-03-01T12:00:00Z');

  before(async () => {
    t = await clockedPlatform();
    members = await created(t, '/datasets', { name: 'members', schemaId: await created(t, '/schemas', MEMBER_SCHEMA), profileEnabled: true });
    events = await created(t, '/datasets', { name: 'member events', schemaId: await created(t, '/schemas', EVENT_SCHEMA), profileEnabled: true });
    group = people(90);
    const write = async (dataset: string, records: unknown[]) => assert.equal((await t.call('POST', `/datasets/${dataset}/records`, { body: { records } })).status, 201);
    await write(members, group.map((p) => memberRecord(p)));
    await write(events, group.filter((p) => p.openedDaysAgo !== null).map((p) => openEvent(p, start - p.openedDaysAgo! * DAY - 3_600_000)));
  });
  after(() => t.dispose());

  it('creates, reads, lists, changes and deletes definitions in the reference shape, and refuses bad ones with their reasons', async () => {
    const body = {
      name: 'People in the USA',
      description: 'An audience that looks for people who live in the USA',
      expression: { type: 'PQL', format: 'pql/text', value: 'homeAddress.country = "US"' },
      evaluationInfo: { batch: { enabled: true }, continuous: { enabled: false }, synchronous: { enabled: false } },
      schema: { name: '_xdm.context.profile' },
    };
    const res = await t.call('POST', '/segment/definitions', { body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const d = res.body;
    assert.deepEqual([d.profileInstanceId, d.sandbox.sandboxName, d.dataGovernancePolicy.excludeOptOut, d.ttlInDays, d.expression.value], ['ups', 'prod', true, 30, body.expression.value]);
    assert.ok(d.mergePolicyId && d.creationTime > 0 && d.updateEpoch > 0);
    assert.equal((await t.call('GET', `/segment/definitions/${d.id}`)).body.name, 'People in the USA');
    const patched = await t.call('PATCH', `/segment/definitions/${d.id}`, { body: { name: 'USA' } });
    assert.equal(patched.body.name, 'USA');
    const listed = await t.call('GET', '/segment/definitions?evaluationInfo.batch.enabled=true');
    assert.ok(listed.body.segments.some((s: Json) => s.id === d.id));
    assert.ok(!(await t.call('GET', '/segment/definitions?evaluationInfo.continuous.enabled=true')).body.segments.some((s: Json) => s.id === d.id));

    const syntax = await t.call('POST', '/segment/definitions', { body: { ...body, expression: { ...body.expression, value: 'homeAddress.country = \n  = "US"' } } });
    assert.equal(syntax.status, 400);
    assert.equal(syntax.body.error.code, 'RT_PQL_SYNTAX');
    assert.equal(syntax.body.error.details.line, 2);
    assert.ok(syntax.body.error.details.column > 0);
    const missing = await t.call('POST', '/segment/definitions', { body: { ...body, expression: { ...body.expression, value: 'inSegment("no-such-segment")' } } });
    assert.deepEqual([missing.status, missing.body.error.code], [400, 'RT_SEGMENT_INVALID']);
    const streaming = await t.call('POST', '/segment/definitions', { body: { ...body, expression: { ...body.expression, value: WORKFLOW_PQL }, evaluationInfo: { continuous: { enabled: true } } } });
    assert.deepEqual([streaming.status, streaming.body.error.code], [400, 'RT_SEGMENT_NOT_ELIGIBLE']);
    assert.ok(streaming.body.error.details.reasons.length > 0, 'the reasons come back');

    assert.equal((await t.call('DELETE', `/segment/definitions/${d.id}`)).status, 204);
    assert.equal((await t.call('GET', `/segment/definitions/${d.id}`)).status, 404);
  });

  it('evaluates the workflow audience in a batch job whose counts equal the hand-computed ones, with members and profile maps', async () => {
    workflow = await created(t, '/segment/definitions', { name: 'Top GOLD openers', expression: { type: 'PQL', format: 'pql/text', value: WORKFLOW_PQL } });
    const expected = expectedWorkflow(group);
    assert.ok(expected.length >= 3, 'the fixture has members to find');
    const job = await jobDone(t, [workflow]);
    assert.equal(job.metrics.segmentedProfileCounter[workflow], expected.length);
    assert.equal(job.metrics.totalProfiles, group.length);
    assert.equal(job.metrics.segmentedProfileByStatusCounter[workflow].realized, expected.length);
    assert.ok(job.metrics.totalTime.totalTimeInMs >= 0);
    assert.deepEqual(await memberCrmIds(t, workflow), expected);

    const profile = await t.call('GET', `/profiles?namespace=CRMID&id=${expected[0]}`);
    assert.equal(profile.body.segmentMembership.ups[workflow].status, 'realized');
    assert.ok(profile.body.segmentMembership.ups[workflow].lastQualificationTime);
  });

  it('exits a profile that stops qualifying, records both transitions in the history, and draws the trend', async () => {
    const leaving = group.find((p) => expectedWorkflow([p]).length === 1)!;
    t.clock.at = start + DAY;
    assert.equal((await t.call('POST', `/datasets/${members}/records`, { body: { records: [memberRecord(leaving, 'SILVER')] } })).status, 201);
    const job = await jobDone(t, [workflow]);
    const expected = expectedWorkflow(group, (p) => (p === leaving ? 'SILVER' : p.tier));
    assert.equal(job.metrics.segmentedProfileCounter[workflow], expected.length);
    assert.equal(job.metrics.segmentedProfileByStatusCounter[workflow].exited, 1);
    assert.deepEqual(await memberCrmIds(t, workflow), expected);
    const exited = await t.call('GET', `/segment/definitions/${workflow}/members?status=exited`);
    assert.equal(exited.body.members.length, 1);
    assert.equal(exited.body.members[0].version, 2, 'entered then exited: two versions');

    const warehouse = await t.platform.warehouse.sandbox('prod');
    const history = await warehouse.query(`SELECT status, source FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE segment_id = $s AND profile_id = $p ORDER BY "at"`, { s: workflow, p: exited.body.members[0].profileId });
    assert.deepEqual(history.rows.map((r) => r.status), ['realized', 'exited']);
    assert.ok((history.rows[0]!.source as string).startsWith('segjob_'));
    const profile = await t.call('GET', `/profiles?namespace=CRMID&id=${leaving.crmId}`);
    assert.equal(profile.body.segmentMembership.ups[workflow].status, 'exited');

    const trend = (await t.call('GET', `/segment/definitions/${workflow}/trend`)).body.days;
    assert.deepEqual(trend.map((d: Json) => [d.day, d.entered, d.exited, d.members]), [
      ['2026-03-01', expected.length + 1, 0, expected.length + 1],
      ['2026-03-02', 0, 1, expected.length],
    ]);
  });

  it('purges exited memberships 30 days after they exited, keeping the history', async () => {
    const warehouse = await t.platform.warehouse.sandbox('prod');
    // The exit of the day after the start; later jobs make other exits as the opens age past 30 days.
    const exitedAt = new Date(start + DAY).toISOString();
    const exitedCount = async () =>
      Number((await warehouse.query(`SELECT count(*) AS n FROM ${MEMBERSHIP_TABLE} WHERE segment_id = $s AND status = 'exited' AND last_qualification_time = $at::TIMESTAMPTZ`, { s: workflow, at: exitedAt })).rows[0]!.n);
    assert.equal(await exitedCount(), 1);
    t.clock.at = start + 30 * DAY;
    await jobDone(t, [workflow]);
    assert.equal(await exitedCount(), 1, 'exactly 29 days after the exit it stays');
    t.clock.at = start + 32 * DAY;
    await jobDone(t, [workflow]);
    assert.equal(await exitedCount(), 0, 'older than 30 days: purged');
    const history = Number((await warehouse.query(`SELECT count(*) AS n FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE segment_id = $s AND status = 'exited'`, { s: workflow })).rows[0]!.n);
    assert.ok(history >= 1, 'the history keeps the exit');
    t.clock.at = start;
    await jobDone(t, [workflow]);
  });

  it('gives the same members for the workflow audience in batch and in the streaming engine', async () => {
    t.clock.at = start + 2 * DAY;
    await jobDone(t, [workflow]);
    const batch = (await memberCrmIds(t, workflow, 1000)).sort();
    const profiles = await t.platform.audiences.evaluateInProcess('prod', workflow);
    const warehouse = await t.platform.warehouse.sandbox('prod');
    const policy = await t.platform.mergePolicies.resolve('prod');
    const ids = (await warehouse.query(`SELECT profile_id, list_filter(identities, x -> x.namespace = 'CRMID')[1].id AS crm FROM ${policy.snapshotTable}`)).rows;
    const crm = new Map(ids.map((r) => [Number(r.profile_id), r.crm as string]));
    assert.deepEqual(profiles.map((p) => crm.get(p)).sort(), batch);
    assert.ok(batch.length > 0);
  });

  it('estimates with a 95% interval that holds the true size, exactly when every profile is read, and pages the preview', async () => {
    const pql = '_roundtrip.loyaltyStatus = "GOLD"';
    const truth = group.filter((p) => p.tier === 'GOLD').length - 1; // one GOLD member left for SILVER above
    const full = await t.call('POST', '/preview', { body: { predicateExpression: pql, predicateType: 'pql/text', predicateModel: '_xdm.context.profile' } });
    assert.equal(full.status, 201, JSON.stringify(full.body));
    assert.deepEqual([full.body.state, full.body.estimatedSize, full.body.estimatedSizeRange.low, full.body.estimatedSizeRange.high, full.body.sampling.method], ['RESULT_READY', truth, truth, truth, 'full']);
    const sampled = await t.call('POST', '/preview', { body: { predicateExpression: pql, sampleSize: 45 } });
    const e = sampled.body;
    assert.equal(e.sampling.method, 'bernoulli');
    assert.ok(e.profilesReadSoFar < group.length && e.profilesReadSoFar > 10, `read ${e.profilesReadSoFar}`);
    assert.ok(e.estimatedSizeRange.low <= truth && truth <= e.estimatedSizeRange.high, `${truth} in [${e.estimatedSizeRange.low}, ${e.estimatedSizeRange.high}]`);
    assert.ok(e.estimatedSizeRange.high - e.estimatedSizeRange.low < group.length, 'the interval says something');
    assert.deepEqual((await t.call('GET', `/estimate/${e.previewId}`)).body.estimatedSize, e.estimatedSize);
    const again = await t.call('POST', '/preview', { body: { predicateExpression: pql, sampleSize: 45 } });
    assert.equal(again.body.profilesMatchedSoFar, e.profilesMatchedSoFar, 'the same seed draws the same sample');

    const seen: number[] = [];
    for (let offset: number | null = 0; offset !== null; ) {
      const page = await t.call('GET', `/preview/${full.body.previewId}?limit=10&offset=${offset}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.results.length <= 10);
      for (const r of page.body.results) {
        assert.equal(r.attributes._roundtrip.loyaltyStatus, 'GOLD');
        seen.push(r.profileId);
      }
      offset = page.body.page.next;
    }
    assert.equal(seen.length, truth);
    assert.equal(new Set(seen).size, truth, 'pages do not overlap');
  });

  it('computes Wilson intervals that narrow with the sample and vanish for a full read', () => {
    const small = wilson(30, 100, 1_000_000);
    const large = wilson(3000, 10_000, 1_000_000);
    assert.ok(small.low < 0.3 && small.high > 0.3 && large.low < 0.3 && large.high > 0.3);
    assert.ok(large.high - large.low < small.high - small.low);
    const full = wilson(30, 100, 100);
    assert.equal(full.low, full.high);
  });

  it('builds an external audience from a CSV upload of emails, normalised, with unknown values counted', async () => {
    const chosen = group.slice(0, 5);
    const csv = ['email', ...chosen.map((p) => ` ${p.email.toUpperCase()} `), 'nobody@example.com', chosen[0]!.email].join('\n');
    const res = await t.call('POST', '/audiences/external', { body: { name: 'Event guests', namespace: 'Email', csv } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual([res.body.values, res.body.resolved, res.body.unresolved, res.body.profiles, res.body.segment.origin], [7, 5, 2, 5, 'external']);
    const id = res.body.segment.id;
    assert.deepEqual(await memberCrmIds(t, id), chosen.map((p) => p.crmId).sort());
    const warehouse = await t.platform.warehouse.sandbox('prod');
    const sources = await warehouse.query(`SELECT DISTINCT source FROM ${MEMBERSHIP_HISTORY_TABLE} WHERE segment_id = $s`, { s: id });
    assert.deepEqual(sources.rows.map((r) => r.source), ['external']);
    const bad = await t.call('POST', '/audiences/external', { body: { name: 'x', namespace: 'Nope', csv: 'a@example.com' } });
    assert.deepEqual([bad.status, bad.body.error.code], [400, 'RT_AUDIENCE_UPLOAD_INVALID']);
  });

  it('lets a marketer build and evaluate audiences, a viewer not even read them, and keeps keys to their sandboxes', async () => {
    const key = async (role: string, sandboxes?: string[]) => (await t.call('POST', '/api-keys', { body: { name: role, role, sandboxes } })).body.token as string;
    const marketer = await key('marketer');
    const viewer = await key('viewer');
    const body = { name: 'Gold', expression: { type: 'PQL', format: 'pql/text', value: '_roundtrip.loyaltyStatus = "GOLD"' } };
    const made = await t.call('POST', '/segment/definitions', { body, token: marketer });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal((await t.call('POST', '/segment/jobs', { body: [{ segmentId: made.body.id }], token: marketer })).status, 200);
    assert.equal((await t.call('POST', '/segment/definitions', { body, token: viewer })).body.error.code, 'RT_FORBIDDEN_ROLE');
    assert.equal((await t.call('GET', '/segment/definitions', { token: viewer })).body.error.code, 'RT_FORBIDDEN_ROLE');
    assert.equal((await t.call('POST', '/sandboxes', { body: { name: 'dev', title: 'Dev', type: 'development' } })).status, 201);
    const devOnly = await key('marketer', ['dev']);
    assert.equal((await t.call('GET', '/segment/definitions', { token: devOnly })).body.error.code, 'RT_FORBIDDEN_SANDBOX');
    const inDev = await t.app.inject({ method: 'GET', url: '/segment/definitions', headers: { authorization: `Bearer ${devOnly}`, 'x-sandbox-name': 'dev' } });
    assert.deepEqual(inDev.json().segments, [], "prod's audiences are not visible in dev");
    await t.platform.audiences.jobs.drain();
  });
});
