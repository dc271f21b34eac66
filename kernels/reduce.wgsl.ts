// reduce: out[k1, k2] = reduce_r x[k1, r, k2] over the middle axis of a contiguous
// [outer, len, inner] input (a row reduction is inner = 1; a column sum such as a bias gradient
// is outer = 1), so reducing leading or middle axes needs no transposing copy first. With
// inner > 1 neighbouring invocations read neighbouring addresses, which SIMD lanes like.
// Long reductions with few outputs are cut into `parts` chunks of `chunk` and a second launch
// reduces the partials (laid out [parts, outer·inner]). One invocation per (output, part): no
// workgroup memory or barriers (lavapipe-friendly). The op is an override constant so the other
// one compiles away. Accumulates in f32 whatever x and o hold (f32 or f16; partials are f32).
import { LINEAR_ID, MAIN_1D, type FloatStorage } from './kernel-source.ts';

export const reduceWgsl = (x: FloatStorage, o: FloatStorage) =>
  /* wgsl */ `${x === 'f16' || o === 'f16' ? 'enable f16;' : ''}
struct Params {
  outer: u32,
  len: u32,       // the reduced axis
  inner: u32,
  chunk: u32,     // elements of the reduced axis per invocation
  parts: u32,     // ceil(len / chunk)
  off_x: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${x}>;        // [outer, len, inner]
@group(0) @binding(2) var<storage, read_write> o: array<${o}>;  // [parts, outer, inner]
override OP: u32 = 0;   // 0 sum, 1 max
override WG: u32 = 64;
${LINEAR_ID}

${MAIN_1D()}
  let outputs = p.outer * p.inner;
  if (i >= outputs * p.parts) { return; }
  let part = i / outputs;
  let oi = i % outputs;
  let k1 = oi / p.inner;
  let k2 = oi % p.inner;
  let start = part * p.chunk;
  let end = min(start + p.chunk, p.len);
  let base = p.off_x + k1 * p.len * p.inner + k2;
  if (OP == 0u) {
    // four independent partial sums: shorter dependency chains, and less rounding drift
    var s0 = 0.0; var s1 = 0.0; var s2 = 0.0; var s3 = 0.0;
    var r = start;
    for (; r + 4u <= end; r += 4u) {
      s0 += f32(x[base + r * p.inner]); s1 += f32(x[base + (r + 1u) * p.inner]);
      s2 += f32(x[base + (r + 2u) * p.inner]); s3 += f32(x[base + (r + 3u) * p.inner]);
    }
    for (; r < end; r++) { s0 += f32(x[base + r * p.inner]); }
    o[i] = ${o}((s0 + s1) + (s2 + s3));
  } else {
    var m = f32(x[base + start * p.inner]);
    for (var r = start + 1u; r < end; r++) { m = max(m, f32(x[base + r * p.inner])); }
    o[i] = ${o}(m);
  }
}
`;
