/**
 * The simulation of one person of the synthetic brand, written as skeleton rows: profile attributes and
 * duplicate accounts, devices, the BG/NBD + Gamma-Gamma transaction process, the loyalty ledger, web and app
 * sessions around the transactions, and email campaign responses.
 *
 * Every aspect of a person draws from its own counter-based stream (`random.ts`), so person i's data depends
 * only on (seed, i) and the options, never on the people generated before it.
 */
import {
  CHANNEL,
  CONSENT,
  DUP_LINK,
  EMAIL,
  EMAIL_CASE,
  EMAIL_PATTERNS,
  GENDER_MISSING,
  LOYALTY,
  PHONE,
  WEB,
  packEmail,
  withEmailCase,
} from './codes.ts';
import type { ResolvedOptions } from './options.ts';
import { Rng, cumulative } from './random.ts';
import { NONE, NO_DATE, type Skeleton } from './skeleton.ts';
import { CITIES, DEVICE_MODELS, DEVICE_TYPES, EMAIL_DOMAINS, FEMALE_NAMES, LAST_NAMES, MALE_NAMES, PAGES, PRODUCTS, REFERRERS, STORES, STREETS } from './vocabulary.ts';

export const WEEK = 604_800;
export const DAY = 86_400;
/** A customer's transactions stop here (never reached with the default parameters; documented as a cap). */
export const MAX_ORDERS = 5_000;
/** Own devices per person: 1, 2, 3 or 4 with these weights. */
export const DEVICE_COUNT_WEIGHTS = [45, 32, 16, 7];
/** Slot of the household tablet in the even person's device ids (own devices use slots 0-3). */
export const SHARED_SLOT = 4;
export const DEVICE_SLOTS = 5;
export const DEVICE = { desktop: 0, mobile: 1, tablet: 2 } as const;
/** STATUS_MILES needed for FREQUENT, SILVER and GOLD; AWARD_MILES multiplier per tier. */
export const TIER_THRESHOLDS = [0, 3_000, 10_000, 25_000];
export const AWARD_MULTIPLIER = [1, 1.25, 1.5, 2];
export const MILES = { newMember: 500, creditCard: 10_000, statusPerDollar: 20, awardPerDollar: 10, redemption: 5_000 } as const;
/** The first purchase comes 20-40 minutes after sign-up: the sign-up session (login, browsing, checkout) fits before it. */
const FIRST_ORDER_DELAY = 1_200;

/** Independent stream families: one per aspect of a person, plus households and campaigns. */
const ASPECT = { profile: 0, process: 1, devices: 2, orders: 3, loyalty: 4, web: 5, email: 6, household: 7 } as const;
const ASPECTS = 8;

export interface Window {
  /** Epoch seconds, UTC; the window is [start, end). */
  start: number;
  end: number;
}

export interface Campaign {
  index: number;
  /** Send time, epoch seconds. */
  ts: number;
}

/** Global device id → ECID: own devices are pid·5 + slot, the household tablet is (pid & ~1)·5 + 4. */
export const deviceId = (pid: number, slot: number): number => pid * DEVICE_SLOTS + slot;
export const sharedDeviceId = (pid: number): number => (pid - (pid % 2)) * DEVICE_SLOTS + SHARED_SLOT;

const GENDER_WEIGHTS = cumulative([49, 49, 2]);
const DOMAIN_WEIGHTS = cumulative(EMAIL_DOMAINS.map(([, w]) => w));
const CHANNEL_WEIGHTS = cumulative([55, 25, 20]);
const DEVICE_COUNT = cumulative(DEVICE_COUNT_WEIGHTS);
const NAME_COUNT = FEMALE_NAMES.length + MALE_NAMES.length;
/** Not collected, yes, no. */
const SMS_CONSENT_WEIGHTS = cumulative([15, 30, 55]);
const MODEL_COUNTS = DEVICE_TYPES.map((t) => DEVICE_MODELS[t].length);

interface Person {
  pid: number;
  gender: number;
  genderField: number;
  first: number;
  last: number;
  birth: number;
  email: number;
  phone: number;
  streetNo: number;
  street: number;
  city: number;
  zip: number;
  channel: number;
  signup: number;
  customer: boolean;
  emailConsent: number;
  consentTs: number;
  smsConsent: number;
  badEmail: boolean;
  dup: boolean;
  dupCreated: number;
  dupChannel: number;
  dupLink: number;
  dupEmail: number;
  dupPhone: number;
  lambda: number;
  dropout: number;
  nu: number;
  died: boolean;
  ownDevices: number;
  shared: boolean;
  tier: [number, number];
  points: [number, number];
}

