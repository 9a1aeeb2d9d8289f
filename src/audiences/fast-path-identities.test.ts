import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { DuckDBWarehouse } from '../adapters/duckdb/duckdb-warehouse.ts';
import { identityKeySql, normalizedSql, trimmedSql, type NamespaceKind } from '../identity/normalize.ts';
import { NODES } from '../identity/store.ts';
import type { SandboxWarehouse } from '../ports/warehouse.ts';
import { tempDir } from '../testing/temp.ts';
import { IdentityCache, identityKey, type RecordIdentity } from './fast-path-identities.ts';

describe('fast path identities: keys normalised in JavaScript as the graph does in SQL, preloaded', () => {
  let temp: ReturnType<typeof tempDir>;
  let warehouse: DuckDBWarehouse;
  let sb: SandboxWarehouse;
  before(async () => {
    temp = tempDir();
    warehouse = new DuckDBWarehouse({ directory: temp.dir, threads: 1, memoryLimit: '256MB' });
    sb = await warehouse.sandbox('prod');
  });
  after(async () => {
    await warehouse.close();
    temp.remove();
  });

  /** The graph's key of identities, computed by the engine (what `_rt_identity_nodes` holds as ns and id). */
  const sqlKeys = async (identities: readonly Pick<RecordIdentity, 'ns' | 'kind' | 'raw'>[]): Promise<string[]> => {
    const rows = await sb.query(
      `SELECT v.i, v.ns || chr(0) || ${normalizedSql('v.kind', trimmedSql('v.raw'), 'v.raw')} AS k
       FROM (SELECT unnest(from_json($input, '[{"i":"INTEGER","ns":"VARCHAR","kind":"VARCHAR","raw":"VARCHAR"}]')) AS v) ORDER BY v.i`,
      { input: JSON.stringify(identities.map((x, i) => ({ i, ...x }))) },
    );
    return rows.rows.map((r) => r.k as string);
  };

  it('gives the engine’s key for ASCII values of every kind (property test), and a key no engine value equals otherwise', async () => {
    const kinds: NamespaceKind[] = ['email', 'hash', 'plain'];
    // Values as records carry them: already trimmed (`recordIdentities`), ASCII with mixed case.
    const ascii = fc.string({ unit: fc.constantFrom(...'aAbBzZ09@._-+ xX'.split('')), minLength: 1, maxLength: 12 }).map((v) => v.trim()).filter((v) => v !== '');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ ns: fc.constantFrom('Email', 'CRMID', 'ECID'), kind: fc.constantFrom(...kinds), raw: ascii }), { minLength: 1, maxLength: 20 }), async (identities) => {
        assert.deepEqual(identities.map((x) => identityKey(x, null)), await sqlKeys(identities));
      }),
      { numRuns: 60 },
    );
    const phones = [{ ns: 'Phone', kind: 'phone' as const, raw: '+33612345678' }, { ns: 'Phone', kind: 'phone' as const, raw: '06 12 34 56 78' }];
    assert.equal(identityKey(phones[0]!, null), `Phone\u0000+33612345678`);
    assert.equal(identityKey(phones[1]!, 'FR'), `Phone\u0000+33612345678`, 'a national number in the sandbox’s country');
    const accented = { ns: 'Email', kind: 'email' as const, raw: 'ÉLODIE@x.fr' };
    assert.notEqual(identityKey(accented, null), (await sqlKeys([accented]))[0], 'non-ASCII e-mails are not lower-cased in JavaScript');
    assert.ok(identityKey(accented, null).startsWith('Email\u0001'));
  });

  it('preloads the graph’s identities: known ones resolve from memory, others (and non-ASCII ones) by a lookup', async () => {
    await sb.query(`CREATE TABLE ${NODES} (node BIGINT NOT NULL, key UBIGINT NOT NULL, ns VARCHAR NOT NULL, id VARCHAR NOT NULL, graph BIGINT NOT NULL)`);
    await sb.query(`INSERT INTO ${NODES} SELECT i, ${identityKeySql("'CRMID'", "'C' || i")}, 'CRMID', 'C' || i, i // 2 FROM range(1, 250001) t(i)`);
    await sb.query(`INSERT INTO ${NODES} VALUES (300000, ${'0'}, 'Email', 'élodie@x.fr', 7)`);
    await sb.query(`UPDATE ${NODES} SET key = ${identityKeySql('ns', 'id')}`);
    const cache = new IdentityCache();
    assert.equal(await cache.preload(sb), 250_001);
    const known: RecordIdentity[] = [{ ns: 'CRMID', kind: 'plain', raw: 'C1', rnk: 0 }, { ns: 'CRMID', kind: 'plain', raw: 'C250000', rnk: 0 }];
    const resolution = await cache.resolve(sb, known, null);
    assert.deepEqual(known.map((x) => resolution.get(x)), [{ node: 1, graph: 0 }, { node: 250_000, graph: 125_000 }]);
    assert.deepEqual([cache.hits, cache.misses], [2, 0]);
    // Not ASCII: looked up by the engine once, then kept under its own key; unknown stays unknown.
    const accented: RecordIdentity = { ns: 'Email', kind: 'email', raw: 'Élodie@x.fr', rnk: 0 };
    const unknown: RecordIdentity = { ns: 'CRMID', kind: 'plain', raw: 'nobody', rnk: 0 };
    const looked = await cache.resolve(sb, [accented, unknown], null);
    assert.deepEqual([looked.get(accented), looked.get(unknown)], [{ node: 300_000, graph: 7 }, undefined]);
    assert.equal(cache.misses, 2);
    assert.deepEqual((await cache.resolve(sb, [accented], null)).get(accented), { node: 300_000, graph: 7 });
    assert.equal(cache.misses, 2, 'kept after the lookup');
    // A merge names the graph: the entry waits for verification, then follows its node to the new graph.
    assert.equal(cache.invalidate({ graphs: new Set([0]), nodes: new Set(), full: false }), true);
    assert.equal(cache.suspect(known[0]!), true);
    const moved = cache.verified(cache.takeSuspects(), new Map([[1, 42]]));
    assert.deepEqual(moved, [{ node: 1, from: 0, to: 42 }]);
    assert.deepEqual((await cache.resolve(sb, [known[0]!], null)).get(known[0]!), { node: 1, graph: 42 });
    // A privacy delete removes the node: its identity is no longer known.
    cache.invalidate({ graphs: new Set([42]), nodes: new Set(), full: false });
    cache.verified(cache.takeSuspects(), new Map());
    await sb.query(`DELETE FROM ${NODES} WHERE node = 1`);
    assert.equal((await cache.resolve(sb, [known[0]!], null)).get(known[0]!), undefined);
  });
});
