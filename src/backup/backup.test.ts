import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { HOT_CATALOG } from '../ports/warehouse.ts';
import { EVENT_SCHEMA, LOYALTY_RECORD, LOYALTY_SCHEMA } from '../testing/fixtures.ts';
import { createTestPlatform, type Json, type TestPlatform } from '../testing/platform.ts';
import { createTestSchema, POSTGRES_SKIP, POSTGRES_URL } from '../testing/postgres.ts';
import { cliEnv, cliRunner } from '../testing/cli.ts';
import { tempDir } from '../testing/temp.ts';
import { crmRecord, event, link, setupDatasets, write } from '../profile/test-kit.ts';
import { readContainer, writeContainer } from './container.ts';
import { ENTRY_NAME, MANIFEST_ENTRY } from './manifest.ts';

// The graph follows datasets in the background; here each step syncs explicitly so nothing moves under a comparison.
process.env.ROUNDTRIP_IDENTITY_POLL_MS = '0';

const SECRET_KEY = 'a'.repeat(64);
const HOOK_SECRET = 'hook-signing-secret-123';

/** A deterministic transaction log (customer, date, amount) for a BG/NBD fit. */
function transactionsCsv(customers = 120): string {
  let seed = 42;
  const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const day = (n: number): string => new Date(Date.UTC(1997, 0, 1) + n * 86_400_000).toISOString().slice(0, 10);
  const lines = ['customer,date,amount'];
  for (let c = 0; c < customers; c++) {
    const first = Math.floor(random() * 84);
    const rate = 0.01 + random() * 0.05;
    const end = first + random() * 540;
    lines.push(`c${c},${day(first)},${(10 + random() * 90).toFixed(2)}`);
    for (let d = first + 1; d < Math.min(540, end); d++) if (random() < rate) lines.push(`c${c},${day(d)},${(10 + random() * 90).toFixed(2)}`);
  }
  return `${lines.join('\n')}\n`;
}

