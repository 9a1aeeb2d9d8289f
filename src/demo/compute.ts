/**
 * Compute (demo steps 6-7): a flat transactions dataset made with Data Distiller SQL (CTAS over Orders, with
 * the buyer's loyalty tier as the ranking category), the historical CLV attributes and deciles per tier
 * (`clv_attributes`), and the probabilistic models (BG/NBD + Gamma-Gamma) with their predictions
 * (`clv_predictions`); both outputs are profile-enabled, so the profile tables pick them up afterwards.
 */
import { api, count, need, type Step } from './context.ts';
import { syncProfiles } from './resolve.ts';

export const TRANSACTIONS = 'clv_transactions';

/** One row per order: the CRM id it was placed under, when, its total, and the account's loyalty tier. */
export function transactionsSql(tenant: string): string {
  const crm = `o.identityMap['CRMID'][1].id`;
  return `CREATE TABLE ${TRANSACTIONS} AS (
  SELECT ${crm} AS customer_id, o.timestamp AS purchased_at, o.commerce."order".priceTotal AS revenue,
         coalesce(p.loyalty.tier, 'NONE') AS tier
  FROM orders o LEFT JOIN customer_profiles p ON p."_${tenant}".crmId = ${crm}
  WHERE ${crm} IS NOT NULL AND o.commerce."order".priceTotal IS NOT NULL)`;
}

const INPUT = { dataset: TRANSACTIONS, customerId: 'customer_id', datetime: 'purchased_at', monetary: 'revenue' };

export const clvAttributesStep: Step = {
  name: 'clv-attributes',
  title: 'CLV attributes and revenue deciles per loyalty tier',
  fix: 'Run the CTAS and `roundtrip clv attributes --dataset clv_transactions --customer-id customer_id --datetime purchased_at --monetary revenue --category tier` by hand to see the failing statement.',
  async run(ctx) {
    await api(ctx, 'POST', '/queries', { sql: transactionsSql(ctx.config.tenant) });
    const transactions = await count(ctx, `SELECT count(*) FROM ${TRANSACTIONS}`);
    const asOf = need(ctx, 'manifest').window.end.slice(0, 10);
    await api(ctx, 'POST', '/clv/attributes', { input: { ...INPUT, category: 'tier' }, asOf });
    const customers = await count(ctx, 'SELECT count(*) FROM clv_attributes');
    return { counts: { transactions, customers }, note: `as of ${asOf}` };
  },
};

interface PredictAnswer {
  modelId?: string;
  spendModelId?: string;
  totals?: Record<string, number>;
}

export const clvPredictStep: Step = {
  name: 'clv-predict',
  title: 'Probabilistic CLV: BG/NBD + Gamma-Gamma predictions',
  fix: 'Run `roundtrip clv fit --model bgnbd --dataset clv_transactions --customer-id customer_id --datetime purchased_at --monetary revenue` to see the fit and its diagnostics.',
  async run(ctx) {
    const answer = await api<PredictAnswer>(ctx, 'POST', '/clv/predict', {
      input: INPUT,
      model: 'bgnbd',
      horizon: 12,
      horizonUnit: 'month',
      output: { dataset: 'clv_predictions' },
      limit: 0,
    });
    const predictions = await count(ctx, 'SELECT count(*) FROM clv_predictions');
    ctx.progress(`  ${predictions.toLocaleString('en')} predictions written; merging them into the profiles`);
    // The two new profile-enabled datasets join the profiles (their customer id is a CRMID).
    const profiles = await syncProfiles(ctx);
    return { counts: { predictions, profiles }, note: `models ${answer.modelId ?? '?'} + ${answer.spendModelId ?? '?'}` };
  },
};
