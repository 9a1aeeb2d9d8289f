/**
 * The Segment tracking spec mapped onto XDM (`docs/ingestion-streaming.md` has the table). track, page,
 * screen, group and alias become ExperienceEvents; identify becomes a profile record. Identity: `userId` →
 * the connection's user namespace (CRMID by default, authenticated, primary), `anonymousId` → its anonymous
 * namespace (ECID by default), `traits.email` → Email, all in `identityMap`. What XDM has a place for goes
 * there (page → web.webPageDetails, e-commerce spec events → commerce.*, traits → person/personalEmail/…); the
 * rest is kept verbatim as string maps under `_<tenant>.segment` (`properties`, `traits`, `context`, with
 * nested keys flattened to dots and arrays as JSON), so no field of a call is lost.
 */
import type { RecordIssue } from '../record-checks.ts';
import type { IdentityNamespacesT } from '../streaming/payloads.ts';
import type { TargetRole } from '../streaming/connections.ts';

export const SEGMENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

type Json = Record<string, unknown>;

export interface MappingContext {
  /** `_<tenant>`: where the Segment field groups put their fields. */
  tenantKey: string;
  identities: IdentityNamespacesT;
  /** Server time the request arrived (ISO), Segment's `receivedAt`. */
  receivedAt: string;
  /** Fallback `_id` when a call has no messageId. */
  fallbackId: string;
}

export type Mapped = { ok: true; role: TargetRole; record: Json } | { ok: false; role: TargetRole; issues: RecordIssue[] };

/** Segment e-commerce spec events with an XDM event type and commerce measure. */
const COMMERCE_EVENTS: Record<string, { eventType: string; measure: string; order?: boolean; products: 'list' | 'single' }> = {
  'Order Completed': { eventType: 'commerce.purchases', measure: 'purchases', order: true, products: 'list' },
  'Product Viewed': { eventType: 'commerce.productViews', measure: 'productViews', products: 'single' },
  'Product Added': { eventType: 'commerce.productListAdds', measure: 'productListAdds', products: 'single' },
  'Checkout Started': { eventType: 'commerce.checkouts', measure: 'checkouts', order: true, products: 'list' },
};

const EVENT_TYPES: Record<Exclude<SegmentType, 'track' | 'identify'>, string> = {
  page: 'web.webpagedetails.pageViews',
  screen: 'segment.screen',
  group: 'segment.group',
  alias: 'segment.alias',
};

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const obj = (value: unknown): Json => (isObject(value) ? value : {});

/** A string for a string field: strings as they are, numbers and booleans as text, anything else dropped. */
function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function num(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/** Drops undefined values and objects left empty, so the record holds only what the call said. */
function compact(value: Json): Json | undefined {
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const kept = isObject(v) ? compact(v) : v;
    if (kept !== undefined) out[key] = kept;
  }
  return Object.keys(out).length ? out : undefined;
}

