/**
 * What the generator writes next to the data so `roundtrip ingest` (and tests) can load and check it without
 * knowing the generator: `manifest.json` (namespaces, schemas, datasets and their files) and
 * `ground_truth.json` (the process parameters, rules and per-person file behind the data).
 *
 * Both are deterministic: no timings, no absolute paths, no dates of the run, so equal seeds give equal bytes.
 */
import type { SchemaInput } from '../catalog/payloads.ts';
import type { DefectKind } from './malformed.ts';
import type { BgNbdParams, GammaGammaParams, OutputFormat, Rates } from './options.ts';
import type { DatasetDefinition, DatasetKey, NamespaceDefinition } from './schemas.ts';

/** Bumped whenever the same options would produce different data. */
export const GENERATOR_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const GROUND_TRUTH_FILE = 'ground_truth.json';

export interface DataFile {
  /** Relative to the output directory, with `/` separators. */
  path: string;
  rows: number;
}

export interface DatasetEntry {
  key: DatasetKey;
  /** Key into `schemas`. */
  schema: DatasetKey;
  /** The body of `POST /datasets`; its `schemaId` is the schema key until the registry gives an id. */
  definition: DatasetDefinition;
  /** The table the dataset gets (`tableNameFor(definition.name)`). */
  table: string;
  format: OutputFormat;
  files: DataFile[];
  rows: number;
  /** Rows that must be refused (always JSON Lines, whatever the format). */
  malformed?: DataFile & { format: 'jsonl'; defects: Partial<Record<DefectKind, number>> };
}

export interface Manifest {
  manifestVersion: 1;
  generator: { name: string; version: number };
  brand: { name: string; programme: string; site: string; currency: string };
  seed: number;
  profiles: number;
  format: OutputFormat;
  /** How nested fields are laid out in the files of this format. */
  layout: string;
  tenant: string;
  window: { start: string; end: string; months: number };
  /** POST each to `/namespaces` before the schemas. */
  namespaces: NamespaceDefinition[];
  /** POST each to `/schemas`; the key names it in `datasets[].schema`. */
  schemas: Record<DatasetKey, SchemaInput>;
  datasets: DatasetEntry[];
  groundTruth: string;
}

export interface GroundTruth {
  generator: { name: string; version: number };
  seed: number;
  timeUnit: 'week';
  window: { start: string; end: string; weeks: number };
  purchaseProcess: BgNbdParams & { model: 'BG/NBD'; rules: string[] };
  spend: GammaGammaParams & { model: 'Gamma-Gamma'; currency: string; rules: string[] };
  rates: Rates;
  loyalty: { tiers: Record<string, number>; awardMultiplier: Record<string, number>; miles: Record<string, number> };
  devices: { ownDeviceWeights: Record<string, number>; sharedDevice: string };
  campaigns: { id: string; name: string; sentAt: string }[];
  customers: { format: OutputFormat; files: DataFile[]; rows: number; columns: Record<string, string> };
  malformed: DataFile & { columns: Record<string, string> };
  summary: Summary;
}

/** Counts over all people, for a quick look and for tests. */
export interface Summary {
  people: number;
  customers: number;
  prospects: number;
  transactions: number;
  repeatTransactions: number;
  customersWithoutRepeat: number;
  droppedOut: number;
  accounts: number;
  duplicatePeople: number;
  sharedDevicePeople: number;
  ownDevices: number;
}

export const emptySummary = (): Summary => ({
  people: 0,
  customers: 0,
  prospects: 0,
  transactions: 0,
  repeatTransactions: 0,
  customersWithoutRepeat: 0,
  droppedOut: 0,
  accounts: 0,
  duplicatePeople: 0,
  sharedDevicePeople: 0,
  ownDevices: 0,
});

/** The SQL that computes a part's `Summary` from `s_persons` (column names = summary keys). */
export const SUMMARY_SQL = `SELECT
    count(*) AS people,
    count(*) FILTER (customer = 1) AS customers,
    count(*) FILTER (customer = 0) AS prospects,
    sum(orders) AS transactions,
    sum(greatest(orders - 1, 0)) AS repeatTransactions,
    count(*) FILTER (orders = 1) AS customersWithoutRepeat,
    count(*) FILTER (died = 1) AS droppedOut,
    sum(accounts) AS accounts,
    count(*) FILTER (accounts = 2) AS duplicatePeople,
    count(*) FILTER (shared = 1) AS sharedDevicePeople,
    sum(devices) AS ownDevices
  FROM s_persons`;

export function addSummaries(into: Summary, part: Record<string, unknown>): void {
  for (const key of Object.keys(into) as (keyof Summary)[]) into[key] += Number(part[key] ?? 0);
}
