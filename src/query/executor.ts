/**
 * The script interpreter: runs the statements and anonymous blocks of one request on one warehouse session,
 * in order, stopping at the first failure (or running a block's `EXCEPTION WHEN OTHER THEN` handler).
 * Data Distiller statements DuckDB does not know (CTAS/ITAS into datasets, identity and label DDL, SHOW TABLES,
 * field groups, `SET @v = SELECT …`, settings) are carried out here against the catalog; everything else is
 * rewritten (`rewrite.ts`) and handed to DuckDB.
 */
import type { Principal } from '../access/principal.ts';
import type { Datasets } from '../catalog/datasets.ts';
import type { SchemaRegistry } from '../catalog/schema-registry.ts';
import type { IdentityDescriptor, ResolvedSchema } from '../catalog/xdm/compose.ts';
import type { FieldDefinition, Properties } from '../catalog/xdm/fields.ts';
import { RoundtripError } from '../core/errors.ts';
import type { DatasetRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { JsonRecord, JsonValue, QueryResult, WarehouseSession } from '../ports/warehouse.ts';
import { columnDefinition, propertiesFromColumns, splitColumnDefinitions } from './ddl.ts';
import { dataGroupSchemas, forgetAcceleratedDatabase, guardedAcceleratedWrite, identityNames, qualifiedTarget, registerAcceleratedDatabase, stripTableOptions, type AcceleratedWrites } from './accelerated.ts';
import { assertNotSystemTarget, inspectStatement } from './guard.ts';
import { rewriteStatement, substituteVariables, type CatalogLookups } from './rewrite.ts';
import type { ScriptNode } from './script.ts';
import { closingParen, identName, isTrivia, isWord, nextSignificant, render, significant, splitArgs, unquoteString, type Token } from './sql-tokens.ts';
import type { StatementKind, StatementResult } from './types.ts';

export interface ExecutionContext {
  principal: Principal;
  sandbox: string;
  session: WarehouseSession;
  datasets: Datasets;
  registry: SchemaRegistry;
  metadata: MetadataStore;
  lookups: CatalogLookups;
  /** Block variables, by lower-cased name. */
  vars: Map<string, JsonValue>;
  /** `SET name = value` settings of this run (never passed to DuckDB). */
  settings: Map<string, string>;
  /** DuckDB's own setting names: SET on one of them is refused. */
  engineSettings: ReadonlySet<string>;
  canWrite: boolean;
  maxRows: number;
  batchId: string;
  /** Told about writes to accelerated-store tables (result caches). */
  acceleratedWrites?: AcceleratedWrites;
}

const SYSTEM_COLUMNS_FILTER = `COLUMNS(c -> NOT starts_with(c, '_rt_'))`;
const READ_WRAPPABLE = new Set(['SELECT', 'WITH', 'VALUES', 'FROM', '(']);

const result = (statement: string, kind: StatementKind, extra: Partial<StatementResult> = {}): StatementResult => ({
  statement: statement.trim().slice(0, 500),
  kind,
  columns: [],
  rows: [],
  rowCount: 0,
  truncated: false,
  ...extra,
});

function queryFailed(error: unknown, statement: string): RoundtripError {
  if (error instanceof RoundtripError && error.code !== 'RT_WAREHOUSE_FAILED') return error;
  const message = error instanceof Error ? error.message : String(error);
  return new RoundtripError('RT_QUERY_FAILED', message, { statement: statement.trim().slice(0, 500) });
}

/** Strips the platform's system columns from what a query shows. */
function withoutSystemColumns(r: QueryResult): QueryResult {
  const hidden = r.columns.filter((c) => c.name.startsWith('_rt_')).map((c) => c.name);
  if (hidden.length === 0) return r;
  return {
    columns: r.columns.filter((c) => !hidden.includes(c.name)),
    rows: r.rows.map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => !hidden.includes(k)))),
  };
}

/** Tokens after the first significant token matching `words` in order, e.g. after `CREATE TABLE`. */
function wordsAt(tokens: readonly Token[], index: number, ...words: string[]): number | undefined {
  let i = index;
  for (const w of words) {
    i = nextSignificant(tokens, i);
    if (!isWord(tokens[i], w)) return undefined;
    i++;
  }
  return i;
}

/**
 * Reads a (possibly dotted, possibly quoted) table name at `i`: its parts and the index after it. A qualified
 * name (`db.schema.t`) is a table of a data group, not a dataset.
 */
function tableNameAt(tokens: readonly Token[], index: number): { name: string; parts: string[]; end: number } {
  let i = nextSignificant(tokens, index);
  const parts: string[] = [];
  for (;;) {
    const t = tokens[i];
    if (t?.type !== 'ident' && t?.type !== 'qident') throw new RoundtripError('RT_QUERY_SYNTAX', `Expected a table name at position ${(t?.start ?? 0) + 1}.`);
    parts.push(identName(t));
    const dot = tokens[i + 1];
    if (dot?.type === 'punct' && dot.text === '.') i += 2;
    else return { name: parts[parts.length - 1]!, parts, end: i + 1 };
  }
}

