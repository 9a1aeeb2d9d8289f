/**
 * Reads the documentation as the example runner needs it: the fenced code blocks of a Markdown page with their
 * line numbers and info strings (```sql runnable expect-rows>=1 as=top), the ```expect block that may follow a
 * runnable one, the relative links of the page, and its headings as GitHub anchors (so `page.md#anchor` links
 * can be checked). No Markdown library: fences, links and headings are all the docs use.
 */

export interface CodeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** First word of the info string (`sql`, `http`, `expect`, …), lower-case; '' without one. */
  lang: string;
  /** Bare words of the info string after the language (`runnable`). */
  flags: Set<string>;
  /** `key=value` and `key>=value` words: `expect-rows` → `=3` or `>=1`. */
  options: Map<string, { op: '=' | '>='; value: string }>;
  body: string;
}

export interface RunnableExample {
  file: string;
  line: number;
  lang: string;
  options: CodeBlock['options'];
  body: string;
  /** The ```expect block right after it (the next fenced block), parsed as JSON. */
  expect?: { line: number; value: unknown };
}

export interface Link {
  line: number;
  target: string;
}

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*(.*)$/;

function parseInfo(info: string): Pick<CodeBlock, 'lang' | 'flags' | 'options'> {
  const words = info.trim().split(/\s+/).filter(Boolean);
  const flags = new Set<string>();
  const options: CodeBlock['options'] = new Map();
  for (const word of words.slice(1)) {
    const option = /^([a-z][a-z0-9-]*)(>=|=)(.+)$/i.exec(word);
    if (option) options.set(option[1]!.toLowerCase(), { op: option[2] as '=' | '>=', value: option[3]! });
    else flags.add(word.toLowerCase());
  }
  return { lang: (words[0] ?? '').toLowerCase(), flags, options };
}

/** Every fenced block of a page, in order. An unclosed fence runs to the end of the page, as in CommonMark. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = new RegExp(`^\\s{0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).exec(lines[j]!);
      if (close) break;
      body.push(lines[j]!);
    }
    blocks.push({ line: i + 1, ...parseInfo(open[2]!), body: body.join('\n') });
    i = j;
  }
  return blocks;
}

/** The runnable examples of a page; a runnable block's ```expect partner must be valid JSON. */
export function runnableExamples(file: string, markdown: string): RunnableExample[] {
  const blocks = codeBlocks(markdown);
  const examples: RunnableExample[] = [];
  blocks.forEach((block, i) => {
    if (!block.flags.has('runnable')) return;
    const example: RunnableExample = { file, line: block.line, lang: block.lang, options: block.options, body: block.body };
    const next = blocks[i + 1];
    if (next?.lang === 'expect') {
      try {
        example.expect = { line: next.line, value: JSON.parse(next.body) as unknown };
      } catch (error) {
        throw new Error(`${file}:${next.line}: the expect block is not JSON: ${(error as Error).message}`);
      }
    }
    examples.push(example);
  });
  return examples;
}

/** Prose lines only: fenced blocks blanked (line numbers kept); inline code spans removed, or kept as their text. */
function proseLines(markdown: string, codeText = false): string[] {
  const lines = markdown.split('\n');
  const inCode = new Set<number>();
  for (const block of codeBlocks(markdown)) {
    const lineCount = block.body === '' ? 0 : block.body.split('\n').length;
    for (let k = block.line - 1; k <= block.line + lineCount; k++) inCode.add(k);
  }
  return lines.map((line, i) => (inCode.has(i) ? '' : line.replace(/(`+)([^`]*)\1/g, (_m, _ticks, text: string) => (codeText ? text : ''))));
}

/** Links of a page that point at files of the repository (not URLs, not mail, not same-page anchors). */
export function relativeLinks(markdown: string): Link[] {
  const links: Link[] = [];
  proseLines(markdown).forEach((line, i) => {
    const found = [...line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g), ...line.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/g)];
    for (const match of found) {
      const target = match[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#') || target.startsWith('//')) continue;
      links.push({ line: i + 1, target });
    }
  });
  return links;
}

/** GitHub's anchor for a heading: lower-case, punctuation dropped, spaces to hyphens, duplicates numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown, true)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}
