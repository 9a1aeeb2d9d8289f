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

    it('purges one sandbox without touching another', async () => {
      await store.purgeSandbox('dev');
      assert.equal((await store.datasets.list('dev')).length, 0);
      assert.equal((await store.dataTypes.list('dev')).length, 0);
      assert.ok((await store.datasets.list('prod')).length > 0);
      assert.ok((await store.schemas.list('prod')).length > 0);
      await store.datasets.delete('prod', 'ds_snap');
      assert.equal((await store.snapshots.list('prod', 'ds_snap')).length, 0);
    });
  });
}
