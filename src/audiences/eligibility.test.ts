/**
 * Evaluation-method eligibility (§10.2): one eligible and one ineligible example per rule, with the reason
 * asserted, on PQL parsed by the PQL engine (and on rules from the builder).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePql } from './pql/index.ts';
import { checkEligibility, resolveEvaluationInfo, type EligibilityCode, type EligibilityContext, type EvaluationMethod, type ReferencedSegment } from './eligibility.ts';
import { CORPUS } from './builder/corpus.ts';
import { ruleToPql } from './builder/to-pql.ts';

const chain = (eventType: string, when: string | null): string =>
  `CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("${eventType}", false))${when ? ` WHEN(${when})` : ''}])`;
const checkoutToday = chain('commerce.checkouts', 'today');
const checkout24h = chain('commerce.checkouts', '<= 24 hours before now');

const SEGMENTS: Record<string, ReferencedSegment> = {
  'seg-batch': { methods: ['batch'] },
  'seg-batch-profile': { methods: ['batch'], profileOnly: true },
  'seg-streaming': { methods: ['streaming'] },
  'seg-edge-profile': { methods: ['edge', 'streaming'], profileOnly: true },
  'seg-aam': { methods: [], external: true },
};
const withSegments: EligibilityContext = { segments: (id) => SEGMENTS[id] };

const check = (pql: string, context: EligibilityContext = withSegments) => checkEligibility(parsePql(pql), context);
const codes = (pql: string, method: EvaluationMethod, context?: EligibilityContext): EligibilityCode[] =>
  check(pql, context)[method].reasons.map((r) => r.code);

/** Asserts `method` is eligible for `ok` and refuses `bad` with `code` (and a message a marketer can read). */
function rulePair(method: EvaluationMethod, code: EligibilityCode, ok: string, bad: string, context?: EligibilityContext): void {
  const good = check(ok, context)[method];
  assert.equal(good.eligible, true, `${method} should take: ${ok}\n${JSON.stringify(good.reasons)}`);
  const refused = check(bad, context)[method];
  assert.equal(refused.eligible, false, `${method} should refuse: ${bad}`);
  const reason = refused.reasons.find((r) => r.code === code);
  assert.ok(reason, `${method}: ${bad} → ${JSON.stringify(refused.reasons)}`);
  assert.ok(reason.message.length > 40 && !reason.message.includes('undefined'), reason.message);
}

