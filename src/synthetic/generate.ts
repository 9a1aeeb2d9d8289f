/**
 * `generateBrand`: runs the simulation part by part (a fixed number of people each) into skeleton tables of an
 * in-memory DuckDB and writes every dataset of the part with `COPY … TO`. Two sets of tables (slots) let the JS
 * thread simulate part k+1 while DuckDB's threads write part k. Memory is bounded by the part size, not by the
 * number of people; the files and their bytes depend only on the options, never on timing.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { tableNameFor } from '../catalog/datasets.ts';
import { RoundtripError } from '../core/errors.ts';
import { personId } from './codes.ts';
import { breakRecord, defectPath, planMalformed, type DefectKind, type MalformedRow } from './malformed.ts';
import {
  GENERATOR_VERSION,
  GROUND_TRUTH_FILE,
  MANIFEST_FILE,
  SUMMARY_SQL,
  addSummaries,
  emptySummary,
  type DataFile,
  type DatasetEntry,
  type GroundTruth,
  type Manifest,
  type Summary,
} from './manifest.ts';
import { resolveOptions, type GenerateOptions, type Progress, type ResolvedOptions } from './options.ts';
import { campaignId, campaignName, createMacros, datasetQuery, groundTruthQuery } from './render.ts';
import { DATASETS, DATASET_KEYS, GROUND_TRUTH_COLUMNS, NAMESPACES, brandSchemas, type DatasetKey } from './schemas.ts';
import {
  AWARD_MULTIPLIER,
  BrandSimulator,
  DEVICE_COUNT_WEIGHTS,
  MILES,
  TIER_THRESHOLDS,
  WEEK,
  campaignSchedule,
  observationWindow,
  type Campaign,
  type Window,
} from './simulate.ts';
import { closeSkeleton, createSkeleton, type Skeleton } from './skeleton.ts';
import { BRAND, TIERS } from './vocabulary.ts';
import { EXTENSIONS, jsonLinesQuery, timeStyleOf, writeQuery } from './writers.ts';

/** A written file with the time it took (reports only: the manifest stays free of timings). */
export interface FileReport extends DataFile {
  seconds: number;
}

export interface StepReport {
  step: string;
  files: FileReport[];
  rows: number;
  seconds: number;
}

export interface GenerationReport {
  out: string;
  format: ResolvedOptions['format'];
  profiles: number;
  parts: number;
  /** One entry per dataset, then `ground_truth` and `malformed`; `simulate` is the JS simulation time. */
  steps: StepReport[];
  summary: Summary;
  seconds: number;
}

const GENERATED_ENTRIES = [MANIFEST_FILE, GROUND_TRUTH_FILE, 'data', 'ground_truth', 'malformed'];
const MALFORMED_FILE = 'malformed/customer_profiles.jsonl';
const MALFORMED_TRUTH_FILE = 'ground_truth/malformed.jsonl';
const iso = (seconds: number): string => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const partName = (part: number, format: string): string => `part-${String(part).padStart(5, '0')}.${format}`;

/**
 * An output directory must be new, empty, or hold an earlier generation (whose files are then replaced, so no
 * part of a larger earlier run is left behind).
 */
async function prepareOutput(out: string): Promise<void> {
  const entries = await readdir(out).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    if (error.code === 'ENOTDIR') throw new RoundtripError('RT_GENERATE_OPTIONS_INVALID', `out ${out} is a file, not a directory.`);
    throw error;
  });
  if (entries.length > 0) {
    const manifest = await readFile(path.join(out, MANIFEST_FILE), 'utf8').catch(() => '');
    if (!manifest.includes('"roundtrip generate"')) {
      throw new RoundtripError('RT_GENERATE_OPTIONS_INVALID', `out ${out} is not empty and holds no earlier generated data; choose a new or empty directory.`);
    }
    await Promise.all(GENERATED_ENTRIES.map((entry) => rm(path.join(out, entry), { recursive: true, force: true })));
  }
  await mkdir(out, { recursive: true });
}

