/**
 * Segment definitions in the reference's API shape (§10.3), kept as `segment-definition` documents in the
 * metadata store. A PQL definition is parsed and analysed on every save, so a definition that cannot be read
 * is refused (RT_PQL_SYNTAX with line and column → 400), its `inSegment` dependencies must exist and form no
 * cycle, and streaming (`continuous`) or edge (`synchronous`) evaluation is refused with the eligibility
 * checker's reasons when the expression does not qualify. External audiences (uploaded lists) are
 * definitions without an expression.
 */
import { randomUUID } from 'node:crypto';
import type { AuditLog } from '../access/audit.ts';
import type { Principal } from '../access/principal.ts';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import type { MergePolicies } from '../profile/merge-policies.ts';
import type { DocumentRecord, MetadataStore } from '../ports/metadata-store.ts';
import type { JsonValue } from '../ports/warehouse.ts';
import { invalid, prepare, type Eligibility, type Prepared, type SegmentInfo } from './engine.ts';
import type { EvaluationMethod } from './eligibility.ts';
import type { DefinitionInput, DefinitionPatchT, DefinitionViewT, EvaluationInfoT } from './payloads.ts';

export const DEFINITION_KIND = 'segment-definition';

/** What is stored per definition (the document body). */
export interface DefinitionDoc {
  name: string;
  description: string;
  origin: 'pql' | 'external';
  /** PQL text; null for external audiences. */
  pql: string | null;
  evaluationInfo: { batch: boolean; continuous: boolean; synchronous: boolean };
  mergePolicyId: string;
  dependencies: string[];
  lookbackDays: number | null;
  eligibility: Eligibility | null;
  /** External audiences: the identity namespace of the uploaded values. */
  namespace?: string;
}

export type Definition = DocumentRecord<DefinitionDoc & { [key: string]: JsonValue }>;

const ms = (iso: string): number => Date.parse(iso);

export function definitionView(d: Definition): DefinitionViewT {
  const b = d.body;
  return {
    id: d.id,
    name: b.name,
    description: b.description,
    origin: b.origin,
    expression: b.pql === null ? null : { type: 'PQL', format: 'pql/text', value: b.pql },
    evaluationInfo: { batch: { enabled: b.evaluationInfo.batch }, continuous: { enabled: b.evaluationInfo.continuous }, synchronous: { enabled: b.evaluationInfo.synchronous } },
    mergePolicyId: b.mergePolicyId,
    schema: { name: '_xdm.context.profile' },
    profileInstanceId: 'ups',
    sandbox: { sandboxName: d.sandbox },
    dataGovernancePolicy: { excludeOptOut: true },
    ttlInDays: 30,
    eligibility: b.eligibility,
    dependencies: b.dependencies,
    lookbackDays: b.lookbackDays,
    creationTime: ms(d.createdAt),
    updateTime: ms(d.updatedAt),
    updateEpoch: Math.floor(ms(d.updatedAt) / 1000),
  };
}

const flags = (info: EvaluationInfoT | undefined, base = { batch: true, continuous: false, synchronous: false }) => ({
  batch: info?.batch?.enabled ?? base.batch,
  continuous: info?.continuous?.enabled ?? base.continuous,
  synchronous: info?.synchronous?.enabled ?? base.synchronous,
});

