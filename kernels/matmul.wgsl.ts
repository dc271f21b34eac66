// matmul: C[b] = op(A[b]) · op(B[b]) for a batch of row-major matrices, op = identity or
// transpose (so backward passes need no explicit transposes). A batch stride of 0 broadcasts an
// operand across the batch (a weight shared by every sequence). Two kernels:
//
// matmul_sg (subgroups): what a CPU WebGPU (Mesa lavapipe) rewards. Lavapipe runs 8 invocations
//   as the 8 lanes of one 256-bit SIMD register. A load whose address differs per lane costs
//   about 6 instructions per lane and element (extract, bounds check, branch, load, insert),
//   while a multiply-add costs 2 for all 8 lanes; a shuffle between lanes is one permute. So the
//   kernel makes every loaded element feed as many multiply-adds as it can, and lets lanes share
//   what they load instead of each lane loading it again:
//   - an "octet" of 8 lanes owns an output block of TM rows × 32·TN4 columns. Lane l owns the
//     TN4 column groups n0 + 4·(l + 8j) .. +3 of every one of the TM rows (TM·TN4 vec4
//     accumulators per lane);
//   - per step of 4 along K, each lane loads one vec4 of A per 8 rows (the octet together loads
//     8 rows × 4 k), and every lane reads each row's value with subgroupShuffle; each lane
//     loads the 4 k × 4 columns of B it needs for each of its column groups;
//   - so per step a lane loads TM/8 + 4·TN4 vec4 (TN4 of them 4 columns at one k, or one column
//     over 4 k when B is transposed; the 4×4 block is transposed in registers, which costs
//     nothing in lavapipe's one-register-per-component layout) and does 16·TM·TN4 FMAs.
//   Operands whose rows allow it are bound as array<vec4<f32>> (A_VEC4 / B_VEC4 below); the
//   others load the same fragments with scalar loads, which costs about twice as much.
//   No workgroup memory and no barriers: lavapipe pays for every barrier.
//   Assumes subgroups of at least 8 invocations made of consecutive local ids (true of lavapipe
//   and of GPUs' 1-D workgroups), so each octet lies inside one subgroup.
//   The FMA block is generated from one loop in TS and emitted straight-line: lavapipe's NIR
//   unroller gives up on the nested TM × TN4 × 4 loops past about 16×2, and the fallback
//   (dynamically indexed private arrays, one gather per access) is 5-10× slower.
//
// matmul (scalar): the portable fallback for adapters without subgroups. Each invocation owns a
//   TM×TN register tile and walks the whole K dimension, clamping reads at the edges.
//
// Edges: rows and columns past M or N are clamped when read and skipped when stored; the K
// remainder (K % 4) is read clamped and multiplied by zeros, so any M, N, K works.
//
// Epilogue (both kernels): each output element passes through `finish` on its way to C, which
// can add a bias over columns, keep the pre-activation, apply exact GELU and add a residual:
//   z = acc + bias[n];  pre = z;  c = gelu(z) + residual
// so a Linear layer's bias, activation and skip connection cost no extra pass over memory.
// The optional buffers follow C in binding order (bias, residual, pre), each declared only when
// used (auto layouts drop unused bindings). residual and pre are laid out like C.
//
// Storage type: every buffer holds T (f32, or f16: see floatStorage); loads widen to f32, so
// the products and their sums are f32 whatever the storage, and only the stored C is rounded.
import { ERF_WGSL } from './elementwise.wgsl.ts';
import { floatStorage, type FloatStorage } from './kernel-source.ts';

/** The Params block both kernels read (12 u32; the last two pad to 16-byte size). */
const PARAMS = /* wgsl */ `
struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  stride_a: u32, stride_b: u32, stride_c: u32,   // elements between consecutive batch items (0: broadcast)
  off_a: u32, off_b: u32, off_c: u32,            // element offset of item 0
}
@group(0) @binding(0) var<uniform> p: Params;`;

/** What `finish` does to each output element; all false is a plain matmul. */
export interface MatmulEpilogue {
  bias: boolean;
  gelu: boolean;
  residual: boolean;
  pre: boolean;
}
export const NO_EPILOGUE: MatmulEpilogue = { bias: false, gelu: false, residual: false, pre: false };

/** Short key of an epilogue for kernel names ('' for none). */
export function epilogueKey(e: MatmulEpilogue): string {
  return `${e.bias ? '_bias' : ''}${e.gelu ? '_gelu' : ''}${e.residual ? '_res' : ''}${e.pre ? '_pre' : ''}`;
}

