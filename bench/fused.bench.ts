// fused.bench: the fused kernels (engine/ops/layer-norm.ts, attention.ts) against the composed paths they replace,
// timed in the same run so the ratio means something on a shared machine:
//   attention fwd+bwd at B·H = 24, N = 197, Dh = 64 (ViT-S/16 at 224², batch 4)
//   attentionQkv fwd+bwd on the qkv projection [8, 197, 3·3·64] (ViT-Ti's 3 heads, batch 8)
//   against the composed ViT path: head split copies, matmul–softmax–matmul, head merge
//   layerNorm fwd+bwd (affine) at [1568, 192] (ViT-Ti tokens of batch 8)
//   an MLP with its residual, y = x + fc2(gelu(fc1 x)), fwd+bwd at [1568, 192] → 768 → 192:
//   two epilogue matmuls against matmul + bias add + GELU + residual add
// Inputs are made and every pipeline compiled before timing; each timed body records a batch of
// steps, then awaits backend.sync(), so the GPU work is inside the time. The fused and the
// composed step run in alternating samples (common.ts timeAgainst) and the ratio is the median
// of the adjacent pairs' ratios, so load from other processes, which slows both sides of a pair
// alike, moves it little. Run it alone with
// `node --import tsx bench/fused.bench.ts`, or call `benchFused()` from a runner.
import { pathToFileURL } from 'node:url';
import { initWebGPU } from '../engine/device/node.ts';
import { add, gelu, Generator, layerNormComposite, linear, linearComposite, randn, scaledDotProductAttention, tidy, truncNormal,
  type Tensor } from '../engine/internal.ts';
import { attention, attentionQkv } from '../engine/ops/attention.ts';
import { layerNorm } from '../engine/ops/layer-norm.ts';
import { timeRow, type Backend } from './common.ts';

export interface FusedBenchRow {
  name: string;
  /** Wall time per step, fastest sample (a batch of steps, then one wait) / the batch. */
  fusedMs: number;
  composedMs: number;
  /** composed / fused: the median of the alternating samples' ratios. */
  ratio: number;
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

/** The fused and the composed step timed in alternating samples (IJEPA_BENCH_SLOW may name the row: it slows the fused side). */
async function row(backend: Backend, only: ReadonlySet<string> | null, name: string, fused: Step, composed: Step, samples: number,
  note: (fusedMs: number) => string): Promise<FusedBenchRow[]>
{
  if (only && !only.has(`fused ${name}`)) return [];
  const m = await timeRow(backend, `fused ${name}`, fused, { record: composed, work: 1 }, samples);
  const fusedMs = m.seconds * 1e3;
  return [{ name, fusedMs, composedMs: fusedMs * m.ratio, ratio: m.ratio, note: note(fusedMs) }];
}

export async function benchFused(
  opts: { samples?: number; log?: (line: string) => void; only?: ReadonlySet<string>; } = {},
): Promise<FusedBenchRow[]> {
  const only = opts.only ?? null; // rows to measure, named as run.ts names them (`fused …`); null: all
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
    // FLOPs: forward 2 matmuls (4·BH·N²·Dh), backward 5 of them counting the recomputed scores
    const gflop = (14 * BH * N * N * Dh) / 1e9;
    rows.push(
      ...await row(backend, only, `attention fwd+bwd [${BH}, ${N}, ${Dh}]`, fwdBwd([q, k, v], dy, () => attention(q, k, v)),
        fwdBwd([q, k, v], dy, () => scaledDotProductAttention(q, k, v)), samples,
        (ms) => `fused ${(gflop / (ms / 1e3)).toFixed(1)} GFLOP/s (${gflop.toFixed(2)} GFLOP counted as 14·BH·N²·Dh)`),
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
    const gflop = (14 * B * H * N * N * Dh) / 1e9;
    rows.push(
      ...await row(backend, only, `attentionQkv fwd+bwd [${B}, ${N}, 3·${H}·${Dh}]`, fwdBwd([qkv], dy, () => attentionQkv(qkv, H)),
        fwdBwd([qkv], dy, composedVit), samples,
        (ms) => `fused ${(gflop / (ms / 1e3)).toFixed(1)} GFLOP/s; composed = head split copies + matmul–softmax–matmul + merge`),
    );
    for (const t of [qkv, dy]) t.dispose();
  }

  // ---- layer norm: [rows, D] with weight and bias -------------------------------------------
  {
    const [R, D] = [1568, 192];
    const x = randn([R, D], g, { requiresGrad: true });
    const w = randn([D], g, { requiresGrad: true }), b = randn([D], g, { requiresGrad: true });
    const dy = randn([R, D], g);
    // bytes the fused pair must move at least: x, y, dy, dx (4 bytes each)
    const gb = (4 * R * D * 4) / 1e9;
    rows.push(
      ...await row(backend, only, `layerNorm fwd+bwd [${R}, ${D}]`, fwdBwd([x, w, b], dy, () => layerNorm(x, w, b)),
        fwdBwd([x, w, b], dy, () => layerNormComposite(x, w, b)), samples, (ms) => `fused ${(gb / (ms / 1e3)).toFixed(2)} GB/s of x, y, dy, dx`),
    );
    rows.push(...await row(backend, only, `layerNorm fwd [${R}, ${D}]`, () =>
      tidy(() => {
        layerNorm(x, w, b);
      }), () =>
      tidy(() => {
        layerNormComposite(x, w, b);
      }), samples, () => ''));
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
    // forward 2 matmuls of 2·R·D·H, backward 4 more
    const gflop = (12 * R * D * H) / 1e9;
    rows.push(
      ...await row(backend, only, `mlp+residual fwd+bwd [${R}, ${D}→${H}]`, fwdBwd(leaves, dy, fusedMlp), fwdBwd(leaves, dy, composedMlp), samples,
        (ms) => `fused ${(gflop / (ms / 1e3)).toFixed(1)} GFLOP/s (${gflop.toFixed(2)} GFLOP in its 6 matmuls)`),
    );
    rows.push(...await row(backend, only, `mlp+residual fwd [${R}, ${D}→${H}]`, () =>
      tidy(() => {
        fusedMlp();
      }), () =>
      tidy(() => {
        composedMlp();
      }), samples, () => ''));
    for (const t of [...leaves, dy]) t.dispose();
  }

  for (const r of rows) {
    log(`${r.name.padEnd(32)} fused ${r.fusedMs.toFixed(2).padStart(7)} ms   composed ${r.composedMs.toFixed(2).padStart(7)} ms   ` +
      `composed/fused ${r.ratio.toFixed(2)}x   ${r.note}`);
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await benchFused();
