/// <reference types="@webgpu/types" preserve="true" />
// kernels/: WGSL sources and their launch builders. Pure strings and numbers; nothing here
// knows about tensors or GPUDevice.
export { cast } from './cast.ts';
export { elementwise, elementwiseKernel, ELEMENTWISE, ELEMENTWISE_OPS } from './elementwise.ts';
export type { ElementwiseOp, ElementwiseOfArity, GradFns, Operand, StridedOperand } from './elementwise.ts';
export { fill } from './fill.ts';
export { gather, scatterAdd } from './gather.ts';
export type { KernelSource, FloatStorage, Kernel, Launch } from './kernel-source.ts';
export { grid, kernel, need, MAX_RANK } from './kernel-source.ts';
export { MATMUL_TILES, adapterKey } from './matmul-tiles.ts';
export type { AdapterTiles, TunedMatmulTile } from './matmul-tiles.ts';
export { matmul, matmulKernel, DEFAULT_MATMUL_TILE, DEFAULT_SUBGROUP_TILE, SUBGROUP_TILES, pickSubgroupTile, vec4Operands } from './matmul.ts';
export type { MatmulParams, MatmulShape } from './matmul.ts';
export type { SubgroupTile, MatmulEpilogue } from './matmul.wgsl.ts';
export { peak } from './peak.ts';
export type { PeakLaunch } from './peak.ts';
export { reduce, reduceLaunch } from './reduce.ts';
export type { ReduceOp, ReduceLaunch, ReduceShape } from './reduce.ts';
export { softmaxRows, softmaxBackwardRows } from './softmax.ts';
