/**
 * The optimiser every CLV model shares: Nelder–Mead on unconstrained (log) parameters, which is what lifetimes
 * and BTYD effectively use for these likelihoods, restarted from its own optimum until a restart no longer
 * improves (a collapsed simplex is Nelder–Mead's known failure, and the Pareto/NBD surface has a flat ridge);
 * plus a finite-difference Hessian for standard errors. Derivative-free on purpose: the likelihoods hold ₂F₁
 * series whose derivatives would be a second, larger source of bugs.
 */

export type Objective = (x: readonly number[]) => number;

export interface NelderMeadOptions {
  /** Initial simplex edge along each axis (in the optimiser's coordinates, here log-parameters). */
  step?: number;
  /** Stop when the simplex's values differ by less than this (absolute)… */
  fTolerance?: number;
  /** …and its vertices by less than this. */
  xTolerance?: number;
  maxEvaluations?: number;
}

export interface MinimizeResult {
  x: number[];
  value: number;
  evaluations: number;
  iterations: number;
  /** False when the evaluation budget ran out before the tolerances were met. */
  converged: boolean;
}

/** A non-finite value (a parameter region where the likelihood is undefined) counts as +∞. */
const safe = (f: Objective) => (x: readonly number[]) => {
  const v = f(x);
  return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
};

/**
 * Nelder–Mead with the dimension-adapted coefficients of Gao & Han (2012), which behave better than the
 * classic (1, 2, ½, ½) above two dimensions.
 */
export function nelderMead(f: Objective, start: readonly number[], options: NelderMeadOptions = {}): MinimizeResult {
  const fn = safe(f);
  const n = start.length;
  const step = options.step ?? 0.25;
  const fTol = options.fTolerance ?? 1e-12;
  const xTol = options.xTolerance ?? 1e-9;
  const maxEvals = options.maxEvaluations ?? 20_000;
  const reflect = 1;
  const expand = 1 + 2 / n;
  const contract = 0.75 - 1 / (2 * n);
  const shrink = 1 - 1 / n;

  const simplex: number[][] = [Array.from(start)];
  for (let i = 0; i < n; i++) {
    const v = Array.from(start);
    v[i]! += step;
    simplex.push(v);
  }
  const values = simplex.map(fn);
  let evaluations = n + 1;
  let iterations = 0;
  const order = Array.from({ length: n + 1 }, (_, i) => i);
  const point = (base: number[], toward: number[], t: number) => base.map((b, i) => b + t * (toward[i]! - b));

  for (;;) {
    order.sort((i, j) => values[i]! - values[j]!);
    const best = order[0]!;
    const worst = order[n]!;
    const spreadF = Math.abs(values[worst]! - values[best]!);
    let spreadX = 0;
    for (const i of order) for (let k = 0; k < n; k++) spreadX = Math.max(spreadX, Math.abs(simplex[i]![k]! - simplex[best]![k]!));
    if ((spreadF <= fTol && spreadX <= xTol) || evaluations >= maxEvals) {
      return { x: simplex[best]!, value: values[best]!, evaluations, iterations, converged: evaluations < maxEvals };
    }
    iterations++;
    const centroid = new Array<number>(n).fill(0);
    for (const i of order.slice(0, n)) for (let k = 0; k < n; k++) centroid[k]! += simplex[i]![k]! / n;

    const reflected = point(centroid, simplex[worst]!, -reflect);
    const fr = fn(reflected);
    evaluations++;
    const secondWorst = values[order[n - 1]!]!;
    if (fr < values[best]!) {
      const expanded = point(centroid, simplex[worst]!, -expand);
      const fe = fn(expanded);
      evaluations++;
      if (fe < fr) [simplex[worst], values[worst]] = [expanded, fe];
      else [simplex[worst], values[worst]] = [reflected, fr];
      continue;
    }
    if (fr < secondWorst) {
      [simplex[worst], values[worst]] = [reflected, fr];
      continue;
    }
    // Contract towards the better of the reflected and the worst point.
    const outside = fr < values[worst]!;
    const contracted = outside ? point(centroid, reflected, contract) : point(centroid, simplex[worst]!, contract);
    const fc = fn(contracted);
    evaluations++;
    if (fc < (outside ? fr : values[worst]!)) {
      [simplex[worst], values[worst]] = [contracted, fc];
      continue;
    }
    for (const i of order.slice(1)) {
      simplex[i] = point(simplex[best]!, simplex[i]!, shrink);
      values[i] = fn(simplex[i]);
      evaluations++;
    }
  }
}

export interface RestartOptions extends NelderMeadOptions {
  /** Restarts after the first run (each from the best point so far, with a fresh simplex). */
  maxRestarts?: number;
  /** A restart that improves the value by less than this ends the search. */
  improvement?: number;
}

/** Nelder–Mead, restarted from its optimum until the value stops improving. */
export function minimize(f: Objective, start: readonly number[], options: RestartOptions = {}): MinimizeResult {
  let result = nelderMead(f, start, options);
  let evaluations = result.evaluations;
  let iterations = result.iterations;
  const improvement = options.improvement ?? 1e-11;
  for (let restart = 0; restart < (options.maxRestarts ?? 4); restart++) {
    const again = nelderMead(f, result.x, { ...options, step: Math.min(options.step ?? 0.25, 0.05) });
    evaluations += again.evaluations;
    iterations += again.iterations;
    const gained = result.value - again.value;
    if (again.value < result.value) result = again;
    if (!(gained > improvement)) break;
  }
  return { ...result, evaluations, iterations };
}

