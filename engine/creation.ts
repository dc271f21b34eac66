// creation: tensors from values, constants, ranges and seeded random draws.
import type { Backend, DType } from './backend/backend.ts';
import { fmt, ShapeError } from './errors.ts';
import { rememberHostIndex } from './ops/host-index.ts';
import { fillRange, full as fullOp } from './ops/table.ts';
import type { Generator } from './random.ts';
import { defaultGenerator, truncNormalSample } from './random.ts';
import { getBackend } from './runtime.ts';
import { checkShape, numel, sameShape, type NestedArray, type Shape } from './shape.ts';
import { Tensor } from './tensor.ts';

/** Where and how a new tensor is made: dtype (default f32), backend (default the current one), requiresGrad. */
export interface CreateOptions {
  dtype?: DType;
  backend?: Backend;
  requiresGrad?: boolean;
}

function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad = true;
  return t;
}

/** A tensor of `shape` filled with `value`, like torch.full. */
export const full = (shape: Shape, value: number, o: CreateOptions = {}) =>
  finish(fullOp(shape, value, o.backend ?? getBackend(), o.dtype ?? 'f32'), o);
/** A tensor of `shape` filled with 0. */
export const zeros = (shape: Shape, o: CreateOptions = {}) => full(shape, 0, o);
/** A tensor of `shape` filled with 1. */
export const ones = (shape: Shape, o: CreateOptions = {}) => full(shape, 1, o);
/** Zeros with t's shape, dtype and backend. */
export const zerosLike = (t: Tensor) => full(t.shape, 0, { backend: t.backend, dtype: t.dtype });

/** [start, stop) with `step`, like torch.arange (f32 unless dtype says i32). */
export function arange(start: number, stop?: number, step = 1, o: CreateOptions = {}): Tensor {
  const [a, b] = stop === undefined ? [0, start] : [start, stop];
  const n = Math.max(0, Math.ceil((b - a) / step));
  return finish(fillRange(n, a, step, o.dtype ?? 'f32', o.backend ?? getBackend()), o);
}

/**
 * Upload host values: a flat array-like with its `shape` (default 1-D), or nested arrays whose
 * shape is inferred (`fromArray([[1, 2], [3, 4]])` is [2, 2]; ragged nesting throws naming the
 * dim). i32 tensors also keep a host copy so gather can validate indices.
 */
export function fromArray(values: ArrayLike<number> | NestedArray, shape?: Shape, o: CreateOptions = {}): Tensor {
  let flat: ArrayLike<number>;
  if (typeof values === 'number' || (Array.isArray(values) && values.some((v) => typeof v !== 'number'))) {
    const nested = flattenNested(values as NestedArray);
    if (shape && !sameShape(shape, nested.shape)) {
      throw new ShapeError('fromArray', 'shape', [shape, nested.shape],
        `shape ${fmt(shape)} disagrees with the nested values' shape ${fmt(nested.shape)}`);
    }
    flat = nested.values;
    shape = nested.shape;
  } else {
    flat = values as ArrayLike<number>;
    shape ??= [flat.length];
  }
  checkShape('fromArray', shape);
  if (numel(shape) !== flat.length) {
    throw new ShapeError('fromArray', 'shape', [shape], `${flat.length} values do not fill shape ${fmt(shape)} (${numel(shape)} elements)`);
  }
  const backend = o.backend ?? getBackend();
  const dtype = o.dtype ?? (flat instanceof Int32Array ? 'i32' : 'f32');
  const t = Tensor.empty(shape, dtype, backend);
  if (flat.length) backend.upload(t.storage, flat);
  if (dtype === 'i32') rememberHostIndex(t.storage, Int32Array.from(flat));
  return finish(t, o);
}

/** Row-major values and the shape of nested arrays; every sibling must have the same length. */
function flattenNested(values: NestedArray): { values: number[]; shape: number[]; } {
  const shape: number[] = [];
  for (let v: NestedArray = values; Array.isArray(v); v = (v as readonly NestedArray[])[0] ?? 0) {
    shape.push((v as readonly NestedArray[]).length);
    if (v.length === 0) break;
  }
  const out: number[] = [];
  // Shape comes from the first entry at each depth (values[0][0]…); a sibling that differs is ragged.
  const walk = (v: NestedArray, dim: number, at: number[]): void => {
    const where = `values${at.map((i) => `[${i}]`).join('')}`, first = `values${'[0]'.repeat(at.length)}`;
    const ragged = (what: string, expected: string) =>
      new ShapeError('fromArray', 'values', [shape],
        `ragged nested array: ${where} ${what} where ${first} ${expected} (dim ${dim}; the first entries give shape ${fmt(shape)})`);
    if (dim === shape.length) {
      if (typeof v === 'number') {
        out.push(v);
        return;
      }
      if (Array.isArray(v)) throw ragged('is an array', 'is a number');
      throw new ShapeError('fromArray', 'values', [shape], `${where} is ${v === null ? 'null' : typeof v}, expected a number`);
    }
    if (!Array.isArray(v)) {
      throw ragged(typeof v === 'number' ? `is the number ${v}` : `is ${v === null ? 'null' : typeof v}`, `is an array of ${shape[dim]}`);
    }
    if (v.length !== shape[dim]) throw ragged(`has ${v.length} entries`, `has ${shape[dim]}`);
    v.forEach((x: NestedArray, i: number) => walk(x, dim + 1, [...at, i]));
  };
  walk(values, 0, []);
  return { values: out, shape };
}

/** Standard normal draws from a seeded counter-based generator (advances it; default: `defaultGenerator`). */
export function randn(shape: Shape, g: Generator = defaultGenerator, o: CreateOptions = {}): Tensor {
  const v = new Float64Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = g.normal();
  return fromArray(v, shape, o);
}

/** Uniform [lo, hi) draws (default generator: `defaultGenerator`). */
export function rand(shape: Shape, g: Generator = defaultGenerator, o: CreateOptions & { lo?: number; hi?: number; } = {}): Tensor {
  const lo = o.lo ?? 0, hi = o.hi ?? 1;
  const v = new Float64Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * g.uniform();
  return fromArray(v, shape, o);
}

/** Truncated normal with absolute bounds [a, b], PyTorch's trunc_normal_ algorithm (default generator: `defaultGenerator`). */
export function truncNormal(shape: Shape, g: Generator = defaultGenerator,
  o: CreateOptions & { mean?: number; std?: number; a?: number; b?: number; } = {}): Tensor
{
  const v = new Float64Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = truncNormalSample(g, o.mean ?? 0, o.std ?? 1, o.a ?? -2, o.b ?? 2);
  return fromArray(v, shape, o);
}
