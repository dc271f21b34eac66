// fused: ops that run one hand-written kernel where the composite runs many, declared like the
// primitives in table.ts (an OpDef through `apply`) but launched with `backend.custom`: the
// WebGPU backend records the WGSL launches, the CPU backend runs their float64 twins. The
// composites in composite.ts stay as the references these are tested against.
//
//   layerNorm   one invocation per row (two-pass variance), saving mean and rstd; fused dx, and
//               dw/db as column sums over blocks of rows (no atomics)
//   attention   flash-style forward saving the log-sum-exp; the backward recomputes the scores
//               (a dq kernel over keys per query row, then a dk/dv kernel over queries per key row)
//   attentionQkv  the same kernels reading q, k, v in place from a fused qkv projection and
//               writing o and d(qkv) in token order (no head split/merge copies)
//   adamwUpdate(Many), emaInPlace(Many)   in-place optimizer updates, several tensors per launch
//
// Saved tensors (mean/rstd, lse) are made in the current memory scope, like a composite's
// intermediates, and disposed by the backward that uses them; a forward that records no tape
// disposes them at once. Like intermediates, they do not survive the scope that made them, so
// run backward inside the scope of the forward (the training step's tidy).
// Inputs that are strided views or sit at an offset are copied first: the kernels read dense
// rows (vec4 rows for attention).
import {
  ATTENTION_MAX_DH, attentionBackwardDkv, attentionBackwardDkvRef, attentionBackwardDq, attentionBackwardDqRef,
  attentionForward, attentionForwardRef, packedQkvLayouts, type AttentionShape,
} from '../../kernels/attention.ts';
import {
  layerNormBackwardColumns, layerNormBackwardColumnsRef, layerNormBackwardDx, layerNormBackwardDxRef,
  layerNormForward, layerNormForwardRef, layerNormParts,
} from '../../kernels/layer-norm.ts';
import { adamw, adamwRef, ema, emaRef, MAX_SEGMENTS } from '../../kernels/optim.ts';
import type { KernelSource } from '../../kernels/index.ts';
import type { Backend, CustomKernel, Storage } from '../backend/backend.ts';
import { fmt, ShapeError } from '../errors.ts';
import { gradEnabled, noGrad } from '../runtime.ts';
import { numel, sameShape } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { apply, needFloat, type OpDef } from './op.ts';
import { cast, concat, copy, full, reshape, slice, sum } from './table.ts';

interface Launch { source: KernelSource; uniforms: ArrayBuffer; workgroups: [number, number, number] }

/**
 * A CustomKernel from launches run in order, each with its binding indices into the storage
 * list and its float64 twin, which the CPU backend calls on the same storages in the same order.
 */
function kernel(name: string, launches: readonly [Launch, readonly number[], (a: Float64Array[]) => void][]): CustomKernel {
  return {
    name,
    launches: () => launches.map(([l, bindings]) => ({ ...l, bindings })),
    reference: (arrays) => { for (const [, bindings, twin] of launches) twin(bindings.map((i) => arrays[i]!)); },
  };
}

/** t itself when it is contiguous at offset 0, else a dense copy made without taping. */
function dense(t: Tensor): { t: Tensor; owned: boolean } {
  if (t.isContiguous && t.offset === 0) return { t, owned: false };
  return { t: noGrad(() => copy(t)), owned: true };
}

/** Run f on dense versions of ts, disposing the copies afterwards. */
export function withDense<T>(ts: readonly Tensor[], f: (d: Tensor[]) => T): T {
  const d = ts.map(dense);
  try {
    return f(d.map((x) => x.t));
  } finally {
    for (const x of d) if (x.owned) x.t.dispose();
  }
}

/** The float storage type of a float tensor (kernels are built per storage type). */
const floatOf = (t: Tensor): 'f32' | 'f16' => (t.dtype === 'f16' ? 'f16' : 'f32');

/** Whether `apply` will record a tape node for these inputs (then the forward keeps its saved tensors). */
export const willTape = (inputs: readonly Tensor[]) => gradEnabled() && inputs.some((t) => t.requiresGrad);

// ---- layer norm -------------------------------------------------------------------------------

interface LayerNormAttrs {
  eps: number;
  hasWeight: boolean;
  hasBias: boolean;
  /** Written by the forward when taped, consumed (and disposed) by the backward. */
  saved: { mean: Tensor; rstd: Tensor } | null;
}

