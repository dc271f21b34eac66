// train-step: the real workload. Times one I-JEPA train step of a preset (default `tiny`,
// batch 32) on the WebGPU device and the same step in PyTorch on this machine's CPU, in one
// run, and reports the ratio, dispatches and submits per step, GPU kernel time per step (so the
// time spent outside kernels), the first-step (compile) time, and live memory at the first and
// last timed step (it must be flat), and the kernels that took the most GPU time.
// Usage: node --import tsx bench/train-step.ts [preset] [steps]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { initWebGPU } from '../engine/device/node.ts';
import { memory } from '../engine/index.ts';
import { IJepa } from '../model/ijepa.ts';
import { MaskCollator } from '../model/masks.ts';
import { getPreset } from '../model/presets.ts';

const presetName = process.argv[2] ?? 'tiny';
const steps = Number(process.argv[3] ?? 5);
const backend = await initWebGPU();
const preset = getPreset(presetName);
const m = preset.model, B = preset.optim.batch;
const model = new IJepa(m, { seed: 0 });
const collator = new MaskCollator({ inputSize: m.imgSize, patchSize: m.patchSize, ...preset.mask });
const imgs = new Float32Array(B * m.chans * m.imgSize * m.imgSize).map((_, i) => Math.sin(i * 0.37));
const hyper = { lr: 1e-4, wd: 0.04, momentum: 0.996 };
const run = async () => {
  const masks = collator.next(B);
  const l = model.step(imgs, masks, hyper).loss;
  await l.item();
  l.dispose();
  return masks;
};

let t = performance.now();
const first = await run();
const firstMs = performance.now() - t;
await run();
const mem0 = memory(backend);
t = performance.now();
for (let i = 0; i < steps; i++) await run();
const ms = (performance.now() - t) / steps;
const mem1 = memory(backend);
backend.startProfile();
await run();
const prof = await backend.stopProfile();
const kernelMs = [...prof.values()].reduce((a, v) => a + v.ms, 0);

const cfg = { img: m.imgSize, patch: m.patchSize, chans: m.chans, dim: m.dim, depth: m.depth, heads: m.heads, pred_depth: m.predDepth, pred_dim: m.predDim, batch: B, kc: first.Le, kt: first.Lp };
// PyTorch twice when it can: with the BLAS the system links (OpenBLAS once installed), and with
// Debian's reference BLAS preloaded (the first bar; torch calls sgemm_ through libblas)
const REFERENCE_BLAS = '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3';
type TorchResult = { ms_per_step: number; blas: string; threads: number };
const torchStep = (env?: Record<string, string>) => {
  const py = spawnSync('/usr/bin/python3', [join(import.meta.dirname, 'torch_step.py'), JSON.stringify(cfg), String(Math.max(3, steps))],
    { encoding: 'utf8', env: { ...process.env, ...env } });
  return { result: py.status === 0 ? JSON.parse(py.stdout.trim().split('\n').at(-1)!) as TorchResult : null, py };
};
const { result: torch, py } = torchStep();
const torchRef = torch && torch.blas !== 'reference BLAS' && existsSync(REFERENCE_BLAS) ? torchStep({ LD_PRELOAD: REFERENCE_BLAS }).result : null;

console.log(`preset ${presetName}, batch ${B}, Kc ${first.Le}, Kt ${first.Lp}`);
console.log(`engine (WebGPU):   ${ms.toFixed(0)} ms/step   first step (compiles) ${firstMs.toFixed(0)} ms`);
console.log(`                   ${(mem1.dispatches - mem0.dispatches) / steps} dispatches, ${(mem1.submits - mem0.submits) / steps} submits per step`);
console.log(`                   GPU kernel time ${kernelMs.toFixed(0)} ms/step (profiled run); outside kernels ≈ ${Math.max(0, ms - kernelMs).toFixed(0)} ms`);
const top = [...prof.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12);
console.log(`                   kernels by GPU time (profiled step):`);
for (const [name, v] of top) console.log(`                     ${v.ms.toFixed(1).padStart(7)} ms ${String(v.count).padStart(5)}×  ${name}`);
console.log(`                   live bytes ${mem0.liveBytes} → ${mem1.liveBytes}, live tensors ${mem0.liveTensors} → ${mem1.liveTensors}`);
for (const t of [torch, torchRef]) {
  if (t) console.log(`PyTorch ${t.blas}, ${t.threads} threads: ${t.ms_per_step.toFixed(0)} ms/step   → engine/torch time ratio ${(ms / t.ms_per_step).toFixed(2)} (< 1 is faster)`);
}
if (!torch) console.log(`PyTorch: not run (${(py.stderr || py.error?.message || '').trim().split('\n').at(-1)}); install python3-torch (npm run setup -- --dev)`);
model.dispose();
