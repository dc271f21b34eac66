// train-step: the real workload. Times one I-JEPA train step of a preset (default `tiny`,
// batch 32) on the WebGPU device, in f32 and (with shader-f16) in mixed precision, and the same
// step in PyTorch on this machine's CPU in every configuration at hand, in one run. Reports per
// dtype: time, dispatches and submits per step, GPU kernel time (so the time spent outside
// kernels), the first-step (compile) time, live memory at the first and last timed step (it
// must be flat), peak device memory, the kernels that took the most GPU time, and the model
// FLOPs (model/flops.ts) per family with the GFLOP/s achieved and the % of the FMA peak kernel
// (bench/peak.bench.ts, measured first), overall (MFU) and per family from the profiled step.
// The two dtypes' timed steps alternate, so that a shared machine's load falls on both alike;
// the f16/f32 ratio is the median of the back-to-back pairs.
// PyTorch runs with 1 and 2 intra-op threads (torch.set_num_threads) on each BLAS found (the
// one the system links, and Debian's reference BLAS and OpenBLAS preloaded when installed); every
// configuration is printed and the fastest is taken for the ratio, by name.
// Usage: node --import tsx bench/train-step.ts [preset] [steps]
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { initWebGPU } from '../engine/device/node.ts';
import { memory } from '../engine/index.ts';
import { stepFlops, type StepFlops } from '../model/flops.ts';
import { IJepa } from '../model/ijepa.ts';
import { MaskCollator, type MaskBatch } from '../model/masks.ts';
import { getPreset } from '../model/presets.ts';
import { benchPeak } from './peak.bench.ts';

const presetName = process.argv[2] ?? 'tiny';
const steps = Number(process.argv[3] ?? 5);
const backend = await initWebGPU();
const preset = getPreset(presetName);
const m = preset.model, B = preset.optim.batch;
const imgs = new Float32Array(B * m.chans * m.imgSize * m.imgSize).map((_, i) => Math.sin(i * 0.37));
const hyper = { lr: 1e-4, wd: 0.04, momentum: 0.996 };
const { refs } = await benchPeak(backend, 5);
const gf = (flops: number, ms: number) => flops / ms / 1e6; // GFLOP/s
const pct = (gflops: number) => `${(100 * gflops / refs.peakGflops).toFixed(1)} %`;

const family = (kernel: string): keyof Omit<StepFlops, 'total'> =>
  kernel.startsWith('matmul') ? 'matmul' : kernel.startsWith('attention') ? 'attention' : 'rest';

interface DtypeRun {
  dtype: 'f32' | 'f16';
  /** Median over the interleaved timed steps. */
  ms: number;
  firstMs: number;
  kernelMs: number;
  /** Per timed step, to pair with the other dtype's step taken right after it. */
  times: number[];
  dispatches: number;
  submits: number;
  live0: number;
  live1: number;
  tensors0: number;
  tensors1: number;
  /** Device bytes (live + pool) this dtype's model and its first steps added: the pool keeps every buffer it allocates, so this is its peak. */
  peakBytes: number;
  flops: StepFlops;
  byFamily: Record<string, number>;
  top: [string, { count: number; ms: number; }][];
  skipped: number;
  first: MaskBatch;
}

