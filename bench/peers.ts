// bench/peers (`npm run bench:peers`): our matmul, softmax, elementwise add, row sum, layerNorm
// and attention forward against
//   - tfjs-backend-webgpu 4.22 on the same Dawn adapter (a second WebGPU instance in this
//     process: `navigator.gpu` is set from the `webgpu` package before the backend loads), on
//     the matmul bench shapes, softmax over (4704, 196), and for the rest what a tfjs user
//     runs for the same result (tfjs has no fused layerNorm or attention: composed ops);
//   - numpy's float32 matmul on the CPU (/usr/bin/python3 bench/blas.py), i.e. sgemm in the BLAS
//     numpy loaded: OpenBLAS once `libopenblas0-pthread` is installed (Debian's numpy otherwise
//     runs the reference BLAS). The script reports the library it found mapped. OPENBLAS_CORETYPE
//     and OPENBLAS_L2_SIZE are unset for that command only, so OpenBLAS picks its own kernels.
// All are timed the same way: a batch of calls, one wait for the GPU, the fastest of several
// samples divided by the batch; the three run back to back per shape, so they see about the
// same load from other processes. Prints ratios and writes bench/PEERS.md.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { measure } from 'mitata';
import { create, globals } from 'webgpu';
import { reduce, softmaxRows } from '../kernels/index.ts';
import { runElementwise } from '../engine/ops/elementwise.ts';
import { runMatmul } from '../engine/ops/table.ts';
import { adapterName, filled, getBackend, timeLaunches } from './common.ts';
import { MATMUL_SHAPES, shapeName } from './matmul.bench.ts';
import type { BenchShape } from './matmul.bench.ts';
import { SOFTMAX_SHAPES } from './softmax.bench.ts';

const samples = 3;
const log = (l: string) => console.log(l);
const backend = await getBackend();
const adapter = adapterName();
log(`peers on ${adapter}`);

// ---- tfjs-backend-webgpu on the same adapter ---------------------------------------------------
Object.assign(globalThis, globals);
const gpu = create([]);
Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');
if (!(await tf.setBackend('webgpu'))) throw new Error('bench:peers: tfjs could not start its webgpu backend');
await tf.ready();
// tfjs' WebGPU backend batches commands and submits on readback or every few ops; these
// members (public in its class, untyped here) end its open pass and submit, as its own
// readback does, and expose the device to wait on.
const tfBackend = tf.backend() as unknown as {
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  device: GPUDevice;
};
const flushTf = () => {
  tfBackend.ensureCommandEncoderReady();
  tfBackend.endComputePassEncoder();
  tfBackend.submitQueue();
};

async function timeTf(run: () => void): Promise<number> {
  const once = async () => {
    tf.tidy(run);
    flushTf();
    await tfBackend.device.queue.onSubmittedWorkDone();
  };
  await once(); // compile, untimed
  const t0 = performance.now();
  await once();
  const reps = Math.max(1, Math.min(100, Math.round(150 / Math.max(0.05, performance.now() - t0))));
  const stats = await measure(async () => {
    for (let r = 0; r < reps; r++) tf.tidy(run);
    flushTf();
    await tfBackend.device.queue.onSubmittedWorkDone();
  }, { min_samples: samples, max_samples: samples, min_cpu_time: 0, warmup_samples: 0, batch_samples: 1, batch_unroll: 1 });
  return stats.min / 1e9 / reps;
}

interface Row {
  name: string;
  ours: number;
  tfjs: number;
  unit: string;
  rateOurs: number;
  rateTfjs: number;
  blas?: number;
}
const rows: Row[] = [];

// numpy sgemm on the CPU, one shape per call, right after ours and tfjs on that shape, so all
// three see about the same load from other processes
const env = { ...process.env };
delete env.OPENBLAS_CORETYPE;
delete env.OPENBLAS_L2_SIZE;
const script = fileURLToPath(new URL('./blas.py', import.meta.url));
let blasLine = 'numpy not run';
function cpuSgemm(s: BenchShape): number | undefined {
  const { what: _what, ...shape } = s;
  const py = spawnSync('/usr/bin/python3', [script, JSON.stringify([shape])], { env, encoding: 'utf8', timeout: 600_000 });
  if (py.status !== 0) {
    blasLine = `numpy failed: ${py.stderr || py.error?.message}`;
    return undefined;
  }
  const out = JSON.parse(py.stdout) as { blas: string[]; numpy: string; rows: { gflops: number; }[]; };
  const open = out.blas.filter((l) => l.includes('libopenblas'));
  blasLine = `numpy ${out.numpy} float32 matmul, BLAS: ${
    open.length ? `OpenBLAS (${open.join(', ')})` : `not OpenBLAS: ${out.blas.join(', ') || 'no BLAS library mapped'}`
  }`;
  return out.rows[0]?.gflops;
}