/** One scratch session, laid out before it is written so sessions can be merged by start time. */
interface Session {
  start: number;
  first: number;
  count: number;
  device: number;
  channel: number;
  acct: number;
  ref: number;
}

const STATUS = 0;
const AWARD = 2;
const byStart = (x: Session, y: Session): number => x.start - y.start;
const spendCents = (rng: Rng, shape: number, nu: number): number => Math.max(1, Math.round(rng.gamma(shape, nu) * 100));

const tierFor = (status: number): number => (status >= TIER_THRESHOLDS[3]! ? 3 : status >= TIER_THRESHOLDS[2]! ? 2 : status >= TIER_THRESHOLDS[1]! ? 1 : 0);

export class BrandSimulator {
  private readonly rng: Rng;
  private readonly household: Rng;
  // Per-person scratch, reused so the hot loop allocates little.
  private orderCount = 0;
  private readonly orderTs = new Float64Array(MAX_ORDERS);
  private readonly orderCents = new Int32Array(MAX_ORDERS);
  private readonly orderChannel = new Uint8Array(MAX_ORDERS);
  private readonly orderDevice = new Int8Array(MAX_ORDERS);
  private readonly orderAcct = new Uint8Array(MAX_ORDERS);
  private readonly orderStore = new Uint8Array(MAX_ORDERS);
  private readonly orderItems = new Uint8Array(MAX_ORDERS);
  private readonly orderSku = new Uint16Array(MAX_ORDERS * 3);
  private readonly orderLine = new Int32Array(MAX_ORDERS * 3);
  private devices: number[] = [];
  private deviceTypes: number[] = [];
  private deviceModels: number[] = [];
  private readonly evTs: number[] = [];
  private readonly evKind: number[] = [];
  private readonly evProduct: number[] = [];
  private readonly evCents: number[] = [];
  private readonly evOrder: number[] = [];
  private readonly evAuth: number[] = [];
  private sessions: Session[] = [];
  /** Miles per account: STATUS at [0, 1], AWARD at [2, 3]. */
  private readonly ledger = new Float64Array(4);
  private ledgerSeq = 0;
  private extraCount = 0;
  private readonly extraTs = new Float64Array(3);
  private readonly extraAcct = new Uint8Array(3);
  private readonly extraKind = new Uint8Array(3);
  private readonly extraMiles = new Int32Array(3);
  private readonly times: number[] = [];
  private readonly kinds: number[] = [];

  constructor(
    private readonly options: ResolvedOptions,
    private readonly window: Window,
    private readonly campaigns: readonly Campaign[],
    private readonly out: Skeleton,
  ) {
    this.rng = new Rng(options.seed, ASPECTS);
    this.household = new Rng(options.seed, ASPECTS);
  }

  /** Simulates people [from, to) into the skeleton tables. */
  simulate(from: number, to: number): void {
    for (let pid = from; pid < to; pid++) this.person(pid);
  }

  private person(pid: number): void {
    const p = this.drawProfile(pid);
    this.drawDevices(p);
    this.drawProcess(p);
    this.drawOrderDetails(p);
    this.writeOrders(p);
    this.writeLoyalty(p);
    this.writeWeb(p);
    this.writeEmail(p);
    this.writeAccounts(p);
    this.writePerson(p);
  }

  // Profile ------------------------------------------------------------------------------------------------

