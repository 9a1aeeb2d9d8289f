import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsvHeader } from './tabular.ts';
import { JsonRecordSplitter } from './json-records.ts';

/** Splits text fed in pieces of `size` characters, so records across chunk boundaries are exercised. */
function split(text: string, size: number): string[] {
  const splitter = new JsonRecordSplitter();
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...splitter.push(text.slice(i, i + size)));
  return [...out, ...splitter.end()];
}

describe('JSON record splitter (multi-line JSON without holding the file)', () => {
  const cases: [string, string, string[]][] = [
    ['an array of records', '[{"a":1}, {"b":"x]}"} ,\n {"c":[1,{"d":2}]}]', ['{"a":1}', '{"b":"x]}"}', '{"c":[1,{"d":2}]}']],
    ['pretty-printed values one after another', '{\n  "a": 1\n}\n{\n  "b": {"c": 2}\n}\n', ['{\n  "a": 1\n}', '{\n  "b": {"c": 2}\n}']],
    ['bare values, kept for the checker to refuse', '[1, "s", true, {"x":1}]', ['1', '"s"', 'true', '{"x":1}']],
    ['a broken record does not swallow its neighbours', '{"a":1,}{"b":2}', ['{"a":1,}', '{"b":2}']],
    ['an unfinished record is returned at the end', '{"a":1}\n{"b":\n', ['{"a":1}', '{"b":\n']],
    ['escaped quotes and brackets inside strings', '[{"a":"\\"}]\\\\"}]', ['{"a":"\\"}]\\\\"}']],
    ['a stray closing bracket is a record of its own', '} {"a":1}', ['}', '{"a":1}']],
  ];
  for (const [label, text, expected] of cases) {
    it(label, () => {
      for (const size of [1, 2, 7, 4096]) assert.deepEqual(split(text, size), expected, `chunks of ${size}`);
    });
  }
});

describe('CSV header', () => {
  it('splits the first record as RFC 4180 says', () => {
    assert.deepEqual(parseCsvHeader('\ufeff_id,"a,b","say ""hi""",person.name\r\nx,y', ','), ['_id', 'a,b', 'say "hi"', 'person.name']);
    assert.deepEqual(parseCsvHeader('a;b\n', ';'), ['a', 'b']);
    assert.equal(parseCsvHeader('a,b', ','), undefined, 'no line end yet');
  });
});
