/**
 * Ingestion commands: `roundtrip ingest --dataset NAME FILE…` (one batch: create, upload — in chunks with a
 * progress bar for large files — complete, wait, print the counts), `ingest status` (the per-dataset overview),
 * `ingest show BATCH`, and `roundtrip failed-records list|download`. All go through the HTTP API, so they work
 * the same against a running server and on the data directory itself.
 */
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { RoundtripError, type ErrorCode } from '../../core/errors.ts';
import type { ApiClient } from '../client.ts';
import type { CliContext } from '../context.ts';
import type { Printer, Row } from '../output.ts';

const BATCHES = '/data/foundation/import/batches';
const enc = encodeURIComponent;
const MB = 1024 * 1024;

type Format = 'json' | 'jsonl' | 'csv' | 'parquet';
const EXTENSIONS: Record<string, Format> = { '.json': 'json', '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.csv': 'csv', '.parquet': 'parquet' };

interface Batch extends Row {
  id: string;
  status: string;
  rowsRead: number;
  rowsWritten: number;
  rowsRejected: number;
  errorCode: string | null;
  errorMessage: string | null;
}

interface IngestOptions {
  dataset?: string;
  format?: string;
  multiline?: boolean;
  delimiter?: string;
  threshold: string;
  chunkSize: string;
  progress: boolean;
  wait: boolean;
}

export function formatOf(files: string[], given: string | undefined): Format {
  if (given) {
    if (!Object.values(EXTENSIONS).includes(given as Format)) throw new RoundtripError('RT_INGEST_FORMAT_UNSUPPORTED', `--format ${given}: use json, jsonl, csv or parquet.`);
    return given as Format;
  }
  const formats = new Set(files.map((f) => EXTENSIONS[path.extname(f).toLowerCase()]));
  if (formats.has(undefined) || formats.size !== 1) {
    throw new RoundtripError('RT_INGEST_FORMAT_UNSUPPORTED', 'Say the format with --format: the file extensions do not name one of .json, .jsonl, .csv, .parquet for all files.');
  }
  return [...formats][0]!;
}

const human = (bytes: number): string => (bytes >= MB ? `${(bytes / MB).toFixed(1)} MB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${bytes} B`);

/**
 * A progress bar on stderr: redrawn in place on a terminal (at most every 100 ms), and a plain line every 25%
 * otherwise, so logs and pipes get a few lines instead of a stream of carriage returns.
 */
export class ProgressBar {
  private lastDraw = 0;
  private lastQuarter = -1;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  render(done: number): string {
    const ratio = this.total ? Math.min(done / this.total, 1) : 1;
    const width = 24;
    const filled = Math.round(ratio * width);
    return `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${human(done)} / ${human(this.total)}`;
  }

  update(done: number): void {
    const quarter = this.total ? Math.floor((4 * done) / this.total) : 4;
    if (this.tty) {
      const now = Date.now();
      if (now - this.lastDraw < 100 && done < this.total) return;
      this.lastDraw = now;
      this.stream.write(`\r${this.render(done)}`);
      if (done >= this.total) this.stream.write('\n');
    } else if (quarter > this.lastQuarter) {
      this.lastQuarter = quarter;
      this.stream.write(`${this.render(done)}\n`);
    }
  }
}

/** Uploads one file: a single PUT, or INITIALIZE + ordered PATCH chunks + COMPLETE when it is larger than a chunk. */
async function uploadFile(api: ApiClient, base: string, file: string, chunkSize: number, progress: boolean): Promise<void> {
  const handle = await open(file);
  try {
    const { size } = await handle.stat();
    const url = `${base}/${enc(path.basename(file))}`;
    const bar = progress ? new ProgressBar(path.basename(file), size) : undefined;
    bar?.update(0);
    if (size <= chunkSize) {
      const { buffer } = await readChunk(handle, 0, size);
      await api.upload('PUT', url, buffer);
      bar?.update(size);
      return;
    }
    await api.request('POST', `${url}?action=INITIALIZE`);
    for (let start = 0; start < size; start += chunkSize) {
      const { buffer, bytes } = await readChunk(handle, start, Math.min(chunkSize, size - start));
      await api.upload('PATCH', url, buffer, { 'content-range': `bytes ${start}-${start + bytes - 1}/${size}` });
      bar?.update(start + bytes);
    }
    await api.request('POST', `${url}?action=COMPLETE`);
  } finally {
    await handle.close();
  }
}

