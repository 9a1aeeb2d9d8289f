/**
 * The guarded union-find at the heart of the identity graph: links are applied one at a time in a fixed order,
 * and a link that would break a guardrail is refused instead of applied. The rules are all monotone (a part
 * of a valid graph is valid), so a graph whose links break no rule comes out the same whatever the order, and
 * processing new links after the existing ones gives exactly what processing everything from scratch gives —
 * which is why incremental and bulk builds agree.
 *
 * Rules, checked in this order for a link between two different graphs:
 * 1. `separated`: an unlink (a removed link) says two identities must stay apart;
 * 2. `unique-namespace`: the merged graph would hold two identities of a namespace allowed once (e.g. CRMID);
 * 3. `graph-size`: the merged graph would hold more than `maxIdentities` identities.
 *
 * Pure and synchronous over typed arrays: nodes are dense indexes 0..n-1, so millions of links take well
 * under a second.
 */

export type RefusalReason = 'separated' | 'unique-namespace' | 'graph-size';

export interface UnionFindInput {
  /** Per node: the index of its group's leader (a leader points to itself); singletons point to themselves. */
  group: Int32Array;
  /** Per node: index of its namespace in the unique-namespace list, or -1. */
  unique: Int32Array;
  /** How many namespaces are unique (the range of `unique`). */
  uniqueCount: number;
  maxIdentities: number;
  /** Links as node pairs `[a0, b0, a1, b1, …]`, in processing order. */
  links: Int32Array;
  /** Pairs of nodes that must never share a graph. */
  separations: Int32Array;
}

export interface Refusal {
  /** Index of the link in `links` (pair number). */
  link: number;
  reason: RefusalReason;
  /** For `unique-namespace`: index of the namespace in the unique list. */
  namespace: number;
}

export interface UnionFindResult {
  /** Per node: the representative node of its final graph. */
  root: Int32Array;
  refusals: Refusal[];
}

export function guardedUnionFind(input: UnionFindInput): UnionFindResult {
  const n = input.group.length;
  const parent = Int32Array.from(input.group);
  const size = new Int32Array(n);
  const uniques = input.uniqueCount;
  const counts = new Int32Array(n * uniques);
  const hasSeparation = new Uint8Array(n);

  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };

  for (let i = 0; i < n; i++) {
    const r = find(i);
    size[r]!++;
    const u = input.unique[i]!;
    if (u >= 0) counts[r * uniques + u]!++;
  }
  for (let s = 0; s < input.separations.length; s++) hasSeparation[find(input.separations[s]!)] = 1;

  const separated = (ra: number, rb: number): boolean => {
    if (!hasSeparation[ra] || !hasSeparation[rb]) return false;
    const seps = input.separations;
    for (let s = 0; s < seps.length; s += 2) {
      const x = find(seps[s]!);
      const y = find(seps[s + 1]!);
      if ((x === ra && y === rb) || (x === rb && y === ra)) return true;
    }
    return false;
  };

  const clashingNamespace = (ra: number, rb: number): number => {
    for (let u = 0; u < uniques; u++) if (counts[ra * uniques + u]! + counts[rb * uniques + u]! > 1) return u;
    return -1;
  };

  const refusals: Refusal[] = [];
  const links = input.links;
  for (let l = 0; l < links.length; l += 2) {
    let ra = find(links[l]!);
    let rb = find(links[l + 1]!);
    if (ra === rb) continue;
    const link = l / 2;
    if (separated(ra, rb)) {
      refusals.push({ link, reason: 'separated', namespace: -1 });
      continue;
    }
    const clash = clashingNamespace(ra, rb);
    if (clash >= 0) {
      refusals.push({ link, reason: 'unique-namespace', namespace: clash });
      continue;
    }
    if (size[ra]! + size[rb]! > input.maxIdentities) {
      refusals.push({ link, reason: 'graph-size', namespace: -1 });
      continue;
    }
    if (size[ra]! < size[rb]!) [ra, rb] = [rb, ra];
    parent[rb] = ra;
    size[ra]! += size[rb]!;
    for (let u = 0; u < uniques; u++) counts[ra * uniques + u]! += counts[rb * uniques + u]!;
    hasSeparation[ra] = hasSeparation[ra]! | hasSeparation[rb]!;
  }

  const root = new Int32Array(n);
  for (let i = 0; i < n; i++) root[i] = find(i);
  return { root, refusals };
}
