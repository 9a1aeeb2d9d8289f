/**
 * Benchmark of the synthetic brand generator: times `generateBrand` and reports peak memory.
 *
 *   npx tsx bench/generate.ts                     # 1M profiles, Parquet (target: under 60 s on 2 cores)
 *   npx tsx bench/generate.ts --profiles 10000000 # the memory check (target: peak RSS under 2 GB)
 *   npx tsx bench/generate.ts --profiles 200000 --format jsonl --out /tmp/brand --keep
 *
 * Peak RSS is `process.resourceUsage().maxRSS`, which includes DuckDB's native memory. Output goes to a fresh
 * temporary directory that is removed afterwards unless `--keep` is given.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateBrand, type OutputFormat } from '../src/synthetic/index.ts';

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '1000000' },
    format: { type: 'string', default: 'parquet' },
    seed: { type: 'string', default: '42' },
    out: { type: 'string' },
    threads: { type: 'string', default: '2' },
    keep: { type: 'boolean', default: false },
  },
});

const out = values.out ?? mkdtempSync(path.join(os.tmpdir(), 'roundtrip-bench-'));
const megabytes = (kilobytes: number): number => Math.round(kilobytes / 1024);
const profiles = Number(values.profiles);
console.log(`Generating ${profiles.toLocaleString('en')} profiles (${values.format}) into ${out}`);
const cpuBefore = process.cpuUsage();
try {
  const report = await generateBrand({
    profiles,
    seed: Number(values.seed),
    format: values.format as OutputFormat,
    threads: Number(values.threads),
    out,
    onProgress: (p) => {
      if (p.step === 'simulate' || p.step === 'email') console.log(`  part ${p.part}/${p.parts} ${p.step}: ${p.seconds} s, rss ${megabytes(process.resourceUsage().maxRSS)} MB`);
    },
  });
  const cpu = process.cpuUsage(cpuBefore);
  console.log('\nstep          rows        seconds (summed over parts; writes overlap the simulation)');
  for (const step of report.steps) console.log(`${step.step.padEnd(13)} ${String(step.rows).padStart(11)}  ${step.seconds}`);
  console.log(`\nwall ${report.seconds} s, cpu ${Math.round((cpu.user + cpu.system) / 1e4) / 100} s, peak RSS ${megabytes(process.resourceUsage().maxRSS)} MB, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(2)}`);
} finally {
  if (!values.keep && !values.out) rmSync(out, { recursive: true, force: true });
}