  private drawProfile(pid: number): Person {
    const rng = this.rng.reseed(pid, ASPECT.profile);
    const { rates } = this.options;
    const { start, end } = this.window;
    const gender = rng.pick(GENDER_WEIGHTS);
    const first = gender === 0 ? rng.int(FEMALE_NAMES.length) : gender === 1 ? FEMALE_NAMES.length + rng.int(MALE_NAMES.length) : rng.int(NAME_COUNT);
    const last = rng.int(LAST_NAMES.length);
    const genderField = rng.chance(0.05) ? GENDER_MISSING : gender;
    const ageDays = Math.floor((18 + 62 * ((rng.uniform() + rng.uniform()) / 2)) * 365.25);
    const birth = rng.chance(0.75) ? Math.floor(end / DAY) - ageDays : NO_DATE;
    const letterCase = rng.chance(rates.mixedCaseEmailRate) ? (rng.chance(0.7) ? EMAIL_CASE.capitalised : EMAIL_CASE.upper) : EMAIL_CASE.lower;
    const email = packEmail(first, last, rng.pick(DOMAIN_WEIGHTS), rng.int(EMAIL_PATTERNS), letterCase);
    const hasAddress = rng.chance(0.88);
    const streetNo = hasAddress ? 1 + rng.int(9_999) : 0;
    const street = rng.int(STREETS.length);
    const city = rng.int(CITIES.length);
    const zip = rng.int(100);
    const channel = rng.pick(CHANNEL_WEIGHTS);
    const signup = start + rng.int(end - start - 2 * FIRST_ORDER_DELAY - 60);
    const customer = !rng.chance(rates.prospectShare);
    const emailConsent = rng.chance(rates.emailConsentRate) ? CONSENT.yes : rng.chance(0.2) ? CONSENT.missing : CONSENT.no;
    const smsConsent = rng.pick(SMS_CONSENT_WEIGHTS);
    const badEmail = rng.chance(rates.badEmailRate);
    const dup = rng.chance(rates.duplicateRate);
    const dupCreated = signup + rng.int(Math.max(1, end - signup - 60));
    const dupLink = rng.chance(0.6) ? DUP_LINK.emailCase : DUP_LINK.phone;
    const phoneDrawn = rng.chance(0.8) ? 1 + rng.int(3) : PHONE.none;
    const dupPhone = 1 + rng.int(3);
    // A duplicate tied by phone needs a phone on the first account.
    const phone = dup && dupLink === DUP_LINK.phone && phoneDrawn === PHONE.none ? PHONE.e164 : phoneDrawn;
    const dupEmail = dupLink === DUP_LINK.emailCase ? withEmailCase(email, letterCase === EMAIL_CASE.lower ? EMAIL_CASE.capitalised : EMAIL_CASE.lower) : withEmailCase(email, EMAIL_CASE.none);
    return {
      pid, gender, genderField, first, last, birth, email, phone, streetNo, street, city, zip, channel, signup, customer,
      emailConsent, consentTs: signup, smsConsent, badEmail,
      dup, dupCreated, dupChannel: channel === CHANNEL.store ? CHANNEL.web : CHANNEL.store, dupLink: dup ? dupLink : DUP_LINK.none, dupEmail, dupPhone,
      lambda: 0, dropout: 0, nu: 0, died: false, ownDevices: 0, shared: false, tier: [0, 0], points: [0, 0],
    };
  }

  /** Own devices (1-4) and, for some households, a tablet shared by people 2k and 2k+1. */
  private drawDevices(p: Person): void {
    const rng = this.rng.reseed(p.pid, ASPECT.devices);
    const count = 1 + rng.pick(DEVICE_COUNT);
    this.devices = [];
    this.deviceTypes = [];
    this.deviceModels = [];
    for (let slot = 0; slot < count; slot++) {
      // The first device is a phone for people who joined in the app; later devices lean to phones and tablets.
      const type =
        slot === 0 ? (p.channel === CHANNEL.app || rng.chance(0.45) ? DEVICE.mobile : DEVICE.desktop)
        : slot === 1 ? (this.deviceTypes[0] === DEVICE.desktop ? DEVICE.mobile : rng.chance(0.6) ? DEVICE.desktop : DEVICE.tablet)
        : rng.chance(0.5) ? DEVICE.tablet : DEVICE.mobile;
      this.devices.push(deviceId(p.pid, slot));
      this.deviceTypes.push(type);
      this.deviceModels.push(rng.int(MODEL_COUNTS[type]!));
    }
    p.ownDevices = count;
    const household = this.household.reseed(p.pid >> 1, ASPECT.household);
    const partnerExists = (p.pid | 1) < this.options.profiles;
    p.shared = household.chance(this.options.rates.sharedDeviceRate) && partnerExists;
    if (p.shared) {
      this.devices.push(sharedDeviceId(p.pid));
      this.deviceTypes.push(DEVICE.tablet);
      this.deviceModels.push(household.int(MODEL_COUNTS[DEVICE.tablet]!));
    }
  }

  // Transactions -------------------------------------------------------------------------------------------

