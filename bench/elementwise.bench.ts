// elementwise.bench: GB/s of the elementwise kernel (bytes the op must read and write, 4 per
// element and operand) on 4 Mi contiguous floats, and its fraction of the same run's copy.
// Also a broadcast add (bias over [1568, 768]) and a transposed (strided) copy, the two
// non-flat paths the engine hits every step, and the flat add through the strided kernel text
// (the dense vec4 text's before).
import { elementwise, type ElementwiseOp } from '../kernels/index.ts';
import { filled, recordLaunch, timeRow, wanted, type BenchContext, type BenchRow } from './common.ts';
import type { View } from '../engine/backend/backend.ts';
import { runElementwise } from '../engine/ops/elementwise.ts';

export async function benchElementwise(ctx: BenchContext): Promise<BenchRow[]> {
  const { backend, samples } = ctx;
  const rows: BenchRow[] = [];
  const n = 4 * 1024 * 1024;
  const x = filled(backend, n, 1), y = filled(backend, n, 2), out = backend.alloc(n, 'f32');
  const flat = (storage: typeof x): View => ({ storage, shape: [n], strides: [1], offset: 0 });
  const cases: { op: ElementwiseOp; inputs: number; }[] = [
    { op: 'add', inputs: 2 },
    { op: 'mul', inputs: 2 },
    { op: 'exp', inputs: 1 },
    { op: 'gelu', inputs: 1 },
  ];
  const time = (name: string, record: () => void) => timeRow(backend, name, record, ctx.refKernels.copy, samples);
  const push = (name: string, m: { seconds: number; refRate: number; }, bytes: number, note: string) => {
    const gbs = bytes / m.seconds / 1e9;
    rows.push({ suite: 'elementwise', name, seconds: m.seconds, gbs, ref: 'copy', refRate: m.refRate, note });
    ctx.log(
      `  ${name.padEnd(34)} ${(m.seconds * 1e3).toFixed(3).padStart(8)} ms ${gbs.toFixed(2).padStart(7)} GB/s  ${(gbs / m.refRate).toFixed(2)}× copy`,
    );
  };
  for (const c of cases) {
    const name = `elementwise ${c.op} ${n}`;
    if (!wanted(ctx, name)) continue;
    const t = await time(name, () => runElementwise(backend, c.op, flat(out), flat(x), c.inputs === 2 ? flat(y) : undefined));
    push(name, t, 4 * n * (c.inputs + 1), `${c.inputs} input(s) + 1 output`);
  }
  const [R, C] = [1568, 768];
  // bias add: [1568, 768] + [768] broadcast along rows
  const biasAdd = `elementwise add-bias ${R}×${C}`;
  if (wanted(ctx, biasAdd)) {
    const t = await time(
      biasAdd,
      () =>
        runElementwise(backend, 'add', { storage: out, shape: [R, C], strides: [C, 1], offset: 0 }, { storage: x, shape: [R, C], strides: [C, 1],
          offset: 0 }, { storage: y, shape: [R, C], strides: [0, 1], offset: 0 }),
    );
    push(biasAdd, t, 4 * (2 * R * C + C), 'row broadcast');
  }
  // transposed copy: [768, 1568] ← [1568, 768]ᵀ
  const transpose = `elementwise transpose ${R}×${C}`;
  if (wanted(ctx, transpose)) {
    const t = await time(
      transpose,
      () =>
        runElementwise(backend, 'copy', { storage: out, shape: [C, R], strides: [R, 1], offset: 0 }, { storage: x, shape: [C, R], strides: [1, C],
          offset: 0 }),
    );
    push(transpose, t, 4 * 2 * R * C, 'strided read');
  }
  // the same flat add through the strided text (what every op ran before the dense vec4 text)
  const strided = `elementwise add ${n} (strided text)`;
  if (wanted(ctx, strided)) {
    const l = elementwise({ op: 'add', shape: [n], out: { offset: 0, strides: [1] }, a: { offset: 0, strides: [1] }, b: { offset: 0, strides: [1] },
      noVec4: true });
    const unused = backend.alloc(4, 'f32'); // binding c, which add never reads
    const t = await time(strided, () => recordLaunch(backend, l, [x, y, unused, out]));
    backend.release(unused);
    push(strided, t, 4 * n * 3, 'the strided kernel on the flat add, for comparison');
  }
  for (const s of [x, y, out]) backend.release(s);
  return rows;
}
