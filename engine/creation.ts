// creation: tensors from values, constants, ranges and seeded random draws.
import type { Backend, DType } from './backend/backend.ts';
import { fmt, ShapeError } from './errors.ts';
import { rememberHostIndex } from './ops/host-index.ts';
import { fillRange, full as fullOp } from './ops/table.ts';
import { Generator, truncNormalSample } from './random.ts';
import { getBackend } from './runtime.ts';
import { checkShape, numel, type Shape } from './shape.ts';
import { Tensor } from './tensor.ts';

export interface CreateOptions { dtype?: DType; backend?: Backend; requiresGrad?: boolean }

function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad = true;
  return t;
}

export const full = (shape: Shape, value: number, o: CreateOptions = {}) =>
  finish(fullOp(shape, value, o.backend ?? getBackend(), o.dtype ?? 'f32'), o);
export const zeros = (shape: Shape, o: CreateOptions = {}) => full(shape, 0, o);
export const ones = (shape: Shape, o: CreateOptions = {}) => full(shape, 1, o);
export const zerosLike = (t: Tensor) => full(t.shape, 0, { backend: t.backend, dtype: t.dtype });

/** [start, stop) with `step`, like torch.arange (f32 unless dtype says i32). */
export function arange(start: number, stop?: number, step = 1, o: CreateOptions = {}): Tensor {
  const [a, b] = stop === undefined ? [0, start] : [start, stop];
  const n = Math.max(0, Math.ceil((b - a) / step));
  return finish(fillRange(n, a, step, o.dtype ?? 'f32', o.backend ?? getBackend()), o);
}

/** Upload host values. i32 tensors also keep a host copy so gather can validate indices. */
export function fromArray(values: ArrayLike<number>, shape: Shape = [values.length], o: CreateOptions = {}): Tensor {
  checkShape('fromArray', shape);
  if (numel(shape) !== values.length) throw new ShapeError('fromArray', 'shape', [shape], `${values.length} values do not fill shape ${fmt(shape)} (${numel(shape)} elements)`);
  const backend = o.backend ?? getBackend();
  const dtype = o.dtype ?? (values instanceof Int32Array ? 'i32' : 'f32');
  const t = Tensor.empty(shape, dtype, backend);
  if (values.length) backend.upload(t.storage, values);
  if (dtype === 'i32') rememberHostIndex(t.storage, Int32Array.from(values));
  return finish(t, o);
}

/** Standard normal draws from a seeded counter-based generator (advances it). */
export function randn(shape: Shape, g: Generator, o: CreateOptions = {}): Tensor {
  const v = new Float64Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = g.normal();
  return fromArray(v, shape, o);
}

/** Uniform [lo, hi) draws. */
export function rand(shape: Shape, g: Generator, o: CreateOptions & { lo?: number; hi?: number } = {}): Tensor {
  const lo = o.lo ?? 0, hi = o.hi ?? 1;
  const v = new Float64Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * g.uniform();
  return fromArray(v, shape, o);
}

/** Truncated normal with absolute bounds [a, b], PyTorch's trunc_normal_ algorithm. */
export function truncNormal(shape: Shape, g: Generator, o: CreateOptions & { mean?: number; std?: number; a?: number; b?: number } = {}): Tensor {
  const v = new Float64Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = truncNormalSample(g, o.mean ?? 0, o.std ?? 1, o.a ?? -2, o.b ?? 2);
  return fromArray(v, shape, o);
}
