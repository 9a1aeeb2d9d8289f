/**
 * The guided widget compiler: a data model, a starting table and attributes in roles (X, Y with an
 * aggregation, Color, Filter, the date_key filter) become one SELECT. Dimension tables are joined through the
 * model's foreign keys, following only many-to-one edges (from the referencing table to the referenced one) so a
 * join never multiplies fact rows, and only the tables on the paths to attributes actually used. Grouping and
 * ordering always name every group key, so the same widget gives the same rows in the same order.
 */
import { RoundtripError } from '../core/errors.ts';
import type { DataModel, ModelForeignKey, ModelTable } from './insights-port.ts';
import type { Aggregation, GuidedT } from './payloads.ts';
import { ident, literal, membership, qualified } from './sql-text.ts';

export interface CompiledGuided {
  sql: string;
  /** Result column names per role, for the chart. */
  roles: { x: string; y: string; color?: string };
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|REAL|DOUBLE|DECIMAL|NUMERIC|INT\d|FLOAT\d)/i;

function invalid(message: string, details?: Record<string, unknown>): RoundtripError {
  return new RoundtripError('RT_DASHBOARD_WIDGET_INVALID', message, details);
}

export function shortName(table: string): string {
  return table.slice(table.lastIndexOf('.') + 1);
}

export function findTable(model: DataModel, name: string): ModelTable | undefined {
  const lower = name.toLowerCase();
  return model.tables.find((t) => t.name.toLowerCase() === lower) ?? model.tables.find((t) => shortName(t.name).toLowerCase() === lower);
}

interface Edge {
  from: ModelTable;
  fk: ModelForeignKey;
  to: ModelTable;
}

/** Breadth-first over foreign keys from the base table: the edge that first reaches each table, in FK order. */
function reachable(model: DataModel, base: ModelTable): Map<ModelTable, Edge | null> {
  const seen = new Map<ModelTable, Edge | null>([[base, null]]);
  const queue = [base];
  while (queue.length) {
    const from = queue.shift()!;
    for (const fk of from.foreignKeys ?? []) {
      const to = findTable(model, fk.references.table);
      if (!to || seen.has(to)) continue;
      seen.set(to, { from, fk, to });
      queue.push(to);
    }
  }
  return seen;
}

interface Resolved {
  table: ModelTable;
  column: string;
  type: string;
}

class Scope {
  readonly reach: Map<ModelTable, Edge | null>;
  readonly aliases = new Map<ModelTable, string>();
  private readonly used = new Set<ModelTable>();

  constructor(
    private readonly model: DataModel,
    readonly base: ModelTable,
  ) {
    this.reach = reachable(model, base);
    const taken = new Set<string>();
    for (const table of this.reach.keys()) {
      let alias = shortName(table.name);
      for (let i = 2; taken.has(alias.toLowerCase()); i++) alias = `${shortName(table.name)}_${i}`;
      taken.add(alias.toLowerCase());
      this.aliases.set(table, alias);
    }
    this.used.add(base);
  }

  /** `column` (base table first, else the one reachable table that has it) or `table.column`. */
  resolve(attribute: string): Resolved {
    const dot = attribute.lastIndexOf('.');
    const column = attribute.slice(dot + 1);
    let candidates: ModelTable[];
    if (dot >= 0) {
      const table = findTable(this.model, attribute.slice(0, dot));
      if (!table) throw invalid(`The model "${this.model.name}" has no table "${attribute.slice(0, dot)}".`, { attribute });
      if (!this.reach.has(table)) {
        throw invalid(`"${shortName(table.name)}" cannot be joined to "${shortName(this.base.name)}": no foreign-key path from the widget's table leads to it.`, { attribute });
      }
      candidates = [table];
    } else {
      candidates = hasColumn(this.base, column) ? [this.base] : [...this.reach.keys()].filter((t) => hasColumn(t, column));
    }
    const found = candidates.filter((t) => hasColumn(t, column));
    if (found.length === 0) throw invalid(`No table the widget can reach has an attribute "${attribute}".`, { attribute, tables: [...this.reach.keys()].map((t) => shortName(t.name)) });
    if (found.length > 1) throw invalid(`"${attribute}" is in several joined tables (${found.map((t) => shortName(t.name)).join(', ')}); write it as table.column.`, { attribute });
    const table = found[0]!;
    this.used.add(table);
    const col = table.columns.find((c) => c.name.toLowerCase() === column.toLowerCase())!;
    return { table, column: col.name, type: col.type };
  }

  ref(r: Resolved): string {
    return `${ident(this.aliases.get(r.table)!)}.${ident(r.column)}`;
  }

