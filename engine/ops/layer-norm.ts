// layer-norm: layerNorm as one fused op: one invocation per row (two-pass variance), saving mean
// and rstd; fused dx, and dw/db as column sums over blocks of rows (no atomics). The composite in
// composite.ts stays the reference it is tested against.
// Saved tensors are made in the current memory scope, like a composite's intermediates, and
// disposed by the backward that uses them; a forward that records no tape disposes them at once.
// Like intermediates, they do not survive the scope that made them, so run backward inside the
// scope of the forward (the training step's tidy).
import { layerNormBackwardColumns, layerNormBackwardColumnsRef, layerNormBackwardDx, layerNormBackwardDxRef, layerNormForward, layerNormForwardRef,
  layerNormParts } from '../../kernels/layer-norm.ts';
import type { Storage } from '../backend/backend.ts';
import { fmt, ShapeError } from '../errors.ts';
import { Tensor } from '../tensor.ts';
import { kernel } from '../../kernels/index.ts';
import { floatOf, withDense } from './dense.ts';
import { apply, needFloat, type OpDef } from './op.ts';
import { cast, sum } from './table.ts';

// ---- layer norm -------------------------------------------------------------------------------

interface LayerNormAttrs {
  eps: number;
  hasWeight: boolean;
  hasBias: boolean;
  /** Written by the forward when taped, consumed (and disposed) by the backward. */
}

const layerNormDef: OpDef<[x: Tensor, ...params: Tensor[]], LayerNormAttrs, { mean: Tensor; rstd: Tensor; }> = {
  name: 'layerNorm',
  infer(inputs) {
    const dtype = needFloat('layerNorm', inputs);
    const x = inputs[0];
    if (x.rank === 0 || x.size === 0) {
      throw new ShapeError('layerNorm', 'x', [x.shape], `x ${fmt(x.shape)} must have at least one dim and one element`);
    }
    return { shape: [...x.shape], dtype };
  },
  forward(out, inputs, attrs) {
    const D = out.shape.at(-1)!, rows = out.size / D;
    const shape = { rows, D, eps: attrs.eps, hasWeight: attrs.hasWeight, hasBias: attrs.hasBias, dtype: floatOf(out) };
    const mean = Tensor.empty([rows], 'f32', out.backend), rstd = Tensor.empty([rows], 'f32', out.backend);
    withDense(inputs, ([x, ...params]) => {
      const w = attrs.hasWeight ? params[0]! : x, b = attrs.hasBias ? params[attrs.hasWeight ? 1 : 0]! : x;
      out.backend.run(
        kernel('layerNorm', [[layerNormForward(shape), [0, 1, 2, 3, 4, 5], (a) => layerNormForwardRef(a, shape)]]),
        [x.storage, w.storage, b.storage, out.storage, mean.storage, rstd.storage],
      );
    });
    return { mean, rstd };
  },
  // x̂ = (x − μ)·rstd, ĝ = g·w:  dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂));  dw = Σ_rows g·x̂;  db = Σ_rows g
  backward(g, inputs, _y, attrs, needs, saved) {
    const x = inputs[0], D = x.shape.at(-1)!, rows = x.size / D;
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
      const st: Storage[] = [gd.storage, xd.storage, (w ?? gd).storage, saved.mean.storage, saved.rstd.storage];
      if (dx) {
        const p = { rows, D, hasWeight: attrs.hasWeight, dtype };
        backend.run(kernel('layerNorm.dx', [[layerNormBackwardDx(p), [0, 1, 2, 3, 4, 5], (a) => layerNormBackwardDxRef(a, p)]]), [...st, dx.storage]);
      }
      if (dwp || dbp) {
        const p = { rows, D, wantDw, wantDb, dtype };
        // the output not wanted is bound to a stand-in of its own: writable bindings may not alias
        const stand = dwp && dbp ? null : Tensor.empty([4], 'f32', backend);
        backend.run(kernel('layerNorm.dw_db', [[layerNormBackwardColumns(p), [0, 1, 3, 4, 5, 6], (a) => layerNormBackwardColumnsRef(a, p)]]), [...st,
          (dwp ?? stand)!.storage, (dbp ?? stand)!.storage]);
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
    const grads: [Tensor | null, ...(Tensor | null)[]] = [dx];
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
    if (p && (p.rank !== 1 || p.shape[0] !== D)) {
      throw new ShapeError('layerNorm', name, [x.shape, p.shape], `${name} ${fmt(p.shape)} must be [${D}] for x ${fmt(x.shape)}`);
    }
  }
  const inputs: [Tensor, ...Tensor[]] = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return apply(layerNormDef, inputs, { eps, hasWeight: !!weight, hasBias: !!bias });
}
