/**
 * Identity, profile, merge policy and privacy commands, each one HTTP route: the identity graph (view, stats,
 * refused links, unlink/relink, settings, rebuild), profile lookups and events, snapshot tables, merge
 * policies, privacy deletes and `sandbox compact`. Identities are written `NAMESPACE:value` (`Email:a@b.com`).
 */
import type { Command } from 'commander';
import { RoundtripError } from '../../core/errors.ts';
import type { CliContext } from '../context.ts';
import type { Row } from '../output.ts';

const enc = encodeURIComponent;

/** `Email:a@b.com` → namespace and value (the value may contain `:`). */
export function parseIdentity(text: string): { namespace: string; id: string } {
  const at = text.indexOf(':');
  if (at <= 0 || at === text.length - 1) throw new RoundtripError('RT_REQUEST_INVALID', `"${text}" is not an identity; write NAMESPACE:value, e.g. Email:pat@example.com.`);
  return { namespace: text.slice(0, at), id: text.slice(at + 1) };
}

const identityQuery = (text: string, extra: Record<string, string | undefined> = {}): string => {
  const { namespace, id } = parseIdentity(text);
  const params = new URLSearchParams({ namespace, id });
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) params.set(k, v);
  return params.toString();
};

const list = (value: string): string[] => value.split(',').map((s) => s.trim()).filter(Boolean);

