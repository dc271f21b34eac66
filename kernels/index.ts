// kernels/: WGSL sources and their launch builders. Pure strings and numbers; nothing here
// knows about tensors or GPUDevice.
export type { KernelSource } from './kernel-source.ts';
export { grid, need, MAX_RANK } from './kernel-source.ts';
export { elementwise, ELEMENTWISE_OPS } from './elementwise.ts';
export type { ElementwiseOp, StridedOperand, ElementwiseLaunch } from './elementwise.ts';
export { reduceRows } from './reduce.ts';
export type { ReduceOp, ReduceLaunch } from './reduce.ts';
export { matmul, DEFAULT_MATMUL_TILE } from './matmul.ts';
export type { MatmulParams, MatmulLaunch } from './matmul.ts';
export { softmaxRows } from './softmax.ts';
export { gather, scatterAdd } from './gather.ts';
export { fill } from './fill.ts';
