/**
 * Campaign request and response bodies: the one TypeBox source the routes validate with, OpenAPI shows, and
 * the service takes as `Static` types. Credentials come in as plain text and never go out: views say only
 * whether a password is stored.
 */
import { Type, type Static } from 'typebox';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const IsoTime = Type.String({ format: 'date-time', description: 'ISO 8601 date-time' });

export const SmtpInput = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    secure: Type.Optional(Type.Boolean({ description: 'TLS from the first byte (port 465). Default false: plain, upgraded by STARTTLS when offered' })),
    requireTLS: Type.Optional(Type.Boolean({ description: 'Refuse to send unless STARTTLS succeeds' })),
    rejectUnauthorized: Type.Optional(Type.Boolean({ description: 'Check the server certificate (default true)' })),
    user: Type.Optional(Type.String({ minLength: 1 })),
    password: Type.Optional(Type.String({ minLength: 1, description: 'Stored encrypted (AES-256-GCM); never returned' })),
    from: Type.String({ minLength: 3, description: 'e.g. "Skylark <news@skylark.example>"' }),
    replyTo: Type.Optional(Type.String()),
    ratePerSecond: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10000, description: 'Messages per second at most (default 50)' })),
    maxConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, description: 'Pooled SMTP connections (default 3)' })),
  },
  { additionalProperties: false },
);
export type SmtpInputT = Static<typeof SmtpInput>;

export const CampaignInput = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    audience: Type.Object(
      {
        segmentId: Type.String({ minLength: 1 }),
        mergePolicyId: Type.Optional(Type.String({ description: 'Default: the sandbox default profile merge policy' })),
      },
      { additionalProperties: false },
    ),
    smtp: SmtpInput,
    subject: Type.String({ minLength: 1, maxLength: 998 }),
    html: Type.String({ minLength: 1, description: 'HTML body; {{path}} / {{path | fallback}} personalise, {{unsubscribeUrl}} places the unsubscribe link' }),
    defaultValue: Type.Optional(Type.String({ description: 'What a placeholder without a value renders as (default empty)' })),
    sendAt: Type.Optional(Nullable(IsoTime)),
    holdoutShare: Type.Optional(Type.Number({ minimum: 0, maximum: 0.9, description: 'Share of the audience held out (not contacted) to measure uplift, e.g. 0.1' })),
    trackingBaseUrl: Type.Optional(Type.String({ pattern: '^https?://', description: 'Public URL of this server for pixels and links (default ROUNDTRIP_PUBLIC_URL or http://127.0.0.1:8080)' })),
    attributionDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 90, description: 'Orders within this many days after an open or click (or the send, for uplift) are attributed (default 7)' })),
  },
  { additionalProperties: false },
);
export type CampaignInputT = Static<typeof CampaignInput>;

export const CampaignStatus = Type.Union([Type.Literal('draft'), Type.Literal('scheduled'), Type.Literal('sending'), Type.Literal('sent'), Type.Literal('failed')]);
export type CampaignStatusT = Static<typeof CampaignStatus>;

export const SendTotals = Type.Object({
  recipients: Type.Integer({ description: 'Audience members considered in this run' }),
  sent: Type.Integer(),
  bounced: Type.Integer(),
  heldOut: Type.Integer(),
  suppressed: Type.Integer({ description: 'Opted out of email marketing (consent n)' }),
  noAddress: Type.Integer(),
  unconfirmed: Type.Integer({ description: 'Handed to SMTP by a send that stopped before the answer was recorded; never sent again (at most once)' }),
  sending: Type.Integer({ description: 'Handed to SMTP, answer not recorded yet (a running send)' }),
});
export type SendTotalsT = Static<typeof SendTotals>;

export const CampaignView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  audience: Type.Object({ segmentId: Type.String(), mergePolicyId: Nullable(Type.String()) }),
  smtp: Type.Object({
    host: Type.String(),
    port: Type.Integer(),
    secure: Type.Boolean(),
    requireTLS: Type.Boolean(),
    rejectUnauthorized: Type.Boolean(),
    user: Nullable(Type.String()),
    hasPassword: Type.Boolean(),
    from: Type.String(),
    replyTo: Nullable(Type.String()),
    ratePerSecond: Type.Number(),
    maxConnections: Type.Integer(),
  }),
  subject: Type.String(),
  html: Type.String(),
  defaultValue: Type.String(),
  links: Type.Array(Type.String(), { description: 'The only URLs click tracking redirects to' }),
  sendAt: Nullable(Type.String()),
  holdoutShare: Type.Number(),
  trackingBaseUrl: Type.String(),
  attributionDays: Type.Integer(),
  status: CampaignStatus,
  lastSend: Nullable(
    Type.Object({
      sendId: Type.String(),
      resumedFrom: Nullable(Type.String({ description: 'The send this one resumed (it stopped, or its process died)' })),
      startedAt: Type.String(),
      endedAt: Nullable(Type.String()),
      /** From the ledger: every member handled so far, over all runs of the campaign. */
      totals: SendTotals,
      progress: Type.Object({ audience: Nullable(Type.Integer({ description: 'Realized members of the audience when the send started' })), handled: Type.Integer({ description: 'Members with a ledger row' }) }),
      error: Nullable(Type.String()),
    }),
  ),
  version: Type.Integer(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  createdBy: Type.String(),
});
export type CampaignViewT = Static<typeof CampaignView>;