export function identityCommands(program: Command, ctx: CliContext): void {
  const identity = program.command('identity').description('Identity graph: view, unlink and relink identities, guardrails');
  identity.command('graph <identity>').description('The graph an identity (NAMESPACE:value) belongs to').action((text: string) =>
    ctx.withClient(async (api, out) => out.value(await api.request('GET', `/identity/graph?${identityQuery(text)}`))),
  );
  identity.command('stats').description('Identities, graphs, refused links and settings').action(() => ctx.withClient(async (api, out) => out.value(await api.request('GET', '/identity/stats'))));
  identity
    .command('refusals')
    .description('Links the guardrails refused')
    .option('--limit <n>', 'how many', '50')
    .action((opts: { limit: string }) =>
      ctx.withClient(async (api, out) => {
        const { refusals } = await api.request<{ refusals: Row[] }>('GET', `/identity/refusals?limit=${enc(opts.limit)}`);
        out.rows(refusals.map((r) => ({ ...r, a: `${(r.a as Row).namespace as string}:${(r.a as Row).id as string}`, b: `${(r.b as Row).namespace as string}:${(r.b as Row).id as string}` })), ['a', 'b', 'reason', 'namespace', 'datasetId']);
      }),
    );
  identity
    .command('unlink <a> <b>')
    .description('Remove the link between two identities of one graph (splits the profile; audited)')
    .action((a: string, b: string) => ctx.withClient(async (api, out) => out.value(await api.request('POST', '/identity/unlink', { a: parseIdentity(a), b: parseIdentity(b) }))));
  identity.command('unlinks').description('Removed links').action(() =>
    ctx.withClient(async (api, out) => {
      const { unlinks } = await api.request<{ unlinks: Row[] }>('GET', '/identity/unlinks');
      out.rows(unlinks.map((u) => ({ ...u, a: JSON.stringify(u.a), b: JSON.stringify(u.b) })), ['id', 'a', 'b', 'createdBy', 'createdAt']);
    }),
  );
  identity.command('relink <unlinkId>').description('Undo an unlink').action((id: string) => ctx.withClient(async (api, out) => out.value(await api.request('DELETE', `/identity/unlinks/${enc(id)}`))));
  identity
    .command('settings')
    .description('Show or change graph settings (a change rebuilds the graph)')
    .option('--max-identities <n>', 'identities a graph may hold')
    .option('--unique <namespaces>', 'namespaces allowed once per graph, comma-separated')
    .option('--phone-country <code>', 'country for phone numbers without a country code (or "none")')
    .action((opts: { maxIdentities?: string; unique?: string; phoneCountry?: string }) =>
      ctx.withClient(async (api, out) => {
        const body = {
          ...(opts.maxIdentities !== undefined && { maxIdentities: Number(opts.maxIdentities) }),
          ...(opts.unique !== undefined && { uniqueNamespaces: list(opts.unique) }),
          ...(opts.phoneCountry !== undefined && { phoneDefaultCountry: opts.phoneCountry === 'none' ? null : opts.phoneCountry.toUpperCase() }),
        };
        out.value(Object.keys(body).length ? await api.request('PUT', '/identity/settings', body) : await api.request('GET', '/identity/settings'));
      }),
    );
  identity.command('rebuild').description('Rebuild the graph from the datasets').action(() => ctx.withClient(async (api, out) => out.value(await api.request('POST', '/identity/rebuild'))));

  const profile = program.command('profile').description('Unified profiles: lookup by any identity, events, snapshot tables');
  profile
    .command('get <identity>')
    .description('The merged profile of an identity (NAMESPACE:value)')
    .option('--policy <id>', 'merge policy (default: the default one)')
    .option('--events <n>', 'recent events to include', '5')
    .action((text: string, opts: { policy?: string; events: string }) =>
      ctx.withClient(async (api, out) => out.value(await api.request('GET', `/profiles?${identityQuery(text, { mergePolicyId: opts.policy, events: opts.events })}`))),
    );
  profile
    .command('events <identity>')
    .description("The person's events, newest first")
    .option('--policy <id>', 'merge policy')
    .option('--limit <n>', 'events per page', '20')
    .option('--before <cursor>', 'the `next` cursor of the previous page')
    .action((text: string, opts: { policy?: string; limit: string; before?: string }) =>
      ctx.withClient(async (api, out) => out.value(await api.request('GET', `/profiles/events?${identityQuery(text, { mergePolicyId: opts.policy, limit: opts.limit, before: opts.before })}`))),
    );
  profile.command('snapshots').description('Profile snapshot tables, one per merge policy').action(() =>
    ctx.withClient(async (api, out) => out.rows((await api.request<{ snapshots: Row[] }>('GET', '/profiles/snapshots')).snapshots)),
  );
  profile
    .command('refresh')
    .description('Rebuild the profile snapshot tables now')
    .option('--policy <id>', 'only this merge policy')
    .action((opts: { policy?: string }) =>
      ctx.withClient(async (api, out) => out.rows((await api.request<{ snapshots: Row[] }>('POST', '/profiles/snapshot/refresh', opts.policy ? { mergePolicyId: opts.policy } : {})).snapshots)),
    );

  const policies = program.command('merge-policy').description('Merge policies (at most 5 per sandbox, one default per class)');
  const columns = ['id', 'name', 'classId', 'method', 'datasetOrder', 'idStitching', 'isDefault', 'snapshotTable'];
  policies.command('list').action(() => ctx.withClient(async (api, out) => out.rows((await api.request<{ mergePolicies: Row[] }>('GET', '/merge-policies')).mergePolicies, columns)));
  policies.command('show <id>').action((id: string) => ctx.withClient(async (api, out) => out.value(await api.request('GET', `/merge-policies/${enc(id)}`))));
  const policyOptions = (command: Command): Command =>
    command
      .option('--method <method>', 'timestamp-ordered or dataset-precedence')
      .option('--datasets <list>', 'dataset precedence: datasets, highest first, comma-separated')
      .option('--stitching <mode>', 'private-graph or none')
      .option('--default', 'make it the default of its class');
  interface PolicyOptions {
    method?: string;
    datasets?: string;
    stitching?: string;
    default?: boolean;
    class?: string;
  }
  const policyBody = (opts: PolicyOptions) => ({
    ...(opts.method && { method: opts.method }),
    ...(opts.datasets && { datasetOrder: list(opts.datasets) }),
    ...(opts.stitching && { idStitching: opts.stitching }),
    ...(opts.default && { isDefault: true }),
    ...(opts.class && { class: opts.class }),
  });
  policyOptions(policies.command('create <name>').option('--class <class>', 'profile or experienceevent')).action((name: string, opts: PolicyOptions) =>
    ctx.withClient(async (api, out) => out.rows([await api.request<Row>('POST', '/merge-policies', { name, ...policyBody(opts) })], columns)),
  );
  policyOptions(policies.command('update <id>').option('--name <name>', 'new name')).action((id: string, opts: PolicyOptions & { name?: string }) =>
    ctx.withClient(async (api, out) => out.rows([await api.request<Row>('PATCH', `/merge-policies/${enc(id)}`, { ...(opts.name && { name: opts.name }), ...policyBody(opts) })], columns)),
  );
  policies.command('delete <id>').action((id: string) =>
    ctx.withClient(async (api, out) => {
      await api.request('DELETE', `/merge-policies/${enc(id)}`);
      out.note(`Merge policy ${id} deleted.`);
    }),
  );

  const privacy = program.command('privacy').description('Privacy requests: delete a person by any identity');
  privacy
    .command('delete <identity>')
    .description('Erase the person an identity (NAMESPACE:value) belongs to; prints the job report')
    .option('--compact', 'also rewrite the sandbox database so deleted bytes leave the disk')
    .action((text: string, opts: { compact?: boolean }) =>
      ctx.withClient(async (api, out) => out.value(await api.request('POST', '/privacy/delete', { ...parseIdentity(text), compact: Boolean(opts.compact) }))),
    );
  privacy.command('jobs').description('Privacy jobs, newest first').action(() =>
    ctx.withClient(async (api, out) => out.rows((await api.request<{ jobs: Row[] }>('GET', '/privacy/jobs')).jobs, ['id', 'status', 'namespace', 'requestedBy', 'requestedAt', 'completedAt'])),
  );
  privacy.command('job <id>').description('One privacy job report').action((id: string) => ctx.withClient(async (api, out) => out.value(await api.request('GET', `/privacy/jobs/${enc(id)}`))));

  // `sandbox compact` joins the sandbox commands defined with the admin commands.
  const sandbox = program.commands.find((c) => c.name() === 'sandbox') ?? program.command('sandbox');
  sandbox
    .command('compact <name>')
    .description('Rewrite a sandbox database so bytes of deleted rows leave the disk')
    .action((name: string) => ctx.withClient(async (api, out) => out.rows([await api.request<Row>('POST', `/sandboxes/${enc(name)}/compact`)])));
}
