// protocol: the four numbers every evaluation reports for one feature set, the same way for the
// trained encoder, the random-init control and raw pixels (docs/small-recipe.md):
//   kNN         k = 20, cosine, votes exp(sim / 0.07), against all training features;
//   linear      the linear probe (L2 and lr chosen on an 80/20 split of the training features);
//   1%          the probe on 1% of the labelled training split, class-balanced;
//   10/class    the probe on 10 labelled images per class.
// All four are top-1 accuracy on every test feature.

import { knnClassify, type KnnOptions } from './knn.ts';
import { linearProbe, type LabelledFeatures, type ProbeOptions, type ProbeResult } from './linear-probe.ts';
import { lowShotName, lowShotProbe, type LowShotResult, type LowShotSpec } from './low-shot.ts';

export interface ProtocolOptions {
  numClasses: number;
  /** Size of the whole labelled training split (for the 1% setting). */
  population: number;
  knn?: KnnOptions;
  probe?: ProbeOptions;
  /** Progress lines (stderr in the CLI). */
  log?: (message: string) => void;
}

export interface ProtocolResult {
  dim: number;
  knn: number;
  linear: ProbeResult;
  lowShot: { name: string; result: LowShotResult; }[];
}

export function lowShotSpecs(population: number): LowShotSpec[] {
  return [{ fraction: 0.01, population }, { perClass: 10 }];
}

export async function evaluateFeatures(train: LabelledFeatures, test: LabelledFeatures, o: ProtocolOptions): Promise<ProtocolResult> {
  const log = o.log ?? (() => undefined);
  const probe = { ...o.probe, numClasses: o.numClasses };
  const knn = await knnClassify(train.x, train.y, test.x, train.D, test.y, { ...o.knn, numClasses: o.numClasses });
  log(`kNN ${(100 * knn.accuracy).toFixed(1)}%`);
  const linear = await linearProbe(train, test, probe);
  log(`linear ${(100 * linear.accuracy).toFixed(1)}% (lr ${linear.lr}, λ ${linear.weightDecay})`);
  const lowShot: ProtocolResult['lowShot'] = [];
  for (const spec of lowShotSpecs(o.population)) {
    const result = await lowShotProbe(train, test, spec, probe);
    const name = lowShotName(spec);
    log(`low-shot ${name} (${result.nLabelled} labels) ${(100 * result.accuracy).toFixed(1)}%`);
    lowShot.push({ name, result });
  }
  return { dim: train.D, knn: knn.accuracy, linear, lowShot };
}