/** The epilogue's bindings (after C at binding 3) and `finish(v, n, i)` for column n, C index i. */
function epilogueWgsl(e: MatmulEpilogue): string {
  let binding = 4;
  const decl: string[] = [];
  const body: string[] = [];
  if (e.bias) {
    decl.push(`@group(0) @binding(${binding++}) var<storage, read> bias: array<T>;        // [N]`);
    body.push('z += f32(bias[n]);');
  }
  if (e.residual) decl.push(`@group(0) @binding(${binding++}) var<storage, read> residual: array<T>;    // like C`);
  if (e.pre) {
    decl.push(`@group(0) @binding(${binding++}) var<storage, read_write> pre: array<T>;   // like C`);
    body.push('pre[i] = T(z);');
  }
  if (e.gelu) body.push('z = gelu_(z);');
  if (e.residual) body.push('z += f32(residual[i]);');
  return `${decl.join('\n')}
${e.gelu ? ERF_WGSL : ''}
fn finish(v: f32, n: u32, i: u32) -> f32 {
  var z = v;
  ${body.join('\n  ')}
  return z;
}`;
}

/** The subgroup matmul kernel's tile: rows per octet and vec4 column groups per lane. */
export interface SubgroupTile {
  /** Rows of C per octet (a multiple of 8: one cooperative A load per 8 rows). */
  tm: number;
  /** vec4 column groups per lane: an octet covers 32·tn4 columns. */
  tn4: number;
}

// A fragment loaders. A fragment is one vec4 per lane holding 8 rows × 4 k of A for rows
// m0..m0+7 and k0..k0+3, and `a_at` reads element (row i, k0 + kk) from it on every lane.
const A_VEC4 = /* wgsl */ `
// A as vec4: along K (K % 4 == 0) when not transposed, along M (M % 4 == 0) when transposed.
// Not transposed: lane l holds row m0 + l, components k0..k0+3.
// Transposed (A stored [K, M]): lane l holds k0 + l/2, rows m0 + 4·(l%2) .. +3.
fn load_a(base: u32, m0: u32, k0: u32, lane: u32) -> vec4<f32> {
  if (TRANS_A) {
    let k = k0 + (lane >> 1u);
    let v = vec4<f32>(a[(base + min(k, p.K - 1u) * p.M + min(m0 + 4u * (lane & 1u), p.M - 4u)) / 4u]);
    return select(vec4<f32>(0.0), v, k < p.K);
  }
  return vec4<f32>(a[(base + min(m0 + lane, p.M - 1u) * p.K + k0) / 4u]);
}
fn a_at(frag: vec4<f32>, gbase: u32, i: u32, kk: u32) -> f32 {
  if (TRANS_A) { return subgroupShuffle(frag[i & 3u], gbase + 2u * kk + (i >> 2u)); }
  return subgroupShuffle(frag[kk], gbase + i);
}`;

const A_SCALAR = /* wgsl */ `
// A as f32 (any shape): lane l holds row m0 + l, components k0..k0+3, zero past K.
fn load_a(base: u32, m0: u32, k0: u32, lane: u32) -> vec4<f32> {
  let m = min(m0 + lane, p.M - 1u);
  var v: vec4<f32>;
  for (var kk = 0u; kk < 4u; kk++) {
    let k = min(k0 + kk, p.K - 1u);
    if (TRANS_A) { v[kk] = f32(a[base + k * p.M + m]); } else { v[kk] = f32(a[base + m * p.K + k]); }
  }
  return select(vec4<f32>(0.0), v, vec4<u32>(k0) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.K));
}
fn a_at(frag: vec4<f32>, gbase: u32, i: u32, kk: u32) -> f32 {
  return subgroupShuffle(frag[kk], gbase + i);
}`;

