// linear-probe: multinomial logistic regression on frozen features, trained on the engine
// (docs/small-recipe.md: "multinomial logistic regression on z-scored features, L2 chosen on an
// 80/20 split"; docs/ijepa-spec.md §7).
//
//   x̃ = (x − μ) / σ            μ, σ per feature, from the rows being fitted
//   logits = x̃·Wᵀ + b          W [C, D], b [C]
//   loss = −(1/n) Σ_i log softmax(logits_i)[y_i] + (λ/2)·‖W‖²
// log-softmax is composed as z − log Σ exp z with z = logits − max (the max detached: it cancels
// in the gradient). The L2 term is the weight decay (coupled, so the optimum does not depend on
// the learning rate); the bias is not decayed. Full-batch Adam (the engine's AdamW, its own decay
// off) for a fixed number of steps from a small seeded init.
//
// Model selection (`linearProbe`): every (lr, λ) of a small grid is fitted on 80% of the training
// rows (a class-stratified, seeded split) and scored on the other 20%; the best is refitted on all
// training rows and scored on the test rows. Ties go to the larger λ, then the smaller lr. The
// grid's fits run side by side as one wider model (`fitLogisticRegressions`), so the whole sweep
// costs about one fit: on lavapipe a fit is dominated by per-dispatch cost, not by its width.
//
// Memory: each fit holds its inputs, W, b and the Adam moments on the engine, and disposes them
// before returning; each step runs in a tidy. Only host arrays come back.
// Deliberately not: L-BFGS (the engine has no line search), minibatches (full-batch fits every
// feature set used here), or early stopping.

import { AdamW, Generator, Linear, concat, fromArray, linear, noGrad, tidy, type Tensor } from '../../engine/index.ts';
import { accuracyOf, numClassesOf } from './knn.ts';
import { stratifiedSplit, takeLabels, takeRows } from './sampling.ts';

/** Features with labels: x [n, D] row-major, y [n]. */
export interface LabelledFeatures {
  x: Float32Array;
  y: Int32Array;
  D: number;
}

export interface FitOptions {
  lr: number;
  /** L2 coefficient λ on W. */
  weightDecay: number;
  /** Full-batch Adam steps (default 300). */
  steps?: number;
  numClasses?: number;
  seed?: number;
  /** Read the loss back every this many steps (and at the first and last step); default 50. */
  lossEvery?: number;
}

export interface FittedProbe {
  /** z-score statistics of the fitted rows, [D] each. */
  mean: Float32Array;
  std: Float32Array;
  /** [C, D] row-major and [C]. */
  weight: Float32Array;
  bias: Float32Array;
  /** Loss readings during the fit. */
  losses: { step: number; loss: number }[];
}

export interface ProbeOptions {
  /** Learning rates to try (default [0.01, 0.05]). */
  lrs?: readonly number[];
  /** L2 coefficients to try (default [1e-2, 1e-3, 1e-4, 0]). */
  weightDecays?: readonly number[];
  /** Adam steps per fit (default 300). */
  steps?: number;
  /** Held-out share for the selection (default 0.2). */
  valFraction?: number;
  numClasses?: number;
  seed?: number;
  /** One line per finished fit. */
  onProgress?: (message: string) => void;
}

export interface ProbeResult {
  /** Test accuracy of the refitted probe (NaN without test rows). */
  accuracy: number;
  lr: number;
  weightDecay: number;
  /** Held-out accuracy of the chosen setting (NaN when the split left nothing to hold out). */
  valAccuracy: number;
  sweep: { lr: number; weightDecay: number; valAccuracy: number }[];
  /** Loss readings of the final fit. */
  losses: { step: number; loss: number }[];
  nTrain: number;
}

/** μ and σ per column of [n, D] (biased; σ = 1 where a column is constant). */
export function columnStats(x: Float32Array, D: number): { mean: Float32Array; std: Float32Array } {
  const n = x.length / D;
  const s = new Float64Array(D), ss = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) s[d] = s[d]! + x[i * D + d]!;
  for (let d = 0; d < D; d++) s[d] = s[d]! / Math.max(n, 1);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) { const v = x[i * D + d]! - s[d]!; ss[d] = ss[d]! + v * v; }
  const mean = Float32Array.from(s);
  const std = Float32Array.from(ss, (v) => { const sd = Math.sqrt(v / Math.max(n, 1)); return sd > 1e-8 ? sd : 1; });
  return { mean, std };
}