for (const s of MATMUL_SHAPES) {
  const a = filled(backend, s.batch * s.M * s.K, 1), b = filled(backend, s.batch * s.K * s.N, 2), c = backend.alloc(s.batch * s.M * s.N, 'f32');
  const p = { batch: s.batch, M: s.M, N: s.N, K: s.K, transA: s.transA, transB: s.transB, strideA: s.batch > 1 ? s.M * s.K : 0,
    strideB: s.batch > 1 ? s.K * s.N : 0 };
  const ours = await timeLaunches(backend, () => runMatmul(backend, a, 0, b, 0, c, p), samples);
  for (const x of [a, b, c]) backend.release(x);
  const shapeA = s.transA ? [s.K, s.M] : [s.M, s.K], shapeB = s.transB ? [s.N, s.K] : [s.K, s.N];
  const ta = tf.randomNormal(s.batch > 1 ? [s.batch, ...shapeA] : shapeA), tb = tf.randomNormal(s.batch > 1 ? [s.batch, ...shapeB] : shapeB);
  const theirs = await timeTf(() => {
    tf.matMul(ta, tb, s.transA, s.transB);
  });
  ta.dispose();
  tb.dispose();
  const fl = 2 * s.batch * s.M * s.N * s.K;
  const blas = cpuSgemm(s);
  rows.push({ name: `matmul ${shapeName(s)}`, ours, tfjs: theirs, unit: 'GFLOP/s', rateOurs: fl / ours / 1e9, rateTfjs: fl / theirs / 1e9, blas });
  log(
    `  matmul ${shapeName(s).padEnd(22)} ours ${(fl / ours / 1e9).toFixed(1).padStart(6)} GFLOP/s   tfjs ${
      (fl / theirs / 1e9).toFixed(2).padStart(6)
    } GFLOP/s   ` +
      `ours/tfjs ${(theirs / ours).toFixed(2)}×   CPU sgemm ${blas?.toFixed(1) ?? '-'} GFLOP/s   ours/CPU ${
        blas ? (fl / ours / 1e9 / blas).toFixed(2) : '-'
      }×`,
  );
}

for (const [R, C] of SOFTMAX_SHAPES.slice(0, 1)) {
  const x = filled(backend, R * C), y = backend.alloc(R * C, 'f32');
  const ours = await timeLaunches(backend, () => backend.run(softmaxRows({ rows: R, cols: C, offset: 0 }), [x, y]), samples);
  backend.release(x);
  backend.release(y);
  const tx = tf.randomNormal([R, C]);
  const theirs = await timeTf(() => {
    tf.softmax(tx);
  });
  tx.dispose();
  const bytes = 2 * 4 * R * C;
  rows.push({ name: `softmax ${R}×${C}`, ours, tfjs: theirs, unit: 'GB/s', rateOurs: bytes / ours / 1e9, rateTfjs: bytes / theirs / 1e9 });
  log(
    `  softmax ${R}×${C}`.padEnd(31) +
      ` ours ${(bytes / ours / 1e9).toFixed(2).padStart(6)} GB/s      tfjs ${(bytes / theirs / 1e9).toFixed(2).padStart(6)} GB/s      ours/tfjs ${
        (theirs / ours).toFixed(2)
      }×`,
  );
}

