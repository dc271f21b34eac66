// fill: the kernel that writes constants and aranges, and its f64 twin.
import { FILL_F16_WGSL, FILL_WGSL } from './fill.wgsl.ts';
import { grid, type Kernel, type KernelSource } from './kernel-source.ts';

const WG = 64;
const SOURCE: KernelSource = { name: 'fill', wgsl: FILL_WGSL, overrides: { WG } };
const SOURCE_F16: KernelSource = { name: 'fill_f16', wgsl: FILL_F16_WGSL, overrides: { WG } };

/**
 * out[i] = value + i·step over the first n elements of storage 0 (constants with step 0, arange
 * otherwise; i32 truncates toward zero). No launch for n = 0.
 */
export function fill(p: { n: number; value: number; step: number; isInt: boolean; f16?: boolean; }): Kernel {
  return {
    name: 'fill',
    launches() {
      if (p.n === 0) return [];
      const buf = new ArrayBuffer(16);
      const u = new Uint32Array(buf), f = new Float32Array(buf);
      u[0] = p.n;
      u[1] = p.isInt ? 1 : 0;
      f[2] = p.value;
      f[3] = p.step;
      const [x, y] = grid(p.n, WG);
      return [{ source: p.f16 ? SOURCE_F16 : SOURCE, uniforms: buf, workgroups: [x, y, 1], bindings: [0] }];
    },
    reference(a) {
      const [o] = a as [Float64Array];
      for (let i = 0; i < p.n; i++) o[i] = p.isInt ? Math.trunc(p.value + i * p.step) : p.value + i * p.step;
    },
  };
}
