/**
 * Collect (demo steps 2-4): the synthetic brand generated into the demo directory, its catalogue (namespace,
 * schemas, datasets) created from the manifest, every data file loaded through the batch ingestion service
 * (one batch per dataset, the malformed profile rows as a JSON Lines batch of their own so they end up as
 * failed records), then a tail of live web events streamed through the collection endpoint over real HTTP.
 *
 * `loadBrand` is the one way to put a generated brand into a platform; tests and benchmarks that need the
 * whole brand can call it instead of writing their own loader.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LOCAL_OPERATOR, type Principal } from '../access/principal.ts';
import type { NamespaceInput, SchemaInput } from '../catalog/payloads.ts';
import { RoundtripError } from '../core/errors.ts';
import type { BatchRecord } from '../ports/metadata-store.ts';
import type { Platform } from '../platform/platform.ts';
import { generateBrand, type DatasetEntry, type Manifest } from '../synthetic/index.ts';
import { Rng } from '../synthetic/random.ts';
import { PRODUCTS } from '../synthetic/vocabulary.ts';
import { api, count, need, SANDBOX, sql, type DemoContext, type Step } from './context.ts';

export interface LoadedDataset {
  key: string;
  id: string;
  table: string;
  batches: BatchRecord[];
}

/** The brand's namespaces, schemas and datasets, created from its manifest; dataset id per key. */
export async function createCatalog(platform: Platform, manifest: Manifest, sandbox = SANDBOX, actor: Principal = LOCAL_OPERATOR): Promise<Map<string, string>> {
  const known = new Set((await platform.registry.listNamespaces(sandbox)).map((n) => n.code.toLowerCase()));
  for (const ns of manifest.namespaces as NamespaceInput[]) if (!known.has(ns.code.toLowerCase())) await platform.registry.createNamespace(actor, sandbox, ns);
  const schemaIds = new Map<string, string>();
  for (const [key, schema] of Object.entries(manifest.schemas as Record<string, SchemaInput>)) schemaIds.set(key, (await platform.registry.createSchema(actor, sandbox, schema)).id);
  const datasets = new Map<string, string>();
  for (const entry of manifest.datasets) {
    const created = await platform.datasets.create(actor, sandbox, { ...entry.definition, schemaId: schemaIds.get(entry.schema)! });
    datasets.set(entry.key, created.id);
  }
  return datasets;
}

/** One batch through the service: create, stream the files into staging, complete; resolves once processed. */
export async function ingestFiles(platform: Platform, datasetId: string, format: 'parquet' | 'jsonl' | 'csv', files: string[], options: { sandbox?: string; actor?: Principal; failureThreshold?: number } = {}): Promise<BatchRecord> {
  const sandbox = options.sandbox ?? SANDBOX;
  const actor = options.actor ?? LOCAL_OPERATOR;
  const service = platform.batchIngestion;
  const batch = await service.create(actor, sandbox, { datasetId, inputFormat: { format }, ...(options.failureThreshold === undefined ? {} : { failureThreshold: options.failureThreshold }) });
  for (const [i, file] of files.entries()) await service.putFile(sandbox, batch.id, datasetId, `${String(i).padStart(4, '0')}-${path.basename(file)}`, createReadStream(file));
  await service.complete(actor, sandbox, batch.id);
  return service.settled(sandbox, batch.id);
}

