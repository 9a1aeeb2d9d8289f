/**
 * The built-in XDM library every sandbox starts with: the two classes, standard field groups, the reusable
 * decile data type and the standard identity namespaces (`reference/adobe-reference.md` §2.1–2.2, §4.1, §13).
 * Built-ins live in code, not in the metadata store, so an upgrade can extend them; they cannot be edited.
 */
import type { XdmClassId } from '../../ports/metadata-store.ts';
import type { FieldDefinition, Properties } from './fields.ts';

const str = (extra: Partial<Extract<FieldDefinition, { type: 'string' }>> = {}): FieldDefinition => ({ type: 'string', ...extra });
const num: FieldDefinition = { type: 'number' };
const int: FieldDefinition = { type: 'integer' };
const bool: FieldDefinition = { type: 'boolean' };
const obj = (properties: Properties, required?: string[]): FieldDefinition => ({ type: 'object', properties, ...(required ? { required } : {}) });
const measure = obj({ value: num });

export interface XdmClass {
  id: XdmClassId;
  title: string;
  uri: string;
  properties: Properties;
  required: string[];
}

export const XDM_CLASSES: Record<XdmClassId, XdmClass> = {
  profile: {
    id: 'profile',
    title: 'XDM Individual Profile',
    uri: 'https://ns.adobe.com/xdm/context/profile',
    properties: { _id: str({ description: 'Unique id of the record (not of the person).' }) },
    required: [],
  },
  experienceevent: {
    id: 'experienceevent',
    title: 'XDM ExperienceEvent',
    uri: 'https://ns.adobe.com/xdm/context/experienceevent',
    properties: {
      _id: str({ description: 'Unique id of the event (not of the person).' }),
      timestamp: str({ format: 'date-time', description: 'When the event happened.' }),
      eventType: str({ description: 'e.g. commerce.purchases, directMarketing.emailOpened' }),
    },
    required: ['_id', 'timestamp'],
  },
  adhoc: {
    id: 'adhoc',
    title: 'Ad hoc (tables made by SQL)',
    uri: 'https://ns.adobe.com/xdm/data/adhoc',
    properties: {},
    required: [],
  },
};

export interface StandardFieldGroup {
  id: string;
  title: string;
  classId: XdmClassId | 'any';
  properties: Properties;
}

const identityMapField: FieldDefinition = {
  type: 'object',
  description: 'Namespace code → identities, e.g. {"Email": [{"id": "a@b.com", "primary": true}]}',
  additionalProperties: {
    type: 'array',
    items: obj({ id: str(), authenticatedState: str({ enum: ['ambiguous', 'authenticated', 'loggedOut'] }), primary: bool }, ['id']),
  },
};

export const STANDARD_FIELD_GROUPS: StandardFieldGroup[] = [
  { id: 'identity-map', title: 'Identity map', classId: 'any', properties: { identityMap: identityMapField } },
  {
    id: 'person-details',
    title: 'Demographic details',
    classId: 'profile',
    properties: {
      person: obj({
        name: obj({ firstName: str(), lastName: str(), fullName: str() }),
        birthDate: str({ format: 'date' }),
        gender: str({ enum: ['male', 'female', 'not_specified', 'non_specific'] }),
      }),
    },
  },
  {
    id: 'personal-contact-details',
    title: 'Personal contact details',
    classId: 'profile',
    properties: {
      personalEmail: obj({ address: str() }),
      mobilePhone: obj({ number: str() }),
      homeAddress: obj({ street1: str(), city: str(), postalCode: str(), region: str(), countryCode: str({ maxLength: 2 }) }),
    },
  },
  {
    id: 'loyalty-details',
    title: 'Loyalty details',
    classId: 'profile',
    properties: {
      loyalty: obj({
        loyaltyID: str(),
        tier: str({ description: 'FLYER, FREQUENT, SILVER or GOLD in the airline example' }),
        points: num,
        joinDate: str({ format: 'date' }),
      }),
    },
  },
  {
    id: 'consents',
    title: 'Consents and preferences',
    classId: 'profile',
    properties: {
      consents: obj({
        marketing: obj({
          email: obj({ val: str({ enum: ['y', 'n', 'p', 'u', 'dy', 'dn', 'LI', 'CT', 'VI'] }), time: str({ format: 'date-time' }) }),
          sms: obj({ val: str({ enum: ['y', 'n', 'p', 'u', 'dy', 'dn', 'LI', 'CT', 'VI'] }), time: str({ format: 'date-time' }) }),
        }),
      }),
    },
  },
  {
    id: 'commerce-details',
    title: 'Commerce details',
    classId: 'experienceevent',
    properties: {
      commerce: obj({
        order: obj({ purchaseID: str(), priceTotal: num, currencyCode: str({ maxLength: 3 }) }),
        purchases: measure,
        productViews: measure,
        productListAdds: measure,
        checkouts: measure,
      }),
      productListItems: { type: 'array', items: obj({ SKU: str(), name: str(), quantity: int, priceTotal: num }) },
    },
  },
  {
    id: 'web-details',
    title: 'Web details',
    classId: 'experienceevent',
    properties: {
      web: obj({ webPageDetails: obj({ name: str(), URL: str() }), webReferrer: obj({ URL: str() }) }),
      device: obj({ type: str(), model: str(), isMobileDevice: bool }),
    },
  },
  {
    id: 'direct-marketing',
    title: 'Direct marketing (email responses)',
    classId: 'experienceevent',
    properties: {
      directMarketing: obj({
        messageID: str(),
        mailingName: str(),
        linkURL: str(),
        emailBouncedCode: str(),
        unsubscribeReason: str(),
        sends: measure,
        emailDelivered: measure,
        opens: measure,
        clicks: measure,
        bounces: measure,
        unsubscriptions: measure,
      }),
    },
  },
];

