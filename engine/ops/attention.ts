// attention: scaled dot-product attention as fused ops. `attention` is flash-style: the forward
// saves the log-sum-exp; the backward recomputes the scores (a dq kernel over keys per query
// row, then a dk/dv kernel over queries per key row). `attentionQkv` runs the same kernels
// reading q, k, v in place from a fused qkv projection and writing o and d(qkv) in token order
// (no head split/merge copies). The composite in composite.ts stays the reference.
// The saved log-sum-exp lives in the current memory scope and is disposed by the backward that
// uses it (or at once when no tape is recorded): run backward inside the forward's scope.
import { ATTENTION_MAX_DH, attentionBackwardDkv, attentionBackwardDkvRef, attentionBackwardDq, attentionBackwardDqRef, attentionForward,
  attentionForwardRef, packedQkvLayouts, type AttentionShape } from '../../kernels/attention.ts';
import { fmt, ShapeError } from '../errors.ts';
import { numel, sameShape } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { kernel, type Launch } from '../../kernels/index.ts';
import { floatOf, withDense } from './dense.ts';
import { apply, needFloat, type OpDef } from './op.ts';
import { concat, copy, full, reshape, slice } from './table.ts';

// ---- attention --------------------------------------------------------------------------------

interface AttentionAttrs {
  scale: number;
  /** Written by the forward when taped, consumed (and disposed) by the backward. */
}

function attentionShape(q: Tensor, k: Tensor, scale: number): AttentionShape {
  const dh = q.shape.at(-1)!, nq = q.shape.at(-2)!, nk = k.shape.at(-2)!;
  return { heads: numel(q.shape.slice(0, -2)), nq, nk, dh, scale, dtype: floatOf(q) };
}

