// gather / scatter-add kernels (torch.gather index semantics; see gather.wgsl.ts) and their f64
// twins.
import { gatherWgsl, scatterAddWgsl } from './gather.wgsl.ts';
import { grid, MAX_RANK, need, type FloatStorage, type Kernel, type KernelSource } from './kernel-source.ts';

const WG = 64;
const source = (name: string, wgsl: string): KernelSource => ({ name, wgsl, overrides: { WG } });
const GATHER = { f32: source('gather', gatherWgsl('f32')), f16: source('gather_f16', gatherWgsl('f16')) };
const SCATTER = { f32: source('scatter_add', scatterAddWgsl('f32')), f16: source('scatter_add_f16', scatterAddWgsl('f16')) };

function strides(shape: readonly number[]): number[] {
  const s: number[] = [];
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

function uniforms(n: number, dim: number, dimSize: number, out: readonly number[], index: readonly number[], xStrides: number[]) {
  const u = new Uint32Array(28);
  u[0] = n;
  u[1] = out.length;
  u[2] = dim;
  u[3] = dimSize;
  out.forEach((v, d) => {
    u[4 + d] = v;
  });
  index.forEach((v, d) => {
    u[12 + d] = v;
  });
  xStrides.forEach((v, d) => {
    u[20 + d] = v;
  });
  return u.buffer;
}

/** The one launch of gather or scatter-add: an invocation per element of `over`, binding storages 0, 1, 2. */
function launches(op: string, shape: readonly number[], over: readonly number[], source: KernelSource, u: (n: number) => ArrayBuffer) {
  need(op, shape.length <= MAX_RANK, `rank ${shape.length} exceeds ${MAX_RANK}`);
  const n = over.reduce((a, b) => a * b, 1);
  const [x, y] = grid(n, WG);
  return [{ source, uniforms: u(n), workgroups: [x, y, 1] as [number, number, number], bindings: [0, 1, 2] }];
}

/** Visit every coordinate of `shape` in row-major order. */
function forEachIndex(shape: readonly number[], f: (coord: number[]) => void): void {
  const n = shape.reduce((a, b) => a * b, 1);
  const coord = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    f(coord);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++coord[d]! < shape[d]!) break;
      coord[d] = 0;
    }
  }
}

/** out = gather(x, dim, index) on storages [x, index, out]: x, index contiguous; out has index's shape. */
export function gather(p: { xShape: readonly number[]; indexShape: readonly number[]; dim: number; dtype?: FloatStorage; }): Kernel {
  return {
    name: 'gather',
    launches: () =>
      launches('gather', p.xShape, p.indexShape, GATHER[p.dtype ?? 'f32'], (n) =>
        uniforms(n, p.dim, p.xShape[p.dim]!, p.indexShape, p.indexShape, strides(p.xShape))),
    // an index out of range gives NaN (the op checks host-known indices before)
    reference(a) {
      const [x, idx, o] = a as [Float64Array, Float64Array, Float64Array];
      const xs = strides(p.xShape);
      let i = 0;
      forEachIndex(p.indexShape, (coord) => {
        const j = idx[i]!;
        if (j < 0 || j >= p.xShape[p.dim]!) {
          o[i++] = NaN;
          return;
        }
        let off = 0;
        for (let d = 0; d < coord.length; d++) off += (d === p.dim ? j : coord[d]!) * xs[d]!;
        o[i++] = x[off]!;
      });
    },
  };
}

/** out[shape] = scatterAdd(zeros(shape), dim, index, src) on storages [src, index, out]: index, src contiguous, same shape. */
export function scatterAdd(p: { outShape: readonly number[]; indexShape: readonly number[]; dim: number; dtype?: FloatStorage; }): Kernel {
  return {
    name: 'scatterAdd',
    launches: () =>
      launches('scatterAdd', p.outShape, p.outShape, SCATTER[p.dtype ?? 'f32'], (n) =>
        uniforms(n, p.dim, p.indexShape[p.dim]!, p.outShape, p.indexShape, strides(p.indexShape))),
    reference(a) {
      const [s, idx, o] = a as [Float64Array, Float64Array, Float64Array];
      o.fill(0);
      const os = strides(p.outShape);
      let i = 0;
      forEachIndex(p.indexShape, (coord) => {
        let off = 0;
        for (let d = 0; d < coord.length; d++) off += (d === p.dim ? idx[i]! : coord[d]!) * os[d]!;
        o[off]! += s[i++]!;
      });
    },
  };
}