async function readChunk(handle: Awaited<ReturnType<typeof open>>, position: number, length: number): Promise<{ buffer: Uint8Array; bytes: number }> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return { buffer: buffer.subarray(0, bytesRead), bytes: bytesRead };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForBatch(api: ApiClient, id: string): Promise<Batch> {
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    const batch = await api.request<Batch>('GET', `${BATCHES}/${enc(id)}`);
    if (batch.status !== 'processing' && batch.status !== 'loading') return batch;
    await sleep(delay);
  }
}

const BATCH_COLUMNS = ['id', 'status', 'rowsRead', 'rowsWritten', 'rowsRejected', 'errorCode'];

async function ingest(api: ApiClient, out: Printer, files: string[], opts: IngestOptions): Promise<void> {
  if (!opts.dataset) throw new RoundtripError('RT_REQUEST_INVALID', 'Name the dataset: roundtrip ingest --dataset NAME FILE…');
  if (files.length === 0) throw new RoundtripError('RT_REQUEST_INVALID', 'Give at least one file: roundtrip ingest --dataset NAME FILE…');
  const threshold = Number(opts.threshold);
  if (!(threshold >= 0 && threshold <= 1)) throw new RoundtripError('RT_REQUEST_INVALID', `--threshold ${opts.threshold}: give the rejected share that fails the batch, from 0 to 1 (0.1 = 10%).`);
  const chunkSize = Math.round(Number(opts.chunkSize) * MB);
  if (!(chunkSize >= 1)) throw new RoundtripError('RT_REQUEST_INVALID', `--chunk-size ${opts.chunkSize}: give a size in MB.`);
  const format = formatOf(files, opts.format);
  const batch = await api.request<Batch>('POST', BATCHES, {
    datasetId: opts.dataset,
    inputFormat: { format, ...(opts.multiline ? { isMultiLineJson: true } : {}), ...(opts.delimiter ? { delimiter: opts.delimiter } : {}) },
    failureThreshold: threshold,
  });
  const base = `${BATCHES}/${enc(batch.id)}/datasets/${enc(opts.dataset)}/files`;
  try {
    for (const file of files) await uploadFile(api, base, file, chunkSize, opts.progress);
  } catch (error) {
    await api.request('POST', `${BATCHES}/${enc(batch.id)}?action=ABORT`).catch(() => undefined);
    throw error;
  }
  const completed = await api.request<Batch>('POST', `${BATCHES}/${enc(batch.id)}?action=COMPLETE`);
  if (!opts.wait) return out.rows([completed], BATCH_COLUMNS);
  const done = await waitForBatch(api, batch.id);
  out.rows([done], BATCH_COLUMNS);
  if (done.status === 'failed') {
    throw new RoundtripError((done.errorCode ?? 'RT_INTERNAL') as ErrorCode, `Batch ${done.id} failed: ${done.errorMessage ?? ''} (roundtrip failed-records list --batch ${done.id})`);
  }
}

interface Overview {
  dataset: { id: string; name: string };
  batch: { batches: number; rowsRead: number; rowsWritten: number; rowsRejected: number; failureRate: number; byStatus: Record<string, number> };
  streaming: { batches: number; rowsRead: number; rowsWritten: number; rowsRejected: number; failureRate: number };
  failedRecords: { total: number };
  recentBatches: Batch[];
}

const percent = (rate: number): string => `${(rate * 100).toFixed(1)}%`;

function overviewRow(o: Overview): Row {
  return {
    dataset: o.dataset.name,
    batches: o.batch.batches,
    succeeded: o.batch.byStatus.success ?? 0,
    failed: o.batch.byStatus.failed ?? 0,
    rowsWritten: o.batch.rowsWritten,
    rowsRejected: o.batch.rowsRejected,
    batchFailureRate: percent(o.batch.failureRate),
    streamCommits: o.streaming.batches,
    streamRows: o.streaming.rowsWritten,
    streamFailureRate: percent(o.streaming.failureRate),
    failedRecords: o.failedRecords.total,
  };
}

