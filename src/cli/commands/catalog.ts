/**
 * Catalog commands: identity namespaces, data types, field groups, schemas and datasets of a sandbox
 * (`--sandbox`, default prod). Definitions are read from JSON files (`-` for standard input).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { RoundtripError } from '../../core/errors.ts';
import type { ApiClient } from '../client.ts';
import type { CliContext } from '../context.ts';
import type { Printer, Row } from '../output.ts';

function readJson(file: string): unknown {
  const text = readFileSync(file === '-' ? 0 : file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RoundtripError('RT_REQUEST_MALFORMED_JSON', `${file} is not valid JSON: ${(error as Error).message}`);
  }
}

/** A JSON array, one JSON object, or JSON Lines. */
function readRecords(file: string): unknown[] {
  const text = readFileSync(file === '-' ? 0 : file, 'utf8').trim();
  if (text.startsWith('[')) return readJson(file) as unknown[];
  return text.split('\n').filter((l) => l.trim()).map((line, i) => {
    try {
      return JSON.parse(line) as unknown;
    } catch (error) {
      throw new RoundtripError('RT_REQUEST_MALFORMED_JSON', `${file} line ${i + 1} is not valid JSON: ${(error as Error).message}`);
    }
  });
}

const enc = encodeURIComponent;

interface Resource {
  command: string;
  description: string;
  path: string;
  listKey: string;
  columns: string[];
}

/** list / show / create for a registry resource; schemas and datasets add their own verbs below. */
function resourceCommands(program: Command, ctx: CliContext, r: Resource): Command {
  const group = program.command(r.command).description(r.description);
  group.command('list').action(() => ctx.withClient(async (api, out) => out.rows((await api.request<Record<string, Row[]>>('GET', r.path))[r.listKey] ?? [], r.columns)));
  group.command('show <id>').action((id: string) => ctx.withClient(async (api, out) => out.value(await api.request('GET', `${r.path}/${enc(id)}`))));
  return group;
}

const createFromFile = (ctx: CliContext, path: string) => (opts: { file: string }) =>
  ctx.withClient(async (api, out) => out.value(await api.request('POST', path, readJson(opts.file))));

async function showSnapshots(api: ApiClient, out: Printer, id: string): Promise<void> {
  out.rows((await api.request<{ snapshots: Row[] }>('GET', `/datasets/${enc(id)}/snapshots`)).snapshots);
}

export function catalogCommands(program: Command, ctx: CliContext): void {
  const namespaces = resourceCommands(program, ctx, {
    command: 'namespace',
    description: 'Identity namespaces',
    path: '/namespaces',
    listKey: 'namespaces',
    columns: ['code', 'name', 'idType', 'standard'],
  });
  namespaces
    .command('create <code>')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--type <idType>', 'COOKIE, CROSS_DEVICE, DEVICE, EMAIL, PHONE or NON_PEOPLE')
    .option('--description <text>', 'what it identifies')
    .action((code: string, opts: { name: string; type: string; description?: string }) =>
      ctx.withClient(async (api, out) => out.rows([await api.request<Row>('POST', '/namespaces', { code, name: opts.name, idType: opts.type, description: opts.description })])),
    );

  const dataTypes = resourceCommands(program, ctx, { command: 'data-type', description: 'Reusable data types', path: '/data-types', listKey: 'dataTypes', columns: ['id', 'title', 'standard'] });
  dataTypes.command('create').requiredOption('--file <json>', 'data type definition').action(createFromFile(ctx, '/data-types'));

  const fieldGroups = resourceCommands(program, ctx, { command: 'field-group', description: 'Field groups', path: '/field-groups', listKey: 'fieldGroups', columns: ['id', 'title', 'class', 'standard'] });
  fieldGroups.command('create').requiredOption('--file <json>', 'field group definition').action(createFromFile(ctx, '/field-groups'));

  const schemas = resourceCommands(program, ctx, { command: 'schema', description: 'XDM schemas (versioned)', path: '/schemas', listKey: 'schemas', columns: ['id', 'version', 'title', 'class'] });
  schemas.command('create').requiredOption('--file <json>', 'schema definition').action(createFromFile(ctx, '/schemas'));
  schemas
    .command('update <id>')
    .description('Store the next version (compatible changes only)')
    .requiredOption('--file <json>', 'the full new definition')
    .action((id: string, opts: { file: string }) => ctx.withClient(async (api, out) => out.value(await api.request('PUT', `/schemas/${enc(id)}`, readJson(opts.file)))));
  schemas.command('versions <id>').action((id: string) =>
    ctx.withClient(async (api, out) => out.rows((await api.request<{ versions: Row[] }>('GET', `/schemas/${enc(id)}/versions`)).versions, ['id', 'version', 'title', 'createdAt'])),
  );

  const datasets = resourceCommands(program, ctx, {
    command: 'dataset',
    description: 'Datasets',
    path: '/datasets',
    listKey: 'datasets',
    columns: ['id', 'name', 'tableName', 'schemaId', 'profileEnabled', 'upsert', 'lastSnapshotId'],
  });
  datasets
    .command('create <name>')
    .requiredOption('--schema <id>', 'schema id')
    .option('--profile', 'enable for Profile')
    .option('--identity', 'enable for Identity')
    .option('--upsert', 'upsert profile records')
    .action((name: string, opts: { schema: string; profile?: boolean; identity?: boolean; upsert?: boolean }) =>
      ctx.withClient(async (api, out) =>
        out.rows([await api.request<Row>('POST', '/datasets', { name, schemaId: opts.schema, profileEnabled: opts.profile, identityEnabled: opts.identity, upsert: opts.upsert })]),
      ),
    );
  datasets
    .command('write <id> <file>')
    .description('Write records (JSON array or JSON Lines) as one snapshot')
    .action((id: string, file: string) =>
      ctx.withClient(async (api, out) => out.rows([await api.request<Row>('POST', `/datasets/${enc(id)}/records`, { records: readRecords(file) })])),
    );
  datasets
    .command('rows <id>')
    .option('--limit <n>', 'how many', '20')
    .option('--snapshot <id>', 'only rows of this snapshot')
    .action((id: string, opts: { limit: string; snapshot?: string }) =>
      ctx.withClient(async (api, out) => {
        const query = new URLSearchParams({ limit: opts.limit, ...(opts.snapshot ? { snapshotId: opts.snapshot } : {}) });
        out.value((await api.request<{ records: Row[] }>('GET', `/datasets/${enc(id)}/records?${query.toString()}`)).records);
      }),
    );
  datasets.command('snapshots <id>').description('Snapshot history').action((id: string) => ctx.withClient((api, out) => showSnapshots(api, out, id)));
  datasets.command('delete <id>').action((id: string) =>
    ctx.withClient(async (api, out) => {
      await api.request('DELETE', `/datasets/${enc(id)}`);
      out.note(`Dataset ${id} deleted.`);
    }),
  );
}
