/**
 * Pure parts of the Postgres endpoint: parameter literals, type OIDs and text values, command tags, statement
 * classification, and the catalog answers to the queries psql 15 sends for `\dt`, `\d table`, `\l` and `\dn`
 * (captured with `psql -E` against PostgreSQL 15).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answerCatalogQuery, tableOid, type CatalogView } from './catalog.ts';
import { classifyLocal } from './local.ts';
import { bindParameters, parameterCount } from './parameters.ts';
import { encodeText, pgTypeForDuckDB, PG_TYPES } from './pg-types.ts';
import { commandTag } from './session.ts';

const view: CatalogView = {
  sandbox: 'prod',
  user: 'ana',
  databases: ['dev', 'prod'],
  tables: [
    { name: 'orders', description: 'Orders (ds_1)', columns: [{ name: 'id', type: { kind: 'integer' } }, { name: 'placed', type: { kind: 'timestamp' } }, { name: 'items', type: { kind: 'list', items: { kind: 'string' } } }] },
    { name: 'customers', description: null, columns: [{ name: 'email', type: { kind: 'string' } }] },
  ],
  settings: new Map([['server_version', '15.0 (Roundtrip)']]),
  version: 'PostgreSQL 15.0 (Roundtrip test)',
  pid: 42,
  startedAt: '2024-01-01T00:00:00.000Z',
};

describe('parameters', () => {
  it('counts $n outside strings and comments', () => {
    assert.equal(parameterCount(`SELECT $1, '$2', "$3", $2 -- $9\n`), 2);
  });

  it('substitutes typed, untyped and NULL values as safe literals', () => {
    assert.equal(bindParameters('SELECT $1, $2, $3, $4, $5', ['-5', 'it\'s', null, 't', '2024-01-02'], [23, 0, 25, 16, 1082]), "SELECT (-5), 'it''s', CAST(NULL AS VARCHAR), TRUE, DATE '2024-01-02'");
    assert.equal(bindParameters('SELECT x-$1', ['-1'], [20]), 'SELECT x-(-1)', 'a negative number cannot start a comment');
    assert.equal(bindParameters(`SELECT '$1', $1`, ["'); DROP TABLE t; --"], [0]), `SELECT '$1', '''); DROP TABLE t; --'`);
    assert.throws(() => bindParameters('SELECT $1', ['1 OR 1=1'], [23]), /RT_PGWIRE_PARAMETER|not one/);
    assert.throws(() => bindParameters('SELECT $2', ['1'], [0]), /no parameter \$2/);
  });
});

describe('types and values', () => {
  it('maps DuckDB type names to Postgres OIDs', () => {
    const oid = (t: string): number => pgTypeForDuckDB(t).oid;
    assert.deepEqual(
      ['VARCHAR', 'BIGINT', 'INTEGER', 'DOUBLE', 'BOOLEAN', 'DATE', 'TIMESTAMP WITH TIME ZONE', 'TIMESTAMP', 'DECIMAL(18,2)', 'STRUCT(a BIGINT)', 'MAP(VARCHAR, BIGINT)', 'INTEGER[]', 'VARCHAR[3]', 'HUGEINT', 'JSON', 'ENUM(a)'].map(oid),
      [25, 20, 23, 701, 16, 1082, 1184, 1114, 1700, 114, 114, 114, 114, 1700, 114, 25],
    );
    assert.equal(pgTypeForDuckDB('DECIMAL(18,2)').typmod, ((18 << 16) | 2) + 4);
  });

  it('writes values in the Postgres text format', () => {
    assert.equal(encodeText(true, PG_TYPES.bool), 't');
    assert.equal(encodeText(false, PG_TYPES.bool), 'f');
    assert.equal(encodeText('2024-01-02T03:04:05.120Z', PG_TYPES.timestamptz), '2024-01-02 03:04:05.12+00');
    assert.equal(encodeText('2024-01-02T03:04:05.000Z', PG_TYPES.timestamp), '2024-01-02 03:04:05');
    assert.equal(encodeText({ a: [1, { b: null }] }, PG_TYPES.json), '{"a":[1,{"b":null}]}');
    assert.equal(encodeText('plain', PG_TYPES.json), '"plain"', 'a string inside a nested column is JSON text');
    assert.equal(encodeText('{"raw":1}', pgTypeForDuckDB('JSON')), '{"raw":1}', 'DuckDB JSON values are already JSON');
    assert.equal(encodeText('9007199254740993', PG_TYPES.int8), '9007199254740993');
    assert.equal(encodeText('AQID', PG_TYPES.bytea), '\\x010203');
    assert.equal(encodeText(null, PG_TYPES.text), null);
  });

  it('tags commands as Postgres does', () => {
    const r = (statement: string, kind: Parameters<typeof commandTag>[0]['kind'], rowCount = 3) => commandTag({ statement, kind, columns: [], rows: [], rowCount, truncated: false });
    assert.equal(r('CREATE TABLE x AS SELECT 1', 'ctas'), 'SELECT 3');
    assert.equal(r('INSERT INTO x SELECT 1', 'itas'), 'INSERT 0 3');
    assert.equal(r('DELETE FROM x', 'dml'), 'DELETE 3');
    assert.equal(r('CREATE OR REPLACE TEMP VIEW v AS SELECT 1', 'ddl'), 'CREATE VIEW');
    assert.equal(r('DROP TABLE IF EXISTS x', 'ddl'), 'DROP TABLE');
  });
});

describe('statement classification', () => {
  it('answers driver statements locally and leaves the dialect to the query service', () => {
    assert.equal(classifyLocal('BEGIN')?.kind, 'begin');
    assert.equal(classifyLocal('BEGIN TRANSACTION ISOLATION LEVEL READ COMMITTED')?.kind, 'begin');
    assert.equal(classifyLocal('BEGIN SELECT 1; END'), undefined, 'a block without $$');
    assert.deepEqual(classifyLocal("SET DATESTYLE TO 'ISO'"), { kind: 'set', name: 'datestyle', value: 'ISO' });
    assert.deepEqual(classifyLocal('SET TIME ZONE UTC'), { kind: 'set', name: 'timezone', value: 'UTC' });
    assert.equal(classifyLocal('SET resolve_fallback_snapshot_on_failure = true'), undefined);
    assert.equal(classifyLocal('SET @x = SELECT 1'), undefined);
    assert.deepEqual(classifyLocal('SHOW TRANSACTION ISOLATION LEVEL'), { kind: 'show', name: 'transaction_isolation' });
    assert.equal(classifyLocal('SELECT version()')?.kind, 'catalog');
    assert.equal(classifyLocal('SELECT * FROM pg_catalog.pg_type')?.kind, 'catalog');
    assert.equal(classifyLocal('SELECT count(*) FROM orders'), undefined);
    assert.equal(classifyLocal('SELECT * FROM information_schema.tables'), undefined);
  });
});

describe('catalog answers (psql 15 queries)', () => {
  const ask = (sql: string) => answerCatalogQuery(sql, view);

  it('\\dt and \\dt+ list the tables', () => {
    const dt = ask(`SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner",
  CASE c.relpersistence WHEN 'p' THEN 'permanent' WHEN 't' THEN 'temporary' WHEN 'u' THEN 'unlogged' END as "Persistence",
  am.amname as "Access method",
  pg_catalog.pg_size_pretty(pg_catalog.pg_table_size(c.oid)) as "Size",
  pg_catalog.obj_description(c.oid, 'pg_class') as "Description"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`);
    assert.deepEqual(
      dt.columns.map((c) => c.name),
      ['Schema', 'Name', 'Type', 'Owner', 'Persistence', 'Access method', 'Size', 'Description'],
    );
    assert.deepEqual(dt.rows, [
      ['main', 'customers', 'table', 'ana', 'permanent', 'heap', null, null],
      ['main', 'orders', 'table', 'ana', 'permanent', 'heap', null, 'Orders (ds_1)'],
    ]);
    const views = ask(`SELECT n.nspname as "Schema", c.relname as "Name" FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v','') ORDER BY 1,2;`);
    assert.deepEqual(views.rows, []);
    const pattern = ask(`SELECT n.nspname as "Schema", c.relname as "Name" FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r','p','t','s','') AND c.relname OPERATOR(pg_catalog.~) '^(ord.*)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2;`);
    assert.deepEqual(pattern.rows, [['main', 'orders']]);
  });

  it('\\d table: look-up by name, table details, columns, and empty footers', () => {
    const lookup = ask(`SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(orders)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;`);
    const oid = tableOid('orders');
    assert.deepEqual(lookup.rows, [[oid, 'main', 'orders']]);
    assert.equal(lookup.columns[0]!.type.oid, 26);
    const details = ask(`SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '${oid}';`);
    assert.deepEqual(details.rows, [[0, 'r', false, false, false, false, false, false, false, '', 0, '', 'p', 'd', 'heap']]);
    const columns = ask(`SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '${oid}' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`);
    assert.deepEqual(columns.rows, [
      ['id', 'bigint', null, false, null, '', ''],
      ['placed', 'timestamp with time zone', null, false, null, '', ''],
      ['items', 'json', null, false, null, '', ''],
    ]);
    const inherits = ask(`SELECT c.oid::pg_catalog.regclass
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhparent AND i.inhrelid = '${oid}'
  AND c.relkind != 'p' AND c.relkind != 'I'
ORDER BY inhseqno;`);
    assert.deepEqual(inherits.rows, []);
    const publications = ask(`SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='${oid}' and pg_catalog.pg_relation_is_publishable('${oid}')
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('${oid}')
ORDER BY 1;`);
    assert.deepEqual(publications.rows, []);
  });

  it('\\l lists the sandboxes as databases, \\dn the schema', () => {
    const l = ask(`SELECT d.datname as "Name",
       pg_catalog.pg_get_userbyid(d.datdba) as "Owner",
       pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding",
       d.datcollate as "Collate",
       d.datctype as "Ctype",
       d.daticulocale as "ICU Locale",
       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS "Locale Provider",
       pg_catalog.array_to_string(d.datacl, E'\\n') AS "Access privileges"
FROM pg_catalog.pg_database d
ORDER BY 1;`);
    assert.deepEqual(
      l.rows.map((r) => r.slice(0, 4)),
      [
        ['dev', 'ana', 'UTF8', 'C.UTF-8'],
        ['prod', 'ana', 'UTF8', 'C.UTF-8'],
      ],
    );
    const dn = ask(`SELECT n.nspname AS "Name",
  pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner"
FROM pg_catalog.pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1;`);
    assert.deepEqual(dn.rows, [['main', 'ana']]);
  });

  it('driver probes: version(), current_setting, pg_type by name, counts, LIMIT', () => {
    assert.deepEqual(ask('SELECT version(), current_schema(), current_database(), current_user, pg_backend_pid() AS pid').rows, [
      ['PostgreSQL 15.0 (Roundtrip test)', 'main', 'prod', 'ana', 42],
    ]);
    assert.deepEqual(ask(`select current_setting('server_version') as v`).rows, [['15.0 (Roundtrip)']]);
    assert.deepEqual(ask(`SELECT t.oid, t.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.typname = 'hstore'`).rows, []);
    assert.deepEqual(ask(`SELECT typname FROM pg_type WHERE oid IN (16, 1184) ORDER BY typname DESC`).rows, [['timestamptz'], ['bool']]);
    assert.deepEqual(ask(`SELECT count(*) AS n FROM pg_catalog.pg_tables WHERE schemaname = 'main'`).rows, [[2]]);
    assert.deepEqual(ask(`SELECT relname FROM pg_class ORDER BY relname LIMIT 1`).rows, [['customers']]);
    assert.deepEqual(ask(`SELECT t.oid FROM pg_catalog.pg_type t WHERE t.typname = ANY(ARRAY['int8', 'json']) ORDER BY 1`).rows, [[20], [114]]);
    assert.deepEqual(ask(`SELECT typname FROM pg_type WHERE oid = ANY('{16,25}') ORDER BY 1`).rows, [['bool'], ['text']]);
    assert.deepEqual(ask(`WITH x AS (SELECT 1) SELECT c.relname FROM x JOIN pg_catalog.pg_class c ON true`).rows, []);
  });
});