/** `(select)` → `select`; anything else unchanged. */
function unwrapQuery(tokens: Token[]): Token[] {
  const sig = tokens.map((t, i) => [t, i] as const).filter(([t]) => !isTrivia(t));
  const first = sig[0];
  const last = sig[sig.length - 1];
  if (first && last && first[0].text === '(' && closingParen(tokens, first[1]) === last[1]) return tokens.slice(first[1] + 1, last[1]);
  return tokens;
}

/** `WITH (schema='…', label='PROFILE')` → options, lower-cased keys. */
function readWithOptions(tokens: readonly Token[], index: number): { options: Map<string, string>; end: number } {
  const options = new Map<string, string>();
  const withAt = nextSignificant(tokens, index);
  if (!isWord(tokens[withAt], 'WITH')) return { options, end: index };
  const open = nextSignificant(tokens, withAt + 1);
  const close = closingParen(tokens, open);
  for (const arg of splitArgs(tokens, open + 1, close)) {
    const parts = significant(arg);
    const key = parts[0]?.text.toLowerCase();
    const value = parts[parts.length - 1];
    if (key && value) options.set(key, value.type === 'string' ? unquoteString(value.text) : value.text);
  }
  return { options, end: close + 1 };
}

export class ScriptExecutor {
  constructor(private readonly ctx: ExecutionContext) {}

  async runScript(nodes: readonly ScriptNode[]): Promise<StatementResult[]> {
    const results: StatementResult[] = [];
    for (const node of nodes) results.push(node.kind === 'block' ? await this.runBlock(node) : await this.runStatement(node.tokens, node.text));
    return results;
  }

  private async runBlock(block: Extract<ScriptNode, { kind: 'block' }>): Promise<StatementResult> {
    let last = result(block.text, 'block');
    try {
      for (const node of block.body) last = node.kind === 'block' ? await this.runBlock(node) : await this.runStatement(node.tokens, node.text);
      return { ...last, kind: last.kind, statement: block.text.slice(0, 500) };
    } catch (error) {
      if (!block.handler) throw error;
      const failure = error instanceof RoundtripError ? `${error.code}: ${error.message}` : String(error);
      for (const node of block.handler) last = node.kind === 'block' ? await this.runBlock(node) : await this.runStatement(node.tokens, node.text);
      return { ...last, statement: block.text.slice(0, 500), message: `The block failed (${failure}); its exception handler ran.` };
    }
  }

  private requireWrite(what: string): void {
    if (!this.ctx.canWrite) throw new RoundtripError('RT_QUERY_READ_ONLY', `${what} needs a role with query:write (admin or data-engineer).`);
  }

  async runStatement(original: Token[], text: string): Promise<StatementResult> {
    const inspection = inspectStatement(original);
    const sig = significant(original);
    const first = inspection.first;
    if (first === 'SET') return this.runSet(original, text);
    const tokens = substituteVariables(original, this.ctx.vars);
    try {
      if (first === 'SHOW') {
        const shown = await this.runShow(sig, text);
        if (shown) return shown;
      }
      if (first === 'CREATE') return await this.announceWrites(tokens, this.runCreate(tokens, text));
      if (first === 'INSERT') return await this.announceWrites(tokens, this.runInsert(tokens, text));
      if (first === 'DROP') return await this.announceWrites(tokens, this.runDrop(tokens, text));
      if (first === 'ALTER' && isWord(sig[1], 'TABLE')) return await this.announceWrites(tokens, this.runAlterTable(tokens, text));
      if (first === 'DELETE' || first === 'UPDATE' || first === 'TRUNCATE' || first === 'MERGE') return await this.announceWrites(tokens, this.runDml(tokens, text, first));
      if (!inspection.readOnly) this.requireWrite(first);
      return await this.runEngine(tokens, text, inspection.readOnly ? 'select' : 'other', READ_WRAPPABLE.has(first));
    } catch (error) {
      throw queryFailed(error, text);
    }
  }

  /** After a write, tells the result caches which accelerated tables (`d.s.t` names in the statement) changed. */
  private async announceWrites(tokens: Token[], running: Promise<StatementResult>): Promise<StatementResult> {
    const outcome = await running;
    if (!this.ctx.acceleratedWrites) return outcome;
    const { accelerated } = await dataGroupSchemas(this.ctx.session);
    const names = significant(tokens).map((t) => (t.type === 'ident' || t.type === 'qident' ? identName(t) : t.text));
    const tables = new Set<string>();
    for (let i = 0; i + 4 < names.length; i++) {
      const schema = `${names[i]}.${names[i + 2]}`.toLowerCase();
      if (names[i + 1] === '.' && names[i + 3] === '.' && accelerated.has(schema)) tables.add(`${schema}.${names[i + 4]!.toLowerCase()}`);
    }
    if (tables.size > 0) this.ctx.acceleratedWrites.notify(this.ctx.sandbox, [...tables]);
    return outcome;
  }