describe('eligibility (§10.2)', () => {
  it('batch takes every query', () => {
    for (const pql of [
      'let S = (sum X.commerce.order.priceTotal over X from xEvent where X.commerce.order.currencyCode = "USD") in (S > 100 and S < 1000)',
      `inSegment("seg-aam") and ${chain('a', '<= 400 days before now')}`,
      'person.birthDate.getMonth() = currentMonth()',
    ]) {
      const result = check(pql);
      assert.deepEqual(result.batch, { eligible: true, reasons: [] });
    }
  });

  it('streaming and edge take the documented shapes (profile-only, single event, event + profile, several events in order)', () => {
    const cases: [string, string][] = [
      ['homeAddress.country.equals("US", false)', 'profile-only'],
      [checkoutToday, 'single-event'],
      [`workAddress.country.equals("US", false) and ${checkout24h}`, 'single-event-with-profile'],
      [`CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("directMarketing.emailClicked", false)) WHEN(today), C1: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])`, 'multiple-events'],
      [`workAddress.country.equals("US", false) and CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("directMarketing.emailClicked", false)) WHEN(today), C1: WHAT(eventType.equals("commerce.checkouts", false)) WHEN(today)])`, 'multiple-events-with-profile'],
    ];
    for (const [pql, shape] of cases) {
      const result = check(pql);
      assert.equal(result.shape, shape, pql);
      assert.equal(result.streaming.eligible, true, `${pql}: ${JSON.stringify(result.streaming.reasons)}`);
      assert.equal(result.edge.eligible, true, `${pql}: ${JSON.stringify(result.edge.reasons)}`);
    }
  });

  it('EVENT_LOOKBACK_OVER_24H: lookback is limited to one day', () => {
    rulePair('streaming', 'EVENT_LOOKBACK_OVER_24H', checkout24h, chain('commerce.checkouts', '<= 30 days before now'));
    rulePair('edge', 'EVENT_LOOKBACK_OVER_24H', chain('commerce.checkouts', '<= 6 hours before now'), chain('commerce.checkouts', '<= 2 days before now'));
  });

  it('EVENT_NO_TIME_WINDOW: a single event with no window is batch (since May 2025)', () => {
    rulePair('streaming', 'EVENT_NO_TIME_WINDOW', checkoutToday, chain('commerce.checkouts', null));
    rulePair('edge', 'EVENT_NO_TIME_WINDOW', checkoutToday, chain('commerce.checkouts', null));
  });

  it('EVENT_FUTURE_WINDOW: windows in the future cannot be evaluated on arrival', () => {
    rulePair('streaming', 'EVENT_FUTURE_WINDOW', checkoutToday, chain('commerce.checkouts', 'tomorrow'));
  });

  it('EVENTS_NOT_ORDERED: several events need strict time ordering (one sequence)', () => {
    const ordered = 'CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("a", false)) WHEN(today), C1: WHAT(eventType.equals("b", false)) WHEN(today)])';
    rulePair('streaming', 'EVENTS_NOT_ORDERED', ordered, `${chain('a', 'today')} and ${chain('b', 'today')}`);
    rulePair('edge', 'EVENTS_NOT_ORDERED', ordered, `${chain('a', 'today')} or ${chain('b', 'today')}`);
  });

  it('ALL_EVENTS_NEGATED: negated events are allowed, an all-negated query is not', () => {
    rulePair('streaming', 'ALL_EVENTS_NEGATED', `homeAddress.country = "US" and ${checkoutToday}`, `homeAddress.country = "US" and not ${checkoutToday}`);
    const mixed = codes(`${chain('a', 'today')} and not ${chain('b', 'today')}`, 'streaming');
    assert.ok(!mixed.includes('ALL_EVENTS_NEGATED'), 'one negated event next to a positive one is not all-negated');
  });

  it('IN_SEGMENT_NOT_STREAMING: streaming may use only audiences that are themselves streaming', () => {
    rulePair('streaming', 'IN_SEGMENT_NOT_STREAMING', `inSegment("seg-streaming") and ${checkout24h}`, `inSegment("seg-batch") and ${checkout24h}`);
    rulePair('streaming', 'IN_SEGMENT_NOT_STREAMING', 'inSegment("seg-streaming")', 'inSegment("seg-unknown")');
    const reason = check('inSegment("seg-batch")').streaming.reasons[0]!;
    assert.deepEqual(reason.segmentIds, ['seg-batch']);
    assert.match(reason.message, /seg-batch/);
  });

  it('IN_SEGMENT_WITH_EVENT: edge takes segment of segments, but an event with inSegment only if the inner one is profile-only', () => {
    rulePair('edge', 'IN_SEGMENT_WITH_EVENT', `inSegment("seg-edge-profile") and ${checkout24h}`, `inSegment("seg-streaming") and ${checkout24h}`);
    rulePair('edge', 'IN_SEGMENT_WITH_EVENT', `inSegment("seg-batch-profile") and ${checkout24h}`, `inSegment("seg-batch") and ${checkout24h}`);
    const ofSegments = check('inSegment("seg-batch") and homeAddress.country = "US"');
    assert.equal(ofSegments.shape, 'segment-of-segments');
    assert.equal(ofSegments.edge.eligible, true, 'edge: segment of segments (batch inner, disqualified every 24 h)');
    assert.equal(ofSegments.streaming.eligible, false);
  });

  it('EXTERNAL_AUDIENCE: AAM segments and traits are batch only', () => {
    rulePair('streaming', 'EXTERNAL_AUDIENCE', 'inSegment("seg-streaming")', 'inSegment("seg-aam")');
    rulePair('edge', 'EXTERNAL_AUDIENCE', 'inSegment("seg-batch")', 'inSegment("seg-aam") and homeAddress.country = "US"');
  });

  it('RELATIVE_PROFILE_TIME: "Ignore year" and relative dates on profile fields are batch only', () => {
    rulePair('streaming', 'RELATIVE_PROFILE_TIME', 'person.birthDate < date(2000, 1, 1)', 'person.birthDate.getMonth() * 100 + person.birthDate.getDayOfMonth() = today.getMonth() * 100 + today.getDayOfMonth()');
    rulePair('edge', 'RELATIVE_PROFILE_TIME', 'person.birthDate < date(2000, 1, 1)', 'person.birthDate.getMonth() = currentMonth()');
  });

  it('MIXED_EVENT_SOURCES, MERGE_POLICY_NOT_ACTIVE_ON_EDGE, STREAMING_NOT_ENABLED: what the platform knows', () => {
    assert.equal(check(checkoutToday, { eventSources: 'streaming' }).streaming.eligible, true);
    assert.deepEqual(codes(checkoutToday, 'streaming', { eventSources: 'mixed' }), ['MIXED_EVENT_SOURCES']);
    assert.deepEqual(codes(checkoutToday, 'edge', { eventSources: 'batch' }), ['MIXED_EVENT_SOURCES']);
    assert.equal(check('homeAddress.country = "US"', { eventSources: 'mixed' }).streaming.eligible, true, 'profile-only ignores event sources');
    assert.deepEqual(codes('homeAddress.country = "US"', 'streaming', { mergePolicy: { activeOnEdge: false } }), ['MERGE_POLICY_NOT_ACTIVE_ON_EDGE']);
    assert.deepEqual(codes('homeAddress.country = "US"', 'edge', { mergePolicy: { activeOnEdge: false } }), ['MERGE_POLICY_NOT_ACTIVE_ON_EDGE']);
    assert.deepEqual(codes('homeAddress.country = "US"', 'streaming', { mergePolicy: { activeOnEdge: true } }), []);
    assert.deepEqual(codes('homeAddress.country = "US"', 'streaming', { streamingEnabled: false }), ['STREAMING_NOT_ENABLED']);
    assert.deepEqual(codes('homeAddress.country = "US"', 'streaming', { streamingEnabled: true }), []);
  });

  it('rules built in the builder: the CLV decile audience (30-day opens) is batch only, a 24-hour variant streams', () => {
    const clv = check(ruleToPql(CORPUS.clvDeciles!));
    assert.equal(clv.batch.eligible, true);
    assert.deepEqual(clv.streaming.reasons.map((r) => r.code), ['EVENT_LOOKBACK_OVER_24H']);
    assert.match(clv.streaming.reasons[0]!.message, /30 days/);
    assert.equal(check(ruleToPql(CORPUS.canvasTime!)).streaming.eligible, false, 'two separate event cards are not one sequence');
    assert.equal(check(ruleToPql(CORPUS.sequenceWithin!)).streaming.eligible, true);
  });

  it('resolveEvaluationInfo: streaming or edge requested for an ineligible query falls back to batch, with the reasons', () => {
    const requested = { batch: { enabled: false }, continuous: { enabled: true }, synchronous: { enabled: false } };
    const ineligible = resolveEvaluationInfo(requested, check(chain('a', '<= 7 days before now')));
    assert.deepEqual(ineligible.evaluationInfo, { batch: { enabled: true }, continuous: { enabled: false }, synchronous: { enabled: false } });
    assert.equal(ineligible.downgraded[0]!.method, 'streaming');
    assert.equal(ineligible.downgraded[0]!.reasons[0]!.code, 'EVENT_LOOKBACK_OVER_24H');
    const eligible = resolveEvaluationInfo(requested, check(checkoutToday));
    assert.deepEqual(eligible.evaluationInfo, requested);
    assert.deepEqual(eligible.downgraded, []);
  });
});