export const SendResult = Type.Object({ campaignId: Type.String(), sendId: Type.String(), status: CampaignStatus, totals: SendTotals });
export type SendResultT = Static<typeof SendResult>;

/** `POST /campaigns/{id}/send` answers at once; `GET /campaigns/{id}` shows the progress under `lastSend`. */
export const SendAccepted = Type.Object({ campaignId: Type.String(), sendId: Type.String(), status: CampaignStatus, resumedFrom: Nullable(Type.String()) });
export type SendAcceptedT = Static<typeof SendAccepted>;

/** Null where a statistic cannot be estimated (an empty group, or one member: no variance). */
const Estimate = Nullable(Type.Number());
const IntervalView = Type.Object({
  difference: Estimate,
  low: Estimate,
  high: Estimate,
  standardError: Estimate,
  relative: Estimate,
});
const GroupView = Type.Object({ profiles: Type.Integer(), converters: Type.Integer(), conversionRate: Type.Number(), revenue: Type.Number(), revenuePerProfile: Type.Number() });

export const UpliftView = Type.Object({
  campaignId: Type.String(),
  windowDays: Type.Integer(),
  treated: GroupView,
  holdout: GroupView,
  conversion: IntervalView,
  revenuePerProfile: Type.Intersect([IntervalView, Type.Object({ df: Estimate })]),
  clvChange: Nullable(
    Type.Object({
      profiles: Type.Integer({ description: 'Profiles with a predicted CLV both at send time and now' }),
      treatedMeanChange: Estimate,
      holdoutMeanChange: Estimate,
      difference: Type.Intersect([IntervalView, Type.Object({ df: Estimate })]),
    }),
  ),
});
export type UpliftViewT = Static<typeof UpliftView>;

/** One response event as an external ESP (or a batch file row) sends it; see docs/campaigns.md. */
export const EspEvent = Type.Object(
  {
    id: Type.String({ minLength: 1, description: 'The ESP event id (becomes _id; resending it is a no-op)' }),
    type: Type.Union(['sent', 'delivered', 'opened', 'clicked', 'bounced', 'unsubscribed'].map((t) => Type.Literal(t))),
    timestamp: IsoTime,
    email: Type.String({ minLength: 3 }),
    campaignId: Type.String({ minLength: 1 }),
    messageId: Type.Optional(Type.String({ description: 'Roundtrip message id when the ESP passed it through (X-Roundtrip-Message)' })),
    url: Type.Optional(Type.String()),
    bounceCode: Type.Optional(Type.String({ description: 'SMTP reply code, e.g. "550 5.1.1"; 4xx is a soft bounce' })),
    userAgent: Type.Optional(Type.String()),
    ip: Type.Optional(Type.String()),
    reason: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type EspEventT = Static<typeof EspEvent>;

export const ImportBody = Type.Object({ events: Type.Array(EspEvent, { maxItems: 100000 }) }, { additionalProperties: false });
export const ImportResult = Type.Object({ received: Type.Integer(), written: Type.Integer(), consentUpdates: Type.Integer() });

export const RefreshResult = Type.Object({
  campaigns: Type.Array(Type.String(), { description: 'Campaigns whose facts were recomputed' }),
  responsesAdded: Type.Integer(),
  factRows: Type.Integer(),
  consentUpdates: Type.Integer(),
  table: Type.String({ description: 'The fact table (qsaccel.campaign_agg.fact_email_response_daily)' }),
  tablesWritten: Type.Array(Type.String(), { description: 'Store tables this refresh wrote (their cached accelerated-query results were dropped)' }),
});
export type RefreshResultT = Static<typeof RefreshResult>;

export const EspConnectionView = Type.Object({
  connectionId: Type.String(),
  endpoint: Type.String(),
  secret: Type.String({ description: 'Shown once: the ESP sends it as `Authorization: Bearer`' }),
  datasetId: Type.String(),
  schemaId: Type.String(),
});