const layerNormDef: OpDef<LayerNormAttrs> = {
  name: 'layerNorm',
  infer(inputs) {
    const dtype = needFloat('layerNorm', inputs);
    const x = inputs[0]!;
    if (x.rank === 0 || x.size === 0) throw new ShapeError('layerNorm', 'x', [x.shape], `x ${fmt(x.shape)} must have at least one dim and one element`);
    return { shape: [...x.shape], dtype };
  },
  forward(out, inputs, attrs) {
    const D = out.shape.at(-1)!, rows = out.size / D;
    const shape = { rows, D, eps: attrs.eps, hasWeight: attrs.hasWeight, hasBias: attrs.hasBias, dtype: floatOf(out) };
    const mean = Tensor.empty([rows], 'f32', out.backend), rstd = Tensor.empty([rows], 'f32', out.backend);
    withDense(inputs, ([x, ...params]) => {
      const w = attrs.hasWeight ? params[0]! : x!, b = attrs.hasBias ? params[attrs.hasWeight ? 1 : 0]! : x!;
      out.backend.custom(
        kernel('layerNorm', [[layerNormForward(shape), [0, 1, 2, 3, 4, 5], (a) => layerNormForwardRef(a, shape)]]),
        [x!.storage, w.storage, b.storage, out.storage, mean.storage, rstd.storage],
      );
    });
    if (willTape(inputs)) attrs.saved = { mean, rstd };
    else { mean.dispose(); rstd.dispose(); }
  },
  // x̂ = (x − μ)·rstd, ĝ = g·w:  dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂));  dw = Σ_rows g·x̂;  db = Σ_rows g
  backward(g, inputs, _y, attrs, needs) {
    const saved = attrs.saved;
    if (!saved) throw new Error('layerNorm: backward without saved statistics (it runs once per graph)');
    attrs.saved = null;
    const x = inputs[0]!, D = x.shape.at(-1)!, rows = x.size / D;
    const wantDw = attrs.hasWeight && needs[1]!;
    const wantDb = attrs.hasBias && needs[attrs.hasWeight ? 2 : 1]!;
    const backend = x.backend;
    const dtype = floatOf(x);
    const dx = needs[0] ? Tensor.empty([...x.shape], dtype, backend) : null;
    // column sums come in row blocks, summed below (a single block is already the gradient)
    const parts = layerNormParts(rows);
    const partShape = parts === 1 ? [D] : [parts, D];
    const dwp = wantDw ? Tensor.empty(partShape, 'f32', backend) : null;
    const dbp = wantDb ? Tensor.empty(partShape, 'f32', backend) : null;
    withDense([g, x, ...(attrs.hasWeight ? [inputs[1]!] : [])], ([gd, xd, w]) => {
      const st: Storage[] = [gd!.storage, xd!.storage, (w ?? gd!).storage, saved.mean.storage, saved.rstd.storage];
      if (dx) {
        const p = { rows, D, hasWeight: attrs.hasWeight, dtype };
        backend.custom(kernel('layerNorm.dx', [[layerNormBackwardDx(p), [0, 1, 2, 3, 4, 5], (a) => layerNormBackwardDxRef(a, p)]]), [...st, dx.storage]);
      }
      if (dwp || dbp) {
        const p = { rows, D, wantDw, wantDb, dtype };
        // the output not wanted is bound to a stand-in of its own: writable bindings may not alias
        const stand = dwp && dbp ? null : Tensor.empty([4], 'f32', backend);
        backend.custom(kernel('layerNorm.dw_db', [[layerNormBackwardColumns(p), [0, 1, 3, 4, 5, 6], (a) => layerNormBackwardColumnsRef(a, p)]]),
          [...st, (dwp ?? stand)!.storage, (dbp ?? stand)!.storage]);
        stand?.dispose();
      }
    });
    saved.mean.dispose();
    saved.rstd.dispose();
    // the partials are f32 whatever the storage; the gradient takes the parameter's dtype
    const colSum = (t: Tensor | null) => {
      if (!t) return t;
      const s = parts === 1 ? t : sum(t, 0);
      if (s !== t) t.dispose();
      const c = cast(s, dtype);
      if (c !== s) s.dispose();
      return c;
    };
    const grads: (Tensor | null)[] = [dx];
    if (attrs.hasWeight) grads.push(colSum(dwp));
    if (attrs.hasBias) grads.push(colSum(dbp));
    return grads;
  },
};

