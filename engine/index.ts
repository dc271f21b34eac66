/// <reference types="@webgpu/types" preserve="true" />
// engine: the public API. An embedding program imports only from here (plus `engine/node` to
// create a device under Node).
//
// Memory contract: tensors hold device memory until disposed. Wrap each step in `tidy(fn)`
// (fn may be async): every tensor created inside and not returned is disposed when it ends.
// Parameters, optimizer state and gradients are kept outside scopes and freed by their owners
// (`Module.dispose`, `optimizer.dispose`, `zeroGrad`). `memory()` reports what is live.
export { Tensor } from './tensor.ts';
export type { Backend, DType, MemoryStats } from './backend/backend.ts';
export { CpuBackend } from './backend/cpu.ts';
export { WebGPUBackend } from './backend/webgpu.ts';
export { ShapeError, DeviceError } from './errors.ts';
export { setBackend, getBackend, noGrad, tidy, keep, tensorCount } from './runtime.ts';
export { memory } from './memory.ts';
export { measurePeakGflops } from './peak.ts';
export { Generator, defaultGenerator, manualSeed } from './random.ts';
export { zeros, ones, full, zerosLike, arange, fromArray, randn, rand, truncNormal } from './creation.ts';
export type { CreateOptions } from './creation.ts';
export type { NestedArray, Shape } from './shape.ts';
export {
  neg, exp, log, sqrt, rsqrt, abs, erf, gelu, sign, tanh,
  add, sub, mul, div, pow, maximum, minimum, lt, le, gt, ge, eq, ne, where,
  copy, contiguous, detach, reshape, permute, expand, slice, concat,
  sum, max, matmul, softmax, gather, scatterAdd, geluGrad, cast,
} from './ops/table.ts';
export {
  mean, variance, transpose, unsqueeze, squeeze, flatten, stack,
  layerNorm as layerNormComposite, linear as linearComposite, scaledDotProductAttention, smoothL1,
} from './ops/composite.ts';
// The fused kernels are the defaults; the composites above stay as their references.
export { layerNorm } from './ops/layer-norm.ts';
export { attention, attentionQkv } from './ops/attention.ts';
export { adamwUpdate, adamwUpdateMany, emaInPlace, emaInPlaceMany, nonFiniteCount } from './optim/fused-updates.ts';
/** The largest head dim the fused attention kernels take (attention() pads others up to it). */
export { ATTENTION_MAX_DH } from '../kernels/attention.ts';
export type { AdamwStep, AdamwItem } from './optim/fused-updates.ts';
export { linear } from './ops/linear.ts';
export type { Activation, LinearOptions } from './ops/linear.ts';
export { sumToShape } from './autograd.ts';
export { Module, parameter } from './nn/module.ts';
export { Linear, LayerNorm } from './nn/layers.ts';
export type { LinearInit } from './nn/layers.ts';
export { AdamW } from './optim/adamw.ts';
export type { ParamGroup, AdamWOptions, AdamWStep } from './optim/adamw.ts';
export { emaUpdate } from './optim/ema.ts';
export { GradScaler } from './optim/grad-scaler.ts';
export type { GradScalerOptions, GradScalerState } from './optim/grad-scaler.ts';
export { withHalfWeights } from './nn/half-weights.ts';
export { encodeSafetensors, decodeSafetensors, SafetensorsError } from './io/safetensors.ts';
export type { DecodedTensor, DecodedSafetensors, TensorInput as SafetensorsInput, Dtype as SafetensorsDtype } from './io/safetensors.ts';
