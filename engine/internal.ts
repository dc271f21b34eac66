// internal: the public API (index.ts) plus what tests and benchmarks reach into: the composite
// references the fused ops are checked and timed against, the raw in-place optimizer launches
// that AdamW, emaUpdate and GradScaler run, the live-tensor counter and the tape's sumToShape.
// Only test/ and bench/ import this (test/import-rules.test.ts).
export { sumToShape } from './autograd.ts';
export * from './index.ts';
export { layerNorm as layerNormComposite, linear as linearComposite, scaledDotProductAttention } from './ops/composite.ts';
export { adamwUpdate, adamwUpdateMany, emaInPlace, emaInPlaceMany, nonFiniteCount } from './optim/fused-updates.ts';
export type { AdamwStep, AdamwItem } from './optim/fused-updates.ts';
export { tensorCount } from './runtime.ts';
