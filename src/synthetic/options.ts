/**
 * Options of the synthetic brand generator: what a caller may set, the documented defaults (CDNOW's published
 * BG/NBD and Gamma-Gamma parameters, `reference/clv-science.md` §0), and the one validation that turns a bad
 * value into `RT_GENERATE_OPTIONS_INVALID`.
 */
import { RoundtripError } from '../core/errors.ts';

export type OutputFormat = 'parquet' | 'csv' | 'jsonl';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['parquet', 'csv', 'jsonl'];

/** BG/NBD purchase process; time unit = weeks (α is a rate per week, as in CDNOW). */
export interface BgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

/** Gamma-Gamma spend per transaction, in the currency's units (USD). */
export interface GammaGammaParams {
  p: number;
  q: number;
  gamma: number;
}

/** Shares and probabilities that shape the messiness; each is in [0, 1]. */
export interface Rates {
  /** People who joined the programme but never bought (no transactions, not in the BG/NBD population). */
  prospectShare: number;
  /** People who opened a second account in another channel (duplicate profile rows). */
  duplicateRate: number;
  /** Malformed profile rows written aside, per person (the count is exactly round(profiles × rate)). */
  malformedRate: number;
  /** Share of household pairs (people 2k and 2k+1) that share a tablet. */
  sharedDeviceRate: number;
  /** Profile rows whose email is not lower case. */
  mixedCaseEmailRate: number;
  /** People who consented to marketing email. */
  emailConsentRate: number;
  /** People whose address hard-bounces (they are suppressed after the first bounce). */
  badEmailRate: number;
  /** Share of the eligible people each campaign is sent to. */
  audienceShare: number;
}

export interface Progress {
  /** `simulate`, a dataset key, `ground_truth` or `malformed`. */
  step: string;
  part: number;
  parts: number;
  rows: number;
  seconds: number;
}

export interface GenerateOptions {
  /** Distinct people (the profile file also holds their duplicate accounts). */
  profiles: number;
  out: string;
  seed?: number;
  /** Length of the observation window in calendar months. */
  months?: number;
  /** First day after the window (UTC, `YYYY-MM-DD`); fixed by default so output never depends on today. */
  end?: string;
  format?: OutputFormat;
  /** Tenant id: custom fields go under `_<tenant>`. */
  tenant?: string;
  bgnbd?: Partial<BgNbdParams>;
  gammaGamma?: Partial<GammaGammaParams>;
  /** Past email campaigns, evenly spread over the window. */
  campaigns?: number;
  rates?: Partial<Rates>;
  /** People per part file; changes how many files are written, never their rows. Must be even. */
  partSize?: number;
  /** DuckDB threads and memory limit of the writer (they do not change the output). */
  threads?: number;
  memoryLimit?: string;
  onProgress?: (progress: Progress) => void;
}

export interface ResolvedOptions {
  profiles: number;
  out: string;
  seed: number;
  months: number;
  end: string;
  format: OutputFormat;
  tenant: string;
  bgnbd: BgNbdParams;
  gammaGamma: GammaGammaParams;
  campaigns: number;
  rates: Rates;
  partSize: number;
  threads: number;
  memoryLimit: string;
}

export const DEFAULT_BGNBD: BgNbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
export const DEFAULT_GAMMA_GAMMA: GammaGammaParams = { p: 6.25, q: 3.74, gamma: 15.44 };
export const DEFAULT_RATES: Rates = {
  prospectShare: 0.15,
  duplicateRate: 0.03,
  malformedRate: 0.001,
  sharedDeviceRate: 0.04,
  mixedCaseEmailRate: 0.06,
  emailConsentRate: 0.62,
  badEmailRate: 0.015,
  audienceShare: 0.6,
};

export const DEFAULTS = {
  seed: 42,
  months: 24,
  end: '2026-01-01',
  format: 'parquet' as OutputFormat,
  tenant: 'roundtrip',
  campaigns: 8,
  partSize: 250_000,
  threads: 2,
  memoryLimit: '1GB',
};

/** Phone numbers and ids are unique by construction up to this many people. */
export const MAX_PROFILES = 10_000_000;

function invalid(message: string): RoundtripError {
  return new RoundtripError('RT_GENERATE_OPTIONS_INVALID', message);
}

function integer(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw invalid(`${name} must be an integer from ${min} to ${max} (got ${String(value)}).`);
  return value;
}

function positive<T extends object>(name: string, params: T): T {
  for (const [key, value] of Object.entries(params)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalid(`${name}.${key} must be a positive number (got ${String(value)}).`);
  }
  return params;
}

function shares(rates: Rates): Rates {
  for (const [key, value] of Object.entries(rates)) {
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw invalid(`rates.${key} must be between 0 and 1 (got ${String(value)}).`);
  }
  return rates;
}

/** Times are stored as unsigned 32-bit seconds since 1970, so the window must sit well inside 1970-2106. */
function endDate(value: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const date = new Date(`${value}T00:00:00Z`);
  if (!match || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) throw invalid(`end must be a date written YYYY-MM-DD (got ${value}).`);
  if (date.getUTCFullYear() < 2000 || date.getUTCFullYear() > 2099) throw invalid(`end must be in the years 2000 to 2099 (got ${value}).`);
  return value;
}

/** Fills defaults and checks every value; throws `RT_GENERATE_OPTIONS_INVALID` naming the first bad one. */
export function resolveOptions(options: GenerateOptions): ResolvedOptions {
  const format = options.format ?? DEFAULTS.format;
  if (!OUTPUT_FORMATS.includes(format)) throw invalid(`format must be one of ${OUTPUT_FORMATS.join(', ')} (got ${String(format)}).`);
  if (typeof options.out !== 'string' || options.out.trim() === '') throw invalid('out must name an output directory.');
  const tenant = options.tenant ?? DEFAULTS.tenant;
  if (!/^[a-z][a-z0-9]{1,39}$/.test(tenant)) throw invalid(`tenant must be 2-40 of a-z and 0-9, starting with a letter (got ${tenant}).`);
  const partSize = integer('partSize', options.partSize ?? DEFAULTS.partSize, 2, 5_000_000);
  // Households are pairs (2k, 2k+1); an even part size keeps both people of a pair in one part.
  if (partSize % 2 !== 0) throw invalid(`partSize must be even (got ${partSize}).`);
  const months = integer('months', options.months ?? DEFAULTS.months, 1, 120);
  return {
    profiles: integer('profiles', options.profiles, 1, MAX_PROFILES),
    out: options.out,
    seed: integer('seed', options.seed ?? DEFAULTS.seed, 0, Number.MAX_SAFE_INTEGER),
    months,
    end: endDate(options.end ?? DEFAULTS.end),
    format,
    tenant,
    bgnbd: positive('bgnbd', { ...DEFAULT_BGNBD, ...options.bgnbd }),
    gammaGamma: positive('gammaGamma', { ...DEFAULT_GAMMA_GAMMA, ...options.gammaGamma }),
    campaigns: integer('campaigns', options.campaigns ?? Math.min(DEFAULTS.campaigns, months), 0, 120),
    rates: shares({ ...DEFAULT_RATES, ...options.rates }),
    partSize,
    threads: integer('threads', options.threads ?? DEFAULTS.threads, 1, 64),
    memoryLimit: options.memoryLimit ?? DEFAULTS.memoryLimit,
  };
}