/** (x − μ) / σ on the engine. x [n, D] → [n, D]. */
function standardise(x: Float32Array, D: number, mean: Float32Array, std: Float32Array): Tensor {
  return fromArray(x, [x.length / D, D]).sub(fromArray(mean, [D])).div(fromArray(std, [D]));
}

/** Cross-entropy of logits [n, C] against one-hot targets [n, C], mean over rows. */
export function crossEntropy(logits: Tensor, onehot: Tensor): Tensor {
  const z = logits.sub(logits.max(1, true).detach());                    // [n, C]
  const logp = z.sub(z.exp().sum(1, true).log());                        // [n, C] log-softmax
  return logp.mul(onehot).sum().mul(-1 / logits.shape[0]!);              // []
}

function oneHot(y: Int32Array, C: number): Float32Array {
  const out = new Float32Array(y.length * C);
  y.forEach((c, i) => {
    if (!(c >= 0 && c < C)) throw new Error(`linear probe: label ${c} at row ${i} is outside 0..${C - 1}`);
    out[i * C + c] = 1;
  });
  return out;
}

/** Fit one probe (see the file header). */
export async function fitLogisticRegression(data: LabelledFeatures, opts: FitOptions): Promise<FittedProbe> {
  const { lr, weightDecay, ...rest } = opts;
  return (await fitLogisticRegressions(data, [{ lr, weightDecay }], rest))[0]!;
}

/**
 * Fit one independent probe per (lr, λ) setting on the same rows, all in one pass: the G heads'
 * weights are concatenated so each step is one [n, D]·[D, G·C] matmul (and one for its gradient)
 * instead of G, and each head is its own AdamW group with its own lr. The losses add up, but no
 * head's gradient depends on another's, so every head follows exactly the path of a fit of its
 * own. A sweep then costs about one fit.
 */
export async function fitLogisticRegressions(
  data: LabelledFeatures, settings: readonly { lr: number; weightDecay: number }[], opts: Omit<FitOptions, 'lr' | 'weightDecay'> = {},
): Promise<FittedProbe[]> {
  const { x, y, D } = data;
  const n = y.length, G = settings.length;
  if (x.length !== n * D || n === 0) throw new Error(`linear probe: x has ${x.length} values for ${n} labels × D ${D}`);
  if (G === 0) return [];
  const C = opts.numClasses ?? numClassesOf(y);
  const steps = opts.steps ?? 300;
  const every = opts.lossEvery ?? 50;
  const { mean, std } = columnStats(x, D);
  const g = new Generator(opts.seed ?? 0);
  const heads = settings.map(() => new Linear(D, C, { generator: g, std: 0.01 }));
  const opt = new AdamW(heads.map((h, i) => ({ params: [h.weight, h.bias!], weightDecay: 0, lr: settings[i]!.lr })), { lr: 0 });
  const lam = fromArray(settings.map((s) => s.weightDecay / 2), [G]);                 // [G]
  const X = noGrad(() => tidy(() => standardise(x, D, mean, std)));                    // [n, D]
  const Y = fromArray(oneHot(y, C), [n, 1, C]);                                        // [n, 1, C]
  const losses: { step: number; loss: number }[][] = settings.map(() => []);
  try {
    for (let step = 1; step <= steps; step++) {
      const perHead = tidy(() => {
        const W = G === 1 ? heads[0]!.weight : concat(heads.map((h) => h.weight), 0);   // [G·C, D]
        const b = G === 1 ? heads[0]!.bias! : concat(heads.map((h) => h.bias!), 0);      // [G·C]
        const logits = linear(X, W, b).reshape([n, G, C]);                               // [n, G, C]
        const ce = crossEntropyPerGroup(logits, Y);                                      // [G]
        const l2 = W.mul(W).reshape([G, C * D]).sum(1).mul(lam);                         // [G]
        const loss = ce.add(l2);                                                         // [G]
        loss.sum().backward();
        opt.step();
        opt.zeroGrad();
        return loss.detach();
      });
      try {
        if (step === 1 || step === steps || step % every === 0) {
          const v = await perHead.data();
          v.forEach((l, i) => losses[i]!.push({ step, loss: l }));
        }
      } finally {
        perHead.dispose();
      }
    }
    const out: FittedProbe[] = [];
    for (const [i, h] of heads.entries()) {
      const [weight, bias] = await Promise.all([h.weight.data(), h.bias!.data()]);
      out.push({ mean, std, weight: Float32Array.from(weight), bias: Float32Array.from(bias), losses: losses[i]! });
    }
    return out;
  } finally {
    X.dispose();
    Y.dispose();
    lam.dispose();
    opt.dispose();
    for (const h of heads) h.dispose();
  }
}

