/**
 * JSON batch files as a stream of record texts, without ever holding a whole file: JSON Lines split by line,
 * and multi-line JSON (one top-level array of records, or concatenated pretty-printed values) split by a small
 * scanner that tracks nesting and strings. Each record keeps its exact text, which is what a failed record
 * stores when the text does not parse (`RT_RECORD_MALFORMED`).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * Splits JSON text into records: every top-level value, except that a top-level array contributes its
 * elements. Brackets inside strings are ignored; a broken record runs to the point where its nesting closes
 * (or to the end), so the records around it are still found.
 */
export class JsonRecordSplitter {
  private pending = '';
  private inRecord = false;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** A record that is a bare number, literal or string (ends at whitespace, `,` or `]`). */
  private bare = false;
  private inArray = false;

  push(chunk: string): string[] {
    const records: string[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i]!;
      if (!this.inRecord) {
        if (WHITESPACE.has(ch)) continue;
        if (!this.inArray && ch === '[') {
          this.inArray = true;
          continue;
        }
        if (this.inArray && (ch === ',' || ch === ']')) {
          if (ch === ']') this.inArray = false;
          continue;
        }
        this.begin(ch);
        start = i;
        if (this.bare || this.depth > 0 || this.inString) continue;
        // A stray closing bracket: a record of its own, for the failed records.
        records.push(ch);
        this.inRecord = false;
        continue;
      }
      if (this.step(ch)) {
        records.push(this.pending + chunk.slice(start, i + 1));
        this.pending = '';
        this.inRecord = false;
      } else if (this.bare && (WHITESPACE.has(ch) || ch === ',' || ch === ']')) {
        records.push(this.pending + chunk.slice(start, i));
        this.pending = '';
        this.inRecord = false;
        if (this.inArray && ch === ']') this.inArray = false;
      }
    }
    if (this.inRecord) this.pending += chunk.slice(start);
    return records;
  }

  /** What is left when the input ends: an unfinished record. */
  end(): string[] {
    const rest = this.inRecord ? [this.pending] : [];
    this.pending = '';
    this.inRecord = false;
    return rest.filter((r) => r.trim() !== '');
  }

  private begin(ch: string): void {
    this.inRecord = true;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.bare = false;
    if (ch === '{' || ch === '[') this.depth = 1;
    else if (ch === '"') this.inString = true;
    else if (ch !== '}' && ch !== ']') this.bare = true;
  }

  /** Advances over one character of a record; true when the record is complete with it. */
  private step(ch: string): boolean {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (ch === '\\') this.escaped = true;
      else if (ch === '"') {
        this.inString = false;
        return this.depth === 0;
      }
      return false;
    }
    if (this.bare) return false;
    if (ch === '"') this.inString = true;
    else if (ch === '{' || ch === '[') this.depth++;
    else if (ch === '}' || ch === ']') return --this.depth === 0;
    return false;
  }
}

/** Record texts of a multi-line JSON file (an array of records, or concatenated values). */
export async function* jsonValues(file: string): AsyncGenerator<string> {
  const splitter = new JsonRecordSplitter();
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 })) {
    yield* splitter.push(chunk as string);
  }
  yield* splitter.end();
}

/** Record texts of a JSON Lines file; blank lines are skipped. */
export async function* jsonLines(file: string): AsyncGenerator<string> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 }), crlfDelay: Infinity });
  for await (const line of lines) if (line.trim() !== '') yield line;
}

/** The first non-blank character of a file, to tell a JSON array from JSON Lines. */
export async function firstCharacter(file: string): Promise<string | undefined> {
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 4096 })) {
    const found = /\S/.exec(chunk as string);
    if (found) return found[0];
  }
  return undefined;
}