  /**
   * CREATE TABLE in a data group (`d.s.t`): the reference's table options are dropped; in an accelerated store
   * the statement runs in a transaction that is undone if the table would hold identity or PII columns.
   */
  private async createInDataGroup(tokens: Token[], parts: string[], afterName: number, text: string): Promise<StatementResult> {
    const statement = stripTableOptions(tokens, afterName);
    const target = qualifiedTarget(parts);
    if (!target || !(await dataGroupSchemas(this.ctx.session)).accelerated.has(target.schema)) return this.runEngine(statement, text, 'ddl', false);
    return guardedAcceleratedWrite(this.ctx.session, target, await this.identityColumnNames(), () => this.runEngine(statement, text, 'ddl', false));
  }

  /** Identity field names and namespace codes of the sandbox's datasets (what an accelerated table may not hold). */
  private async identityColumnNames(): Promise<Set<string>> {
    const descriptors: IdentityDescriptor[] = [];
    for (const d of await this.ctx.datasets.list(this.ctx.sandbox)) {
      const schema = await this.ctx.registry.getResolved(this.ctx.sandbox, d.schemaId, d.schemaVersion);
      descriptors.push(...schema['meta:identities']);
    }
    return identityNames(descriptors);
  }

  /** Runs a statement on DuckDB after the dialect rewrites; read statements are capped at `maxRows`. */
  private async runEngine(tokens: Token[], text: string, kind: StatementKind, wrap: boolean): Promise<StatementResult> {
    const sql = render(await rewriteStatement(tokens, this.ctx.lookups));
    if (!this.ctx.canWrite && kind === 'select') await this.assertSelectOnly(sql);
    const cap = this.ctx.maxRows;
    const raw = await this.ctx.session.query(wrap ? `SELECT * FROM (${sql}\n) AS __result LIMIT ${cap + 1}` : sql);
    const shown = withoutSystemColumns(raw);
    const truncated = shown.rows.length > cap;
    const rows = truncated ? shown.rows.slice(0, cap) : shown.rows;
    return result(text, kind, { columns: shown.columns, rows, rowCount: rows.length, truncated });
  }

  /** Read-only principals run SELECTs only: DuckDB's own parser says whether the statement is one. */
  private async assertSelectOnly(sql: string): Promise<void> {
    const check = await this.ctx.session.query(`SELECT json_serialize_sql($sql::VARCHAR) AS ast`, { sql });
    const ast = JSON.parse((check.rows[0]?.ast as string | undefined) ?? '{}') as { error?: boolean; error_type?: string; statements?: unknown[] };
    if (ast.error && ast.error_type !== 'parser') this.requireWrite('This statement');
    if (Array.isArray(ast.statements) && ast.statements.length > 1) throw new RoundtripError('RT_QUERY_SYNTAX', 'One statement at a time.');
  }

  private runSet(tokens: Token[], text: string): StatementResult {
    const sig = significant(tokens);
    const target = sig[1];
    const eq = sig[2];
    if (target?.type === 'var') {
      if (!(eq?.type === 'op' && eq.text === '=')) throw new RoundtripError('RT_QUERY_SYNTAX', `SET ${target.text} needs "= SELECT …".`);
      return this.setVariable(target.text.slice(1).toLowerCase(), tokens, sig, text) as unknown as StatementResult;
    }
    const name = target?.text.toLowerCase() ?? '';
    if (this.ctx.engineSettings.has(name)) {
      throw new RoundtripError('RT_QUERY_FORBIDDEN_STATEMENT', `SET ${name} is an engine setting and is not allowed: SQL in Roundtrip works on the sandbox's datasets only.`);
    }
    const valueTokens = sig.slice(eq && (eq.text === '=' || isWord(eq, 'TO')) ? 3 : 2);
    const value = valueTokens.map((t) => (t.type === 'string' ? unquoteString(t.text) : t.text)).join(' ');
    this.ctx.settings.set(name, value);
    return result(text, 'set', { message: `SET ${name} = ${value}` });
  }

  private async setVariable(name: string, tokens: Token[], sig: Token[], text: string): Promise<StatementResult> {
    const eqIndex = tokens.indexOf(sig[2]!);
    const query = await this.runStatement(tokens.slice(eqIndex + 1), render(tokens.slice(eqIndex + 1)));
    const row = query.rows[0];
    const value = row ? (Object.values(row)[0] ?? null) : null;
    this.ctx.vars.set(name, value);
    return result(text, 'set', { message: `@${name} = ${JSON.stringify(value)}` });
  }

