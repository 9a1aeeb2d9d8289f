/**
 * SQL tokenizer for the Data Distiller front end. It keeps every character (whitespace and comments included)
 * so that a rewrite changes only the tokens it means to and the rest of the statement reaches DuckDB as written.
 * Knows the dialect's extras: `$$` block delimiters, `@variables`, `$NAME` template parameters and `#` line
 * comments (at the start of a line, as in anonymous blocks).
 */
import { RoundtripError } from '../core/errors.ts';

export type TokenType = 'ws' | 'comment' | 'string' | 'qident' | 'ident' | 'number' | 'op' | 'punct' | 'dollar' | 'var' | 'param' | 'positional';

export interface Token {
  type: TokenType;
  text: string;
  /** Offset in the source, for error positions. */
  start: number;
}

const OP_CHARS = new Set('+-*/<>=~!@%^&|:?'.split(''));
const PUNCT = new Set('(),;.[]{}'.split(''));
const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/;

function readQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  throw new RoundtripError('RT_QUERY_SYNTAX', `Unterminated ${quote === "'" ? 'string' : 'quoted identifier'} starting at position ${start + 1}.`);
}

function atLineStart(sql: string, index: number): boolean {
  for (let i = index - 1; i >= 0; i--) {
    if (sql[i] === '\n') return true;
    if (sql[i] !== ' ' && sql[i] !== '\t' && sql[i] !== '\r') return false;
  }
  return true;
}

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const push = (type: TokenType, end: number) => {
    tokens.push({ type, text: sql.slice(i, end), start: i });
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /\s/.test(sql[j]!)) j++;
      push('ws', j);
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      push('comment', end === -1 ? sql.length : end);
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) throw new RoundtripError('RT_QUERY_SYNTAX', `Unterminated comment starting at position ${i + 1}.`);
      push('comment', end + 2);
    } else if (c === '#' && atLineStart(sql, i)) {
      const end = sql.indexOf('\n', i);
      push('comment', end === -1 ? sql.length : end);
    } else if (c === "'") {
      push('string', readQuoted(sql, i, "'"));
    } else if (c === '"') {
      push('qident', readQuoted(sql, i, '"'));
    } else if (c === '$' && next === '$') {
      push('dollar', i + 2);
    } else if (c === '$' && next !== undefined && /[0-9]/.test(next)) {
      let j = i + 1;
      while (j < sql.length && /[0-9]/.test(sql[j]!)) j++;
      push('positional', j);
    } else if (c === '$' && next !== undefined && IDENT_START.test(next)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_]/.test(sql[j]!)) j++;
      push('param', j);
    } else if (c === '@' && next !== undefined && IDENT_START.test(next)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_]/.test(sql[j]!)) j++;
      push('var', j);
    } else if (/[0-9]/.test(c) || (c === '.' && next !== undefined && /[0-9]/.test(next))) {
      let j = i + 1;
      while (j < sql.length && /[0-9._eE]/.test(sql[j]!)) j++;
      push('number', j);
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < sql.length && IDENT_PART.test(sql[j]!)) j++;
      push('ident', j);
    } else if (PUNCT.has(c)) {
      push('punct', i + 1);
    } else if (OP_CHARS.has(c)) {
      let j = i + 1;
      while (j < sql.length && OP_CHARS.has(sql[j]!) && !(sql[j] === '-' && sql[j + 1] === '-')) j++;
      push('op', j);
    } else {
      throw new RoundtripError('RT_QUERY_SYNTAX', `Unexpected character "${c}" at position ${i + 1}.`);
    }
  }
  return tokens;
}

export const isTrivia = (t: Token): boolean => t.type === 'ws' || t.type === 'comment';
export const isWord = (t: Token | undefined, ...words: string[]): boolean =>
  t !== undefined && t.type === 'ident' && words.some((w) => w.toUpperCase() === t.text.toUpperCase());
export const render = (tokens: readonly Token[]): string => tokens.map((t) => t.text).join('');

/** Index of the next non-trivia token at or after `from`, or `tokens.length`. */
export function nextSignificant(tokens: readonly Token[], from: number): number {
  let i = from;
  while (i < tokens.length && isTrivia(tokens[i]!)) i++;
  return i;
}

/** The significant tokens only (no whitespace or comments). */
export const significant = (tokens: readonly Token[]): Token[] => tokens.filter((t) => !isTrivia(t));

/** Index of the token closing the parenthesis opened at `open`. */
export function closingParen(tokens: readonly Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type === 'punct' && t.text === '(') depth++;
    else if (t.type === 'punct' && t.text === ')' && --depth === 0) return i;
  }
  throw new RoundtripError('RT_QUERY_SYNTAX', `Unbalanced parenthesis at position ${(tokens[open]?.start ?? 0) + 1}.`);
}

/** Splits `tokens[from..to)` on commas at paren depth 0. */
export function splitArgs(tokens: readonly Token[], from: number, to: number): Token[][] {
  const args: Token[][] = [[]];
  let depth = 0;
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    if (t.type === 'punct' && (t.text === '(' || t.text === '[' || t.text === '{')) depth++;
    if (t.type === 'punct' && (t.text === ')' || t.text === ']' || t.text === '}')) depth--;
    if (depth === 0 && t.type === 'punct' && t.text === ',') args.push([]);
    else args[args.length - 1]!.push(t);
  }
  return args;
}

export const unquoteString = (text: string): string => text.slice(1, -1).replace(/''/g, "'");
export const quoteString = (value: string): string => `'${value.replace(/'/g, "''")}'`;
export const identName = (t: Token): string => (t.type === 'qident' ? t.text.slice(1, -1).replace(/""/g, '"') : t.text);
