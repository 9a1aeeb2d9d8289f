/**
 * Streaming commands: create (prints the connection's secret once), list, show and revoke streaming
 * connections; `segment-setup` makes the schemas and datasets a Segment connection writes to; `stats` shows
 * the queue. Each maps onto one `/streaming/…` route.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import type { Row } from '../output.ts';

const enc = encodeURIComponent;
const COLUMNS = ['id', 'name', 'kind', 'datasets', 'endpoint', 'createdAt', 'revokedAt'];

interface CreateOptions {
  name: string;
  dataset: string;
  profileDataset?: string;
  kind?: string;
  userIdNamespace?: string;
  anonymousIdNamespace?: string;
}

function createBody(opts: CreateOptions): Record<string, unknown> {
  const identities = { userId: opts.userIdNamespace, anonymousId: opts.anonymousIdNamespace };
  const hasIdentities = Object.values(identities).some((v) => v !== undefined);
  return { name: opts.name, dataset: opts.dataset, profileDataset: opts.profileDataset, kind: opts.kind, ...(hasIdentities && { identities }) };
}

export function streamingCommands(program: Command, ctx: CliContext): void {
  const streaming = program.command('streaming').description('Streaming connections (collection envelope, Segment spec)');
  streaming
    .command('create')
    .description('Create a streaming connection; its secret (write key) is printed once')
    .requiredOption('--name <name>', 'what the connection is for')
    .requiredOption('--dataset <dataset>', 'dataset id or name receiving messages (events for Segment)')
    .option('--profile-dataset <dataset>', 'profile dataset (Segment identify, xdm profile records)')
    .option('--kind <kind>', 'xdm (collection envelope, default) or segment')
    .option('--user-id-namespace <code>', 'Segment: namespace of userId (default CRMID)')
    .option('--anonymous-id-namespace <code>', 'Segment: namespace of anonymousId (default ECID)')
    .action((opts: CreateOptions) =>
      ctx.withClient(async (api, out) => {
        const created = await api.request<{ connection: Row; secret: string }>('POST', '/streaming/connections', createBody(opts));
        if (out.json) return out.value(created);
        out.rows([created.connection], COLUMNS);
        out.note(`\nSecret (shown once; Bearer token, or the Segment write key): ${created.secret}`);
      }),
    );
  streaming.command('list').description('List streaming connections (never their secrets)').action(() =>
    ctx.withClient(async (api, out) => out.rows((await api.request<{ connections: Row[] }>('GET', '/streaming/connections')).connections, COLUMNS)),
  );
  streaming.command('show <id>').description('Show one streaming connection').action((id: string) =>
    ctx.withClient(async (api, out) => out.value(await api.request('GET', `/streaming/connections/${enc(id)}`))),
  );
  streaming.command('revoke <id>').description('Revoke a streaming connection; its secret stops working').action((id: string) =>
    ctx.withClient(async (api, out) => out.rows([await api.request<Row>('DELETE', `/streaming/connections/${enc(id)}`)], ['id', 'name', 'revokedAt'])),
  );
  streaming
    .command('segment-setup')
    .description('Create the event and profile schemas + datasets a Segment connection writes to')
    .requiredOption('--name <name>', 'prefix of the schemas and datasets, e.g. Web')
    .action((opts: { name: string }) =>
      ctx.withClient(async (api, out) => {
        const result = await api.request<Row>('POST', '/streaming/segment-setup', { name: opts.name });
        out.rows([result]);
        out.note(`\nNext: roundtrip streaming create --kind segment --name ${opts.name} --dataset ${String(result.eventDataset)} --profile-dataset ${String(result.profileDataset)}`);
      }),
    );
  streaming.command('stats').description('Queue depth and counters of streaming ingestion').action(() =>
    ctx.withClient(async (api, out) => out.value(await api.request('GET', '/streaming/stats'))),
  );
}