  private async runShow(sig: Token[], text: string): Promise<StatementResult | undefined> {
    const what = sig[1]?.text.toUpperCase();
    if (what === 'TABLES') {
      const rows = (await this.ctx.datasets.list(this.ctx.sandbox)).map((d) => ({
        name: d.tableName,
        dataSetId: d.id,
        dataSet: d.name,
        description: '',
        labels: [...(d.profileEnabled ? ['PROFILE'] : []), ...(d.upsert ? ['UPSERT'] : [])].join(', '),
      }));
      return this.table(text, rows, ['name', 'dataSetId', 'dataSet', 'description', 'labels']);
    }
    if (what === 'IDENTITIES') {
      const rows: JsonRecord[] = [];
      for (const d of await this.ctx.datasets.list(this.ctx.sandbox)) {
        const schema = await this.ctx.registry.getResolved(this.ctx.sandbox, d.schemaId, d.schemaVersion);
        for (const identity of schema['meta:identities']) {
          rows.push({ tableName: d.tableName, columnName: identity.path, datatype: 'string', namespace: identity.namespace, ifPrimary: Boolean(identity.primary) });
        }
      }
      return this.table(text, rows, ['tableName', 'columnName', 'datatype', 'namespace', 'ifPrimary']);
    }
    if (what === 'FIELDGROUPS') {
      const rows = (await this.ctx.registry.listFieldGroups(this.ctx.sandbox)).map((g) => ({ name: g.title, fieldgroupId: g.id, owner: g.standard ? 'System' : 'Customer' }));
      return this.table(text, rows, ['name', 'fieldgroupId', 'owner']);
    }
    return undefined;
  }

  private table(text: string, rows: JsonRecord[], names: string[]): StatementResult {
    const columns = names.map((name) => ({ name, type: 'VARCHAR', columnType: { kind: 'string' as const } }));
    return result(text, 'show', { columns, rows: rows.slice(0, this.ctx.maxRows), rowCount: rows.length, truncated: rows.length > this.ctx.maxRows });
  }

  private async datasetByTable(table: string): Promise<DatasetRecord | undefined> {
    return this.ctx.metadata.datasets.getByTable(this.ctx.sandbox, table.toLowerCase());
  }

  private async runCreate(tokens: Token[], text: string): Promise<StatementResult> {
    const sig = significant(tokens);
    const second = sig[1]?.text.toUpperCase();
    if (second === 'FIELDGROUP') return this.createFieldGroup(tokens, text);
    if (second === 'DATABASE' || second === 'SCHEMA') return this.createDataGroup(tokens, second, text);
    const tableAt = wordsAt(tokens, 0, 'CREATE', 'TABLE');
    if (tableAt === undefined) {
      this.requireWrite(`CREATE ${second ?? ''}`.trim());
      return this.runEngine(tokens, text, 'ddl', false);
    }
    this.requireWrite('CREATE TABLE');
    let i = tableAt;
    const ifNotExists = wordsAt(tokens, i, 'IF', 'NOT', 'EXISTS');
    if (ifNotExists !== undefined) i = ifNotExists;
    const { name, parts, end } = tableNameAt(tokens, i);
    assertNotSystemTarget(name);
    if (parts.length > 1) return this.createInDataGroup(tokens, parts, end, text);
    const next = tokens[nextSignificant(tokens, end)];
    const existing = await this.datasetByTable(name);
    if (existing) {
      if (ifNotExists !== undefined) return result(text, 'ddl', { message: `Table ${name} exists; nothing was created.` });
      throw new RoundtripError('RT_DATASET_EXISTS', `Table ${name} already exists (dataset ${existing.id}).`);
    }
    if (next?.type === 'punct' && next.text === '(') return this.createWithColumns(tokens, nextSignificant(tokens, end), name, text);
    const { options, end: afterWith } = readWithOptions(tokens, end);
    const asAt = nextSignificant(tokens, afterWith);
    if (!isWord(tokens[asAt], 'AS')) throw new RoundtripError('RT_QUERY_SYNTAX', 'CREATE TABLE needs AS (select) or a column list.');
    return this.createAsSelect(name, unwrapQuery(tokens.slice(asAt + 1)), options, text);
  }

  private async createDataset(name: string, properties: Properties, options: Map<string, string>, identities: IdentityDescriptor[]): Promise<DatasetRecord> {
    const profile = options.get('label')?.toUpperCase() === 'PROFILE';
    const schemaTitle = options.get('schema');
    let schemaId: string;
    if (schemaTitle) {
      const match = (await this.ctx.registry.listSchemas(this.ctx.sandbox)).find((s) => s.title === schemaTitle);
      if (!match) throw new RoundtripError('RT_SCHEMA_NOT_FOUND', `No schema titled "${schemaTitle}" in this sandbox.`);
      schemaId = match.id;
    } else {
      const schema = await this.ctx.registry.createSchema(
        this.ctx.principal,
        this.ctx.sandbox,
        { title: `${name} (SQL)`, class: profile ? 'profile' : 'adhoc', identities },
        { adhoc: true, rootFields: properties },
      );
      schemaId = schema.id;
    }
    return this.ctx.datasets.create(this.ctx.principal, this.ctx.sandbox, { name, schemaId, profileEnabled: profile, identityEnabled: profile, upsert: profile }, { fromSql: true });
  }