/**
 * Layer normalisation over the last dim (Ba et al. 2016), fused: as torch.nn.functional.layer_norm,
 * y = (x − E[x]) / sqrt(Var[x] + eps) · weight + bias with the biased (two-pass) variance.
 * Same contract as composite `layerNorm`, which it is checked against.
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const D = x.shape.at(-1)!;
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p && (p.rank !== 1 || p.shape[0] !== D)) throw new ShapeError('layerNorm', name, [x.shape, p.shape], `${name} ${fmt(p.shape)} must be [${D}] for x ${fmt(x.shape)}`);
  }
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return apply(layerNormDef, inputs, { eps, hasWeight: !!weight, hasBias: !!bias, saved: null });
}

// ---- attention --------------------------------------------------------------------------------

interface AttentionAttrs {
  scale: number;
  /** Written by the forward when taped, consumed (and disposed) by the backward. */
  saved: { lse: Tensor } | null;
}

function attentionShape(q: Tensor, k: Tensor, scale: number): AttentionShape {
  const dh = q.shape.at(-1)!, nq = q.shape.at(-2)!, nk = k.shape.at(-2)!;
  return { heads: numel(q.shape.slice(0, -2)), nq, nk, dh, scale, dtype: floatOf(q) };
}

const attentionDef: OpDef<AttentionAttrs> = {
  name: 'attention',
  infer([q, k, v]) {
    const dtype = needFloat('attention', [q!, k!, v!]);
    const shapes = [q!.shape, k!.shape, v!.shape];
    const all = `q ${fmt(q!.shape)}, k ${fmt(k!.shape)}, v ${fmt(v!.shape)}`;
    if (q!.rank < 2 || k!.rank !== q!.rank || v!.rank !== q!.rank) throw new ShapeError('attention', 'q, k, v', shapes, `${all} must have the same rank, at least 2`);
    if (!sameShape(q!.shape.slice(0, -2), k!.shape.slice(0, -2)) || !sameShape(k!.shape, v!.shape)) {
      throw new ShapeError('attention', 'q, k, v', shapes, `${all} disagree: k and v must have the same shape, and q their leading dims and head dim (no broadcasting)`);
    }
    if (q!.shape.at(-1) !== k!.shape.at(-1)) throw new ShapeError('attention', 'q, k', shapes, `${all} disagree on the head dim`);
    const dh = q!.shape.at(-1)!;
    if (dh % 4 !== 0 || dh > ATTENTION_MAX_DH) throw new ShapeError('attention', 'q', shapes, `head dim ${dh} must be a multiple of 4 and at most ${ATTENTION_MAX_DH} here (attention() pads others)`);
    if (q!.size === 0 || k!.size === 0) throw new ShapeError('attention', 'q, k', shapes, `${all} must be non-empty`);
    return { shape: [...q!.shape], dtype };
  },
  forward(out, inputs, attrs) {
    const p = attentionShape(inputs[0]!, inputs[1]!, attrs.scale);
    const lse = Tensor.empty([p.heads, p.nq], 'f32', out.backend);
    withDense(inputs, ([q, k, v]) => {
      out.backend.custom(
        kernel('attention', [[attentionForward(p, { subgroupSize: out.backend.subgroupSize }), [0, 1, 2, 3, 4], (a) => attentionForwardRef(a, p)]]),
        [q!.storage, k!.storage, v!.storage, out.storage, lse.storage],
      );
    });
    if (willTape(inputs)) attrs.saved = { lse };
    else lse.dispose();
  },
  // with P = softmax(S), S = q·kᵀ·scale, D_i = Σ_c dO_ic·o_ic:
  //   dv = Pᵀ·dO;  dS = P ⊙ (dO·vᵀ − D);  dq = scale·dS·k;  dk = scale·dSᵀ·q
  backward(g, inputs, y, attrs, needs) {
    const saved = attrs.saved;
    if (!saved) throw new Error('attention: backward without the saved log-sum-exp (it runs once per graph)');
    attrs.saved = null;
    const [q, k] = inputs;
    const p = attentionShape(q!, k!, attrs.scale);
    const backend = q!.backend;
    const opts = { subgroupSize: backend.subgroupSize };
    const wantKv = needs[1]! || needs[2]!;
    const dq = Tensor.empty([...q!.shape], q!.dtype, backend);
    const delta = Tensor.empty([p.heads, p.nq], 'f32', backend);
    // dk and dv are the two halves of one buffer (the dk/dv kernel writes both through one binding)
    const dkv = wantKv ? Tensor.empty([2, ...k!.shape], k!.dtype, backend) : null;
    withDense([...inputs, y, g], ([qd, kd, vd, o, gd]) => {
      // storages: 0 q, 1 k, 2 v, 3 o, 4 dO, 5 lse, 6 dq, 7 delta, 8 dkv
      const launches: [Launch, number[], (a: Float64Array[]) => void][] = [
        [attentionBackwardDq(p, opts), [0, 1, 2, 3, 4, 5, 6, 7], (a) => attentionBackwardDqRef(a, p)],
      ];
      if (dkv) launches.push([attentionBackwardDkv(p, opts), [0, 1, 2, 4, 5, 7, 8], (a) => attentionBackwardDkvRef(a, p)]);
      const st = [qd!, kd!, vd!, o!, gd!, saved.lse, dq, delta].map((t) => t.storage);
      if (dkv) st.push(dkv.storage);
      backend.custom(kernel('attention.backward', launches), st);
    });
    saved.lse.dispose();
    delta.dispose();
    if (!needs[0]) dq.dispose();
    // both halves are views of dkv; a lone one is copied, so a kept gradient never pins the other
    const lone = needs[1] !== needs[2];
    const half = (i: number, want: boolean) => {
      if (!dkv || !want) return null;
      const part = slice(dkv, 0, i, i + 1);
      const h = reshape(part, [...k!.shape]);
      part.dispose();
      if (!lone) return h;
      const own = copy(h);
      h.dispose();
      return own;
    };
    const grads = [needs[0] ? dq : null, half(0, needs[1]!), half(1, needs[2]!)];
    dkv?.dispose();   // the halves keep its storage while they live
    return grads;
  },
};