// B loaders: the 4 k × 4 columns n..n+3 a lane needs for one column group, as q[kk] = the
// 4 columns at k0 + kk (zero past K).
const B_VEC4 = /* wgsl */ `
// B as vec4: along K (K % 4 == 0) when transposed, along N (N % 4 == 0) when not.
fn load_b(base: u32, n: u32, k0: u32) -> array<vec4<f32>, 4> {
  if (TRANS_B) {
    // B stored [N, K]: one vec4 along K per column, transposed in registers
    let t0 = vec4<f32>(b[(base + min(n, p.N - 1u) * p.K + k0) / 4u]);
    let t1 = vec4<f32>(b[(base + min(n + 1u, p.N - 1u) * p.K + k0) / 4u]);
    let t2 = vec4<f32>(b[(base + min(n + 2u, p.N - 1u) * p.K + k0) / 4u]);
    let t3 = vec4<f32>(b[(base + min(n + 3u, p.N - 1u) * p.K + k0) / 4u]);
    return array<vec4<f32>, 4>(vec4<f32>(t0.x, t1.x, t2.x, t3.x), vec4<f32>(t0.y, t1.y, t2.y, t3.y),
                               vec4<f32>(t0.z, t1.z, t2.z, t3.z), vec4<f32>(t0.w, t1.w, t2.w, t3.w));
  }
  var q: array<vec4<f32>, 4>;
  for (var kk = 0u; kk < 4u; kk++) {
    let k = k0 + kk;
    q[kk] = select(vec4<f32>(0.0), vec4<f32>(b[(base + min(k, p.K - 1u) * p.N + min(n, p.N - 4u)) / 4u]), k < p.K);
  }
  return q;
}`;

const B_SCALAR = /* wgsl */ `
// B as f32 (any shape).
fn load_b(base: u32, n: u32, k0: u32) -> array<vec4<f32>, 4> {
  var q: array<vec4<f32>, 4>;
  for (var kk = 0u; kk < 4u; kk++) {
    let k = min(k0 + kk, p.K - 1u);
    for (var cc = 0u; cc < 4u; cc++) {
      let col = min(n + cc, p.N - 1u);
      if (TRANS_B) { q[kk][cc] = f32(b[base + col * p.K + k]); } else { q[kk][cc] = f32(b[base + k * p.N + col]); }
    }
    q[kk] = select(vec4<f32>(0.0), q[kk], k0 + kk < p.K);
  }
  return q;
}`;

/**
 * The subgroup kernel for one tile and operand layout. `aVec4`/`bVec4` bind A/B as
 * array<vec4<f32>> (the launcher checks the rows, offsets and batch strides allow it).
 */
export function matmulSubgroupWgsl(t: SubgroupTile, aVec4: boolean, bVec4: boolean, epi: MatmulEpilogue = NO_EPILOGUE,
  dtype: FloatStorage = 'f32'): string
{
  const { tm, tn4 } = t;
  // The straight-line FMA block of one K step: for each column group j, load B once, then for
  // each row i fold the 4 k values into acc_i_j (so one accumulator is live at a time).
  const step: string[] = [];
  for (let f = 0; f < tm / 8; f++) step.push(`    let af${f} = load_a(base_a, m0 + ${8 * f}u, k0, lane);`);
  for (let j = 0; j < tn4; j++) {
    step.push(`    let bq${j} = load_b(base_b, n0 + 4u * (lane + ${8 * j}u), k0);`);
    for (let i = 0; i < tm; i++) {
      const a = (kk: number) => `vec4<f32>(a_at(af${i >> 3}, gbase, ${i & 7}u, ${kk}u))`;
      step.push(
        `    acc_${i}_${j} = fma(${a(3)}, bq${j}[3], fma(${a(2)}, bq${j}[2], fma(${a(1)}, bq${j}[1], fma(${a(0)}, bq${j}[0], acc_${i}_${j}))));`,
      );
    }
  }
  const decl: string[] = [];
  const store: string[] = [];
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn4; j++) {
      decl.push(`  var acc_${i}_${j} = vec4<f32>(0.0);`);
      store.push(`  store_c(base_c, m0 + ${i}u, n0 + 4u * (lane + ${8 * j}u), acc_${i}_${j});`);
    }
  }
  return /* wgsl */ `
enable subgroups;
${floatStorage(dtype)}
// matmul_sg ${tm}×${32 * tn4} per octet, A ${aVec4 ? 'vec4' : 'f32'}, B ${bVec4 ? 'vec4' : 'f32'}${epilogueKey(epi)}: see kernels/matmul.wgsl.ts.
const TM = ${tm}u;          // rows of C per octet
const TN = ${32 * tn4}u;    // columns of C per octet (4 per lane and column group)
${PARAMS}
@group(0) @binding(1) var<storage, read> a: array<${aVec4 ? 'vec4<T>' : 'T'}>;   // [batch?, M, K] or [batch?, K, M] when TRANS_A
@group(0) @binding(2) var<storage, read> b: array<${bVec4 ? 'vec4<T>' : 'T'}>;   // [batch?, K, N] or [batch?, N, K] when TRANS_B
@group(0) @binding(3) var<storage, read_write> c: array<T>;   // [batch, M, N]
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override OCT_M: u32 = 1;    // octets per workgroup along M
override OCT_N: u32 = 8;    // octets per workgroup along N
${aVec4 ? A_VEC4 : A_SCALAR}
${bVec4 ? B_VEC4 : B_SCALAR}
${epilogueWgsl(epi)}

fn store_c(base: u32, m: u32, n: u32, v: vec4<f32>) {
  if (m >= p.M) { return; }
  for (var cc = 0u; cc < 4u; cc++) {
    let i = base + m * p.N + n + cc;
    if (n + cc < p.N) { c[i] = T(finish(v[cc], n + cc, i)); }
  }
}

@compute @workgroup_size(8u * OCT_M * OCT_N, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(subgroup_invocation_id) sid: u32) {
  let lane = sid & 7u;
  let gbase = sid - lane;          // first lane of this octet within the subgroup
  let oct = lid.x >> 3u;
  let m0 = (wid.y * OCT_M + oct % OCT_M) * TM;
  let n0 = (wid.x * OCT_N + oct / OCT_M) * TN;
  let base_a = p.off_a + wid.z * p.stride_a;
  let base_b = p.off_b + wid.z * p.stride_b;
  // No early return: every lane takes part in the shuffles; edge lanes compute clamped copies.
${decl.join('\n')}
  for (var k0 = 0u; k0 < p.K; k0 += 4u) {
${step.join('\n')}
  }
  let base_c = p.off_c + wid.z * p.stride_c;
${store.join('\n')}
}
`;
}

