/// <reference types="@webgpu/types" preserve="true" />
// engine: the public API. An embedding program imports only from here (plus `engine/node` or
// `engine/browser` to create a device). What tests and benchmarks reach into besides (the
// composite references, the raw optimizer launches, sumToShape) is in internal.ts.
//
// Memory contract: tensors hold device memory until disposed. Wrap each step in `tidy(fn)`
// (fn may be async): every tensor created inside and not returned is disposed when it ends.
// Parameters, optimizer state and gradients are kept outside scopes and freed by their owners
// (`Module.dispose`, `optimizer.dispose`, `zeroGrad`). `memory()` reports what is live.
export type { Backend, DType, MemoryStats } from './backend/backend.ts';
export { Tensor } from './tensor.ts';
// the two backends: the f64 reference (a CLI command or a test runs on it) and WebGPU's
export { CpuBackend } from './backend/cpu.ts';
export { WebGPUBackend } from './backend/webgpu.ts';
export { zeros, ones, full, zerosLike, arange, fromArray, randn, rand, truncNormal } from './creation.ts';
export type { CreateOptions } from './creation.ts';
export { ShapeError, DeviceError } from './errors.ts';
export { memory } from './memory.ts';
export { mean, variance, transpose, unsqueeze, squeeze, flatten, stack, smoothL1 } from './ops/composite.ts';
export { /** −x elementwise. */ neg, /** eˣ elementwise. */ exp, /** Natural logarithm elementwise (NaN below 0, −∞ at 0, as torch). */ log,
  /** √x elementwise. */ sqrt, /** 1/√x elementwise, as torch.rsqrt. */ rsqrt, /** |x| elementwise (gradient sign(x), 0 at 0, as torch). */ abs,
  /** The Gauss error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt, elementwise. */ erf,
  /** GELU with the exact Gaussian CDF, x·Φ(x) (Hendrycks & Gimpel 2016), as nn.GELU(). */ gelu,
  /** −1, 0 or 1 by the sign of x, elementwise (no gradient). */ sign, /** The hyperbolic tangent elementwise. */ tanh,
  /** The logistic sigmoid 1/(1 + e⁻ˣ) elementwise, as torch.sigmoid. */ sigmoid,
  /** a + b with NumPy broadcasting; either side may be a number. */ add, /** a − b with broadcasting; either side may be a number. */ sub,
  /** a · b elementwise with broadcasting; either side may be a number. */ mul,
  /** a / b elementwise with broadcasting; either side may be a number. */ div,
  /** aᵇ elementwise with broadcasting; either side may be a number. */ pow,
  /** The larger of a and b elementwise, as torch.maximum (ties split the gradient evenly). */ maximum,
  /** The smaller of a and b elementwise, as torch.minimum (ties split the gradient evenly). */ minimum,
  /** 1 where a < b, else 0 (same float dtype; no gradient). */ lt, /** 1 where a ≤ b, else 0 (same float dtype; no gradient). */ le,
  /** 1 where a > b, else 0 (same float dtype; no gradient). */ gt, /** 1 where a ≥ b, else 0 (same float dtype; no gradient). */ ge,
  /** 1 where a = b, else 0 (same float dtype; no gradient). */ eq, /** 1 where a ≠ b, else 0 (same float dtype; no gradient). */ ne,
  /** g·gelu'(x) elementwise: the gradient of gelu at x given the output gradient g, in one kernel. */ geluGrad,
  /** cond ? a : b elementwise, with broadcasting; cond is 0/1 (any nonzero counts as true). */ where } from './ops/elementwise.ts';
export { copy, contiguous, detach, reshape, permute, expand, slice, concat, sum, max, matmul, softmax, gather, scatterAdd,
  cast } from './ops/table.ts';
export { measurePeakGflops } from './peak.ts';
export { Generator, defaultGenerator, manualSeed } from './random.ts';
export { setBackend, getBackend, noGrad, tidy, keep } from './runtime.ts';
export type { NestedArray, Shape } from './shape.ts';
// Fused kernels (their composite references are in internal.ts).
export { attention, attentionQkv } from './ops/attention.ts';
export { layerNorm } from './ops/layer-norm.ts';
/** The largest head dim the fused attention kernels take (attention() pads others up to it). */
export { ATTENTION_MAX_DH } from '../kernels/attention.ts';
export { encodeSafetensors, decodeSafetensors, SafetensorsError } from './io/safetensors.ts';
export type { DecodedTensor, DecodedSafetensors, TensorInput as SafetensorsInput, Dtype as SafetensorsDtype } from './io/safetensors.ts';
export { withHalfWeights } from './nn/half-weights.ts';
export { Linear, LayerNorm } from './nn/layers.ts';
export type { LinearInit } from './nn/layers.ts';
export { Module, parameter } from './nn/module.ts';
export { linear } from './ops/linear.ts';
export type { Activation, LinearOptions } from './ops/linear.ts';
export { AdamW } from './optim/adamw.ts';
export type { ParamGroup, AdamWOptions, AdamWStep } from './optim/adamw.ts';
export { emaUpdate } from './optim/ema.ts';
export { GradScaler } from './optim/grad-scaler.ts';
export type { GradScalerOptions, GradScalerState } from './optim/grad-scaler.ts';