  /**
   * BG/NBD: λ ~ Gamma(r, α) per week, p ~ Beta(a, b); the first purchase follows sign-up; while active,
   * inter-purchase times are Exp(λ); after each repeat purchase the customer drops out with probability p.
   * Gamma-Gamma: ν ~ Gamma(q, γ), each transaction value z ~ Gamma(p, ν).
   */
  private drawProcess(p: Person): void {
    const rng = this.rng.reseed(p.pid, ASPECT.process);
    const { r, alpha, a, b } = this.options.bgnbd;
    const gg = this.options.gammaGamma;
    p.lambda = rng.gamma(r, alpha);
    p.dropout = rng.beta(a, b);
    p.nu = rng.gamma(gg.q, gg.gamma);
    this.orderCount = 0;
    if (!p.customer) return;
    let t = p.signup + FIRST_ORDER_DELAY + rng.int(FIRST_ORDER_DELAY);
    this.addOrder(t, spendCents(rng, gg.p, p.nu));
    for (;;) {
      t += rng.exponential(p.lambda) * WEEK;
      if (!(t < this.window.end) || this.orderCount === MAX_ORDERS) break;
      this.addOrder(Math.floor(t), spendCents(rng, gg.p, p.nu));
      if (rng.chance(p.dropout)) {
        p.died = true;
        break;
      }
    }
  }

  private addOrder(ts: number, cents: number): void {
    this.orderTs[this.orderCount] = ts;
    this.orderCents[this.orderCount] = cents;
    this.orderCount++;
  }

  /** Channel, device, account and basket of every transaction. */
  private drawOrderDetails(p: Person): void {
    const rng = this.rng.reseed(p.pid, ASPECT.orders);
    const storeShare = p.channel === CHANNEL.store ? 0.6 : 0.1;
    const homeStore = rng.int(STORES);
    const handhelds = this.deviceTypes.includes(DEVICE.mobile) || this.deviceTypes.includes(DEVICE.tablet);
    for (let k = 0; k < this.orderCount; k++) {
      // The first purchase happens where the person signed up.
      const channel = k === 0 ? p.channel : rng.chance(storeShare) ? CHANNEL.store : handhelds && rng.chance(0.35) ? CHANNEL.app : CHANNEL.web;
      this.orderChannel[k] = channel;
      this.orderDevice[k] = channel === CHANNEL.store ? NONE : this.pickDevice(rng, channel === CHANNEL.app);
      this.orderAcct[k] = this.accountFor(p, channel, this.orderTs[k]!);
      this.orderStore[k] = channel !== CHANNEL.store ? 0 : rng.chance(0.8) ? homeStore : rng.int(STORES);
      this.drawBasket(rng, k);
    }
  }

  /** A device index: the first device is the usual one on the web; the app runs on phones and tablets. */
  private pickDevice(rng: Rng, handheldOnly: boolean): number {
    if (!handheldOnly) return rng.chance(0.6) ? 0 : rng.int(this.devices.length);
    let handhelds = 0;
    for (const type of this.deviceTypes) if (type !== DEVICE.desktop) handhelds++;
    let nth = rng.int(handhelds);
    for (let i = 0; i < this.deviceTypes.length; i++) if (this.deviceTypes[i] !== DEVICE.desktop && nth-- === 0) return i;
    throw new Error('no handheld device');
  }

  /** The duplicate account is used in its own channel, from an hour after it was opened. */
  private accountFor(p: Person, channel: number, ts: number): number {
    return p.dup && channel === p.dupChannel && ts >= p.dupCreated + 3_600 ? 1 : 0;
  }

  /** 1-3 lines whose prices add up exactly to the transaction value. */
  private drawBasket(rng: Rng, k: number): void {
    const total = this.orderCents[k]!;
    let items = 1 + (rng.chance(0.35) ? 1 : 0) + (rng.chance(0.12) ? 1 : 0);
    if (total < items) items = 1;
    this.orderItems[k] = items;
    const w0 = 0.5 + rng.uniform();
    const w1 = 0.5 + rng.uniform();
    const w2 = 0.5 + rng.uniform();
    const sum = w0 + (items > 1 ? w1 : 0) + (items > 2 ? w2 : 0);
    let left = total;
    for (let j = 0; j < items; j++) {
      const rest = items - 1 - j;
      const weight = j === 0 ? w0 : j === 1 ? w1 : w2;
      const line = j === items - 1 ? left : Math.min(left - rest, Math.max(1, Math.floor((total * weight) / sum)));
      this.orderSku[k * 3 + j] = rng.int(PRODUCTS.length);
      this.orderLine[k * 3 + j] = line;
      left -= line;
    }
  }

