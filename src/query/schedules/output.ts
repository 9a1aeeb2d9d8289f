/**
 * Output datasets of schedules. With an output dataset the schedule itself writes the results: the first run of
 * "create and append" is `CREATE TABLE <name> AS (<select>)`, every later run (and every run of "append into an
 * existing dataset") is `INSERT INTO <table> <select>`. That only works if the schedule's SQL is one plain query,
 * so SQL that writes by itself (INSERT INTO, CREATE TABLE AS) or holds several statements is refused, as in the
 * reference UI.
 */
import { RoundtripError } from '../../core/errors.ts';
import { parseScript, type ScriptNode } from '../script.ts';
import { isWord, significant, type Token } from '../sql-tokens.ts';

/** Dataset names a schedule may create: a plain lower-case identifier, used unquoted as the table name. */
export const DATASET_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const QUERY_STARTS = ['SELECT', 'WITH', 'VALUES', 'FROM', 'TABLE'];

function refuse(message: string): RoundtripError {
  return new RoundtripError('RT_SCHEDULE_OUTPUT_SQL', message);
}

function statementsOf(nodes: ScriptNode[]): Token[][] {
  return nodes.flatMap((n) => (n.kind === 'statement' ? [significant(n.tokens)] : [...statementsOf(n.body), ...statementsOf(n.handler ?? [])]));
}

function writesItself(tokens: Token[]): string | null {
  for (let i = 0; i < tokens.length - 1; i++) {
    if (isWord(tokens[i], 'INSERT') && isWord(tokens[i + 1], 'INTO')) return 'INSERT INTO';
  }
  if (isWord(tokens[0], 'CREATE') && tokens.some((t) => isWord(t, 'TABLE')) && tokens.some((t) => isWord(t, 'AS'))) return 'CREATE TABLE AS';
  return null;
}

/**
 * The one query to wrap, without its trailing semicolon; refuses SQL that writes by itself or is not a single
 * query. Throws `RT_QUERY_SYNTAX` for SQL that cannot be read.
 */
export function outputQuery(sql: string): string {
  const nodes = parseScript(sql);
  for (const tokens of statementsOf(nodes)) {
    const writer = writesItself(tokens);
    if (writer) {
      throw refuse(`The SQL contains ${writer}; with an output dataset the schedule writes the results itself, so give it only the SELECT.`);
    }
  }
  const only = nodes[0];
  if (nodes.length !== 1 || only?.kind !== 'statement') {
    throw refuse(`With an output dataset the SQL must be exactly one SELECT statement (found ${nodes.length} statements or blocks).`);
  }
  const first = significant(only.tokens)[0];
  if (!(isWord(first, ...QUERY_STARTS) || (first?.type === 'punct' && first.text === '('))) {
    throw refuse(`With an output dataset the SQL must be a query (SELECT or WITH …), not "${first?.text ?? ''} …".`);
  }
  return only.text;
}

/** The statement a run executes: CTAS while the dataset does not exist yet, otherwise an append. */
export function outputStatement(table: string, query: string, exists: boolean): string {
  return exists ? `INSERT INTO ${table} ${query}` : `CREATE TABLE ${table} AS (${query})`;
}