  /** JOIN clauses for the tables used and those on their paths, in the order the search reached them. */
  joins(): string[] {
    const needed = new Set<ModelTable>();
    for (const table of this.used) {
      for (let t: ModelTable | undefined = table; t && t !== this.base; t = this.reach.get(t)?.from) needed.add(t);
    }
    const lines: string[] = [];
    for (const [table, edge] of this.reach) {
      if (!edge || !needed.has(table)) continue;
      const on = edge.fk.columns.map((c, i) => `${ident(this.aliases.get(table)!)}.${ident(edge.fk.references.columns[i] ?? c)} = ${ident(this.aliases.get(edge.from)!)}.${ident(c)}`);
      lines.push(`LEFT OUTER JOIN ${qualified(table.name)} AS ${ident(this.aliases.get(table)!)} ON ${on.join(' AND ')}`);
    }
    return lines;
  }
}

function hasColumn(table: ModelTable, column: string): boolean {
  return table.columns.some((c) => c.name.toLowerCase() === column.toLowerCase());
}

function aggregate(aggregation: Aggregation, ref: string): string {
  return aggregation === 'count_distinct' ? `count(DISTINCT ${ref})` : `${aggregation}(${ref})`;
}

/** Result column names: the attribute's column, or table_column when two roles would share a name. */
function aliasFor(r: Resolved, taken: Set<string>): string {
  let alias = r.column;
  if (taken.has(alias.toLowerCase())) alias = `${shortName(r.table.name)}_${r.column}`;
  taken.add(alias.toLowerCase());
  return alias;
}

export function compileGuided(model: DataModel, spec: GuidedT): CompiledGuided {
  const base = findTable(model, spec.table);
  if (!base) throw invalid(`The model "${model.name}" has no table "${spec.table}".`, { tables: model.tables.map((t) => shortName(t.name)) });
  const scope = new Scope(model, base);

  const x = scope.resolve(spec.x);
  const color = spec.color === undefined ? undefined : scope.resolve(spec.color);
  if (color && color.table === x.table && color.column === x.column) throw invalid('Color must be another attribute than X.');
  const y = scope.resolve(spec.y.attribute);
  const aggregation: Aggregation = spec.y.aggregation ?? (NUMERIC.test(y.type) ? 'sum' : 'count');
  if ((aggregation === 'sum' || aggregation === 'avg') && !NUMERIC.test(y.type)) {
    throw invalid(`${aggregation} needs a numeric attribute; "${spec.y.attribute}" is ${y.type}. Use count, count_distinct, min or max.`);
  }

  const taken = new Set<string>();
  const xAlias = aliasFor(x, taken);
  const colorAlias = color ? aliasFor(color, taken) : undefined;
  let yAlias = `${aggregation}_${y.column}`;
  if (taken.has(yAlias.toLowerCase())) yAlias = `${aggregation}_${shortName(y.table.name)}_${y.column}`;

  const groups = [{ ref: scope.ref(x), alias: xAlias }, ...(color ? [{ ref: scope.ref(color), alias: colorAlias! }] : [])];
  const select = [...groups.map((g) => `${g.ref} AS ${ident(g.alias)}`), `${aggregate(aggregation, scope.ref(y))} AS ${ident(yAlias)}`];

  const where: string[] = [];
  if (spec.dateFilter) {
    const date = scope.resolve(spec.dateFilter.attribute ?? 'date_key');
    if (spec.dateFilter.mode === 'recent') {
      where.push(`${scope.ref(date)} = (SELECT max(${ident(date.column)}) FROM ${qualified(date.table.name)})`);
    } else {
      if (!spec.dateFilter.dates?.length) throw invalid('A date filter in `dates` mode needs the chosen dates.');
      where.push(`${scope.ref(date)} IN (${[...new Set(spec.dateFilter.dates)].sort().map(literal).join(', ')})`);
    }
  }
  for (const f of spec.filters ?? []) {
    const r = scope.resolve(f.attribute);
    if (!f.include && !f.exclude) throw invalid(`The filter on "${f.attribute}" needs include or exclude values.`);
    if (f.include) where.push(membership(scope.ref(r), f.include, false));
    if (f.exclude) where.push(membership(scope.ref(r), f.exclude, true));
  }

  const keys = groups.map((g) => ident(g.alias));
  const sort = spec.sort ?? { by: 'x', direction: 'asc' };
  const dir = sort.direction === 'desc' ? ' DESC' : '';
  const order = sort.by === 'y' ? [`${ident(yAlias)}${dir}`, ...keys] : [`${keys[0]}${dir}`, ...keys.slice(1)];

  const lines = [`SELECT ${select.join(', ')}`, `FROM ${qualified(base.name)} AS ${ident(scope.aliases.get(base)!)}`, ...scope.joins()];
  if (where.length) lines.push(`WHERE ${where.join('\n  AND ')}`);
  lines.push(`GROUP BY ${groups.map((g) => g.ref).join(', ')}`, `ORDER BY ${order.join(', ')}`);
  if (spec.limit !== undefined) lines.push(`LIMIT ${spec.limit}`);
  return { sql: lines.join('\n'), roles: { x: xAlias, y: yAlias, ...(colorAlias ? { color: colorAlias } : {}) } };
}
