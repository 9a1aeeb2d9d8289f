/**
 * The transactions follow the simulated BG/NBD + Gamma-Gamma process: for 20,000 customers, repeat counts and
 * the share without a repeat match the model's expectations for each customer's own observation time T, the
 * latent draws have their distributions' means, transaction values have the Gamma-Gamma mean, and the order
 * file agrees with the ground truth person by person. Tolerances are 4 standard errors of the statistic.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_BGNBD, DEFAULT_GAMMA_GAMMA } from './options.ts';
import { expectedRepeatTransactions, expectedSpend, hyp2f1, probabilityNoRepeat } from './expectations.ts';
import { generateTemp, openDb, type Db, type Generated } from './test-support.ts';

const mean = (values: number[]): number => values.reduce((s, v) => s + v, 0) / values.length;
const standardError = (values: number[]): number => {
  const m = mean(values);
  return Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - 1) / values.length);
};

/** |observed − expected| ≤ 4 standard errors, with both numbers in the message. */
function near(observed: number, expected: number, se: number, what: string): void {
  assert.ok(Math.abs(observed - expected) <= 4 * se, `${what}: observed ${observed.toFixed(4)}, expected ${expected.toFixed(4)} ± ${(4 * se).toFixed(4)}`);
}

describe('expectation helpers', () => {
  it('reproduce the published BG/NBD and Gamma-Gamma values (clv-science.md §0, §2)', () => {
    // Published values are computed at full-precision fits, not at the rounded parameters.
    const lifetimes = { r: 0.242593, alpha: 4.413532, a: 0.792886, b: 2.425752 };
    const published: [number, number][] = [[0.1429, 0.0078], [1, 0.0532], [3, 0.1506], [31.8571, 1.0405], [32, 1.0437], [78, 1.858]];
    for (const [t, value] of published) assert.ok(Math.abs(expectedRepeatTransactions(lifetimes, t) - value) < 1e-4, `E[X(${t})]`);
    assert.ok(Math.abs(expectedRepeatTransactions(lifetimes, 39) - 1.195) < 1e-4);
    assert.ok(Math.abs(expectedRepeatTransactions({ r: 0.2425982, alpha: 4.413684, a: 0.7929899, b: 2.426167 }, 52) - 1.444004) < 1e-5, 'BTYD E[X(52)]');
    assert.ok(Math.abs(probabilityNoRepeat(DEFAULT_BGNBD, 39) - 0.5737864) < 1e-6, 'P(X(39) = 0)');
    assert.ok(Math.abs(expectedSpend(DEFAULT_GAMMA_GAMMA) - (6.25 * 15.44) / 2.74) < 1e-12);
    assert.ok(Math.abs(hyp2f1(1, 1, 2, 0.5) - 2 * Math.log(2)) < 1e-12);
  });
});

describe('transactions of 20,000 customers', () => {
  let brand: Generated;
  let db: Db;
  let customers: { x: number; T: number; lambda: number; p: number; nu: number; transactions: number }[];

  before(async () => {
    brand = await generateTemp({ profiles: 20_000, seed: 2024, months: 24, rates: { prospectShare: 0 } });
    db = await openDb();
    customers = await db.query<(typeof customers)[number]>(`SELECT x, "T", "lambda", p, nu, transactions FROM ${brand.files('customers')}`);
  });

  after(() => {
    db.close();
    brand.remove();
  });

  it('repeat counts match E[X(T)] of the BG/NBD model', () => {
    assert.equal(customers.length, 20_000);
    const expected = mean(customers.map((c) => expectedRepeatTransactions(DEFAULT_BGNBD, c.T)));
    const xs = customers.map((c) => c.x);
    near(mean(xs), expected, standardError(xs), 'mean repeat transactions');
    // The model is not trivially met: a process without drop-out (p = 0) would expect far more.
    const noDropout = mean(customers.map((c) => (DEFAULT_BGNBD.r / DEFAULT_BGNBD.alpha) * c.T));
    assert.ok(noDropout > expected * 1.3);
  });

  it('the share of customers without a repeat matches P(X(T) = 0) = (α / (α + T))^r', () => {
    const probabilities = customers.map((c) => probabilityNoRepeat(DEFAULT_BGNBD, c.T));
    const observed = customers.filter((c) => c.x === 0).length / customers.length;
    const se = Math.sqrt(probabilities.reduce((s, q) => s + q * (1 - q), 0)) / customers.length;
    near(observed, mean(probabilities), se, 'share without repeat');
  });

  it('latent λ, p and ν have the means of Gamma(r, α), Beta(a, b) and Gamma(q, γ)', () => {
    const { r, alpha, a, b } = DEFAULT_BGNBD;
    const { q, gamma } = DEFAULT_GAMMA_GAMMA;
    const column = (name: 'lambda' | 'p' | 'nu'): number[] => customers.map((c) => c[name]);
    near(mean(column('lambda')), r / alpha, standardError(column('lambda')), 'mean λ');
    near(mean(column('p')), a / (a + b), standardError(column('p')), 'mean p');
    near(mean(column('nu')), q / gamma, standardError(column('nu')), 'mean ν');
  });

  it('first-purchase values have the Gamma-Gamma mean pγ / (q − 1)', async () => {
    const firsts = (await db.query<{ v: number }>(`SELECT commerce."order".priceTotal AS v FROM ${brand.files('orders')} WHERE "_id" LIKE '%-0000'`)).map((r) => r.v);
    assert.equal(firsts.length, 20_000);
    near(mean(firsts), expectedSpend(DEFAULT_GAMMA_GAMMA), standardError(firsts), 'mean first transaction value');
  });

  it('the order file holds exactly the transactions of the ground truth, person by person', async () => {
    const mismatches = await db.value(`
      WITH orders AS (SELECT identityMap['CRMID'][1].id AS crm, count(*) AS n FROM ${brand.files('orders')} GROUP BY 1),
           accounts AS (SELECT person_id, transactions, unnest(crm_ids) AS crm FROM ${brand.files('customers')}),
           per_person AS (SELECT a.person_id, any_value(a.transactions) AS truth, coalesce(sum(o.n), 0) AS seen
                          FROM accounts a LEFT JOIN orders o USING (crm) GROUP BY a.person_id)
      SELECT count(*) FROM per_person WHERE truth <> seen`);
    assert.equal(mismatches, 0);
    assert.equal(brand.truth.summary.transactions, customers.reduce((s, c) => s + c.transactions, 0));
  });
});
