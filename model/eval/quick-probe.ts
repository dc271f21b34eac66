// quick-probe: the learning curve's instrument. A frozen-feature kNN (the protocol's: k 20,
// cosine, T 0.07) on a fixed small split, cheap enough to run every few hundred steps of
// training: a class-balanced bank of 3000 training images and 1000 test images, their pixels
// prepared once and kept on the host, so each probe is one encoder pass over 4000 images. The
// split never changes within a run (seed 0), so points of one curve compare; `ijepa eval`, on
// 10k/10k, stays the protocol of record.
import { fromArray, tidy } from '../../engine/index.ts';
import type { VisionTransformer } from '../index.ts';
import type { EvalSplits } from './datasets.ts';
import { encodeBatch } from './features.ts';
import { knnClassify } from './knn.ts';
import { classBalancedSample } from './sampling.ts';

export const QUICK_PROBE_BANK = 3000;
export const QUICK_PROBE_TEST = 1000;

export interface QuickProbeResult {
  /** kNN top-1 accuracy on the test images, in [0, 1]. */
  knn: number;
  /** Wall time of the probe (encoder passes and kNN). */
  ms: number;
}

interface Prepared {
  pixels: Float32Array;
  labels: Int32Array;
  n: number;
}

export class QuickProbe {
  private constructor(private readonly bank: Prepared, private readonly test: Prepared, private readonly size: number,
    private readonly numClasses: number)
  {}

  /** Prepare the split's pixels: class-balanced samples of `bank` training and `test` test images of `splits` (seed 0). */
  static async prepare(splits: EvalSplits, opts: { bank?: number; test?: number; } = {}): Promise<QuickProbe> {
    const C = splits.classes.length;
    const take = async (images: EvalSplits['train'], count: number): Promise<Prepared> => {
      const idx = classBalancedSample(images.labels, Math.floor(count / C), 0, C);
      const per = images.chans * images.size * images.size;
      const pixels = new Float32Array(idx.length * per);
      for (let k = 0; k < idx.length; k++) pixels.set(await images.batch(idx[k]!, 1), k * per);
      return { pixels, labels: Int32Array.from(idx, (i) => images.labels[i]!), n: idx.length };
    };
    const bank = await take(splits.train, opts.bank ?? QUICK_PROBE_BANK);
    const test = await take(splits.test, opts.test ?? QUICK_PROBE_TEST);
    if (bank.n === 0 || test.n === 0) throw new Error(`quick probe: ${splits.description} leaves no images for a ${C}-class balanced split`);
    return new QuickProbe(bank, test, splits.train.size, C);
  }

  /** kNN accuracy of `encoder`'s mean-pooled final-LN features (the headline readout). */
  async run(encoder: VisionTransformer, batchSize = 250): Promise<QuickProbeResult> {
    const t0 = performance.now();
    const { chans: C, dim: D } = encoder.config, S = this.size;
    const features = async (p: Prepared) => {
      const out = new Float32Array(p.n * D), per = C * S * S;
      for (let start = 0; start < p.n; start += batchSize) {
        const count = Math.min(batchSize, p.n - start);
        const f = tidy(() => encodeBatch(encoder, fromArray(p.pixels.subarray(start * per, (start + count) * per), [count, C, S, S])));
        try {
          out.set(await f.data(), start * D);
        } finally {
          f.dispose();
        }
      }
      return out;
    };
    const bank = await features(this.bank), test = await features(this.test);
    const r = await knnClassify(bank, this.bank.labels, test, D, this.test.labels, { numClasses: this.numClasses });
    return { knn: r.accuracy, ms: performance.now() - t0 };
  }
}