async function status(api: ApiClient, out: Printer, dataset: string | undefined): Promise<void> {
  const names = dataset ? [dataset] : (await api.request<{ datasets: { id: string }[] }>('GET', '/datasets')).datasets.map((d) => d.id);
  const overviews = await Promise.all(names.map((id) => api.request<Overview>('GET', `/datasets/${enc(id)}/ingestion`)));
  if (out.json) return out.value(dataset ? overviews[0] : overviews);
  out.rows(overviews.map(overviewRow));
  if (dataset) {
    out.note('\nRecent batches');
    out.rows(overviews[0]!.recentBatches, BATCH_COLUMNS);
  }
}

function failedRecordsQuery(opts: { batch?: string; dataset?: string; code?: string }, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    ...(opts.batch ? { batchId: opts.batch } : {}),
    ...(opts.dataset ? { datasetId: opts.dataset } : {}),
    ...(opts.code ? { code: opts.code } : {}),
    ...extra,
  });
  return query.toString();
}

export function ingestCommands(program: Command, ctx: CliContext): void {
  const command = program
    .command('ingest')
    .description('Ingest files into a dataset as one batch (json, jsonl, csv, parquet); `ingest status` shows the overview')
    .argument('[files...]', 'files to upload (format from the extension, or --format)')
    .option('--dataset <name>', 'dataset id or name')
    .option('--format <format>', 'json, jsonl, csv or parquet')
    .option('--multiline', 'json: records span lines (pretty-printed values)')
    .option('--delimiter <char>', 'csv: column separator (default ,)')
    .option('--threshold <share>', 'fail the batch, writing nothing, when more than this share of rows is rejected', '0.1')
    .option('--chunk-size <mb>', 'upload files larger than this in chunks of this size', '8')
    .option('--no-progress', 'no progress bar on stderr')
    .option('--no-wait', 'return once the batch is processing')
    .action((files: string[], opts: IngestOptions) => ctx.withClient((api, out) => ingest(api, out, files, opts)));
  command
    .command('status')
    .description('Per dataset: recent batches, streaming commits, failure rates, failed records (--dataset for one)')
    .action(() => ctx.withClient((api, out) => status(api, out, command.opts<IngestOptions>().dataset)));
  command
    .command('show <batchId>')
    .description('One batch: status, files and counts')
    .action((id: string) => ctx.withClient(async (api, out) => out.value(await api.request('GET', `${BATCHES}/${enc(id)}`))));

  const failed = program.command('failed-records').description('Rows that ingestion refused, kept with their reasons');
  failed
    .command('list')
    .option('--batch <id>', 'of one batch')
    .option('--dataset <name>', 'of one dataset')
    .option('--code <code>', 'by the code of their first issue')
    .option('--limit <n>', 'how many', '20')
    .option('--offset <n>', 'skip this many', '0')
    .action((opts: { batch?: string; dataset?: string; code?: string; limit: string; offset: string }) =>
      ctx.withClient(async (api, out) => {
        const page = await api.request<{ total: number; failedRecords: (Row & { issues: { message: string }[] })[] }>(
          'GET',
          `/failed-records?${failedRecordsQuery(opts, { limit: opts.limit, offset: opts.offset })}`,
        );
        if (out.json) return out.value(page);
        out.rows(page.failedRecords.map((r) => ({ ...r, message: r.issues[0]?.message })), ['batchId', 'rowNumber', 'code', 'path', 'message', 'raw']);
        out.note(`${page.failedRecords.length} of ${page.total}`);
      }),
    );
  failed
    .command('download')
    .description('All matching failed records as JSON Lines')
    .option('--batch <id>', 'of one batch')
    .option('--dataset <name>', 'of one dataset')
    .option('--code <code>', 'by the code of their first issue')
    .option('--output <file>', 'write here instead of standard output')
    .action((opts: { batch?: string; dataset?: string; code?: string; output?: string }) =>
      ctx.withClient(async (api) => {
        const text = await api.requestText('GET', `/failed-records/download?${failedRecordsQuery(opts)}`);
        if (opts.output) await writeFile(opts.output, text);
        else process.stdout.write(text);
      }),
    );
}
