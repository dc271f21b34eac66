// fused.bench: the fused kernels (engine/ops/layer-norm.ts, attention.ts) against the composed paths they replace,
// timed in the same run so the ratio means something on a shared machine:
//   attention fwd+bwd at B·H = 24, N = 197, Dh = 64 (ViT-S/16 at 224², batch 4)
//   attentionQkv fwd+bwd on the qkv projection [8, 197, 3·3·64] (ViT-Ti's 3 heads, batch 8)
//   against the composed ViT path: head split copies, matmul–softmax–matmul, head merge
//   layerNorm fwd+bwd (affine) at [1568, 192] (ViT-Ti tokens of batch 8)
//   an MLP with its residual, y = x + fc2(gelu(fc1 x)), fwd+bwd at [1568, 192] → 768 → 192:
//   two epilogue matmuls against matmul + bias add + GELU + residual add
// Inputs are made and every pipeline compiled before timing; each timed body records the step,
// then awaits backend.sync(), so the GPU work is inside the time. Run it alone with
// `node --import tsx bench/fused.bench.ts`, or call `benchFused()` from a runner.
import { measure } from 'mitata';
import { pathToFileURL } from 'node:url';
import { initWebGPU } from '../engine/device/node.ts';
import { add, gelu, Generator, layerNormComposite, linear, linearComposite, randn, scaledDotProductAttention, tidy, truncNormal, type Backend,
  type Tensor } from '../engine/internal.ts';
import { attention, attentionQkv } from '../engine/ops/attention.ts';
import { layerNorm } from '../engine/ops/layer-norm.ts';

export interface FusedBenchRow {
  name: string;
  /** Median wall time per step (mitata p50). */
  fusedMs: number;
  composedMs: number;
  /** composedMs / fusedMs. */
  ratio: number;
  /** Process CPU time per step: on lavapipe the GPU is this process's threads, and CPU time is
   * steadier than wall time when other processes share the cores. */
  fusedCpuMs: number;
  composedCpuMs: number;
  note: string;
}

type Step = () => void;

/** One forward+backward of f on leaves, seeded with the output gradient `dy`; grads dropped. */
function fwdBwd(leaves: Tensor[], dy: Tensor, f: () => Tensor): Step {
  return () => {
    tidy(() => f().backward(dy));
    for (const l of leaves) {
      l.grad?.dispose();
      l.grad = null;
    }
  };
}

/** Median wall ms (mitata) and mean process-CPU ms of one step, each awaiting the GPU. */
async function timeMs(backend: Backend, step: Step, samples: number): Promise<{ wall: number; cpu: number; }> {
  step(); // compile and warm the pool outside the timing
  await backend.sync();
  const stats = await measure(async () => {
    step();
    await backend.sync();
  }, { min_samples: samples, max_samples: samples, min_cpu_time: 0 });
  const c0 = process.cpuUsage();
  for (let i = 0; i < samples; i++) {
    step();
    await backend.sync();
  }
  const c = process.cpuUsage(c0);
  return { wall: stats.p50 / 1e6, cpu: (c.user + c.system) / 1e3 / samples }; // mitata reports ns, cpuUsage µs
}

function row(name: string, fused: { wall: number; cpu: number; }, composed: { wall: number; cpu: number; }, note: string): FusedBenchRow {
  return { name, fusedMs: fused.wall, composedMs: composed.wall, ratio: composed.wall / fused.wall, fusedCpuMs: fused.cpu,
    composedCpuMs: composed.cpu, note };
}