  private async createAsSelect(name: string, select: Token[], options: Map<string, string>, text: string): Promise<StatementResult> {
    const sql = render(await rewriteStatement(select, this.ctx.lookups));
    const source = `SELECT ${SYSTEM_COLUMNS_FILTER} FROM (${sql}\n) AS __source`;
    const shape = await this.ctx.session.query(`SELECT * FROM (${source}) AS __shape LIMIT 0`);
    const properties = propertiesFromColumns(shape.columns.map((c) => ({ name: c.name, type: c.columnType })));
    const dataset = await this.createDataset(name, properties, options, []);
    const outcome = await this.insertInto(dataset, source, shape.columns.map((c) => c.name));
    return result(text, 'ctas', { rowCount: outcome.rowCount, message: `Created Table DataSet Id ${dataset.id} (${outcome.rowCount} rows, snapshot ${outcome.snapshotId})` });
  }

  /** Appends the rows of `source` to a dataset as its next snapshot, on this session (temp tables stay visible). */
  private async insertInto(dataset: DatasetRecord, source: string, columns?: string[]): Promise<{ rowCount: number; snapshotId: number }> {
    const outcome = await this.ctx.datasets.appendWith(this.ctx.principal, this.ctx.sandbox, dataset, this.ctx.batchId, async ({ table, stamp }) => {
      const system = `${stamp.snapshotId}::BIGINT AS "_rt_snapshot_id", '${stamp.batchId}' AS "_rt_batch_id", now() AS "_rt_ingested_at"`;
      const target = columns ? `(${[...columns, '_rt_snapshot_id', '_rt_batch_id', '_rt_ingested_at'].map((c) => `"${c}"`).join(', ')})` : 'BY NAME';
      const inserted = await this.ctx.session.query(`INSERT INTO "${table}" ${target} SELECT *, ${system} FROM (${source}\n) AS __rows`);
      return Number(Object.values(inserted.rows[0] ?? {})[0] ?? 0);
    });
    return { rowCount: outcome.rowCount, snapshotId: outcome.snapshotId };
  }

  private async createWithColumns(tokens: Token[], open: number, name: string, text: string): Promise<StatementResult> {
    const close = closingParen(tokens, open);
    const properties: Properties = {};
    const identities: IdentityDescriptor[] = [];
    for (const definition of splitColumnDefinitions(render(tokens.slice(open + 1, close)))) {
      const column = columnDefinition(definition);
      properties[column.name] = column.field;
      if (column.identity) identities.push(column.identity);
    }
    const { options } = readWithOptions(tokens, close + 1);
    const dataset = await this.createDataset(name, properties, options, identities);
    return result(text, 'ddl', { message: `Created Table DataSet Id ${dataset.id}` });
  }

  private async runInsert(tokens: Token[], text: string): Promise<StatementResult> {
    const intoAt = wordsAt(tokens, 0, 'INSERT', 'INTO');
    if (intoAt === undefined) throw new RoundtripError('RT_QUERY_SYNTAX', 'Expected INSERT INTO.');
    this.requireWrite('INSERT');
    const { name, parts, end } = tableNameAt(tokens, intoAt);
    assertNotSystemTarget(name);
    const dataset = parts.length === 1 ? await this.datasetByTable(name) : undefined;
    if (!dataset) return this.runEngine(tokens, text, 'dml', false);
    let rest = tokens.slice(end);
    const asAt = nextSignificant(rest, 0);
    if (isWord(rest[asAt], 'AS')) rest = rest.slice(asAt + 1);
    const select = unwrapQuery(rest);
    const sql = render(await rewriteStatement(select, this.ctx.lookups));
    const outcome = await this.insertInto(dataset, `SELECT ${SYSTEM_COLUMNS_FILTER} FROM (${sql}\n) AS __source`);
    return result(text, 'itas', { rowCount: outcome.rowCount, message: `Inserted ${outcome.rowCount} rows into ${dataset.name} (snapshot ${outcome.snapshotId})` });
  }

