/**
 * Response events: the ExperienceEvents of the email-tracking dataset (reference §13), whichever source they
 * come from (Roundtrip's own sending and tracking, an ESP by streaming, a batch file). One builder makes all of
 * them so that every source fills the same fields the same way:
 *
 * `{_id, timestamp, eventType, identityMap.Email, directMarketing{messageID, mailingName, linkURL,
 *   emailBouncedCode, unsubscribeReason, <measure>.value = 1}, _<tenant>{campaignId, audienceId, source,
 *   privacyProxy, machineOpen, bounceType, userAgent}}`
 *
 * `_id`s of one-off events (sent, delivered, bounced, unsubscribed) are derived from the message, so a replay
 * or a resend of the same report is dropped by the datasets' `_id` de-duplication; opens and clicks happen many
 * times and carry the request's own id.
 */
import type { JsonRecord } from '../ports/warehouse.ts';
import type { PrivacyProxy } from './privacy-proxy.ts';

export const EMAIL_EVENT_TYPES = {
  sent: 'directMarketing.emailSent',
  delivered: 'directMarketing.emailDelivered',
  opened: 'directMarketing.emailOpened',
  clicked: 'directMarketing.emailClicked',
  bounced: 'directMarketing.emailBounced',
  unsubscribed: 'directMarketing.emailUnsubscribed',
} as const;
export type EmailEventKind = keyof typeof EMAIL_EVENT_TYPES;

const MEASURE: Record<EmailEventKind, string> = {
  sent: 'sends',
  delivered: 'emailDelivered',
  opened: 'opens',
  clicked: 'clicks',
  bounced: 'bounces',
  unsubscribed: 'unsubscriptions',
};

/** Tenant fields the email-tracking schema adds to the synthetic brand's email schema. */
export const TRACKING_FIELDS = {
  campaignId: { type: 'string', description: 'Campaign the message belongs to' },
  audienceId: { type: 'string', description: 'Audience (segment id) the campaign was sent to' },
  source: { type: 'string', description: 'roundtrip (own sending and tracking), esp (streamed by an ESP) or batch (a file)' },
  privacyProxy: { type: 'string', description: 'apple-mpp when the open came through a mail-privacy proxy' },
  machineOpen: { type: 'boolean', description: 'The open was made by a machine (privacy proxy), not a person' },
  bounceType: { type: 'string', enum: ['hard', 'soft'], description: 'hard: 5xx (address refused), soft: 4xx (try later)' },
  userAgent: { type: 'string', description: 'User-Agent of the open or click request' },
} as const;

export interface EventInput {
  kind: EmailEventKind;
  id: string;
  timestamp: string;
  email: string;
  campaignId: string;
  campaignName?: string | null;
  audienceId?: string | null;
  messageId?: string | null;
  source: 'roundtrip' | 'esp' | 'batch';
  linkURL?: string | null;
  bounceCode?: string | null;
  unsubscribeReason?: string | null;
  userAgent?: string | null;
  privacyProxy?: PrivacyProxy | null;
}

/** 4xx replies are soft bounces (the server may take the message later), everything else hard. */
export function bounceTypeOf(code: string | null | undefined): 'hard' | 'soft' {
  return /^\s*4/.test(code ?? '') ? 'soft' : 'hard';
}

const clean = (o: Record<string, unknown>): JsonRecord => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as JsonRecord;

export function emailEvent(tenantKey: string, input: EventInput): JsonRecord {
  return {
    _id: input.id,
    timestamp: input.timestamp,
    eventType: EMAIL_EVENT_TYPES[input.kind],
    identityMap: { Email: [{ id: input.email, primary: true }] },
    directMarketing: clean({
      messageID: input.messageId,
      mailingName: input.campaignName,
      linkURL: input.kind === 'clicked' ? input.linkURL : undefined,
      emailBouncedCode: input.kind === 'bounced' ? (input.bounceCode ?? '') : undefined,
      unsubscribeReason: input.kind === 'unsubscribed' ? input.unsubscribeReason : undefined,
      [MEASURE[input.kind]]: { value: 1 },
    }),
    [tenantKey]: clean({
      campaignId: input.campaignId,
      audienceId: input.audienceId,
      source: input.source,
      privacyProxy: input.kind === 'opened' ? input.privacyProxy : undefined,
      machineOpen: input.kind === 'opened' ? input.privacyProxy != null : undefined,
      bounceType: input.kind === 'bounced' ? bounceTypeOf(input.bounceCode) : undefined,
      userAgent: input.userAgent ? input.userAgent.slice(0, 512) : undefined,
    }),
  };
}

/** A consent fragment: the person (by the identities given, the first primary) said no to marketing email. */
export function consentFragment(id: string, identities: { namespace: string; id: string }[], at: string): JsonRecord {
  const identityMap: Record<string, { id: string; primary: boolean }[]> = {};
  identities.forEach((identity, index) => (identityMap[identity.namespace] ??= []).push({ id: identity.id, primary: index === 0 }));
  return { _id: id, identityMap, consents: { marketing: { email: { val: 'n', time: at } } } };
}
