/**
 * The catalogue entries of the synthetic brand, in the registry's own request shapes: the custom identity
 * namespace, one schema per entity (`SchemaBody`) and one dataset per schema (`DatasetBody`, naming its schema
 * by a local key until the registry gives it an id). Custom fields are placed under `_<tenant>` by the registry;
 * identity paths include that prefix.
 */
import type { DatasetInput, SchemaInput } from '../catalog/payloads.ts';
import type { FieldDefinition } from '../catalog/xdm/fields.ts';
import type { NAMESPACE_TYPES } from '../catalog/xdm/standard.ts';
import { CHANNELS, DUP_LINKS } from './codes.ts';
import { BRAND, TIERS } from './vocabulary.ts';

export const DATASET_KEYS = ['profiles', 'orders', 'loyalty', 'web', 'email'] as const;
export type DatasetKey = (typeof DATASET_KEYS)[number];

/** The membership number of the loyalty programme (`membershipNumber` in the airline example). */
export const LOYALTY_NAMESPACE = 'Loyalty';

/** The body of `POST /namespaces` (typed here: the TypeBox union of `payloads.ts` does not keep its literals). */
export interface NamespaceDefinition {
  code: string;
  name: string;
  idType: (typeof NAMESPACE_TYPES)[number];
  description: string;
}

export const NAMESPACES: NamespaceDefinition[] = [
  {
    code: LOYALTY_NAMESPACE,
    name: `${BRAND.programme} membership number`,
    idType: 'CROSS_DEVICE',
    description: 'One per loyalty account; a person with a duplicate account has two.',
  },
];

const str = (description: string, extra: Partial<Extract<FieldDefinition, { type: 'string' }>> = {}): FieldDefinition => ({ type: 'string', description, ...extra });

/** A dataset definition whose `schemaId` is the local schema key (replace it with the registry's id). */
export interface DatasetDefinition extends DatasetInput {
  schemaId: DatasetKey;
}

export function brandSchemas(tenant: string): Record<DatasetKey, SchemaInput> {
  const t = `_${tenant}`;
  return {
    profiles: {
      title: `${BRAND.name} customer profiles`,
      description: 'One record per account; a person who opened a second account in another channel has two.',
      class: 'profile',
      fieldGroups: ['person-details', 'personal-contact-details', 'loyalty-details', 'consents'],
      fields: {
        crmId: str('Account id in the CRM'),
        signupChannel: str('Where the account was opened', { enum: [...CHANNELS] }),
        signupTimestamp: str('When the account was opened', { format: 'date-time' }),
      },
      required: ['crmId'],
      identities: [
        { path: `${t}.crmId`, namespace: 'CRMID', primary: true },
        { path: 'personalEmail.address', namespace: 'Email' },
        { path: 'mobilePhone.number', namespace: 'Phone' },
        { path: 'loyalty.loyaltyID', namespace: LOYALTY_NAMESPACE },
      ],
    },
    orders: {
      title: `${BRAND.name} orders`,
      description: 'Every transaction (web, app and store): the BG/NBD + Gamma-Gamma process of the ground truth.',
      class: 'experienceevent',
      fieldGroups: ['identity-map', 'commerce-details'],
      fields: {
        channel: str('Where the order was placed', { enum: [...CHANNELS] }),
        storeId: str('Store of an in-store order'),
      },
    },
    loyalty: {
      title: 'Airline Loyalty Data',
      description: `${BRAND.programme} credits and debits, in the shape of the airline loyalty example (reference §4.1).`,
      class: 'experienceevent',
      fields: {
        membershipNumber: str('Loyalty account'),
        emailAddress: { type: 'object', properties: { address: str('Email of the loyalty account') } },
        transactionDate: str('Day of the credit or debit', { format: 'date' }),
        transactionType: str('AWARD_MILES can be spent, STATUS_MILES decide the tier', { enum: ['AWARD_MILES', 'STATUS_MILES'] }),
        transactionDetails: str('Order id, or what else earned or spent the miles'),
        mileage: { type: 'integer', description: 'Miles credited (positive) or debited (negative)' },
        loyaltyStatus: str('Tier after this row', { enum: [...TIERS] }),
      },
      required: ['membershipNumber', 'transactionDate', 'transactionType', 'mileage'],
      identities: [
        { path: `${t}.membershipNumber`, namespace: LOYALTY_NAMESPACE, primary: true },
        { path: `${t}.emailAddress.address`, namespace: 'Email' },
      ],
    },
    web: {
      title: `${BRAND.name} web and app events`,
      description: 'Page views, product views, adds to cart, checkouts and logins. Only events from a login on carry the CRM id.',
      class: 'experienceevent',
      fieldGroups: ['identity-map', 'web-details', 'commerce-details'],
      fields: {
        channel: str('web or app', { enum: ['web', 'app'] }),
        sessionId: str('Visit the event belongs to'),
      },
    },
    email: {
      title: `${BRAND.name} email campaign responses`,
      description: 'Sent, delivered, opened, clicked, bounced and unsubscribed events of past campaigns.',
      class: 'experienceevent',
      fieldGroups: ['identity-map', 'direct-marketing'],
      fields: { campaignId: str('Campaign the message belongs to') },
    },
  };
}