/** Every data file of the brand in `dir` through batch ingestion; the malformed profile rows as their own batch. */
export async function loadBrand(platform: Platform, dir: string, manifest: Manifest, datasets: Map<string, string>, onBatch: (entry: DatasetEntry, batch: BatchRecord, seconds: number) => void = () => undefined): Promise<LoadedDataset[]> {
  const loaded: LoadedDataset[] = [];
  for (const entry of manifest.datasets) {
    const id = datasets.get(entry.key)!;
    const batches: BatchRecord[] = [];
    const t0 = performance.now();
    const files = entry.files.filter((f) => f.rows > 0).map((f) => path.join(dir, f.path));
    if (files.length) batches.push(await ingestFiles(platform, id, manifest.format, files));
    // Every malformed row is refused, so the batch may reject all of it without failing.
    if (entry.malformed && entry.malformed.rows > 0) batches.push(await ingestFiles(platform, id, 'jsonl', [path.join(dir, entry.malformed.path)], { failureThreshold: 1 }));
    for (const batch of batches) {
      if (batch.status !== 'success') throw new RoundtripError((batch.errorCode ?? 'RT_INTERNAL') as 'RT_INTERNAL', `Batch ${batch.id} into ${entry.definition.name} ended ${batch.status}: ${batch.errorMessage ?? ''}`);
      onBatch(entry, batch, (performance.now() - t0) / 1000);
    }
    loaded.push({ key: entry.key, id, table: entry.table, batches });
  }
  return loaded;
}

export const generateStep: Step = {
  name: 'generate',
  title: 'Generate the synthetic brand',
  fix: 'Check the free disk space of the data directory; try a smaller --profiles.',
  async run(ctx) {
    const out = path.join(ctx.options.dataDir, 'brand');
    let last = 0;
    const report = await generateBrand({
      profiles: ctx.options.profiles,
      seed: ctx.options.seed,
      out,
      format: 'parquet',
      tenant: ctx.config.tenant,
      threads: ctx.config.duckdbThreads,
      onProgress: (p) => {
        if (Date.now() - last < 1000) return;
        last = Date.now();
        ctx.progress(`  ${p.step} part ${p.part}/${p.parts}`);
      },
    });
    ctx.state.manifest = JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
    ctx.state.brandDir = out;
    const rows = need(ctx, 'manifest').datasets.reduce((sum, d) => sum + d.rows + (d.malformed?.rows ?? 0), 0);
    return { counts: { people: report.profiles, accounts: report.summary.accounts, rows }, note: `${report.parts} part(s), Parquet` };
  },
};

export const ingestStep: Step = {
  name: 'ingest',
  title: 'Batch-ingest every dataset',
  fix: 'Run `roundtrip ingest status` and `roundtrip failed-records list` on the data directory to see which batch failed and why.',
  async run(ctx) {
    const platform = need(ctx, 'platform');
    const manifest = need(ctx, 'manifest');
    const datasets = await createCatalog(platform, manifest);
    ctx.state.datasets = datasets;
    const counts = { datasets: datasets.size, batches: 0, rowsRead: 0, rowsWritten: 0, rowsRejected: 0 };
    await loadBrand(platform, need(ctx, 'brandDir'), manifest, datasets, (entry, batch, seconds) => {
      counts.batches++;
      counts.rowsRead += batch.rowsRead;
      counts.rowsWritten += batch.rowsWritten;
      counts.rowsRejected += batch.rowsRejected;
      ctx.progress(`  ${entry.definition.name}: ${batch.rowsWritten.toLocaleString('en')} rows written, ${batch.rowsRejected} rejected (${seconds.toFixed(1)} s)`);
    });
    return { counts };
  },
};

// ---- the live tail ----------------------------------------------------------------------------------------

