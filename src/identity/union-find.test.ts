import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guardedUnionFind, type UnionFindInput } from './union-find.ts';

/** Nodes 0..n-1 as singletons, links as pairs; returns the graphs as sorted lists of node numbers. */
function run(n: number, links: [number, number][], options: Partial<UnionFindInput> = {}) {
  const result = guardedUnionFind({
    group: Int32Array.from({ length: n }, (_, i) => i),
    unique: new Int32Array(n).fill(-1),
    uniqueCount: 0,
    maxIdentities: 50,
    links: Int32Array.from(links.flat()),
    separations: new Int32Array(0),
    ...options,
  });
  return { graphs: graphsOf(result.root), refusals: result.refusals };
}

function graphsOf(root: Int32Array): number[][] {
  const byRoot = new Map<number, number[]>();
  root.forEach((r, i) => byRoot.set(r, [...(byRoot.get(r) ?? []), i]));
  return [...byRoot.values()].sort((a, b) => a[0]! - b[0]!);
}

describe('guarded union-find', () => {
  it('joins linked identities into connected components', () => {
    assert.deepEqual(run(6, [[0, 1], [2, 3], [1, 3], [4, 4]]).graphs, [[0, 1, 2, 3], [4], [5]]);
  });

  it('refuses a link that would put two identities of a unique namespace in one graph, and reports it', () => {
    // 0 and 2 are CRM ids; 1 is a device seen with both.
    const unique = Int32Array.from([0, -1, 0, -1]);
    const { graphs, refusals } = run(4, [[0, 1], [2, 1], [2, 3]], { unique, uniqueCount: 1 });
    assert.deepEqual(graphs, [[0, 1], [2, 3]]);
    assert.deepEqual(refusals, [{ link: 1, reason: 'unique-namespace', namespace: 0 }]);
  });

  it('caps graphs at maxIdentities: a shared identity joins the first graphs only', () => {
    const links: [number, number][] = Array.from({ length: 99 }, (_, i) => [0, i + 1]);
    const { graphs, refusals } = run(100, links, { maxIdentities: 10 });
    assert.equal(graphs[0]!.length, 10);
    assert.equal(refusals.length, 90);
    assert.ok(refusals.every((r) => r.reason === 'graph-size'));
  });

  it('keeps separated identities apart on every path, and only those', () => {
    const { graphs, refusals } = run(4, [[0, 1], [1, 2], [2, 3], [0, 3]], { separations: Int32Array.from([0, 2]) });
    assert.deepEqual(graphs, [[0, 1], [2, 3]]);
    assert.deepEqual(refusals.map((r) => r.reason), ['separated', 'separated']);
  });

  it('gives the same graphs incrementally (existing graphs as groups) as from scratch', () => {
    const unique = Int32Array.from([0, -1, 0, -1, -1, 0, -1, -1]);
    const first: [number, number][] = [[0, 1], [1, 3], [2, 4]];
    const later: [number, number][] = [[3, 4], [5, 6], [6, 7], [1, 7]];
    const options = { unique, uniqueCount: 1, maxIdentities: 4 };
    const scratch = run(8, [...first, ...later], options);
    const before = guardedUnionFind({ group: Int32Array.from({ length: 8 }, (_, i) => i), unique, uniqueCount: 1, maxIdentities: 4, links: Int32Array.from(first.flat()), separations: new Int32Array(0) });
    const after = guardedUnionFind({ group: before.root, unique, uniqueCount: 1, maxIdentities: 4, links: Int32Array.from(later.flat()), separations: new Int32Array(0) });
    assert.deepEqual(graphsOf(after.root), scratch.graphs);
    assert.deepEqual(after.refusals.map((r) => r.reason), scratch.refusals.map((r) => r.reason));
  });
});