export interface NewtonResult extends MinimizeResult {
  /** The Hessian the steps used: computed at the start of the polish, within a few steps of the optimum. */
  hessian: number[][];
}

/**
 * Newton's method with finite-difference derivatives and a halving line search, for polishing a point already
 * near the optimum: a handful of iterations instead of the hundreds of evaluations Nelder–Mead spends
 * shrinking a simplex. The Hessian (≈ 2n² evaluations) is computed once and reused while steps keep
 * decreasing the value (a chord method: near the optimum the curvature barely changes); the gradient is
 * fresh every step. Undefined when the Hessian is not positive definite (the start is too far).
 */
export function newtonPolish(f: Objective, start: readonly number[], options: { maxIterations?: number; h?: number } = {}): NewtonResult | undefined {
  const fn = safe(f);
  const h = options.h ?? 1e-4;
  const maxIterations = options.maxIterations ?? 10;
  let x = Array.from(start);
  let value = fn(x);
  let evaluations = 1;
  let H: number[][] | undefined;
  let inverse: number[][] | undefined;
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    let gradient: number[];
    if (!inverse) {
      const local = derivatives(fn, x, h, value);
      evaluations += local.evaluations;
      H = local.hessian;
      inverse = invertPositiveDefinite(H);
      if (!inverse) return undefined;
      gradient = local.gradient;
    } else {
      gradient = x.map((_, i) => {
        const up = Array.from(x);
        const down = Array.from(x);
        up[i]! += h;
        down[i]! -= h;
        return (fn(up) - fn(down)) / (2 * h);
      });
      evaluations += 2 * x.length;
    }
    const step = inverse.map((row) => -row.reduce((s, v, j) => s + v * gradient[j]!, 0));
    const decrease = -step.reduce((s, v, i) => s + v * gradient[i]!, 0);
    if (decrease < 1e-13) return { x, value, evaluations, iterations: iteration, converged: true, hessian: H! };
    let t = 1;
    let next = x.map((v, i) => v + step[i]!);
    let nextValue = fn(next);
    evaluations++;
    while (!(nextValue <= value) && t > 1e-3) {
      t /= 2;
      next = x.map((v, i) => v + t * step[i]!);
      nextValue = fn(next);
      evaluations++;
    }
    if (!(nextValue <= value)) {
      // An old Hessian that no longer gives a descent: refresh it once, else stop here.
      if (iteration > 0) {
        inverse = undefined;
        continue;
      }
      return { x, value, evaluations, iterations: iteration + 1, converged: decrease < 1e-12, hessian: H! };
    }
    x = next;
    value = nextValue;
    if (Math.max(...step.map(Math.abs)) * t < 1e-9) return { x, value, evaluations, iterations: iteration + 1, converged: true, hessian: H! };
  }
  return { x, value, evaluations, iterations: maxIterations, converged: false, hessian: H! };
}

/** Value, central-difference gradient and Hessian at x, sharing the axis evaluations between them. */
function derivatives(f: Objective, x: readonly number[], h: number, f0: number): { gradient: number[]; hessian: number[][]; evaluations: number } {
  const n = x.length;
  const at = (moves: [number, number][]) => {
    const p = Array.from(x);
    for (const [i, d] of moves) p[i]! += d * h;
    return f(p);
  };
  const plus = x.map((_, i) => at([[i, 1]]));
  const minus = x.map((_, i) => at([[i, -1]]));
  const gradient = x.map((_, i) => (plus[i]! - minus[i]!) / (2 * h));
  const hessian = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  let evaluations = 2 * n;
  for (let i = 0; i < n; i++) {
    hessian[i]![i] = (plus[i]! - 2 * f0 + minus[i]!) / (h * h);
    for (let j = 0; j < i; j++) {
      const v = (at([[i, 1], [j, 1]]) - at([[i, 1], [j, -1]]) - at([[i, -1], [j, 1]]) + at([[i, -1], [j, -1]])) / (4 * h * h);
      hessian[i]![j] = v;
      hessian[j]![i] = v;
      evaluations += 4;
    }
  }
  return { gradient, hessian, evaluations };
}

/** Central-difference Hessian of f at x (step h in every coordinate). */
export function hessian(f: Objective, x: readonly number[], h = 1e-4): number[][] {
  return derivatives(f, x, h, f(x)).hessian;
}

/** Inverse of a small symmetric positive-definite matrix by Cholesky; undefined when it is not one. */
export function invertPositiveDefinite(A: readonly (readonly number[])[]): number[][] | undefined {
  const n = A.length;
  const L = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i]![j]!;
      for (let k = 0; k < j; k++) s -= L[i]![k]! * L[j]![k]!;
      if (i === j) {
        if (!(s > 0)) return undefined;
        L[i]![i] = Math.sqrt(s);
      } else L[i]![j] = s / L[j]![j]!;
    }
  }
  // Solve L Lᵀ X = I column by column.
  const inverse = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let col = 0; col < n; col++) {
    const y = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) {
      let s = i === col ? 1 : 0;
      for (let k = 0; k < i; k++) s -= L[i]![k]! * y[k]!;
      y[i] = s / L[i]![i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i]!;
      for (let k = i + 1; k < n; k++) s -= L[k]![i]! * inverse[k]![col]!;
      inverse[i]![col] = s / L[i]![i]!;
    }
  }
  return inverse;
}
