/**
 * Every PQL example of reference §10–§11 (and one per documented function) parses and selects the expected
 * profiles in both engines: the DuckDB SQL compiler (batch) and the in-process evaluator (streaming).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { analysePql, parsePql, printPql } from './index.ts';
import { EXAMPLES, NOW, WORKFLOW_AUDIENCES, WORKFLOW_MEMBERS, WORLD } from './fixtures.ts';
import { evaluatorIds, PqlWarehouse, stripPositions } from './test-kit.ts';

describe('PQL examples of the reference', () => {
  let warehouse: PqlWarehouse;
  before(async () => {
    warehouse = await PqlWarehouse.create();
    await warehouse.load(WORLD);
  });
  after(() => warehouse.dispose());

  it('covers the reference examples', () => {
    assert.ok(EXAMPLES.filter((e) => e.reference).length >= 40);
  });

  it('every example selects the expected profiles in the SQL engine', async () => {
    const sqlIds = await warehouse.matchingIds(EXAMPLES.map((e) => e.pql), NOW);
    const wrong = EXAMPLES.map((e, i) => ({ pql: e.pql, expected: e.expected, got: sqlIds[i] })).filter((r) => JSON.stringify(r.expected) !== JSON.stringify(r.got));
    assert.deepEqual(wrong, []);
  });

  it('every example selects the expected profiles in the streaming evaluator', () => {
    const wrong = EXAMPLES.map((e) => ({ pql: e.pql, expected: e.expected, got: evaluatorIds(e.pql, WORLD, NOW) })).filter((r) => JSON.stringify(r.expected) !== JSON.stringify(r.got));
    assert.deepEqual(wrong, []);
  });

  it('every example prints to text that parses back to the same tree', () => {
    for (const example of EXAMPLES) {
      const tree = parsePql(example.pql);
      assert.deepEqual(stripPositions(parsePql(printPql(tree))), stripPositions(tree), example.pql);
    }
  });

  it('the workflow audience (top 3 deciles, GOLD, email opened in the last 30 days) has the same members in both engines', async () => {
    const sqlIds = await warehouse.matchingIds(WORKFLOW_AUDIENCES, NOW);
    for (const [i, pql] of WORKFLOW_AUDIENCES.entries()) {
      assert.deepEqual(sqlIds[i], WORKFLOW_MEMBERS, `batch: ${pql}`);
      assert.deepEqual(evaluatorIds(pql, WORLD, NOW), WORKFLOW_MEMBERS, `streaming: ${pql}`);
      const features = analysePql(parsePql(pql));
      assert.equal(features.eventReferences, 1, pql);
      assert.equal(features.eventLookbackDays, 30, pql);
    }
  });
});