class Step {
  readonly files: FileReport[] = [];
  rows = 0;
  seconds = 0;
  constructor(readonly step: string) {}
  add(file: DataFile, seconds: number): void {
    this.files.push({ ...file, seconds: round(seconds) });
    this.rows += file.rows;
    this.seconds += seconds;
  }
  /** The files as the manifest lists them. */
  dataFiles(): DataFile[] {
    return this.files.map(({ path: file, rows }) => ({ path: file, rows }));
  }
  report(): StepReport {
    return { step: this.step, files: this.files, rows: this.rows, seconds: round(this.seconds) };
  }
}

const round = (seconds: number): number => Math.round(seconds * 100) / 100;
/** The DuckDB schemas holding the two sets of skeleton tables. */
const SLOTS = ['slot0', 'slot1'] as const;
/** People simulated between two yields to the event loop (so the writes of the previous part keep going). */
const BATCH = 5_000;

class Generation {
  private readonly steps = new Map<string, Step>();
  readonly summary = emptySummary();
  private readonly malformedLines: string[] = [];
  private readonly malformedTruth: string[] = [];
  private readonly plan: MalformedRow[];
  readonly parts: number;
  private readonly window: Window;
  private readonly campaigns: Campaign[];

  constructor(
    private readonly options: ResolvedOptions,
    private readonly out: string,
    /** Fills the skeleton tables (Appenders) while the writers read the other slot. */
    private readonly simulation: DuckDBConnection,
    /** One connection per slot, whose `search_path` resolves the unqualified table names of `render.ts`. */
    private readonly writers: readonly DuckDBConnection[],
    private readonly onProgress: (progress: Progress) => void,
  ) {
    this.parts = Math.ceil(options.profiles / options.partSize);
    this.window = observationWindow(options.end, options.months);
    this.campaigns = campaignSchedule(this.window, options.campaigns);
    this.plan = planMalformed(options.profiles, options.rates.malformedRate);
  }

  private step(name: string): Step {
    let step = this.steps.get(name);
    if (!step) {
      step = new Step(name);
      this.steps.set(name, step);
    }
    return step;
  }

  private record(name: string, part: number, file: DataFile, started: number): void {
    const seconds = (performance.now() - started) / 1000;
    this.step(name).add(file, seconds);
    this.onProgress({ step: name, part: part + 1, parts: this.parts, rows: file.rows, seconds: round(seconds) });
  }

  async run(): Promise<void> {
    await createMacros(this.simulation, this.options, this.campaigns);
    let writing: Promise<void> = Promise.resolve();
    try {
      for (let part = 0; part < this.parts; part++) {
        const slot = part % SLOTS.length;
        // The slot was last written two parts ago, and that write was awaited one iteration ago.
        const skeleton = await createSkeleton(this.simulation, SLOTS[slot]!);
        await this.simulate(part, skeleton);
        await writing;
        writing = this.writePart(part, this.writers[slot]!);
        // Failures surface at the next `await writing`; until then they must not count as unhandled.
        writing.catch(() => undefined);
      }
      await writing;
    } catch (error) {
      // Let a write still running finish before the caller closes its connection.
      await writing.catch(() => undefined);
      throw error;
    }
  }

  private async simulate(part: number, skeleton: Skeleton): Promise<void> {
    const started = performance.now();
    const from = part * this.options.partSize;
    const to = Math.min(this.options.profiles, from + this.options.partSize);
    const simulator = new BrandSimulator(this.options, this.window, this.campaigns, skeleton);
    for (let batch = from; batch < to; batch += BATCH) {
      simulator.simulate(batch, Math.min(to, batch + BATCH));
      await yieldToEventLoop();
    }
    closeSkeleton(skeleton);
    this.record('simulate', part, { path: '', rows: to - from }, started);
  }

  private async writePart(part: number, connection: DuckDBConnection): Promise<void> {
    const { options } = this;
    const extension = EXTENSIONS[options.format];
    for (const key of DATASET_KEYS) {
      const started = performance.now();
      const file = `data/${tableNameFor(DATASETS[key].name)}/${partName(part, extension)}`;
      const rows = await this.write(connection, datasetQuery(key, options.tenant, timeStyleOf(options.format)), file);
      this.record(key, part, { path: file, rows }, started);
    }
    const started = performance.now();
    const truthFile = `ground_truth/customers/${partName(part, extension)}`;
    const truthRows = await this.write(connection, groundTruthQuery(options, this.window.end, timeStyleOf(options.format)), truthFile);
    this.record('ground_truth', part, { path: truthFile, rows: truthRows }, started);
    addSummaries(this.summary, (await connection.runAndReadAll(SUMMARY_SQL)).getRowObjectsJS()[0] ?? {});
    const from = part * options.partSize;
    await this.malformed(connection, from, Math.min(options.profiles, from + options.partSize));
  }

