/**
 * Stored ids: which `_id`s a dataset's table already holds, for streaming's duplicate suppression. The applier
 * asks once per apply; answering with a semi-join scans the table's whole `_id` column every time (the cost
 * grows with the table, not with the group). Instead this keeps, per dataset, the set of every `_id` in its
 * table: loaded with one query the first time (or again when the knowledge went stale), then extended with what
 * each streaming write stores.
 *
 * The knowledge is tied to snapshot ids: it holds the table's ids up to snapshot `snapshotId` (the highest
 * `_rt_snapshot_id` in the table when it was loaded, then each streaming write's own). A streaming write must get
 * the next snapshot id; any other (another writer — a batch, SQL — took one in between) drops the knowledge,
 * as does a failed write and a dataset whose `lastSnapshotId` moved past it, and the next apply reloads it.
 * A table with more ids than `limit` is not held in memory: every apply then asks the table (the semi-join),
 * as exact as before, just slower. Rows removed from the table by other means (SQL DELETE) stay known here until
 * the next reload: a re-sent event with such an id counts as a duplicate until then.
 */
import type { DatasetRecord } from '../../ports/metadata-store.ts';
import type { Warehouse } from '../../ports/warehouse.ts';

interface Knowledge {
  ids: Set<string>;
  /** The table's ids are all in `ids` as of this snapshot. */
  snapshotId: number;
}

export class StoredIds {
  private readonly known = new Map<string, Knowledge>();
  /**
   * Datasets found to hold more ids than the limit: asked straight away from then on (counting a table of
   * millions of ids at every apply cost hundreds of milliseconds); a `forget` counts again.
   */
  private readonly tooMany = new Set<string>();
  /** How the last answers were given, for tests and stats: from memory, or by asking the table. */
  readonly answers = { fromMemory: 0, fromTable: 0, loads: 0, counts: 0 };

  constructor(
    private readonly warehouse: Warehouse,
    /** Most ids held in memory per dataset. */
    private readonly limit: number,
  ) {}

  /** Which of `ids` the dataset's table holds. */
  async stored(sandbox: string, dataset: DatasetRecord, ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const key = `${sandbox}/${dataset.id}`;
    let knowledge = this.known.get(key);
    if (knowledge && knowledge.snapshotId !== dataset.lastSnapshotId) knowledge = undefined;
    if (!knowledge && !this.tooMany.has(key)) {
      knowledge = await this.load(sandbox, dataset);
      if (!knowledge && this.limit > 0) this.tooMany.add(key);
    }
    if (!knowledge) {
      this.answers.fromTable++;
      return this.ask(sandbox, dataset.tableName, ids);
    }
    this.answers.fromMemory++;
    this.known.set(key, knowledge);
    const found = new Set<string>();
    for (const id of ids) if (knowledge.ids.has(id)) found.add(id);
    return found;
  }

  /** A streaming write stored `ids` as `snapshotId`; the knowledge follows it if that was the next snapshot. */
  written(sandbox: string, datasetId: string, snapshotId: number, ids: readonly string[]): void {
    const key = `${sandbox}/${datasetId}`;
    const knowledge = this.known.get(key);
    if (!knowledge) return;
    if (snapshotId !== knowledge.snapshotId + 1 || knowledge.ids.size + ids.length > this.limit) {
      this.known.delete(key);
      return;
    }
    for (const id of ids) knowledge.ids.add(id);
    knowledge.snapshotId = snapshotId;
  }

  /** A write failed (or its outcome is unknown): reload before the next answer. */
  forget(sandbox: string, datasetId: string): void {
    this.known.delete(`${sandbox}/${datasetId}`);
    this.tooMany.delete(`${sandbox}/${datasetId}`);
  }

  /** Every id of the table, unless there are more than `limit`. One list aggregate, parsed once. */
  private async load(sandbox: string, dataset: DatasetRecord): Promise<Knowledge | undefined> {
    if (this.limit <= 0) return undefined;
    const warehouse = await this.warehouse.sandbox(sandbox);
    const table = `"${dataset.tableName}"`;
    this.answers.counts++;
    const { rows: counted } = await warehouse.query(`SELECT count("_id") AS n FROM ${table}`);
    if (Number(counted[0]?.n ?? 0) > this.limit) return undefined;
    const { rows } = await warehouse.query(`SELECT CAST(to_json(coalesce(list("_id"), [])) AS VARCHAR) AS ids, coalesce(max("_rt_snapshot_id"), 0) AS last FROM ${table} WHERE "_id" IS NOT NULL`);
    this.answers.loads++;
    const ids = rows[0]?.ids;
    return { ids: new Set(typeof ids === 'string' ? (JSON.parse(ids) as string[]) : []), snapshotId: Number(rows[0]?.last ?? 0) };
  }

  /** One semi-join; the id list is the small side. */
  private async ask(sandbox: string, table: string, ids: readonly string[]): Promise<Set<string>> {
    const warehouse = await this.warehouse.sandbox(sandbox);
    const result = await warehouse.query(`SELECT DISTINCT "_id" AS id FROM "${table}" WHERE "_id" IN (SELECT unnest(json_transform($ids, '["VARCHAR"]')))`, {
      ids: JSON.stringify(ids),
    });
    return new Set(result.rows.map((r) => r.id as string));
  }
}
