/**
 * Data governance at activation (reference §12.1 "marketing actions", §12.2 review step: "policy check blocks on
 * violations"): data usage labels on the fields a dataflow exports, checked against the marketing actions of its
 * destination. The catalog has no labels yet, so a sandbox keeps one minimal label map here (field paths and
 * identity namespaces → labels, `PUT /activation/governance/labels`); a label on a field covers the fields
 * under it (`person` covers `person.name.firstName`).
 *
 * The policies are the core ones of the Adobe label vocabulary, restricted to what an export can break:
 * each label names the marketing actions it forbids.
 */
import { RoundtripError } from '../core/errors.ts';

/** Marketing actions a destination can be used for (Adobe core actions, in Roundtrip's spelling). */
export const MARKETING_ACTIONS = [
  'emailTargeting',
  'exportToThirdParty',
  'onsiteAdvertising',
  'crossSiteTargeting',
  'onsitePersonalization',
  'combineWithPII',
  'dataScience',
  'analytics',
] as const;
export type MarketingAction = (typeof MARKETING_ACTIONS)[number];

/** Contract, identity and sensitive labels with the actions they forbid and why. */
export const LABEL_POLICIES: Record<string, { meaning: string; forbids: readonly MarketingAction[] }> = {
  C1: { meaning: 'Data can only be exported in aggregated form, never per individual', forbids: ['emailTargeting', 'exportToThirdParty', 'onsiteAdvertising', 'crossSiteTargeting', 'onsitePersonalization'] },
  C2: { meaning: 'Data cannot be exported to a third party', forbids: ['exportToThirdParty'] },
  C3: { meaning: 'Data cannot be combined with directly identifiable information', forbids: ['combineWithPII'] },
  C4: { meaning: 'Data cannot be used for on-site or cross-site ad targeting', forbids: ['onsiteAdvertising', 'crossSiteTargeting'] },
  C5: { meaning: 'Data cannot be used for interest-based cross-site targeting', forbids: ['crossSiteTargeting'] },
  C6: { meaning: 'Data cannot be used for on-site ad targeting', forbids: ['onsiteAdvertising'] },
  C7: { meaning: 'Data cannot be used for on-site content personalisation', forbids: ['onsitePersonalization'] },
  C8: { meaning: "Data cannot be used to measure the organisation's sites and apps", forbids: ['analytics'] },
  C9: { meaning: 'Data cannot be used in data science workflows', forbids: ['dataScience'] },
  C12: { meaning: 'Data cannot be exported in any way', forbids: ['emailTargeting', 'exportToThirdParty', 'onsiteAdvertising', 'crossSiteTargeting', 'onsitePersonalization'] },
  S1: { meaning: 'Sensitive: precise geolocation', forbids: ['exportToThirdParty', 'crossSiteTargeting'] },
  S2: { meaning: 'Sensitive: broad geolocation', forbids: ['crossSiteTargeting'] },
  I1: { meaning: 'Directly identifiable (an email address, a name); informational', forbids: [] },
  I2: { meaning: 'Indirectly identifiable (a device or cookie id); informational', forbids: [] },
};

export interface LabelMap {
  /** XDM field path → labels. */
  fields: Record<string, string[]>;
  /** Identity namespace code → labels. */
  namespaces: Record<string, string[]>;
}

export const EMPTY_LABELS: LabelMap = { fields: {}, namespaces: {} };

export interface PolicyViolation {
  /** The exported field (`person.name.firstName`) or identity (`identity:Email`). */
  field: string;
  label: string;
  marketingAction: string;
  /** A sentence for the review screen. */
  explanation: string;
}

export function assertKnownLabels(labels: LabelMap): void {
  const unknown = [...Object.values(labels.fields), ...Object.values(labels.namespaces)].flat().filter((l) => !(l in LABEL_POLICIES));
  if (unknown.length) {
    throw new RoundtripError('RT_REQUEST_INVALID', `Unknown data usage label(s) ${[...new Set(unknown)].join(', ')}; known: ${Object.keys(LABEL_POLICIES).join(', ')}.`, { labels: [...new Set(unknown)] });
  }
}

/** Labels that apply to a field: its own and those of every enclosing object. */
function labelsOfField(labels: LabelMap, path: string): string[] {
  const parts = path.split('.');
  const found = new Set<string>();
  for (let i = 1; i <= parts.length; i++) for (const label of labels.fields[parts.slice(0, i).join('.')] ?? []) found.add(label);
  return [...found];
}

export interface ExportedSource {
  attribute?: string;
  identity?: string;
}

/** Every conflict between the labels of the exported sources and the destination's marketing actions. */
export function policyViolations(labels: LabelMap, sources: readonly ExportedSource[], actions: readonly string[]): PolicyViolation[] {
  const violations: PolicyViolation[] = [];
  for (const source of sources) {
    const field = source.identity !== undefined ? `identity:${source.identity}` : source.attribute!;
    const applied = source.identity !== undefined ? (labels.namespaces[source.identity] ?? []) : labelsOfField(labels, source.attribute!);
    for (const label of applied) {
      const policy = LABEL_POLICIES[label];
      for (const action of policy?.forbids ?? []) {
        if (!actions.includes(action)) continue;
        violations.push({ field, label, marketingAction: action, explanation: `${field} carries ${label} (${policy!.meaning}), which forbids the destination's marketing action "${action}".` });
      }
    }
  }
  return violations;
}

export function assertNoViolations(violations: readonly PolicyViolation[], what: string): void {
  if (!violations.length) return;
  throw new RoundtripError(
    'RT_ACTIVATION_POLICY_VIOLATION',
    `${what} breaks data usage policy: ${violations.map((v) => v.explanation).join(' ')} Remove the field from the export, or use a destination without that marketing action.`,
    { violations: violations.map((v) => ({ ...v })) },
  );
}