  private writeOrders(p: Person): void {
    const { s_orders: table } = this.out;
    const c = table.cols;
    for (let k = 0; k < this.orderCount; k++) {
      const row = table.next();
      c.pid[row] = p.pid;
      c.acct[row] = this.orderAcct[k]!;
      c.seq[row] = k;
      c.ts[row] = this.orderTs[k]!;
      c.channel[row] = this.orderChannel[k]!;
      c.dev[row] = this.orderDevice[k] === NONE ? NONE : this.devices[this.orderDevice[k]!]!;
      c.store[row] = this.orderStore[k]!;
      c.items[row] = this.orderItems[k]!;
      c.total[row] = this.orderCents[k]!;
      c.sku1[row] = this.orderSku[k * 3]!;
      c.sku2[row] = this.orderSku[k * 3 + 1]!;
      c.sku3[row] = this.orderSku[k * 3 + 2]!;
      c.cents1[row] = this.orderLine[k * 3]!;
      c.cents2[row] = this.orderLine[k * 3 + 1]!;
      c.cents3[row] = this.orderLine[k * 3 + 2]!;
    }
  }

  // Loyalty ------------------------------------------------------------------------------------------------

  /**
   * The ledger of each account, in time order: a welcome bonus, AWARD_MILES and STATUS_MILES per transaction,
   * some reward redemptions and a co-branded credit card bonus. The tier follows lifetime STATUS_MILES.
   */
  private writeLoyalty(p: Person): void {
    const rng = this.rng.reseed(p.pid, ASPECT.loyalty);
    this.ledger.fill(0);
    this.ledgerSeq = 0;
    this.extraCount = 0;
    this.addExtra(p.signup, 0, LOYALTY.newMember, MILES.newMember);
    if (p.dup) this.addExtra(p.dupCreated, 1, LOYALTY.newMember, MILES.newMember);
    if (rng.chance(0.05)) this.addExtra(p.signup + rng.int(this.window.end - p.signup), 0, LOYALTY.creditCard, MILES.creditCard);
    let e = 0;
    for (let k = 0; k < this.orderCount; k++) {
      const ts = this.orderTs[k]!;
      for (; e < this.extraCount && this.extraTs[e]! <= ts; e++) this.emitLedger(p, this.extraAcct[e]!, this.extraTs[e]!, this.extraKind[e]!, this.extraMiles[e]!, 0);
      const acct = this.orderAcct[k]!;
      const dollars = Math.floor(this.orderCents[k]! / 100);
      this.emitLedger(p, acct, ts, LOYALTY.awardOrder, Math.round(dollars * MILES.awardPerDollar * AWARD_MULTIPLIER[p.tier[acct]!]!), k);
      this.emitLedger(p, acct, ts, LOYALTY.statusOrder, dollars * MILES.statusPerDollar, k);
      if (this.ledger[AWARD + acct]! >= MILES.redemption && rng.chance(0.25) && ts + 60 < this.window.end) {
        this.emitLedger(p, acct, ts + 60, LOYALTY.redemption, -MILES.redemption, k);
      }
    }
    for (; e < this.extraCount; e++) this.emitLedger(p, this.extraAcct[e]!, this.extraTs[e]!, this.extraKind[e]!, this.extraMiles[e]!, 0);
    p.points = [this.ledger[AWARD]!, this.ledger[AWARD + 1]!];
  }

  /** Keeps the (at most three) non-order ledger rows sorted by time. */
  private addExtra(ts: number, acct: number, kind: number, miles: number): void {
    let i = this.extraCount++;
    for (; i > 0 && this.extraTs[i - 1]! > ts; i--) {
      this.extraTs[i] = this.extraTs[i - 1]!;
      this.extraAcct[i] = this.extraAcct[i - 1]!;
      this.extraKind[i] = this.extraKind[i - 1]!;
      this.extraMiles[i] = this.extraMiles[i - 1]!;
    }
    this.extraTs[i] = ts;
    this.extraAcct[i] = acct;
    this.extraKind[i] = kind;
    this.extraMiles[i] = miles;
  }

