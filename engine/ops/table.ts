// table: every primitive op, declared once: shape rule, forward kernel, backward in other ops.
// Composites (mean, layerNorm, attention, ...) live in composite.ts and need no backward code.
// Backward rules never mutate inputs and never read data back to the host.
import { cast as castKernel, fill as fillKernel, gather as gatherKernel, scatterAdd as scatterAddKernel, matmulKernel, reduce as reduceKernel,
  softmaxBackwardRows, softmaxRows, type MatmulShape, type ReduceOp } from '../../kernels/index.ts';
import type { Backend, DType, Storage, View } from '../backend/backend.ts';
import { fmt, ShapeError } from '../errors.ts';
import { getBackend, noGrad } from '../runtime.ts';
import { broadcastShapes, broadcastStrides, checkShape, contiguousStrides, normDim, numel, sameShape, type Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { apply, needFloat, type OpDef } from './op.ts';
import { hostIndexOf } from './host-index.ts';
import { dense, floatOf } from './dense.ts';
import { div, eq, mul, runElementwise } from './elementwise.ts';

/** The inputs of a one-input op. */
type X = [x: Tensor];

const view = (t: Tensor, shape: Shape = t.shape, strides: Shape = t.strides, offset = t.offset): View => ({ storage: t.storage, shape, strides,
  offset });

/** Run a temporary computation inside a forward without taping it; the caller disposes it. */
const untaped = <T>(f: () => T): T => noGrad(f);

/** Write value + i·step into out's elements (kernels/fill.ts). */
const fillWith = (out: Tensor, value: number, step: number) =>
  out.backend.run(fillKernel({ n: out.size, value, step, isInt: out.dtype === 'i32', f16: out.dtype === 'f16' }), [out.storage]);

// ---- elementwise: every op of kernels/elementwise-ops.ts, derived in elementwise.ts --------------

export * from './elementwise.ts';

// ---- cast -------------------------------------------------------------------------------------

const castDef: OpDef<X, { dtype: 'f32' | 'f16'; }> = {
  name: 'cast',
  infer([x], { dtype }) {
    needFloat('cast', [x]);
    return { shape: [...x.shape], dtype };
  },
  forward(out, [x]) {
    const src = dense(x);
    if (out.size > 0) {
      out.backend.run(castKernel({ n: out.size, offset: src.t.offset, from: floatOf(src.t), to: floatOf(out) }), [src.t.storage, out.storage]);
    }
    if (src.owned) src.t.dispose();
  },
  backward: (g, [x]) => [cast(g, x.dtype as 'f32' | 'f16')],
};
/**
 * x converted to `dtype` (f32 ↔ f16; rounding to nearest even, ±Infinity past ±65504). The same
 * dtype gives x itself. f16 tensors need a device with shader-f16 (Backend.hasF16).
 */
export function cast(x: Tensor, dtype: 'f32' | 'f16'): Tensor {
  if (dtype !== 'f32' && dtype !== 'f16') throw new ShapeError('cast', 'dtype', [x.shape], `dtype '${String(dtype)}' is not one of 'f32', 'f16'`);
  if (x.dtype === dtype) return x;
  return apply(castDef, [x], { dtype });
}

// ---- copies and views -------------------------------------------------------------------------

const copyDef: OpDef<X, null> = {
  name: 'copy',
  infer: ([x]) => ({ shape: [...x.shape], dtype: x.dtype }),
  forward: (out, [x]) => runElementwise(out.backend, 'copy', view(out), view(x)),
  backward: (g) => [g],
};
/** A fresh contiguous copy (works for i32 too). */
export const copy = (x: Tensor) => apply(copyDef, [x], null);
/** x itself when already contiguous, else a contiguous copy. */
export const contiguous = (x: Tensor) => (x.isContiguous ? x : copy(x));

const detachDef: OpDef<X, null> = {
  name: 'detach',
  infer: ([x]) => ({ shape: [...x.shape], dtype: x.dtype }),
  view: (x) => ({ strides: [...x.strides], offset: x.offset }),
  backward: null, // the point of detach: gradients stop here
};
/** The same storage without a tape node: gradients stop here (torch's detach). */
export const detach = (x: Tensor) => apply(detachDef, [x], null);

const reshapeDef: OpDef<X, { shape: number[]; }> = {
  name: 'reshape',
  infer: ([x], { shape }) => ({ shape, dtype: x.dtype }),
  view: (x, { shape }) => ({ strides: contiguousStrides(shape), offset: x.offset }),
  backward: (g, [x]) => [reshape(g, x.shape)],
};
/** Same elements in a new shape; one dim may be -1. A view when x is contiguous, else a copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const mismatch = () => new ShapeError('reshape', 'shape', [x.shape, shape], `cannot view x ${fmt(x.shape)} (${x.size} elements) as ${fmt(shape)}`);
  const free = s.indexOf(-1);
  if (free >= 0) {
    if (s.indexOf(-1, free + 1) >= 0) {
      throw new ShapeError('reshape', 'shape', [x.shape, shape], `shape ${fmt(shape)} for x ${fmt(x.shape)} may have only one -1`);
    }
    const known = s.reduce((a, v, i) => (i === free ? a : a * v), 1);
    // a -1 that cannot be filled is a size mismatch, not an "invalid shape [4, 1.5]"
    if (known > 0 && x.size % known !== 0 && s.every((v, i) => i === free || (Number.isInteger(v) && v >= 0))) throw mismatch();
    s[free] = known === 0 ? 0 : x.size / known;
  }
  checkShape('reshape', s);
  if (numel(s) !== x.size) throw mismatch();
  return apply(reshapeDef, [contiguous(x)], { shape: s });
}

const permuteDef: OpDef<X, { dims: number[]; }> = {
  name: 'permute',
  infer: ([x], { dims }) => ({ shape: dims.map((d) => x.shape[d]!), dtype: x.dtype }),
  view: (x, { dims }) => ({ strides: dims.map((d) => x.strides[d]!), offset: x.offset }),
  backward: (g, _x, _y, { dims }) => {
    const inverse = new Array<number>(dims.length);
    dims.forEach((d, i) => {
      inverse[d] = i;
    });
    return [permute(g, inverse)];
  },
};
/** A view with the dims reordered: output dim i is input dim dims[i] (no copy). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const nd = dims.map((d) => normDim('permute', d, x.rank, x.shape));
  if (nd.length !== x.rank || new Set(nd).size !== x.rank) {
    throw new ShapeError('permute', 'dims', [x.shape], `dims [${dims.join(', ')}] are not a permutation of the ${x.rank} dims of x ${fmt(x.shape)}`);
  }
  return apply(permuteDef, [x], { dims: nd });
}

const expandDef: OpDef<X, { shape: number[]; }> = {
  name: 'expand',
  infer: ([x], { shape }) => ({ shape, dtype: x.dtype }),
  view: (x, { shape }) => ({ strides: broadcastStrides(x.shape, x.strides, shape), offset: x.offset }),
  backward: (g) => [g], // the tape sums g back to x's shape
};
/** Broadcast x to `shape` without copying (stride 0 along expanded dims); -1 keeps a size. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const off = shape.length - x.rank;
  const s = shape.map((v, d) => (v === -1 ? x.shape[d - off]! : v));
  const ok = off >= 0 && x.shape.every((v, i) => v === s[i + off] || v === 1);
  if (!ok) throw new ShapeError('expand', 'shape', [x.shape, shape], `cannot expand x ${fmt(x.shape)} to ${fmt(shape)}: sizes must match or be 1`);
  return apply(expandDef, [x], { shape: s });
}

interface SliceAttrs {
  dim: number;
  start: number;
  end: number;
}
const sliceDef: OpDef<X, SliceAttrs> = {
  name: 'slice',
  infer: ([x], { dim, start, end }) => {
    const shape = [...x.shape];
    shape[dim] = end - start;
    return { shape, dtype: x.dtype };
  },
  view: (x, { dim, start }) => ({ strides: [...x.strides], offset: x.offset + start * x.strides[dim]! }),
  backward: (g, [x], _y, { dim, start }) => [padSlice(g, x.shape, dim, start)],
};
/** Elements start..end-1 along dim (a view). Negative start/end count from the end. */
export function slice(x: Tensor, dim: number, start: number, end?: number): Tensor {
  const d = normDim('slice', dim, x.rank, x.shape);
  const n = x.shape[d]!;
  const s = start < 0 ? start + n : start;
  const e = end === undefined ? n : end < 0 ? end + n : end;
  if (!(0 <= s && s <= e && e <= n)) {
    throw new ShapeError('slice', 'range', [x.shape], `range ${start}:${end ?? ''} is outside dim ${d} of x ${fmt(x.shape)} (size ${n})`);
  }
  return apply(sliceDef, [x], { dim: d, start: s, end: e });
}

interface PadAttrs {
  shape: Shape;
  dim: number;
  start: number;
}
const padSliceDef: OpDef<[g: Tensor], PadAttrs> = {
  name: 'padSlice',
  infer: ([g], { shape }) => ({ shape: [...shape], dtype: g.dtype }),
  forward: (out, [g], { dim, start }) => {
    fillWith(out, 0, 0);
    runElementwise(out.backend, 'copy', view(out, g.shape, out.strides, start * out.strides[dim]!), view(g));
  },
  backward: (gg, [g], _y, { dim, start }) => [slice(gg, dim, start, start + g.shape[dim]!)],
};
/** The adjoint of slice: g placed at start along dim of zeros(shape). */
export function padSlice(g: Tensor, shape: Shape, dim: number, start: number): Tensor {
  return apply(padSliceDef, [g], { shape, dim, start });
}

const concatDef: OpDef<readonly Tensor[], { dim: number; }> = {
  name: 'concat',
  infer: (xs, { dim }) => {
    const first = xs[0];
    if (!first) throw new ShapeError('concat', 'tensors', [], 'needs at least one tensor');
    const shape = [...first.shape];
    shape[dim] = 0;
    for (const [i, t] of xs.entries()) {
      const bad = t.rank !== first.rank || t.dtype !== first.dtype || t.shape.some((v, d) => d !== dim && v !== first.shape[d]);
      if (bad) {
        throw new ShapeError('concat', `tensors[${i}]`, xs.map((x) => x.shape),
          `tensors[${i}] ${fmt(t.shape)} ${t.dtype} does not match tensors[0] ${fmt(first.shape)} ${first.dtype} outside dim ${dim}`);
      }
      shape[dim] += t.shape[dim]!;
    }
    return { shape, dtype: first.dtype };
  },
  forward: (out, xs, { dim }) => {
    let start = 0;
    for (const t of xs) {
      runElementwise(out.backend, 'copy', view(out, t.shape, out.strides, start * out.strides[dim]!), view(t));
      start += t.shape[dim]!;
    }
  },
  backward: (g, xs, _y, { dim }, needs) => {
    let start = 0;
    return xs.map((t, i) => {
      const s = start;
      start += t.shape[dim]!;
      return needs[i] ? slice(g, dim, s, start) : null;
    });
  },
};
/** Join tensors along an existing dim. */
export function concat(tensors: readonly Tensor[], dim = 0): Tensor {
  const first = tensors[0];
  if (!first) throw new ShapeError('concat', 'tensors', [], 'needs at least one tensor');
  return apply(concatDef, tensors, { dim: normDim('concat', dim, first.rank, first.shape) });
}

// ---- reductions -------------------------------------------------------------------------------

interface ReduceAttrs {
  op: ReduceOp;
  axes: number[];
  keepdim: boolean;
}

function reduceDef(name: ReduceOp, backward: OpDef<X, ReduceAttrs>['backward']): OpDef<X, ReduceAttrs> {
  return {
    name,
    infer([x], { axes, keepdim }) {
      const dtype = needFloat(name, [x]);
      const shape = keepdim ? x.shape.map((v, d) => (axes.includes(d) ? 1 : v)) : x.shape.filter((_, d) => !axes.includes(d));
      return { shape, dtype };
    },
    forward(out, [x], { op, axes }) {
      // Reduced dims that form one block (ignoring size-1 dims) reduce in place as the middle
      // axis of [outer, len, inner]; scattered ones are first permuted to the end (one copy).
      const live = x.shape.map((_, d) => d).filter((d) => x.shape[d] !== 1);
      const red = live.filter((d) => axes.includes(d));
      const first = red[0] ?? 0, lastR = red.at(-1) ?? -1;
      const block = red.length === 0 || live.filter((d) => d >= first && d <= lastR).every((d) => axes.includes(d));
      const prod = (ds: number[]) => ds.reduce((a, d) => a * x.shape[d]!, 1);
      let src: { t: Tensor; owned: boolean; };
      let shape: { outer: number; len: number; inner: number; };
      if (block) {
        src = dense(x);
        shape = { outer: prod(live.filter((d) => d < first)), len: prod(red), inner: prod(live.filter((d) => d > lastR)) };
      } else {
        const kept = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
        src = { t: untaped(() => copy(permute(x, [...kept, ...axes]))), owned: true };
        shape = { outer: out.size, len: prod(axes), inner: 1 };
      }
      if (shape.len === 0) fillWith(out, op === 'sum' ? 0 : -Infinity, 0);
      else out.backend.run(reduceKernel({ op, shape, offset: src.t.offset, x: floatOf(src.t), out: floatOf(out) }), [src.t.storage, out.storage]);
      if (src.owned) src.t.dispose();
    },
    backward,
  };
}

/** g reshaped to keep the reduced dims as size 1, so it broadcasts against x. */
function keepShape(g: Tensor, x: Tensor, { axes, keepdim }: ReduceAttrs): Tensor {
  return keepdim ? g : reshape(g, x.shape.map((v, d) => (axes.includes(d) ? 1 : v)));
}

const sumDef = reduceDef('sum', (g, [x], _y, attrs) => [expand(keepShape(g, x, attrs), x.shape)]);
// the gradient goes to every maximal element, split evenly between ties (as torch.amax)
const maxDef = reduceDef('max', (g, [x], y, attrs) => {
  const isMax = eq(x, keepShape(y, x, attrs));
  const ties = sum(isMax, attrs.axes, true);
  return [mul(isMax, div(keepShape(g, x, attrs), ties))];
});

function normAxes(op: string, x: Tensor, axes?: number | readonly number[]): number[] {
  if (axes === undefined) return x.shape.map((_, d) => d);
  const list = typeof axes === 'number' ? [axes] : axes;
  const norm = list.map((d) => normDim(op, d, x.rank, x.shape));
  if (new Set(norm).size !== norm.length) throw new ShapeError(op, 'axes', [x.shape], `axes [${list.join(', ')}] repeat a dim of x ${fmt(x.shape)}`);
  return norm.sort((a, b) => a - b);
}
/** Sum over `axes` (all when omitted). */
export const sum = (x: Tensor, axes?: number | readonly number[], keepdim = false) =>
  apply(sumDef, [x], { op: 'sum', axes: normAxes('sum', x, axes), keepdim });
/** Maximum over `axes` (all when omitted). */
export const max = (x: Tensor, axes?: number | readonly number[], keepdim = false) =>
  apply(maxDef, [x], { op: 'max', axes: normAxes('max', x, axes), keepdim });

// ---- matmul -----------------------------------------------------------------------------------

/** A batched matmul's shape: c[batch, M, N] = op(a) · op(b). */
export interface MatmulArgs extends MatmulShape {
  strideA: number;
  strideB: number; // elements between batch items; 0 broadcasts
}

/**
 * What a matmul does to each output element as it stores it (the fused Linear epilogue):
 * z = c + bias[n]; pre ← z; c = gelu(z) + residual. bias is [N]; residual and pre are dense
 * like the output. Each part is optional.
 */
export interface MatmulEpilogueArgs {
  bias?: Storage;
  gelu?: boolean;
  residual?: Storage;
  /** Receives the pre-activation z (what GELU's backward needs). */
  pre?: Storage;
}

/**
 * Record c[batch, M, N] = op(a) · op(b), then the epilogue, on `backend`; a and b are contiguous
 * windows at their offsets, c is dense. The device's subgroups and adapter pick the kernel and
 * its tile (kernels/matmul.ts).
 */
export function runMatmul(backend: Backend, a: Storage, offA: number, b: Storage, offB: number, out: Storage, args: MatmulArgs,
  e: MatmulEpilogueArgs = {}): void
{
  const epilogue = { bias: !!e.bias, gelu: !!e.gelu, residual: !!e.residual, pre: !!e.pre };
  const k = matmulKernel({ ...args, offA, offB, offC: 0, subgroupSize: backend.subgroupSize, adapter: backend.adapter, epilogue,
    dtype: out.dtype === 'f16' ? 'f16' : 'f32' });
  backend.run(k, [a, b, out, ...[e.bias, e.residual, e.pre].filter((s): s is Storage => !!s)]);
}

interface MatmulAttrs {
  transA: boolean;
  transB: boolean;
}
const matmulDef: OpDef<[a: Tensor, b: Tensor], MatmulAttrs> = {
  name: 'matmul',
  infer([a, b], { transA, transB }) {
    const dtype = needFloat('matmul', [a, b]);
    if (a.rank < 2 || b.rank < 2) {
      throw new ShapeError('matmul', 'a, b', [a.shape, b.shape], `a ${fmt(a.shape)} and b ${fmt(b.shape)} must both have at least 2 dims`);
    }
    const [M, Ka] = transA ? [a.shape.at(-1)!, a.shape.at(-2)!] : [a.shape.at(-2)!, a.shape.at(-1)!];
    const [Kb, N] = transB ? [b.shape.at(-1)!, b.shape.at(-2)!] : [b.shape.at(-2)!, b.shape.at(-1)!];
    if (Ka !== Kb) {
      throw new ShapeError('matmul', 'a, b', [a.shape, b.shape],
        `a ${fmt(a.shape)}${transA ? 'ᵀ' : ''} and b ${fmt(b.shape)}${transB ? 'ᵀ' : ''} disagree on the inner dim (${Ka} vs ${Kb})${
          !transB && b.shape.at(-1) === Ka ? '; did you mean transB?' : ''
        }`);
    }
    const ba = a.shape.slice(0, -2), bb = b.shape.slice(0, -2);
    // broadcastShapes would name only the batch dims; name the operands too
    let batch: number[];
    try {
      batch = broadcastShapes('matmul', [ba, bb]);
    } catch {
      throw new ShapeError('matmul', 'a, b', [a.shape, b.shape],
        `batch dims of a ${fmt(a.shape)} and b ${fmt(b.shape)} do not broadcast (${fmt(ba)} vs ${fmt(bb)})`);
    }
    return { shape: [...batch, M, N], dtype };
  },
  forward(out, [a, b], { transA, transB }) {
    const batchShape = out.shape.slice(0, -2);
    const batch = numel(batchShape);
    const M = out.shape.at(-2)!, N = out.shape.at(-1)!;
    const K = transA ? a.shape.at(-2)! : a.shape.at(-1)!;
    // empty products: the GPU launcher rejects them, the result is empty or all zeros (as torch)
    if (out.size === 0) return;
    if (K === 0) {
      fillWith(out, 0, 0);
      return;
    }
    // an operand whose batch is 1 is shared by every batch item (stride 0); one with a partial
    // broadcast is expanded to the full batch first
    const prep = (t: Tensor, rows: number, cols: number) => {
      const tb = numel(t.shape.slice(0, -2));
      if (tb === 1 || tb === batch && sameShape(t.shape.slice(0, -2), batchShape)) {
        const d = dense(t);
        return { ...d, stride: tb === 1 ? 0 : rows * cols };
      }
      const full = untaped(() => copy(expand(t, [...batchShape, rows, cols])));
      return { t: full, owned: true, stride: rows * cols };
    };
    const A = prep(a, a.shape.at(-2)!, a.shape.at(-1)!);
    const B = prep(b, b.shape.at(-2)!, b.shape.at(-1)!);
    runMatmul(out.backend, A.t.storage, A.t.offset, B.t.storage, B.t.offset, out.storage, { batch, M, N, K, transA, transB, strideA: A.stride,
      strideB: B.stride });
    if (A.owned) A.t.dispose();
    if (B.owned) B.t.dispose();
  },
  // C = op(A)·op(B): dA = g·op(B)ᵀ (or its transpose), dB = op(A)ᵀ·g (or its transpose),
  // each a single matmul with transpose flags, never an explicit transpose
  backward(g, [a, b], _y, { transA, transB }, needs) {
    const da = !needs[0] ? null : transA ? matmul(b, g, { transA: transB, transB: true }) : matmul(g, b, { transB: !transB });
    const db = !needs[1] ? null : transB ? matmul(g, a, { transA: true, transB: transA }) : matmul(a, g, { transA: !transA });
    return [da, db];
  },
};
/** Batched matrix product with broadcast batch dims; transA/transB read an operand transposed. */
export function matmul(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean; } = {}): Tensor {
  return apply(matmulDef, [a, b], { transA: opts.transA ?? false, transB: opts.transB ?? false });
}

