/**
 * Parser errors point at line and column with actionable words; names resolve to the right binding; the
 * printer's canonical text parses back to the same tree; time-word boundaries are exact.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RoundtripError } from '../../core/errors.ts';
import { analysePql, evaluatePql, parsePql, printPql, type PqlNode } from './index.ts';
import { stripPositions } from './test-kit.ts';

function failure(source: string): RoundtripError {
  try {
    parsePql(source);
  } catch (error) {
    assert.ok(error instanceof RoundtripError, String(error));
    return error;
  }
  assert.fail(`expected '${source}' to be rejected`);
}

describe('PQL parser errors', () => {
  it('an unknown function names the closest known one with its position', () => {
    const error = failure('homeAddress.city.stratsWith("P")');
    assert.equal(error.code, 'RT_PQL_UNKNOWN_FUNCTION');
    assert.equal(error.message, "Unknown function 'stratsWith' at line 1, column 18 — did you mean startsWith?");
    assert.deepEqual(error.details, { line: 1, column: 18, near: 'stratsWith', suggestion: 'startsWith' });
  });

  it('syntax errors give line, column and the text near them, on later lines too', () => {
    const error = failure('homeAddress.country = "US"\n  and (loyalty.tier = "GOLD"');
    assert.equal(error.code, 'RT_PQL_SYNTAX');
    assert.deepEqual(error.details, { line: 2, column: 29, near: '' });
    assert.match(error.message, /Expected '\)' to close the parenthesis but found the end of the expression at line 2, column 29/);
    const missingOperator = failure('homeAddress.country = "US" loyalty.tier = "GOLD"');
    assert.deepEqual(missingOperator.details, { line: 1, column: 28, near: 'loyalty.tier = "GOLD' });
    assert.match(missingOperator.message, /an operator such as 'and' may be missing/);
    assert.equal(failure('name = "abc').message, 'Unterminated text: a quote is missing at line 1, column 8');
    assert.match(failure('x occurs last 3 fortnights').message, /Expected a time unit \(days, weeks, months, …\) but found 'fortnights' at line 1, column 17/);
    assert.equal(failure('').code, 'RT_PQL_SYNTAX');
    // `and`/`or` are never read as field names, so a doubled operator is an error where it stands.
    assert.match(failure('homeAddress.countryCode = "US" and and').message, /Unexpected 'and'; a value is missing before it at line 1, column 36/);
    assert.equal(failure('a = 1 or or b = 2').code, 'RT_PQL_SYNTAX');
  });

  it('wrong arities and argument kinds are type errors', () => {
    assert.equal(failure('inSegment()').code, 'RT_PQL_TYPE');
    assert.match(failure('x.startsWith("a", "no")').message, /write true or false, at line 1, column 19/);
    assert.match(failure('tags.topN(x, "3").count() > 0').message, /whole number/);
    assert.match(failure('date(2020, 13, 1) = x').message, /month \(1-12\)/);
    assert.equal(failure('count(xEvent) > 1').code, 'RT_PQL_TYPE');
  });
});

describe('PQL names and printing', () => {
  it('resolves profile fields, event items, variables and xEvent', () => {
    const tree = parsePql('xEvent.filter(eventType = "a" and $1.loyalty.tier = "GOLD").count() > 0 and exists E from xEvent where E.eventType = "b"');
    const refs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        const n = node as PqlNode;
        if (n.kind === 'ref') refs.push(`${n.name}:${n.binding}`);
        Object.values(node).forEach(walk);
      }
    };
    walk(tree);
    assert.deepEqual(refs, ['xEvent:xEvent', 'eventType:item', 'loyalty:profile', 'xEvent:xEvent', 'E:variable']);
  });

  it('prints canonical text that parses back to the same tree', () => {
    const cases: [string, string][] = [
      ['NOT(a=1) AND b <> 2 || c == 3', 'not (a = 1) and b != 2 or c = 3'],
      ['a - (b - c) * -2', 'a - (b - c) * -2'],
      ['x.in([1,2])', 'x in [1, 2]'],
      ['xEvent.filter(loyalty = 1 and $1.loyalty = 2).count() > 0', 'xEvent.filter(loyalty = 1 and $1.loyalty = 2).count() > 0'],
      ['chain(xEvent, timestamp, [C0: what(a = 1) when(last 2 DAYS)])', 'CHAIN(xEvent, timestamp, [C0: WHAT(a = 1) WHEN(last 2 days)])'],
      ['t occurs 3 hours before now', 't occurs = 3 hours before now'],
      ['let S = (sum X.v over X from xEvent) in S > 1 and S in [2, 3]', 'let S = (sum X.v over X from xEvent) in S > 1 and S in [2, 3]'],
      ['s.regexGroup("@(\\w+)", 1) = "x\\"y"', 's.regexGroup("@(\\\\w+)", 1) = "x\\"y"'],
    ];
    for (const [source, canonical] of cases) {
      const tree = parsePql(source);
      assert.equal(printPql(tree), canonical);
      assert.deepEqual(stripPositions(parsePql(printPql(tree))), stripPositions(tree));
    }
  });
});

describe('PQL time words', () => {
  const now = new Date('2025-03-14T15:00:00.000Z');
  const at = (timestamp: string, spec: string): boolean =>
    evaluatePql(parsePql(`xEvent.filter(timestamp occurs ${spec}).count() > 0`), { profile: {}, events: [{ timestamp }], segments: new Set(), now });

  it('calendar periods are [start, end) in UTC, weeks start on Monday', () => {
    assert.equal(at('2025-03-14T00:00:00.000Z', 'today'), true);
    assert.equal(at('2025-03-13T23:59:59.999Z', 'today'), false);
    assert.equal(at('2025-03-13T23:59:59.999Z', 'yesterday'), true);
    assert.equal(at('2025-03-15T00:00:00.000Z', 'tomorrow'), true);
    assert.equal(at('2025-03-10T00:00:00.000Z', 'this week'), true);
    assert.equal(at('2025-03-09T23:59:59.999Z', 'last week'), true);
    assert.equal(at('2025-03-03T00:00:00.000Z', 'last week'), true);
    assert.equal(at('2025-03-02T23:59:59.999Z', 'last week'), false);
    assert.equal(at('2025-02-01T00:00:00.000Z', 'last month'), true);
    assert.equal(at('2025-03-01T00:00:00.000Z', 'last month'), false);
  });

  it('rolling periods and offsets include their edges as documented', () => {
    assert.equal(at('2025-02-12T15:00:00.000Z', 'last 30 days'), true);
    assert.equal(at('2025-02-12T14:59:59.999Z', 'last 30 days'), false);
    assert.equal(at('2025-03-14T15:00:00.000Z', 'last 30 days'), true);
    assert.equal(at('2025-03-14T15:00:00.001Z', 'last 30 days'), false);
    assert.equal(at('2025-03-13T15:00:00.000Z', '<= 24 hours before now'), true);
    assert.equal(at('2025-03-13T15:00:00.000Z', '< 24 hours before now'), false);
    assert.equal(at('2025-03-14T11:30:00.000Z', '= 3 hours before now'), true);
    assert.equal(at('2025-03-14T12:00:00.000Z', '= 3 hours before now'), true);
    assert.equal(at('2025-03-14T12:00:00.001Z', '= 3 hours before now'), false);
    assert.equal(at('2025-03-14T15:00:00.000Z', 'before now'), false);
    assert.equal(at('2025-03-15T00:00:00.000Z', 'after today'), true);
    assert.equal(at('2025-03-10T23:59:59.999Z', 'between date(2025, 3, 1) and date(2025, 3, 10)'), true);
    assert.equal(at('2025-03-11T00:00:00.000Z', 'between date(2025, 3, 1) and date(2025, 3, 10)'), false);
  });
});

describe('PQL analysis', () => {
  it('reports what the eligibility rules need', () => {
    const streaming = analysePql(parsePql('workAddress.country.equals("US", false) and CHAIN(xEvent, timestamp, [C0: WHAT(eventType = "a") WHEN(today), C1: WHAT(eventType = "b") WHEN(today)])'));
    assert.equal(streaming.eventReferences, 2);
    assert.equal(streaming.sequences, 1);
    assert.ok(streaming.eventLookbackDays! > 0.99 && streaming.eventLookbackDays! < 1);
    assert.equal(streaming.eventsOnlyInSequences, true);
    assert.deepEqual(streaming.profileAttributes, ['workAddress.country']);

    const segmentOfSegments = analysePql(parsePql('inSegment("x") and segmentMembership.get("ups").get("y").status = "realized" and xEvent.count() > 0'));
    assert.deepEqual(segmentOfSegments.inSegment, ['x', 'y']);
    assert.equal(segmentOfSegments.eventLookbackDays, null);

    const negated = analysePql(parsePql('not (exists E from xEvent where E.timestamp occurs <= 6 hours before now) or xEvent.filter(timestamp occurs last 2 days).count() = 0'));
    assert.equal(negated.eventReferences, 2);
    assert.equal(negated.allEventsNegated, true);
    assert.equal(negated.eventsOnlyUnderOr, true);
    assert.equal(negated.eventLookbackDays, 2);

    const aggregations = analysePql(parsePql('xEvent.sum(commerce.order.priceTotal) > 1 and (sum X.v over X from xEvent) > 2 and person.birthDate.getMonth() = currentMonth()'));
    assert.equal(aggregations.aggregations, 2);
    assert.equal(aggregations.usesProfileTimeFunctions, true);
    assert.equal(analysePql(parsePql('homeAddress.country = "US"')).eventReferences, 0);
    assert.equal(analysePql(parsePql('homeAddress.country = "US"')).eventLookbackDays, 0);
    assert.equal(analysePql(parsePql('xEvent.count() > 0')).arrayDepth, 1);
    assert.equal(analysePql(parsePql('exists E from xEvent where E.productListItems.count() > 0')).arrayDepth, 2);
    assert.equal(analysePql(parsePql('xEvent.filter(timestamp occurs next week).count() > 0')).usesFutureWindows, true);
  });
});