/**
 * Scaled dot-product attention, softmax(q·kᵀ·scale)·v, fused (flash-style: the [Nq, Nk] scores are
 * never stored; Dao et al. 2022). q [..., Nq, Dh], k and v [..., Nk, Dh] with the same leading
 * dims; scale defaults to Dh^(−1/2). Head dims up to 128; one that is not a multiple of 4 is
 * zero-padded to the next (the zeros change no dot product) and the output sliced back.
 * Checked against composite `scaledDotProductAttention`.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, scale?: number): Tensor {
  const dh = q.shape.at(-1)!;
  const s = scale ?? 1 / Math.sqrt(dh);
  if (dh % 4 === 0 || dh > ATTENTION_MAX_DH || q.rank < 2 || k.rank !== q.rank || v.rank !== q.rank || k.shape.at(-1) !== dh || v.shape.at(-1) !== dh) {
    return apply(attentionDef, [q, k, v], { scale: s, saved: null });   // infer names any shape error
  }
  const pad = (t: Tensor) => concat([t, full([...t.shape.slice(0, -1), 4 - (dh % 4)], 0, t.backend, t.dtype)], -1);
  const out = apply(attentionDef, [pad(q), pad(k), pad(v)], { scale: s, saved: null });
  return slice(out, -1, 0, dh);
}

// ---- attention over a fused qkv projection ------------------------------------------------------

interface QkvAttrs {
  heads: number;
  scale: number;
  /** Written by the forward when taped, consumed (and disposed) by the backward. */
  saved: { lse: Tensor } | null;
}

/** Kernel shape and layouts for qkv [B, N, 3·heads·Dh] (see packedQkvLayouts). */
function qkvShape(qkv: Tensor, heads: number, scale: number): AttentionShape {
  const [B, N, C] = qkv.shape as [number, number, number];
  const dh = C / 3 / heads;
  return { heads: B * heads, nq: N, nk: N, dh, scale, dtype: floatOf(qkv), layouts: packedQkvLayouts({ heads: B * heads, n: N, dh, hpb: heads }) };
}