  private async write(connection: DuckDBConnection, query: string, file: string): Promise<number> {
    const target = path.join(this.out, ...file.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    return writeQuery(connection, query, target, this.options.format);
  }

  /** Breaks the first account's record of the planned people of this part. */
  private async malformed(connection: DuckDBConnection, from: number, to: number): Promise<void> {
    const rows = this.plan.filter((m) => m.pid >= from && m.pid < to);
    if (rows.length === 0) return;
    const where = `WHERE acct = 0 AND pid IN (${rows.map((m) => m.pid).join(', ')})`;
    const reader = await connection.runAndReadAll(jsonLinesQuery(datasetQuery('profiles', this.options.tenant, 'text', where)));
    const lines = reader.getRowObjectsJS().map((r) => r.line as string);
    const tenantKey = `_${this.options.tenant}`;
    rows.forEach((m, i) => {
      this.malformedLines.push(breakRecord(lines[i]!, m.defect, tenantKey));
      this.malformedTruth.push(JSON.stringify({ line: m.index + 1, person_id: personId(m.pid), defect: m.defect, path: defectPath(m.defect, tenantKey) }));
    });
  }

  async finish(): Promise<StepReport[]> {
    const text = (lines: string[]): string => (lines.length ? `${lines.join('\n')}\n` : '');
    const started = performance.now();
    await mkdir(path.join(this.out, 'malformed'), { recursive: true });
    await writeFile(path.join(this.out, MALFORMED_FILE), text(this.malformedLines));
    this.record('malformed', this.parts - 1, { path: MALFORMED_FILE, rows: this.malformedLines.length }, started);
    await writeFile(path.join(this.out, MALFORMED_TRUTH_FILE), text(this.malformedTruth));
    await writeFile(path.join(this.out, MANIFEST_FILE), `${JSON.stringify(this.manifest(), null, 2)}\n`);
    await writeFile(path.join(this.out, GROUND_TRUTH_FILE), `${JSON.stringify(this.groundTruth(), null, 2)}\n`);
    return ['simulate', ...DATASET_KEYS, 'ground_truth', 'malformed'].map((name) => this.step(name).report());
  }

  private defects(): Partial<Record<DefectKind, number>> {
    const counts: Partial<Record<DefectKind, number>> = {};
    for (const m of this.plan) counts[m.defect] = (counts[m.defect] ?? 0) + 1;
    return counts;
  }

  private manifest(): Manifest {
    const { options } = this;
    const datasets: DatasetEntry[] = DATASET_KEYS.map((key: DatasetKey) => {
      const step = this.step(key);
      return {
        key,
        schema: key,
        definition: DATASETS[key],
        table: tableNameFor(DATASETS[key].name),
        format: options.format,
        files: step.dataFiles(),
        rows: step.rows,
        ...(key === 'profiles' ? { malformed: { path: MALFORMED_FILE, rows: this.plan.length, format: 'jsonl' as const, defects: this.defects() } } : {}),
      };
    });
    return {
      manifestVersion: 1,
      generator: { name: 'roundtrip generate', version: GENERATOR_VERSION },
      brand: { ...BRAND },
      seed: options.seed,
      profiles: options.profiles,
      format: options.format,
      layout: LAYOUTS[options.format],
      tenant: options.tenant,
      window: { start: iso(this.window.start), end: iso(this.window.end), months: options.months },
      namespaces: NAMESPACES,
      schemas: brandSchemas(options.tenant),
      datasets,
      groundTruth: GROUND_TRUTH_FILE,
    };
  }

  private groundTruth(): GroundTruth {
    const { options } = this;
    const customers = this.step('ground_truth');
    return {
      generator: { name: 'roundtrip generate', version: GENERATOR_VERSION },
      seed: options.seed,
      timeUnit: 'week',
      window: { start: iso(this.window.start), end: iso(this.window.end), weeks: (this.window.end - this.window.start) / WEEK },
      purchaseProcess: {
        model: 'BG/NBD',
        ...options.bgnbd,
        rules: [
          'λ ~ Gamma(shape r, rate α) per week; p ~ Beta(a, b); drawn for every person, used for customers only.',
          'The first (trial) purchase is 20-40 minutes after sign-up; T and t_x are measured from it.',
          'While active, times between purchases are Exp(λ); after each repeat purchase the customer drops out with probability p.',
          'Purchases after the end of the window are not observed; a customer is cut at 5,000 transactions.',
          'Transactions are not merged by day: a summary built per day can count slightly fewer repeats than x.',
        ],
      },
      spend: {
        model: 'Gamma-Gamma',
        ...options.gammaGamma,
        currency: BRAND.currency,
        rules: ['ν ~ Gamma(shape q, rate γ) per customer; each transaction value z ~ Gamma(shape p, rate ν), the first one included.', 'Values are rounded to cents (at least 0.01).'],
      },
      rates: options.rates,
      loyalty: {
        tiers: Object.fromEntries(TIERS.map((t, i) => [t, TIER_THRESHOLDS[i]!])),
        awardMultiplier: Object.fromEntries(TIERS.map((t, i) => [t, AWARD_MULTIPLIER[i]!])),
        miles: { ...MILES },
      },
      devices: {
        ownDeviceWeights: Object.fromEntries(DEVICE_COUNT_WEIGHTS.map((w, i) => [String(i + 1), w / 100])),
        sharedDevice: 'people 2k and 2k+1 share a tablet with probability rates.sharedDeviceRate',
      },
      campaigns: this.campaigns.map((c) => ({ id: campaignId(c), name: campaignName(c), sentAt: iso(c.ts) })),
      customers: { format: options.format, files: customers.dataFiles(), rows: customers.rows, columns: GROUND_TRUTH_COLUMNS },
      malformed: {
        path: MALFORMED_TRUTH_FILE,
        rows: this.plan.length,
        columns: { line: '1-based line in the malformed file', person_id: 'Person whose record was broken', defect: 'What is wrong', path: 'Field the validator names' },
      },
      summary: this.summary,
    };
  }
}

const LAYOUTS: Record<ResolvedOptions['format'], string> = {
  parquet: 'XDM records as nested Parquet columns (STRUCT, MAP, LIST); timestamps are TIMESTAMP WITH TIME ZONE (UTC).',
  jsonl: 'One XDM record per line; absent fields are left out; timestamps are ISO 8601 in UTC.',
  csv: 'One column per leaf field named by its dotted path; maps and lists are JSON text; timestamps are ISO 8601 in UTC.',
};

/**
 * Writes the synthetic brand for `options` into `options.out`: the datasets, `manifest.json`,
 * `ground_truth.json` with the per-person ground truth, and the malformed rows. Same options, same bytes.
 */
export async function generateBrand(options: GenerateOptions): Promise<GenerationReport> {
  const resolved = resolveOptions(options);
  const started = performance.now();
  const out = path.resolve(resolved.out);
  await prepareOutput(out);
  // Spill space in case a part outgrows the memory limit; removed afterwards.
  const spill = await mkdtemp(path.join(os.tmpdir(), 'roundtrip-generate-'));
  const instance = await DuckDBInstance.create(':memory:', { threads: String(resolved.threads), memory_limit: resolved.memoryLimit, temp_directory: spill });
  const connections: DuckDBConnection[] = [];
  try {
    for (let i = 0; i <= SLOTS.length; i++) connections.push(await instance.connect());
    const [simulation, ...writers] = connections as [DuckDBConnection, ...DuckDBConnection[]];
    for (const [i, writer] of writers.entries()) {
      await simulation.run(`CREATE SCHEMA ${SLOTS[i]!}`);
      await writer.run(`SET TimeZone = 'UTC'`);
      await writer.run(`SET search_path = '${SLOTS[i]!},main'`);
    }
    const generation = new Generation(resolved, out, simulation, writers, options.onProgress ?? (() => undefined));
    await generation.run();
    const steps = await generation.finish();
    return { out, format: resolved.format, profiles: resolved.profiles, parts: generation.parts, steps, summary: generation.summary, seconds: round((performance.now() - started) / 1000) };
  } finally {
    for (const connection of connections) connection.closeSync();
    instance.closeSync();
    await rm(spill, { recursive: true, force: true });
  }
}
