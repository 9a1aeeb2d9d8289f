import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseScript, type ScriptNode } from './script.ts';
import { substituteParams } from './rewrite.ts';

const shape = (nodes: ScriptNode[]): unknown =>
  nodes.map((n) => (n.kind === 'statement' ? n.text : { body: shape(n.body), handler: n.handler ? shape(n.handler) : null }));

describe('script parsing', () => {
  it('splits statements on semicolons outside strings, comments and parentheses (leading comments dropped)', () => {
    assert.deepEqual(shape(parseScript(`SELECT 'a;b' AS x; -- note; here\nSELECT (1); /* ; */ SELECT "c;d" FROM t;`)), [
      `SELECT 'a;b' AS x`,
      'SELECT (1)',
      'SELECT "c;d" FROM t',
    ]);
  });

  it('reads both block spellings, handlers, nesting and # comments', () => {
    const nodes = parseScript(`$$BEGIN\n# comment; with semicolon\nSELECT 1;\n  BEGIN SELECT 2; END;\nEXCEPTION WHEN OTHER THEN SELECT 3;\n$$END;\nSELECT 4`);
    assert.deepEqual(shape(nodes), [{ body: ['SELECT 1', { body: ['SELECT 2'], handler: null }], handler: ['SELECT 3'] }, 'SELECT 4']);
    assert.deepEqual(shape(parseScript(`$$ BEGIN SELECT CASE WHEN 1 = 1 THEN 'x' END; END $$;`)), [{ body: [`SELECT CASE WHEN 1 = 1 THEN 'x' END`], handler: null }]);
  });

  it('ignores the DbVisualizer --/ … / wrapper', () => {
    assert.deepEqual(shape(parseScript(`--/\n$$ BEGIN SELECT 1; END $$;\n/\n`)), [{ body: ['SELECT 1'], handler: null }]);
  });

  it('reports unterminated strings, comments and blocks with a position', () => {
    assert.throws(() => parseScript(`SELECT 'oops`), { code: 'RT_QUERY_SYNTAX', message: /position 8/ });
    assert.throws(() => parseScript(`SELECT 1 /* never closed`), { code: 'RT_QUERY_SYNTAX' });
    assert.throws(() => parseScript(`$$ BEGIN SELECT 1;`), { code: 'RT_QUERY_SYNTAX', message: /END/ });
    assert.throws(() => parseScript(`$$ BEGIN SELECT 1; EXCEPTION WHEN SOMETHING THEN SELECT 2; END $$`), { code: 'RT_QUERY_SYNTAX' });
  });

  it("substitutes '$NAME' in strings and bare $NAME, escaping quotes, and lists every missing value", () => {
    assert.equal(substituteParams(`SELECT '$who' AS w FROM $db.s.t WHERE x = $1`, { who: "o'brien", db: 'dg1' }), `SELECT 'o''brien' AS w FROM dg1.s.t WHERE x = $1`);
    assert.throws(() => substituteParams(`SELECT '$a', $b`, {}), (e: { code: string; details: { missing: string[] } }) => e.code === 'RT_QUERY_PARAMETER_MISSING' && e.details.missing.join() === 'a,b');
    assert.equal(substituteParams(`SELECT '$$ not a param', '$5'`, {}), `SELECT '$$ not a param', '$5'`);
  });
});