export class SegmentDefinitions {
  /** Parsed definitions by sandbox/id@version: parsing is cheap, but streaming prepares on every event. */
  private readonly cache = new Map<string, Prepared>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly policies: MergePolicies,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    /** Told after every create, update and delete (the streaming evaluator re-reads its segments). */
    private readonly changed: (sandbox: string) => void = () => undefined,
  ) {}

  async list(sandbox: string, limit = 1000): Promise<Definition[]> {
    return (await this.metadata.documents.list<DefinitionDoc & { [key: string]: JsonValue }>(sandbox, DEFINITION_KIND, { limit }));
  }

  async get(sandbox: string, id: string): Promise<Definition> {
    const found = await this.metadata.documents.get<DefinitionDoc & { [key: string]: JsonValue }>(sandbox, DEFINITION_KIND, id);
    if (!found) throw new RoundtripError('RT_SEGMENT_NOT_FOUND', `No segment definition has the id "${id}" in sandbox ${sandbox}.`, { id });
    return found;
  }

  /** The parsed and analysed form of a stored PQL definition (cached per version). */
  async prepared(sandbox: string, definition: Definition): Promise<Prepared> {
    if (definition.body.pql === null) throw invalid(`"${definition.body.name}" is an external audience: it has no expression to evaluate.`, { id: definition.id });
    const key = `${sandbox}/${definition.id}@${definition.version}`;
    let found = this.cache.get(key);
    if (!found) {
      const all = new Map((await this.list(sandbox)).map((d) => [d.id, d]));
      found = this.prepareWith(definition.body.pql, all, definition.id);
      this.cache.set(key, found);
    }
    return found;
  }

  /** Parses the text; dependencies must exist and not lead back to `selfId`. */
  private prepareWith(pql: string, all: ReadonlyMap<string, Definition>, selfId?: string): Prepared {
    const lookup = (id: string): SegmentInfo | undefined => {
      const d = all.get(id);
      if (!d || id === selfId) return undefined;
      const info = d.body.evaluationInfo;
      const methods: EvaluationMethod[] = [...(info.batch ? ['batch' as const] : []), ...(info.continuous ? ['streaming' as const] : []), ...(info.synchronous ? ['edge' as const] : [])];
      if (d.body.pql === null) return { methods, external: true };
      try {
        return { methods, external: false, features: prepare(d.body.pql).features };
      } catch {
        return { methods, external: false };
      }
    };
    const prepared = prepare(pql, lookup);
    const missing = prepared.dependencies.filter((id) => !all.has(id));
    if (missing.length) throw invalid(`inSegment names segments that do not exist: ${missing.join(', ')}.`, { missing });
    if (selfId) {
      const cycle = findCycle(selfId, prepared.dependencies, all);
      if (cycle) throw invalid(`inSegment makes a cycle: ${cycle.join(' → ')}; a segment cannot depend on itself.`, { cycle });
    }
    return prepared;
  }

  /** Refuses streaming or edge evaluation the expression is not eligible for, with the checker's reasons. */
  private checkMethods(info: DefinitionDoc['evaluationInfo'], eligibility: Eligibility): void {
    const refuse = (method: 'streaming' | 'edge', field: string) => {
      const e = eligibility[method];
      if (!e.eligible) {
        throw new RoundtripError('RT_SEGMENT_NOT_ELIGIBLE', `This audience cannot be evaluated by ${method} (evaluationInfo.${field}): ${e.reasons.map((r) => r.message).join('; ')}. Use batch evaluation.`, {
          method,
          reasons: e.reasons,
        });
      }
    };
    if (info.continuous) refuse('streaming', 'continuous');
    if (info.synchronous) refuse('edge', 'synchronous');
  }

  async create(actor: Principal, sandbox: string, input: DefinitionInput): Promise<Definition> {
    const policy = await this.policies.resolve(sandbox, input.mergePolicyId);
    const all = new Map((await this.list(sandbox)).map((d) => [d.id, d]));
    const id = randomUUID();
    const prepared = this.prepareWith(input.expression.value, all, id);
    const evaluationInfo = flags(input.evaluationInfo);
    this.checkMethods(evaluationInfo, prepared.eligibility);
    const now = isoNow(this.clock);
    const body: DefinitionDoc = {
      name: input.name,
      description: input.description ?? '',
      origin: 'pql',
      pql: input.expression.value,
      evaluationInfo,
      mergePolicyId: policy.id,
      dependencies: prepared.dependencies,
      lookbackDays: prepared.lookbackDays,
      eligibility: prepared.eligibility,
    };
    const created = (await this.metadata.documents.create({ sandbox, kind: DEFINITION_KIND, id, parentId: null, body: body as never, createdAt: now, updatedAt: now })) as Definition;
    await this.audit.record(actor, { sandbox, action: 'segment.create', resourceType: 'segment-definition', resourceId: id, details: { name: input.name } });
    this.changed(sandbox);
    return created;
  }

  /** Stores an external audience's definition (no expression, batch only). */
  async createExternal(actor: Principal, sandbox: string, input: { name: string; description?: string; namespace: string; mergePolicyId?: string }): Promise<Definition> {
    const policy = await this.policies.resolve(sandbox, input.mergePolicyId);
    const id = randomUUID();
    const now = isoNow(this.clock);
    const body: DefinitionDoc = {
      name: input.name,
      description: input.description ?? '',
      origin: 'external',
      pql: null,
      evaluationInfo: { batch: false, continuous: false, synchronous: false },
      mergePolicyId: policy.id,
      dependencies: [],
      lookbackDays: null,
      eligibility: null,
      namespace: input.namespace,
    };
    const created = (await this.metadata.documents.create({ sandbox, kind: DEFINITION_KIND, id, parentId: null, body: body as never, createdAt: now, updatedAt: now })) as Definition;
    await this.audit.record(actor, { sandbox, action: 'segment.create', resourceType: 'segment-definition', resourceId: id, details: { name: input.name, origin: 'external' } });
    return created;
  }

  async update(actor: Principal, sandbox: string, id: string, patch: DefinitionPatchT): Promise<Definition> {
    const current = await this.get(sandbox, id);
    const body: DefinitionDoc = { ...current.body };
    if (patch.name !== undefined) body.name = patch.name;
    if (patch.description !== undefined) body.description = patch.description;
    if (patch.mergePolicyId !== undefined) body.mergePolicyId = (await this.policies.resolve(sandbox, patch.mergePolicyId)).id;
    if (patch.evaluationInfo !== undefined) body.evaluationInfo = flags(patch.evaluationInfo, body.evaluationInfo);
    if (patch.expression !== undefined) {
      if (body.origin === 'external') throw invalid('An external audience has no expression; create a PQL audience instead.');
      body.pql = patch.expression.value;
    }
    if (body.pql !== null) {
      const prepared = this.prepareWith(body.pql, new Map((await this.list(sandbox)).map((d) => [d.id, d])), id);
      this.checkMethods(body.evaluationInfo, prepared.eligibility);
      Object.assign(body, { dependencies: prepared.dependencies, lookbackDays: prepared.lookbackDays, eligibility: prepared.eligibility });
    }
    const updated = await this.metadata.documents.update(sandbox, DEFINITION_KIND, id, body as never, { updatedAt: isoNow(this.clock), expectedVersion: current.version });
    if (!updated) throw new RoundtripError('RT_SEGMENT_NOT_FOUND', `No segment definition has the id "${id}".`, { id });
    await this.audit.record(actor, { sandbox, action: 'segment.update', resourceType: 'segment-definition', resourceId: id, details: { fields: Object.keys(patch) } });
    this.changed(sandbox);
    return updated;
  }

  /** Deletes a definition nobody depends on; returns it (its memberships are dropped by the caller). */
  async delete(actor: Principal, sandbox: string, id: string): Promise<Definition> {
    const current = await this.get(sandbox, id);
    const users = (await this.list(sandbox)).filter((d) => d.body.dependencies.includes(id));
    if (users.length) {
      throw new RoundtripError('RT_SEGMENT_IN_USE', `Segments ${users.map((u) => `"${u.body.name}"`).join(', ')} use this one through inSegment; change them first.`, { segments: users.map((u) => u.id) });
    }
    await this.metadata.documents.delete(sandbox, DEFINITION_KIND, id);
    await this.audit.record(actor, { sandbox, action: 'segment.delete', resourceType: 'segment-definition', resourceId: id });
    this.changed(sandbox);
    return current;
  }
}

