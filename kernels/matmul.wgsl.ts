// matmul: C[b] = op(A[b]) · op(B[b]) for a batch of row-major matrices, op = identity or
// transpose (so backward passes need no explicit transposes). Each invocation owns a TM×TN
// register tile of C and walks the whole K dimension: no workgroup memory, no barriers, which
// is what lavapipe (LLVM on CPU cores) rewards. Edges are handled by clamping reads to the last
// row/column and guarding stores, so any M, N, K works. A batch stride of 0 broadcasts an
// operand across the batch (a weight shared by every sequence).
export function matmulWgsl(tm: number, tn: number): string {
  return /* wgsl */ `
const TM = ${tm}u;
const TN = ${tn}u;
struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  stride_a: u32, stride_b: u32, stride_c: u32,   // elements between consecutive batch items
  off_a: u32, off_b: u32, off_c: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;        // [batch?, M, K] or [batch?, K, M] when TRANS_A
@group(0) @binding(2) var<storage, read> b: array<f32>;        // [batch?, K, N] or [batch?, N, K] when TRANS_B
@group(0) @binding(3) var<storage, read_write> c: array<f32>;  // [batch, M, N]
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override WGX: u32 = 8;
override WGY: u32 = 8;

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
      if (TRANS_A) { av[i] = a[base_a + k * p.M + ra[i]]; } else { av[i] = a[base_a + ra[i] * p.K + k]; }
    }
    for (var j = 0u; j < TN; j++) {
      if (TRANS_B) { bv[j] = b[base_b + cb[j] * p.K + k]; } else { bv[j] = b[base_b + k * p.N + cb[j]]; }
    }
    for (var i = 0u; i < TM; i++) {
      for (var j = 0u; j < TN; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); }
    }
  }
  let base_c = p.off_c + bz * p.stride_c;
  for (var i = 0u; i < TM; i++) {
    if (m0 + i >= p.M) { break; }
    for (var j = 0u; j < TN; j++) {
      if (n0 + j < p.N) { c[base_c + (m0 + i) * p.N + n0 + j] = acc[i][j]; }
    }
  }
}
`;
}
