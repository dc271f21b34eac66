// optim-agreement: a fixed run of the multi-tensor AdamW and the EMA update whose result every
// adapter must reproduce to 1e-6 (test/browser/run.ts runs it in Node on Dawn's Vulkan backend
// and in each browser tab, then compares). The sizes are chosen so that segments of the
// multi-tensor kernels end mid-workgroup next to one another (3072 and 4096 are the two weights
// an out-of-bounds write once corrupted on the GLES backend), and a tensor of 7 makes a
// segment shorter than a workgroup. No Node imports: it is bundled into the browser suite.
import { AdamW, emaUpdate, fromArray, Generator, type Tensor } from '../engine/index.ts';

const SIZES = [7, 3072, 1000, 4096];
const STEPS = 5;

/** Final parameters, then EMA targets, of the fixed run on the current backend, concatenated. */
export async function optimizerRun(): Promise<Float32Array> {
  const g = new Generator(11);
  const params = SIZES.map((n) => fromArray(Float32Array.from({ length: n }, () => g.normal()), [n], { requiresGrad: true }));
  const targets = SIZES.map((n) => fromArray(Float32Array.from({ length: n }, () => g.normal()), [n]));
  const opt = new AdamW([{ params: params.slice(0, 2), weightDecay: 0.04 }, { params: params.slice(2), weightDecay: 0 }]);
  const out: Tensor[] = [...params, ...targets];
  try {
    for (let s = 0; s < STEPS; s++) {
      params.forEach((p, i) => {
        p.grad = fromArray(Float32Array.from({ length: SIZES[i]! }, () => 0.1 * g.normal()), [SIZES[i]!]);
      });
      opt.step({ lr: 1e-2 });
      opt.zeroGrad();
      emaUpdate(targets, params, 0.9);
    }
    const parts = await Promise.all(out.map((t) => t.data()));
    return Float32Array.from(parts.flatMap((p) => Array.from(p)));
  } finally {
    opt.dispose();
    for (const t of out) t.dispose();
  }
}

/** Largest |a − b| (Infinity on a length mismatch or a NaN). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}