/** One dtype's model with its own collator; `step` runs one step to completion and returns its masks. */
function stepper(dtype: 'f32' | 'f16') {
  const model = new IJepa(m, { seed: 0, dtype });
  const collator = new MaskCollator({ inputSize: m.imgSize, patchSize: m.patchSize, ...preset.mask });
  const r = { model, skipped: 0, step: async (): Promise<MaskBatch> => {
    const masks = collator.next(B);
    if (dtype === 'f16') {
      r.skipped += (await model.stepAsync(imgs, masks, hyper)).skipped ? 1 : 0;
    } else {
      const l = model.step(imgs, masks, hyper).loss;
      await l.item();
      l.dispose();
    }
    return masks;
  } };
  return r;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const dtypes: ('f32' | 'f16')[] = backend.hasF16 ? ['f32', 'f16'] : ['f32'];

// 1. one after the other: the first step (compiles) and the memory each dtype adds
const held = () => {
  const x = memory(backend);
  return x.liveBytes + x.pooledBytes;
};
const setups = [];
for (const dtype of dtypes) {
  backend.trim();
  const base = held();
  const st = stepper(dtype);
  const t = performance.now();
  const first = await st.step();
  const firstMs = performance.now() - t;
  await st.step();
  setups.push({ dtype, st, first, firstMs, peakBytes: held() - base });
}
// 2. the timed steps, interleaved (f32, f16, f32, ...), so both see the same machine load
const mem0 = setups.map(() => memory(backend));
const times = setups.map(() => [] as number[]);
const flopsAll = setups.map(() => [] as StepFlops[]);
const counts = setups.map(() => ({ dispatches: 0, submits: 0 }));
for (let i = 0; i < steps; i++) {
  for (const [j, s] of setups.entries()) {
    const before = memory(backend);
    const t = performance.now();
    const k = await s.st.step();
    times[j]!.push(performance.now() - t);
    const after = memory(backend);
    counts[j]!.dispatches += after.dispatches - before.dispatches;
    counts[j]!.submits += after.submits - before.submits;
    flopsAll[j]!.push(stepFlops(m, { batch: B, kc: k.Le, kt: k.Lp, nenc: k.encMasks.length, npred: k.predMasks.length }));
  }
}
const mem1 = memory(backend);
// 3. one profiled step each
const runs: DtypeRun[] = [];
for (const [j, s] of setups.entries()) {
  backend.startProfile();
  await s.st.step();
  const prof = await backend.stopProfile();
  const byFamily: Record<string, number> = { matmul: 0, attention: 0, rest: 0 };
  for (const [name, v] of prof) byFamily[family(name)]! += v.ms;
  const mean = (k: keyof StepFlops) => flopsAll[j]!.reduce((a, f) => a + f[k], 0) / steps;
  runs.push({
    dtype: s.dtype,
    ms: median(times[j]!),
    times: times[j]!,
    firstMs: s.firstMs,
    kernelMs: [...prof.values()].reduce((a, v) => a + v.ms, 0),
    dispatches: counts[j]!.dispatches / steps,
    submits: counts[j]!.submits / steps,
    live0: mem0[j]!.liveBytes,
    live1: mem1.liveBytes,
    tensors0: mem0[j]!.liveTensors,
    tensors1: mem1.liveTensors,
    peakBytes: s.peakBytes,
    flops: { matmul: mean('matmul'), attention: mean('attention'), rest: mean('rest'), total: mean('total') },
    byFamily,
    top: [...prof.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12),
    skipped: s.st.skipped,
    first: s.first,
  });
  s.st.model.dispose();
}
const f32 = runs[0]!;

// ---- PyTorch in every configuration at hand ---------------------------------------------------
const cfg = { img: m.imgSize, patch: m.patchSize, chans: m.chans, dim: m.dim, depth: m.depth, heads: m.heads, pred_depth: m.predDepth,
  pred_dim: m.predDim, batch: B, kc: f32.first.Le, kt: f32.first.Lp };
// torch calls sgemm_ through libblas.so.3 (Debian's BLAS_INFO=generic): the system's choice
// (alternatives), or a preloaded one; each BLAS is run once, by its real file
const BLAS_FILES = {
  'reference BLAS': '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3',
  OpenBLAS: '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3',
};
type TorchResult = { ms_per_step: number; blas: string; threads: number; };
const torchStep = (threads: number, preload?: string) => {
  const py = spawnSync('/usr/bin/python3', [join(import.meta.dirname, 'torch_step.py'), JSON.stringify(cfg), String(Math.max(3, steps)),
    String(threads)], { encoding: 'utf8', env: { ...process.env, ...(preload ? { LD_PRELOAD: preload } : {}) } });
  return { result: py.status === 0 ? JSON.parse(py.stdout.trim().split('\n').at(-1)!) as TorchResult : null, py };
};
const system = existsSync('/usr/lib/x86_64-linux-gnu/libblas.so.3') ? realpathSync('/usr/lib/x86_64-linux-gnu/libblas.so.3') : null;
const preloads = Object.values(BLAS_FILES).filter((f) => existsSync(f) && realpathSync(f) !== system);
const torchRuns: TorchResult[] = [];
let torchError = '';
for (const preload of [undefined, ...preloads]) {
  for (const threads of [1, 2]) {
    const { result, py } = torchStep(threads, preload);
    if (result) torchRuns.push(result);
    else torchError ||= (py.stderr || py.error?.message || '').trim().split('\n').at(-1) ?? '';
  }
  if (torchRuns.length === 0) break; // no torch at all: do not try the other BLAS
}

// ---- report -----------------------------------------------------------------------------------
const MB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
console.log(`preset ${presetName}, batch ${B}, Kc ${f32.first.Le}, Kt ${f32.first.Lp}; FMA peak kernel ${refs.peakGflops.toFixed(1)} GFLOP/s`);
for (const r of runs) {
  const f = r.flops;
  console.log(
    `engine (WebGPU) ${r.dtype}: ${r.ms.toFixed(0)} ms/step (median; fastest ${Math.min(...r.times).toFixed(0)})   first step (compiles) ${
      r.firstMs.toFixed(0)
    } ms${r.dtype === 'f16' ? `   ${r.skipped} overflowed step(s) skipped` : ''}`,
  );
  console.log(`                   ${r.dispatches} dispatches, ${r.submits} submits per step`);
  console.log(
    `                   GPU kernel time ${r.kernelMs.toFixed(0)} ms/step (profiled run); outside kernels ≈ ${
      Math.max(0, r.ms - r.kernelMs).toFixed(0)
    } ms`,
  );
  console.log(
    `                   model FLOPs ${(f.total / 1e9).toFixed(2)} G/step: ${gf(f.total, r.ms).toFixed(1)} GFLOP/s, MFU ${
      pct(gf(f.total, r.ms))
    } of the peak kernel`,
  );
  for (const k of ['matmul', 'attention', 'rest'] as const) {
    const kms = r.byFamily[k]!;
    console.log(
      `                     ${k.padEnd(9)} ${(f[k] / 1e9).toFixed(2).padStart(6)} GFLOP in ${kms.toFixed(0).padStart(5)} ms GPU: ${
        gf(f[k], kms).toFixed(1).padStart(6)
      } GFLOP/s, ${pct(gf(f[k], kms))}`,
    );
  }
  console.log(`                   kernels by GPU time (profiled step):`);
  for (const [name, v] of r.top) console.log(`                     ${v.ms.toFixed(1).padStart(7)} ms ${String(v.count).padStart(5)}×  ${name}`);
  console.log(
    `                   live bytes (both models) ${r.live0} → ${r.live1}, live tensors ${r.tensors0} → ${r.tensors1} over the timed steps; peak device memory ${
      MB(r.peakBytes)
    }`,
  );
}
const f16 = runs[1];
if (f16) {
  const paired = median(f16.times.map((t, i) => t / f32.times[i]!));
  const fastest = Math.min(...f16.times) / Math.min(...f32.times);
  console.log(
    `f16 / f32: step time ${paired.toFixed(2)}× (median of ${steps} back-to-back pairs; fastest steps ${fastest.toFixed(2)}×), GPU kernel time ${
      (f16.kernelMs / f32.kernelMs).toFixed(2)
    }×, peak memory ${(f16.peakBytes / f32.peakBytes).toFixed(2)}×`,
  );
} else console.log('f16: not run (this adapter lacks shader-f16)');
for (const t of torchRuns) console.log(`PyTorch ${t.blas}, ${t.threads} intra-op thread(s): ${t.ms_per_step.toFixed(0)} ms/step`);
const best = torchRuns.reduce<TorchResult | null>((b, t) => (!b || t.ms_per_step < b.ms_per_step ? t : b), null);
if (best) {
  for (const r of runs) {
    console.log(
      `engine ${r.dtype} / PyTorch at its best (${best.blas}, ${best.threads} thread(s)): ${
        (r.ms / best.ms_per_step).toFixed(2)
      }× the time (< 1 is faster)`,
    );
  }
} else {
  console.log(`PyTorch: not run (${torchError}); install python3-torch (npm run setup -- --dev)`);
}