/** Mean cross-entropy per group: logits [n, G, C] against one-hot [n, 1, C] → [G]. */
function crossEntropyPerGroup(logits: Tensor, onehot: Tensor): Tensor {
  const z = logits.sub(logits.max(2, true).detach());                    // [n, G, C]
  const logp = z.sub(z.exp().sum(2, true).log());                        // [n, G, C] log-softmax
  return logp.mul(onehot).sum([0, 2]).mul(-1 / logits.shape[0]!);        // [G]
}

/** Class predictions [n] of a fitted probe for x [n, D], computed on the engine. */
export async function predictProbe(p: FittedProbe, x: Float32Array, D: number): Promise<Int32Array> {
  const n = x.length / D, C = p.bias.length;
  if (n === 0) return new Int32Array(0);
  const logits = noGrad(() => tidy(() =>
    standardise(x, D, p.mean, p.std).matmul(fromArray(p.weight, [C, D]), { transB: true }).add(fromArray(p.bias, [C]))));   // [n, C]
  let v: ArrayLike<number>;
  try {
    v = await logits.data();
  } finally {
    logits.dispose();
  }
  const pred = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (v[i * C + c]! > v[i * C + best]!) best = c;
    pred[i] = best;
  }
  return pred;
}

/** Select (lr, λ) on an 80/20 split of `train`, refit on all of it, score on `test`. */
export async function linearProbe(train: LabelledFeatures, test: LabelledFeatures, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const D = train.D;
  if (test.D !== D) throw new Error(`linear probe: train D ${D} vs test D ${test.D}`);
  const C = opts.numClasses ?? Math.max(numClassesOf(train.y), numClassesOf(test.y));
  const lrs = opts.lrs ?? [0.01, 0.05];
  const wds = [...(opts.weightDecays ?? [1e-2, 1e-3, 1e-4, 0])].sort((a, b) => b - a);
  const seed = opts.seed ?? 0;
  const base = { steps: opts.steps ?? 300, numClasses: C, seed };
  const { fit, held } = stratifiedSplit(train.y, opts.valFraction ?? 0.2, seed);
  const sweep: ProbeResult['sweep'] = [];
  let best = { lr: lrs[0]!, weightDecay: wds[Math.floor(wds.length / 2)]!, valAccuracy: NaN };
  if (held.length > 0 && lrs.length * wds.length > 1) {
    const fitSet = { x: takeRows(train.x, D, fit), y: takeLabels(train.y, fit), D };
    const heldX = takeRows(train.x, D, held), heldY = takeLabels(train.y, held);
    const grid = wds.flatMap((weightDecay) => [...lrs].sort((a, b) => a - b).map((lr) => ({ lr, weightDecay })));
    const fits = await fitLogisticRegressions(fitSet, grid, base);
    for (const [i, setting] of grid.entries()) {
      const valAccuracy = accuracyOf(await predictProbe(fits[i]!, heldX, D), heldY);
      sweep.push({ ...setting, valAccuracy });
      // grid order is λ descending, then lr ascending: ">" keeps the first of equals
      if (!(valAccuracy <= best.valAccuracy)) best = { ...setting, valAccuracy };
    }
    opts.onProgress?.(`sweep on ${fit.length}/${held.length} rows: ${sweep.map((r) => `lr ${r.lr} λ ${r.weightDecay} → ${(100 * r.valAccuracy).toFixed(1)}%`).join(', ')}`);
  }
  const p = await fitLogisticRegression(train, { ...base, lr: best.lr, weightDecay: best.weightDecay });
  const accuracy = test.y.length > 0 ? accuracyOf(await predictProbe(p, test.x, D), test.y) : NaN;
  return { accuracy, lr: best.lr, weightDecay: best.weightDecay, valAccuracy: best.valAccuracy, sweep, losses: p.losses, nTrain: train.y.length };
}