export interface StandardDataType {
  id: string;
  title: string;
  definition: FieldDefinition;
}

/** The decile map type of the airline example: one `map<string, int>` (category → decile 1–10) per lookback window. */
export const DECILE_WINDOWS = ['decileMonth1', 'decileMonth3', 'decileMonth6', 'decileMonth9', 'decileMonth12', 'decileMonthAll'] as const;

export const STANDARD_DATA_TYPES: StandardDataType[] = [
  {
    id: 'deciles',
    title: 'Decile buckets per lookback window',
    definition: obj(
      Object.fromEntries(
        DECILE_WINDOWS.map((w) => [w, { type: 'object', description: 'category → decile (1 = top 10%)', additionalProperties: { type: 'integer', minimum: 1, maximum: 10 } }]),
      ),
    ),
  },
];

export interface StandardNamespace {
  code: string;
  name: string;
  idType: 'COOKIE' | 'CROSS_DEVICE' | 'DEVICE' | 'EMAIL' | 'PHONE' | 'NON_PEOPLE';
}

/** `reference/adobe-reference.md` §2.2, plus CRMID, the cross-device person id the workflow stitches on. */
export const STANDARD_NAMESPACES: StandardNamespace[] = [
  { code: 'AdCloud', name: 'AdCloud', idType: 'COOKIE' },
  { code: 'AAID', name: 'Adobe Analytics (Legacy ID)', idType: 'COOKIE' },
  { code: 'IDFA', name: 'Apple IDFA', idType: 'DEVICE' },
  { code: 'APNS', name: 'Apple Push Notification service', idType: 'DEVICE' },
  { code: 'CORE', name: 'CORE', idType: 'COOKIE' },
  { code: 'CRMID', name: 'CRM ID', idType: 'CROSS_DEVICE' },
  { code: 'ECID', name: 'ECID', idType: 'COOKIE' },
  { code: 'Email', name: 'Email', idType: 'EMAIL' },
  { code: 'Email_LC_SHA256', name: 'Emails (SHA256, lowercased)', idType: 'EMAIL' },
  { code: 'FCM', name: 'Firebase Cloud Messaging', idType: 'DEVICE' },
  { code: 'GAID', name: 'Google Ad ID (GAID)', idType: 'DEVICE' },
  { code: 'GCLID', name: 'Google Click ID', idType: 'NON_PEOPLE' },
  { code: 'Phone', name: 'Phone', idType: 'PHONE' },
  { code: 'Phone_E.164', name: 'Phone (E.164)', idType: 'PHONE' },
  { code: 'Phone_SHA256', name: 'Phone (SHA256)', idType: 'PHONE' },
  { code: 'Phone_SHA256_E.164', name: 'Phone (SHA256_E.164)', idType: 'PHONE' },
  { code: 'TNTID', name: 'TNTID', idType: 'COOKIE' },
  { code: 'WAID', name: 'Windows AID', idType: 'DEVICE' },
];

export const NAMESPACE_TYPES = ['COOKIE', 'CROSS_DEVICE', 'DEVICE', 'EMAIL', 'PHONE', 'NON_PEOPLE'] as const;