  private async runDrop(tokens: Token[], text: string): Promise<StatementResult> {
    const sig = significant(tokens);
    const what = sig[1]?.text.toUpperCase();
    this.requireWrite(`DROP ${what ?? ''}`.trim());
    if (what === 'FIELDGROUP') return this.dropFieldGroup(sig, text);
    if (what === 'DATABASE' || what === 'SCHEMA') return this.dropDataGroup(sig, what, text);
    const tableAt = wordsAt(tokens, 0, 'DROP', 'TABLE');
    if (tableAt === undefined) return this.runEngine(tokens, text, 'ddl', false);
    let i = tableAt;
    const ifExists = wordsAt(tokens, i, 'IF', 'EXISTS');
    if (ifExists !== undefined) i = ifExists;
    const { name, parts } = tableNameAt(tokens, i);
    assertNotSystemTarget(name);
    const dataset = parts.length === 1 ? await this.datasetByTable(name) : undefined;
    if (!dataset) return this.runEngine(tokens, text, 'ddl', false);
    await this.ctx.datasets.delete(this.ctx.principal, this.ctx.sandbox, dataset.id);
    return result(text, 'ddl', { message: `Dropped table ${name} (dataset ${dataset.id})` });
  }

  private async runDml(tokens: Token[], text: string, first: string): Promise<StatementResult> {
    this.requireWrite(first);
    const sig = significant(tokens);
    const at = sig.findIndex((t, i) => i > 0 && (t.type === 'ident' || t.type === 'qident') && !isWord(t, 'FROM', 'TABLE') && !isWord(sig[i - 1], 'AS'));
    if (at >= 0) {
      // A qualified target (`main.t`) is judged by its table name.
      const { name } = tableNameAt(tokens, tokens.indexOf(sig[at]!));
      assertNotSystemTarget(name);
      if (await this.datasetByTable(name)) {
        throw new RoundtripError('RT_QUERY_UNSUPPORTED', `${first} on a dataset is not supported: datasets are append-only snapshots (use a privacy delete to erase a person).`);
      }
    }
    return this.runEngine(tokens, text, 'dml', false);
  }

  private async runAlterTable(tokens: Token[], text: string): Promise<StatementResult> {
    this.requireWrite('ALTER TABLE');
    const { name, parts, end } = tableNameAt(tokens, wordsAt(tokens, 0, 'ALTER', 'TABLE')!);
    assertNotSystemTarget(name);
    const keyAt = significant(tokens.slice(end)).map((t) => t.text.toUpperCase());
    // `ADD CONSTRAINT [name] FOREIGN KEY …` (the reference's spelling) is the same as `ADD FOREIGN KEY …`.
    const named = keyAt[1] === 'CONSTRAINT' ? (keyAt[2] === 'PRIMARY' || keyAt[2] === 'FOREIGN' ? 1 : 2) : 0;
    const keyWords = [keyAt[0], ...keyAt.slice(1 + named)];
    if (keyWords[0] === 'ADD' && (keyWords[1] === 'PRIMARY' || keyWords[1] === 'FOREIGN') && keyWords[2] === 'KEY' && !keyAt.includes('NAMESPACE')) {
      const rest = significant(tokens.slice(end));
      return this.addKeyConstraint(parts, [rest[0]!, ...rest.slice(1 + named)], text);
    }
    const dataset = await this.datasetByTable(name);
    if (!dataset) throw new RoundtripError('RT_DATASET_NOT_FOUND', `ALTER TABLE ${name}: no dataset has this table name.`);
    const rest = significant(tokens.slice(end));
    const action = rest[0]?.text.toUpperCase();
    const words = rest.map((t) => t.text.toUpperCase());
    if ((action === 'ADD' || action === 'DROP') && words[1] === 'LABEL') return this.alterLabel(dataset, action, rest[2], text);
    if ((action === 'ADD' || action === 'DROP') && words[1] === 'CONSTRAINT' && (words.includes('IDENTITY') || words.includes('NAMESPACE'))) {
      return this.alterIdentity(dataset, action, rest, text);
    }
    throw new RoundtripError('RT_QUERY_UNSUPPORTED', `ALTER TABLE … ${words.slice(0, 3).join(' ')} is not supported yet (primary and foreign keys come with the accelerated store).`);
  }

