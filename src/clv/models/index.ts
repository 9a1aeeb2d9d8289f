/**
 * The model catalogue: each name the CLI and API accept, with its spec (for the fit harness) and, for the
 * transaction models, the predictive functions the diagnostics and predictions call. BG/BB fits the same
 * shape with whole opportunities as its time.
 */
import type { RfmData, SpendData, SurvivalData } from '../data.ts';
import { bgnbd, bgnbdSpec, mbgnbd, mbgnbdSpec } from './bg-family.ts';
import { bgbb, bgbbSpec, sbgSpec } from './discrete.ts';
import { gammaGammaSpec } from './gamma-gamma.ts';
import { pnbd, pnbdSpec } from './pnbd.ts';
import type { ModelName, ModelSpec, Params, TransactionFunctions } from './types.ts';

export type TransactionModelName = 'bgnbd' | 'pnbd' | 'mbgnbd' | 'bgbb';

export interface TransactionModel {
  spec: ModelSpec<RfmData>;
  fn: TransactionFunctions<Params>;
  /** BG/BB counts whole opportunities; the others continuous time. */
  discrete: boolean;
}

/** The predictive functions take typed parameter objects; the catalogue hands them the fitted `Params`. */
const asParams = <P>(fn: TransactionFunctions<P>): TransactionFunctions<Params> => fn as unknown as TransactionFunctions<Params>;

export const TRANSACTION_MODELS: Record<TransactionModelName, TransactionModel> = {
  bgnbd: { spec: bgnbdSpec, fn: asParams(bgnbd), discrete: false },
  pnbd: { spec: pnbdSpec, fn: asParams(pnbd), discrete: false },
  mbgnbd: { spec: mbgnbdSpec, fn: asParams(mbgnbd), discrete: false },
  bgbb: { spec: bgbbSpec, fn: asParams(bgbb), discrete: true },
};

export const SPEND_MODEL: ModelSpec<SpendData> = gammaGammaSpec;
export const RETENTION_MODEL: ModelSpec<SurvivalData> = sbgSpec;

export function isTransactionModel(name: ModelName): name is TransactionModelName {
  return name in TRANSACTION_MODELS;
}

export function modelTitle(name: ModelName): string {
  if (isTransactionModel(name)) return TRANSACTION_MODELS[name].spec.title;
  return name === 'gg' ? SPEND_MODEL.title : RETENTION_MODEL.title;
}