/** `{a: {b: 1}, tags: ['x']}` → `{"a.b": "1", "tags": "[\"x\"]"}`: any JSON as a queryable string map. */
export function flatten(value: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const [key, v] of Object.entries(obj(value))) {
    if (v === null || v === undefined) continue;
    if (isObject(v)) flatten(v, `${prefix}${key}.`, out);
    else out[`${prefix}${key}`] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

const nonEmpty = (map: Record<string, string>): Record<string, string> | undefined => (Object.keys(map).length ? map : undefined);

/** Segment's rule: `timestamp`, else `originalTimestamp` corrected for the device clock (`receivedAt - (sentAt - originalTimestamp)`), else receivedAt. */
export function eventTime(message: Json, receivedAt: string): string {
  const timestamp = text(message.timestamp);
  if (timestamp) return timestamp;
  const original = Date.parse(text(message.originalTimestamp) ?? '');
  const sent = Date.parse(text(message.sentAt) ?? '');
  if (Number.isFinite(original) && Number.isFinite(sent)) return new Date(Date.parse(receivedAt) - (sent - original)).toISOString();
  return Number.isFinite(original) ? new Date(original).toISOString() : receivedAt;
}

function identityMap(message: Json, namespaces: IdentityNamespacesT, anonymousId: string | undefined): Json | undefined {
  const map: Record<string, Json[]> = {};
  const add = (namespace: string, id: string | undefined, authenticatedState: string, primary: boolean): void => {
    if (id) (map[namespace] ??= []).push({ id, authenticatedState, primary });
  };
  const userId = text(message.userId);
  add(namespaces.userId, userId, 'authenticated', Boolean(userId));
  add(namespaces.anonymousId, anonymousId, 'ambiguous', !userId);
  add('Email', text(obj(message.traits).email) ?? text(obj(obj(message.context).traits).email), 'authenticated', false);
  return Object.keys(map).length ? map : undefined;
}

function product(p: Json): Json {
  const quantity = num(p.quantity);
  const price = num(p.price);
  return { SKU: text(p.sku) ?? text(p.product_id), name: text(p.name), quantity: quantity === undefined ? undefined : Math.trunc(quantity), priceTotal: price === undefined ? undefined : price * (quantity ?? 1) };
}

/** The commerce part of an e-commerce spec event (order, measure, products); nothing for other events. */
function commerce(event: string, properties: Json): Json {
  const spec = COMMERCE_EVENTS[event];
  if (!spec) return {};
  const currency = text(properties.currency);
  const order = spec.order
    ? { purchaseID: text(properties.order_id) ?? text(properties.checkout_id), priceTotal: num(properties.revenue) ?? num(properties.total) ?? num(properties.value), currencyCode: currency?.length === 3 ? currency.toUpperCase() : undefined }
    : undefined;
  const products = spec.products === 'list' ? (Array.isArray(properties.products) ? properties.products.filter(isObject) : []) : [properties];
  return {
    commerce: { [spec.measure]: { value: 1 }, order },
    productListItems: products.length ? products.map((p) => compact(product(p)) ?? {}) : undefined,
  };
}

function web(type: SegmentType, message: Json): Json {
  const page = obj(obj(message.context).page);
  const properties = obj(message.properties);
  const name = type === 'page' ? (text(message.name) ?? text(properties.title) ?? text(page.title)) : text(page.title);
  return {
    web: {
      webPageDetails: { name, URL: text(properties.url) ?? text(page.url) },
      webReferrer: { URL: text(properties.referrer) ?? text(page.referrer) },
    },
  };
}

function problems(type: SegmentType | undefined, message: Json): RecordIssue[] {
  if (!type) return [{ path: 'type', code: 'RT_FIELD_ENUM', message: `must be one of ${SEGMENT_TYPES.join(', ')}` }];
  const issues: RecordIssue[] = [];
  const need = (field: string, why: string): void => void (text(message[field]) === undefined && issues.push({ path: field, code: 'RT_FIELD_REQUIRED', message: why }));
  if (text(message.userId) === undefined && text(message.anonymousId) === undefined && type !== 'alias') {
    issues.push({ path: 'userId', code: 'RT_FIELD_REQUIRED', message: 'userId or anonymousId is required' });
  }
  if (type === 'track') need('event', 'is required for track');
  if (type === 'group') need('groupId', 'is required for group');
  if (type === 'alias') {
    need('userId', 'is required for alias');
    need('previousId', 'is required for alias');
  }
  return issues;
}

/** The Segment block every record keeps under `_<tenant>.segment`. */
function segmentBlock(type: SegmentType, message: Json, context: MappingContext): Json {
  return {
    type,
    userId: text(message.userId),
    anonymousId: text(message.anonymousId),
    context: nonEmpty(flatten(message.context)),
    sentAt: text(message.sentAt),
    receivedAt: context.receivedAt,
  };
}

function toEvent(type: Exclude<SegmentType, 'identify'>, message: Json, context: MappingContext): Json {
  const properties = obj(message.properties);
  const event = text(message.event);
  const anonymousId = type === 'alias' ? text(message.previousId) : text(message.anonymousId);
  return {
    _id: text(message.messageId) ?? context.fallbackId,
    timestamp: eventTime(message, context.receivedAt),
    eventType: type === 'track' ? (COMMERCE_EVENTS[event!]?.eventType ?? event) : EVENT_TYPES[type],
    identityMap: identityMap(message, context.identities, anonymousId),
    ...web(type, message),
    ...(type === 'track' ? commerce(event!, properties) : {}),
    [context.tenantKey]: {
      segment: {
        ...segmentBlock(type, message, context),
        event,
        name: text(message.name),
        category: text(message.category) ?? text(properties.category),
        groupId: text(message.groupId),
        previousId: text(message.previousId),
        properties: nonEmpty(flatten(properties)),
        traits: nonEmpty(flatten(message.traits)),
      },
    },
  };
}

const GENDERS = new Set(['male', 'female', 'not_specified', 'non_specific']);

function toProfile(message: Json, context: MappingContext): Json {
  const traits = obj(message.traits);
  const address = obj(traits.address);
  const gender = text(traits.gender)?.toLowerCase();
  const country = text(address.country);
  return {
    _id: text(message.messageId) ?? context.fallbackId,
    identityMap: identityMap(message, context.identities, text(message.anonymousId)),
    person: {
      name: { firstName: text(traits.firstName) ?? text(traits.first_name), lastName: text(traits.lastName) ?? text(traits.last_name), fullName: text(traits.name) },
      birthDate: text(traits.birthday),
      gender: gender && GENDERS.has(gender) ? gender : undefined,
    },
    personalEmail: { address: text(traits.email) },
    mobilePhone: { number: text(traits.phone) },
    homeAddress: {
      street1: text(address.street),
      city: text(address.city),
      postalCode: text(address.postal_code) ?? text(address.postalCode),
      region: text(address.state) ?? text(address.region),
      countryCode: country?.length === 2 ? country.toUpperCase() : undefined,
    },
    [context.tenantKey]: { segment: { ...segmentBlock('identify', message, context), traits: nonEmpty(flatten(traits)) } },
  };
}

/** Maps one Segment call; `defaultType` is the endpoint's (`/v1/track` → track) when the call has none. */
export function mapSegmentCall(message: unknown, context: MappingContext, defaultType?: SegmentType): Mapped {
  const call = obj(message);
  const named = text(call.type) ?? defaultType;
  const type = SEGMENT_TYPES.find((t) => t === named);
  const role: TargetRole = type === 'identify' ? 'profile' : 'event';
  const issues = isObject(message) ? problems(type, call) : [{ path: '', code: 'RT_RECORD_MALFORMED' as const, message: 'a Segment call must be a JSON object' }];
  if (issues.length || !type) return { ok: false, role, issues };
  const record = type === 'identify' ? toProfile(call, context) : toEvent(type, call, context);
  return { ok: true, role, record: compact(record) ?? {} };
}