  private emitLedger(p: Person, acct: number, ts: number, kind: number, miles: number, orderSeq: number): void {
    const spendable = kind === LOYALTY.awardOrder || kind === LOYALTY.redemption;
    const slot = (spendable ? AWARD : STATUS) + acct;
    this.ledger[slot] = this.ledger[slot]! + miles;
    p.tier[acct] = tierFor(this.ledger[STATUS + acct]!);
    const { s_loyalty: table } = this.out;
    const c = table.cols;
    const row = table.next();
    c.pid[row] = p.pid;
    c.acct[row] = acct;
    c.seq[row] = this.ledgerSeq++;
    c.ts[row] = ts;
    c.kind[row] = kind;
    c.miles[row] = miles;
    c.tier[row] = p.tier[acct]!;
    c.order_seq[row] = orderSeq;
    c.email[row] = acct === 0 ? p.email : p.dupEmail;
  }

  // Web and app --------------------------------------------------------------------------------------------

  /**
   * Sessions: one before every online transaction (login, product views, adds to cart, checkout) and browsing
   * sessions (pages, product views, some abandoned carts), some before sign-up and so anonymous. Events carry the device's ECID; only a login adds the CRM id,
   * so a cross-device link appears exactly when a person logs in on a device.
   */
  private writeWeb(p: Person): void {
    const rng = this.rng.reseed(p.pid, ASPECT.web);
    this.evTs.length = this.evKind.length = this.evProduct.length = this.evCents.length = this.evOrder.length = this.evAuth.length = 0;
    const purchases: Session[] = [];
    for (let k = 0; k < this.orderCount; k++) if (this.orderChannel[k] !== CHANNEL.store) purchases.push(this.purchaseSession(rng, k));
    const online = purchases.length;
    const browse: Session[] = [];
    const from = Math.max(this.window.start, p.signup - 30 * DAY);
    const lastActive = p.customer ? (p.died ? this.orderTs[this.orderCount - 1]! + 60 * DAY : this.window.end) : p.signup + 120 * DAY;
    const to = Math.min(this.window.end - 3_600, lastActive);
    const count = Math.min(40, rng.poisson(0.3 + 0.15 * online));
    for (let s = 0; s < count && to > from; s++) browse.push(this.browseSession(rng, p, from + rng.int(to - from)));
    browse.sort(byStart);
    this.sessions = mergeByStart(purchases, browse);
    this.emitSessions(p);
  }

  private pushEvent(ts: number, kind: number, auth: number, product = 0, cents = 0, order = NONE): void {
    this.evTs.push(ts);
    this.evKind.push(kind);
    this.evAuth.push(auth);
    this.evProduct.push(product);
    this.evCents.push(cents);
    this.evOrder.push(order);
  }

  private purchaseSession(rng: Rng, k: number): Session {
    const first = this.evTs.length;
    const items = this.orderItems[k]!;
    const kinds = this.kinds;
    const times = this.times;
    kinds.length = 0;
    kinds.push(WEB.login);
    for (let j = 0; j < items; j++) kinds.push(WEB.productView);
    for (let j = 0; j < items; j++) kinds.push(WEB.productAdd);
    kinds.push(WEB.checkout);
    const n = kinds.length;
    times.length = n;
    // The session ends 10-60 s before the order. It lasts at most ~17 minutes and the first order comes 20-40
    // minutes after sign-up, so even the first login follows the sign-up.
    times[n - 1] = this.orderTs[k]! - rng.between(10, 60);
    for (let j = n - 2; j >= 0; j--) times[j] = times[j + 1]! - rng.between(15, 120);
    this.pushEvent(times[0]!, WEB.login, 1);
    // Each bought product is viewed, then each is added to the cart (browsing sessions hold the other pages).
    for (let j = 0; j < 2 * items; j++) {
      const line = k * 3 + (j % items);
      const sku = this.orderSku[line]!;
      const cents = this.orderLine[line]!;
      this.pushEvent(times[1 + j]!, j < items ? WEB.productView : WEB.productAdd, 1, sku, cents);
    }
    const total = this.orderCents[k]!;
    this.pushEvent(times[n - 1]!, WEB.checkout, 1, 0, total, k);
    return {
      start: times[0]!,
      first,
      count: n,
      device: this.orderDevice[k]!,
      channel: this.orderChannel[k]!,
      acct: this.orderAcct[k]!,
      ref: rng.chance(0.5) ? 0 : 1 + rng.int(REFERRERS.length - 1),
    };
  }

