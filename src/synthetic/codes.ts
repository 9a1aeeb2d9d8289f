/**
 * The small integer codes the simulation writes into skeleton tables and the text SQL turns them into. Both
 * sides read these lists, so a code can never mean one thing in JS and another in SQL.
 */

/** Ground-truth person ids: `P` and the 0-based person index on 8 digits (`P00000042`). */
export const PERSON_ID_DIGITS = 8;
export const personId = (pid: number): string => `P${String(pid).padStart(PERSON_ID_DIGITS, '0')}`;

export const CHANNELS = ['web', 'app', 'store'] as const;
export const CHANNEL = { web: 0, app: 1, store: 2 } as const;

export const GENDERS = ['female', 'male', 'not_specified'] as const;
/** Gender left empty on the profile. */
export const GENDER_MISSING = 3;

/** Consent values of XDM's consents field group; 0 = not collected (the field is absent). */
export const CONSENT_VALUES = ['', 'y', 'n'] as const;
export const CONSENT = { missing: 0, yes: 1, no: 2 } as const;

/** How a duplicate account can be tied back to its person. */
export const DUP_LINKS = ['none', 'email_case', 'phone'] as const;
export const DUP_LINK = { none: 0, emailCase: 1, phone: 2 } as const;

/** Phone formats: 0 = no phone. */
export const PHONE = { none: 0, e164: 1, parenthesised: 2, dashed: 3 } as const;

/** Web and app event types, by code. */
export const WEB_EVENT_TYPES = [
  'web.webpagedetails.pageViews',
  'commerce.productViews',
  'commerce.productListAdds',
  'commerce.checkouts',
  'userAccount.login',
] as const;
export const WEB = { pageView: 0, productView: 1, productAdd: 2, checkout: 3, login: 4 } as const;

/** Email response event types (`reference/adobe-reference.md` §13), by code. */
export const EMAIL_EVENT_TYPES = [
  'directMarketing.emailSent',
  'directMarketing.emailDelivered',
  'directMarketing.emailOpened',
  'directMarketing.emailClicked',
  'directMarketing.emailBounced',
  'directMarketing.emailUnsubscribed',
] as const;
export const EMAIL = { sent: 0, delivered: 1, opened: 2, clicked: 3, bounced: 4, unsubscribed: 5 } as const;

/** Loyalty ledger rows. AWARD_MILES are spendable, STATUS_MILES decide the tier. */
export const LOYALTY = { newMember: 0, awardOrder: 1, statusOrder: 2, redemption: 3, creditCard: 4 } as const;

/**
 * An email address is packed into one integer so every skeleton row that needs it carries 4 bytes, not a
 * string: bits 0-7 first name (index into FEMALE_NAMES ++ MALE_NAMES), 8-15 last name, 16-19 domain,
 * 20-23 pattern, 24-25 case (0 lower, 1 capitalised, 2 upper, 3 no email). SQL unpacks it in `rt_email`.
 */
export const EMAIL_CASE = { lower: 0, capitalised: 1, upper: 2, none: 3 } as const;
/** first.last, firstlast, f.last, first_last (`render.ts` spells them out). */
export const EMAIL_PATTERNS = 4;

export function packEmail(first: number, last: number, domain: number, pattern: number, letterCase: number): number {
  return first | (last << 8) | (domain << 16) | (pattern << 20) | (letterCase << 24);
}

export function withEmailCase(packed: number, letterCase: number): number {
  return (packed & 0x00ff_ffff) | (letterCase << 24);
}

export const emailCaseOf = (packed: number): number => (packed >>> 24) & 3;
