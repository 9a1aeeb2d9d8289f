/**
 * Contract suite of the MetadataStore port. Every implementation runs it by adding a fixture:
 * `describeMetadataStoreContract('sqlite', { open, dispose })`. It exercises behaviour, not SQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DatasetRecord, MetadataStore } from './metadata-store.ts';

export interface MetadataStoreFixture {
  /** A fresh, empty, migrated store. */
  open(): Promise<MetadataStore>;
  dispose?(): Promise<void>;
}

const T0 = '2026-01-01T00:00:00.000Z';

function dataset(sandbox: string, id: string, name: string): DatasetRecord {
  return {
    sandbox,
    id,
    name,
    tableName: name,
    schemaId: 'sch_1',
    schemaVersion: 1,
    profileEnabled: true,
    identityEnabled: false,
    upsert: true,
    createdAt: T0,
    lastSnapshotId: 0,
  };
}

export function describeMetadataStoreContract(name: string, fixture: MetadataStoreFixture, skip: string | false = false): void {
  describe(`MetadataStore contract: ${name}`, { skip }, () => {
    let store: MetadataStore;
    before(async () => {
      store = await fixture.open();
      await store.migrate();
      await store.migrate(); // idempotent
    });
    after(async () => {
      await store.close();
      await fixture.dispose?.();
    });

    it('creates, lists and deletes sandboxes', async () => {
      await store.sandboxes.create({ name: 'prod', title: 'Production', type: 'production', createdAt: T0 });
      await store.sandboxes.create({ name: 'dev', title: 'Dev', type: 'development', createdAt: T0 });
      assert.deepEqual((await store.sandboxes.list()).map((s) => s.name), ['dev', 'prod']);
      assert.equal((await store.sandboxes.get('prod'))?.type, 'production');
      await store.sandboxes.delete('dev');
      assert.equal(await store.sandboxes.get('dev'), undefined);
      await assert.rejects(store.sandboxes.create({ name: 'prod', title: 'again', type: 'production', createdAt: T0 }));
    });

    it('stores API keys, revokes once and records use', async () => {
      await store.apiKeys.create({
        id: 'key_a',
        name: 'ops',
        role: 'analyst',
        sandboxes: ['prod', 'dev'],
        secretHash: 'h',
        createdAt: T0,
        createdBy: 'system',
        revokedAt: null,
        lastUsedAt: null,
      });
      const key = await store.apiKeys.get('key_a');
      assert.deepEqual(key?.sandboxes, ['prod', 'dev']);
      assert.equal(key?.role, 'analyst');
      await store.apiKeys.touch('key_a', '2026-01-02T00:00:00.000Z');
      assert.equal((await store.apiKeys.get('key_a'))?.lastUsedAt, '2026-01-02T00:00:00.000Z');
      assert.equal(await store.apiKeys.revoke('key_a', T0), true);
      assert.equal(await store.apiKeys.revoke('key_a', T0), false, 'a revoked key is not revoked twice');
      assert.equal((await store.apiKeys.list()).length, 1);
    });

    it('appends audit entries with increasing ids and filters them', async () => {
      const first = await store.audit.append({
        at: T0, actor: 'key_a', sandbox: 'prod', action: 'schema.create', resourceType: 'schema', resourceId: 's1', details: { title: 'x' },
      });
      const second = await store.audit.append({
        at: '2026-01-03T00:00:00.000Z', actor: 'key_b', sandbox: 'dev', action: 'dataset.create', resourceType: 'dataset', resourceId: 'd1', details: null,
      });
      assert.ok(second.id > first.id);
      assert.deepEqual((await store.audit.list({ sandbox: 'prod' })).map((e) => e.resourceId), ['s1']);
      assert.deepEqual((await store.audit.list({})).map((e) => e.id), [second.id, first.id], 'newest first');
      assert.deepEqual((await store.audit.list({ since: '2026-01-02T00:00:00.000Z' })).map((e) => e.actor), ['key_b']);
      assert.deepEqual((await store.audit.list({ actor: 'key_a' }))[0]?.details, { title: 'x' });
    });

    it('keeps namespaces, field groups and data types per sandbox', async () => {
      await store.namespaces.create({ sandbox: 'prod', code: 'LOYALTY', name: 'Loyalty', idType: 'CROSS_DEVICE', description: '', createdAt: T0 });
      await store.namespaces.update('prod', 'LOYALTY', { name: 'Loyalty id', description: 'members' });
      assert.equal((await store.namespaces.get('prod', 'LOYALTY'))?.name, 'Loyalty id');
      assert.equal(await store.namespaces.get('dev', 'LOYALTY'), undefined);
      await store.fieldGroups.create({ sandbox: 'prod', id: 'fg1', title: 'FG', description: '', classId: 'any', definition: { a: [1, 2] }, createdAt: T0 });
      assert.deepEqual((await store.fieldGroups.get('prod', 'fg1'))?.definition, { a: [1, 2] });
      assert.equal((await store.fieldGroups.list('dev')).length, 0);
      await store.fieldGroups.create({ sandbox: 'prod', id: 'fg2', title: 'FG2', description: '', classId: 'profile', definition: {}, createdAt: T0 });
      await store.fieldGroups.delete('prod', 'fg2');
      assert.deepEqual((await store.fieldGroups.list('prod')).map((g) => g.id), ['fg1']);
      await store.dataTypes.create({ sandbox: 'dev', id: 'dt1', title: 'DT', description: '', definition: { type: 'string' }, createdAt: T0 });
      assert.equal((await store.dataTypes.list('dev')).length, 1);
      assert.equal(await store.dataTypes.get('prod', 'dt1'), undefined);
    });

    it('versions schemas strictly in order and lists the latest', async () => {
      const base = { sandbox: 'prod', schemaId: 'sch_1', title: 'T', description: '', classId: 'profile' as const, definition: {}, createdAt: T0 };
      await store.schemas.addVersion({ ...base, version: 1, resolved: { v: 1 } });
      await store.schemas.addVersion({ ...base, version: 2, resolved: { v: 2 } });
      await assert.rejects(store.schemas.addVersion({ ...base, version: 2, resolved: {} }));
      await assert.rejects(store.schemas.addVersion({ ...base, version: 4, resolved: {} }));
      await store.schemas.addVersion({ ...base, schemaId: 'sch_2', version: 1, resolved: { v: 1 } });
      assert.deepEqual((await store.schemas.get('prod', 'sch_1'))?.resolved, { v: 2 });
      assert.deepEqual((await store.schemas.get('prod', 'sch_1', 1))?.resolved, { v: 1 });
      assert.deepEqual((await store.schemas.list('prod')).map((s) => [s.schemaId, s.version]), [['sch_1', 2], ['sch_2', 1]]);
      assert.equal((await store.schemas.versions('prod', 'sch_1')).length, 2);
      assert.equal(await store.schemas.get('dev', 'sch_1'), undefined);
    });

    it('creates datasets with unique names per sandbox', async () => {
      await store.datasets.create(dataset('prod', 'ds_1', 'orders'));
      await store.datasets.create(dataset('dev', 'ds_1', 'orders'));
      await assert.rejects(store.datasets.create(dataset('prod', 'ds_2', 'orders')));
      assert.equal((await store.datasets.getByName('prod', 'orders'))?.id, 'ds_1');
      assert.equal((await store.datasets.getByTable('prod', 'orders'))?.upsert, true);
      await store.datasets.setSchemaVersion('prod', 'ds_1', 3);
      assert.equal((await store.datasets.get('prod', 'ds_1'))?.schemaVersion, 3);
      assert.equal((await store.datasets.get('dev', 'ds_1'))?.schemaVersion, 1);
    });

    it('allocates monotonically increasing snapshot ids, even concurrently', async () => {
      await store.datasets.create(dataset('prod', 'ds_snap', 'events'));
      const begun = await Promise.all(Array.from({ length: 8 }, (_, i) => store.snapshots.begin('prod', 'ds_snap', `b${i}`, T0)));
      assert.deepEqual(begun.map((s) => s.snapshotId).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
      await store.snapshots.commit('prod', 'ds_snap', 1, 42, T0);
      await store.snapshots.fail('prod', 'ds_snap', 2, T0);
      const listed = await store.snapshots.list('prod', 'ds_snap');
      assert.deepEqual(listed.slice(0, 3).map((s) => [s.snapshotId, s.status, s.rowCount]), [[1, 'committed', 42], [2, 'failed', 0], [3, 'pending', 0]]);
      assert.equal((await store.datasets.get('prod', 'ds_snap'))?.lastSnapshotId, 8);
      const next = await store.snapshots.begin('prod', 'ds_snap', 'b9', T0);
      assert.equal(next.snapshotId, 9);
      await assert.rejects(store.snapshots.begin('prod', 'missing', 'b', T0));
    });

    it('tracks batches through their states, newest first', async () => {
      const batch = {
        sandbox: 'prod', id: 'b1', datasetId: 'ds_1', status: 'loading' as const, inputFormat: 'csv', options: { failureThreshold: 0.1 }, files: [],
        rowsRead: 0, rowsWritten: 0, rowsRejected: 0, snapshotId: null, errorCode: null, errorMessage: null, createdBy: 'key_a',
        createdAt: T0, updatedAt: T0, completedAt: null,
      };
      await store.batches.create(batch);
      await store.batches.create({ ...batch, id: 'b2', createdAt: '2026-01-02T00:00:00.000Z' });
      await store.batches.update('prod', 'b1', { status: 'success', rowsRead: 10, rowsWritten: 9, rowsRejected: 1, snapshotId: 4, files: [{ name: 'a.csv', bytes: 10 }], completedAt: T0 });
      const done = await store.batches.get('prod', 'b1');
      assert.deepEqual([done?.status, done?.rowsRead, done?.rowsWritten, done?.rowsRejected, done?.snapshotId], ['success', 10, 9, 1, 4]);
      assert.deepEqual(done?.files, [{ name: 'a.csv', bytes: 10 }]);
      assert.deepEqual(done?.options, { failureThreshold: 0.1 });
      assert.deepEqual((await store.batches.list('prod')).map((b) => b.id), ['b2', 'b1']);
      assert.deepEqual((await store.batches.list('prod', { status: 'success' })).map((b) => b.id), ['b1']);
      assert.equal(await store.batches.get('dev', 'b1'), undefined);
    });

    it('keeps streaming connections addressable by id and revocable', async () => {
      await store.streamingConnections.create({
        sandbox: 'prod', id: 'conn_1', name: 'web', kind: 'segment', datasets: { event: 'ds_1' }, secretHash: 'h', createdBy: 'key_a', createdAt: T0, revokedAt: null,
      });
      assert.deepEqual((await store.streamingConnections.get('conn_1'))?.datasets, { event: 'ds_1' });
      await store.streamingConnections.revoke('conn_1', T0);
      assert.equal((await store.streamingConnections.get('conn_1'))?.revokedAt, T0);
      assert.equal((await store.streamingConnections.list('dev')).length, 0);
    });

    it('keeps a query log per sandbox, newest first, and sets dataset flags', async () => {
      const base = {
        sandbox: 'prod', id: 'q1', sql: 'select 1', params: { a: '1' }, actor: 'key_a', client: 'api', executionClass: 'adhoc', status: 'running' as const,
        rowCount: null, errorCode: null, errorMessage: null, startedAt: T0, endedAt: null, durationMs: null,
      };
      await store.queryLog.create(base);
      await store.queryLog.create({ ...base, id: 'q2', startedAt: '2026-01-02T00:00:00.000Z' });
      await store.queryLog.update('prod', 'q1', { status: 'failed', errorCode: 'RT_QUERY_FAILED', durationMs: 12, rowCount: 0, endedAt: T0 });
      assert.deepEqual((await store.queryLog.list('prod')).map((q) => q.id), ['q2', 'q1']);
      const failed = await store.queryLog.get('prod', 'q1');
      assert.deepEqual([failed?.status, failed?.errorCode, failed?.durationMs, failed?.params], ['failed', 'RT_QUERY_FAILED', 12, { a: '1' }]);
      assert.deepEqual((await store.queryLog.list('prod', { status: 'failed' })).map((q) => q.id), ['q1']);
      assert.equal((await store.queryLog.list('dev')).length, 0);
      await store.datasets.setFlags('prod', 'ds_1', { profileEnabled: false, identityEnabled: true, upsert: false });
      const flags = await store.datasets.get('prod', 'ds_1');
      assert.deepEqual([flags?.profileEnabled, flags?.identityEnabled, flags?.upsert], [false, true, false]);
    });

    it('keeps at most `limit` merge policies per sandbox, one default per class', async () => {
      const policy = (id: string, name: string, isDefault: boolean, classId: 'profile' | 'experienceevent' = 'profile') => ({
        sandbox: 'prod', id, name, classId, method: 'timestamp-ordered' as const, datasetOrder: [], idStitching: 'private-graph' as const,
        isDefault, snapshotTable: `profile_snapshot_${id}`, createdBy: 'key_a', createdAt: T0, updatedAt: T0,
      });
      assert.equal(await store.mergePolicies.create(policy('mp1', 'Default', true), 3), true);
      assert.equal(await store.mergePolicies.create(policy('mp2', 'CRM first', true), 3), true);
      assert.equal(await store.mergePolicies.create(policy('mp3', 'Events', true, 'experienceevent'), 3), true);
      assert.equal(await store.mergePolicies.create(policy('mp4', 'One too many', false), 3), false, 'the limit holds');
      await assert.rejects(store.mergePolicies.create({ ...policy('mp5', 'CRM first', false), sandbox: 'prod' }, 10), 'names are unique per sandbox');
      const defaults = (await store.mergePolicies.list('prod')).filter((p) => p.isDefault).map((p) => p.id);
      assert.deepEqual(defaults, ['mp2', 'mp3'], 'a new default demotes the previous one of its class only');
      await store.mergePolicies.setDefault('prod', 'mp1', T0);
      assert.deepEqual((await store.mergePolicies.list('prod')).filter((p) => p.isDefault).map((p) => p.id), ['mp1', 'mp3']);
      await store.mergePolicies.update('prod', 'mp2', { method: 'dataset-precedence', datasetOrder: ['ds_b', 'ds_a'], idStitching: 'none', updatedAt: T0 });
      const updated = await store.mergePolicies.get('prod', 'mp2');
      assert.deepEqual([updated?.method, updated?.datasetOrder, updated?.idStitching, updated?.snapshotTable], ['dataset-precedence', ['ds_b', 'ds_a'], 'none', 'profile_snapshot_mp2']);
      await store.mergePolicies.delete('prod', 'mp2');
      assert.deepEqual((await store.mergePolicies.list('prod')).map((p) => p.id), ['mp1', 'mp3']);
      assert.equal(await store.mergePolicies.create({ ...policy('mp9', 'Dev', true), sandbox: 'dev' }, 5), true);
      assert.equal(await store.mergePolicies.get('prod', 'mp9'), undefined);
    });

    it('keeps fitted CLV models per sandbox, newest first, with their JSON intact', async () => {
      const model = {
        sandbox: 'prod', id: 'clv_1', model: 'bgnbd', fit: { params: { r: 0.243, alpha: 4.414 }, logLikelihood: -9582.43 },
        source: { datasetId: 'ds_1', snapshotId: 3, unit: 'week' }, diagnostics: { chiSquare: 4.82 }, createdBy: 'key_a', createdAt: T0,
      };
      await store.clvModels.create(model);
      await store.clvModels.create({ ...model, id: 'clv_2', model: 'gg', createdAt: '2026-01-02T00:00:00.000Z' });
      await store.clvModels.create({ ...model, sandbox: 'clvdev', id: 'clv_3' });
      assert.deepEqual(await store.clvModels.get('prod', 'clv_1'), model);
      assert.deepEqual((await store.clvModels.list('prod')).map((m) => m.id), ['clv_2', 'clv_1']);
      assert.deepEqual((await store.clvModels.list('prod', { model: 'bgnbd' })).map((m) => m.id), ['clv_1']);
      assert.equal((await store.clvModels.list('prod', { limit: 1 })).length, 1);
      assert.equal(await store.clvModels.get('clvdev', 'clv_1'), undefined);
      await store.purgeSandbox('clvdev');
      assert.equal((await store.clvModels.list('clvdev')).length, 0);
      await store.clvModels.delete('prod', 'clv_2');
      assert.deepEqual((await store.clvModels.list('prod')).map((m) => m.id), ['clv_1']);
    });

    it('keeps documents per sandbox and kind, with compare-and-set updates and children deleted with their parent', async () => {
      const base = { sandbox: 'docs', kind: 'dataflow', parentId: null, createdAt: T0, updatedAt: T0 };
      const created = await store.documents.create({ ...base, id: 'df_1', body: { name: 'one', audiences: ['a', 'b'] } });
      assert.equal(created.version, 1);
      await store.documents.create({ ...base, id: 'df_2', body: { name: 'two' }, createdAt: '2026-01-02T00:00:00.000Z' });
      await store.documents.create({ ...base, kind: 'dataflow-run', id: 'run_1', parentId: 'df_1', body: { rows: 3 } });
      await store.documents.create({ ...base, sandbox: 'other', id: 'df_1', body: { name: 'elsewhere' } });
      await assert.rejects(store.documents.create({ ...base, id: 'df_1', body: {} }), (e: Error & { code?: string }) => e.code === 'RT_DOCUMENT_CONFLICT');
      assert.deepEqual((await store.documents.get('docs', 'dataflow', 'df_1'))?.body, { name: 'one', audiences: ['a', 'b'] });
      assert.deepEqual((await store.documents.list('docs', 'dataflow')).map((d) => d.id), ['df_2', 'df_1']);
      assert.deepEqual((await store.documents.list('docs', 'dataflow-run', { parentId: 'df_1' })).map((d) => d.id), ['run_1']);
      assert.equal((await store.documents.listAllSandboxes('dataflow')).length, 3);
      const updated = await store.documents.update('docs', 'dataflow', 'df_1', { name: 'uno' }, { updatedAt: '2026-01-03T00:00:00.000Z', expectedVersion: 1 });
      assert.equal(updated?.version, 2);
      await assert.rejects(store.documents.update('docs', 'dataflow', 'df_1', { name: 'stale' }, { updatedAt: T0, expectedVersion: 1 }), (e: Error & { code?: string }) => e.code === 'RT_DOCUMENT_CONFLICT');
      assert.equal(await store.documents.update('docs', 'dataflow', 'nope', {}, { updatedAt: T0 }), undefined);
      assert.equal(await store.documents.delete('docs', 'dataflow', 'df_1'), true);
      assert.equal(await store.documents.delete('docs', 'dataflow', 'df_1'), false);
      assert.equal((await store.documents.list('docs', 'dataflow-run')).length, 0);
      assert.deepEqual((await store.documents.get('other', 'dataflow', 'df_1'))?.body, { name: 'elsewhere' });
      await store.purgeSandbox('other');
      assert.equal(await store.documents.get('other', 'dataflow', 'df_1'), undefined);
    });

    it('keeps query templates, schedules (due, one active run) and their run history', async () => {
      const template = { sandbox: 'qs', id: 'tpl_1', name: 'T', sql: "SELECT '$a'", queryParameters: { $a: '1' }, createdBy: 'key_a', createdAt: T0, updatedBy: 'key_a', updatedAt: T0 };
      await store.queryTemplates.create(template);
      await store.queryTemplates.update('qs', 'tpl_1', { name: 'T2', sql: 'SELECT 2', queryParameters: {}, updatedBy: 'key_b', updatedAt: '2026-01-02T00:00:00.000Z' });
      assert.deepEqual([(await store.queryTemplates.get('qs', 'tpl_1'))?.name, (await store.queryTemplates.get('qs', 'tpl_1'))?.updatedBy], ['T2', 'key_b']);
      assert.equal(await store.queryTemplates.get('prod', 'tpl_1'), undefined);
      const schedule = {
        sandbox: 'qs', id: 'sched_1', name: 'S', description: '', templateId: 'tpl_1', sql: null, job: null, parameters: { a: 'x' }, timing: { cron: '0 * * * *' },
        startDate: T0, endDate: null, output: { mode: 'none' }, alerts: { events: ['failure'] }, quarantineEnabled: true, state: 'ENABLED' as const,
        consecutiveFailures: 0, nextRunAt: '2026-01-01T01:00:00.000Z', lastSlotAt: null, activeRunId: null, createdBy: 'key_a', createdAt: T0, updatedAt: T0,
      };
      await store.querySchedules.create(schedule);
      await store.querySchedules.create({ ...schedule, id: 'sched_2', templateId: null, sql: 'SELECT 1', nextRunAt: '2026-01-01T03:00:00.000Z' });
      await store.querySchedules.create({ ...schedule, id: 'sched_3', state: 'DISABLED' });
      await store.querySchedules.create({ ...schedule, id: 'sched_job', templateId: null, job: { kind: 'clv.predict', params: { model: 'bgnbd' } }, state: 'DISABLED' });
      assert.deepEqual((await store.querySchedules.get('qs', 'sched_job'))?.job, { kind: 'clv.predict', params: { model: 'bgnbd' } });
      await store.querySchedules.delete('qs', 'sched_job');
      assert.deepEqual((await store.querySchedules.due('2026-01-01T02:00:00.000Z')).map((s) => s.id), ['sched_1'], 'enabled and at or before');
      assert.deepEqual(await store.querySchedules.usingTemplate('qs', 'tpl_1'), ['sched_1', 'sched_3']);
      assert.equal(await store.querySchedules.claimRun('qs', 'sched_1', 'run_a'), true);
      assert.equal(await store.querySchedules.claimRun('qs', 'sched_1', 'run_b'), false, 'one active run');
      assert.deepEqual((await store.querySchedules.withActiveRun()).map((s) => s.activeRunId), ['run_a']);
      await store.querySchedules.releaseRun('qs', 'sched_1', 'run_b');
      assert.equal((await store.querySchedules.get('qs', 'sched_1'))?.activeRunId, 'run_a', 'only the holder releases');
      await store.querySchedules.releaseRun('qs', 'sched_1', 'run_a');
      await store.querySchedules.update('qs', 'sched_1', { state: 'QUARANTINED', consecutiveFailures: 10, nextRunAt: null, parameters: { a: 'y' } });
      const updated = await store.querySchedules.get('qs', 'sched_1');
      assert.deepEqual([updated?.state, updated?.consecutiveFailures, updated?.nextRunAt, updated?.parameters, updated?.quarantineEnabled], ['QUARANTINED', 10, null, { a: 'y' }, true]);
      const run = {
        sandbox: 'qs', id: 'run_1', scheduleId: 'sched_1', trigger: 'schedule', slotAt: T0, status: 'RUNNING' as const, queryId: null, datasetId: null, rowCount: null,
        message: null, errorCode: null, errorMessage: null, delayAlerted: false, createdAt: T0, startedAt: T0, endedAt: null,
      };
      for (let i = 1; i <= 4; i++) await store.queryScheduleRuns.create({ ...run, id: `run_${i}`, createdAt: `2026-01-01T0${i}:00:00.000Z` });
      await store.queryScheduleRuns.update('qs', 'run_1', { status: 'FAILED', errorCode: 'RT_QUERY_FAILED', delayAlerted: true, endedAt: T0 });
      const failed = await store.queryScheduleRuns.get('qs', 'run_1');
      assert.deepEqual([failed?.status, failed?.errorCode, failed?.delayAlerted], ['FAILED', 'RT_QUERY_FAILED', true]);
      assert.deepEqual((await store.queryScheduleRuns.list('qs', 'sched_1', { limit: 2, start: 1 })).map((r) => r.id), ['run_3', 'run_2'], 'newest first, paged');
      await store.queryScheduleRuns.prune('qs', 'sched_1', 2);
      assert.deepEqual((await store.queryScheduleRuns.list('qs', 'sched_1')).map((r) => r.id), ['run_4', 'run_3']);
      await store.querySchedules.delete('qs', 'sched_1');
      assert.equal(await store.querySchedules.get('qs', 'sched_1'), undefined);
      assert.equal(await store.queryScheduleRuns.get('qs', 'run_4'), undefined, 'runs go with their schedule');
      await store.purgeSandbox('qs');
      assert.deepEqual([(await store.queryTemplates.list('qs')).length, (await store.querySchedules.list('qs')).length], [0, 0]);
    });

    it('purges one sandbox without touching another', async () => {
      await store.purgeSandbox('dev');
      assert.equal((await store.mergePolicies.list('dev')).length, 0);
      assert.equal((await store.mergePolicies.list('prod')).length, 2);
      assert.equal((await store.datasets.list('dev')).length, 0);
      assert.equal((await store.dataTypes.list('dev')).length, 0);
      assert.ok((await store.datasets.list('prod')).length > 0);
      assert.ok((await store.schemas.list('prod')).length > 0);
      await store.datasets.delete('prod', 'ds_snap');
      assert.equal((await store.snapshots.list('prod', 'ds_snap')).length, 0);
    });

    it('exports a sandbox and imports it under another name (replacing what was there) or over itself', async () => {
      const byJson = (rows: unknown[] = []): string[] => rows.map((r) => JSON.stringify(r)).sort();
      const exported = await store.exportSandbox('prod');
      assert.ok((exported.datasets?.length ?? 0) > 0 && exported.merge_policies?.length === 2 && exported.streaming_connections?.length === 1);
      assert.equal(exported.datasets?.[0]?.sandbox, 'prod');
      // Streaming connection ids are global: a copy beside its original needs new ones (the restore service does that).
      const copy = { ...exported, streaming_connections: (exported.streaming_connections ?? []).map((c) => ({ ...c, id: `${c.id as string}_copy` })) };
      await store.documents.create({ sandbox: 'copy', kind: 'note', id: 'stale', parentId: null, body: {}, createdAt: T0, updatedAt: T0 });
      await store.importSandbox('copy', copy);
      assert.equal(await store.documents.get('copy', 'note', 'stale'), undefined, 'replaced, not merged');
      assert.deepEqual(await store.datasets.list('copy'), (await store.datasets.list('prod')).map((d) => ({ ...d, sandbox: 'copy' })));
      assert.deepEqual((await store.mergePolicies.list('copy')).map((p) => ({ ...p, sandbox: 'prod' })), await store.mergePolicies.list('prod'));
      const reexported = await store.exportSandbox('copy');
      for (const [table, rows] of Object.entries(copy)) assert.deepEqual(byJson(reexported[table]), byJson(rows.map((r) => ({ ...r, sandbox: 'copy' }))), table);
      await store.importSandbox('prod', exported);
      const again = await store.exportSandbox('prod');
      for (const [table, rows] of Object.entries(exported)) assert.deepEqual(byJson(again[table]), byJson(rows), `${table} over itself`);
      await assert.rejects(store.importSandbox('copy', { no_such_table: [] }), { code: 'RT_BACKUP_INCOMPATIBLE' });
      await assert.rejects(store.importSandbox('copy', { datasets: [{ ...exported.datasets?.[0], no_such_column: 1 }] }), { code: 'RT_BACKUP_INCOMPATIBLE' });
      assert.equal((await store.datasets.list('copy')).length, exported.datasets?.length, 'a failed import changes nothing');
      await store.purgeSandbox('copy');
    });
  });
}
