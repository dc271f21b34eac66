// fill: out[i] = value + i * step (constants and arange) written on the GPU, so creating a
// constant never uploads from the host (an upload would force a submit mid-step).
import { LINEAR_ID, MAIN_1D } from './kernel-source.ts';

export const FILL_WGSL = /* wgsl */ `
struct Params { n: u32, is_int: u32, value: f32, step: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> o: array<u32>;
override WG: u32 = 64;
${LINEAR_ID}

${MAIN_1D()}
  if (i >= p.n) { return; }
  let v = p.value + f32(i) * p.step;
  o[i] = select(bitcast<u32>(v), bitcast<u32>(i32(v)), p.is_int == 1u);
}
`;
