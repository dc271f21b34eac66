// softmax launcher.
import { softmaxBackwardWgsl, softmaxWgsl } from './softmax.wgsl.ts';
import { grid, need, type FloatStorage, type KernelSource } from './kernel-source.ts';

const WG = 64;
const source = (name: string, wgsl: string): KernelSource => ({ name, wgsl, overrides: { WG } });
const FORWARD = { f32: source('softmax_rows', softmaxWgsl('f32')), f16: source('softmax_rows_f16', softmaxWgsl('f16')) };
const BACKWARD = { f32: source('softmax_backward_rows', softmaxBackwardWgsl('f32')), f16: source('softmax_backward_rows_f16', softmaxBackwardWgsl('f16')) };

/** y = softmax(x) over each row of dense [rows, cols] x at `offset`; one workgroup per row. */
export function softmaxRows(p: { rows: number; cols: number; offset: number; dtype?: FloatStorage }) {
  need('softmax', p.cols > 0 && p.rows * p.cols < 2 ** 31, `x [${p.rows}, ${p.cols}] must be non-empty with fewer than 2^31 elements`);
  const [x, y] = grid(p.rows, WG);
  return { source: FORWARD[p.dtype ?? 'f32'], uniforms: new Uint32Array([p.rows, p.cols, p.offset, 0]).buffer, workgroups: [x, y, 1] as [number, number, number] };
}

/** dx = y ⊙ (g − Σ g·y) per row of dense [rows, cols] y and g. */
export function softmaxBackwardRows(p: { rows: number; cols: number; dtype?: FloatStorage }) {
  need('softmax backward', p.cols > 0 && p.rows * p.cols < 2 ** 31, `y [${p.rows}, ${p.cols}] must be non-empty with fewer than 2^31 elements`);
  const [x, y] = grid(p.rows, WG);
  return { source: BACKWARD[p.dtype ?? 'f32'], uniforms: new Uint32Array([p.rows, p.cols, 0, 0]).buffer, workgroups: [x, y, 1] as [number, number, number] };
}
