// shape: pure helpers for shapes, strides and broadcasting, with errors that name the op.
import { fmt, ShapeError } from './errors.ts';

/** A tensor's sizes, outermost dim first. */
export type Shape = readonly number[];

/** A number or arbitrarily nested arrays of numbers, as `torch.tensor` takes them and `tolist()` gives them. */
export type NestedArray = number | readonly NestedArray[];

export const numel = (shape: Shape) => shape.reduce((a, b) => a * b, 1);

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

/** NumPy broadcasting: align right, sizes must match or be 1. */
export function broadcastShapes(op: string, shapes: readonly Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const d = rank - s.length + i;
      const v = s[i]!;
      if (v === out[d] || v === 1) continue;
      if (out[d] === 1) {
        out[d] = v;
        continue;
      }
      throw new ShapeError(op, 'shapes', shapes, `cannot broadcast ${shapes.map(fmt).join(' and ')}: dim ${d} is ${out[d]} vs ${v}`);
    }
  }
  return out;
}

/** Strides that read a tensor of `shape`/`strides` as if expanded to `target` (0 where broadcast). */
export function broadcastStrides(shape: Shape, strides: Shape, target: Shape): number[] {
  const off = target.length - shape.length;
  return target.map((_, d) => (d < off || shape[d - off] === 1 ? 0 : strides[d - off]!));
}

/** Resolve a possibly negative dim against a rank, or throw naming the op. */
export function normDim(op: string, dim: number, rank: number, shape: Shape): number {
  const d = dim < 0 ? dim + rank : dim;
  if (!Number.isInteger(d) || d < 0 || d >= rank) {
    throw new ShapeError(op, 'dim', [shape], `dim ${dim} out of range for x ${fmt(shape)}`);
  }
  return d;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function checkShape(op: string, shape: Shape): void {
  for (const v of shape) {
    if (!Number.isInteger(v) || v < 0) throw new ShapeError(op, 'shape', [shape], `invalid shape ${fmt(shape)}: sizes must be non-negative integers`);
  }
}
