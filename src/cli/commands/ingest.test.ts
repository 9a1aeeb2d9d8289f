import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOCAL_OPERATOR } from '../../access/principal.ts';
import { resolveConfig } from '../../core/config.ts';
import { initDataDir, openPlatform } from '../../platform/platform.ts';
import { cliEnv, cliRunner } from '../../testing/cli.ts';
import { tempDir } from '../../testing/temp.ts';
import { formatOf, ProgressBar } from './ingest.ts';


describe('roundtrip ingest (local mode, on the data directory)', () => {
  const temp = tempDir('roundtrip-cli-ingest-');
  const dataDir = path.join(temp.dir, 'data');
  // The CLI must not pick up a PostgreSQL URL or a server key meant for other tests.
  const env = cliEnv(dataDir);
  const cli = cliRunner(env);
  const file = (name: string, content: string): string => {
    const target = path.join(temp.dir, name);
    writeFileSync(target, content);
    return target;
  };
  // The data directory is prepared in-process (faster than three CLI runs); the commands under test run as the CLI.
  before(async () => {
    const config = resolveConfig({ env: {}, flags: { dataDir, logLevel: 'silent' } });
    await initDataDir(config);
    const platform = await openPlatform(config);
    try {
      const schema = await platform.registry.createSchema(LOCAL_OPERATOR, 'prod', {
        title: 'Events',
        class: 'experienceevent',
        fieldGroups: ['commerce-details'],
        fields: { tier: { type: 'string', enum: ['GOLD', 'SILVER'] } },
      });
      await platform.datasets.create(LOCAL_OPERATOR, 'prod', { name: 'events', schemaId: schema.id });
    } finally {
      await platform.close();
    }
  });
  after(() => temp.remove());

  const rows = (n: number, bad: number) =>
    ['_id,timestamp,commerce.order.priceTotal,_roundtrip.tier', ...Array.from({ length: n }, (_, i) => `e${i},2024-01-02T03:04:05Z,${i}.5,${i < bad ? 'TIN' : 'GOLD'}`)].join('\n') + '\n';

  it('uploads in chunks with a progress bar, completes, waits and prints the counts', async () => {
    const csv = file('events.csv', rows(2000, 3));
    const result = await cli('--json', 'ingest', '--dataset', 'events', csv, '--chunk-size', '0.01');
    assert.equal(result.code, 0, result.stderr);
    const [batch] = JSON.parse(result.stdout) as { id: string; status: string; rowsRead: number; rowsWritten: number; rowsRejected: number }[];
    assert.deepEqual([batch!.status, batch!.rowsRead, batch!.rowsWritten, batch!.rowsRejected], ['success', 2000, 1997, 3]);
    assert.match(result.stderr, /events\.csv \[#+\] 100% \d+\.\d KB \/ \d+\.\d KB/);
    assert.ok(result.stderr.split('\n').filter((l) => l.includes('%')).length >= 3, 'several progress lines: the file went in chunks');

    const listed = JSON.parse((await cli('--json', 'failed-records', 'list', '--batch', batch!.id)).stdout) as { total: number; failedRecords: { code: string; rowNumber: number }[] };
    assert.deepEqual(listed.failedRecords.map((f) => [f.rowNumber, f.code]), [[1, 'RT_FIELD_ENUM'], [2, 'RT_FIELD_ENUM'], [3, 'RT_FIELD_ENUM']]);
    const out = path.join(temp.dir, 'failed.jsonl');
    assert.equal((await cli('failed-records', 'download', '--batch', batch!.id, '--output', out)).code, 0);
    assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, 3);

    const status = JSON.parse((await cli('--json', 'ingest', 'status', '--dataset', 'events')).stdout) as { batch: { rowsWritten: number; failureRate: number } };
    assert.deepEqual([status.batch.rowsWritten, status.batch.failureRate], [1997, 3 / 2000]);
  });

  it('exits 1 with the batch code when the batch fails; takes JSON Lines with --threshold and --no-wait', async () => {
    const csv = file('bad.csv', rows(10, 5));
    const failed = await cli('ingest', '--dataset', 'events', csv, '--no-progress');
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^RT_BATCH_THRESHOLD_EXCEEDED: Batch batch_\w+ failed: 5 of 10 rows/);
    assert.equal(failed.stderr.includes('%]'), false, '--no-progress');
    const jsonl = file('events.jsonl', ['{"_id":"j1","timestamp":1704164645000}', '{"_id":"j2"}'].join('\n'));
    // --no-wait returns while the batch processes; closing the in-process app still lets it finish.
    const lenient = await cli('--json', 'ingest', '--dataset', 'events', jsonl, '--threshold', '0.5', '--no-wait');
    const [queued] = JSON.parse(lenient.stdout) as { id: string; status: string }[];
    assert.equal(queued!.status, 'processing');
    const shown = JSON.parse((await cli('--json', 'ingest', 'show', queued!.id)).stdout) as { status: string; rowsWritten: number; rowsRejected: number };
    assert.deepEqual([shown.status, shown.rowsWritten, shown.rowsRejected], ['success', 1, 1]);
  });
});

describe('ingest helpers', () => {
  it('takes the format from the extensions, or --format, and refuses a mix', () => {
    assert.equal(formatOf(['a.CSV', 'b.csv'], undefined), 'csv');
    assert.equal(formatOf(['a.ndjson'], undefined), 'jsonl');
    assert.equal(formatOf(['a.txt'], 'jsonl'), 'jsonl');
    assert.throws(() => formatOf(['a.csv', 'b.json'], undefined), /RT_INGEST_FORMAT_UNSUPPORTED|Say the format/);
    assert.throws(() => formatOf(['a.txt'], undefined), /Say the format/);
    assert.throws(() => formatOf(['a.csv'], 'xml'), /--format xml/);
  });

  it('shows bytes and percent', () => {
    const bar = new ProgressBar('f.csv', 4 * 1024 * 1024, process.stderr);
    assert.equal(bar.render(1024 * 1024), 'f.csv [######------------------]  25% 1.0 MB / 4.0 MB');
  });
});
