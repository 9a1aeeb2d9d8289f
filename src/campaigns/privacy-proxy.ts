/**
 * Opens that are not people: Apple Mail Privacy Protection (MPP) loads every image of every message through
 * Apple's proxies soon after delivery, whether or not the message is read, so its "opens" say nothing. The
 * heuristic (documented in docs/campaigns.md):
 *
 * 1. the request comes from Apple's network, 17.0.0.0/8 (Apple's own allocation, where its image proxies
 *    egress), or from an extra range given in `ROUNDTRIP_MPP_CIDRS` (comma separated, IPv4 CIDR), or
 * 2. its User-Agent is exactly `Mozilla/5.0` — what the MPP fetcher sends; real mail clients send a full
 *    string with a platform and engine.
 *
 * Such opens are stored like any other with `privacyProxy = "apple-mpp"` (and `machineOpen = true`), so
 * counts can take them or leave them; clicks are never marked (the proxy does not follow links).
 */

export type PrivacyProxy = 'apple-mpp';

interface Cidr {
  base: number;
  mask: number;
}

function ipv4(text: string): number | undefined {
  const parts = text.replace(/^::ffff:/i, '').split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

export function parseCidr(text: string): Cidr | undefined {
  const [address, bits = '32'] = text.trim().split('/');
  const base = ipv4(address ?? '');
  const size = Number(bits);
  if (base === undefined || !Number.isInteger(size) || size < 0 || size > 32) return undefined;
  const mask = size === 0 ? 0 : (~0 << (32 - size)) >>> 0;
  return { base: (base & mask) >>> 0, mask };
}

const APPLE = [parseCidr('17.0.0.0/8')!];

function extraRanges(env: NodeJS.ProcessEnv): Cidr[] {
  return (env.ROUNDTRIP_MPP_CIDRS ?? '').split(',').map(parseCidr).filter((c): c is Cidr => c !== undefined);
}

export function privacyProxyOf(ip: string | undefined, userAgent: string | undefined, env: NodeJS.ProcessEnv = process.env): PrivacyProxy | null {
  if ((userAgent ?? '').trim() === 'Mozilla/5.0') return 'apple-mpp';
  const address = ip === undefined ? undefined : ipv4(ip);
  if (address !== undefined && [...APPLE, ...extraRanges(env)].some((c) => ((address & c.mask) >>> 0) === c.base)) return 'apple-mpp';
  return null;
}