const attentionQkvDef: OpDef<QkvAttrs> = {
  name: 'attentionQkv',
  infer([qkv], { heads }) {
    const dtype = needFloat('attentionQkv', [qkv!]);
    const x = qkv!;
    if (x.rank !== 3 || x.size === 0) throw new ShapeError('attentionQkv', 'qkv', [x.shape], `qkv ${fmt(x.shape)} must be a non-empty [B, N, 3·heads·Dh]`);
    const C = x.shape[2]!;
    if (!Number.isInteger(heads) || heads < 1 || C % (3 * heads) !== 0) throw new ShapeError('attentionQkv', 'heads', [x.shape], `qkv ${fmt(x.shape)}: its last dim ${C} is not 3 × ${heads} heads × a head dim`);
    const dh = C / 3 / heads;
    if (dh % 4 !== 0 || dh > ATTENTION_MAX_DH) throw new ShapeError('attentionQkv', 'qkv', [x.shape], `head dim ${dh} must be a multiple of 4 and at most ${ATTENTION_MAX_DH} (attention() takes any)`);
    return { shape: [x.shape[0]!, x.shape[1]!, C / 3], dtype };
  },
  forward(out, [qkv], attrs) {
    const p = qkvShape(qkv!, attrs.heads, attrs.scale);
    const lse = Tensor.empty([p.heads, p.nq], 'f32', out.backend);
    withDense([qkv!], ([x]) => {
      // q, k and v are three read-only bindings of the one qkv buffer
      out.backend.custom(
        kernel('attentionQkv', [[attentionForward(p, { subgroupSize: out.backend.subgroupSize }), [0, 0, 0, 1, 2], (a) => attentionForwardRef(a, p)]]),
        [x!.storage, out.storage, lse.storage],
      );
    });
    if (willTape([qkv!])) attrs.saved = { lse };
    else lse.dispose();
  },
  // as attention's backward; dq, dk and dv land in their columns of one dqkv shaped like qkv
  backward(g, [qkv], y, attrs) {
    const saved = attrs.saved;
    if (!saved) throw new Error('attentionQkv: backward without the saved log-sum-exp (it runs once per graph)');
    attrs.saved = null;
    const p = qkvShape(qkv!, attrs.heads, attrs.scale);
    const backend = qkv!.backend;
    const opts = { subgroupSize: backend.subgroupSize };
    const dqkv = Tensor.empty([...qkv!.shape], qkv!.dtype, backend);
    const delta = Tensor.empty([p.heads, p.nq], 'f32', backend);
    withDense([qkv!, y, g], ([x, o, gd]) => {
      // storages: 0 qkv, 1 o, 2 dO, 3 lse, 4 dqkv, 5 delta
      backend.custom(kernel('attentionQkv.backward', [
        [attentionBackwardDq(p, opts), [0, 0, 0, 1, 2, 3, 4, 5], (a) => attentionBackwardDqRef(a, p)],
        [attentionBackwardDkv(p, opts), [0, 0, 0, 2, 3, 5, 4], (a) => attentionBackwardDkvRef(a, p)],
      ]), [x!.storage, o!.storage, gd!.storage, saved.lse.storage, dqkv.storage, delta.storage]);
    });
    saved.lse.dispose();
    delta.dispose();
    return [dqkv];
  },
};

/**
 * Multi-head attention straight from a fused projection: qkv [B, N, 3·heads·Dh] laid out as
 * [B, N, 3, heads, Dh] (timm's and the official I-JEPA's qkv Linear) → [B, N, heads·Dh], the
 * heads merged back in token order. Same math as attention() on the split heads, but the kernels
 * read q, k, v in place and write o and d(qkv) in token order, so the head split, the merge and
 * their gradients cost no copies. Head dims: multiples of 4 up to 128.
 */
export function attentionQkv(qkv: Tensor, heads: number, scale?: number): Tensor {
  const dh = qkv.shape.at(-1)! / 3 / heads;
  return apply(attentionQkvDef, [qkv], { heads, scale: scale ?? 1 / Math.sqrt(dh), saved: null });
}

// ---- optimizer updates ------------------------------------------------------------------------