  private browseSession(rng: Rng, p: Person, start: number): Session {
    const first = this.evTs.length;
    const device = rng.int(this.devices.length);
    const channel = this.deviceTypes[device] !== DEVICE.desktop && rng.chance(0.4) ? CHANNEL.app : CHANNEL.web;
    // Nobody can log in before the account exists; before sign-up a device is anonymous.
    const login = start >= p.signup && rng.chance(0.15);
    const pages = 1 + Math.min(7, rng.poisson(1));
    let t = start;
    let auth = 0;
    let lastProduct = -1;
    for (let j = 0; j < pages; j++) {
      this.pushEvent(t, WEB.pageView, auth, rng.int(PAGES.length));
      t += rng.between(10, 120);
      if (j === 0 && login) {
        auth = 1;
        this.pushEvent(t, WEB.login, auth);
        t += rng.between(10, 60);
      }
      if (rng.chance(0.6)) {
        lastProduct = rng.int(PRODUCTS.length);
        this.pushEvent(t, WEB.productView, auth, lastProduct, PRODUCTS[lastProduct]!.cents);
        t += rng.between(15, 180);
      }
    }
    if (lastProduct >= 0 && rng.chance(0.12)) this.pushEvent(t, WEB.productAdd, auth, lastProduct, PRODUCTS[lastProduct]!.cents);
    return {
      start,
      first,
      count: this.evTs.length - first,
      device,
      channel,
      acct: this.accountFor(p, channel, start),
      ref: rng.chance(0.4) ? 0 : 1 + rng.int(REFERRERS.length - 1),
    };
  }

  private emitSessions(p: Person): void {
    const { s_web: table } = this.out;
    const c = table.cols;
    let seq = 0;
    for (let number = 0; number < this.sessions.length; number++) {
      const s = this.sessions[number]!;
      for (let j = s.first; j < s.first + s.count; j++) {
        const row = table.next();
        c.pid[row] = p.pid;
        c.seq[row] = seq++;
        c.ts[row] = this.evTs[j]!;
        c.kind[row] = this.evKind[j]!;
        c.dev[row] = this.devices[s.device]!;
        c.devtype[row] = this.deviceTypes[s.device]!;
        c.model[row] = this.deviceModels[s.device]!;
        c.auth[row] = this.evAuth[j]!;
        c.acct[row] = s.acct;
        c.sess[row] = number;
        c.channel[row] = s.channel;
        c.page[row] = this.evKind[j] === WEB.pageView ? this.evProduct[j]! : 0;
        c.product[row] = this.evProduct[j]!;
        c.cents[row] = this.evCents[j]!;
        c.order_seq[row] = this.evOrder[j]!;
        c.ref[row] = j === s.first ? s.ref : 0;
      }
    }
  }

  // Email --------------------------------------------------------------------------------------------------

  /**
   * Campaigns go to consenting people who signed up before the send and were not suppressed (hard bounce or
   * unsubscribe). Opens and clicks rise with the person's true value: e = 1 − exp(−26λ), the chance of at
   * least one purchase in half a year while active, and fall sharply once the customer has dropped out.
   */
  private writeEmail(p: Person): void {
    if (p.emailConsent !== CONSENT.yes) return;
    const rng = this.rng.reseed(p.pid, ASPECT.email);
    const engagement = 1 - Math.exp(-26 * p.lambda);
    const lastPurchase = this.orderCount > 0 ? this.orderTs[this.orderCount - 1]! : 0;
    for (const campaign of this.campaigns) {
      if (campaign.ts < p.signup) continue;
      if (!rng.chance(this.options.rates.audienceShare)) continue;
      const c = campaign.index;
      const sent = campaign.ts + rng.int(3_600);
      this.emitEmail(p, c, EMAIL.sent, sent, 0);
      const arrived = sent + rng.between(5, 120);
      if (p.badEmail) {
        this.emitEmail(p, c, EMAIL.bounced, arrived, 0);
        return;
      }
      this.emitEmail(p, c, EMAIL.delivered, arrived, 0);
      const active = p.customer && (!p.died || lastPurchase > campaign.ts);
      const openChance = active ? 0.08 + 0.42 * engagement : 0.04 + 0.12 * engagement;
      if (!rng.chance(openChance)) continue;
      const opened = arrived + Math.min(7 * DAY, Math.floor(rng.exponential(1 / (6 * 3_600))));
      this.emitEmail(p, c, EMAIL.opened, opened, 0);
      if (rng.chance(0.1 + 0.3 * engagement)) this.emitEmail(p, c, EMAIL.clicked, opened + rng.between(5, 300), rng.int(PAGES.length));
      if (rng.chance(0.004 + 0.03 * (1 - engagement))) {
        const unsubscribed = opened + rng.between(320, 900);
        this.emitEmail(p, c, EMAIL.unsubscribed, unsubscribed, 0);
        // The profile reflects the withdrawal, so consent and responses agree.
        p.emailConsent = CONSENT.no;
        p.consentTs = unsubscribed;
        return;
      }
    }
  }

