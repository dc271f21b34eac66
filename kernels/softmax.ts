// softmax kernels (forward and backward over rows) and their f64 twins.
import { softmaxBackwardWgsl, softmaxWgsl } from './softmax.wgsl.ts';
import { grid, need, type FloatStorage, type Kernel, type KernelSource } from './kernel-source.ts';

const WG = 64;
const source = (name: string, wgsl: string): KernelSource => ({ name, wgsl, overrides: { WG } });
const FORWARD = { f32: source('softmax_rows', softmaxWgsl('f32')), f16: source('softmax_rows_f16', softmaxWgsl('f16')) };
const BACKWARD = { f32: source('softmax_backward_rows', softmaxBackwardWgsl('f32')),
  f16: source('softmax_backward_rows_f16', softmaxBackwardWgsl('f16')) };

/** y = softmax(x) over each row of dense [rows, cols] x at `offset` (max-subtracted), storages [x, y]; one workgroup per row. */
export function softmaxRows(p: { rows: number; cols: number; offset: number; dtype?: FloatStorage; }): Kernel {
  return {
    name: 'softmax',
    launches() {
      need('softmax', p.cols > 0 && p.rows * p.cols < 2 ** 31, `x [${p.rows}, ${p.cols}] must be non-empty with fewer than 2^31 elements`);
      const [x, y] = grid(p.rows, WG);
      return [{ source: FORWARD[p.dtype ?? 'f32'], uniforms: new Uint32Array([p.rows, p.cols, p.offset, 0]).buffer, workgroups: [x, y, 1],
        bindings: [0, 1] }];
    },
    reference(arrays) {
      const [a, o] = arrays as [Float64Array, Float64Array];
      const { rows, cols, offset } = p;
      for (let r = 0; r < rows; r++) {
        let m = -Infinity;
        for (let k = 0; k < cols; k++) m = Math.max(m, a[offset + r * cols + k]!);
        let s = 0;
        for (let k = 0; k < cols; k++) {
          const e = Math.exp(a[offset + r * cols + k]! - m);
          o[r * cols + k] = e;
          s += e;
        }
        for (let k = 0; k < cols; k++) o[r * cols + k]! /= s;
      }
    },
  };
}

/** dx = y ⊙ (g − Σ g·y) per row of dense [rows, cols] y and g, storages [y, g, dx]. */
export function softmaxBackwardRows(p: { rows: number; cols: number; dtype?: FloatStorage; }): Kernel {
  return {
    name: 'softmaxBackward',
    launches() {
      need('softmax backward', p.cols > 0 && p.rows * p.cols < 2 ** 31, `y [${p.rows}, ${p.cols}] must be non-empty with fewer than 2^31 elements`);
      const [x, y] = grid(p.rows, WG);
      return [{ source: BACKWARD[p.dtype ?? 'f32'], uniforms: new Uint32Array([p.rows, p.cols, 0, 0]).buffer, workgroups: [x, y, 1],
        bindings: [0, 1, 2] }];
    },
    reference(arrays) {
      const [Y, G, D] = arrays as [Float64Array, Float64Array, Float64Array];
      const { rows, cols } = p;
      for (let r = 0; r < rows; r++) {
        let dot = 0;
        for (let k = 0; k < cols; k++) dot += G[r * cols + k]! * Y[r * cols + k]!;
        for (let k = 0; k < cols; k++) D[r * cols + k] = Y[r * cols + k]! * (G[r * cols + k]! - dot);
      }
    },
  };
}
