// softmax.bench: softmax over the last dim of the attention scores, (4704, 196) = 24 batches ×
// 196 queries × 196 keys, and (4728, 197). GB/s counts the bytes the op must move at least
// (read x once, write y once); the kernel reads x three times, so 1.0× copy is out of reach
// unless a row stays in cache. The backward, dx = y ⊙ (g − Σ g·y), moves y, g and dx at least
// (reads each twice).
import { softmaxBackwardRows, softmaxRows } from '../kernels/index.ts';
import { filled, timeRow, wanted, type BenchContext, type BenchRow } from './common.ts';

export const SOFTMAX_SHAPES: readonly [number, number][] = [[4704, 196], [4728, 197]];

export async function benchSoftmax(ctx: BenchContext): Promise<BenchRow[]> {
  const { backend, samples } = ctx;
  const rows: BenchRow[] = [];
  for (const [R, C] of SOFTMAX_SHAPES) {
    const name = `softmax ${R}×${C}`;
    if (!wanted(ctx, name)) continue;
    const x = filled(backend, R * C), y = backend.alloc(R * C, 'f32');
    const { seconds: t, refRate } = await timeRow(backend, name, () => backend.run(softmaxRows({ rows: R, cols: C, offset: 0 }), [x, y]),
      ctx.refKernels.copy, samples);
    backend.release(x);
    backend.release(y);
    const gbs = 2 * 4 * R * C / t / 1e9;
    rows.push({ suite: 'softmax', name, seconds: t, gbs, ref: 'copy', refRate });
    ctx.log(`  ${name.padEnd(34)} ${(t * 1e3).toFixed(3).padStart(8)} ms ${gbs.toFixed(2).padStart(7)} GB/s  ${(gbs / refRate).toFixed(2)}× copy`);
  }
  const [R, C] = SOFTMAX_SHAPES[0]!;
  const name = `softmax backward ${R}×${C}`;
  if (!wanted(ctx, name)) return rows;
  const y = filled(backend, R * C), g = filled(backend, R * C), dx = backend.alloc(R * C, 'f32');
  const { seconds: t, refRate } = await timeRow(backend, name, () => backend.run(softmaxBackwardRows({ rows: R, cols: C }), [y, g, dx]),
    ctx.refKernels.copy, samples);
  for (const s of [y, g, dx]) backend.release(s);
  const gbs = 3 * 4 * R * C / t / 1e9;
  rows.push({ suite: 'softmax', name, seconds: t, gbs, ref: 'copy', refRate });
  ctx.log(`  ${name.padEnd(34)} ${(t * 1e3).toFixed(3).padStart(8)} ms ${gbs.toFixed(2).padStart(7)} GB/s  ${(gbs / refRate).toFixed(2)}× copy`);
  return rows;
}