function checkInPlace(op: string, what: readonly [string, Tensor][]): void {
  const [, first] = what[0]!;
  for (const [name, t] of what) {
    if (t.dtype !== 'f32') throw new ShapeError(op, name, [t.shape], `${name} must be f32, got ${t.dtype}`);
    if (!sameShape(t.shape, first.shape)) throw new ShapeError(op, name, what.map(([, x]) => x.shape), `${name} ${fmt(t.shape)} must have the shape of ${what[0]![0]} ${fmt(first.shape)}`);
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
  if (!t.isContiguous || t.offset !== 0) throw new Error(`${op}: ${name} ${fmt(t.shape)} is updated in place, so it must be a dense tensor, not a view`);
  if (t.storage.refs > 1) {
    const own = noGrad(() => copy(t));
    t.assign(own);
    own.dispose();
  }
}

/** One AdamW update's hyper-parameters: lr, decoupled weight decay, betas, eps and the parameter's step count (from 1). */
export interface AdamwStep { lr: number; wd: number; b1: number; b2: number; eps: number; step: number }
/** One tensor's AdamW update: parameter, gradient, moments, and its step. */
export interface AdamwItem { p: Tensor; g: Tensor; m: Tensor; v: Tensor; o: AdamwStep }

/**
 * How many tensors one optimizer launch may update when each binds `perTensor` storage buffers:
 * the device's per-stage limit (8 by default, 16 on lavapipe) allows that many, up to the
 * kernels' MAX_SEGMENTS. The CPU twin takes any number.
 */
function segmentsPerLaunch(b: Backend, perTensor: number): number {
  return Math.max(1, Math.min(MAX_SEGMENTS, Math.floor(b.maxStorageBuffersPerStage / perTensor)));
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
 * β1, β2 and ε must be the same for all items (one optimizer's); lr, wd and step may differ.
 */
export function adamwUpdateMany(items: readonly AdamwItem[]): void {
  const live = items.filter((it) => it.p.size > 0);
  const first = live[0];
  if (!first) return;
  for (const { p, g, m, v, o } of live) {
    checkInPlace('adamwUpdate', [['p', p], ['g', g], ['m', m], ['v', v]]);
    if (new Set([p, m, v].map((t) => t.storage)).size !== 3) throw new Error('adamwUpdate: p, m and v must be distinct tensors');
    if (p.backend !== first.p.backend) throw new Error(`adamwUpdate: ${p.name ?? fmt(p.shape)} lives on ${p.backend.name}, ${first.p.name ?? fmt(first.p.shape)} on ${first.p.backend.name}`);
    if (o.b1 !== first.o.b1 || o.b2 !== first.o.b2 || o.eps !== first.o.eps) throw new Error('adamwUpdate: every tensor of one call needs the same betas and eps');
    for (const [name, t] of [['p', p], ['m', m], ['v', v]] as const) writable('adamwUpdate', name, t);
  }
  const backend = first.p.backend;
  const shared = { b1: first.o.b1, b2: first.o.b2, eps: first.o.eps };
  inChunks(live, segmentsPerLaunch(backend, 4), (chunk) => {
    const segs = chunk.map(({ p, o }) => ({ n: p.size, lr: o.lr, wd: o.wd, step: o.step }));
    backend.setLabel(`adamwUpdate(${chunk.map(({ p }) => p.name ?? fmt(p.shape)).join(', ')})`);
    withDense(chunk.map(({ g }) => g), (gs) => {
      const storages = chunk.flatMap(({ p, m, v }, k) => [p.storage, gs[k]!.storage, m.storage, v.storage]);
      backend.custom(kernel('adamw', [[adamw(segs, shared), storages.map((_, i) => i), (a) => adamwRef(a, segs, shared)]]), storages);
    });
  });
}

/** One AdamW step on one tensor: adamwUpdateMany with one item. */
export function adamwUpdate(p: Tensor, g: Tensor, m: Tensor, v: Tensor, o: AdamwStep): void {
  adamwUpdateMany([{ p, g, m, v, o }]);
}

/** Exponential moving averages in place, several tensors per launch: target_i ← m·target_i + (1 − m)·source_i. */
export function emaInPlaceMany(targets: readonly Tensor[], sources: readonly Tensor[], momentum: number): void {
  if (targets.length !== sources.length) throw new Error(`emaInPlace: ${targets.length} targets but ${sources.length} sources`);
  const pairs = targets.map((t, i) => [t, sources[i]!] as const).filter(([t]) => t.size > 0);
  const first = pairs[0];
  if (!first) return;
  for (const [t, s] of pairs) {
    checkInPlace('emaInPlace', [['target', t], ['source', s]]);
    if (t.backend !== first[0].backend) throw new Error(`emaInPlace: ${t.name ?? fmt(t.shape)} lives on ${t.backend.name}, ${first[0].name ?? fmt(first[0].shape)} on ${first[0].backend.name}`);
    writable('emaInPlace', 'target', t);
  }
  const backend = first[0].backend;
  inChunks(pairs, segmentsPerLaunch(backend, 2), (chunk) => {
    const ns = chunk.map(([t]) => t.size);
    backend.setLabel(`emaInPlace(${chunk.map(([t]) => t.name ?? fmt(t.shape)).join(', ')})`);
    withDense(chunk.map(([, s]) => s), (ss) => {
      const storages = chunk.flatMap(([t], k) => [t.storage, ss[k]!.storage]);
      backend.custom(kernel('ema', [[ema(ns, momentum), storages.map((_, i) => i), (a) => emaRef(a, ns, momentum)]]), storages);
    });
  });
}

/** Exponential moving average in place on one tensor: emaInPlaceMany with one pair. */
export function emaInPlace(target: Tensor, source: Tensor, momentum: number): void {
  emaInPlaceMany([target], [source], momentum);
}
