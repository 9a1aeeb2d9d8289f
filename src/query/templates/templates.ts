/**
 * Query templates (reference §6.3): saved, named SQL with `$NAME` placeholders and their default values. A
 * template runs through the query service like any query; schedules run templates with persisted values.
 * Templates a schedule uses cannot be deleted, so a schedule never loses its SQL.
 */
import type { AuditLog } from '../../access/audit.ts';
import type { Principal } from '../../access/principal.ts';
import { isoNow, type Clock } from '../../core/clock.ts';
import { RoundtripError } from '../../core/errors.ts';
import { newId } from '../../core/ids.ts';
import type { MetadataStore, QueryTemplateRecord } from '../../ports/metadata-store.ts';
import type { QueryOptions, QueryOutcome } from '../types.ts';
import { listPage, type ListParams, type Page } from './listing.ts';
import { asParams, mergeParams, placeholders } from './parameters.ts';
import type { TemplateInput, TemplateRunInput, TemplateViewT } from './payloads.ts';

/** The query service's entry point, injected so that tests can use a fake and the platform the real one. */
export type ExecuteQuery = (principal: Principal, sandbox: string, sql: string, options: QueryOptions) => Promise<QueryOutcome>;

export interface TemplateDeps {
  metadata: MetadataStore;
  audit: AuditLog;
  clock: Clock;
  execute: ExecuteQuery;
}

export interface TemplateRunResult extends QueryOutcome {
  templateId: string;
}

const SORT_FIELDS: Record<string, (t: QueryTemplateRecord) => string> = {
  created: (t) => t.createdAt,
  updated: (t) => t.updatedAt,
  name: (t) => t.name,
  userId: (t) => t.createdBy,
};

export class QueryTemplates {
  constructor(private readonly deps: TemplateDeps) {}

  async create(actor: Principal, sandbox: string, input: TemplateInput): Promise<QueryTemplateRecord> {
    placeholders(input.sql); // refuses SQL that cannot even be tokenised
    const at = isoNow(this.deps.clock);
    const record: QueryTemplateRecord = {
      sandbox,
      id: newId('tpl'),
      name: input.name,
      sql: input.sql,
      queryParameters: input.queryParameters ?? {},
      createdBy: actor.id,
      createdAt: at,
      updatedBy: actor.id,
      updatedAt: at,
    };
    await this.deps.metadata.queryTemplates.create(record);
    await this.deps.audit.record(actor, { sandbox, action: 'template.create', resourceType: 'query-template', resourceId: record.id, details: { name: record.name } });
    return record;
  }

  async list(sandbox: string, params: ListParams): Promise<Page<QueryTemplateRecord>> {
    return listPage(await this.deps.metadata.queryTemplates.list(sandbox), params, SORT_FIELDS);
  }

  async get(sandbox: string, id: string): Promise<QueryTemplateRecord> {
    const found = await this.deps.metadata.queryTemplates.get(sandbox, id);
    if (!found) throw new RoundtripError('RT_TEMPLATE_NOT_FOUND', `Query template "${id}" does not exist in this sandbox; \`roundtrip template list\` shows them.`);
    return found;
  }

  /** PUT semantics: sql and name are both required and the template is overwritten (parameters too). */
  async update(actor: Principal, sandbox: string, id: string, input: TemplateInput): Promise<QueryTemplateRecord> {
    const current = await this.get(sandbox, id);
    placeholders(input.sql);
    const changes = { name: input.name, sql: input.sql, queryParameters: input.queryParameters ?? {}, updatedBy: actor.id, updatedAt: isoNow(this.deps.clock) };
    await this.deps.metadata.queryTemplates.update(sandbox, id, changes);
    await this.deps.audit.record(actor, { sandbox, action: 'template.update', resourceType: 'query-template', resourceId: id, details: { name: input.name } });
    return { ...current, ...changes };
  }

  async delete(actor: Principal, sandbox: string, id: string): Promise<void> {
    await this.get(sandbox, id);
    const schedules = await this.deps.metadata.querySchedules.usingTemplate(sandbox, id);
    if (schedules.length) {
      throw new RoundtripError('RT_TEMPLATE_IN_USE', `Query template "${id}" is run by ${schedules.length} schedule(s); delete them first.`, { schedules });
    }
    await this.deps.metadata.queryTemplates.delete(sandbox, id);
    await this.deps.audit.record(actor, { sandbox, action: 'template.delete', resourceType: 'query-template', resourceId: id });
  }

  /** Runs with the template's defaults overridden by the given values; a placeholder left without one refuses the run. */
  async run(actor: Principal, sandbox: string, id: string, input: TemplateRunInput = {}): Promise<TemplateRunResult> {
    const template = await this.get(sandbox, id);
    const params = mergeParams(asParams(template.queryParameters), input.queryParameters);
    const options: QueryOptions = { params, client: 'api', executionClass: 'adhoc', label: `template ${id}` };
    if (input.limit !== undefined) options.maxRows = input.limit;
    const outcome = await this.deps.execute(actor, sandbox, template.sql, options);
    return { templateId: id, ...outcome };
  }

  view(t: QueryTemplateRecord): TemplateViewT {
    let parameters: string[];
    try {
      parameters = placeholders(t.sql);
    } catch {
      parameters = [];
    }
    const self = `/query-templates/${t.id}`;
    return {
      id: t.id,
      name: t.name,
      sql: t.sql,
      queryParameters: asParams(t.queryParameters),
      parameters,
      userId: t.createdBy,
      lastUpdatedBy: t.updatedBy,
      created: t.createdAt,
      updated: t.updatedAt,
      _links: { self: { href: self }, update: { href: self, method: 'PUT' }, delete: { href: self, method: 'DELETE' }, run: { href: `${self}/run`, method: 'POST' } },
    };
  }
}
