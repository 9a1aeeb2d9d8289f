/**
 * Skeleton tables: the narrow, numeric rows the simulation emits (one table per entity), buffered in typed
 * arrays of one DuckDB vector (2,048 rows) and handed to the Appender as DataChunks, the fastest way into
 * DuckDB from JS (`reference/stack.md` §1). SQL (`render.ts`) later turns these numbers into XDM records.
 *
 * Nothing is nullable here: "absent" is a sentinel value that the SQL maps to NULL, which keeps every column a
 * plain typed array.
 */
import {
  DOUBLE,
  DuckDBDataChunk,
  INTEGER,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
} from '@duckdb/node-api';

type ColumnKind = 'UTINYINT' | 'USMALLINT' | 'INTEGER' | 'UINTEGER' | 'DOUBLE';
type ColumnArray = Uint8Array | Uint16Array | Int32Array | Uint32Array | Float64Array;

const DUCKDB_TYPES: Record<ColumnKind, DuckDBType> = { UTINYINT, USMALLINT, INTEGER, UINTEGER, DOUBLE };
const ARRAYS: Record<ColumnKind, new (length: number) => ColumnArray> = {
  UTINYINT: Uint8Array,
  USMALLINT: Uint16Array,
  INTEGER: Int32Array,
  UINTEGER: Uint32Array,
  DOUBLE: Float64Array,
};

/** DuckDB's vector size: a DataChunk holds at most this many rows. */
const CHUNK_ROWS = 2048;

/** Absent numbers (indices, devices). */
export const NONE = -1;
/** Absent dates, in days since 1970 (which are negative before 1970, so -1 will not do). */
export const NO_DATE = -2_147_483_648;

/** Column specs of every skeleton table, by table name. Timestamps are UINTEGER seconds since 1970 (UTC). */
export const SKELETONS = {
  /** One row per person: the latent values and outcomes that become the ground truth. */
  s_persons: {
    pid: 'INTEGER', customer: 'UTINYINT', signup: 'UINTEGER', first_order: 'UINTEGER', last_order: 'UINTEGER',
    lam: 'DOUBLE', dropout: 'DOUBLE', nu: 'DOUBLE', died: 'UTINYINT', orders: 'INTEGER', spend_cents: 'DOUBLE',
    repeat_cents: 'DOUBLE', devices: 'UTINYINT', shared: 'UTINYINT', accounts: 'UTINYINT', dup_link: 'UTINYINT',
    email: 'INTEGER', phone: 'UTINYINT', consent: 'UTINYINT', bad_email: 'UTINYINT',
  },
  /** One row per account (profile record); a person has one, or two when duplicated. */
  s_accounts: {
    pid: 'INTEGER', acct: 'UTINYINT', gender: 'UTINYINT', fname: 'USMALLINT', lname: 'USMALLINT', upper_name: 'UTINYINT',
    birth: 'INTEGER', email: 'INTEGER', phone: 'UTINYINT', street_no: 'USMALLINT', street: 'UTINYINT', city: 'UTINYINT',
    zip: 'UTINYINT', created: 'UINTEGER', channel: 'UTINYINT', email_consent: 'UTINYINT', consent_ts: 'UINTEGER', sms_consent: 'UTINYINT',
    tier: 'UTINYINT', points: 'INTEGER',
  },
  /** One row per transaction (the first one at sign-up, then the BG/NBD repeats). */
  s_orders: {
    pid: 'INTEGER', acct: 'UTINYINT', seq: 'USMALLINT', ts: 'UINTEGER', channel: 'UTINYINT', dev: 'INTEGER',
    store: 'UTINYINT', items: 'UTINYINT', total: 'INTEGER', sku1: 'USMALLINT', sku2: 'USMALLINT', sku3: 'USMALLINT',
    cents1: 'INTEGER', cents2: 'INTEGER', cents3: 'INTEGER',
  },
  /** Miles credits and debits (the `airline_loyalty_data` rows). */
  s_loyalty: {
    pid: 'INTEGER', acct: 'UTINYINT', seq: 'USMALLINT', ts: 'UINTEGER', kind: 'UTINYINT', miles: 'INTEGER', tier: 'UTINYINT',
    order_seq: 'USMALLINT', email: 'INTEGER',
  },
  /** Web and app events. */
  s_web: {
    pid: 'INTEGER', seq: 'INTEGER', ts: 'UINTEGER', kind: 'UTINYINT', dev: 'INTEGER', devtype: 'UTINYINT', model: 'UTINYINT',
    auth: 'UTINYINT', acct: 'UTINYINT', sess: 'USMALLINT', channel: 'UTINYINT', page: 'UTINYINT', product: 'USMALLINT',
    cents: 'INTEGER', order_seq: 'INTEGER', ref: 'UTINYINT',
  },
  /** Email campaign responses. */
  s_email: { pid: 'INTEGER', campaign: 'UTINYINT', kind: 'UTINYINT', ts: 'UINTEGER', email: 'INTEGER', link: 'UTINYINT' },
} as const satisfies Record<string, Record<string, ColumnKind>>;

