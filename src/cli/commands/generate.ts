/**
 * `roundtrip generate`: writes the synthetic brand (profiles, orders, loyalty miles, web and app events, email
 * responses) with its schemas, manifest and ground truth into a folder. It needs no server and no data
 * directory; the configuration only lends its tenant (custom fields go under `_<tenant>`) and DuckDB threads.
 */
import type { Command } from 'commander';
import { RoundtripError } from '../../core/errors.ts';
import { DEFAULTS, generateBrand, type GenerateOptions, type OutputFormat, type Progress } from '../../synthetic/index.ts';
import type { CliContext } from '../context.ts';
import type { Printer } from '../output.ts';

interface GenerateFlags {
  profiles: number;
  seed: number;
  months: number;
  end: string;
  out: string;
  format: string;
  campaigns?: number;
  bgnbd?: number[];
  gammaGamma?: number[];
  partSize?: number;
}

/** Numbers are checked by the generator, which names the option in RT_GENERATE_OPTIONS_INVALID. */
const number = (value: string): number => (value.trim() === '' ? Number.NaN : Number(value));
const numbers = (value: string): number[] => value.split(',').map(number);

/** `--bgnbd 0.243,4.414,0.793,2.426` → `{ r, alpha, a, b }`; each value is then checked by the generator. */
function params<K extends string>(flag: string, names: readonly K[], values: number[] | undefined): Partial<Record<K, number>> | undefined {
  if (!values) return undefined;
  if (values.length !== names.length) throw new RoundtripError('RT_GENERATE_OPTIONS_INVALID', `${flag} takes ${names.length} comma-separated numbers: ${names.join(',')}.`);
  return Object.fromEntries(names.map((name, i) => [name, values[i]])) as Partial<Record<K, number>>;
}

function progressLine(out: Printer): (progress: Progress) => void {
  return (p) => {
    if (p.step === 'malformed' && p.rows === 0) return;
    const what = p.step === 'simulate' ? 'people simulated' : 'rows';
    out.note(`${p.step.padEnd(12)} part ${p.part}/${p.parts}  ${p.rows.toLocaleString('en')} ${what} in ${p.seconds} s`);
  };
}

export function generateCommands(program: Command, ctx: CliContext): void {
  program
    .command('generate')
    .description('Write a synthetic brand (profiles, orders, loyalty miles, web/app and email events) with schemas, manifest and ground truth')
    .requiredOption('--profiles <n>', 'distinct people (duplicate accounts and malformed rows come on top)', number)
    .option('--seed <n>', 'random seed: the same seed writes the same bytes', number, DEFAULTS.seed)
    .option('--months <n>', 'length of the observation window in months', number, DEFAULTS.months)
    .option('--end <date>', 'first day after the window (UTC, YYYY-MM-DD)', DEFAULTS.end)
    .option('--out <dir>', 'output folder: new, empty, or an earlier generation (which is replaced)', './synthetic-brand')
    .option('--format <format>', 'parquet, csv or jsonl', DEFAULTS.format)
    .option('--campaigns <n>', `past email campaigns (default: ${DEFAULTS.campaigns}, at most one a month)`, number)
    .option('--bgnbd <r,alpha,a,b>', 'BG/NBD parameters, α per week (default: CDNOW 0.243,4.414,0.793,2.426)', numbers)
    .option('--gamma-gamma <p,q,gamma>', 'Gamma-Gamma spend parameters (default: CDNOW 6.25,3.74,15.44)', numbers)
    .option('--part-size <n>', `people per part file (default ${DEFAULTS.partSize.toLocaleString('en')})`, number)
    .action((flags: GenerateFlags) =>
      ctx.run(async () => {
        const config = ctx.config();
        const out = ctx.out();
        const options: GenerateOptions = {
          profiles: flags.profiles,
          seed: flags.seed,
          months: flags.months,
          end: flags.end,
          out: flags.out,
          format: flags.format as OutputFormat,
          tenant: config.tenant,
          threads: config.duckdbThreads,
          campaigns: flags.campaigns,
          bgnbd: params('--bgnbd', ['r', 'alpha', 'a', 'b'], flags.bgnbd),
          gammaGamma: params('--gamma-gamma', ['p', 'q', 'gamma'], flags.gammaGamma),
          partSize: flags.partSize,
          onProgress: progressLine(out),
        };
        const report = await generateBrand(options);
        if (out.json) {
          out.value(report);
          return;
        }
        const rows = report.steps
          .filter((s) => s.step !== 'simulate')
          .flatMap((s) => s.files.filter((f) => f.rows > 0 || s.step !== 'malformed').map((f) => ({ dataset: s.step, file: f.path, rows: f.rows, seconds: f.seconds })));
        out.rows(rows, ['dataset', 'file', 'rows', 'seconds']);
        const total = rows.reduce((sum, r) => sum + r.rows, 0);
        out.note(
          `\nWrote ${total.toLocaleString('en')} rows for ${report.profiles.toLocaleString('en')} people (${report.format}, seed ${String(flags.seed)}) ` +
            `to ${report.out} in ${report.seconds} s. manifest.json lists the schemas and datasets; ground_truth.json the process behind them.`,
        );
      }),
    );
}
