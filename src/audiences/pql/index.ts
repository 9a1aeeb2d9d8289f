/**
 * The PQL engine's public surface: parse, print, compile to DuckDB SQL (batch), evaluate in process
 * (streaming), and analyse (eligibility, validation). Everything else in this folder is internal.
 */
import type { PqlNode } from './ast.ts';
import type { PqlFeatures } from './features.ts';
import { analyse } from './analysis.ts';
import { evaluate } from './evaluator.ts';
import { parse } from './parser.ts';
import { print } from './printer.ts';
import { compile } from './sql-compiler.ts';

export type * from './ast.ts';
export { eventColumnsRead } from './event-columns.ts';
export type { PqlFeatures } from './features.ts';

/** Parses PQL text; throws RoundtripError('RT_PQL_SYNTAX', msg, { line, column, near }). */
export function parsePql(source: string): PqlNode {
  return parse(source);
}

/** Canonical PQL text; parsePql(printPql(n)) equals n ignoring pos. */
export function printPql(node: PqlNode): string {
  return print(node);
}

export interface SqlCompileContext {
  /** Alias of the profile row in the outer query, e.g. 'p'. */
  profileAlias: string;
  /** One row per event: profile_id BIGINT, "timestamp" TIMESTAMPTZ, eventType VARCHAR, XDM fields as columns. */
  eventsTable: string;
  /** (segment_id VARCHAR, profile_id BIGINT, status VARCHAR); inSegment(id) = a 'realized' row exists. */
  membershipTable: string;
  /** ISO instant used for every relative time word, so that batch and streaming agree. */
  now: string;
  /**
   * Optional: dotted paths of array fields (`person.orders`; event fields as `xEvent.productListItems`), from
   * the schema. Member access on them maps over the items (`person.orders.storeId`), as the evaluator does.
   */
  arrayPaths?: readonly string[];
}

/** A DuckDB boolean SQL expression for `SELECT p.profile_id FROM profile_snapshot_x p WHERE <expr>`. */
export function compilePqlToSql(node: PqlNode, ctx: SqlCompileContext): string {
  return compile(node, ctx);
}

export interface EvaluationInput {
  profile: Record<string, unknown>;
  events: readonly Record<string, unknown>[];
  segments: ReadonlySet<string>;
  now: Date;
}

/** In-process evaluation of one profile (streaming); agrees with compilePqlToSql. */
export function evaluatePql(node: PqlNode, input: EvaluationInput): boolean {
  return evaluate(node, input);
}

/** What the expression uses (eligibility, validation). */
export function analysePql(node: PqlNode): PqlFeatures {
  return analyse(node);
}
