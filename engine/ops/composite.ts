// composite: ops written in terms of primitives. They need no backward code: the tape
// differentiates the primitives they are made of (micrograd's sub/div, tinygrad's layernorm).
import { fmt, ShapeError } from '../errors.ts';
import { normDim, type Shape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { abs, add, concat, matmul, mul, permute, reshape, rsqrt, softmax, sub, sum, where, lt } from './table.ts';

/** Elements per reduced slice; validates the axes first, so an error names `op`, not `sum`. */
function reducedCount(op: string, x: Tensor, axes?: number | readonly number[]): number {
  if (axes === undefined) return x.size;
  const list = typeof axes === 'number' ? [axes] : axes;
  return list.reduce((n, d) => n * x.shape[normDim(op, d, x.rank, x.shape)]!, 1);
}

/** Arithmetic mean over `axes` (all when omitted). */
export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const n = reducedCount('mean', x, axes);
  return mul(sum(x, axes, keepdim), 1 / n);
}

/**
 * Variance over `axes` with Bessel's `correction` (0 = biased, as LayerNorm; 1 = torch.var's
 * default). Two-pass form Σ(x − mean)², not E[x²] − E[x]², which cancels when |mean| ≫ std.
 */
export function variance(x: Tensor, axes?: number | readonly number[], keepdim = false, correction = 0): Tensor {
  const n = reducedCount('variance', x, axes);
  const xc = sub(x, mean(x, axes, true));
  return mul(sum(mul(xc, xc), axes, keepdim), 1 / Math.max(0, n - correction));
}

/** A view with dims d0 and d1 swapped (negative dims count from the end). */
export function transpose(x: Tensor, d0: number, d1: number): Tensor {
  const a = normDim('transpose', d0, x.rank, x.shape), b = normDim('transpose', d1, x.rank, x.shape);
  const order = x.shape.map((_, i) => i);
  order[a] = b;
  order[b] = a;
  return permute(x, order);
}

/** A view with a new size-1 dim inserted at `dim`. */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim('unsqueeze', dim, x.rank + 1, x.shape);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

/** A view without size-1 dim `dim` (throws when that dim is not 1). */
export function squeeze(x: Tensor, dim: number): Tensor {
  const d = normDim('squeeze', dim, x.rank, x.shape);
  if (x.shape[d] !== 1) throw new ShapeError('squeeze', 'dim', [x.shape], `dim ${dim} of x ${fmt(x.shape)} has size ${x.shape[d]}, not 1`);
  return reshape(x, x.shape.filter((_, i) => i !== d));
}

/** Merge dims start..end (inclusive) into one. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normDim('flatten', start, x.rank, x.shape), e = normDim('flatten', end, x.rank, x.shape);
  const merged = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/** Join tensors of equal shape along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  const first = tensors[0];
  if (!first) throw new ShapeError('stack', 'tensors', [], 'needs at least one tensor');
  const d = normDim('stack', dim, first.rank + 1, first.shape);
  return concat(tensors.map((t) => unsqueeze(t, d)), d);
}

/**
 * Layer normalisation over the last dim (Ba et al. 2016), as torch.nn.functional.layer_norm:
 * y = (x − E[x]) / sqrt(Var[x] + eps) · weight + bias, biased variance. weight/bias optional.
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const D = x.shape.at(-1)!;
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p && (p.rank !== 1 || p.shape[0] !== D)) {
      throw new ShapeError('layerNorm', name, [x.shape, p.shape], `${name} ${fmt(p.shape)} must be [${D}] for x ${fmt(x.shape)}`);
    }
  }
  const xc = sub(x, mean(x, -1, true));
  const rstd = rsqrt(add(mean(mul(xc, xc), -1, true), eps));
  let y = mul(xc, rstd);
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

/** y = x·Wᵀ + b for a PyTorch-layout weight [out, in]; x [..., in] → [..., out]. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const inF = x.shape.at(-1)!;
  if (weight.rank !== 2 || weight.shape[1] !== inF) {
    throw new ShapeError('linear', 'weight', [x.shape, weight.shape], `weight ${fmt(weight.shape)} must be [out, ${inF}] for x ${fmt(x.shape)}`);
  }
  const lead = x.shape.slice(0, -1);
  const y = matmul(reshape(x, [-1, inF]), weight, { transB: true }); // [rows, out]
  const yb = bias ? add(y, bias) : y;
  return reshape(yb, [...lead, weight.shape[0]!]);
}

/**
 * Scaled dot-product attention, softmax(q·kᵀ·scale)·v, composed from primitives: the reference
 * the fused kernel is checked against. q, k, v: [..., N, Dh]; scale defaults to Dh^(−1/2).
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, scale?: number): Tensor {
  const Dh = q.shape.at(-1)!;
  if (k.shape.at(-1) !== Dh || v.shape.at(-2) !== k.shape.at(-2)) {
    throw new ShapeError('scaledDotProductAttention', 'q, k, v', [q.shape, k.shape, v.shape],
      `q ${fmt(q.shape)}, k ${fmt(k.shape)}, v ${fmt(v.shape)} disagree: q and k need the same last dim, k and v the same length`);
  }
  const scores = mul(matmul(q, k, { transB: true }), scale ?? 1 / Math.sqrt(Dh)); // [..., Nq, Nk]
  return matmul(softmax(scores, -1), v); // [..., Nq, Dv]
}

/**
 * Smooth L1 (Huber with β = 1), mean over every element, as F.smooth_l1_loss:
 * 0.5·d² where |d| < 1, else |d| − 0.5, with d = x − y.
 */
export function smoothL1(x: Tensor, y: Tensor): Tensor {
  if (x.shape.length !== y.shape.length || x.shape.some((v, i) => v !== y.shape[i])) {
    throw new ShapeError('smoothL1', 'target', [x.shape, y.shape], `input ${fmt(x.shape)} and target ${fmt(y.shape)} must have the same shape`);
  }
  const d = sub(x, y);
  const ad = abs(d);
  return mean(where(lt(ad, 1), mul(mul(d, d), 0.5), sub(ad, 0.5)));
}

export type { Shape };
