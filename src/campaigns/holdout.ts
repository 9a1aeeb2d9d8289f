/**
 * Holdout assignment: a profile is held out of a campaign when the hash of (campaign id, profile id) falls
 * under the campaign's holdout share. The hash makes the split random with respect to everything about the
 * person, and reproducible: sending again, resuming a send, or recomputing the split in an analysis gives the
 * same groups, and two campaigns split the same audience independently.
 */
import { createHash } from 'node:crypto';

/** A uniform number in [0, 1) from SHA-256 of `campaignId:profileId` (first 52 bits). */
export function holdoutDraw(campaignId: string, profileId: number | string): number {
  const digest = createHash('sha256').update(`${campaignId}:${profileId}`).digest();
  const high = digest.readUInt32BE(0) >>> 0;
  const low = digest.readUInt32BE(4) >>> 12; // 20 bits
  return (high * 2 ** 20 + low) / 2 ** 52;
}

export function isHeldOut(campaignId: string, profileId: number | string, share: number): boolean {
  return share > 0 && holdoutDraw(campaignId, profileId) < share;
}
