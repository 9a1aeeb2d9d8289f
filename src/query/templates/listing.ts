/**
 * List parameters of the query-template and schedule APIs, as the reference spells them: `orderby=-created`,
 * `limit` (default 20), `start` (an offset) and `property=name==x,userId==y` filters with `==`, `!=`, `>`, `<`,
 * `>=`, `<=` and `~` (contains, case-insensitive). Lists are small per sandbox, so filtering and paging happen
 * here, the same way on SQLite and PostgreSQL.
 */
import { Type, type Static } from 'typebox';
import { RoundtripError } from '../../core/errors.ts';

export const ListQuery = Type.Object(
  {
    orderby: Type.Optional(Type.String({ description: 'Field to sort by; `-` in front sorts descending (default `-created`)' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 20 })),
    start: Type.Optional(Type.Integer({ minimum: 0, description: 'How many items to skip' })),
    property: Type.Optional(Type.String({ description: 'Filters `field==value`, comma-separated; ops ==, !=, >, <, >=, <=, ~ (contains)' })),
  },
  { additionalProperties: false },
);
export type ListParams = Static<typeof ListQuery>;

export const PageView = Type.Object({
  orderby: Type.String(),
  start: Type.Integer(),
  limit: Type.Integer(),
  count: Type.Integer({ description: 'Items in this page' }),
  total: Type.Integer({ description: 'Items matching the filters' }),
});

export interface Page<T> {
  items: T[];
  page: Static<typeof PageView>;
}

type Op = '==' | '!=' | '>=' | '<=' | '>' | '<' | '~';
interface Filter {
  field: string;
  op: Op;
  value: string;
}

const OPS: readonly Op[] = ['==', '!=', '>=', '<=', '~', '>', '<'];

function parseFilters(property: string | undefined, fields: readonly string[]): Filter[] {
  if (!property) return [];
  return property.split(',').map((part) => {
    const op = OPS.map((o) => ({ o, at: part.indexOf(o) }))
      .filter((c) => c.at > 0)
      .sort((a, b) => a.at - b.at || b.o.length - a.o.length)[0];
    if (!op) throw new RoundtripError('RT_REQUEST_INVALID', `property "${part}" needs an operator (==, !=, >, <, >=, <=, ~).`);
    const field = part.slice(0, op.at).trim();
    if (!fields.includes(field)) throw new RoundtripError('RT_REQUEST_INVALID', `property "${field}" is not one of ${fields.join(', ')}.`);
    return { field, op: op.o, value: part.slice(op.at + op.o.length).trim() };
  });
}

function matches(actual: string, f: Filter): boolean {
  switch (f.op) {
    case '==':
      return actual === f.value;
    case '!=':
      return actual !== f.value;
    case '>':
      return actual > f.value;
    case '<':
      return actual < f.value;
    case '>=':
      return actual >= f.value;
    case '<=':
      return actual <= f.value;
    case '~':
      return actual.toLowerCase().includes(f.value.toLowerCase());
  }
}

/**
 * Filters, sorts and pages `items`. `fields` maps each filterable and sortable field name to its value
 * (as text: ISO timestamps compare correctly as strings).
 */
export function listPage<T>(items: readonly T[], params: ListParams, fields: Record<string, (item: T) => string | null>): Page<T> {
  const names = Object.keys(fields);
  const filters = parseFilters(params.property, names);
  // `+created` arrives as ` created` once the query string is decoded.
  const orderby = (params.orderby ?? '-created').trim();
  const descending = orderby.startsWith('-');
  const key = orderby.replace(/^[-+]/, '');
  const value = fields[key];
  if (!value) throw new RoundtripError('RT_REQUEST_INVALID', `orderby "${key}" is not one of ${names.join(', ')}.`);
  const filtered = items.filter((item) => filters.every((f) => matches(fields[f.field]!(item) ?? '', f)));
  const sorted = [...filtered].sort((a, b) => {
    const x = value(a) ?? '';
    const y = value(b) ?? '';
    const cmp = x < y ? -1 : x > y ? 1 : 0;
    return descending ? -cmp : cmp;
  });
  const start = params.start ?? 0;
  const limit = params.limit ?? 20;
  const pageItems = sorted.slice(start, start + limit);
  return { items: pageItems, page: { orderby: `${descending ? '-' : ''}${key}`, start, limit, count: pageItems.length, total: filtered.length } };
}

/** The `_links.next` of a page, when there is one. */
export function nextLink(base: string, params: ListParams, page: Page<unknown>['page']): { next?: { href: string } } {
  if (page.start + page.count >= page.total) return {};
  const query = new URLSearchParams({ orderby: page.orderby, start: String(page.start + page.count), limit: String(page.limit) });
  if (params.property) query.set('property', params.property);
  return { next: { href: `${base}?${query.toString()}` } };
}
