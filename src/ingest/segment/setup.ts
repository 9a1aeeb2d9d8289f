/**
 * The helper that prepares a sandbox for a Segment connection: the two custom field groups the mapping writes
 * (`segment-event`, `segment-profile`, under `_<tenant>.segment`), an ExperienceEvent schema and a profile
 * schema built from them and the standard groups, and a profile-enabled dataset of each. Users never write
 * these schemas by hand; `roundtrip streaming segment-setup --name Web` then `streaming create --kind segment`.
 */
import type { Principal } from '../../access/principal.ts';
import type { Datasets } from '../../catalog/datasets.ts';
import type { SchemaRegistry } from '../../catalog/schema-registry.ts';
import { RoundtripError } from '../../core/errors.ts';
import type { Properties } from '../../catalog/xdm/fields.ts';
import { SEGMENT_FIELD_GROUPS } from '../streaming/connections.ts';
import type { SegmentSetupResultT } from '../streaming/payloads.ts';

const text = { type: 'string' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const common = { type: text, userId: text, anonymousId: text, context: stringMap, sentAt: time, receivedAt: time };

const EVENT_FIELDS: Properties = {
  segment: {
    type: 'object',
    description: 'The Segment call as received: type, ids, event or page name, and properties/traits/context as string maps',
    properties: { ...common, event: text, name: text, category: text, groupId: text, previousId: text, properties: stringMap, traits: stringMap },
  },
};

const PROFILE_FIELDS: Properties = {
  segment: { type: 'object', description: 'The identify call as received: ids, and traits/context as string maps', properties: { ...common, traits: stringMap } },
};

async function ensureFieldGroup(registry: SchemaRegistry, actor: Principal, sandbox: string, group: { id: string; title: string; class: 'experienceevent' | 'profile'; fields: Properties }): Promise<void> {
  try {
    await registry.getFieldGroup(sandbox, group.id);
  } catch (error) {
    if (!(error instanceof RoundtripError && error.code === 'RT_FIELD_GROUP_NOT_FOUND')) throw error;
    await registry.createFieldGroup(actor, sandbox, { ...group, fields: group.fields });
  }
}

/** Refuses taken dataset names before anything is created, so a failed setup leaves no half-made schemas. */
async function assertFree(datasets: Datasets, sandbox: string, name: string): Promise<void> {
  const taken = await datasets.get(sandbox, name).then(
    () => true,
    (error: unknown) => {
      if (error instanceof RoundtripError && error.code === 'RT_DATASET_NOT_FOUND') return false;
      throw error;
    },
  );
  if (taken) throw new RoundtripError('RT_DATASET_EXISTS', `A dataset named "${name}" already exists; choose another --name.`);
}

export async function setupSegmentDatasets(registry: SchemaRegistry, datasets: Datasets, actor: Principal, sandbox: string, name: string): Promise<SegmentSetupResultT> {
  const names = { event: `${name} Segment events`, profile: `${name} Segment profiles` };
  await assertFree(datasets, sandbox, names.event);
  await assertFree(datasets, sandbox, names.profile);
  await ensureFieldGroup(registry, actor, sandbox, { id: SEGMENT_FIELD_GROUPS.event, title: 'Segment calls (events)', class: 'experienceevent', fields: EVENT_FIELDS });
  await ensureFieldGroup(registry, actor, sandbox, { id: SEGMENT_FIELD_GROUPS.profile, title: 'Segment identify calls', class: 'profile', fields: PROFILE_FIELDS });
  const eventSchema = await registry.createSchema(actor, sandbox, {
    title: names.event,
    class: 'experienceevent',
    fieldGroups: ['identity-map', 'web-details', 'commerce-details', SEGMENT_FIELD_GROUPS.event],
  });
  const profileSchema = await registry.createSchema(actor, sandbox, {
    title: names.profile,
    class: 'profile',
    fieldGroups: ['identity-map', 'person-details', 'personal-contact-details', SEGMENT_FIELD_GROUPS.profile],
  });
  const eventDataset = await datasets.create(actor, sandbox, { name: names.event, schemaId: eventSchema.id, profileEnabled: true });
  const profileDataset = await datasets.create(actor, sandbox, { name: names.profile, schemaId: profileSchema.id, profileEnabled: true });
  return { eventSchemaId: eventSchema.id, profileSchemaId: profileSchema.id, eventDataset: eventDataset.id, profileDataset: profileDataset.id };
}