  /**
   * `ADD PRIMARY KEY (c) NOT ENFORCED` / `ADD FOREIGN KEY (c) REFERENCES t(c) NOT ENFORCED`: recorded, never
   * enforced (as in the reference), in the sandbox's `_rt_table_constraints` for data models and dashboards.
   */
  private async addKeyConstraint(parts: string[], rest: Token[], text: string): Promise<StatementResult> {
    const words = rest.map((t) => t.text.toUpperCase());
    if (!(words.includes('NOT') && words.includes('ENFORCED'))) {
      throw new RoundtripError('RT_QUERY_UNSUPPORTED', 'Keys are informational here: write … NOT ENFORCED.');
    }
    const columnsIn = (from: number): string[] => {
      const open = rest.findIndex((t, i) => i >= from && t.text === '(');
      const close = rest.findIndex((t, i) => i > open && t.text === ')');
      return rest.slice(open + 1, close).filter((t) => t.type === 'ident' || t.type === 'qident').map(identName);
    };
    const kind = words[1] === 'PRIMARY' ? 'PRIMARY KEY' : 'FOREIGN KEY';
    const columns = columnsIn(0);
    const refAt = words.indexOf('REFERENCES');
    const refParts: string[] = [];
    for (let i = refAt + 1; refAt >= 0 && i < rest.length && rest[i]!.text !== '('; i++) if (rest[i]!.text !== '.') refParts.push(identName(rest[i]!));
    const quoted = (p: string[]) => (p.length > 1 ? `"${p.slice(0, -1).join('.')}"."${p[p.length - 1]}"` : `"${p[0]}"`);
    // The table and columns must exist: the probe fails with DuckDB's own message when they do not.
    await this.ctx.session.query(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM ${quoted(parts)} LIMIT 0`);
    const refColumns = refAt >= 0 ? columnsIn(refAt) : [];
    if (refAt >= 0) await this.ctx.session.query(`SELECT ${refColumns.map((c) => `"${c}"`).join(', ')} FROM ${quoted(refParts)} LIMIT 0`);
    await this.ctx.session.query(
      `CREATE TABLE IF NOT EXISTS _rt_table_constraints (table_name VARCHAR, kind VARCHAR, columns VARCHAR[], ref_table VARCHAR, ref_columns VARCHAR[], created_at TIMESTAMPTZ)`,
    );
    await this.ctx.session.query(`INSERT INTO _rt_table_constraints VALUES ($t, $k, string_split($c, ','), $r, string_split(nullif($rc, ''), ','), now())`, {
      t: parts.join('.'),
      k: kind,
      c: columns.join(','),
      r: refAt >= 0 ? refParts.join('.') : null,
      rc: refColumns.join(','),
    });
    return result(text, 'ddl', { message: 'ALTER SUCCESS' });
  }

  private async alterLabel(dataset: DatasetRecord, action: string, labelToken: Token | undefined, text: string): Promise<StatementResult> {
    const label = (labelToken?.type === 'string' ? unquoteString(labelToken.text) : labelToken?.text ?? '').toUpperCase();
    if (label !== 'PROFILE' && label !== 'UPSERT') throw new RoundtripError('RT_QUERY_SYNTAX', `Labels are 'PROFILE' or 'UPSERT', not ${label || 'nothing'}.`);
    const on = action === 'ADD';
    const flags =
      label === 'PROFILE'
        ? { profileEnabled: on, identityEnabled: on || dataset.identityEnabled, upsert: on ? true : false }
        : { profileEnabled: dataset.profileEnabled, identityEnabled: dataset.identityEnabled, upsert: on };
    if (label === 'UPSERT' && on && !dataset.profileEnabled) throw new RoundtripError('RT_DATASET_UPSERT_NEEDS_PROFILE', 'ADD label UPSERT needs the PROFILE label first.');
    await this.ctx.metadata.datasets.setFlags(this.ctx.sandbox, dataset.id, flags);
    return result(text, 'ddl', { message: 'ALTER SUCCESS' });
  }

  private async alterIdentity(dataset: DatasetRecord, action: string, rest: Token[], text: string): Promise<StatementResult> {
    const words = rest.map((t) => t.text.toUpperCase());
    const primary = words.includes('PRIMARY');
    const open = rest.findIndex((t) => t.text === '(');
    const column = rest[open + 1];
    if (open < 0 || !column) throw new RoundtripError('RT_QUERY_SYNTAX', 'Name the column in parentheses: IDENTITY (column).');
    const path = identName(column);
    const nsToken = rest[words.indexOf('NAMESPACE') + 1];
    const namespace = nsToken?.type === 'string' ? unquoteString(nsToken.text) : undefined;
    const current = await this.ctx.registry.getResolved(this.ctx.sandbox, dataset.schemaId);
    const kept = current['meta:identities'].filter((d) => d.path !== path);
    if (action === 'ADD' && !namespace) throw new RoundtripError('RT_QUERY_SYNTAX', "A namespace is mandatory: … NAMESPACE 'Email'.");
    const identities = action === 'ADD' ? [...kept, { path, namespace: namespace!, ...(primary ? { primary: true } : {}) }] : kept;
    await this.updateSchema(current, identities);
    return result(text, 'ddl', { message: 'ALTER SUCCESS' });
  }

  private async updateSchema(current: ResolvedSchema, identities: IdentityDescriptor[]): Promise<void> {
    const view = await this.ctx.registry.getSchema(this.ctx.sandbox, current.$id.split('/').pop()!);
    const definition = view.definition as { title: string; class: 'profile' | 'experienceevent' | 'adhoc'; fieldGroups?: string[]; fields?: Properties; rootFields?: Properties };
    await this.ctx.registry.updateSchema(
      this.ctx.principal,
      this.ctx.sandbox,
      view.id,
      { title: definition.title, class: definition.class, ...(definition.fieldGroups ? { fieldGroups: definition.fieldGroups } : {}), ...(definition.fields ? { fields: definition.fields } : {}), identities },
      definition.rootFields ? { rootFields: definition.rootFields } : {},
    );
  }

  /** `CREATE DATABASE d` and `CREATE SCHEMA d.s`: DuckDB schemas `"d"` and `"d.s"` in the sandbox's database. */
  private async createDataGroup(tokens: Token[], what: string, text: string): Promise<StatementResult> {
    this.requireWrite(`CREATE ${what}`);
    let i = wordsAt(tokens, 0, 'CREATE', what)!;
    const ifNotExists = wordsAt(tokens, i, 'IF', 'NOT', 'EXISTS');
    if (ifNotExists !== undefined) i = ifNotExists;
    const { parts, end } = tableNameAt(tokens, i);
    const schema = parts.join('.');
    await this.ctx.session.query(`CREATE SCHEMA IF NOT EXISTS "${schema.replace(/"/g, '""')}"`);
    const { options } = readWithOptions(tokens, end);
    if (what === 'DATABASE' && options.get('type')?.toUpperCase() === 'QSACCEL') await registerAcceleratedDatabase(this.ctx.session, schema, options.get('account') ?? null);
    return result(text, 'ddl', { message: `Created ${what.toLowerCase()} ${schema}` });
  }

  private async dropDataGroup(sig: Token[], what: string, text: string): Promise<StatementResult> {
    const names = sig.slice(2).filter((t) => t.type === 'ident' || t.type === 'qident').map(identName).filter((n) => !/^(IF|EXISTS|CASCADE|RESTRICT)$/i.test(n));
    const schema = names.join('.');
    const cascade = sig.some((t) => isWord(t, 'CASCADE')) || what === 'DATABASE';
    const inside = what === 'DATABASE' ? await this.ctx.session.query(`SELECT schema_name FROM duckdb_schemas() WHERE starts_with(schema_name, $p)`, { p: `${schema}.` }) : { rows: [] };
    for (const row of inside.rows) await this.ctx.session.query(`DROP SCHEMA IF EXISTS "${(row.schema_name as string).replace(/"/g, '""')}" CASCADE`);
    await this.ctx.session.query(`DROP SCHEMA IF EXISTS "${schema.replace(/"/g, '""')}"${cascade ? ' CASCADE' : ''}`);
    if (what === 'DATABASE') await forgetAcceleratedDatabase(this.ctx.session, schema);
    return result(text, 'ddl', { message: `Dropped ${what.toLowerCase()} ${schema}` });
  }

  private async dropFieldGroup(sig: Token[], text: string): Promise<StatementResult> {
    const ifExists = isWord(sig[2], 'IF') && isWord(sig[3], 'EXISTS');
    const id = identName(sig[ifExists ? 4 : 2]!);
    const exists = (await this.ctx.registry.listFieldGroups(this.ctx.sandbox)).some((g) => g.id === id && !g.standard);
    if (!exists && ifExists) return result(text, 'ddl', { message: `Field group ${id} does not exist; nothing was dropped.` });
    await this.ctx.registry.deleteFieldGroup(this.ctx.principal, this.ctx.sandbox, id);
    return result(text, 'ddl', { message: `Dropped field group ${id}` });
  }

  private async createFieldGroup(tokens: Token[], text: string): Promise<StatementResult> {
    this.requireWrite('CREATE FIELDGROUP');
    const sig = significant(tokens);
    let i = 2;
    const ifNotExists = isWord(sig[2], 'IF') && isWord(sig[3], 'NOT') && isWord(sig[4], 'EXISTS');
    if (ifNotExists) i = 5;
    const id = identName(sig[i]!);
    const openIndex = tokens.indexOf(sig[i + 1]!);
    if (sig[i + 1]?.text !== '(') throw new RoundtripError('RT_QUERY_SYNTAX', 'CREATE FIELDGROUP name (field type, …) WITH (LABEL=\'PROFILE\').');
    const close = closingParen(tokens, openIndex);
    const label = /LABEL\s*[-=]\s*'PROFILE'/i.test(render(tokens.slice(close + 1)));
    if (!label) throw new RoundtripError('RT_QUERY_SYNTAX', "CREATE FIELDGROUP needs WITH (LABEL='PROFILE').");
    if ((await this.ctx.registry.listFieldGroups(this.ctx.sandbox)).some((g) => g.id === id)) {
      if (ifNotExists) return result(text, 'ddl', { message: `Field group ${id} exists; nothing was created.` });
      throw new RoundtripError('RT_FIELD_GROUP_EXISTS', `Field group "${id}" already exists.`);
    }
    const fields: Record<string, FieldDefinition> = {};
    for (const definition of splitColumnDefinitions(render(tokens.slice(openIndex + 1, close)))) {
      const column = columnDefinition(definition);
      fields[column.name] = column.field;
    }
    await this.ctx.registry.createFieldGroup(this.ctx.principal, this.ctx.sandbox, { id, title: id, class: 'profile', fields });
    return result(text, 'ddl', { message: `Created field group ${id}` });
  }
}
