// softmax launcher.
import { SOFTMAX_BACKWARD_WGSL, SOFTMAX_WGSL } from './softmax.wgsl.ts';
import { grid, need, type KernelSource } from './kernel-source.ts';

const WG = 64;
const SOURCE: KernelSource = { name: 'softmax_rows', wgsl: SOFTMAX_WGSL, overrides: { WG } };
const BACKWARD: KernelSource = { name: 'softmax_backward_rows', wgsl: SOFTMAX_BACKWARD_WGSL, overrides: { WG } };

export function softmaxRows(p: { rows: number; cols: number; offset: number }) {
  need('softmax', p.cols > 0 && p.rows * p.cols < 2 ** 31, `x [${p.rows}, ${p.cols}] must be non-empty with fewer than 2^31 elements`);
  const [x, y] = grid(p.rows, WG);
  return { source: SOURCE, uniforms: new Uint32Array([p.rows, p.cols, p.offset, 0]).buffer, workgroups: [x, y, 1] as [number, number, number] };
}

/** dx = y ⊙ (g − Σ g·y) per row of dense [rows, cols] y and g. */
export function softmaxBackwardRows(p: { rows: number; cols: number }) {
  need('softmax backward', p.cols > 0 && p.rows * p.cols < 2 ** 31, `y [${p.rows}, ${p.cols}] must be non-empty with fewer than 2^31 elements`);
  const [x, y] = grid(p.rows, WG);
  return { source: BACKWARD, uniforms: new Uint32Array([p.rows, p.cols, 0, 0]).buffer, workgroups: [x, y, 1] as [number, number, number] };
}
