// fused.bench: the fused kernels (engine/ops/fused.ts) against the composed paths they replace,
// timed in the same run so the ratio means something on a shared machine:
//   attention fwd+bwd at B·H = 24, N = 197, Dh = 64 (ViT-S/16 at 224², batch 4)
//   layerNorm fwd+bwd (affine) at [1568, 192] (ViT-Ti tokens of batch 8)
// Inputs are made and every pipeline compiled before timing; each timed body records the step,
// then awaits backend.sync(), so the GPU work is inside the time. Run it alone with
// `node --import tsx bench/fused.bench.ts`, or call `benchFused()` from a runner.
import { measure } from 'mitata';
import { pathToFileURL } from 'node:url';
import { initWebGPU } from '../engine/device/node.ts';
import {
  Generator, layerNorm as layerNormComposite, randn, scaledDotProductAttention, tidy,
  type Backend, type Tensor,
} from '../engine/index.ts';
import { attention, layerNorm } from '../engine/ops/fused.ts';

export interface FusedBenchRow { name: string; fusedMs: number; composedMs: number; ratio: number; note: string }

type Step = () => void;

/** One forward+backward of f on leaves, seeded with the output gradient `dy`; grads dropped. */
function fwdBwd(leaves: Tensor[], dy: Tensor, f: () => Tensor): Step {
  return () => {
    tidy(() => f().backward(dy));
    for (const l of leaves) { l.grad?.dispose(); l.grad = null; }
  };
}

async function timeMs(backend: Backend, step: Step, samples: number): Promise<number> {
  step();                  // compile and warm the pool outside the timing
  await backend.sync();
  const stats = await measure(async () => { step(); await backend.sync(); }, { min_samples: samples, max_samples: samples, min_cpu_time: 0 });
  return stats.p50 / 1e6;   // mitata reports ns
}

export async function benchFused(opts: { samples?: number; log?: (line: string) => void } = {}): Promise<FusedBenchRow[]> {
  const backend = await initWebGPU();
  const samples = opts.samples ?? 10;
  const log = opts.log ?? console.log;
  const g = new Generator(0);
  const rows: FusedBenchRow[] = [];

  // ---- attention: [B·H, N, Dh] -----------------------------------------------------------------
  {
    const [BH, N, Dh] = [24, 197, 64];
    const [q, k, v] = [0, 1, 2].map(() => randn([BH, N, Dh], g, { requiresGrad: true })) as [Tensor, Tensor, Tensor];
    const dy = randn([BH, N, Dh], g);
    const fused = await timeMs(backend, fwdBwd([q, k, v], dy, () => attention(q, k, v)), samples);
    const composed = await timeMs(backend, fwdBwd([q, k, v], dy, () => scaledDotProductAttention(q, k, v)), samples);
    // FLOPs: forward 2 matmuls (4·BH·N²·Dh), backward 5 of them counting the recomputed scores
    const gflop = (14 * BH * N * N * Dh) / 1e9;
    rows.push({
      name: `attention fwd+bwd [${BH}, ${N}, ${Dh}]`, fusedMs: fused, composedMs: composed, ratio: composed / fused,
      note: `fused ${(gflop / (fused / 1e3)).toFixed(1)} GFLOP/s (${gflop.toFixed(2)} GFLOP counted as 14·BH·N²·Dh)`,
    });
    for (const t of [q, k, v, dy]) t.dispose();
  }

  // ---- layer norm: [rows, D] with weight and bias -------------------------------------------
  {
    const [R, D] = [1568, 192];
    const x = randn([R, D], g, { requiresGrad: true });
    const w = randn([D], g, { requiresGrad: true }), b = randn([D], g, { requiresGrad: true });
    const dy = randn([R, D], g);
    const fused = await timeMs(backend, fwdBwd([x, w, b], dy, () => layerNorm(x, w, b)), samples);
    const composed = await timeMs(backend, fwdBwd([x, w, b], dy, () => layerNormComposite(x, w, b)), samples);
    const fwdFused = await timeMs(backend, () => tidy(() => { layerNorm(x, w, b); }), samples);
    const fwdComposed = await timeMs(backend, () => tidy(() => { layerNormComposite(x, w, b); }), samples);
    // bytes the fused pair must move at least: x, y, dy, dx (4 bytes each)
    const gb = (4 * R * D * 4) / 1e9;
    rows.push({
      name: `layerNorm fwd+bwd [${R}, ${D}]`, fusedMs: fused, composedMs: composed, ratio: composed / fused,
      note: `fused ${(gb / (fused / 1e3)).toFixed(2)} GB/s of x, y, dy, dx`,
    });
    rows.push({ name: `layerNorm fwd [${R}, ${D}]`, fusedMs: fwdFused, composedMs: fwdComposed, ratio: fwdComposed / fwdFused, note: '' });
    for (const t of [x, w, b, dy]) t.dispose();
  }

  for (const r of rows) {
    log(`${r.name.padEnd(36)} fused ${r.fusedMs.toFixed(2).padStart(8)} ms   composed ${r.composedMs.toFixed(2).padStart(8)} ms   composed/fused ${r.ratio.toFixed(2)}x   ${r.note}`);
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await benchFused();
