// elementwise: out = f(a, b, c) over a strided output, with strided (possibly broadcast) inputs.
// One kernel text serves every unary, binary and ternary op and plain strided copies. The op is
// a pipeline-override constant, not a uniform: lavapipe runs invocations as SIMD lanes and cannot
// tell a uniform switch from a divergent one, so a uniform op code made every element pay for
// every case (measured: 5.6 ms per dispatch of 164k elements); as a constant the other cases
// compile away. Buffers are u32 so a copy moves bits (f32 and i32 alike); math ops bitcast.
// Layout: the launcher merges dims that are contiguous in every operand (so a typical broadcast
// has one or two dims left), splits off the last dim, and gives each invocation up to 4
// consecutive elements of it: the outer coordinates are divided out once per 4 elements.
import { LINEAR_ID, MAIN_1D, MAX_RANK } from './kernel-source.ts';
import { applySwitchWgsl } from './elementwise-ops.ts';

export const ERF_WGSL = /* wgsl */ `
// erf to within 1e-7 absolute everywhere (4e-8 in an f32 simulation; tests check [-6, 6] densely).
// Each piece is a polynomial fitted (Chebyshev least squares against a 30-digit erf; see
// scripts/fit-erf.py) and shaped so its rounding stays near half an ulp of the result:
//   |x| < 0.75  erf = x + x·Q(x²)            Q is small, so x passes through exactly
//   0.75 … 2    erf = C + P(|x| − m)          three pieces; C = erf(m) in f32, P is small
//   2 … 4       erf = 1 − exp(−x²)·G(|x| − 3)  G = erfc·exp(x²) is smooth; errors scale with erfc < 5e-3
//   ≥ 4         ±1                            erfc(4) = 1.5e-8
// (The Numerical Recipes erfc fit used before has 1.2e-7 relative error, and computing its
// exponent in f32 added more: it was 1.8e-7 off near |x| = 0.65.)
fn erf_(x: f32) -> f32 {
  let z = abs(x);
  var r: f32;
  if (z < 0.75) {
    let s = z * z;
    r = fma(z, fma(s, fma(s, fma(s, fma(s, fma(s, fma(s, fma(s, -1.1673202e-05, 0.0001177116), -0.0008535105), 0.0052236337), -0.026866121), 0.11283791), -0.37612638), 0.12837917), z);
  } else if (z < 1.125) {
    let t = z - 0.9375;
    r = 0.8151024 + fma(t, fma(t, fma(t, fma(t, fma(t, fma(t, fma(t, 0.01703637, -0.0027405021), -0.06960421), 0.09094597), 0.118356265), -0.4392606), 0.46854457), 2.6796616e-09);
  } else if (z < 1.5) {
    let t = z - 1.3125;
    r = 0.93656856 + fma(t, fma(t, fma(t, fma(t, fma(t, fma(t, fma(t, 0.0010236495, 0.021929761), -0.038974307), -0.019622555), 0.16425861), -0.2644931), 0.20151852), 1.6555367e-08);
  } else if (z < 2.0) {
    let t = z - 1.75;
    r = 0.9866717 + fma(t, fma(t, fma(t, fma(t, fma(t, fma(t, fma(t, -0.0059330994, 0.009049495), 0.006618473), -0.048105523), 0.09015739), -0.092356205), 0.052774996), -1.5033018e-08);
  } else if (z < 4.0) {
    let t = z - 3.0;
    r = 1.0 - exp(-z * z) * fma(t, fma(t, fma(t, fma(t, fma(t, fma(t, fma(t, -2.4008688e-05, 9.471502e-05), -0.00032179806), 0.0012158768), -0.0044800863), 0.015885822), -0.05437221), 0.17900111);
  } else if (z >= 4.0) {
    r = 1.0;
  } else {
    return x;   // NaN
  }
  return select(-r, r, x >= 0.0);
}

// exact GELU, x·Φ(x), and its derivative Φ(x) + x·φ(x) (the matmul epilogue uses them too)
fn gelu_(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_(x * 0.70710678118654752)); }
fn gelu_grad_(x: f32) -> f32 {
  return 0.5 * (1.0 + erf_(x * 0.70710678118654752)) + x * 0.39894228040143268 * exp(-0.5 * x * x);
}
`;

/**
 * The kernel text for 32-bit buffers (f32 as bits, so a copy also moves i32) or, with `f16`,
 * for f16 buffers: loads widen to f32 and stores round to f16, so the math is the same.
 */
