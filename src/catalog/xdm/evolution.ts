/**
 * Schema evolution rules: a new version may add optional fields, identities (but not a second primary) and
 * enum values, and change titles and descriptions. Anything that could make stored data or existing readers
 * wrong (removing or retyping a field, a newly required field, a tightened constraint, a changed class or
 * identity) is refused with every offending path listed.
 */
import { isDeepStrictEqual } from 'node:util';
import type { FieldIssue } from '../../core/errors.ts';
import { isMapField, isObjectField, type FieldDefinition, type Properties } from './fields.ts';
import type { ResolvedSchema } from './compose.ts';

const kindOf = (f: FieldDefinition): string =>
  isObjectField(f) ? 'object' : isMapField(f) ? 'map' : 'type' in f ? (f.type === 'string' && 'format' in f && f.format ? `string(${f.format})` : f.type) : 'ref';

const CONSTRAINTS = ['minLength', 'maxLength', 'pattern', 'minimum', 'maximum'] as const;

/** A lower minimum or a higher maximum accepts everything the old version did. */
function loosens(key: (typeof CONSTRAINTS)[number], before: unknown, after: unknown): boolean {
  if (typeof before !== 'number' || typeof after !== 'number') return false;
  return key.startsWith('min') ? after <= before : key.startsWith('max') ? after >= before : false;
}

function compareField(before: FieldDefinition, after: FieldDefinition, path: string, issues: FieldIssue[]): void {
  if (kindOf(before) !== kindOf(after)) {
    issues.push({ path, message: `changes type from ${kindOf(before)} to ${kindOf(after)}` });
    return;
  }
  if (isObjectField(before) && isObjectField(after)) {
    compareProperties(before.properties, after.properties, path, issues);
    const added = (after.required ?? []).filter((name) => !(before.required ?? []).includes(name));
    for (const name of added) issues.push({ path: `${path}.${name}`, message: 'becomes required' });
    return;
  }
  if (isMapField(before) && isMapField(after)) return compareField(before.additionalProperties, after.additionalProperties, `${path}{}`, issues);
  if ('items' in before && 'items' in after) return compareField(before.items, after.items, `${path}[]`, issues);
  const b = before as unknown as Record<string, unknown>;
  const a = after as unknown as Record<string, unknown>;
  for (const key of CONSTRAINTS) {
    if (a[key] !== undefined && !isDeepStrictEqual(a[key], b[key]) && !loosens(key, b[key], a[key])) issues.push({ path, message: `tightens ${key}` });
  }
  if (Array.isArray(a.enum)) {
    const removed = Array.isArray(b.enum) ? b.enum.filter((v) => !(a.enum as unknown[]).includes(v)) : ['(any value)'];
    if (removed.length) issues.push({ path, message: `drops enum values ${removed.join(', ')}` });
  }
}

function compareProperties(before: Properties, after: Properties, path: string, issues: FieldIssue[]): void {
  for (const [name, field] of Object.entries(before)) {
    const at = path ? `${path}.${name}` : name;
    const next = after[name];
    if (!next) issues.push({ path: at, message: 'is removed' });
    else compareField(field, next, at, issues);
  }
}

export function compatibilityIssues(before: ResolvedSchema, after: ResolvedSchema): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (before['meta:class'] !== after['meta:class']) issues.push({ path: 'class', message: 'cannot change' });
  compareProperties(before.properties, after.properties, '', issues);
  if (before['meta:adhoc']) return issues;
  for (const identity of before['meta:identities']) {
    const kept = after['meta:identities'].find((d) => d.path === identity.path);
    if (!kept || kept.namespace !== identity.namespace || Boolean(kept.primary) !== Boolean(identity.primary)) {
      issues.push({ path: `identities.${identity.path}`, message: 'an existing identity cannot be removed or changed' });
    }
  }
  const hadPrimary = before['meta:identities'].some((d) => d.primary);
  const newPrimary = after['meta:identities'].find((d) => d.primary && !before['meta:identities'].some((o) => o.path === d.path));
  if (hadPrimary && newPrimary) issues.push({ path: `identities.${newPrimary.path}`, message: 'a schema keeps its primary identity' });
  return issues;
}
