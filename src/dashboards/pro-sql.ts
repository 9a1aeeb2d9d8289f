/**
 * Query pro mode SQL (reference §9): the date filter's `$START_DATE` / `$END_DATE` and the global filters a
 * widget links. Dates are checked as YYYY-MM-DD before they are put in (the reference writes them inside quotes,
 * `'$START_DATE'`); filter values go in as SQL literals. A link either names a result column (the widget's rows
 * are kept when that column is one of the chosen values) or a `$PARAM` of the SQL (replaced by the literal list,
 * or NULL when nothing is chosen, as in the reference's `Coalesce($consent_value_filter, '')` pattern).
 */
import { RoundtripError } from '../core/errors.ts';
import type { JsonValue } from '../ports/warehouse.ts';
import type { DateRangeT, GlobalFilterT, QueryProT } from './payloads.ts';
import { ident, literal, membership } from './sql-text.ts';

export type FilterValues = Record<string, JsonValue[]>;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

function checkDate(value: string, name: string): string {
  if (!ISO_DATE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new RoundtripError('RT_REQUEST_INVALID', `${name} must be a date, YYYY-MM-DD.`, { [name]: value });
  }
  return value;
}

export function usesDates(sql: string): boolean {
  return /\$(START|END)_DATE\b/i.test(sql);
}

export function substituteDates(sql: string, range: DateRangeT): string {
  const start = checkDate(range.start, 'start');
  const end = checkDate(range.end, 'end');
  if (start > end) throw new RoundtripError('RT_REQUEST_INVALID', `The date range starts (${start}) after it ends (${end}).`);
  return sql.replace(/\$START_DATE\b/gi, start).replace(/\$END_DATE\b/gi, end);
}

/** Strips a trailing semicolon so the SQL can be wrapped as a subquery. */
function bare(sql: string): string {
  return sql.trim().replace(/;\s*$/, '');
}

/** Applies the widget's filter links with the chosen values; filters with no chosen values do not filter. */
export function applyFilterLinks(sql: string, spec: QueryProT, filters: readonly GlobalFilterT[], values: FilterValues): string {
  let out = bare(sql);
  const conditions: string[] = [];
  for (const link of spec.filterLinks ?? []) {
    if (!filters.some((f) => f.id === link.filterId)) {
      throw new RoundtripError('RT_DASHBOARD_FILTER_INVALID', `The widget links filter "${link.filterId}", which the dashboard does not have.`, { filterId: link.filterId });
    }
    const chosen = values[link.filterId] ?? [];
    if (link.param) {
      const name = link.param.replace(/^\$/, '');
      const pattern = new RegExp(`\\$${name}\\b`, 'gi');
      if (!pattern.test(out)) throw new RoundtripError('RT_DASHBOARD_FILTER_INVALID', `The widget SQL has no $${name} for filter "${link.filterId}".`);
      out = out.replace(pattern, chosen.length ? chosen.map(literal).join(', ') : 'NULL');
    }
    if (link.column && chosen.length) conditions.push(membership(`w.${ident(link.column)}`, chosen, false));
    if (!link.param && !link.column) throw new RoundtripError('RT_DASHBOARD_FILTER_INVALID', `The link to filter "${link.filterId}" needs a column or a param.`);
  }
  return conditions.length ? `SELECT * FROM (\n${out}\n) AS w\nWHERE ${conditions.join(' AND ')}` : out;
}

/** The chosen values: the request's (a JSON object of arrays) over the dashboard's defaults. */
export function chosenValues(filters: readonly GlobalFilterT[], requested: FilterValues | string | undefined): FilterValues {
  let parsed: unknown = requested ?? {};
  if (typeof requested === 'string') {
    try {
      parsed = JSON.parse(requested);
    } catch {
      throw new RoundtripError('RT_DASHBOARD_FILTER_INVALID', '`filters` must be a JSON object: filter id → array of values.');
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => !Array.isArray(v))) {
    throw new RoundtripError('RT_DASHBOARD_FILTER_INVALID', '`filters` must be a JSON object: filter id → array of values.');
  }
  const out: FilterValues = {};
  for (const f of filters) if (f.selected?.length) out[f.id] = f.selected;
  for (const [id, chosen] of Object.entries(parsed as FilterValues)) {
    if (!filters.some((f) => f.id === id)) throw new RoundtripError('RT_DASHBOARD_FILTER_INVALID', `The dashboard has no filter "${id}".`, { filterId: id });
    out[id] = chosen;
  }
  return out;
}
