// low-shot: the linear probe (linear-probe.ts) trained on a few labels per class, as the paper's
// 1%-of-ImageNet evaluation (docs/ijepa-step.md §7, ~12–13 images per class) scaled to our sets.
//
// Two settings, both class-balanced and seeded (sampling.ts), drawn from the training features:
//   { fraction: 0.01, population }  1% of the labelled training split: round(0.01·population / C)
//                                   per class (at least 1). `population` is the size of the whole
//                                   labelled split (60000 for Fashion-MNIST, so 60 per class),
//                                   not of the feature subset it is drawn from.
//   { perClass: 10 }                10 images per class.
// A class with fewer training images than asked gives all it has. The probe's own 80/20
// selection runs inside the labelled subset, as it would for a user who only has those labels.
//
// Deliberately not: averaging over several draws (one seeded draw; vary --seed to see the spread).

import { linearProbe, type LabelledFeatures, type ProbeOptions, type ProbeResult } from './linear-probe.ts';
import { numClassesOf } from './knn.ts';
import { classBalancedSample, takeLabels, takeRows } from './sampling.ts';

export type LowShotSpec = { fraction: number; population: number; } | { perClass: number; };

/** Images per class a spec asks for, with C classes. */
export function lowShotPerClass(spec: LowShotSpec, C: number): number {
  if ('perClass' in spec) return spec.perClass;
  if (!(spec.fraction > 0 && spec.fraction <= 1)) throw new RangeError(`low-shot: fraction ${spec.fraction} must be in (0, 1]`);
  return Math.max(1, Math.round((spec.fraction * spec.population) / C));
}

/** A short label: '1%' or '10/class'. */
export function lowShotName(spec: LowShotSpec): string {
  return 'perClass' in spec ? `${spec.perClass}/class` : `${+(100 * spec.fraction).toPrecision(3)}%`;
}

/** Indices of the labelled subset of `labels` for a spec (sorted, seeded, class-balanced). */
export function lowShotIndices(labels: Int32Array, spec: LowShotSpec, seed: number, numClasses?: number): Int32Array {
  const C = numClasses ?? numClassesOf(labels);
  return classBalancedSample(labels, lowShotPerClass(spec, C), seed, C);
}

export interface LowShotResult extends ProbeResult {
  /** Labelled images used, and per class. */
  nLabelled: number;
  perClass: number;
}

/** The linear probe on the low-shot subset of `train`, scored on all of `test`. */
export async function lowShotProbe(
  train: LabelledFeatures,
  test: LabelledFeatures,
  spec: LowShotSpec,
  opts: ProbeOptions = {},
): Promise<LowShotResult> {
  const C = opts.numClasses ?? Math.max(numClassesOf(train.y), numClassesOf(test.y));
  const perClass = lowShotPerClass(spec, C);
  const idx = lowShotIndices(train.y, spec, opts.seed ?? 0, C);
  const sub = { x: takeRows(train.x, train.D, idx), y: takeLabels(train.y, idx), D: train.D };
  const r = await linearProbe(sub, test, { ...opts, numClasses: C });
  return { ...r, nLabelled: idx.length, perClass };
}
