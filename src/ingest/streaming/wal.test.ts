import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../../testing/temp.ts';
import { decodeFrames, encodeFrame, WriteAheadLog } from './wal.ts';

describe('streaming write-ahead log', () => {
  const temp = tempDir();
  after(() => temp.remove());
  let n = 0;
  const dir = () => path.join(temp.dir, `wal-${++n}`);

  it('gives appends increasing lsns in call order and hands back everything after the checkpoint on reopen', async () => {
    const where = dir();
    const { wal, pending } = WriteAheadLog.open(where);
    assert.deepEqual(pending, []);
    const appends = ['a', 'b', 'c', 'd'].map((p) => wal.append(JSON.stringify({ p })));
    assert.deepEqual(
      appends.map((a) => a.lsn),
      [1, 2, 3, 4],
    );
    await Promise.all(appends.map((a) => a.durable));
    await wal.checkpoint(2);
    await wal.close();
    const reopened = WriteAheadLog.open(where);
    assert.deepEqual(
      reopened.pending.map((r): unknown[] => [r.lsn, JSON.parse(r.payload).p]),
      [
        [3, 'c'],
        [4, 'd'],
      ],
    );
    assert.equal(reopened.wal.append('{}').lsn, 5, 'numbering continues after a restart');
    await reopened.wal.close();
  });

  it('writes appends that wait for the same sync as one group (group commit)', async () => {
    const where = dir();
    const { wal } = WriteAheadLog.open(where);
    const appends = Array.from({ length: 200 }, (_, i) => wal.append(`{"i":${i}}`));
    await Promise.all(appends.map((a) => a.durable));
    // 200 appends issued in one tick: the first goes alone, the other 199 share the next write + sync.
    assert.equal(wal.syncs, 2);
    await wal.close();
    const [segment] = readdirSync(where).filter((f) => f.endsWith('.wal'));
    assert.equal(decodeFrames(readFileSync(path.join(where, segment!))).records.length, 200);
  });

  it('drops a torn tail (a frame cut short or with a bad checksum) on reopen, keeping every whole frame', async () => {
    const where = dir();
    const { wal } = WriteAheadLog.open(where);
    await wal.append('{"ok":1}').durable;
    await wal.append('{"ok":2}').durable;
    await wal.close();
    const [segment] = readdirSync(where).filter((f) => f.endsWith('.wal'));
    const file = path.join(where, segment!);
    const whole = statSync(file).size;
    appendFileSync(file, encodeFrame(3, '{"torn":true}').subarray(0, 20));
    const reopened = WriteAheadLog.open(where);
    assert.deepEqual(
      reopened.pending.map((r) => r.lsn),
      [1, 2],
    );
    assert.equal(statSync(file).size, whole, 'the torn bytes are cut away');
    await reopened.wal.append('{"after":true}').durable;
    await reopened.wal.close();
    assert.deepEqual(
      WriteAheadLog.open(where).pending.map((r) => r.lsn),
      [1, 2, 3],
    );
    const corrupt = encodeFrame(9, '{"x":1}');
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 3) ^ 0xff, corrupt.length - 3);
    assert.equal(decodeFrames(Buffer.concat([encodeFrame(8, '{}'), corrupt])).records.length, 1, 'a checksum mismatch ends the log');
  });

  it('rolls segments and deletes those wholly before the checkpoint', async () => {
    const where = dir();
    const { wal } = WriteAheadLog.open(where, { segmentBytes: 100 });
    for (let i = 0; i < 10; i++) await wal.append(JSON.stringify({ i, pad: 'x'.repeat(120) })).durable;
    const segments = () => readdirSync(where).filter((f) => f.endsWith('.wal'));
    assert.equal(segments().length, 10);
    await wal.checkpoint(7);
    assert.deepEqual(segments(), ['0000000000000008.wal', '0000000000000009.wal', '0000000000000010.wal']);
    await wal.close();
    assert.deepEqual(
      WriteAheadLog.open(where).pending.map((r) => r.lsn),
      [8, 9, 10],
    );
  });

  it('retires the open segment once everything in it is applied, so applied events do not stay on disk', async () => {
    const where = dir();
    const { wal } = WriteAheadLog.open(where);
    await wal.append('{"a":1}').durable;
    await wal.append('{"a":2}').durable;
    await wal.checkpoint(2);
    assert.deepEqual(readdirSync(where).filter((f) => f.endsWith('.wal')), []);
    await wal.append('{"a":3}').durable;
    assert.deepEqual(readdirSync(where).filter((f) => f.endsWith('.wal')), ['0000000000000003.wal']);
    await wal.close();
    const reopened = WriteAheadLog.open(where);
    assert.deepEqual(
      reopened.pending.map((r) => r.lsn),
      [3],
    );
    assert.equal(reopened.wal.append('{}').lsn, 4);
    await reopened.wal.close();
  });
});
