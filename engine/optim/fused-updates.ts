// fused-updates: the in-place optimizer launches (not ops: nothing is taped), several tensors
// per launch: AdamW steps (adamwUpdate(Many)), EMA updates (emaInPlace(Many)) and the loss
// scaler's non-finite count. Each is one Kernel (kernels/kernel-source.ts) per chunk of tensors,
// with its f64 twin.
import { adamw, adamwRef, ema, emaRef, MAX_SEGMENTS, nonFinite, nonFiniteRef, type AdamwShared } from '../../kernels/optim.ts';
import type { Backend } from '../backend/backend.ts';
import { fmt, ShapeError } from '../errors.ts';
import { noGrad } from '../runtime.ts';
import { sameShape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { kernel } from '../../kernels/index.ts';
import { withDense } from '../ops/dense.ts';
import { copy, full } from '../ops/table.ts';

// ---- optimizer updates ------------------------------------------------------------------------

function checkInPlace(op: string, what: readonly [string, Tensor][]): void {
  const [, first] = what[0]!;
  for (const [name, t] of what) {
    if (t.dtype !== 'f32') throw new ShapeError(op, name, [t.shape], `${name} must be f32, got ${t.dtype}`);
    if (!sameShape(t.shape, first.shape)) {
      throw new ShapeError(op, name, what.map(([, x]) => x.shape),
        `${name} ${fmt(t.shape)} must have the shape of ${what[0]![0]} ${fmt(first.shape)}`);
    }
    if (t.disposed) throw new Error(`${op}: ${name} ${fmt(t.shape)} was disposed`);
  }
  for (const [name, t] of what) {
    if (t.backend !== first.backend) throw new Error(`${op}: ${name} lives on ${t.backend.name}, ${what[0]![0]} on ${first.backend.name}`);
  }
}

/**
 * Make t safe to update in place: it must be dense, and if another tensor shares its storage (a
 * view still alive, or an `assign` source) t first gets a copy of its own, so the update changes
 * t alone, as the composed optimizers (which swap in new storage) do.
 */
function writable(op: string, name: string, t: Tensor): void {
  if (!t.isContiguous || t.offset !== 0) {
    throw new Error(`${op}: ${name} ${fmt(t.shape)} is updated in place, so it must be a dense tensor, not a view`);
  }
  if (t.storage.refs > 1) {
    const own = noGrad(() => copy(t));
    t.assign(own);
    own.dispose();
  }
}

/** One tensor's AdamW hyper-parameters: lr, decoupled weight decay and its step count (from 1, this one included). */
export interface AdamwStep {
  lr: number;
  wd: number;
  step: number;
}
/** One tensor's AdamW update: parameter, gradient, moments, and its step. */
export interface AdamwItem {
  p: Tensor;
  g: Tensor;
  m: Tensor;
  v: Tensor;
  o: AdamwStep;
}

/**
 * How many tensors one optimizer launch may update when each binds `perTensor` storage buffers:
 * the device's per-stage limit (8 by default, 16 on lavapipe) allows that many, up to the
 * kernels' MAX_SEGMENTS, less `shared` buffers bound once per launch. The CPU twin takes any number.
 */
function segmentsPerLaunch(b: Backend, perTensor: number, shared = 0): number {
  return Math.max(1, Math.min(MAX_SEGMENTS, Math.floor((b.maxStorageBuffersPerStage - shared) / perTensor)));
}

/** Run `launch` over `items` in chunks of at most `k`. */
function inChunks<T>(items: readonly T[], k: number, launch: (chunk: T[]) => void): void {
  for (let i = 0; i < items.length; i += k) launch(items.slice(i, i + k));
}

/**
 * AdamW steps (Loshchilov & Hutter 2019, PyTorch's update order) on every item's p, m and v in
 * place, several tensors per launch: θ ← θ(1 − lr·wd); m ← β1m + (1 − β1)g;
 * v ← β2v + (1 − β2)g²; θ ← θ − lr/(1 − β1ᵗ) · m / (√v/√(1 − β2ᵗ) + ε), with t = `step` counting
 * this one. Same arithmetic, in the same order, as the composed update in optim/adamw.ts.
 * `shared` holds what one optimizer's tensors share: β1, β2, ε and invScale (g ← g·invScale
 * first); lr, wd and step are each item's.
 */
export function adamwUpdateMany(items: readonly AdamwItem[], shared: AdamwShared): void {
  const live = items.filter((it) => it.p.size > 0);
  const first = live[0];
  if (!first) return;
  for (const { p, g, m, v } of live) {
    checkInPlace('adamwUpdate', [['p', p], ['g', g], ['m', m], ['v', v]]);
    if (new Set([p, m, v].map((t) => t.storage)).size !== 3) throw new Error('adamwUpdate: p, m and v must be distinct tensors');
    if (p.backend !== first.p.backend) {
      throw new Error(
        `adamwUpdate: ${p.name ?? fmt(p.shape)} lives on ${p.backend.name}, ${first.p.name ?? fmt(first.p.shape)} on ${first.p.backend.name}`,
      );
    }
    for (const [name, t] of [['p', p], ['m', m], ['v', v]] as const) writable('adamwUpdate', name, t);
  }
  const backend = first.p.backend;
  inChunks(live, segmentsPerLaunch(backend, 4), (chunk) => {
    const segs = chunk.map(({ p, o }) => ({ n: p.size, lr: o.lr, wd: o.wd, step: o.step }));
    backend.setLabel(`adamwUpdate(${chunk.map(({ p }) => p.name ?? fmt(p.shape)).join(', ')})`);
    withDense(chunk.map(({ g }) => g), (gs) => {
      const storages = chunk.flatMap(({ p, m, v }, k) => [p.storage, gs[k]!.storage, m.storage, v.storage]);
      backend.run(kernel('adamw', [[adamw(segs, shared), storages.map((_, i) => i), (a) => adamwRef(a, segs, shared)]]), storages);
    });
  });
}

/** One AdamW step on one tensor: adamwUpdateMany with one item. */
export function adamwUpdate(p: Tensor, g: Tensor, m: Tensor, v: Tensor, o: AdamwStep, shared: AdamwShared): void {
  adamwUpdateMany([{ p, g, m, v, o }], shared);
}

/** Exponential moving averages in place, several tensors per launch: target_i ← m·target_i + (1 − m)·source_i. */
export function emaInPlaceMany(targets: readonly Tensor[], sources: readonly Tensor[], momentum: number): void {
  if (targets.length !== sources.length) throw new Error(`emaInPlace: ${targets.length} targets but ${sources.length} sources`);
  const pairs = targets.map((t, i) => [t, sources[i]!] as const).filter(([t]) => t.size > 0);
  const first = pairs[0];
  if (!first) return;
  for (const [t, s] of pairs) {
    checkInPlace('emaInPlace', [['target', t], ['source', s]]);
    if (t.backend !== first[0].backend) {
      throw new Error(
        `emaInPlace: ${t.name ?? fmt(t.shape)} lives on ${t.backend.name}, ${first[0].name ?? fmt(first[0].shape)} on ${first[0].backend.name}`,
      );
    }
    writable('emaInPlace', 'target', t);
  }
  const backend = first[0].backend;
  inChunks(pairs, segmentsPerLaunch(backend, 2), (chunk) => {
    const ns = chunk.map(([t]) => t.size);
    backend.setLabel(`emaInPlace(${chunk.map(([t]) => t.name ?? fmt(t.shape)).join(', ')})`);
    withDense(chunk.map(([, s]) => s), (ss) => {
      const storages = chunk.flatMap(([t], k) => [t.storage, ss[k]!.storage]);
      backend.run(kernel('ema', [[ema(ns, momentum), storages.map((_, i) => i), (a) => emaRef(a, ns, momentum)]]), storages);
    });
  });
}

/** Exponential moving average in place on one tensor: emaInPlaceMany with one pair. */
export function emaInPlace(target: Tensor, source: Tensor, momentum: number): void {
  emaInPlaceMany([target], [source], momentum);
}

/**
 * How many values of the f32 tensors `xs` are NaN or ±Inf, as an i32 tensor [1], several tensors
 * per launch (all adding into one counter): a loss scaler's overflow check over every gradient,
 * read back with the loss. The check is on the bits, so it holds where the shader compiler
 * assumes floats are finite.
 */
export function nonFiniteCount(xs: readonly Tensor[]): Tensor {
  const live = xs.filter((t) => t.size > 0);
  const first = live[0];
  if (!first) return full([1], 0, undefined, 'i32');
  for (const t of live) {
    if (t.dtype !== 'f32') {
      throw new ShapeError('nonFiniteCount', 'xs', [t.shape], `${t.name ?? fmt(t.shape)} is ${t.dtype}; the check reads f32 values`);
    }
    if (t.backend !== first.backend) {
      throw new Error(
        `nonFiniteCount: ${t.name ?? fmt(t.shape)} lives on ${t.backend.name}, ${first.name ?? fmt(first.shape)} on ${first.backend.name}`,
      );
    }
  }
  const count = full([1], 0, first.backend, 'i32');
  const backend = first.backend;
  inChunks(live, segmentsPerLaunch(backend, 1, 1), (chunk) => {
    const ns = chunk.map((t) => t.size);
    backend.setLabel(`nonFiniteCount(${chunk.length} tensors)`);
    withDense(chunk, (ds) => {
      const storages = [...ds.map((d) => d.storage), count.storage];
      backend.run(kernel('nonFinite', [[nonFinite(ns), storages.map((_, i) => i), (a) => nonFiniteRef(a, ns)]]), storages);
    });
  });
  return count;
}
