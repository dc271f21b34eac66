// peak: the adapter's best multiply-add rate, the yardstick every compute-bound kernel is
// measured against (bench/peak.bench.ts). Each invocation runs NACC independent vec4 FMA
// chains for 4·p.iters steps (4 unrolled per loop trip, so the loop's own cost — a vector
// counter and masked accumulator writes on lavapipe — stays small), all in registers, then
// stores one vec4: no memory traffic inside the loop. The layout matches matmul_sg: 1-D
// workgroups of 64. 8 chains × 4 lanes = 32 independent scalars per invocation: enough to hide
// FMA latency, and still inside AVX-512's 32 vector registers on lavapipe.
// FLOPs = invocations · iters · 4 (unroll) · NACC · 4 (lanes) · 2.

export const PEAK_NACC = 8;

const chains = Array.from({ length: PEAK_NACC }, (_, i) => i);

export const PEAK_WGSL = /* wgsl */ `
struct Params {
  iters: u32,   // loop trips (4 FMA steps each)
  n: u32,       // invocations that store
  x: f32,       // multiplier, < 1 so the chains converge instead of overflowing
  y: f32,       // addend
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;   // [n]
override WG: u32 = 8;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x = vec4<f32>(p.x);
  let y = vec4<f32>(p.y);
  let seed = f32(gid.x) * 1e-3;
${chains.map((i) => `  var c${i} = vec4<f32>(seed + ${i}.0, seed - ${i}.0, seed * ${i + 1}.0, -seed);`).join('\n')}
  for (var it = 0u; it < p.iters; it++) {
${[0, 1, 2, 3].map(() => '    ' + chains.map((i) => `c${i} = fma(c${i}, x, y);`).join(' ')).join('\n')}
  }
  if (gid.x < p.n) { out[gid.x] = ${chains.map((i) => `c${i}`).join(' + ')}; }
}
`;