/** Sessions of a login and product views by known customers on a new device, timed in the last hour. */
export async function liveEvents(ctx: DemoContext, total: number): Promise<Record<string, unknown>[]> {
  const tenant = `_${ctx.config.tenant}`;
  const sessions = Math.max(1, Math.ceil(total / 5));
  const customers = (await sql(ctx, `SELECT "${tenant}".crmId AS crm FROM customer_profiles WHERE "${tenant}".crmId IS NOT NULL ORDER BY hash("${tenant}".crmId) LIMIT ${sessions}`)).map((r) => String(r.crm));
  const rng = new Rng(ctx.options.seed, 1);
  const start = Date.now() - 3_600_000;
  const events: Record<string, unknown>[] = [];
  for (let s = 0; events.length < total; s++) {
    const crm = customers[s % customers.length]!;
    rng.reseed(s, 0);
    const ecid = Array.from({ length: 38 }, () => String(rng.nextU32() % 10)).join('');
    let at = start + Math.floor(rng.uniform() * 3_000_000);
    const identityMap = { ECID: [{ id: ecid, authenticatedState: 'authenticated', primary: true }], CRMID: [{ id: crm, authenticatedState: 'authenticated', primary: false }] };
    const common = (i: number) => ({ _id: `live-${ctx.options.seed}-${s}-${i}`, timestamp: new Date((at += 20_000 + Math.floor(rng.uniform() * 60_000))).toISOString(), identityMap, [tenant]: { channel: 'web', sessionId: `live-${s}` } });
    events.push({ ...common(0), eventType: 'userAccount.login', web: { webPageDetails: { name: 'Sign in', URL: 'https://shop.skylark.example/account/login' } } });
    for (let i = 1; i < 5 && events.length < total; i++) {
      const product = PRODUCTS[rng.nextU32() % PRODUCTS.length]!;
      events.push({
        ...common(i),
        eventType: 'commerce.productViews',
        web: { webPageDetails: { name: product.name, URL: `https://shop.skylark.example/p/${product.sku}` } },
        commerce: { productViews: { value: 1 } },
        productListItems: [{ SKU: product.sku, name: product.name, quantity: 1, priceTotal: product.cents / 100 }],
      });
    }
  }
  return events;
}

interface BatchAnswer {
  responses: { status: number; issues?: unknown[] }[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** POSTs a collection batch as a client would: waits out 429s for Retry-After seconds (a few times), fails on others. */
async function postCollection(url: string, secret: string, body: unknown): Promise<BatchAnswer> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (response.status === 429 && attempt < 10) {
      await sleep(1000 * Math.max(1, Number(response.headers.get('retry-after') ?? 1)));
      continue;
    }
    if (response.status === 200 || response.status === 202 || response.status === 207) return (await response.json()) as BatchAnswer;
    const text = await response.text();
    const code = /"code":"(RT_[A-Z_]+)"/.exec(text)?.[1] ?? 'RT_DEMO_STEP_FAILED';
    throw new RoundtripError(code as 'RT_DEMO_STEP_FAILED', `POST ${new URL(url).pathname} answered ${response.status}: ${text}`);
  }
}

export const streamStep: Step = {
  name: 'stream',
  title: 'Stream a tail of live web events',
  fix: 'Run `roundtrip streaming stats`; a 429 means the machine is overloaded: rerun with a smaller --profiles.',
  async run(ctx) {
    const web = ctx.state.datasets.get('web');
    if (!web) throw new RoundtripError('RT_DEMO_STEP_FAILED', 'The Web Events dataset was not created by the ingest step.');
    const created = await api<{ connection: { id: string }; secret: string }>(ctx, 'POST', '/streaming/connections', { name: 'Demo live web', dataset: web });
    const events = await liveEvents(ctx, ctx.options.streamEvents);
    const counts = { sent: 0, stored: 0, failed: 0, refused: 0, requests: 0 };
    const before = await count(ctx, 'SELECT count(*) FROM web_events');
    for (let start = 0; start < events.length; start += 250) {
      const messages = events.slice(start, start + 250).map((xdmEntity) => ({ header: { datasetId: web }, body: { xdmEntity } }));
      const answer = await postCollection(`${need(ctx, 'baseUrl')}/collection/batch/${created.connection.id}`, created.secret, { messages });
      counts.requests++;
      counts.sent += messages.length;
      for (const r of answer.responses) {
        if (r.status === 200) counts.stored++;
        else if (r.status === 202) counts.failed++;
        else counts.refused++;
      }
      ctx.progress(`  ${counts.sent.toLocaleString('en')} / ${events.length.toLocaleString('en')} events acknowledged`);
    }
    await need(ctx, 'platform').streaming.flush();
    const applied = (await count(ctx, 'SELECT count(*) FROM web_events')) - before;
    return { counts: { ...counts, applied }, note: `connection ${created.connection.id}` };
  },
};
