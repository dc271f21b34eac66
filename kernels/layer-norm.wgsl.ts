// layer-norm: y = (x − mean)·rstd·w + b over the last dim of x [rows, D], and its backward.
// Three kernels, each one invocation per row (or per column group), no workgroup memory, no
// barriers (lavapipe-friendly):
//   forward   per row: pass 1 mean, pass 2 Σ(x − mean)² (two-pass: E[x²] − E[x]² cancels when
//             |mean| ≫ std), pass 3 writes y. Saves mean and rstd = (var + eps)^(−1/2) per row.
//   dx        per row: with x̂ = (x − mean)·rstd and ĝ = g·w,
//             dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ·x̂))                       (two passes)
//   columns   per (column group, block of rows): partial Σ_r g·x̂ (dw) and Σ_r g (db); the
//             engine sums the blocks with its reduce op, so nothing needs atomics.
// Accumulates in f32. Rows are read as `V`, a vec4 when D % 4 == 0 (half the time of scalar
// loads on lavapipe, where each invocation's loads run one lane at a time) or a plain f32.
// The preamble (the alias V, its width W and the horizontal sum `total`) is the only text that
// differs between the two layouts; every body below is shared. An absent w or b is a `false`
// override; its binding then holds a stand-in buffer that is never read.
import { LINEAR_ID, MAIN_1D, type FloatStorage } from './kernel-source.ts';

/**
 * The per-layout preamble: V is the row element in f32 math, W its width in floats, S the same
 * element as stored (V itself, or its f16 form for f16 storage: loads widen with V(·), stores
 * round with S(·), and the means, sums and rstd stay f32).
 */
export function layerNormPreamble(vec4: boolean, dtype: FloatStorage = 'f32'): string {
  const S = vec4 ? `vec4<${dtype}>` : dtype;
  return (dtype === 'f16' ? 'enable f16;\n' : '') + (vec4
    ? /* wgsl */ `alias V = vec4<f32>;\nalias S = ${S};\nconst W = 4u;\nfn total(v: V) -> f32 { return dot(v, V(1.0)); }`
    : /* wgsl */ `alias V = f32;\nalias S = ${S};\nconst W = 1u;\nfn total(v: V) -> f32 { return v; }`);
}

const PARAMS = /* wgsl */ `
struct Params {
  rows: u32,   // product of x's leading dims
  cols: u32,   // D / W: row length in V elements
  eps: f32,    // added to the variance (forward only)
  parts: u32,  // row blocks of the column kernel (its rows per block: ceil(rows / parts))
}
@group(0) @binding(0) var<uniform> p: Params;
override WG: u32 = 64;
${LINEAR_ID}
`;

export const layerNormForwardWgsl = (vec4: boolean, dtype: FloatStorage = 'f32') =>
  /* wgsl */ `${layerNormPreamble(vec4, dtype)}
${PARAMS}
@group(0) @binding(1) var<storage, read> x: array<S>;              // [rows, cols]
@group(0) @binding(2) var<storage, read> w: array<S>;              // [cols]
@group(0) @binding(3) var<storage, read> b: array<S>;              // [cols]
@group(0) @binding(4) var<storage, read_write> y: array<S>;        // [rows, cols]
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;   // [rows]
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;   // [rows]
override HAS_W: bool = true;
override HAS_B: bool = true;

${MAIN_1D('r')}
  if (r >= p.rows) { return; }
  let base = r * p.cols;
  let inv_d = 1.0 / f32(p.cols * W);
  var s = V(0.0);
  for (var c = 0u; c < p.cols; c++) { s += V(x[base + c]); }
  let mu = total(s) * inv_d;
  var q = V(0.0);
  for (var c = 0u; c < p.cols; c++) { let d = V(x[base + c]) - mu; q = fma(d, d, q); }
  let rs = inverseSqrt(total(q) * inv_d + p.eps);
  for (var c = 0u; c < p.cols; c++) {
    var t = (V(x[base + c]) - mu) * rs;
    if (HAS_W) { t = t * V(w[c]); }
    if (HAS_B) { t = t + V(b[c]); }
    y[base + c] = S(t);
  }
  mean[r] = mu;
  rstd[r] = rs;
}
`;

