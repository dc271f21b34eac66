// matmul-tiles: subgroup-kernel tiles per benchmark shape, written by `npm run bench -- --tune`
// (bench/matmul.bench.ts times every tile in SUBGROUP_TILES on each shape; a shape takes, among
// the tiles within 15 % of its fastest, the one best over all shapes, so few pipelines need
// compiling). Shapes not listed take the nearest entry with the same transposes, else 16×32
// (pickSubgroupTile in matmul.ts). Tuned on mesa / software / llvmpipe-llvm-15-0-6-256-bits- / llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1, 2026-11-23.

/** A shape and the subgroup tile `npm run bench -- --tune` measured fastest for it. */
export interface TunedMatmulTile {
  M: number; N: number; K: number; transA: boolean; transB: boolean;
  /** Rows of C per octet. */
  tm: number;
  /** vec4 column groups per lane (32·tn4 columns per octet). */
  tn4: number;
}

/** The tuned tiles by shape (rewritten by `npm run bench -- --tune`). */
export const MATMUL_TILES: readonly TunedMatmulTile[] = [
  { M: 1024, N: 1024, K: 1024, transA: false, transB: false, tm: 32, tn4: 1 },   // square: 13.2 GFLOP/s
  { M: 1568, N: 768, K: 192, transA: false, transB: false, tm: 32, tn4: 1 },   // [1568×192]·[192×768]: 16.7 GFLOP/s
  { M: 1568, N: 768, K: 192, transA: false, transB: true, tm: 32, tn4: 1 },   // fc1 forward x·W1ᵀ: 30.1 GFLOP/s
  { M: 1568, N: 192, K: 768, transA: false, transB: true, tm: 32, tn4: 1 },   // fc2 forward h·W2ᵀ: 21.8 GFLOP/s
  { M: 1568, N: 576, K: 192, transA: false, transB: true, tm: 32, tn4: 1 },   // qkv forward x·Wqkvᵀ: 18.2 GFLOP/s
  { M: 1568, N: 192, K: 768, transA: false, transB: false, tm: 32, tn4: 1 },   // fc1 backward dx = g·W1: 20.9 GFLOP/s
  { M: 768, N: 192, K: 1568, transA: true, transB: false, tm: 32, tn4: 1 },   // fc1 backward dW1 = gᵀ·x: 19.0 GFLOP/s
  { M: 197, N: 197, K: 64, transA: false, transB: true, tm: 32, tn4: 1 },   // attention scores q·kᵀ: 10.8 GFLOP/s
  { M: 197, N: 64, K: 197, transA: false, transB: false, tm: 16, tn4: 1 },   // attention P·v: 12.2 GFLOP/s
];
