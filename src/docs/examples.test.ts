/**
 * The documentation is tested: every ```sql runnable / ```http runnable block of `docs/**\/*.md` runs, page by
 * page in file order, on the demo's round trip at a small size (the same steps `npm run demo` runs: generate,
 * ingest, stream, resolve, CLV, audiences, activation, campaign, insights), and a broken example fails with its
 * page and line. Every relative link of the docs (and of the README) must reach a file, and its #anchor a
 * heading of that file.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEMO_STEPS, runDemo, type DemoRun } from '../demo/index.ts';
import { tempDir } from '../testing/temp.ts';
import { codeBlocks, headingAnchors, relativeLinks, runnableExamples } from './markdown.ts';
import { containsAt, fillPlaceholders, parseHttp, runExamples, type ExampleTarget } from './runner.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOCS = path.join(ROOT, 'docs');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) return markdownFiles(full);
      return name.endsWith('.md') ? [full] : [];
    });
}

const PAGES = markdownFiles(DOCS);
const relative = (file: string): string => path.relative(ROOT, file);
const examplesOf = (file: string) => runnableExamples(relative(file), readFileSync(file, 'utf8'));
const PAGES_WITH_EXAMPLES = PAGES.filter((file) => examplesOf(file).length > 0);

describe('docs: reading pages', () => {
  it('finds fenced blocks with their lines, options and expect partners', () => {
    const page = ['# T', '', '```sql runnable expect-rows>=2 as=top', 'SELECT 1', '```', 'text', '```expect', '[{"a": 1}]', '```', '~~~http', 'GET /x', '~~~'].join('\n');
    const blocks = codeBlocks(page);
    assert.deepEqual(
      blocks.map((b) => [b.line, b.lang, [...b.flags]]),
      [
        [3, 'sql', ['runnable']],
        [7, 'expect', []],
        [10, 'http', []],
      ],
    );
    const [example] = runnableExamples('p.md', page);
    assert.deepEqual(example?.options.get('expect-rows'), { op: '>=', value: '2' });
    assert.deepEqual(example?.expect, { line: 7, value: [{ a: 1 }] });
    assert.throws(() => runnableExamples('p.md', '```sql runnable\nSELECT 1\n```\n```expect\nnot json\n```'), /p\.md:4: the expect block is not JSON/);
  });

  it('finds relative links outside code, and GitHub anchors of headings', () => {
    const page = ['# Query `SET @v` and more', '## Query `SET @v` and more', 'See [a](guide/a.md#x), [b](https://x.y), [c](#top) and `[d](no.md)`.', '```', '[e](no.md)', '```', '[ref]: ../sql.md'].join('\n');
    assert.deepEqual(relativeLinks(page), [
      { line: 3, target: 'guide/a.md#x' },
      { line: 7, target: '../sql.md' },
    ]);
    assert.deepEqual([...headingAnchors(page)], ['query-set-v-and-more', 'query-set-v-and-more-1']);
  });

  it('matches answers on what the expect block lists, and fills placeholders from kept answers', () => {
    assert.equal(containsAt([{ a: 1, b: 2 }], [{ a: 1 }]), undefined);
    assert.match(containsAt([{ a: 1 }, { a: 2 }], [{ a: 1 }]) ?? '', /2 items, expected 1/);
    assert.match(containsAt({ x: { y: 'z' } }, { x: { y: 'w' } }) ?? '', /\$\.x\.y/);
    const example = { file: 'p.md', line: 9, lang: 'http', options: new Map(), body: '' };
    assert.equal(fillPlaceholders('GET /a/{{dash.dashboards.0.id}}', new Map([['dash', { dashboards: [{ id: 'd1' }] }]]), example), 'GET /a/d1');
    assert.throws(() => fillPlaceholders('{{nope.id}}', new Map(), example), /p\.md:9: \{\{nope\.id\}\}/);
    assert.deepEqual(parseHttp('POST /q\nX-Test: 1\n\n{"a": 1}', example), { method: 'POST', url: '/q', headers: { 'x-test': '1' }, body: '{"a": 1}' });
  });
});

describe('docs: every runnable example runs on the demo brand', () => {
  let run: DemoRun;
  let target: ExampleTarget;
  const temp = tempDir('roundtrip-docs-');

  before(async () => {
    run = await runDemo({ dataDir: path.join(temp.dir, 'demo'), profiles: 300, seed: 42, serve: false, config: { logLevel: 'silent', duckdbMemoryLimit: '1GB' } }, DEMO_STEPS);
    const app = run.context.state.app!;
    target = {
      inject: (request) => app.inject({ ...request, method: request.method as 'GET' }),
      adminToken: run.context.state.adminToken!,
      sandbox: 'prod',
    };
  });
  after(async () => {
    await run?.close();
    temp.remove();
  });

  it('has runnable examples in every guide and use case', () => {
    const expected = PAGES.filter((f) => /docs\/(guide|use-cases)\/|docs\/sql\.md$/.test(f) && !f.endsWith('README.md'));
    assert.ok(expected.length >= 10, `guides, use cases and the SQL reference are there (${expected.length})`);
    for (const file of expected) assert.ok(examplesOf(file).length > 0, `${relative(file)} has runnable examples`);
  });

  for (const file of PAGES_WITH_EXAMPLES) {
    it(relative(file), async () => {
      const ran = await runExamples(target, examplesOf(file));
      assert.ok(ran > 0);
    });
  }
});

describe('docs: links', () => {
  it('every relative link between docs pages (and from the README) reaches a file and its anchor', () => {
    const broken: string[] = [];
    for (const file of [...PAGES, path.join(ROOT, 'README.md')]) {
      if (!existsSync(file)) continue;
      for (const link of relativeLinks(readFileSync(file, 'utf8'))) {
        const [target, anchor] = link.target.split('#') as [string, string | undefined];
        const resolved = target ? path.resolve(path.dirname(file), decodeURIComponent(target)) : file;
        if (!existsSync(resolved)) broken.push(`${relative(file)}:${link.line}: ${link.target} (no such file)`);
        else if (anchor && resolved.endsWith('.md') && !headingAnchors(readFileSync(resolved, 'utf8')).has(anchor.toLowerCase())) {
          broken.push(`${relative(file)}:${link.line}: ${link.target} (no heading #${anchor})`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });
});