export const layerNormBackwardDxWgsl = (vec4: boolean, dtype: FloatStorage = 'f32') =>
  /* wgsl */ `${layerNormPreamble(vec4, dtype)}
${PARAMS}
@group(0) @binding(1) var<storage, read> g: array<S>;              // [rows, cols] dL/dy
@group(0) @binding(2) var<storage, read> x: array<S>;              // [rows, cols]
@group(0) @binding(3) var<storage, read> w: array<S>;              // [cols]
@group(0) @binding(4) var<storage, read> mean: array<f32>;         // [rows]
@group(0) @binding(5) var<storage, read> rstd: array<f32>;         // [rows]
@group(0) @binding(6) var<storage, read_write> dx: array<S>;       // [rows, cols]
override HAS_W: bool = true;

${MAIN_1D('r')}
  if (r >= p.rows) { return; }
  let base = r * p.cols;
  let inv_d = 1.0 / f32(p.cols * W);
  let mu = mean[r];
  let rs = rstd[r];
  var sg = V(0.0);    // Σ ĝ
  var sgx = V(0.0);   // Σ ĝ·x̂
  for (var c = 0u; c < p.cols; c++) {
    var gw = V(g[base + c]);
    if (HAS_W) { gw = gw * V(w[c]); }
    sg += gw;
    sgx = fma(gw, (V(x[base + c]) - mu) * rs, sgx);
  }
  let mg = total(sg) * inv_d;
  let mgx = total(sgx) * inv_d;
  for (var c = 0u; c < p.cols; c++) {
    var gw = V(g[base + c]);
    if (HAS_W) { gw = gw * V(w[c]); }
    let xh = (V(x[base + c]) - mu) * rs;
    dx[base + c] = S((gw - mg - xh * mgx) * rs);
  }
}
`;

export const layerNormBackwardColumnsWgsl = (vec4: boolean, dtype: FloatStorage = 'f32') =>
  /* wgsl */ `${layerNormPreamble(vec4, dtype)}
${PARAMS}
@group(0) @binding(1) var<storage, read> g: array<S>;              // [rows, cols] dL/dy
@group(0) @binding(2) var<storage, read> x: array<S>;              // [rows, cols]
@group(0) @binding(3) var<storage, read> mean: array<f32>;         // [rows]
@group(0) @binding(4) var<storage, read> rstd: array<f32>;         // [rows]
@group(0) @binding(5) var<storage, read_write> dw: array<V>;       // [parts, cols] Σ g·x̂ per block (f32 whatever S is)
@group(0) @binding(6) var<storage, read_write> db: array<V>;       // [parts, cols] Σ g per block (f32)
override WANT_DW: bool = true;   // a weight that wants its gradient
override WANT_DB: bool = true;

// x: column group (one V of columns), y: block of rows. Neighbouring invocations read
// neighbouring columns of the same row; the row's mean and rstd are the same for all of them.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let part = gid.y;
  if (c >= p.cols || part >= p.parts) { return; }
  let per = (p.rows + p.parts - 1u) / p.parts;
  let r0 = part * per;
  let r1 = min(p.rows, r0 + per);
  var sw = V(0.0);
  var sb = V(0.0);
  for (var r = r0; r < r1; r++) {
    let gv = V(g[r * p.cols + c]);
    if (WANT_DW) { sw = fma(gv, (V(x[r * p.cols + c]) - mean[r]) * rstd[r], sw); }
    if (WANT_DB) { sb += gv; }
  }
  if (WANT_DW) { dw[part * p.cols + c] = sw; }
  if (WANT_DB) { db[part * p.cols + c] = sb; }
}
`;
