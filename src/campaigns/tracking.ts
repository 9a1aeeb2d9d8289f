/**
 * Roundtrip's own tracking: the open pixel, click redirects and unsubscribes behind the public `/t/*` routes.
 * A request is only acted on when its token verifies (`tokens.ts`) and names a message of the send ledger;
 * anything else is answered 404 with no hint of why, so the routes tell a prober nothing. Every response event
 * is written through the streaming log before the answer goes out (`store.ts`), so an acknowledged open or
 * click is never lost. A click redirects to the campaign's link at the token's index — never to a URL taken
 * from the request, which is what makes an open redirect impossible.
 */
import { randomBytes } from 'node:crypto';
import { isoNow, type Clock } from '../core/clock.ts';
import { RoundtripError } from '../core/errors.ts';
import { profileIdentities, unsubscribeFragment } from './consent.ts';
import { emailEvent, type EmailEventKind, type EventInput } from './events.ts';
import { privacyProxyOf } from './privacy-proxy.ts';
import type { CampaignRecord, CampaignService } from './service.ts';
import { LEDGER, type CampaignStore } from './store.ts';
import { verifyToken, type TokenKind, type TrackingToken } from './tokens.ts';

/** A transparent 1×1 GIF. */
export const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

export interface Hit {
  ip?: string;
  userAgent?: string;
}

interface Resolved {
  token: TrackingToken;
  campaign: CampaignRecord;
  email: string;
  profileId: number;
}

const notFound = () => new RoundtripError('RT_TRACKING_TOKEN_INVALID', 'This link is not valid.');

export class Tracking {
  constructor(
    private readonly deps: { store: CampaignStore; campaigns: CampaignService; keys: { tracking: Buffer }; clock: Clock; tenantKey: string },
  ) {}

  private async resolve(text: string, kind: TokenKind): Promise<Resolved> {
    const token = verifyToken(this.deps.keys.tracking, text, kind);
    if (!token) throw notFound();
    const campaign = await this.deps.campaigns.forTracking(token.sandbox, token.campaignId).catch(() => undefined);
    if (!campaign) throw notFound();
    const warehouse = await this.deps.store.warehouseOf(token.sandbox);
    const row = (await warehouse.query(`SELECT email, profile_id FROM ${LEDGER} WHERE message_id = $m AND campaign_id = $c AND NOT holdout`, { m: token.messageId, c: token.campaignId })).rows[0];
    if (!row || typeof row.email !== 'string') throw notFound();
    return { token, campaign, email: row.email, profileId: Number(row.profile_id) };
  }

  private event(r: Resolved, kind: EmailEventKind, id: string, extra: Partial<EventInput> = {}) {
    return emailEvent(this.deps.tenantKey, {
      kind,
      id,
      timestamp: isoNow(this.deps.clock),
      email: r.email,
      campaignId: r.campaign.id,
      campaignName: r.campaign.doc.name,
      audienceId: r.campaign.doc.audience.segmentId,
      messageId: r.token.messageId,
      source: 'roundtrip',
      ...extra,
    });
  }

  private hitId(r: Resolved, kind: string): string {
    return `${r.token.messageId}:${kind}:${Date.now()}:${randomBytes(4).toString('hex')}`;
  }

  async open(tokenText: string, hit: Hit): Promise<void> {
    const r = await this.resolve(tokenText.replace(/\.gif$/i, ''), 'o');
    const privacyProxy = privacyProxyOf(hit.ip, hit.userAgent);
    await this.deps.store.write(r.token.sandbox, [this.event(r, 'opened', this.hitId(r, 'opened'), { userAgent: hit.userAgent ?? null, privacyProxy })]);
  }

  /** Records the click and returns where to send the browser: the campaign's own link at the token's index. */
  async click(tokenText: string, hit: Hit): Promise<string> {
    const r = await this.resolve(tokenText, 'c');
    const url = r.campaign.doc.links[r.token.link!];
    if (url === undefined) throw notFound();
    await this.deps.store.write(r.token.sandbox, [this.event(r, 'clicked', this.hitId(r, 'clicked'), { linkURL: url, userAgent: hit.userAgent ?? null })]);
    return url;
  }

  /** Records the unsubscribe and the consent fragment in one durable log entry; idempotent per message. */
  async unsubscribe(tokenText: string, hit: Hit, reason?: string): Promise<{ email: string; campaignName: string }> {
    const r = await this.resolve(tokenText, 'u');
    const warehouse = await this.deps.store.warehouseOf(r.token.sandbox);
    const id = `${r.token.messageId}:unsubscribed`;
    const at = isoNow(this.deps.clock);
    const identities = await profileIdentities(warehouse, r.profileId, r.email);
    await this.deps.store.write(
      r.token.sandbox,
      [this.event(r, 'unsubscribed', id, { unsubscribeReason: reason?.slice(0, 200) ?? null, userAgent: hit.userAgent ?? null })],
      [unsubscribeFragment(id, identities, at)],
    );
    return { email: r.email, campaignName: r.campaign.doc.name };
  }
}
