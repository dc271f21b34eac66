// reduce launcher: plans a row reduction as one or two launches of REDUCE_WGSL.
import { REDUCE_WGSL } from './reduce.wgsl.ts';
import { grid, type KernelSource } from './kernel-source.ts';

export type ReduceOp = 'sum' | 'max';
const WG = 64;
const SOURCE: KernelSource = { name: 'reduce_rows', wgsl: REDUCE_WGSL, overrides: { WG } };

export interface ReduceLaunch {
  source: KernelSource;
  uniforms: ArrayBuffer;
  workgroups: [number, number, number];
  /** Outputs per row of this launch: 1 means final, else a second pass reduces [rows, parts]. */
  parts: number;
}

/**
 * Plan one launch over a contiguous [rows, cols] input. Long rows with few of them are cut into
 * chunks (about 16 invocations per core-lane worth of work) so the reduction stays parallel.
 */
export function reduceRows(p: { op: ReduceOp; rows: number; cols: number; offset: number; minChunk?: number }): ReduceLaunch {
  const minChunk = p.minChunk ?? 1024;
  let chunk = p.cols;
  if (p.rows < 512 && p.cols > 2 * minChunk) {
    chunk = Math.max(minChunk, Math.ceil(p.cols / Math.ceil(2048 / p.rows)));
  }
  const parts = Math.ceil(p.cols / chunk);
  const u = new Uint32Array([p.rows, p.cols, chunk, parts, p.op === 'sum' ? 0 : 1, p.offset, 0, 0]);
  const [x, y] = grid(p.rows * parts, WG);
  return { source: SOURCE, uniforms: u.buffer, workgroups: [x, y, 1], parts };
}