async function ok(t: TestPlatform, method: string, url: string, body?: unknown, status = [200, 201, 202]): Promise<Json> {
  const res = await t.call(method, url, body === undefined ? {} : { body });
  assert.ok(status.includes(res.status), `${method} ${url}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Every table of the sandbox's database: column names and types, and every row (order-free), plus the indexes. */
async function warehouseState(t: TestPlatform, sandbox: string): Promise<Record<string, unknown>> {
  const sb = await t.platform.warehouse.sandbox(sandbox);
  // Both catalogs: the main one (`main.<table>`) and the hot one (`rt_hot.<table>`, as the backup names it).
  const catalogs = `database_name IN (current_database(), '${HOT_CATALOG}')`;
  const tables = await sb.query(`SELECT database_name = current_database() AS main, schema_name, table_name FROM duckdb_tables() WHERE ${catalogs} AND NOT internal ORDER BY ALL`);
  const state: Record<string, unknown> = {};
  for (const row of tables.rows) {
    const [schema, table] = [row.schema_name as string, row.table_name as string];
    const result = await sb.query(`SELECT * FROM ${row.main ? '' : `${HOT_CATALOG}.`}"${schema}"."${table}"`);
    state[`${row.main ? schema : HOT_CATALOG}.${table}`] = { columns: result.columns.map((c) => `${c.name} ${c.type}`), rows: result.rows.map((r) => JSON.stringify(r)).sort() };
  }
  state['(indexes)'] = (await sb.query(`SELECT index_name, table_name, sql FROM duckdb_indexes() WHERE ${catalogs} ORDER BY ALL`)).rows.map((r) =>
    JSON.stringify({ ...r, sql: (r.sql as string).replaceAll(`"${sandbox}".`, '') }),
  );
  return state;
}

/** Every sandbox-scoped metadata row, with the sandbox column left out, order-free. */
async function metadataState(t: TestPlatform, sandbox: string, renamedConnections: Record<string, string> = {}): Promise<Record<string, string[]>> {
  const exported = await t.platform.metadata.exportSandbox(sandbox);
  return Object.fromEntries(
    Object.entries(exported).map(([table, rows]) => [
      table,
      rows
        .map(({ sandbox: _sandbox, ...rest }) => JSON.stringify(table === 'streaming_connections' ? { ...rest, id: renamedConnections[rest.id as string] ?? rest.id } : rest))
        .sort(),
    ]),
  );
}

async function upload(t: TestPlatform, name: string, bytes: Buffer): Promise<void> {
  const res = await t.app.inject({ method: 'PUT', url: `/backups/${name}`, headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/octet-stream' }, payload: bytes });
  assert.equal(res.statusCode, 200, res.body);
}

async function restore(t: TestPlatform, name: string, body: object = {}): Promise<{ status: number; body: Json }> {
  return t.call('POST', `/backups/${name}/restore`, { body });
}

/** Re-packs an archive after `change` edits its unpacked entries (to make altered backups). */
async function repack(source: string, target: string, change: (folder: string) => void): Promise<void> {
  const folder = tempDir('rt-repack-');
  try {
    const entries = await readContainer(source, folder.dir, (name) => ENTRY_NAME.test(name));
    change(folder.dir);
    await writeContainer(target, entries.map((e) => ({ name: e.name, file: e.file })));
  } finally {
    folder.remove();
  }
}

describe('backup and restore of a sandbox', () => {
  let t: TestPlatform;
  let backupName: string;
  let backupFile: string;
  let expectedWarehouse: Record<string, unknown>;
  let expectedMetadata: Record<string, string[]>;
  let ids: { model: string; template: string; schedule: string; segment: string; account: string; connection: string; policy: string };
  const scratch = tempDir('rt-backup-');

  before(async () => {
    t = await createTestPlatform({ secretKey: SECRET_KEY });
    const kit = await setupDatasets(t);
    await write(t, kit.crm, [crmRecord('C-1', 'ann@example.com', { _roundtrip: { crmId: 'C-1', tier: 'GOLD', points: 10 } }), crmRecord('C-2', 'bob@example.com', { _roundtrip: { crmId: 'C-2', tier: 'SILVER', points: 3 } })]);
    await write(t, kit.web, [{ _id: 'web-1', personalEmail: { address: 'ann@example.com' }, person: { name: { firstName: 'Ann' } } }]);
    await write(t, kit.events, [event('e-1', '2026-03-01T10:00:00Z', { Email: ['ann@example.com'] }, { commerce: { purchases: { value: 1 } } })]);
    await write(t, kit.links, [link({ Email: ['bob@example.com'], ECID: ['ecid-9'] })]);
    // Nested structs, a map and lists.
    const loyaltySchema = (await ok(t, 'POST', '/schemas', LOYALTY_SCHEMA)).id;
    const loyalty = (await ok(t, 'POST', '/datasets', { name: 'loyalty', schemaId: loyaltySchema, profileEnabled: true })).id;
    await write(t, loyalty, [LOYALTY_RECORD, { ...LOYALTY_RECORD, _id: 'rec-2', _roundtrip: { ...LOYALTY_RECORD._roundtrip, membershipNumber: 'A1', decilesMileage: {} } }]);
    ids = {} as typeof ids;
    ids.policy = (await ok(t, 'POST', '/merge-policies', { name: 'CRM first', method: 'dataset-precedence', datasetOrder: ['crm', 'web'] })).id;
    await t.platform.identity.sync('prod');
    await ok(t, 'POST', '/profiles/snapshot/refresh', {});
    await ok(t, 'POST', '/queries', { sql: 'CREATE TABLE gold AS SELECT _roundtrip.crmId AS crm_id, _roundtrip.points AS points FROM crm' });
    const fit = await ok(t, 'POST', '/clv/fit', {
      model: 'bgnbd',
      input: { csv: transactionsCsv(), customerId: 'customer', datetime: 'date', monetary: 'amount' },
      window: { unit: 'week', calibrationEnd: '1997-12-31', observationEnd: '1998-06-30' },
    });
    ids.model = fit.modelId;
    ids.template = (await ok(t, 'POST', '/query-templates', { name: 'points', sql: 'SELECT crm_id, points FROM gold WHERE points > $min', queryParameters: { min: '1' } })).id;
    ids.schedule = (await ok(t, 'POST', '/schedules', { query: { templateId: ids.template }, schedule: { schedule: '0 * * * *' } })).id;
    ids.segment = (
      await ok(t, 'POST', '/segment/definitions', {
        name: 'Gold',
        expression: { type: 'PQL', format: 'pql/text', value: '_roundtrip.tier = "GOLD"' },
        evaluationInfo: { batch: { enabled: true }, continuous: { enabled: false }, synchronous: { enabled: false } },
        schema: { name: '_xdm.context.profile' },
      })
    ).id;
    const job = await ok(t, 'POST', '/segment/jobs', [{ segmentId: ids.segment }]);
    await t.platform.audiences.jobs.wait('prod', job.id);
    ids.account = (await ok(t, 'POST', '/destinations/accounts', { name: 'Hook', type: 'webhook', params: { url: 'http://127.0.0.1:9/hook' }, secrets: { signingSecret: HOOK_SECRET } })).id;
    // A streamed record acknowledged just before the backup: the backup flushes the log first.
    const rawEvents = (await ok(t, 'POST', '/datasets', { name: 'raw events', schemaId: (await ok(t, 'POST', '/schemas', EVENT_SCHEMA)).id })).id;
    const streaming = await ok(t, 'POST', '/streaming/connections', { name: 'web', dataset: rawEvents });
    ids.connection = streaming.connection.id;
    const ack = await t.app.inject({
      method: 'POST',
      url: `/collection/${ids.connection}`,
      headers: { authorization: `Bearer ${streaming.secret}` },
      payload: { header: {}, body: { xdmEntity: event('streamed-1', '2026-04-01T00:00:00Z', { Email: ['ann@example.com'] }) } },
    });
    assert.equal(ack.statusCode, 200, ack.body);

    const made = await ok(t, 'POST', '/backups');
    backupName = made.name;
    backupFile = path.join(t.platform.backups.directory, backupName);
    assert.equal(made.manifest.sandbox.name, 'prod');
    expectedWarehouse = await warehouseState(t, 'prod');
    expectedMetadata = await metadataState(t, 'prod');
  });
  after(async () => {
    await t.dispose();
    scratch.remove();
  });

  it('writes one file with a manifest: versions, sandbox, every table with its row count, checksums, sealed credentials', async () => {
    const manifestText = readFileSync(backupFile);
    assert.equal(manifestText[0], 0x1f, 'gzip');
    const folder = path.join(scratch.dir, 'unpacked');
    await mkdir(folder);
    const entries = await readContainer(backupFile, folder, (name) => ENTRY_NAME.test(name));
    assert.equal(entries[0]!.name, MANIFEST_ENTRY);
    const manifest = JSON.parse(await readFile(entries[0]!.file, 'utf8'));
    assert.equal(manifest.formatVersion, 1);
    assert.match(manifest.roundtripVersion, /^\d+\.\d+\.\d+/);
    assert.match(manifest.source.warehouseEngine, /^duckdb v/);
    const warehouseTables = Object.fromEntries(manifest.warehouse.tables.map((x: { name: string; rows: number }) => [x.name, x.rows]));
    assert.equal(warehouseTables.raw_events, 1, 'the streamed record was flushed into the backup');
    assert.equal(warehouseTables.crm, 2);
    assert.ok(manifest.warehouse.tables.some((x: { name: string }) => x.name.startsWith('_rt_')), 'system tables');
    assert.ok(warehouseTables[`${HOT_CATALOG}._rt_segment_membership`] > 0, 'the hot catalog (audience membership) is in the backup');
    assert.deepEqual(Object.keys(warehouseTables).sort(), Object.keys(expectedWarehouse).filter((k) => k !== '(indexes)').map((k) => k.replace(/^main\./, '')).sort());
    const metadataRows = Object.fromEntries(manifest.metadata.tables.map((x: { name: string; rows: number }) => [x.name, x.rows]));
    assert.equal(metadataRows.clv_models, 1);
    assert.equal(metadataRows.merge_policies, (await t.platform.metadata.mergePolicies.list('prod')).length);
    assert.ok(metadataRows.documents >= 2, 'segment definition and destination account');
    for (const entry of entries.slice(1)) {
      const listed = manifest.files.find((f: { path: string }) => f.path === entry.name);
      assert.deepEqual([listed?.bytes, listed?.sha256], [entry.bytes, entry.sha256], entry.name);
    }
    assert.equal(manifest.secrets.sealedValues, 1);
    assert.equal(manifest.secrets.keyIds.length, 1);
    assert.ok(!readFileSync(path.join(folder, 'metadata/documents.jsonl'), 'utf8').includes(HOOK_SECRET), 'credentials stay encrypted');
    const listed = await ok(t, 'GET', '/backups');
    assert.ok(listed.backups.some((b: { name: string }) => b.name === backupName));
  });

  it('restores into a new data directory with the same tables, rows, metadata and query results', async () => {
    const fresh = await createTestPlatform({ secretKey: SECRET_KEY });
    try {
      await upload(fresh, 'copy.rtbackup', readFileSync(backupFile));
      const refused = await restore(fresh, 'copy.rtbackup');
      assert.equal(refused.body.error?.code, 'RT_SANDBOX_EXISTS', 'its prod exists (empty): --force needed');
      const restored = await restore(fresh, 'copy.rtbackup', { force: true });
      assert.equal(restored.status, 200, JSON.stringify(restored.body));
      assert.deepEqual([restored.body.sandbox, restored.body.replaced, restored.body.warnings], ['prod', true, []]);
      assert.deepEqual(await warehouseState(fresh, 'prod'), expectedWarehouse);
      assert.deepEqual(await metadataState(fresh, 'prod'), expectedMetadata);
      // The same answers through the API.
      for (const url of [`/clv/models/${ids.model}`, `/query-templates/${ids.template}`, `/schedules/${ids.schedule}`, `/segment/definitions/${ids.segment}`, `/merge-policies/${ids.policy}`, '/datasets', '/profiles?namespace=CRMID&id=C-1']) {
        const [a, b] = [await t.call('GET', url), await fresh.call('GET', url)];
        assert.equal(b.status, a.status, url);
        assert.deepEqual(b.body, a.body, url);
      }
      const sql = { sql: 'SELECT g.crm_id, g.points, c._roundtrip.tier AS tier FROM gold g JOIN crm c ON c._roundtrip.crmId = g.crm_id ORDER BY 1' };
      assert.deepEqual((await ok(fresh, 'POST', '/queries', sql)).last.rows, (await ok(t, 'POST', '/queries', sql)).last.rows);
      // Same secret key: the credential opens, and the restored sandbox takes new writes after its snapshots.
      assert.equal((await fresh.platform.destinations.getResolvedAccount('prod', ids.account)).secrets.signingSecret, HOOK_SECRET);
      const crm = (await ok(fresh, 'GET', '/datasets')).datasets.find((d: { name: string }) => d.name === 'crm');
      await write(fresh, crm.id, [crmRecord('C-3', 'cy@example.com')]);
      const snapshots = (await ok(fresh, 'GET', `/datasets/${crm.id}/snapshots`)).snapshots.map((s: { snapshotId: number }) => s.snapshotId);
      assert.equal(new Set(snapshots).size, snapshots.length, 'no snapshot id reused');
    } finally {
      await fresh.dispose();
    }
  });

  it('restores under a new name beside the original, refuses to overwrite without force, and replaces with force', async () => {
    const restored = await restore(t, backupName, { sandbox: 'copy' });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    const renamed = /Streaming connection (\S+) belongs to sandbox prod; the restored copy is (\S+) /.exec(restored.body.warnings.join('\n'));
    assert.ok(renamed, JSON.stringify(restored.body.warnings));
    assert.ok(restored.body.warnings.some((w: string) => w.includes('bound to sandbox prod')), 'credentials are bound to the sandbox name');
    const ownWarehouse = JSON.parse(JSON.stringify(await warehouseState(t, 'copy')));
    assert.deepEqual(ownWarehouse, expectedWarehouse);
    assert.deepEqual(await metadataState(t, 'copy', { [renamed[2]!]: renamed[1]! }), expectedMetadata);
    assert.equal((await t.call('GET', '/sandboxes/copy')).body.type, 'development');
    const again = await restore(t, backupName, { sandbox: 'copy' });
    assert.deepEqual([again.status, again.body.error.code], [409, 'RT_SANDBOX_EXISTS']);
    await t.call('POST', '/queries', { body: { sql: 'DROP TABLE gold' }, sandbox: 'copy' });
    const forced = await restore(t, backupName, { sandbox: 'copy', force: true });
    assert.deepEqual([forced.status, forced.body.replaced], [200, true]);
    assert.deepEqual(await warehouseState(t, 'copy'), expectedWarehouse);
    const audit = (await ok(t, 'GET', '/audit?sandbox=copy')).entries.map((e: { action: string }) => e.action);
    assert.ok(audit.includes('sandbox.restore'));
  });

  it('refuses truncated, damaged, altered, foreign and newer files with stable codes, changing nothing', async () => {
    const bytes = readFileSync(backupFile);
    const cases: [string, Buffer, string][] = [
      ['truncated', bytes.subarray(0, Math.floor(bytes.length * 0.6)), 'RT_BACKUP_CORRUPT'],
      ['flipped', Buffer.from(bytes).fill(0x55, Math.floor(bytes.length / 2), Math.floor(bytes.length / 2) + 16), 'RT_BACKUP_CORRUPT'],
      ['foreign', gzipSync(Buffer.from('not a tar archive'.repeat(100))), 'RT_BACKUP_CORRUPT'],
      ['text', Buffer.from('hello'), 'RT_BACKUP_CORRUPT'],
    ];
    const altered = path.join(scratch.dir, 'altered.rtbackup');
    await repack(backupFile, altered, (folder) => {
      const file = path.join(folder, 'metadata/clv_models.jsonl');
      writeFileSync(file, readFileSync(file, 'utf8').replace('"bgnbd"', '"pnbd!"'));
    });
    cases.push(['altered', readFileSync(altered), 'RT_BACKUP_CHECKSUM_MISMATCH']);
    const newer = path.join(scratch.dir, 'newer.rtbackup');
    await repack(backupFile, newer, (folder) => {
      const file = path.join(folder, MANIFEST_ENTRY);
      writeFileSync(file, readFileSync(file, 'utf8').replace('"formatVersion": 1', '"formatVersion": 99'));
    });
    cases.push(['newer', readFileSync(newer), 'RT_BACKUP_INCOMPATIBLE']);
    for (const [name, content, code] of cases) {
      await upload(t, `${name}.rtbackup`, content);
      const res = await restore(t, `${name}.rtbackup`, { sandbox: 'broken' });
      assert.equal(res.body.error?.code, code, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.status, 422, name);
    }
    assert.equal((await t.call('GET', '/sandboxes/broken')).body.error.code, 'RT_SANDBOX_NOT_FOUND');
    assert.equal((await restore(t, 'no-such.rtbackup')).body.error.code, 'RT_BACKUP_NOT_FOUND');
  });

  it('is admin only', async () => {
    const analyst = (await ok(t, 'POST', '/api-keys', { name: 'a', role: 'analyst' })).token;
    assert.equal((await t.call('POST', '/backups', { token: analyst })).body.error.code, 'RT_FORBIDDEN_ROLE');
    assert.equal((await t.call('GET', '/backups', { token: analyst })).body.error.code, 'RT_FORBIDDEN_ROLE');
  });

  it('restores into a platform whose metadata is PostgreSQL, with a warning when its secret key differs', { skip: POSTGRES_SKIP }, async () => {
    const schema = await createTestSchema();
    const url = new URL(POSTGRES_URL!);
    url.searchParams.set('options', `-c search_path=${schema.schema}`);
    const pg = await createTestPlatform({ databaseUrl: url.toString() });
    try {
      assert.equal(pg.platform.metadata.dialect, 'postgres');
      await upload(pg, 'copy.rtbackup', readFileSync(backupFile));
      const restored = await restore(pg, 'copy.rtbackup', { sandbox: 'restored' });
      assert.equal(restored.status, 200, JSON.stringify(restored.body));
      assert.ok(restored.body.warnings.some((w: string) => w.includes('ROUNDTRIP_SECRET_KEY')), JSON.stringify(restored.body.warnings));
      assert.deepEqual(await warehouseState(pg, 'restored'), expectedWarehouse);
      assert.deepEqual(await metadataState(pg, 'restored'), expectedMetadata);
      await assert.rejects(pg.platform.destinations.getResolvedAccount('restored', ids.account), { code: 'RT_SECRET_KEY_INVALID' });
      // And back: a backup taken on PostgreSQL restores on SQLite.
      const again = (await pg.call('POST', '/backups', { sandbox: 'restored' })).body;
      assert.equal(again.manifest.source.metadataDialect, 'postgres');
      await upload(t, 'from-pg.rtbackup', readFileSync(path.join(pg.platform.backups.directory, again.name)));
      const back = await restore(t, 'from-pg.rtbackup', { sandbox: 'from-pg' });
      assert.equal(back.status, 200, JSON.stringify(back.body));
      const renamed = /Streaming connection (\S+) belongs to sandbox \S+; the restored copy is (\S+) /.exec(back.body.warnings.join('\n'));
      assert.deepEqual(await metadataState(t, 'from-pg', renamed ? { [renamed[2]!]: renamed[1]! } : {}), await metadataState(pg, 'restored'));
    } finally {
      await pg.dispose();
      await schema.drop();
    }
  });
});

describe('roundtrip backup / restore (CLI)', () => {
  const source = tempDir('rt-cli-backup-');
  const target = tempDir('rt-cli-restore-');
  after(() => {
    source.remove();
    target.remove();
  });

  it('backs up to a file and restores it into a new data directory that it creates', async () => {
    const cli = cliRunner(cliEnv(source.dir));
    assert.equal((await cli('init')).code, 0);
    const made = await cli('sql', 'CREATE TABLE t AS SELECT range AS n, [range, 1] AS l, {a: range} AS s FROM range(5)');
    assert.equal(made.code, 0, made.stderr);
    const file = path.join(source.dir, 'prod.rtbackup');
    const backup = await cli('--json', 'backup', '--out', file);
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal(JSON.parse(backup.stdout).file, file);
    assert.ok(existsSync(file));
    const restoreCli = cliRunner(cliEnv(target.dir));
    const restored = await restoreCli('--json', 'restore', file);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stderr, /Admin API key/);
    assert.equal(JSON.parse(restored.stdout).sandbox, 'prod');
    const query = await restoreCli('sql', 'SELECT sum(n) AS total, sum(s.a) + sum(l[2]) AS more FROM t');
    assert.equal(query.code, 0, query.stderr);
    assert.match(query.stdout, /\b10\s+15\b/);
  });
});
