/**
 * Message templates: the subject and HTML body of a campaign with profile personalisation.
 *
 * - `{{person.name.firstName}}` is replaced by that field of the recipient's merged profile (any XDM path of
 *   the profile table, tenant fields included: `{{_roundtrip.loyaltyStatus}}`), HTML-escaped in the body;
 *   `{{person.name.firstName | there}}` gives a fallback when the profile has no value, else the campaign's
 *   `defaultValue` (empty by default). A value is never interpreted as a template or as HTML.
 * - Every `href` to an http(s) URL becomes a click-tracking URL: the links are taken from the template once,
 *   when the campaign is saved, and stored with it; the click route redirects only to an entry of that list.
 *   Placeholders inside such an `href` are refused, for the same reason (the target must be known up front).
 * - `{{unsubscribeUrl}}` is the recipient's unsubscribe link; without it a footer with the link is added.
 * - The open-tracking pixel is added before `</body>` (or at the end).
 */
import { RoundtripError } from '../core/errors.ts';

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.]*)\s*(?:\|\s*([^}]*?)\s*)?\}\}/g;
const HREF = /(\bhref\s*=\s*)(["'])(.*?)\2/gis;
export const UNSUBSCRIBE_PLACEHOLDER = 'unsubscribeUrl';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const tracked = (url: string): boolean => /^https?:\/\//i.test(url.trim());

/** Entities the template author may have used inside an href (`&amp;`): the stored link is the decoded URL. */
function decodeAttribute(value: string): string {
  return value.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").trim();
}

/** The distinct http(s) links of a body, in order of first appearance; refuses personalised ones. */
export function extractLinks(html: string): string[] {
  const links: string[] = [];
  for (const match of html.matchAll(HREF)) {
    const raw = match[3]!;
    if (!tracked(raw)) continue;
    if (raw.includes('{{')) {
      throw new RoundtripError('RT_CAMPAIGN_INVALID', `Tracked links cannot hold placeholders (the click redirect only goes to links known when the campaign is saved): ${raw}`, { link: raw });
    }
    const url = decodeAttribute(raw);
    try {
      new URL(url);
    } catch {
      throw new RoundtripError('RT_CAMPAIGN_INVALID', `The body links to something that is not a URL: ${raw}`, { link: raw });
    }
    if (!links.includes(url)) links.push(url);
  }
  return links;
}

/** Throws RT_CAMPAIGN_INVALID for a template that cannot render (bad placeholders, bad links). */
export function checkTemplate(subject: string, html: string): string[] {
  for (const text of [subject, html]) {
    const stripped = text.replace(PLACEHOLDER, '');
    if (stripped.includes('{{')) throw new RoundtripError('RT_CAMPAIGN_INVALID', 'A `{{` in the template does not start a placeholder of the form {{path}} or {{path | fallback}}.');
  }
  return extractLinks(html);
}

/** The value at a dotted path of the profile, as text; undefined when missing, null or not a scalar. */
export function lookup(profile: Record<string, unknown>, path: string): string | undefined {
  let value: unknown = profile;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export interface RenderUrls {
  /** Tracking URL of link i of the campaign's list. */
  click(index: number): string;
  open: string;
  unsubscribe: string;
}

export interface RenderInput {
  subject: string;
  html: string;
  links: readonly string[];
  defaultValue: string;
}

/** Fills placeholders of `text`; `escape` for HTML. The unsubscribe placeholder is left to the caller. */
function fill(text: string, profile: Record<string, unknown>, defaultValue: string, escape: boolean): string {
  return text.replace(PLACEHOLDER, (whole, path: string, fallback: string | undefined) => {
    if (path === UNSUBSCRIBE_PLACEHOLDER) return whole;
    const value = lookup(profile, path) ?? fallback ?? defaultValue;
    return escape ? escapeHtml(value) : value;
  });
}

export function renderMessage(template: RenderInput, profile: Record<string, unknown>, urls: RenderUrls): { subject: string; html: string } {
  const subject = fill(template.subject, profile, template.defaultValue, false).replace(/[\r\n]+/g, ' ');
  // Links first: a profile value can never become (part of) an href, because hrefs are rewritten before filling.
  let html = template.html.replace(HREF, (whole, prefix: string, quote: string, raw: string) => {
    if (!tracked(raw)) return whole;
    const index = template.links.indexOf(decodeAttribute(raw));
    return index < 0 ? whole : `${prefix}${quote}${urls.click(index)}${quote}`;
  });
  html = fill(html, profile, template.defaultValue, true);
  const unsubscribe = new RegExp(`\\{\\{\\s*${UNSUBSCRIBE_PLACEHOLDER}\\s*(?:\\|[^}]*)?\\}\\}`, 'g');
  if (unsubscribe.test(html)) html = html.replace(unsubscribe, urls.unsubscribe);
  else html = insertBeforeBodyEnd(html, `<p style="font-size:12px;color:#666"><a href="${urls.unsubscribe}">Unsubscribe</a></p>`);
  html = insertBeforeBodyEnd(html, `<img src="${urls.open}" width="1" height="1" alt="" style="display:block;border:0">`);
  return { subject, html };
}

function insertBeforeBodyEnd(html: string, snippet: string): string {
  const at = html.search(/<\/body\s*>/i);
  return at < 0 ? `${html}${snippet}` : `${html.slice(0, at)}${snippet}${html.slice(at)}`;
}
