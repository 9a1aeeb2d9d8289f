import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOYALTY_RECORD, LOYALTY_SCHEMA } from '../../testing/fixtures.ts';
import { createTestPlatform, type Json, type TestPlatform } from '../../testing/platform.ts';
import { tempDir } from '../../testing/temp.ts';
import type { FailedRecordViewT } from './payloads.ts';
import { BATCHES, completeAndWait, createBatch, failedRecordsOf, fileUrl, runBatch, send, writeParquet } from './batch-testing.ts';

const member = (n: number, overrides: Record<string, unknown> = {}) => ({
  ...LOYALTY_RECORD,
  _id: `rec-${n}`,
  _roundtrip: { ...LOYALTY_RECORD._roundtrip, membershipNumber: `M${n}`, ...overrides },
});
const CSV_HEADER = '_id,person.name.firstName,person.birthDate,_roundtrip.membershipNumber,_roundtrip.loyaltyStatus,_roundtrip.lastFlight.miles,_roundtrip.favouriteRoutes,identityMap';
const csvRow = (n: number, status = 'SILVER') => `rec-${n},Pat,1980-02-29,M${n},${status},5000,"[""JFK-FRA"",""FRA-JFK""]","{""ECID"":[{""id"":""0123456789""}]}"`;

describe('batch ingestion API', () => {
  let t: TestPlatform;
  let datasetId = '';
  const temp = tempDir('roundtrip-batch-api-');
  before(async () => {
    t = await createTestPlatform();
    const schema = await t.call('POST', '/schemas', { body: LOYALTY_SCHEMA });
    const dataset = await t.call('POST', '/datasets', { body: { name: 'members', schemaId: schema.body.id } });
    datasetId = dataset.body.id;
  });
  after(async () => {
    await t.dispose();
    temp.remove();
  });

  const rowsOf = async (batch: Json): Promise<Json[]> => t.platform.datasets.read('prod', 'members', { snapshotId: batch.snapshotId, limit: 10_000 });
  const filesOf = (batch: Json) => batch.files as { name: string; records: number; rejected: number; firstRow: number }[];
  /** The dataset's rows, failed records and batch counts must agree: every row read is written or kept as failed. */
  async function assertCountsAddUp(batch: Json): Promise<void> {
    const written = batch.snapshotId === null ? 0 : await (await t.platform.warehouse.sandbox('prod')).countRows('members', { snapshotId: batch.snapshotId });
    const failed = (await t.call('GET', `/failed-records?batchId=${batch.id}&limit=1`)).body.total;
    assert.equal(written, batch.rowsWritten, 'rows in the dataset = rowsWritten');
    assert.equal(failed, batch.rowsRejected, 'failed records = rowsRejected');
    if (batch.status === 'success') assert.equal(batch.rowsRead, batch.rowsWritten + batch.rowsRejected, 'read = written + rejected');
  }

  describe('formats', () => {
    const expectSame = async (batch: Json, n: number): Promise<void> => {
      assert.deepEqual([batch.status, batch.rowsRead, batch.rowsWritten, batch.rowsRejected, batch.errorCode], ['success', n, n, 0, null], JSON.stringify(batch));
      const rows = await rowsOf(batch);
      assert.equal(rows.length, n);
      assert.deepEqual(rows[0]!._roundtrip, { ...LOYALTY_RECORD._roundtrip, membershipNumber: 'M1', decilesMileage: rows[0]!._roundtrip.decilesMileage });
      assert.deepEqual(rows[0]!.identityMap, { ECID: [{ id: '0123456789', authenticatedState: 'authenticated', primary: false }] });
      await assertCountsAddUp(batch);
    };

    it('takes a JSON array (format json)', async () => {
      const batch = await runBatch(t, datasetId, { format: 'json' }, [{ name: 'members.json', content: JSON.stringify([member(1), member(2), member(3)]) }]);
      await expectSame(batch, 3);
    });

    it('takes multi-line JSON (isMultiLineJson: pretty-printed values one after another)', async () => {
      const content = [member(1), member(2)].map((r) => JSON.stringify(r, null, 2)).join('\n');
      const batch = await runBatch(t, datasetId, { format: 'json', isMultiLineJson: true }, [{ name: 'members.json', content }]);
      await expectSame(batch, 2);
    });

    it('takes JSON Lines (format jsonl, and json without isMultiLineJson)', async () => {
      const content = [member(1), member(2), member(3), member(4)].map((r) => JSON.stringify(r)).join('\n');
      await expectSame(await runBatch(t, datasetId, { format: 'jsonl' }, [{ name: 'members.jsonl', content }]), 4);
      await expectSame(await runBatch(t, datasetId, { format: 'json' }, [{ name: 'members.json', content: `${content}\n\n` }]), 4);
    });

    it('takes CSV with dotted XDM headers and JSON cells for arrays and maps (and another delimiter)', async () => {
      const batch = await runBatch(t, datasetId, { format: 'csv' }, [{ name: 'members.csv', content: `${[CSV_HEADER, csvRow(1), csvRow(2)].join('\r\n')}\r\n` }]);
      assert.deepEqual([batch.status, batch.rowsWritten], ['success', 2]);
      const [row] = await rowsOf(batch);
      assert.deepEqual(row!.person, { name: { firstName: 'Pat', lastName: null, fullName: null }, birthDate: '1980-02-29', gender: null });
      assert.deepEqual(row!._roundtrip.favouriteRoutes, ['JFK-FRA', 'FRA-JFK']);
      assert.deepEqual(row!.identityMap, { ECID: [{ id: '0123456789', authenticatedState: null, primary: null }] });
      assert.equal(row!.personalEmail, null, 'an object with no column is absent, not an empty struct');
      const semicolons = await runBatch(t, datasetId, { format: 'csv', delimiter: ';' }, [{ name: 'members.csv', content: '_id;_roundtrip.membershipNumber\nrec-9;M9\n' }]);
      assert.deepEqual([semicolons.status, (await rowsOf(semicolons))[0]!._roundtrip.membershipNumber], ['success', 'M9']);
      await assertCountsAddUp(batch);
    });

    it('takes Parquet, with nested STRUCT/LIST/MAP columns or flat dotted ones', async () => {
      const nested = await writeParquet(
        temp.dir,
        'nested.parquet',
        `SELECT 'rec-' || i AS _id, {'name': {'firstName': 'Pat'}, 'birthDate': DATE '1980-02-29'} AS person,
                {'membershipNumber': 'M' || i, 'loyaltyStatus': 'SILVER', 'favouriteRoutes': ['JFK-FRA', 'FRA-JFK'], 'lastFlight': {'date': DATE '2022-02-10', 'miles': 5000}} AS _roundtrip,
                MAP {'ECID': [{'id': '0123456789'}]} AS identityMap
         FROM range(1, 4) t(i)`,
      );
      const flat = await writeParquet(temp.dir, 'flat.parquet', `SELECT 'rec-9' AS "_id", 'M9' AS "_roundtrip.membershipNumber", 7 AS "_roundtrip.lastFlight.miles"`);
      const batch = await runBatch(t, datasetId, { format: 'parquet' }, [
        { name: 'nested.parquet', content: readFileSync(nested) },
        { name: 'flat.parquet', content: readFileSync(flat) },
      ]);
      assert.deepEqual([batch.status, batch.rowsRead, batch.rowsWritten], ['success', 4, 4], JSON.stringify(batch));
      const rows = await rowsOf(batch);
      assert.deepEqual(rows[0]!._roundtrip.lastFlight, { date: '2022-02-10', miles: 5000 });
      assert.deepEqual(rows[0]!.identityMap, { ECID: [{ id: '0123456789', authenticatedState: null, primary: null }] });
      assert.deepEqual(rows[3]!._roundtrip.lastFlight, { date: null, miles: 7 });
      assert.deepEqual(filesOf(batch).map((f) => [f.name, f.records, f.firstRow]), [['nested.parquet', 3, 1], ['flat.parquet', 1, 4]]);
    });

    it('numbers rows across the files of a batch, in upload order', async () => {
      const batch = await runBatch(
        t,
        datasetId,
        { format: 'csv' },
        [
          { name: 'a.csv', content: `${[CSV_HEADER, csvRow(1), csvRow(2, 'BRONZE')].join('\n')}\n` },
          { name: 'b.csv', content: `_id,_roundtrip.loyaltyStatus\nrec-3,GOLD\nrec-4,TIN\n` },
        ],
        1,
      );
      const failed = await failedRecordsOf(t, batch.id);
      assert.deepEqual(failed.map((f): unknown[] => [f.rowNumber, f.code, f.path]), [[2, 'RT_FIELD_ENUM', '_roundtrip.loyaltyStatus'], [4, 'RT_FIELD_ENUM', '_roundtrip.loyaltyStatus']]);
      assert.deepEqual(filesOf(batch).map((f) => [f.records, f.rejected, f.firstRow]), [[2, 1, 1], [2, 1, 3]]);
      await assertCountsAddUp(batch);
    });
  });

  describe('the failure threshold', () => {
    const csvWithBad = (good: number, bad: number) => `${[CSV_HEADER, ...Array.from({ length: good }, (_, i) => csvRow(i)), ...Array.from({ length: bad }, (_, i) => csvRow(100 + i, 'BRONZE'))].join('\n')}\n`;
    const jsonlWithBad = (good: number, bad: number) =>
      [...Array.from({ length: good }, (_, i) => member(i)), ...Array.from({ length: bad }, (_, i) => member(100 + i, { loyaltyStatus: 'BRONZE' }))].map((r) => JSON.stringify(r)).join('\n');

    for (const [format, make] of [['csv', csvWithBad], ['jsonl', jsonlWithBad]] as const) {
      it(`${format}: at or just under the threshold the batch succeeds and keeps its rejects`, async () => {
        for (const [good, bad] of [[10, 1], [9, 1]] as const) {
          const batch = await runBatch(t, datasetId, { format }, [{ name: `x.${format}`, content: make(good, bad) }]);
          assert.deepEqual([batch.status, batch.rowsRead, batch.rowsWritten, batch.rowsRejected], ['success', good + bad, good, bad], `${bad} of ${good + bad}`);
          await assertCountsAddUp(batch);
        }
      });

      it(`${format}: over the threshold the batch fails, writes nothing, keeps the failed records and says why`, async () => {
        const before = await t.call('GET', '/datasets/members/snapshots');
        const batch = await runBatch(t, datasetId, { format }, [{ name: `x.${format}`, content: make(9, 2) }]);
        assert.deepEqual([batch.status, batch.rowsRead, batch.rowsWritten, batch.rowsRejected, batch.snapshotId], ['failed', 11, 0, 2, null]);
        assert.equal(batch.errorCode, 'RT_BATCH_THRESHOLD_EXCEEDED');
        assert.match(batch.errorMessage, /2 of 11 rows \(18\.2%\) were rejected, more than the failure threshold of 10%/);
        const snapshots = (await t.call('GET', '/datasets/members/snapshots')).body.snapshots;
        assert.equal(snapshots.length, before.body.snapshots.length + 1);
        assert.equal(snapshots.at(-1).status, 'failed', 'the snapshot of a failed batch is marked failed, with no rows');
        assert.equal(await (await t.platform.warehouse.sandbox('prod')).countRows('members', { snapshotId: snapshots.at(-1).snapshotId }), 0);
        assert.equal((await failedRecordsOf(t, batch.id)).length, 2);
        await assertCountsAddUp(batch);
      });
    }

    it('is configurable per batch', async () => {
      const strict = await runBatch(t, datasetId, { format: 'csv' }, [{ name: 'x.csv', content: csvWithBad(99, 1) }], 0);
      assert.equal(strict.status, 'failed');
      const lenient = await runBatch(t, datasetId, { format: 'csv' }, [{ name: 'x.csv', content: csvWithBad(1, 3) }], 0.75);
      assert.deepEqual([lenient.status, lenient.rowsWritten], ['success', 1]);
    });
  });

  describe('uploads', () => {
    it('takes a large file in ordered chunks and refuses gaps and overlaps', async () => {
      const content = Buffer.from(`${[CSV_HEADER, ...Array.from({ length: 50 }, (_, i) => csvRow(i))].join('\n')}\n`);
      const batch = await createBatch(t, 'members', { format: 'csv' });
      const url = fileUrl(batch, 'big.csv');
      const patch = (start: number, end: number) => send(t, 'PATCH', url, content.subarray(start, end + 1), { 'content-range': `bytes ${start}-${end}/${content.length}` });
      assert.equal((await patch(0, 99)).body.error.code, 'RT_BATCH_FILE_NOT_FOUND', 'chunks need INITIALIZE first');
      assert.equal((await send(t, 'POST', `${url}?action=INITIALIZE`)).status, 201);
      assert.deepEqual((await patch(0, 99)).body, { name: 'big.csv', bytes: 100, totalBytes: content.length, complete: false, chunked: true });
      const gap = await patch(200, 299);
      assert.deepEqual([gap.status, gap.body.error.code, gap.body.error.details.expectedStart], [409, 'RT_BATCH_CHUNK_OUT_OF_ORDER', 100]);
      const overlap = await patch(50, 149);
      assert.deepEqual([overlap.status, overlap.body.error.code], [409, 'RT_BATCH_CHUNK_OUT_OF_ORDER']);
      const noRange = await send(t, 'PATCH', url, content.subarray(100, 200));
      assert.equal(noRange.body.error.code, 'RT_REQUEST_INVALID');
      const early = await t.call('POST', `${BATCHES}/${batch.id}?action=COMPLETE`);
      assert.deepEqual([early.status, early.body.error.code], [400, 'RT_BATCH_FILE_INVALID'], 'the batch waits for its files');
      assert.equal((await patch(100, 999)).status, 200);
      const missing = await send(t, 'POST', `${url}?action=COMPLETE`);
      assert.deepEqual([missing.body.error.code, missing.body.error.details], ['RT_BATCH_FILE_INVALID', { bytes: 1000, totalBytes: content.length }]);
      assert.equal((await patch(1000, content.length - 1)).status, 200);
      assert.equal((await send(t, 'POST', `${url}?action=COMPLETE`)).body.complete, true);
      const done = await completeAndWait(t, batch);
      assert.deepEqual([done.status, done.rowsWritten], ['success', 50]);
    });

    it('refuses what does not belong: bad names, empty files, other datasets, files after COMPLETE', async () => {
      const batch = await createBatch(t, 'members', { format: 'jsonl' });
      assert.equal((await send(t, 'PUT', fileUrl(batch, '..%2Fescape.json'), '{}')).body.error.code, 'RT_BATCH_FILE_INVALID');
      assert.equal((await send(t, 'PUT', fileUrl(batch, 'empty.json'), Buffer.alloc(0))).body.error.code, 'RT_BATCH_FILE_INVALID');
      const other = await send(t, 'PUT', `${BATCHES}/${batch.id}/datasets/ds_other/files/a.json`, '{}');
      assert.equal(other.body.error.code, 'RT_DATASET_NOT_FOUND');
      const json = await t.app.inject({ method: 'PUT', url: fileUrl(batch, 'a.json'), headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' }, payload: '{}' });
      assert.equal(JSON.parse(json.body).error.code, 'RT_UNSUPPORTED_MEDIA_TYPE');
      const noFiles = await t.call('POST', `${BATCHES}/${batch.id}?action=COMPLETE`);
      assert.deepEqual([noFiles.status, noFiles.body.error.code], [409, 'RT_BATCH_STATE']);
      assert.equal((await send(t, 'PUT', fileUrl(batch, 'a.json'), JSON.stringify(member(1)))).status, 200);
      await completeAndWait(t, batch);
      const late = await send(t, 'PUT', fileUrl(batch, 'b.json'), JSON.stringify(member(2)));
      assert.deepEqual([late.status, late.body.error.code], [409, 'RT_BATCH_STATE']);
      assert.equal((await t.call('POST', `${BATCHES}/${batch.id}?action=ABORT`)).body.error.code, 'RT_BATCH_STATE');
    });

    it('ABORT drops a loading batch and its files', async () => {
      const batch = await createBatch(t, 'members', { format: 'jsonl' });
      await send(t, 'PUT', fileUrl(batch, 'a.jsonl'), JSON.stringify(member(1)));
      const staging = (await t.platform.warehouse.sandbox('prod')).stagingDir;
      assert.ok(existsSync(path.join(staging, 'batches', batch.id, 'a.jsonl')));
      const aborted = await t.call('POST', `${BATCHES}/${batch.id}?action=ABORT`);
      assert.equal(aborted.body.status, 'aborted');
      assert.ok(!existsSync(path.join(staging, 'batches', batch.id)));
    });
  });

  describe('batches never stay stuck', () => {
    it('a file that cannot be read fails the batch with a code and a message', async () => {
      const batch = await runBatch(t, datasetId, { format: 'parquet' }, [{ name: 'x.parquet', content: 'not parquet at all' }]);
      assert.deepEqual([batch.status, batch.errorCode], ['failed', 'RT_BATCH_FILE_INVALID']);
      const clash = await runBatch(t, datasetId, { format: 'csv' }, [{ name: 'x.csv', content: '_id,person.name,person.name.firstName\na,"{}",b\n' }]);
      assert.deepEqual([clash.status, clash.errorCode], ['failed', 'RT_BATCH_FILE_INVALID']);
      assert.match(clash.errorMessage, /person\.name/);
      const staging = (await t.platform.warehouse.sandbox('prod')).stagingDir;
      assert.ok(!existsSync(path.join(staging, 'batches', clash.id)), 'files are removed once processed');
    });

    it('a batch left processing by a stopped server reads as failed (RT_BATCH_INTERRUPTED)', async () => {
      const now = new Date(Date.now() - 60_000).toISOString();
      await t.platform.metadata.batches.create({
        sandbox: 'prod', id: 'batch_orphan', datasetId, status: 'processing', inputFormat: 'csv', options: {}, files: [], rowsRead: 0, rowsWritten: 0, rowsRejected: 0,
        snapshotId: null, errorCode: null, errorMessage: null, createdBy: 'local', createdAt: now, updatedAt: now, completedAt: null,
      });
      const batch = (await t.call('GET', `${BATCHES}/batch_orphan`)).body;
      assert.deepEqual([batch.status, batch.errorCode], ['failed', 'RT_BATCH_INTERRUPTED']);
      assert.equal((await t.platform.metadata.batches.get('prod', 'batch_orphan'))!.status, 'failed', 'and stays failed');
    });
  });

  describe('reading back', () => {
    it('lists batches by dataset, pages and filters failed records, and downloads them as JSON Lines', async () => {
      const batch = await runBatch(t, datasetId, { format: 'jsonl' }, [{ name: 'x.jsonl', content: [member(1), member(2, { loyaltyStatus: 'X' }), member(3, { loyaltyStatus: 'Y' }), 'not json'].map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') }], 1);
      const listed = (await t.call('GET', `${BATCHES}?datasetId=members&limit=1000`)).body.batches;
      assert.ok(listed.some((b: Json) => b.id === batch.id) && listed.every((b: Json) => b.datasetId === datasetId));
      assert.equal((await t.call('GET', `${BATCHES}/batch_missing`)).body.error.code, 'RT_BATCH_NOT_FOUND');
      const page = (await t.call('GET', `/failed-records?batchId=${batch.id}&limit=1&offset=1`)).body;
      assert.deepEqual([page.total, page.failedRecords.length, page.failedRecords[0].rowNumber], [3, 1, 3]);
      const byCode = (await t.call('GET', `/failed-records?batchId=${batch.id}&code=RT_RECORD_MALFORMED`)).body;
      assert.deepEqual((byCode.failedRecords as FailedRecordViewT[]).map((f) => [f.rowNumber, f.raw]), [[4, 'not json']]);
      const download = await t.app.inject({ method: 'GET', url: `/failed-records/download?batchId=${batch.id}`, headers: { authorization: `Bearer ${t.adminToken}` } });
      assert.equal(download.headers['content-type'], 'application/x-ndjson');
      const lines = download.body.trim().split('\n').map((l): unknown => JSON.parse(l)) as Json[];
      assert.deepEqual(lines.map((l): unknown[] => [l.rowNumber, l.code]), [[2, 'RT_FIELD_ENUM'], [3, 'RT_FIELD_ENUM'], [4, 'RT_RECORD_MALFORMED']]);
      const viewer = await t.call('POST', '/api-keys', { body: { name: 'viewer', role: 'viewer', sandboxes: ['*'] } });
      assert.equal(viewer.status, 201);
      assert.equal((await t.call('GET', `/failed-records?batchId=${batch.id}`, { token: viewer.body.token })).body.error.code, 'RT_FORBIDDEN_ROLE');
    });

    it('gives the per-dataset overview: batches, streaming commits, failure rates, failed records', async () => {
      const at = new Date().toISOString();
      await t.platform.metadata.batches.create({
        sandbox: 'prod', id: 'batch_stream1', datasetId, status: 'success', inputFormat: 'stream', options: {}, files: [], rowsRead: 40, rowsWritten: 30, rowsRejected: 10,
        snapshotId: null, errorCode: null, errorMessage: null, createdBy: 'stream', createdAt: at, updatedAt: at, completedAt: at,
      });
      const overview = (await t.call('GET', '/datasets/members/ingestion')).body;
      const batches = (await t.call('GET', `${BATCHES}?datasetId=${datasetId}&limit=1000`)).body.batches.filter((b: Json) => b.inputFormat.format !== 'stream');
      const sum = (key: string) => (batches as Record<string, number>[]).reduce((n, b) => n + b[key]!, 0);
      assert.deepEqual(overview.dataset, { id: datasetId, name: 'members' });
      assert.deepEqual([overview.batch.batches, overview.batch.rowsRead, overview.batch.rowsRejected], [batches.length, sum('rowsRead'), sum('rowsRejected')]);
      assert.equal(overview.batch.failureRate, sum('rowsRejected') / sum('rowsRead'));
      assert.ok(overview.batch.byStatus.success > 0 && overview.batch.byStatus.failed > 0 && overview.batch.byStatus.aborted === 1);
      assert.deepEqual([overview.streaming.batches, overview.streaming.rowsWritten, overview.streaming.failureRate], [1, 30, 0.25]);
      assert.equal(overview.failedRecords.total, (await t.call('GET', `/failed-records?datasetId=${datasetId}&limit=1`)).body.total);
      assert.ok(overview.failedRecords.byCode.RT_FIELD_ENUM > 0 && overview.failedRecords.bySource.batch === overview.failedRecords.total);
      assert.ok(overview.recentBatches.length <= 10 && overview.recentBatches.every((b: Json) => b.inputFormat.format !== 'stream'));
    });
  });
});
