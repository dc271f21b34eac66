// fill: out[i] = value + i * step (constants and arange) written on the GPU, so creating a
// constant never uploads from the host (an upload would force a submit mid-step).
// f16 storage has a kernel text of its own (FILL_F16_WGSL): 32-bit words are written as bits.
import { LINEAR_ID, MAIN_1D } from './kernel-source.ts';

const fillWgsl = (f16: boolean) =>
  /* wgsl */ `${f16 ? 'enable f16;' : ''}
struct Params { n: u32, is_int: u32, value: f32, step: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> o: array<${f16 ? 'f16' : 'u32'}>;
override WG: u32 = 64;
${LINEAR_ID}

${MAIN_1D()}
  if (i >= p.n) { return; }
  let v = p.value + f32(i) * p.step;
  ${f16 ? 'o[i] = f16(v);' : 'o[i] = select(bitcast<u32>(v), bitcast<u32>(i32(v)), p.is_int == 1u);'}
}
`;
export const FILL_WGSL = fillWgsl(false);
export const FILL_F16_WGSL = fillWgsl(true);