export async function benchFused(opts: { samples?: number; log?: (line: string) => void; } = {}): Promise<FusedBenchRow[]> {
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
    rows.push(
      row(`attention fwd+bwd [${BH}, ${N}, ${Dh}]`, fused, composed,
        `fused ${(gflop / (fused.wall / 1e3)).toFixed(1)} GFLOP/s (${gflop.toFixed(2)} GFLOP counted as 14·BH·N²·Dh)`),
    );
    for (const t of [q, k, v, dy]) t.dispose();
  }

  // ---- attention from the fused projection: qkv [B, N, 3·H·Dh] → [B, N, H·Dh] ------------------
  {
    const [B, N, H, Dh] = [8, 197, 3, 64];
    const qkv = randn([B, N, 3 * H * Dh], g, { requiresGrad: true });
    const dy = randn([B, N, H * Dh], g);
    const composedVit = () => {
      const parts = qkv.reshape([B, N, 3, H, Dh]).permute([2, 0, 3, 1, 4]);
      const part = (i: number) => parts.slice(0, i, i + 1).reshape([B, H, N, Dh]);
      return scaledDotProductAttention(part(0), part(1), part(2)).permute([0, 2, 1, 3]).reshape([B, N, H * Dh]);
    };
    const fused = await timeMs(backend, fwdBwd([qkv], dy, () => attentionQkv(qkv, H)), samples);
    const composed = await timeMs(backend, fwdBwd([qkv], dy, composedVit), samples);
    const gflop = (14 * B * H * N * N * Dh) / 1e9;
    rows.push(
      row(`attentionQkv fwd+bwd [${B}, ${N}, 3·${H}·${Dh}]`, fused, composed,
        `fused ${(gflop / (fused.wall / 1e3)).toFixed(1)} GFLOP/s; composed = head split copies + matmul–softmax–matmul + merge`),
    );
    for (const t of [qkv, dy]) t.dispose();
  }

  // ---- layer norm: [rows, D] with weight and bias -------------------------------------------
  {
    const [R, D] = [1568, 192];
    const x = randn([R, D], g, { requiresGrad: true });
    const w = randn([D], g, { requiresGrad: true }), b = randn([D], g, { requiresGrad: true });
    const dy = randn([R, D], g);
    const fused = await timeMs(backend, fwdBwd([x, w, b], dy, () => layerNorm(x, w, b)), samples);
    const composed = await timeMs(backend, fwdBwd([x, w, b], dy, () => layerNormComposite(x, w, b)), samples);
    const fwdFused = await timeMs(backend, () =>
      tidy(() => {
        layerNorm(x, w, b);
      }), samples);
    const fwdComposed = await timeMs(backend, () =>
      tidy(() => {
        layerNormComposite(x, w, b);
      }), samples);
    // bytes the fused pair must move at least: x, y, dy, dx (4 bytes each)
    const gb = (4 * R * D * 4) / 1e9;
    rows.push(row(`layerNorm fwd+bwd [${R}, ${D}]`, fused, composed, `fused ${(gb / (fused.wall / 1e3)).toFixed(2)} GB/s of x, y, dy, dx`));
    rows.push(row(`layerNorm fwd [${R}, ${D}]`, fwdFused, fwdComposed, ''));
    for (const t of [x, w, b, dy]) t.dispose();
  }

  // ---- linear epilogues: an MLP with its residual, [rows, D] → 4D → D -------------------------
  {
    const [R, D, H] = [1568, 192, 768];
    const x = randn([R, D], g, { requiresGrad: true });
    const w1 = truncNormal([H, D], g, { std: 0.05, requiresGrad: true }), b1 = randn([H], g, { requiresGrad: true });
    const w2 = truncNormal([D, H], g, { std: 0.05, requiresGrad: true }), b2 = randn([D], g, { requiresGrad: true });
    const dy = randn([R, D], g);
    const leaves = [x, w1, b1, w2, b2];
    const fusedMlp = () => linear(linear(x, w1, b1, { activation: 'gelu' }), w2, b2, { residual: x });
    const composedMlp = () => add(x, linearComposite(gelu(linearComposite(x, w1, b1)), w2, b2));
    const fused = await timeMs(backend, fwdBwd(leaves, dy, fusedMlp), samples);
    const composed = await timeMs(backend, fwdBwd(leaves, dy, composedMlp), samples);
    const fwdFused = await timeMs(backend, () =>
      tidy(() => {
        fusedMlp();
      }), samples);
    const fwdComposed = await timeMs(backend, () =>
      tidy(() => {
        composedMlp();
      }), samples);
    // forward 2 matmuls of 2·R·D·H, backward 4 more
    const gflop = (12 * R * D * H) / 1e9;
    rows.push(
      row(`mlp+residual fwd+bwd [${R}, ${D}→${H}]`, fused, composed,
        `fused ${(gflop / (fused.wall / 1e3)).toFixed(1)} GFLOP/s (${gflop.toFixed(2)} GFLOP in its 6 matmuls)`),
    );
    rows.push(row(`mlp+residual fwd [${R}, ${D}→${H}]`, fwdFused, fwdComposed, ''));
    for (const t of [...leaves, dy]) t.dispose();
  }

  for (const r of rows) {
    log(`${r.name.padEnd(32)} fused ${r.fusedMs.toFixed(2).padStart(7)} ms (cpu ${r.fusedCpuMs.toFixed(1)})   ` +
      `composed ${r.composedMs.toFixed(2).padStart(7)} ms (cpu ${r.composedCpuMs.toFixed(1)})   ` +
      `composed/fused ${r.ratio.toFixed(2)}x (cpu ${(r.composedCpuMs / r.fusedCpuMs).toFixed(2)}x)   ${r.note}`);
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await benchFused();
