// elementwise: out = f(a, b, c) over a strided output, with strided (possibly broadcast) inputs.
// One pipeline serves every unary, binary and ternary op and plain strided copies: the op is a
// uniform, so the test suite and a training step compile this kernel once. Buffers are u32 so a
// copy moves bits (f32 and i32 alike); math ops bitcast to f32. One invocation per output element;
// coordinates are recovered from the linear index with divisions by the output shape. A fast path
// skips that when every operand is contiguous and unbroadcast.
import { LINEAR_ID, MAX_RANK } from './kernel-source.ts';

export const ELEMENTWISE_WGSL = /* wgsl */ `
const MAX_RANK = ${MAX_RANK}u;
struct Params {
  n: u32,            // output elements
  rank: u32,         // dims used in shape/strides
  op: u32,           // op code, see the switch below
  flat: u32,         // 1: all operands contiguous with identical shape, index directly
  off_a: u32, off_b: u32, off_c: u32, off_o: u32,   // element offsets into each buffer
  scalar: f32,       // second operand when b_is_scalar
  b_is_scalar: u32,
  pad0: u32, pad1: u32,
  shape: array<vec4<u32>, 2>,  // output shape, dims [0, rank)
  st_a: array<vec4<u32>, 2>,   // element strides of a over the output shape (0 = broadcast)
  st_b: array<vec4<u32>, 2>,
  st_c: array<vec4<u32>, 2>,
  st_o: array<vec4<u32>, 2>,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read> c: array<u32>;
@group(0) @binding(4) var<storage, read_write> o: array<u32>;
override WG: u32 = 64;
${LINEAR_ID}

fn at(v: array<vec4<u32>, 2>, i: u32) -> u32 { return v[i / 4u][i % 4u]; }

// erf with absolute error below 1e-7: Taylor series near 0 (where 1 - erfc would lose the
// relative accuracy), Numerical Recipes' erfc Chebyshev fit (fractional error < 1.2e-7) elsewhere.
fn erf_(x: f32) -> f32 {
  let z = abs(x);
  if (z < 0.5) {
    let x2 = x * x;
    // 2/sqrt(pi) * (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320)
    return 1.1283791671 * x * (1.0 + x2 * (-0.3333333333 + x2 * (0.1 + x2 * (-0.0238095238 + x2 * (0.0046296296 - x2 * 0.0007575758)))));
  }
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}

// pow for any sign of base: WGSL's pow is undefined for x < 0, torch's is defined for integer y.
fn pow_(x: f32, y: f32) -> f32 {
  if (x >= 0.0) { return pow(x, y); }
  if (floor(y) != y) { var nan_bits = 0x7fc00000u; return bitcast<f32>(nan_bits); }  // NaN, as torch (a var: a const NaN is a WGSL error)
  let r = pow(-x, y);
  return select(r, -r, (abs(y) % 2.0) == 1.0);
}

fn apply(op: u32, x: f32, y: f32, z: f32) -> f32 {
  switch op {
    case 1u: { return -x; }
    case 2u: { return exp(x); }
    case 3u: { return log(x); }
    case 4u: { return sqrt(x); }
    case 5u: { return inverseSqrt(x); }
    case 6u: { return abs(x); }
    case 7u: { return erf_(x); }
    case 8u: { return 0.5 * x * (1.0 + erf_(x * 0.70710678118654752)); }   // exact GELU
    case 9u: { return sign(x); }
    case 20u: { return x + y; }
    case 21u: { return x - y; }
    case 22u: { return x * y; }
    case 23u: { return x / y; }
    case 24u: { return pow_(x, y); }
    case 25u: { return max(x, y); }
    case 26u: { return min(x, y); }
    case 27u: { return select(0.0, 1.0, x < y); }
    case 28u: { return select(0.0, 1.0, x <= y); }
    case 29u: { return select(0.0, 1.0, x > y); }
    case 30u: { return select(0.0, 1.0, x >= y); }
    case 31u: { return select(0.0, 1.0, x == y); }
    case 32u: { return select(0.0, 1.0, x != y); }
    case 40u: { return select(z, y, x != 0.0); }   // where(cond=a, b, c)
    default: { return x; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = linearId(wid, nwg, lid, WG);
  if (i >= p.n) { return; }
  var ia = i; var ib = i; var ic = i; var io = i;
  if (p.flat == 0u) {
    ia = 0u; ib = 0u; ic = 0u; io = 0u;
    var rem = i;
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
  }
  ia += p.off_a; ib += p.off_b; ic += p.off_c; io += p.off_o;
  if (p.op == 0u) { o[io] = a[ia]; return; }           // bitwise copy: f32 or i32
  let x = bitcast<f32>(a[ia]);
  var y = p.scalar;
  if (p.op >= 20u && p.b_is_scalar == 0u) { y = bitcast<f32>(b[ib]); }
  var z = 0.0;
  if (p.op >= 40u) { z = bitcast<f32>(c[ic]); }
  o[io] = bitcast<u32>(apply(p.op, x, y, z));
}
`;
