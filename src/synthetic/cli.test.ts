/**
 * `roundtrip generate` end to end: the real binary writes a brand with the options given, prints a line per
 * entity and a summary table (or the report with `--json`), and exits 1 with RT_GENERATE_OPTIONS_INVALID on bad
 * options.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../testing/temp.ts';
import type { GenerationReport, Manifest } from './index.ts';

const BIN = path.join(import.meta.dirname, '../../bin/roundtrip.js');

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the real binary (through its tsx loader); several runs go in parallel to keep the test short. */
function roundtrip(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ROUNDTRIP_DATA_DIR: temp.dir } }, (error, stdout, stderr) => {
      resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

const temp = tempDir('roundtrip-generate-cli-');
const out = (name: string): string => path.join(temp.dir, name);

describe('roundtrip generate', () => {
  let ok: Run;
  let json: Run;
  let bad: Run[];

  before(async () => {
    [ok, json, ...bad] = await Promise.all([
      roundtrip('generate', '--profiles', '300', '--seed', '9', '--months', '12', '--format', 'jsonl', '--out', out('brand'), '--bgnbd', '0.5,6,0.9,3'),
      roundtrip('--json', 'generate', '--profiles', '50', '--out', out('json')),
      roundtrip('generate', '--profiles', '10', '--gamma-gamma', '6.25,3.74', '--out', out('bad')),
    ]);
  });

  after(() => temp.remove());

  it('writes the brand, a progress line per entity and a summary table', () => {
    assert.equal(ok.status, 0, ok.stderr);
    for (const entity of ['profiles', 'orders', 'loyalty', 'web', 'email', 'ground_truth']) assert.match(ok.stdout, new RegExp(`^${entity} +part 1/1`, 'm'));
    assert.match(ok.stdout, /data\/customer_profiles\/part-00000\.jsonl +30\d/);
    const manifest = JSON.parse(readFileSync(path.join(out('brand'), 'manifest.json'), 'utf8')) as Manifest;
    assert.deepEqual([manifest.profiles, manifest.seed, manifest.format, manifest.window.months], [300, 9, 'jsonl', 12]);
    const truth = JSON.parse(readFileSync(path.join(out('brand'), 'ground_truth.json'), 'utf8')) as { purchaseProcess: { r: number; alpha: number } };
    assert.deepEqual([truth.purchaseProcess.r, truth.purchaseProcess.alpha], [0.5, 6]);
  });

  it('prints the report as JSON with --json', () => {
    assert.equal(json.status, 0, json.stderr);
    const report = JSON.parse(json.stdout) as GenerationReport;
    assert.equal(report.profiles, 50);
    assert.equal(report.steps.find((s) => s.step === 'profiles')!.files[0]!.path, 'data/customer_profiles/part-00000.parquet');
  });

  it('exits 1 with RT_GENERATE_OPTIONS_INVALID on bad options, writing nothing', () => {
    // The generator's own checks are covered in output.test.ts; this is the CLI's parsing and exit code.
    const messages = [/--gamma-gamma takes 3 comma-separated numbers/];
    for (const [i, run] of bad.entries()) {
      assert.equal(run.status, 1, run.stdout);
      assert.match(run.stderr, /^RT_GENERATE_OPTIONS_INVALID: /);
      assert.match(run.stderr, messages[i]!);
    }
    assert.equal(existsSync(out('bad')), false);
  });
});