  private emitEmail(p: Person, campaign: number, kind: number, ts: number, link: number): void {
    const { s_email: table } = this.out;
    const c = table.cols;
    const row = table.next();
    c.pid[row] = p.pid;
    c.campaign[row] = campaign;
    c.kind[row] = kind;
    c.ts[row] = ts;
    c.email[row] = p.email;
    c.link[row] = link;
  }

  // Profiles and ground truth ------------------------------------------------------------------------------

  private writeAccounts(p: Person): void {
    const { s_accounts: table } = this.out;
    const c = table.cols;
    for (let acct = 0; acct < (p.dup ? 2 : 1); acct++) {
      const primary = acct === 0;
      const row = table.next();
      c.pid[row] = p.pid;
      c.acct[row] = acct;
      c.gender[row] = primary ? p.genderField : GENDER_MISSING;
      c.fname[row] = p.first;
      c.lname[row] = p.last;
      c.upper_name[row] = primary ? 0 : p.dupChannel === CHANNEL.store ? 1 : 0;
      c.birth[row] = primary ? p.birth : NO_DATE;
      c.email[row] = primary ? p.email : p.dupEmail;
      c.phone[row] = primary ? p.phone : p.dupLink === DUP_LINK.phone ? p.dupPhone : PHONE.none;
      c.street_no[row] = primary ? p.streetNo : 0;
      c.street[row] = p.street;
      c.city[row] = p.city;
      c.zip[row] = p.zip;
      c.created[row] = primary ? p.signup : p.dupCreated;
      c.channel[row] = primary ? p.channel : p.dupChannel;
      c.email_consent[row] = primary ? p.emailConsent : CONSENT.missing;
      c.consent_ts[row] = primary ? p.consentTs : p.dupCreated;
      c.sms_consent[row] = primary ? p.smsConsent : CONSENT.missing;
      c.tier[row] = p.tier[acct]!;
      c.points[row] = p.points[acct]!;
    }
  }

  private writePerson(p: Person): void {
    const { s_persons: table } = this.out;
    const c = table.cols;
    const row = table.next();
    const n = this.orderCount;
    let spend = 0;
    for (let k = 0; k < n; k++) spend += this.orderCents[k]!;
    c.pid[row] = p.pid;
    c.customer[row] = p.customer ? 1 : 0;
    c.signup[row] = p.signup;
    c.first_order[row] = n > 0 ? this.orderTs[0]! : 0;
    c.last_order[row] = n > 0 ? this.orderTs[n - 1]! : 0;
    c.lam[row] = p.lambda;
    c.dropout[row] = p.dropout;
    c.nu[row] = p.nu;
    c.died[row] = p.died ? 1 : 0;
    c.orders[row] = n;
    c.spend_cents[row] = spend;
    c.repeat_cents[row] = n > 0 ? spend - this.orderCents[0]! : 0;
    c.devices[row] = p.ownDevices;
    c.shared[row] = p.shared ? 1 : 0;
    c.accounts[row] = p.dup ? 2 : 1;
    c.dup_link[row] = p.dupLink;
    c.email[row] = withEmailCase(p.email, EMAIL_CASE.lower);
    c.phone[row] = p.phone;
    c.consent[row] = p.emailConsent;
    c.bad_email[row] = p.badEmail ? 1 : 0;
  }
}


function mergeByStart(a: Session[], b: Session[]): Session[] {
  const out: Session[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.start <= b[j]!.start)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

/** Campaign send times: evenly spread over the window, at 10:00 UTC. */
export function campaignSchedule(window: Window, count: number): Campaign[] {
  return Array.from({ length: count }, (_, index) => {
    const day = Math.floor((window.start + ((index + 1) * (window.end - window.start)) / (count + 1)) / DAY);
    return { index, ts: day * DAY + 10 * 3_600 };
  });
}

/** The window [end − months, end) in epoch seconds. */
export function observationWindow(end: string, months: number): Window {
  const [year, month, day] = end.split('-').map(Number) as [number, number, number];
  return { start: Date.UTC(year, month - 1 - months, day) / 1000, end: Date.UTC(year, month - 1, day) / 1000 };
}