// ---- softmax ----------------------------------------------------------------------------------

const softmaxDef: OpDef<X, null> = {
  name: 'softmax',
  infer([x]) {
    const dtype = needFloat('softmax', [x]);
    if (x.rank === 0) throw new ShapeError('softmax', 'x', [x.shape], 'x must have at least one dim');
    return { shape: [...x.shape], dtype };
  },
  forward(out, [x]) {
    const cols = x.shape.at(-1)!;
    const src = dense(x);
    if (out.size > 0) {
      out.backend.run(softmaxRows({ rows: out.size / cols, cols, offset: src.t.offset, dtype: floatOf(out) }), [src.t.storage, out.storage]);
    }
    if (src.owned) src.t.dispose();
  },
  // dx = y ⊙ (g − Σ_j g_j y_j), one row kernel
  backward: (g, _x, y) => [apply(softmaxBackwardDef, [y, g], null)],
};
// softmax's backward as an op of its own; backward rules run untaped, so it needs no backward
const softmaxBackwardDef: OpDef<[y: Tensor, g: Tensor], null> = {
  name: 'softmaxBackward',
  infer: ([y, g]) => ({ shape: [...y.shape], dtype: needFloat('softmaxBackward', [y, g]) }),
  forward(out, [y, g]) {
    const cols = y.shape.at(-1)!;
    if (out.size === 0) return;
    const yd = dense(y, true), gd = dense(g, true);
    out.backend.run(softmaxBackwardRows({ rows: out.size / cols, cols, dtype: floatOf(out) }), [yd.t.storage, gd.t.storage, out.storage]);
    if (yd.owned) yd.t.dispose();
    if (gd.owned) gd.t.dispose();
  },
  backward: null,
};
/** softmax over `dim` (default last), max-subtracted. */
export function softmax(x: Tensor, dim = -1): Tensor {
  const d = normDim('softmax', dim, x.rank, x.shape);
  if (d === x.rank - 1) return apply(softmaxDef, [x], null);
  const order = x.shape.map((_, i) => i);
  order[d] = x.rank - 1;
  order[x.rank - 1] = d;
  return permute(apply(softmaxDef, [permute(x, order)], null), order);
}

