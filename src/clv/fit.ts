/**
 * The one fit harness of every CLV model: maximum likelihood on log-parameters (all parameters are positive),
 * objective = −Σ wᵢ ln Lᵢ / Σ wᵢ + λ Σ θ² (lifetimes' L2 penalizer on the natural parameters, 0 by default),
 * Nelder–Mead from each start with restarts, and standard errors from the Hessian of the total negative
 * log-likelihood in log space (delta method: SE(θ) = θ · SE(ln θ)).
 *
 * Data with very many distinct rows (a million customers at day resolution) is first fitted on a systematic
 * sample of rows, then polished on all of them by Newton steps from there: the polish needs a few dozen
 * evaluations instead of hundreds, and the answer is still the full-data optimum (its standard errors use the
 * Hessian the polish computed at its start, within a few steps of the optimum).
 */
import { RoundtripError } from '../core/errors.ts';
import { hessian, invertPositiveDefinite, minimize, newtonPolish, type MinimizeResult } from './math/optimize.ts';
import { toParams, type ModelSpec, type Params, type PreparedLikelihood } from './models/types.ts';

export interface FitOptions {
  /** L2 penalty on the natural parameters, added to the mean negative log-likelihood (0 = plain MLE). */
  penalizer?: number;
  /** Natural start values (default: the model's). */
  start?: readonly number[];
  /** Rows above which the first pass runs on a sample (default 50,000). */
  sampleAbove?: number;
  /** Skip the Hessian (standard errors) to save a few dozen likelihood evaluations. */
  skipStandardErrors?: boolean;
}

export interface FitResult {
  model: string;
  params: Params;
  /** Σ wᵢ ln Lᵢ at the optimum (without the penalty). */
  logLikelihood: number;
  /** Customers (Σ weights) and distinct rows the fit used. */
  observations: number;
  rows: number;
  penalizer: number;
  /** Standard errors of the natural parameters; null where the Hessian is not positive definite. */
  standardErrors: Record<string, number | null>;
  converged: boolean;
  evaluations: number;
  seconds: number;
}

const DEFAULT_SAMPLE_ABOVE = 50_000;
/** Rows of the first pass on large data: enough to land within a few standard errors of the optimum. */
const SAMPLE_ROWS = 20_000;

function objective(likelihood: PreparedLikelihood, penalizer: number) {
  return (u: readonly number[]) => {
    const theta = u.map(Math.exp);
    let penalty = 0;
    for (const t of theta) penalty += t * t;
    return -likelihood.evaluate(theta) / likelihood.weight + penalizer * penalty;
  };
}

function bestOf(results: MinimizeResult[]): MinimizeResult {
  return results.reduce((best, r) => (r.value < best.value ? r : best));
}

/**
 * Standard errors of the natural parameters from the observed information in log space (`H`, the Hessian of
 * the total negative log-likelihood, when the polish already has it).
 */
function standardErrors(likelihood: PreparedLikelihood, names: readonly string[], u: readonly number[], H = hessian((v) => -likelihood.evaluate(v.map(Math.exp)), u)): Record<string, number | null> {
  const covariance = invertPositiveDefinite(H);
  return Object.fromEntries(names.map((name, i) => [name, covariance ? Math.exp(u[i]!) * Math.sqrt(covariance[i]![i]!) : null]));
}

export function fitModel<D>(spec: ModelSpec<D>, data: D, options: FitOptions = {}): FitResult {
  const started = performance.now();
  const penalizer = options.penalizer ?? 0;
  if (!(penalizer >= 0)) throw new RoundtripError('RT_CLV_INPUT_INVALID', `The penalizer must be ≥ 0 (got ${penalizer}).`);
  const likelihood = spec.prepare(data);
  const starts = (options.start ? [options.start] : [spec.start, ...(spec.extraStarts ?? [])]).map((s) => s.map(Math.log));
  let evaluations = 0;
  let result: MinimizeResult;
  const sampleAbove = options.sampleAbove ?? DEFAULT_SAMPLE_ABOVE;
  let curvature: number[][] | undefined;
  if (likelihood.thin && likelihood.size > sampleAbove) {
    const sample = objective(likelihood.thin(SAMPLE_ROWS), penalizer);
    const rough = bestOf(starts.map((s) => minimize(sample, s, { fTolerance: 1e-7, xTolerance: 1e-4, maxRestarts: 0 })));
    const full = objective(likelihood, penalizer);
    // Near the optimum the surface is close to quadratic: Newton finishes in a few steps; Nelder–Mead if not.
    const polished = newtonPolish(full, rough.x);
    result = polished ?? minimize(full, rough.x, { step: 0.02, fTolerance: 1e-10, xTolerance: 1e-7, maxRestarts: 1 });
    evaluations += rough.evaluations + result.evaluations;
    if (polished && penalizer === 0) curvature = polished.hessian.map((row) => row.map((v) => v * likelihood.weight));
  } else {
    const all = objective(likelihood, penalizer);
    const runs = starts.map((s) => minimize(all, s));
    result = bestOf(runs);
    evaluations += runs.reduce((n, r) => n + r.evaluations, 0);
  }
  const theta = result.x.map(Math.exp);
  const logLikelihood = likelihood.evaluate(theta);
  if (!Number.isFinite(logLikelihood)) {
    throw new RoundtripError('RT_CLV_FIT_FAILED', `The ${spec.title} likelihood is not finite at the optimum; the data may not suit this model.`, { params: toParams(spec.params, theta) });
  }
  return {
    model: spec.name,
    params: toParams(spec.params, theta),
    logLikelihood,
    observations: likelihood.weight,
    rows: likelihood.size,
    penalizer,
    standardErrors: options.skipStandardErrors ? Object.fromEntries(spec.params.map((n) => [n, null])) : standardErrors(likelihood, spec.params, result.x, curvature),
    converged: result.converged,
    evaluations,
    seconds: (performance.now() - started) / 1000,
  };
}
