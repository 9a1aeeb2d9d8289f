/**
 * Script structure: splits SQL text into top-level statements and anonymous blocks
 * (`$$ BEGIN … [EXCEPTION WHEN OTHER THEN …] END $$` and the `$$BEGIN … $$END` spelling), with nested
 * `BEGIN … END` blocks inside. Statements stay token lists; the interpreter decides what each one is.
 */
import { RoundtripError } from '../core/errors.ts';
import { isTrivia, isWord, nextSignificant, render, tokenize, type Token } from './sql-tokens.ts';

export type ScriptNode = { kind: 'statement'; tokens: Token[]; text: string } | { kind: 'block'; body: ScriptNode[]; handler: ScriptNode[] | null; text: string };

const isSemicolon = (t: Token | undefined): boolean => t?.type === 'punct' && t.text === ';';
const isDollar = (t: Token | undefined): boolean => t?.type === 'dollar';

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly source: string,
  ) {}

  private peek(offset = 0): Token | undefined {
    let index = nextSignificant(this.tokens, this.i);
    for (let k = 0; k < offset; k++) index = nextSignificant(this.tokens, index + 1);
    return this.tokens[index];
  }

  private skipTrivia(): void {
    this.i = nextSignificant(this.tokens, this.i);
  }

  private take(): Token {
    this.skipTrivia();
    return this.tokens[this.i++]!;
  }

  private error(message: string): RoundtripError {
    const at = this.tokens[Math.min(this.i, this.tokens.length - 1)]?.start ?? 0;
    return new RoundtripError('RT_QUERY_SYNTAX', `${message} (near position ${at + 1}).`);
  }

  /** `$$ BEGIN` / `$$BEGIN` opens an outer block; a bare `BEGIN` opens a nested one. */
  private atBlockStart(): boolean {
    return (isDollar(this.peek()) && isWord(this.peek(1), 'BEGIN')) || (isWord(this.peek(), 'BEGIN') && !isSemicolon(this.peek(1)));
  }

  /** END, `$$` or `EXCEPTION WHEN` end a statement list inside a block. */
  private atListEnd(): boolean {
    const t = this.peek();
    return t === undefined || isWord(t, 'END') || isDollar(t) || (isWord(t, 'EXCEPTION') && isWord(this.peek(1), 'WHEN'));
  }

  parseScript(): ScriptNode[] {
    const nodes: ScriptNode[] = [];
    for (;;) {
      while (isSemicolon(this.peek())) this.take();
      if (this.peek() === undefined) return nodes;
      nodes.push(this.atBlockStart() ? this.parseBlock() : this.parseStatement(false));
    }
  }

  private parseBlock(): ScriptNode {
    this.skipTrivia();
    const startOffset = this.tokens[this.i]!.start;
    const outer = isDollar(this.peek());
    if (outer) this.take();
    this.take(); // BEGIN
    const body = this.parseList();
    let handler: ScriptNode[] | null = null;
    if (isWord(this.peek(), 'EXCEPTION')) {
      this.take();
      if (!isWord(this.take(), 'WHEN')) throw this.error('Expected WHEN after EXCEPTION');
      if (!isWord(this.take(), 'OTHER', 'OTHERS')) throw this.error('Only EXCEPTION WHEN OTHER THEN is supported');
      if (!isWord(this.take(), 'THEN')) throw this.error('Expected THEN after WHEN OTHER');
      handler = this.parseList();
    }
    this.closeBlock(outer);
    const end = this.i < this.tokens.length ? this.tokens[this.i]!.start : this.source.length;
    return { kind: 'block', body, handler, text: this.source.slice(startOffset, end).trim() };
  }

  /** Accepts `END $$`, `$$ END`, `END` (nested) and an optional `;`. */
  private closeBlock(outer: boolean): void {
    const first = this.peek();
    if (isWord(first, 'END')) {
      this.take();
      if (outer && isDollar(this.peek())) this.take();
    } else if (isDollar(first) && isWord(this.peek(1), 'END')) {
      this.take();
      this.take();
    } else throw this.error('A block must end with END $$ (or $$END)');
    if (isSemicolon(this.peek())) this.take();
  }

  private parseList(): ScriptNode[] {
    const nodes: ScriptNode[] = [];
    for (;;) {
      while (isSemicolon(this.peek())) this.take();
      if (this.atListEnd()) return nodes;
      nodes.push(this.atBlockStart() ? this.parseBlock() : this.parseStatement(true));
    }
  }

  private parseStatement(inBlock: boolean): ScriptNode {
    this.skipTrivia();
    const start = this.i;
    let depth = 0;
    while (this.i < this.tokens.length) {
      const t = this.tokens[this.i]!;
      if (t.type === 'punct' && t.text === '(') depth++;
      if (t.type === 'punct' && t.text === ')') depth--;
      if (depth === 0 && isSemicolon(t)) break;
      if (depth === 0 && inBlock && !isTrivia(t) && this.i > start && this.endsBlockStatement(t)) break;
      this.i++;
    }
    const tokens = this.tokens.slice(start, this.i);
    if (isSemicolon(this.tokens[this.i])) this.i++;
    while (tokens.length && isTrivia(tokens[tokens.length - 1]!)) tokens.pop();
    return { kind: 'statement', tokens, text: render(tokens) };
  }

  /** Inside a block, a statement also ends before `$$` or `EXCEPTION WHEN` (the reference omits some semicolons). */
  private endsBlockStatement(t: Token): boolean {
    if (isDollar(t)) return true;
    if (isWord(t, 'EXCEPTION')) return isWord(this.tokens[nextSignificant(this.tokens, this.i + 1)], 'WHEN');
    return false;
  }
}

export function parseScript(sql: string): ScriptNode[] {
  // DbVisualizer wraps blocks in `--/` … `/` lines; both are harmless to drop.
  const cleaned = sql.replace(/^\s*--\/\s*$/gm, '').replace(/^\s*\/\s*$/gm, '');
  return new Parser(tokenize(cleaned), cleaned).parseScript();
}