const elementwiseWgsl = (f16: boolean, vec4: boolean) => {
  const elem = f16 ? 'f16' : 'u32';
  const arr = vec4 ? `vec4<${elem}>` : elem;
  const load = vec4 ? (f16 ? 'vec4<f32>' : 'bitcast<vec4<f32>>') : (f16 ? 'f32' : 'bitcast<f32>');
  const store = vec4 ? (f16 ? 'vec4<f16>' : 'bitcast<vec4<u32>>') : (f16 ? 'f16' : 'bitcast<u32>');
  return /* wgsl */ `${f16 ? 'enable f16;' : ''}
const MAX_RANK = ${MAX_RANK}u;
struct Params {
  rows: u32,         // product of the outer dims (all but the last)
  last: u32,         // size of the last dim
  chunks: u32,       // ceil(last / 4): invocations per row
  rank: u32,         // outer dims used in shape/strides
  off_a: u32, off_b: u32, off_c: u32, off_o: u32,   // element offsets into each buffer
  last_st: vec4<u32>,  // strides of a, b, c, out along the last dim
  scalar: f32,       // second operand when b_is_scalar
  b_is_scalar: u32,
  pad0: u32, pad1: u32,
  shape: array<vec4<u32>, 2>,  // outer dims [0, rank)
  st_a: array<vec4<u32>, 2>,   // element strides of a over the outer dims (0 = broadcast)
  st_b: array<vec4<u32>, 2>,
  st_c: array<vec4<u32>, 2>,
  st_o: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<${arr}>;
@group(0) @binding(2) var<storage, read> b: array<${arr}>;
@group(0) @binding(3) var<storage, read> c: array<${arr}>;
@group(0) @binding(4) var<storage, read_write> o: array<${arr}>;
override OP: u32 = 0;
override WG: u32 = 64;
override VPI: u32 = 4;   // vec4s per invocation (dense text)
${LINEAR_ID}

fn at(v: array<vec4<u32>, 2>, i: u32) -> u32 { return v[i / 4u][i % 4u]; }

${ERF_WGSL}
// pow for any sign of base: WGSL's pow is undefined for x < 0, torch's is defined for integer y.
fn pow_(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }   // x^0 = 1 for every x, as torch; WGSL's pow(0, 0) is undefined (lavapipe gave 0)
  if (x >= 0.0) { return pow(x, y); }
  if (floor(y) != y) { var nan_bits = 0x7fc00000u; return bitcast<f32>(nan_bits); }  // NaN, as torch (a var: a const NaN is a WGSL error)
  let r = pow(-x, y);
  return select(r, -r, (abs(y) % 2.0) == 1.0);
}

${applySwitchWgsl()}

${
    vec4 ?
      `${MAIN_1D()}
  // dense path: every operand contiguous from a multiple of 4, last % 4 == 0 (one row). Each
  // invocation takes VPI vec4s, strided by the invocation count (p.chunks here), so neighbouring
  // lanes still touch neighbouring addresses
  let n4 = p.last / 4u;
  for (var e = 0u; e < VPI; e++) {
    let k = i + e * p.chunks;
    if (k >= n4) { return; }
    let jo = p.off_o / 4u + k;
    let ja = p.off_a / 4u + k;
    if (OP == 0u) { o[jo] = a[ja]; continue; }
    let x = ${load}(a[ja]);
    var y = vec4<f32>(p.scalar);
    if (OP >= 20u && p.b_is_scalar == 0u) { y = ${load}(b[p.off_b / 4u + k]); }
    var z = vec4<f32>(0.0);
    if (OP >= 40u) { z = ${load}(c[p.off_c / 4u + k]); }
    o[jo] = ${store}(vec4<f32>(apply(x.x, y.x, z.x), apply(x.y, y.y, z.y), apply(x.z, y.z, z.z), apply(x.w, y.w, z.w)));
  }
}
` :
      `${MAIN_1D()}
  if (i >= p.rows * p.chunks) { return; }
  let row = i / p.chunks;
  let col0 = (i % p.chunks) * 4u;
  var ia = p.off_a; var ib = p.off_b; var ic = p.off_c; var io = p.off_o;
  var rem = row;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let dim = u32(d);
    let size = at(p.shape, dim);
    let coord = rem % size;
    rem = rem / size;
    ia += coord * at(p.st_a, dim);
    ib += coord * at(p.st_b, dim);
    ic += coord * at(p.st_c, dim);
    io += coord * at(p.st_o, dim);
  }
  let ls = p.last_st;
  let n = min(4u, p.last - col0);
  for (var e = 0u; e < n; e++) {
    let col = col0 + e;
    let ja = ia + col * ls.x;
    let jo = io + col * ls.w;
    if (OP == 0u) { o[jo] = a[ja]; continue; }            // copy: bits (f32 or i32), or f16
    let x = ${load}(a[ja]);
    var y = p.scalar;
    if (OP >= 20u && p.b_is_scalar == 0u) { y = ${load}(b[ib + col * ls.y]); }
    var z = 0.0;
    if (OP >= 40u) { z = ${load}(c[ic + col * ls.z]); }
    o[jo] = ${store}(apply(x, y, z));
  }
}
`
  }
`;
};
export const ELEMENTWISE_WGSL = elementwiseWgsl(false, false);
export const ELEMENTWISE_F16_WGSL = elementwiseWgsl(true, false);
/** The dense variants: vec4 loads and stores where every operand is one contiguous run. */
export const ELEMENTWISE_VEC4_WGSL = elementwiseWgsl(false, true);
export const ELEMENTWISE_F16_VEC4_WGSL = elementwiseWgsl(true, true);
