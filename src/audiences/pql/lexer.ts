/**
 * PQL lexer: text → tokens with 1-based line/column. Keywords are not separate token kinds (PQL uses many
 * words both as keywords and as field names, e.g. `from`, `last`), the parser reads them by context.
 */
import { RoundtripError } from '../../core/errors.ts';
import type { Pos } from './ast.ts';

export type TokenType = 'ident' | 'number' | 'string' | 'punct' | 'eof';

export interface Token {
  type: TokenType;
  /** Identifier name, punctuation text, decoded string value, or the number's source text. */
  text: string;
  pos: Pos;
  /** Offset of the token in the source (for `near` excerpts). */
  offset: number;
}

const PUNCTUATION = ['=>', '!=', '<>', '<=', '>=', '==', '&&', '||', '(', ')', '[', ']', ',', '.', ':', '=', '<', '>', '+', '-', '*', '/', '%', '!', '{', '}'];

export function syntaxError(source: string, offset: number, pos: Pos, message: string): RoundtripError {
  const near = source.slice(offset, offset + 20).split('\n')[0] ?? '';
  return new RoundtripError('RT_PQL_SYNTAX', `${message} at line ${pos.line}, column ${pos.column}`, { line: pos.line, column: pos.column, near });
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const pos = (at: number): Pos => ({ line, column: at - lineStart + 1 });
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === '\n') { i += 1; line += 1; lineStart = i; continue; }
    if (/\s/.test(ch)) { i += 1; continue; }
    const start = i;
    if (/[A-Za-z_$]/.test(ch)) {
      while (i < source.length && /[A-Za-z0-9_$]/.test(source[i]!)) i += 1;
      tokens.push({ type: 'ident', text: source.slice(start, i), pos: pos(start), offset: start });
      continue;
    }
    if (/[0-9]/.test(ch)) {
      while (i < source.length && /[0-9]/.test(source[i]!)) i += 1;
      // A fraction needs a digit after the dot, so that `5.count()` style method calls stay possible.
      if (source[i] === '.' && /[0-9]/.test(source[i + 1] ?? '')) {
        i += 1;
        while (i < source.length && /[0-9]/.test(source[i]!)) i += 1;
      }
      if (/[eE]/.test(source[i] ?? '') && /[0-9+-]/.test(source[i + 1] ?? '')) {
        i += 2;
        while (i < source.length && /[0-9]/.test(source[i]!)) i += 1;
      }
      tokens.push({ type: 'number', text: source.slice(start, i), pos: pos(start), offset: start });
      continue;
    }
    if (ch === '"' || ch === "'") {
      const p = pos(start);
      let value = '';
      i += 1;
      for (;;) {
        if (i >= source.length || source[i] === '\n') throw syntaxError(source, start, p, 'Unterminated text: a quote is missing');
        const c = source[i]!;
        if (c === ch) { i += 1; break; }
        if (c === '\\') {
          const next = source[i + 1] ?? '';
          // Only quotes, backslash, \n and \t are escapes; `\w` stays `\w` for regular expressions.
          value += next === 'n' ? '\n' : next === 't' ? '\t' : next === '"' || next === "'" || next === '\\' ? next : `\\${next}`;
          i += 2;
          continue;
        }
        value += c;
        i += 1;
      }
      tokens.push({ type: 'string', text: value, pos: p, offset: start });
      continue;
    }
    const punct = PUNCTUATION.find((p) => source.startsWith(p, i));
    if (!punct) throw syntaxError(source, start, pos(start), `Unexpected character '${ch}'`);
    i += punct.length;
    tokens.push({ type: 'punct', text: punct, pos: pos(start), offset: start });
  }
  tokens.push({ type: 'eof', text: '', pos: pos(i), offset: i });
  return tokens;
}