/** The portable scalar kernel: a TM×TN register tile per invocation, no subgroups. */
export function matmulScalarWgsl(tm: number, tn: number, epi: MatmulEpilogue = NO_EPILOGUE, dtype: FloatStorage = 'f32'): string {
  return /* wgsl */ `${floatStorage(dtype)}
const TM = ${tm}u;
const TN = ${tn}u;
${PARAMS}
@group(0) @binding(1) var<storage, read> a: array<T>;        // [batch?, M, K] or [batch?, K, M] when TRANS_A
@group(0) @binding(2) var<storage, read> b: array<T>;        // [batch?, K, N] or [batch?, N, K] when TRANS_B
@group(0) @binding(3) var<storage, read_write> c: array<T>;  // [batch, M, N]
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override WGX: u32 = 8;
override WGY: u32 = 8;
${epilogueWgsl(epi)}

@compute @workgroup_size(WGX, WGY, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n0 = gid.x * TN;
  let m0 = gid.y * TM;
  let bz = gid.z;
  if (m0 >= p.M || n0 >= p.N || bz >= p.batch) { return; }
  let base_a = p.off_a + bz * p.stride_a;
  let base_b = p.off_b + bz * p.stride_b;
  // Row/column addresses, clamped so edge tiles read valid memory; their stores are skipped.
  var ra: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { ra[i] = min(m0 + i, p.M - 1u); }
  var cb: array<u32, TN>;
  for (var j = 0u; j < TN; j++) { cb[j] = min(n0 + j, p.N - 1u); }
  var acc: array<array<f32, TN>, TM>;
  var av: array<f32, TM>;
  var bv: array<f32, TN>;
  for (var k = 0u; k < p.K; k++) {
    for (var i = 0u; i < TM; i++) {
      if (TRANS_A) { av[i] = f32(a[base_a + k * p.M + ra[i]]); } else { av[i] = f32(a[base_a + ra[i] * p.K + k]); }
    }
    for (var j = 0u; j < TN; j++) {
      if (TRANS_B) { bv[j] = f32(b[base_b + cb[j] * p.K + k]); } else { bv[j] = f32(b[base_b + k * p.N + cb[j]]); }
    }
    for (var i = 0u; i < TM; i++) {
      for (var j = 0u; j < TN; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); }
    }
  }
  let base_c = p.off_c + bz * p.stride_c;
  for (var i = 0u; i < TM; i++) {
    if (m0 + i >= p.M) { break; }
    for (var j = 0u; j < TN; j++) {
      let idx = base_c + (m0 + i) * p.N + n0 + j;
      if (n0 + j < p.N) { c[idx] = T(finish(acc[i][j], n0 + j, idx)); }
    }
  }
}
`;
}