// ---- gather / scatter -------------------------------------------------------------------------

function checkIndex(op: string, x: Shape, dim: number, index: Tensor, sizeAlongDim: number, xName: string): void {
  if (index.dtype !== 'i32') throw new ShapeError(op, 'index', [index.shape], `index must be i32, got ${index.dtype}`);
  if (index.rank !== x.length) {
    throw new ShapeError(op, 'index', [x, index.shape], `index ${fmt(index.shape)} must have the rank of ${xName} ${fmt(x)}`);
  }
  for (let d = 0; d < x.length; d++) {
    if (d !== dim && index.shape[d]! > x[d]!) {
      throw new ShapeError(op, 'index', [x, index.shape], `index ${fmt(index.shape)} is larger than ${xName} ${fmt(x)} along dim ${d}`);
    }
  }
  const host = hostIndexOf(index);
  if (!host) return;
  for (let i = 0; i < host.values.length; i++) {
    const v = host.values[i]!;
    if (v < 0 || v >= sizeAlongDim) {
      const coord = host.shape.map((_, d) => Math.floor(i / numel(host.shape.slice(d + 1))) % host.shape[d]!);
      throw new ShapeError(op, 'index', [index.shape, x],
        `index ${fmt(index.shape)} holds ${v} at (${coord.join(', ')}), but ${xName} ${fmt(x)} has ${sizeAlongDim} entries along dim ${dim}`);
    }
  }
}

