/**
 * Admin commands: sandboxes, API keys, the audit log and `whoami`. Each maps onto one HTTP route.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import type { Row } from '../output.ts';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function adminCommands(program: Command, ctx: CliContext): void {
  const sandbox = program.command('sandbox').description('Create, list, reset and delete sandboxes');
  sandbox.command('list').description('List sandboxes').action(() =>
    ctx.withClient(async (api, out) => out.rows((await api.request<{ sandboxes: Row[] }>('GET', '/sandboxes')).sandboxes)),
  );
  sandbox
    .command('create <name>')
    .description('Create a development sandbox')
    .option('--title <title>', 'display title')
    .option('--type <type>', 'production or development')
    .action((name: string, opts: { title?: string; type?: string }) =>
      ctx.withClient(async (api, out) => out.rows([await api.request<Row>('POST', '/sandboxes', { name, ...opts })])),
    );
  sandbox.command('reset <name>').description('Empty a sandbox: its datasets, schemas and data').action((name: string) =>
    ctx.withClient(async (api, out) => {
      await api.request('POST', `/sandboxes/${encodeURIComponent(name)}/reset`);
      out.note(`Sandbox ${name} reset.`);
    }),
  );
  sandbox.command('delete <name>').description('Delete a development sandbox').action((name: string) =>
    ctx.withClient(async (api, out) => {
      await api.request('DELETE', `/sandboxes/${encodeURIComponent(name)}`);
      out.note(`Sandbox ${name} deleted.`);
    }),
  );

  const key = program.command('key').description('Create, list and revoke API keys');
  key
    .command('create')
    .description('Create an API key; its secret is printed once')
    .requiredOption('--name <name>', 'what the key is for')
    .requiredOption('--role <role>', 'admin, data-engineer, analyst, marketer or viewer')
    .option('--scope <sandbox>', 'a sandbox the key may use (repeat; default all)', collect)
    .action((opts: { name: string; role: string; scope?: string[] }) =>
      ctx.withClient(async (api, out) => {
        const created = await api.request<{ key: Row; token: string }>('POST', '/api-keys', { name: opts.name, role: opts.role, sandboxes: opts.scope });
        if (out.json) return out.value(created);
        out.rows([created.key], ['id', 'name', 'role', 'sandboxes']);
        out.note(`\nSecret (shown once): ${created.token}`);
      }),
    );
  key.command('list').description('List API keys (never their secrets)').action(() =>
    ctx.withClient(async (api, out) =>
      out.rows((await api.request<{ keys: Row[] }>('GET', '/api-keys')).keys, ['id', 'name', 'role', 'sandboxes', 'createdAt', 'lastUsedAt', 'revokedAt']),
    ),
  );
  key.command('revoke <id>').description('Revoke an API key').action((id: string) =>
    ctx.withClient(async (api, out) => out.rows([await api.request<Row>('DELETE', `/api-keys/${encodeURIComponent(id)}`)], ['id', 'name', 'revokedAt'])),
  );

  program
    .command('audit')
    .description('Who changed what, newest first')
    .option('--for-sandbox <name>', 'only this sandbox')
    .option('--actor <keyId>', 'only this key')
    .option('--resource-type <type>', 'schema, dataset, apikey, sandbox, ...')
    .option('--since <iso>', 'only entries at or after this time')
    .option('--limit <n>', 'how many', '50')
    .action((opts: { forSandbox?: string; actor?: string; resourceType?: string; since?: string; limit: string }) =>
      ctx.withClient(async (api, out) => {
        const query = new URLSearchParams();
        if (opts.forSandbox) query.set('sandbox', opts.forSandbox);
        if (opts.actor) query.set('actor', opts.actor);
        if (opts.resourceType) query.set('resourceType', opts.resourceType);
        if (opts.since) query.set('since', opts.since);
        query.set('limit', opts.limit);
        out.rows((await api.request<{ entries: Row[] }>('GET', `/audit?${query.toString()}`)).entries, ['id', 'at', 'actor', 'sandbox', 'action', 'resourceId']);
      }),
    );

  program.command('whoami').description('Show the key (or local operator) in use').action(() =>
    ctx.withClient(async (api, out) => out.rows([await api.request<Row>('GET', '/whoami')])),
  );
}