/** A path from `start` back to itself through dependencies, if there is one. */
function findCycle(start: string, dependencies: readonly string[], all: ReadonlyMap<string, Definition>): string[] | undefined {
  const seen = new Set<string>();
  const walk = (id: string, path: string[]): string[] | undefined => {
    if (id === start) return [...path, id];
    if (seen.has(id)) return undefined;
    seen.add(id);
    for (const next of all.get(id)?.body.dependencies ?? []) {
      const found = walk(next, [...path, id]);
      if (found) return found;
    }
    return undefined;
  };
  for (const dep of dependencies) {
    const found = walk(dep, [start]);
    if (found) return found;
  }
  return undefined;
}

/** Segment ids ordered so that every segment comes after the segments it reads (layers of independent ones). */
export function dependencyLayers(ids: readonly string[], dependenciesOf: (id: string) => readonly string[]): string[][] {
  const wanted = new Set(ids);
  const level = new Map<string, number>();
  const depth = (id: string, stack: Set<string>): number => {
    const known = level.get(id);
    if (known !== undefined) return known;
    if (stack.has(id)) throw invalid(`inSegment makes a cycle through ${id}.`);
    stack.add(id);
    const deps = dependenciesOf(id).filter((d) => wanted.has(d));
    const d = deps.length ? Math.max(...deps.map((x) => depth(x, stack))) + 1 : 0;
    stack.delete(id);
    level.set(id, d);
    return d;
  };
  const layers: string[][] = [];
  for (const id of ids) (layers[depth(id, new Set())] ??= []).push(id);
  return layers.filter(Boolean);
}