const gatherDef: OpDef<[x: Tensor, index: Tensor], { dim: number; }> = {
  name: 'gather',
  infer([x, index], { dim }) {
    const dtype = needFloat('gather', [x]);
    checkIndex('gather', x.shape, dim, index, x.shape[dim]!, 'x');
    return { shape: [...index.shape], dtype };
  },
  forward(out, [x, index], { dim }) {
    const X = dense(x, true), I = dense(index, true);
    out.backend.run(gatherKernel({ xShape: x.shape, indexShape: index.shape, dim, dtype: floatOf(out) }), [X.t.storage, I.t.storage, out.storage]);
    if (X.owned) X.t.dispose();
    if (I.owned) I.t.dispose();
  },
  backward: (g, [x, index], _y, { dim }) => [scatterAdd(x.shape, dim, index, g), null],
};
/** torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] for dim = 1; index is i32. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  return apply(gatherDef, [x, index], { dim: normDim('gather', dim, x.rank, x.shape) });
}

const scatterDef: OpDef<[index: Tensor, src: Tensor], { shape: Shape; dim: number; }> = {
  name: 'scatterAdd',
  infer([index, src], { shape, dim }) {
    const dtype = needFloat('scatterAdd', [src]);
    if (!sameShape(index.shape, src.shape)) {
      throw new ShapeError('scatterAdd', 'src', [index.shape, src.shape], `src ${fmt(src.shape)} must have index's shape ${fmt(index.shape)}`);
    }
    checkIndex('scatterAdd', shape, dim, index, shape[dim]!, 'out');
    return { shape: [...shape], dtype };
  },
  forward(out, [index, src], { dim }) {
    const I = dense(index, true), S = dense(src, true);
    out.backend.run(scatterAddKernel({ outShape: out.shape, indexShape: index.shape, dim, dtype: floatOf(out) }), [S.t.storage, I.t.storage,
      out.storage]);
    if (I.owned) I.t.dispose();
    if (S.owned) S.t.dispose();
  },
  backward: (g, [index], _y, { dim }) => [null, gather(g, dim, index)],
};
/** The adjoint of gather: zeros(shape) with src added at index along dim (repeats accumulate). */
export function scatterAdd(shape: Shape, dim: number, index: Tensor, src: Tensor): Tensor {
  return apply(scatterDef, [index, src], { shape: [...shape], dim: normDim('scatterAdd', dim, shape.length, shape) });
}

// ---- creation ---------------------------------------------------------------------------------

interface FillAttrs {
  shape: number[];
  dtype: DType;
  value: number;
  step: number;
}
const fillDef: OpDef<[], FillAttrs> = {
  name: 'fill',
  infer: (_inputs, { shape, dtype }) => {
    checkShape('fill', shape);
    return { shape, dtype };
  },
  forward: (out, _inputs, { value, step }) => fillWith(out, value, step),
  backward: null, // no inputs
};
/** A tensor of `shape` filled with `value`, written on the device (no upload). */
export function full(shape: Shape, value: number, backend = getBackend(), dtype: DType = 'f32'): Tensor {
  return apply(fillDef, [], { shape: [...shape], dtype, value, step: 0 }, backend);
}
/** [start, start + step, ...] of length n, written on the device. */
export const fillRange = (n: number, start: number, step: number, dtype: DType, backend = getBackend()) =>
  apply(fillDef, [], { shape: [n], dtype, value: start, step }, backend);
