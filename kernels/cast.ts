// cast: out[i] = x[offset + i] converted between float storage types (f32 ↔ f16) over a dense
// range, and its f64 twin (a copy: the CPU backend rounds f16 storages after every kernel). Conversion to f16 rounds to nearest even; magnitudes that round past 65504 (≥ 65520)
// become ±Infinity explicitly, since WGSL leaves out-of-range conversions to the implementation.
import { cached, grid, LINEAR_ID, MAIN_1D, need, type FloatStorage, type Kernel, type KernelSource } from './kernel-source.ts';

const WG = 64;
const castWgsl = (from: FloatStorage, to: FloatStorage) =>
  /* wgsl */ `${from === 'f16' || to === 'f16' ? 'enable f16;' : ''}
struct Params { n: u32, off_x: u32, inf_bits: u32, pad: u32 }   // inf_bits: two f16 +Infinity
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${from}>;
@group(0) @binding(2) var<storage, read_write> o: array<${to}>;
override WG: u32 = 64;
${LINEAR_ID}

${MAIN_1D()}
  if (i >= p.n) { return; }
  ${
    to === 'f16' && from === 'f32' ?
      `let v = x[p.off_x + i];
  // +Infinity in f16: from a uniform, since no f16 constant may be infinite (not even a bitcast)
  let inf = bitcast<vec2<f16>>(p.inf_bits).x;
  o[i] = select(f16(v), select(-inf, inf, v > 0.0), abs(v) >= 65520.0);` :
      `o[i] = ${to}(x[p.off_x + i]);`
  }
}
`;

const sources = new Map<string, KernelSource>();

/** out[i] = x[offset + i] converted between f32 and f16 (round to nearest even; overflow to ±Infinity); storages [x, out]. */
export function cast(p: { n: number; offset: number; from: FloatStorage; to: FloatStorage; }): Kernel {
  return {
    name: 'cast',
    launches() {
      need('cast', p.n > 0 && p.n < 2 ** 31, `${p.n} elements: must be non-empty and fewer than 2^31`);
      const key = `cast_${p.from}_${p.to}`;
      const source = cached(sources, key, () => ({ name: key, wgsl: castWgsl(p.from, p.to), overrides: { WG } }));
      const [x, y] = grid(p.n, WG);
      return [{ source, uniforms: new Uint32Array([p.n, p.offset, 0x7c007c00, 0]).buffer, workgroups: [x, y, 1], bindings: [0, 1] }];
    },
    reference(a) {
      const [x, o] = a as [Float64Array, Float64Array];
      o.set(x.subarray(p.offset, p.offset + p.n));
    },
  };
}
