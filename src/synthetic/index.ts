/**
 * Synthetic brand: a realistic, reproducible data generator for tests, benchmarks and the demo.
 *
 * `generateBrand(options)` writes the data of "Skylark Outfitters" (travel gear sold on the web, in an app and
 * in stores, with the "Skylark Miles" loyalty programme): profiles with duplicates and malformed rows, orders
 * from a known BG/NBD + Gamma-Gamma process, loyalty miles in the airline example's shape, web and app events
 * around the orders, and email campaign responses, plus the schemas, datasets and ground truth to load and check
 * them (`manifest.json`, `ground_truth.json`). Same seed, same bytes. `docs/synthetic-data.md` describes it all.
 */
export { generateBrand, type FileReport, type GenerationReport, type StepReport } from './generate.ts';
export {
  DEFAULTS,
  DEFAULT_BGNBD,
  DEFAULT_GAMMA_GAMMA,
  DEFAULT_RATES,
  MAX_PROFILES,
  OUTPUT_FORMATS,
  resolveOptions,
  type BgNbdParams,
  type GammaGammaParams,
  type GenerateOptions,
  type OutputFormat,
  type Progress,
  type Rates,
} from './options.ts';
export { GENERATOR_VERSION, GROUND_TRUTH_FILE, MANIFEST_FILE, type DataFile, type DatasetEntry, type GroundTruth, type Manifest, type Summary } from './manifest.ts';
export { DATASETS, DATASET_KEYS, NAMESPACES, brandSchemas, type DatasetKey } from './schemas.ts';
export { DEFECTS, type DefectKind } from './malformed.ts';
export { expectedRepeatTransactions, probabilityNoRepeat, expectedSpend, hyp2f1 } from './expectations.ts';
