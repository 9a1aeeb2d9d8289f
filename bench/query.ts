/**
 * Benchmark: overhead of the Data Distiller front end (parse, rewrite, guard, log, row cap) against the same
 * statement sent straight to DuckDB on the same database, on a 10M-row dataset. Prints medians and ratios.
 *
 *   npx tsx bench/query.ts [--rows 10000000] [--runs 7]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LOCAL_OPERATOR } from '../src/access/principal.ts';
import { createTestPlatform } from '../src/testing/platform.ts';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '10000000' }, runs: { type: 'string', default: '7' } } });
const rows = Number(values.rows);
const runs = Number(values.runs);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function time(work: () => Promise<unknown>): Promise<number> {
  await work(); // warm
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await work();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const t = await createTestPlatform({ duckdbMemoryLimit: '8GB', queryTimeoutMs: 3_600_000 });
try {
  const queries = t.platform.queries;
  const setupStart = performance.now();
  await queries.execute(LOCAL_OPERATOR, 'prod', `CREATE TABLE loyalty AS
    SELECT STRUCT(
      'M' || (i % 1000000)::VARCHAR AS membershipNumber,
      (DATE '2024-01-01' + CAST(i % 700 AS INTEGER)) AS transactionDate,
      (i * 7919 % 20000)::BIGINT AS mileage,
      ['FLYER', 'FREQUENT', 'SILVER', 'GOLD'][1 + ((i % 1000000) % 4)] AS loyaltyStatus) AS _acme
    FROM range(${rows}) t(i)`, { executionClass: 'batch' });
  console.log(`setup: ${rows.toLocaleString()} rows loaded through CTAS in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`);
  const warehouse = await t.platform.warehouse.sandbox('prod');
  await queries.execute(LOCAL_OPERATOR, 'prod', 'SELECT 1'); // installs the macros

  const cases: { name: string; dialect: string; duckdb: string }[] = [
    {
      name: 'plain aggregate SELECT',
      dialect: `SELECT _acme.loyaltyStatus AS tier, count(*) AS n, sum(_acme.mileage) AS miles FROM loyalty GROUP BY 1 ORDER BY 1`,
      duckdb: `SELECT _acme.loyaltyStatus AS tier, count(*) AS n, sum(_acme.mileage) AS miles FROM loyalty GROUP BY 1 ORDER BY 1`,
    },
    {
      name: 'plain filtered SELECT (100 rows)',
      dialect: `SELECT _acme.membershipNumber AS m, _acme.mileage AS miles FROM loyalty WHERE _acme.mileage > 19990 ORDER BY miles DESC, m LIMIT 100`,
      duckdb: `SELECT _acme.membershipNumber AS m, _acme.mileage AS miles FROM loyalty WHERE _acme.mileage > 19990 ORDER BY miles DESC, m LIMIT 100`,
    },
    {
      name: 'airline decile query (1 window, 1M members)',
      dialect: `WITH summed AS (SELECT _acme.membershipNumber AS membershipNumber, _acme.loyaltyStatus AS loyaltyStatus, SUM(_acme.mileage) AS totalMiles
          FROM loyalty WHERE _acme.transactionDate < (MAKE_DATE(YEAR(CURRENT_DATE), MONTH(CURRENT_DATE), 1) - MAKE_YM_INTERVAL(0, 1)) GROUP BY 1, 2),
        rankings AS (SELECT membershipNumber, loyaltyStatus, NTILE(10) OVER (PARTITION BY loyaltyStatus ORDER BY totalMiles DESC) AS decileBucket FROM summed),
        maps AS (SELECT membershipNumber, MAP_FROM_ARRAYS(COLLECT_LIST(loyaltyStatus), COLLECT_LIST(decileBucket)) AS decileMonth3 FROM rankings GROUP BY membershipNumber)
        SELECT count(*) AS members, sum(decileMonth3['GOLD']) AS gold FROM maps`,
      duckdb: `WITH summed AS (SELECT _acme.membershipNumber AS membershipNumber, _acme.loyaltyStatus AS loyaltyStatus, SUM(_acme.mileage) AS totalMiles
          FROM loyalty WHERE _acme.transactionDate < (MAKE_DATE(YEAR(CURRENT_DATE), MONTH(CURRENT_DATE), 1) - to_months(1)) GROUP BY 1, 2),
        rankings AS (SELECT membershipNumber, loyaltyStatus, NTILE(10) OVER (PARTITION BY loyaltyStatus ORDER BY totalMiles DESC) AS decileBucket FROM summed),
        maps AS (SELECT membershipNumber, map(list(loyaltyStatus) FILTER (WHERE loyaltyStatus IS NOT NULL), list(decileBucket) FILTER (WHERE decileBucket IS NOT NULL)) AS decileMonth3 FROM rankings GROUP BY membershipNumber)
        SELECT count(*) AS members, sum(decileMonth3['GOLD']) AS gold FROM maps`,
    },
  ];

  console.log(`\n| statement | DuckDB direct (ms) | Roundtrip query service (ms) | overhead |`);
  console.log(`|---|---:|---:|---:|`);
  for (const c of cases) {
    const direct = await time(() => warehouse.query(c.duckdb));
    const front = await time(() => queries.execute(LOCAL_OPERATOR, 'prod', c.dialect, { maxRows: 500 }));
    const same = JSON.stringify((await warehouse.query(c.duckdb)).rows) === JSON.stringify((await queries.execute(LOCAL_OPERATOR, 'prod', c.dialect, { maxRows: 500 })).last.rows);
    console.log(`| ${c.name} | ${direct.toFixed(1)} | ${front.toFixed(1)} | ${(((front - direct) / direct) * 100).toFixed(1)}%${same ? '' : ' (results differ!)'} |`);
  }
  console.log(`\n(median of ${runs} runs after one warm-up; ${rows.toLocaleString()} rows; both paths on the same DuckDB database in one process)`);
} finally {
  await t.dispose();
}
