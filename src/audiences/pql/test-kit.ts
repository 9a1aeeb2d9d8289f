/**
 * Test support for the PQL engines: an in-memory DuckDB with typed profile, event and membership tables built
 * from the same JS objects the evaluator reads, so that both engines see identical data.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { compilePqlToSql, evaluatePql, parsePql, type SqlCompileContext } from './index.ts';

export type ColumnType = string | { struct: Record<string, ColumnType> } | { list: ColumnType } | { map: ColumnType };

export const PROFILE_COLUMNS: Record<string, ColumnType> = {
  profile_id: 'BIGINT',
  person: { struct: { name: { struct: { firstName: 'VARCHAR', lastName: 'VARCHAR' } }, age: 'INTEGER', birthDate: 'DATE', birthMonth: 'INTEGER', orders: { list: { struct: { storeId: 'VARCHAR' } } } } },
  homeAddress: { struct: { city: 'VARCHAR', country: 'VARCHAR', countryISO: 'VARCHAR', stateProvince: 'VARCHAR' } },
  workAddress: { struct: { country: 'VARCHAR', stateProvince: 'VARCHAR' } },
  personalEmail: { struct: { address: 'VARCHAR' } },
  loyalty: { struct: { tier: 'VARCHAR', points: 'DOUBLE' } },
  tags: { list: 'VARCHAR' },
  decilesRevenue: { struct: { decileMonth6: { map: 'INTEGER' } } },
  identityMap: { map: { list: { struct: { id: 'VARCHAR', primary: 'BOOLEAN' } } } },
  segmentMembership: { map: { map: { struct: { status: 'VARCHAR' } } } },
  _tenant: { struct: { decilesMileage: { struct: { decileMonth1: { map: 'INTEGER' } } } } },
  product: { struct: { saleDate: 'TIMESTAMPTZ' } },
};

export const EVENT_COLUMNS: Record<string, ColumnType> = {
  profile_id: 'BIGINT',
  timestamp: 'TIMESTAMPTZ',
  eventType: 'VARCHAR',
  commerce: { struct: { order: { struct: { priceTotal: 'DOUBLE', currencyCode: 'VARCHAR' } }, checkouts: { struct: { value: 'DOUBLE' } }, item: { struct: { price: 'DOUBLE' } } } },
  productListItems: { list: { struct: { SKU: 'VARCHAR', quantity: 'INTEGER', priceTotal: 'DOUBLE' } } },
  metrics: { struct: { commerce: { struct: { abandons: { struct: { value: 'DOUBLE' } } } } } },
};

export function typeSql(type: ColumnType): string {
  if (typeof type === 'string') return type;
  if ('struct' in type) return `STRUCT(${Object.entries(type.struct).map(([k, t]) => `"${k}" ${typeSql(t)}`).join(', ')})`;
  if ('list' in type) return `${typeSql(type.list)}[]`;
  return `MAP(VARCHAR, ${typeSql(type.map)})`;
}

const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;

export function literal(value: unknown, type: ColumnType): string {
  if (value === null || value === undefined) return `NULL::${typeSql(type)}`;
  if (typeof type === 'string') {
    const scalar = typeof value === 'string' ? value : JSON.stringify(value);
    if (type === 'VARCHAR' || type === 'TIMESTAMPTZ' || type === 'DATE') return `${quote(scalar)}::${type}`;
    return `${scalar}::${type}`;
  }
  if ('struct' in type) {
    const record = value as Record<string, unknown>;
    return `{${Object.entries(type.struct).map(([k, t]) => `${quote(k)}: ${literal(record[k], t)}`).join(', ')}}`;
  }
  if ('list' in type) return `CAST([${(value as unknown[]).map((item) => literal(item, type.list)).join(', ')}] AS ${typeSql(type)})`;
  const entries = Object.entries(value as Record<string, unknown>);
  return `CAST(MAP {${entries.map(([k, v]) => `${quote(k)}: ${literal(v, type.map)}`).join(', ')}} AS ${typeSql(type)})`;
}

export interface World {
  profiles: Record<string, unknown>[];
  events: Record<string, unknown>[];
  /** (segment id, profile id) pairs that are realized. */
  memberships: { segmentId: string; profileId: number }[];
}

export const CONTEXT = (now: string): SqlCompileContext => ({
  profileAlias: 'p', eventsTable: 'events', membershipTable: 'memberships', now, arrayPaths: ['person.orders', 'tags', 'xEvent.productListItems'],
});

export class PqlWarehouse {
  private constructor(private readonly connection: DuckDBConnection, private readonly close: () => void) {}

  static async create(): Promise<PqlWarehouse> {
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    const connection = await instance.connect();
    // The compiler's contract: the session time zone is UTC (day and month parts, calendar arithmetic).
    await connection.run(`SET TimeZone = 'UTC'`);
    return new PqlWarehouse(connection, () => { connection.closeSync(); instance.closeSync(); });
  }

  async load(world: World): Promise<void> {
    await this.table('profiles', PROFILE_COLUMNS, world.profiles);
    await this.table('events', EVENT_COLUMNS, world.events);
    await this.connection.run('CREATE OR REPLACE TABLE memberships (segment_id VARCHAR, profile_id BIGINT, status VARCHAR)');
    if (world.memberships.length > 0) {
      await this.connection.run(`INSERT INTO memberships VALUES ${world.memberships.map((m) => `(${quote(m.segmentId)}, ${m.profileId}, 'realized')`).join(', ')}`);
    }
  }

  private async table(name: string, columns: Record<string, ColumnType>, rows: Record<string, unknown>[]): Promise<void> {
    await this.connection.run(`CREATE OR REPLACE TABLE ${name} (${Object.entries(columns).map(([c, t]) => `"${c}" ${typeSql(t)}`).join(', ')})`);
    if (rows.length === 0) return;
    const values = rows.map((row) => `(${Object.entries(columns).map(([c, t]) => literal(row[c], t)).join(', ')})`);
    await this.connection.run(`INSERT INTO ${name} VALUES ${values.join(', ')}`);
  }

  /** Profile ids matching each expression (batch engine), one array per expression. */
  async matchingIds(expressions: string[], now: string): Promise<number[][]> {
    const columns = expressions.map((source, i) => `${compilePqlToSql(parsePql(source), CONTEXT(now))} AS r${i}`);
    const reader = await this.connection.runAndReadAll(`SELECT p.profile_id${columns.map((c) => `, ${c}`).join('')} FROM profiles p ORDER BY p.profile_id`);
    const rows = reader.getRowObjectsJson();
    return expressions.map((_, i) => rows.filter((row) => row[`r${i}`] === true).map((row) => Number(row['profile_id'])));
  }

  dispose(): void {
    this.close();
  }
}

/** Profile ids matching the expression in the streaming engine, profile by profile. */
export function evaluatorIds(source: string, world: World, now: string): number[] {
  const node = parsePql(source);
  return world.profiles
    .filter((profile) => evaluatePql(node, {
      profile,
      events: world.events.filter((event) => event['profile_id'] === profile['profile_id']),
      segments: new Set(world.memberships.filter((m) => m.profileId === profile['profile_id']).map((m) => m.segmentId)),
      now: new Date(now),
    }))
    .map((profile) => Number(profile['profile_id']))
    .sort((a, b) => a - b);
}

/** The tree without source positions, for comparing parses of different texts. */
export function stripPositions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripPositions);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'pos').map(([k, v]) => [k, stripPositions(v)]));
  }
  return value;
}
