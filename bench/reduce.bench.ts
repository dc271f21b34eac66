// reduce.bench: GB/s of reductions (bytes read + written) and the fraction of the same run's
// copy. Shapes: rows of the [1568, 768] activations of a ViT-Ti MLP (many medium rows), the
// [4704, 196] attention rows, a few long rows (which the launcher splits in two passes), and
// the column sum of a bias gradient (reduced over the leading axis, no transpose). Each row is
// timed in samples alternating with the copy kernel (common.ts timeAgainst), as elementwise is.
import { reduce, type ReduceOp } from '../kernels/index.ts';
import { filled, timeRow, wanted, type BenchContext, type BenchRow } from './common.ts';

export async function benchReduce(ctx: BenchContext): Promise<BenchRow[]> {
  const { backend, samples } = ctx;
  const rows: BenchRow[] = [];
  const cases: { op: ReduceOp; rows: number; cols: number; columns?: boolean; }[] = [
    { op: 'sum', rows: 1568, cols: 768 },
    { op: 'max', rows: 4704, cols: 196 },
    { op: 'sum', rows: 4704, cols: 196 },
    { op: 'sum', rows: 8, cols: 1024 * 1024 },
    { op: 'sum', rows: 768, cols: 1568, columns: true },
  ];
  for (const c of cases) {
    const name = c.columns ? `reduce ${c.op} columns ${c.cols}×${c.rows}` : `reduce ${c.op} ${c.rows}×${c.cols}`;
    if (!wanted(ctx, name)) continue;
    const x = filled(backend, c.rows * c.cols), out = backend.alloc(c.rows, 'f32');
    // columns: x is [cols, rows] and the sum runs down each column (outer 1, inner rows)
    const shape = c.columns ? { outer: 1, len: c.cols, inner: c.rows } : { outer: c.rows, len: c.cols, inner: 1 };
    const { seconds: t, refRate } = await timeRow(backend, name, () =>
      backend.run(reduce({ op: c.op, shape, offset: 0, x: 'f32', out: 'f32' }), [x, out]), ctx.refKernels.copy, samples);
    backend.release(x);
    backend.release(out);
    const gbs = 4 * (c.rows * c.cols + c.rows) / t / 1e9;
    rows.push({ suite: 'reduce', name, seconds: t, gbs, ref: 'copy', refRate });
    ctx.log(`  ${name.padEnd(34)} ${(t * 1e3).toFixed(3).padStart(8)} ms ${gbs.toFixed(2).padStart(7)} GB/s  ${(gbs / refRate).toFixed(2)}× copy`);
  }
  return rows;
}
