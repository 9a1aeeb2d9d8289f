/**
 * `roundtrip audience …`: create PQL audiences (batch, streaming, edge), list them, evaluate them in a segment
 * job (waiting for it and printing its counts), estimate their size from a sample, page their members, and
 * upload an external audience from a CSV file. Everything goes through the `/segment/*` API.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { RoundtripError } from '../../core/errors.ts';
import type { ApiClient } from '../client.ts';
import type { CliContext } from '../context.ts';

interface Definition {
  id: string;
  name: string;
  origin: string;
  expression: { value: string } | null;
  evaluationInfo: { batch: { enabled: boolean }; continuous: { enabled: boolean }; synchronous: { enabled: boolean } };
  mergePolicyId: string;
  lookbackDays: number | null;
}

interface Job {
  id: string;
  status: string;
  metrics: { totalProfiles: number; segmentedProfileCounter: Record<string, number>; segmentedProfileByStatusCounter: Record<string, Record<string, number>>; totalTime: { totalTimeInMs: number } } | null;
  errors: { code: string; msg: string }[];
}

const methods = (d: Definition): string =>
  [d.evaluationInfo.batch.enabled && 'batch', d.evaluationInfo.continuous.enabled && 'streaming', d.evaluationInfo.synchronous.enabled && 'edge'].filter(Boolean).join(', ');

const integer = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new RoundtripError('RT_REQUEST_INVALID', `${flag} takes a whole number, not "${value}".`);
  return n;
};

/** Polls a job until it ends (the API runs it in the background). */
async function waitForJob(api: ApiClient, id: string): Promise<Job> {
  for (;;) {
    const job = await api.request<Job>('GET', `/segment/jobs/${encodeURIComponent(id)}`);
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export function audienceCommands(program: Command, ctx: CliContext): void {
  const audience = program.command('audience').description('Audiences: PQL segment definitions, segment jobs, estimates, members, CSV uploads');

  audience
    .command('create')
    .description('Create a PQL audience (parsed and checked for streaming/edge eligibility on save)')
    .requiredOption('--name <name>', 'audience name')
    .option('--pql <text>', 'the PQL expression')
    .option('--file <file>', 'read the PQL expression from a file')
    .option('--description <text>', 'description')
    .option('--streaming', 'evaluate continuously (streaming), refused when not eligible')
    .option('--edge', 'evaluate on edge (synchronous), refused when not eligible')
    .option('--no-batch', 'no daily batch evaluation')
    .option('--merge-policy <id>', 'merge policy (default: the sandbox default)')
    .action((opts: { name: string; pql?: string; file?: string; description?: string; streaming?: boolean; edge?: boolean; batch: boolean; mergePolicy?: string }) =>
      ctx.withClient(async (api, out) => {
        if (Boolean(opts.pql) === Boolean(opts.file)) throw new RoundtripError('RT_REQUEST_INVALID', 'Give --pql TEXT or --file FILE.');
        const value = opts.pql ?? readFileSync(opts.file!, 'utf8').trim();
        const body = {
          name: opts.name,
          ...(opts.description ? { description: opts.description } : {}),
          expression: { type: 'PQL', format: 'pql/text', value },
          evaluationInfo: { batch: { enabled: opts.batch }, continuous: { enabled: Boolean(opts.streaming) }, synchronous: { enabled: Boolean(opts.edge) } },
          ...(opts.mergePolicy ? { mergePolicyId: opts.mergePolicy } : {}),
        };
        const d = await api.request<Definition>('POST', '/segment/definitions', body);
        if (out.json) return out.value(d);
        console.log(`Created audience ${d.id} "${d.name}" (${methods(d) || 'no evaluation'})`);
      }),
    );

  audience
    .command('list')
    .description('Audiences, newest first')
    .action(() =>
      ctx.withClient(async (api, out) => {
        const { segments } = await api.request<{ segments: Definition[] }>('GET', '/segment/definitions');
        if (out.json) return out.value(segments);
        out.rows(segments.map((d) => ({ id: d.id, name: d.name, origin: d.origin, methods: methods(d), expression: d.expression?.value.replace(/\s+/g, ' ').slice(0, 60) ?? '' })));
      }),
    );

  audience
    .command('evaluate [ids...]')
    .description('Run a segment job for these audiences (or --all batch audiences), wait for it and print the counts')
    .option('--all', 'every batch-enabled audience')
    .option('--no-wait', 'return once the job is queued')
    .action((ids: string[], opts: { all?: boolean; wait: boolean }) =>
      ctx.withClient(async (api, out) => {
        const wanted = opts.all ? ['*'] : ids;
        if (wanted.length === 0) throw new RoundtripError('RT_REQUEST_INVALID', 'Name audience ids, or give --all.');
        const queued = await api.request<Job>('POST', '/segment/jobs', wanted.map((segmentId) => ({ segmentId })));
        const job = opts.wait ? await waitForJob(api, queued.id) : queued;
        if (out.json) return out.value(job);
        console.log(`Segment job ${job.id}: ${job.status}`);
        for (const e of job.errors) console.log(`${e.code}: ${e.msg}`);
        if (job.metrics) {
          const m = job.metrics;
          out.rows(Object.entries(m.segmentedProfileCounter).map(([id, n]) => ({ audience: id, members: n, entered: m.segmentedProfileByStatusCounter[id]?.entered ?? 0, exited: m.segmentedProfileByStatusCounter[id]?.exited ?? 0 })));
          console.log(`${m.totalProfiles} profiles in ${m.totalTime.totalTimeInMs} ms`);
        }
        if (job.status === 'FAILED') process.exitCode = 1;
      }),
    );

  audience
    .command('estimate <id>')
    .description('Estimate the audience size from a sample (full under 1M profiles, then 1M, then 5%) with a 95% interval')
    .option('--sample-size <n>', 'profiles to read instead of the policy', integer('--sample-size'))
    .action((id: string, opts: { sampleSize?: number }) =>
      ctx.withClient(async (api, out) => {
        const e = await api.request<{ previewId: string; estimatedSize: number; estimatedSizeRange: { low: number; high: number }; profilesReadSoFar: number; totalRows: number; runtimeMs: number; sampling: { method: string } }>(
          'POST',
          `/segment/definitions/${encodeURIComponent(id)}/estimate`,
          opts.sampleSize === undefined ? {} : { sampleSize: opts.sampleSize },
        );
        if (out.json) return out.value(e);
        console.log(`about ${e.estimatedSize} profiles (95%: ${e.estimatedSizeRange.low}–${e.estimatedSizeRange.high}), read ${e.profilesReadSoFar} of ${e.totalRows} (${e.sampling.method}) in ${e.runtimeMs} ms; preview ${e.previewId}`);
      }),
    );

  audience
    .command('members <id>')
    .description("An audience's members (realized unless --status exited), by profile id")
    .option('--limit <n>', 'page size (default 100)', integer('--limit'))
    .option('--offset <n>', 'first row (default 0)', integer('--offset'))
    .option('--status <status>', 'realized or exited')
    .action((id: string, opts: { limit?: number; offset?: number; status?: string }) =>
      ctx.withClient(async (api, out) => {
        const query = new URLSearchParams(Object.entries({ limit: opts.limit, offset: opts.offset, status: opts.status }).filter(([, v]) => v !== undefined).map(([k, v]): [string, string] => [k, String(v)]));
        const page = await api.request<{ members: { profileId: number; status: string; lastQualificationTime: string; identities: { namespace: string; id: string }[] }[]; page: { totalCount: number; next: number | null } }>(
          'GET',
          `/segment/definitions/${encodeURIComponent(id)}/members?${query.toString()}`,
        );
        if (out.json) return out.value(page);
        out.rows(page.members.map((m) => ({ profileId: m.profileId, status: m.status, since: m.lastQualificationTime, identities: m.identities.map((i) => `${i.namespace}:${i.id}`).join(' ') })));
        console.log(`${page.page.totalCount} in all${page.page.next === null ? '' : `; next page --offset ${page.page.next}`}`);
      }),
    );

  audience
    .command('upload')
    .description('Create an external audience from a CSV of identities of one namespace')
    .requiredOption('--name <name>', 'audience name')
    .requiredOption('--namespace <code>', 'identity namespace of the values (Email, CRMID, …)')
    .requiredOption('--file <file>', 'CSV file')
    .option('--column <name>', 'column holding the values (default: the first)')
    .action((opts: { name: string; namespace: string; file: string; column?: string }) =>
      ctx.withClient(async (api, out) => {
        const body = { name: opts.name, namespace: opts.namespace, csv: readFileSync(opts.file, 'utf8'), ...(opts.column ? { column: opts.column } : {}) };
        const result = await api.request<{ segment: Definition; values: number; resolved: number; unresolved: number; profiles: number }>('POST', '/audiences/external', body);
        if (out.json) return out.value(result);
        console.log(`Created audience ${result.segment.id}: ${result.values} values, ${result.resolved} resolved to ${result.profiles} profiles, ${result.unresolved} unknown`);
      }),
    );
}