// ---- the other kernel families, each against what a tfjs user runs for the same result --------
const { Generator, randn, tidy } = await import('../engine/index.ts');
const { attention } = await import('../engine/ops/attention.ts');
const { layerNorm } = await import('../engine/ops/layer-norm.ts');
const gen = new Generator(0);
async function peer(name: string, unit: 'GB/s' | 'GFLOP/s', work: number, ours: () => void, theirs: () => void, note: string): Promise<void> {
  const o = await timeLaunches(backend, ours, samples);
  const t = await timeTf(theirs);
  rows.push({ name, ours: o, tfjs: t, unit, rateOurs: work / o / 1e9, rateTfjs: work / t / 1e9 });
  log(
    `  ${name}`.padEnd(31) +
      ` ours ${(work / o / 1e9).toFixed(2).padStart(6)} ${unit}   tfjs ${(work / t / 1e9).toFixed(2).padStart(6)} ${unit}   ours/tfjs ${
        (t / o).toFixed(2)
      }×   (${note})`,
  );
}
{
  const n = 4 * 1024 * 1024;
  const x = filled(backend, n, 1), y = filled(backend, n, 2), out = backend.alloc(n, 'f32');
  const flat = (storage: typeof x) => ({ storage, shape: [n], strides: [1], offset: 0 });
  const tx = tf.randomNormal([n]), ty = tf.randomNormal([n]);
  await peer(`elementwise add ${n}`, 'GB/s', 3 * 4 * n, () => runElementwise(backend, 'add', flat(out), flat(x), flat(y)), () => {
    tf.add(tx, ty);
  }, 'bytes read + written');
  for (const s of [x, y, out]) backend.release(s);
  tx.dispose();
  ty.dispose();
}
{
  const [R, C] = SOFTMAX_SHAPES[0]!;
  const x = filled(backend, R * C), out = backend.alloc(R, 'f32');
  const tx = tf.randomNormal([R, C]);
  await peer(`sum rows ${R}×${C}`, 'GB/s', 4 * R * C,
    () => backend.run(reduce({ op: 'sum', shape: { outer: R, len: C, inner: 1 }, offset: 0, x: 'f32', out: 'f32' }), [x, out]), () => {
    tf.sum(tx, -1);
  }, 'bytes read');
  backend.release(x);
  backend.release(out);
  tx.dispose();
}
{
  const [R, D] = [1568, 192];
  const x = randn([R, D], gen), w = randn([D], gen), b = randn([D], gen);
  const tx = tf.randomNormal([R, D]), tw = tf.randomNormal([D]), tb = tf.randomNormal([D]);
  // tfjs has no layer-norm op: its users compose moments and elementwise ops
  const tfLayerNorm = () => {
    const { mean, variance } = tf.moments(tx, -1, true);
    tf.add(tf.mul(tf.mul(tf.sub(tx, mean), tf.rsqrt(tf.add(variance, 1e-5))), tw), tb);
  };
  await peer(`layerNorm fwd ${R}×${D}`, 'GB/s', 2 * 4 * R * D, () =>
    tidy(() => {
      layerNorm(x, w, b);
    }), tfLayerNorm, 'tfjs: moments + elementwise, it has no fused op');
  for (const t of [x, w, b]) t.dispose();
  for (const t of [tx, tw, tb]) t.dispose();
}
{
  const [BH, N, Dh] = [24, 197, 64];
  const [q, k, v] = [0, 1, 2].map(() => randn([BH, N, Dh], gen));
  const [tq, tk, tv] = [0, 1, 2].map(() => tf.randomNormal([BH, N, Dh]));
  const tfAttention = () => {
    tf.matMul(tf.softmax(tf.mul(tf.matMul(tq!, tk!, false, true), 1 / Math.sqrt(Dh))), tv!);
  };
  await peer(`attention fwd ${BH}×${N}×${Dh}`, 'GFLOP/s', 4 * BH * N * N * Dh, () =>
    tidy(() => {
      attention(q!, k!, v!);
    }), tfAttention, 'tfjs: matMul, softmax, matMul');
  for (const t of [q, k, v]) t!.dispose();
  for (const t of [tq, tk, tv]) t!.dispose();
}

log(`  CPU: ${blasLine}`);
const md = [
  '# Peers',
  '',
  `Generated by \`npm run bench:peers\` (bench/peers.ts) on **${adapter}**, ${new Date().toISOString().slice(0, 10)}.`,
  'tfjs-backend-webgpu 4.22.0 runs on the same Dawn adapter in the same process; the CPU column is',
  `${blasLine}, on the same 2 cores the adapter's threads use. Rates are the fastest of ${samples} samples (a batch of calls, one wait).`,
  'Ratios above 1 mean ours is faster.',
  '',
  '| op | ours | tfjs-webgpu | ours / tfjs | CPU sgemm | ours / CPU |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((r) =>
    `| ${r.name} | ${r.rateOurs.toFixed(r.unit === 'GB/s' ? 2 : 1)} ${r.unit} | ${r.rateTfjs.toFixed(2)} ${r.unit} | ${
      (r.tfjs / r.ours).toFixed(2)
    }× | ` +
    `${r.blas !== undefined ? `${r.blas.toFixed(1)} GFLOP/s` : ''} | ${r.blas !== undefined ? `${(r.rateOurs / r.blas).toFixed(2)}×` : ''} |`
  ),
  '',
];
writeFileSync(fileURLToPath(new URL('./PEERS.md', import.meta.url)), md.join('\n'));
log('wrote bench/PEERS.md');
process.exit(0);
