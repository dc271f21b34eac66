// layers: the two parameterised building blocks a ViT needs. Weights use PyTorch's layout
// ([out, in] for Linear) so checkpoints copy over name by name.
import { full, truncNormal, zeros } from '../creation.ts';
import { linear, type LinearOptions } from '../ops/linear.ts';
import { layerNorm } from '../ops/layer-norm.ts';
import { defaultGenerator, type Generator } from '../random.ts';
import type { Tensor } from '../tensor.ts';
import { Module, parameter } from './module.ts';

/** How a Linear's weight is drawn: from `generator` (default: the engine's `defaultGenerator`) with `std` (default 0.02). */
export interface LinearInit {
  generator?: Generator;
  std?: number;
}

/** y = act(x·Wᵀ + b) + residual (one fused matmul; activation and residual optional). Init: weight truncated-normal (std 0.02 by default, bounds ±2 absolute), bias 0. */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, init: LinearInit = {}, opts: { bias?: boolean; } = {}) {
    super();
    this.weight = parameter(truncNormal([outFeatures, inFeatures], init.generator ?? defaultGenerator, { std: init.std ?? 0.02 }));
    this.bias = opts.bias === false ? null : parameter(zeros([outFeatures]));
  }
  forward(x: Tensor, opts?: LinearOptions): Tensor {
    return linear(x, this.weight, this.bias, opts);
  }
}

/** Affine layer normalisation over the last dim (the fused kernel); weight 1, bias 0. */
export class LayerNorm extends Module {
  weight: Tensor;
  bias: Tensor;
  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = parameter(full([dim], 1));
    this.bias = parameter(zeros([dim]));
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