export type SkeletonName = keyof typeof SKELETONS;
type Columns<N extends SkeletonName> = { [K in keyof (typeof SKELETONS)[N]]: ColumnArray };

/**
 * One skeleton table being filled: `next()` returns the row index in the current chunk, the caller writes
 * `cols.<name>[row]`, and full chunks go to the Appender.
 */
export class SkeletonTable<N extends SkeletonName> {
  readonly cols: Columns<N>;
  private readonly arrays: ColumnArray[];
  private readonly chunk: DuckDBDataChunk;
  private row = 0;
  /** Rows written so far (flushed or not). */
  total = 0;

  private constructor(
    private readonly appender: DuckDBAppender,
    kinds: ColumnKind[],
    names: string[],
  ) {
    this.arrays = kinds.map((k) => new ARRAYS[k](CHUNK_ROWS));
    this.cols = Object.fromEntries(names.map((n, i) => [n, this.arrays[i]])) as Columns<N>;
    this.chunk = DuckDBDataChunk.create(kinds.map((k) => DUCKDB_TYPES[k]));
  }

  static async create<N extends SkeletonName>(connection: DuckDBConnection, schema: string, name: N): Promise<SkeletonTable<N>> {
    const spec = SKELETONS[name] as Record<string, ColumnKind>;
    const names = Object.keys(spec);
    const kinds = names.map((n) => spec[n]!);
    await connection.run(`CREATE OR REPLACE TABLE ${schema}.${name} (${names.map((n, i) => `${n} ${kinds[i]}`).join(', ')})`);
    return new SkeletonTable<N>(await connection.createAppender(name, schema), kinds, names);
  }

  next(): number {
    if (this.row === CHUNK_ROWS) this.flush();
    this.total++;
    return this.row++;
  }

  private flush(): void {
    if (this.row === 0) return;
    this.chunk.rowCount = this.row;
    for (let i = 0; i < this.arrays.length; i++) fillColumn(this.chunk, i, this.arrays[i]!.subarray(0, this.row));
    this.appender.appendDataChunk(this.chunk);
    this.row = 0;
  }

  /** Appends what is left and closes the Appender (the rows are then visible to SQL). */
  close(): void {
    this.flush();
    this.appender.closeSync();
  }
}

/**
 * Copies a column into the chunk. Numeric vectors of @duckdb/node-api keep their values in an `items` typed
 * array (an internal, not in its types); one `set` into it replaces a method call per value, which halves the
 * time spent handing rows to DuckDB. When the shape is not the expected one, the public per-value API is used.
 */
function fillColumn(chunk: DuckDBDataChunk, index: number, values: ColumnArray): void {
  const vector = chunk.getColumnVector(index) as unknown as { items?: unknown; flush(): void };
  const items = vector.items;
  if (items instanceof values.constructor && (items as ColumnArray).length === values.length) {
    (items as ColumnArray).set(values);
    vector.flush();
    return;
  }
  // Every skeleton value is a number and the chunk only indexes and reads `length`, so the view serves as a list.
  chunk.setColumnValues(index, values as unknown as readonly number[]);
}

export type Skeleton = { [N in SkeletonName]: SkeletonTable<N> };

/** Creates (or empties) every skeleton table in `schema`, ready to be filled. */
export async function createSkeleton(connection: DuckDBConnection, schema: string): Promise<Skeleton> {
  const tables: Partial<Record<SkeletonName, unknown>> = {};
  for (const name of Object.keys(SKELETONS) as SkeletonName[]) tables[name] = await SkeletonTable.create(connection, schema, name);
  return tables as Skeleton;
}

export function closeSkeleton(skeleton: Skeleton): void {
  for (const table of Object.values(skeleton)) (table as SkeletonTable<SkeletonName>).close();
}
