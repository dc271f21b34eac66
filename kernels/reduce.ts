// reduce: plans a middle-axis reduction as one or two launches of REDUCE_WGSL; the kernel and its
// f64 twin.
import { reduceWgsl } from './reduce.wgsl.ts';
import { cached, grid, type FloatStorage, type Kernel, type KernelSource } from './kernel-source.ts';

/** The reductions the reduce kernel implements. */
export type ReduceOp = 'sum' | 'max';
const WG = 64;
const sources = new Map<string, KernelSource>();
function sourceFor(op: ReduceOp, x: FloatStorage, o: FloatStorage): KernelSource {
  const key = `reduce_${op}${x === 'f32' && o === 'f32' ? '' : `_${x}_${o}`}`;
  return cached(sources, key, () => ({ name: key, wgsl: reduceWgsl(x, o), overrides: { WG, OP: op === 'sum' ? 0 : 1 } }));
}

/** A reduction of x[outer, len, inner] over `len`. */
export interface ReduceShape {
  outer: number;
  len: number;
  inner: number;
}

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
  op: ReduceOp;
  shape: ReduceShape;
  offset: number;
  minChunk?: number;
  /** Element types of x and of the output (default f32); partials of a split reduction are f32. */
  x?: FloatStorage;
  out?: FloatStorage;
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

/**
 * out[outer, inner] = op over len of the window x[outer, len, inner] at `offset`, storages
 * [x, out]: one launch, or two through an f32 scratch of partials when the axis is split.
 */
export function reduce(p: { op: ReduceOp; shape: ReduceShape; offset: number; x: FloatStorage; out: FloatStorage; }): Kernel {
  const { op, shape, offset } = p;
  const first = reduceLaunch({ op, shape, offset, x: p.x, out: p.out });
  const outputs = shape.outer * shape.inner;
  return {
    name: `reduce ${op}`,
    scratch: first.parts === 1 ? [] : [first.parts * outputs],
    launches() {
      if (first.parts === 1) return [{ ...first, bindings: [0, 1] }];
      const second = reduceLaunch({ op, shape: { outer: 1, len: first.parts, inner: outputs }, offset: 0, minChunk: Number.MAX_SAFE_INTEGER, x: 'f32',
        out: p.out });
      return [{ ...first, bindings: [0, 2] }, { ...second, bindings: [2, 1] }];
    },
    reference(arrays) {
      const [a, o] = arrays as [Float64Array, Float64Array];
      const { outer, len, inner } = shape;
      for (let k1 = 0; k1 < outer; k1++) {
        for (let k2 = 0; k2 < inner; k2++) {
          let acc = op === 'sum' ? 0 : -Infinity;
          for (let r = 0; r < len; r++) {
            const v = a[offset + (k1 * len + r) * inner + k2]!;
            acc = op === 'sum' ? acc + v : Math.max(acc, v);
          }
          o[k1 * inner + k2] = acc;
        }
      }
    },
  };
}