const attentionDef: OpDef<[q: Tensor, k: Tensor, v: Tensor], AttentionAttrs, { lse: Tensor; }> = {
  name: 'attention',
  infer([q, k, v]) {
    const dtype = needFloat('attention', [q, k, v]);
    const shapes = [q.shape, k.shape, v.shape];
    const all = `q ${fmt(q.shape)}, k ${fmt(k.shape)}, v ${fmt(v.shape)}`;
    if (q.rank < 2 || k.rank !== q.rank || v.rank !== q.rank) {
      throw new ShapeError('attention', 'q, k, v', shapes, `${all} must have the same rank, at least 2`);
    }
    if (!sameShape(q.shape.slice(0, -2), k.shape.slice(0, -2)) || !sameShape(k.shape, v.shape)) {
      throw new ShapeError('attention', 'q, k, v', shapes,
        `${all} disagree: k and v must have the same shape, and q their leading dims and head dim (no broadcasting)`);
    }
    if (q.shape.at(-1) !== k.shape.at(-1)) throw new ShapeError('attention', 'q, k', shapes, `${all} disagree on the head dim`);
    const dh = q.shape.at(-1)!;
    if (dh % 4 !== 0 || dh > ATTENTION_MAX_DH) {
      throw new ShapeError('attention', 'q', shapes,
        `head dim ${dh} must be a multiple of 4 and at most ${ATTENTION_MAX_DH} here (attention() pads others)`);
    }
    if (q.size === 0 || k.size === 0) throw new ShapeError('attention', 'q, k', shapes, `${all} must be non-empty`);
    return { shape: [...q.shape], dtype };
  },
  forward(out, inputs, attrs) {
    const p = attentionShape(inputs[0], inputs[1], attrs.scale);
    const lse = Tensor.empty([p.heads, p.nq], 'f32', out.backend);
    withDense(inputs, ([q, k, v]) => {
      out.backend.run(
        kernel('attention', [[attentionForward(p, { subgroupSize: out.backend.subgroupSize }), [0, 1, 2, 3, 4], (a) => attentionForwardRef(a, p)]]),
        [q.storage, k.storage, v.storage, out.storage, lse.storage],
      );
    });
    return { lse };
  },
  // with P = softmax(S), S = q·kᵀ·scale, D_i = Σ_c dO_ic·o_ic:
  //   dv = Pᵀ·dO;  dS = P ⊙ (dO·vᵀ − D);  dq = scale·dS·k;  dk = scale·dSᵀ·q
  backward(g, inputs, y, attrs, needs, saved) {
    const [q, k] = inputs;
    const p = attentionShape(q, k, attrs.scale);
    const backend = q.backend;
    const opts = { subgroupSize: backend.subgroupSize };
    const wantKv = needs[1] || needs[2];
    const dq = Tensor.empty([...q.shape], q.dtype, backend);
    const delta = Tensor.empty([p.heads, p.nq], 'f32', backend);
    // dk and dv are the two halves of one buffer (the dk/dv kernel writes both through one binding)
    const dkv = wantKv ? Tensor.empty([2, ...k.shape], k.dtype, backend) : null;
    withDense([...inputs, y, g], ([qd, kd, vd, o, gd]) => {
      // storages: 0 q, 1 k, 2 v, 3 o, 4 dO, 5 lse, 6 dq, 7 delta, 8 dkv
      const launches: [Launch, number[], (a: Float64Array[]) => void][] = [
        [attentionBackwardDq(p, opts), [0, 1, 2, 3, 4, 5, 6, 7], (a) => attentionBackwardDqRef(a, p)],
      ];
      if (dkv) launches.push([attentionBackwardDkv(p, opts), [0, 1, 2, 4, 5, 7, 8], (a) => attentionBackwardDkvRef(a, p)]);
      const st = [qd, kd, vd, o, gd, saved.lse, dq, delta].map((t) => t.storage);
      if (dkv) st.push(dkv.storage);
      backend.run(kernel('attention.backward', launches), st);
    });
    saved.lse.dispose();
    delta.dispose();
    if (!needs[0]) dq.dispose();
    // both halves are views of dkv; a lone one is copied, so a kept gradient never pins the other
    const lone = needs[1] !== needs[2];
    const half = (i: number, want: boolean) => {
      if (!dkv || !want) return null;
      const part = slice(dkv, 0, i, i + 1);
      const h = reshape(part, [...k.shape]);
      part.dispose();
      if (!lone) return h;
      const own = copy(h);
      h.dispose();
      return own;
    };
    const grads: [Tensor | null, Tensor | null, Tensor | null] = [needs[0] ? dq : null, half(0, needs[1]), half(1, needs[2])];
    dkv?.dispose(); // the halves keep its storage while they live
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
  if (dh % 4 === 0 || dh > ATTENTION_MAX_DH || q.rank < 2 || k.rank !== q.rank || v.rank !== q.rank || k.shape.at(-1) !== dh ||
    v.shape.at(-1) !== dh)
  {
    return apply(attentionDef, [q, k, v], { scale: s }); // infer names any shape error
  }
  const pad = (t: Tensor) => concat([t, full([...t.shape.slice(0, -1), 4 - (dh % 4)], 0, t.backend, t.dtype)], -1);
  const out = apply(attentionDef, [pad(q), pad(k), pad(v)], { scale: s });
  return slice(out, -1, 0, dh);
}

// ---- attention over a fused qkv projection ------------------------------------------------------

interface QkvAttrs {
  heads: number;
  scale: number;
  /** Written by the forward when taped, consumed (and disposed) by the backward. */
}

/** Kernel shape and layouts for qkv [B, N, 3·heads·Dh] (see packedQkvLayouts). */
function qkvShape(qkv: Tensor, heads: number, scale: number): AttentionShape {
  const [B, N, C] = qkv.shape as [number, number, number];
  const dh = C / 3 / heads;
  return { heads: B * heads, nq: N, nk: N, dh, scale, dtype: floatOf(qkv), layouts: packedQkvLayouts({ heads: B * heads, n: N, dh, hpb: heads }) };
}

const attentionQkvDef: OpDef<[qkv: Tensor], QkvAttrs, { lse: Tensor; }> = {
  name: 'attentionQkv',
  infer([qkv], { heads }) {
    const dtype = needFloat('attentionQkv', [qkv]);
    const x = qkv;
    if (x.rank !== 3 || x.size === 0) {
      throw new ShapeError('attentionQkv', 'qkv', [x.shape], `qkv ${fmt(x.shape)} must be a non-empty [B, N, 3·heads·Dh]`);
    }
    const C = x.shape[2]!;
    if (!Number.isInteger(heads) || heads < 1 || C % (3 * heads) !== 0) {
      throw new ShapeError('attentionQkv', 'heads', [x.shape], `qkv ${fmt(x.shape)}: its last dim ${C} is not 3 × ${heads} heads × a head dim`);
    }
    const dh = C / 3 / heads;
    if (dh % 4 !== 0 || dh > ATTENTION_MAX_DH) {
      throw new ShapeError('attentionQkv', 'qkv', [x.shape],
        `head dim ${dh} must be a multiple of 4 and at most ${ATTENTION_MAX_DH} (attention() takes any)`);
    }
    return { shape: [x.shape[0]!, x.shape[1]!, C / 3], dtype };
  },
  forward(out, [qkv], attrs) {
    const p = qkvShape(qkv, attrs.heads, attrs.scale);
    const lse = Tensor.empty([p.heads, p.nq], 'f32', out.backend);
    withDense([qkv], ([x]) => {
      // q, k and v are three read-only bindings of the one qkv buffer
      out.backend.run(
        kernel('attentionQkv', [[attentionForward(p, { subgroupSize: out.backend.subgroupSize }), [0, 0, 0, 1, 2],
          (a) => attentionForwardRef(a, p)]]),
        [x.storage, out.storage, lse.storage],
      );
    });
    return { lse };
  },
  // as attention's backward; dq, dk and dv land in their columns of one dqkv shaped like qkv
  backward(g, [qkv], y, attrs, _needs, saved) {
    const p = qkvShape(qkv, attrs.heads, attrs.scale);
    const backend = qkv.backend;
    const opts = { subgroupSize: backend.subgroupSize };
    const dqkv = Tensor.empty([...qkv.shape], qkv.dtype, backend);
    const delta = Tensor.empty([p.heads, p.nq], 'f32', backend);
    withDense([qkv, y, g], ([x, o, gd]) => {
      // storages: 0 qkv, 1 o, 2 dO, 3 lse, 4 dqkv, 5 delta
      backend.run(kernel('attentionQkv.backward', [
        [attentionBackwardDq(p, opts), [0, 0, 0, 1, 2, 3, 4, 5], (a) => attentionBackwardDqRef(a, p)],
        [attentionBackwardDkv(p, opts), [0, 0, 0, 2, 3, 5, 4], (a) => attentionBackwardDkvRef(a, p)],
      ]), [x.storage, o.storage, gd.storage, saved.lse.storage, dqkv.storage, delta.storage]);
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
  return apply(attentionQkvDef, [qkv], { heads, scale: scale ?? 1 / Math.sqrt(dh) });
}
