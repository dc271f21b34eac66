// gather / scatter-add along one dim, with torch.gather's index semantics:
//   gather:      out[c] = x[c with c[dim] := index[c]]                 out, index: shape I
//   scatter_add: out[c] = sum_j src[c with c[dim] := j] · (index[..j..] == c[dim])   out: shape S
// scatter_add is written from the destination's side (each output element loops over the
// index entries along dim), so it needs no float atomics and is deterministic: the same
// inputs always give the same bits. Out-of-range indices give NaN, never a silent 0 or a
// read of someone else's memory; the engine validates indices it knows on the host first.
// x, src and out hold T (f32, or f16: see floatStorage); scatter_add sums in f32.
import { floatStorage, LINEAR_ID, MAIN_1D, MAX_RANK, type FloatStorage } from './kernel-source.ts';

const common = (dtype: FloatStorage) =>
  /* wgsl */ `${floatStorage(dtype)}
struct Params {
  n: u32,          // output elements
  rank: u32,
  dim: u32,        // the gathered / scattered dim
  dim_size: u32,   // x.shape[dim] (gather) or index.shape[dim] (scatter)
  shape_o: array<vec4<u32>, 2>,   // output shape
  shape_i: array<vec4<u32>, 2>,   // index shape
  st_x: array<vec4<u32>, 2>,      // contiguous strides of x (gather) or of src/index (scatter)
}
const MAX_RANK = ${MAX_RANK}u;
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<storage, read_write> o: array<T>;
override WG: u32 = 64;
${LINEAR_ID}
fn at(v: array<vec4<u32>, 2>, i: u32) -> u32 { return v[i / 4u][i % 4u]; }
`;

export const gatherWgsl = (dtype: FloatStorage) =>
  common(dtype) + /* wgsl */ `
${MAIN_1D()}
  if (i >= p.n) { return; }
  let j = index[i];                       // index is contiguous with the output's shape
  if (j < 0 || u32(j) >= p.dim_size) { var nan_bits = 0x7fc00000u; o[i] = T(bitcast<f32>(nan_bits)); return; }
  var rem = i;
  var src = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let dd = u32(d);
    let size = at(p.shape_o, dd);
    var coord = rem % size;
    rem = rem / size;
    if (dd == p.dim) { coord = u32(j); }
    src += coord * at(p.st_x, dd);
  }
  o[i] = x[src];
}
`;

export const scatterAddWgsl = (dtype: FloatStorage) =>
  common(dtype) + /* wgsl */ `
${MAIN_1D()}
  if (i >= p.n) { return; }
  // coordinates of this output element; outside the index's extent (other than along dim)
  // nothing scatters here
  var rem = i;
  var base = 0u;
  var dest = 0u;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let dd = u32(d);
    let size = at(p.shape_o, dd);
    let coord = rem % size;
    rem = rem / size;
    if (dd == p.dim) { dest = coord; continue; }
    if (coord >= at(p.shape_i, dd)) { o[i] = 0.0; return; }
    base += coord * at(p.st_x, dd);
  }
  let step = at(p.st_x, p.dim);
  var s = 0.0;
  for (var j = 0u; j < p.dim_size; j++) {
    let k = base + j * step;
    if (index[k] == i32(dest)) { s += f32(x[k]); }
  }
  o[i] = T(s);
}
`;