export const DATASETS: Record<DatasetKey, DatasetDefinition> = {
  profiles: { name: 'Customer Profiles', schemaId: 'profiles', profileEnabled: true, identityEnabled: true },
  orders: { name: 'Orders', schemaId: 'orders', profileEnabled: true, identityEnabled: true },
  loyalty: { name: 'Airline Loyalty Data', schemaId: 'loyalty', profileEnabled: true, identityEnabled: true },
  web: { name: 'Web Events', schemaId: 'web', profileEnabled: true, identityEnabled: true },
  email: { name: 'Email Events', schemaId: 'email', profileEnabled: true, identityEnabled: true },
};

/** Columns of the per-person ground truth file, with their meaning (written into ground_truth.json). */
export const GROUND_TRUTH_COLUMNS: Record<string, string> = {
  person_id: 'The person (accounts, devices and events of one person share it)',
  is_customer: 'false for prospects, who joined but never bought (not part of the BG/NBD population)',
  signup_at: 'When the first account was opened',
  first_purchase_at: 'The first (trial) purchase, 20-40 minutes after sign-up; time 0 of the BG/NBD process',
  last_purchase_at: 'The last purchase in the window',
  lambda: 'BG/NBD purchase rate while active, per week (λ ~ Gamma(r, α))',
  p: 'BG/NBD drop-out probability after each repeat purchase (p ~ Beta(a, b))',
  nu: 'Gamma-Gamma spend rate (ν ~ Gamma(q, γ)); transaction values are Gamma(p, ν)',
  dropped_out: 'true when the customer dropped out after a repeat purchase inside the window',
  x: 'Repeat transactions in the window (every transaction after the first, not deduplicated by day)',
  t_x: 'Weeks from the first to the last purchase (0 when x = 0)',
  T: 'Weeks from the first purchase to the end of the window',
  transactions: 'All transactions, the first included (x + 1 for customers)',
  spend_total: 'Sum of all transaction values',
  repeat_spend_mean: 'Mean value of the repeat transactions (the Gamma-Gamma input); null when x = 0',
  expected_spend: 'True mean transaction value, p / ν',
  devices: 'Own devices (ECIDs), 1-4',
  shared_device: 'Whether the person also uses the household tablet shared with their pair (2k, 2k+1)',
  accounts: '1, or 2 when the person opened a duplicate account',
  duplicate_link: `How the duplicate can be tied back: ${DUP_LINKS.join(', ')}`,
  email_consent: 'Final marketing email consent (y, n or empty)',
  bad_email: 'The address hard-bounces',
  crm_ids: 'CRMID of each account',
  loyalty_ids: 'Loyalty membership number of each account',
  email: 'The email address, lower case (accounts may store it in another case)',
  phone: 'The phone number in E.164 (accounts may store it in another format)',
  ecids: 'ECIDs of the own devices',
  shared_ecid: 'ECID of the shared household tablet, when used',
};
