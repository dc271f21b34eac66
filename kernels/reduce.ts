// reduce launcher: plans a middle-axis reduction as one or two launches of REDUCE_WGSL.
import { reduceWgsl } from './reduce.wgsl.ts';
import { grid, type FloatStorage, type KernelSource } from './kernel-source.ts';

/** The reductions the reduce kernel implements. */
export type ReduceOp = 'sum' | 'max';
const WG = 64;
const sources = new Map<string, KernelSource>();
function sourceFor(op: ReduceOp, x: FloatStorage, o: FloatStorage): KernelSource {
  const key = `reduce_${op}${x === 'f32' && o === 'f32' ? '' : `_${x}_${o}`}`;
  let s = sources.get(key);
  if (!s) { s = { name: key, wgsl: reduceWgsl(x, o), overrides: { WG, OP: op === 'sum' ? 0 : 1 } }; sources.set(key, s); }
  return s;
}

/** A reduction of x[outer, len, inner] over `len`. */
export interface ReduceShape { outer: number; len: number; inner: number }

/** One reduction dispatch (or the first of two when `parts` > 1). */
export interface ReduceLaunch {
  source: KernelSource;
  uniforms: ArrayBuffer;
  workgroups: [number, number, number];
  /** Partial results per output: 1 means final, else a second pass reduces [parts, outer·inner]. */
  parts: number;
}

/**
 * Plan one launch. When there are few outputs for a long reduction, the reduced axis is cut into
 * chunks (aiming at ~2048 invocations in all, chunks of at least `minChunk`) so it stays parallel.
 */
export function reduceLaunch(p: {
  op: ReduceOp; shape: ReduceShape; offset: number; minChunk?: number;
  /** Element types of x and of the output (default f32); partials of a split reduction are f32. */
  x?: FloatStorage; out?: FloatStorage;
}): ReduceLaunch {
  const { outer, len, inner } = p.shape;
  const outputs = outer * inner;
  const minChunk = p.minChunk ?? 1024;
  let chunk = len;
  if (outputs < 512 && len > 2 * minChunk) chunk = Math.max(minChunk, Math.ceil(len / Math.ceil(2048 / outputs)));
  const parts = Math.ceil(len / chunk);
  const xType = p.x ?? 'f32', outType = parts > 1 ? 'f32' : p.out ?? 'f32';
  const u = new Uint32Array([outer, len, inner, chunk, parts, p.offset, 0, 0]);
  const [x, y] = grid(outputs * parts, WG);
  return { source: sourceFor(p.op, xType, outType), uniforms: u.buffer, workgroups: [x, y, 1], parts };
}
