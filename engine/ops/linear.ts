// linear: y = act(x·Wᵀ + b) + residual as one matmul whose epilogue adds the bias, applies the
// activation and adds the residual while it stores y (kernels/matmul.wgsl.ts). A ViT block's
// four Linear layers are all of this form (qkv: +b; proj: +b +x; fc1: gelu(· + b); fc2: +b +y),
// so the composed path's separate bias, GELU and residual passes over [rows, out] disappear.
// Backward, with z = x·Wᵀ + b:  dz = g·gelu'(z) (or g);  dx = dz·W;  dW = dzᵀ·x;  db = Σ_rows dz;
// dresidual = g. With GELU the forward keeps z (the kernel writes it beside y) for the backward,
// in the current memory scope like any intermediate (see layer-norm.ts).
// The composite `linearComposite` (composite.ts) is the reference this is tested against.
import { fmt, ShapeError } from '../errors.ts';
import { Tensor } from '../tensor.ts';
import { apply, needFloat, type OpDef } from './op.ts';
import { withDense } from './dense.ts';
import { geluGrad, matmul, reshape, runMatmul, sum } from './table.ts';

/** The activation `linear` can fuse after x·Wᵀ + b. */
export type Activation = 'none' | 'gelu';

interface LinearAttrs {
  activation: Activation;
  hasBias: boolean;
  hasResidual: boolean;
  /** The pre-activation z, written by a taped GELU forward and consumed by its backward. */
}

const linearDef: OpDef<[x: Tensor, weight: Tensor, ...biasAndResidual: Tensor[]], LinearAttrs, { pre?: Tensor; }> = {
  name: 'linear',
  // inputs: x [rows, in], weight [out, in], then bias [out] and residual [rows, out] when present
  infer(inputs) {
    const dtype = needFloat('linear', inputs);
    const [x, w] = inputs;
    return { shape: [x.shape[0]!, w.shape[0]!], dtype };
  },
  forward(out, inputs, attrs, taped) {
    const [rows, N] = out.shape as [number, number];
    const K = inputs[0].shape[1]!;
    const gelu = attrs.activation === 'gelu';
    const pre = gelu && taped ? Tensor.empty([rows, N], out.dtype, out.backend) : null;
    try {
      withDense(inputs, ([x, w, ...rest]) => {
        const bias = attrs.hasBias ? rest[0] : undefined;
        const residual = attrs.hasResidual ? rest[attrs.hasBias ? 1 : 0] : undefined;
        runMatmul(out.backend, x.storage, 0, w.storage, 0, out.storage, { batch: 1, M: rows, N, K, transA: false, transB: true, strideA: 0,
          strideB: 0 }, { bias: bias?.storage, residual: residual?.storage, gelu, pre: pre?.storage });
      });
    } catch (e) {
      pre?.dispose(); // apply disposes the output; the pre-activation is ours
      throw e;
    }
    return pre ? { pre } : {};
  },
  backward(g, inputs, _y, attrs, needs, saved) {
    const [x, w] = inputs;
    let dz = g;
    if (attrs.activation === 'gelu') {
      dz = geluGrad(saved.pre!, g);
      saved.pre!.dispose(); // large ([rows, N]): released before the matmuls below
    }
    const grads: [Tensor | null, Tensor | null, ...(Tensor | null)[]] = [
      needs[0] ? matmul(dz, w) : null, // [rows, in]
      needs[1] ? matmul(dz, x, { transA: true }) : null, // [out, in]
    ];
    if (attrs.hasBias) grads.push(needs[2] ? sum(dz, 0) : null);
    if (attrs.hasResidual) grads.push(needs[grads.length] ? g : null);
    return grads;
  },
};

/** What `linear` fuses into its matmul: an activation and a residual added last. */
export interface LinearOptions {
  /** Applied to x·Wᵀ + b before the residual is added. */
  activation?: Activation;
  /** Added last, after the activation: y = act(x·Wᵀ + b) + residual. Shape [..., out] like y. */
  residual?: Tensor | null;
}

/**
 * y = act(x·Wᵀ + b) + residual for a PyTorch-layout weight [out, in]; x [..., in] → [..., out].
 * One fused matmul (see the file comment); bias, activation and residual are each optional.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null, opts: LinearOptions = {}): Tensor {
  const inF = x.shape.at(-1);
  if (x.rank === 0 || inF === undefined) throw new ShapeError('linear', 'x', [x.shape], `x ${fmt(x.shape)} needs at least one dim (the features)`);
  if (weight.rank !== 2 || weight.shape[1] !== inF) {
    throw new ShapeError('linear', 'weight', [x.shape, weight.shape], `weight ${fmt(weight.shape)} must be [out, ${inF}] for x ${fmt(x.shape)}`);
  }
  const outF = weight.shape[0]!;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outF)) {
    throw new ShapeError('linear', 'bias', [weight.shape, bias.shape], `bias ${fmt(bias.shape)} must be [${outF}] for weight ${fmt(weight.shape)}`);
  }
  const lead = x.shape.slice(0, -1);
  const outShape = [...lead, outF];
  const residual = opts.residual ?? null;
  if (residual && (residual.rank !== outShape.length || residual.shape.some((d, i) => d !== outShape[i]))) {
    throw new ShapeError('linear', 'residual', [x.shape, weight.shape, residual.shape],
      `residual ${fmt(residual.shape)} must be ${fmt(outShape)}, the output's shape (no broadcasting)`);
  }
  // dtypes named by argument (the op's own check can only count inputs)
  for (const [name, t] of [['weight', weight], ['bias', bias], ['residual', residual]] as const) {
    if (t && t.dtype !== x.dtype) {
      throw new ShapeError('linear', name, [x.shape, t.shape], `${name} is ${t.dtype} but x is ${x.dtype}; cast() one of them`);
    }
  }
  const activation = opts.activation ?? 'none';
  if (activation !== 'none' && activation !== 'gelu') {
    throw new ShapeError('linear', 'activation', [], `activation '${String(activation)}' is not one of 'none', 'gelu'`);
  }
  const rows = lead.reduce((a, b) => a * b, 1);
  if (rows === 0 || outF === 0 || inF === 0) {
    throw new ShapeError('linear', 'x, weight', [x.shape, weight.shape], `x ${fmt(x.shape)} and weight ${fmt(weight.shape)} make an empty product`);
  }
  const as2d = (t: Tensor, cols: number) => (t.rank === 2 ? t : reshape(t, [rows, cols]));
  const inputs: [Tensor, Tensor, ...Tensor[]] = [as2d(x, inF), weight];
  if (bias) inputs.push(bias);
  if (residual) inputs.push(as2d(residual, outF));
  const y = apply(linearDef, inputs, { activation, hasBias: !!bias, hasResidual: !!residual });
  return lead.length === 1 ? y : reshape(y, outShape);
}
