// fill launcher (constants and arange).
import { FILL_F16_WGSL, FILL_WGSL } from './fill.wgsl.ts';
import { grid, type KernelSource } from './kernel-source.ts';

const WG = 64;
const SOURCE: KernelSource = { name: 'fill', wgsl: FILL_WGSL, overrides: { WG } };
const SOURCE_F16: KernelSource = { name: 'fill_f16', wgsl: FILL_F16_WGSL, overrides: { WG } };

/** out[i] = value + i·step over n elements (constants with step 0, arange otherwise; i32 or float). */
export function fill(p: { n: number; value: number; step: number; isInt: boolean; f16?: boolean }) {
  const buf = new ArrayBuffer(16);
  const u = new Uint32Array(buf), f = new Float32Array(buf);
  u[0] = p.n; u[1] = p.isInt ? 1 : 0; f[2] = p.value; f[3] = p.step;
  const [x, y] = grid(p.n, WG);
  return { source: p.f16 ? SOURCE_F16 : SOURCE, uniforms: buf, workgroups: [x, y, 1] as [number, number, number] };
}
