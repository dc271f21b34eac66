// attention: flash-style softmax(q·kᵀ·scale)·v without the [Nq, Nk] score matrix, and its
// backward (Dao et al. 2022, "FlashAttention", Alg. 1 forward and the recomputing backward).
// Shapes: q [heads, Nq, Dh], k and v [heads, Nk, Dh], o [heads, Nq, Dh], lse [heads, Nq];
// heads is every leading dim (B·H). Rows are DH4 = Dh/4 vec4s.
// Layouts: each of q, k, v, o, dO, dq, dk, dv is read or written through a row layout (in vec4
// units): row r of head h starts at off + (h / hpb)·sB + (h % hpb)·sH + r·sR, with hpb the heads
// per batch item. Dense [heads, N, Dh] is (0, N·DH4, 0, DH4) with hpb 1; the columns of a fused
// qkv projection [B, N, 3, H, Dh] are read in place (sR = 3·H·DH4, sH = DH4), and o and the
// gradients can be written in [B, N, H, Dh] order, so no head split or merge is ever copied.
//
// Work split: workgroup (x, head); each invocation owns one query row (forward, dq) or one key
// row (dk/dv), held with its accumulators in function-scope arrays of DH8 vec4s (DH4 rounded up
// to a multiple of 8; the padding chunks are zero or ignored). The inner loop streams the other
// side's rows, one at a time; every invocation of the workgroup wants the same row at the same
// time. No workgroup memory, no barriers. Invocations past the last row compute a clamped copy
// of it and store nothing, so control flow stays uniform.
//
// Streamed rows are read through `<buf>_frag` / `<buf>_at`, the only code that differs between
// the two variants (see `variant` below):
//   subgroups  the 8 lanes of an octet each load one vec4 of every 8 (`_frag`) and take the
//              other seven from their neighbours with subgroupShuffle (`_at`). Lavapipe runs an
//              octet as one 8-lane SIMD register and pays per lane for every storage load, even
//              at a uniform address (~10× a vec4 FMA), but little for a shuffle, so this cuts
//              the dominant cost 8× (forward at B·H 24, N 197, Dh 64: 3× faster).
//   plain      every invocation loads the row itself (adapters without subgroups).
// DH4, DH8 and TK are WGSL constants (function-scope array sizes must be), so each head dim is
// its own text; WG is an override. The loops over a row's chunks have constant bounds, so the
// compiler unrolls them and the arrays live in registers. One row per invocation, not a
// register tile of several: on lavapipe the larger unrolled bodies took LLVM minutes to compile
// and ran no faster once loads were shared.
//
//   forward  m, l: running max and sum of exp, over blocks of TK keys (one rescale per block):
//            o = Σ_j exp(s_j − m)·v_j / l,  lse = m + log l        (s = q·k·scale)
//            Scores are kept in base 2 (q pre-multiplied by scale·log2 e), so exp2 replaces exp.
//   dq       D = dO·o; p_j = exp(s_j − lse); ds_j = p_j·(dO·v_j − D); dq = scale·Σ_j ds_j·k_j.
//            Writes D (delta) for the dk/dv kernel, which runs after it.
//   dk, dv   per key row j: dv = Σ_i p_ij·dO_i;  dk = scale·Σ_i ds_ij·q_i.
// Rows are stored as T4 = vec4<T> (f32, or f16 storage: see floatStorage) and widened on load;
// scores, softmax statistics, lse and delta are f32. Accumulates in f32. At most eight storage bindings per kernel (the WebGPU default limit).
// dk and dv share one binding (dkv), so they can be two parts of one buffer such as dqkv.

import { floatStorage, type FloatStorage } from './kernel-source.ts';

/** What varies with the subgroup choice: the extension, the entry's extra argument, the fetchers. */
function variant(sg: boolean, streamed: readonly string[]) {
  const fetchers = streamed.map((b) =>
    sg
      ? /* wgsl */ `
// ${b}: this lane's share (chunk c8 + lane) of chunks c8..c8+7 of the row at rb; chunk c8 + cc
// from the lane that loaded it
fn ${b}_frag(rb: u32, c8: u32) -> vec4<f32> { return vec4<f32>(${b}[rb + min(c8 + lane, DH4 - 1u)]); }
fn ${b}_at(frag: vec4<f32>, rb: u32, c8: u32, cc: u32) -> vec4<f32> { return subgroupShuffle(frag, octet + cc); }`
      : /* wgsl */ `
// ${b}: chunk c8 + cc of the row at rb, loaded directly (the fragment is unused)
fn ${b}_frag(rb: u32, c8: u32) -> vec4<f32> { return vec4<f32>(0.0); }
fn ${b}_at(frag: vec4<f32>, rb: u32, c8: u32, cc: u32) -> vec4<f32> { return vec4<f32>(${b}[rb + min(c8 + cc, DH4 - 1u)]); }`
  ).join('\n');
  return {
    enable: sg ? 'enable subgroups;' : '',
    arg: sg ? ', @builtin(subgroup_invocation_id) sid: u32' : '',
    init: sg ? 'lane = sid & 7u; octet = sid - lane;' : '',
    fns: (sg
      ? "var<private> lane: u32;    // this invocation's place in its octet\nvar<private> octet: u32;   // subgroup id of the octet's first lane\n"
      : '') + fetchers,
  };
}

const header = (dh4: number, tk: number, enable: string, dtype: FloatStorage) =>
  /* wgsl */ `${enable}
${floatStorage(dtype)}alias T4 = vec4<T>;   // a stored row chunk (q, k, v, o, dO and the gradients); math is vec4<f32>
const DH4 = ${dh4}u;   // head dim / 4
const DH8 = ${Math.ceil(dh4 / 8) * 8}u;   // DH4 rounded up to whole octets
const TK = ${tk}u;     // keys per online-softmax block (forward)
const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;
const NEG_BIG = -1.0e30;   // a masked score: exp2 of it (minus any real score) is exactly 0
struct Params {
  nq: u32,      // query rows per head
  nk: u32,      // key (= value) rows per head
  heads: u32,   // product of the leading dims
  scale: f32,   // multiplies q·k (default Dh^(-1/2))
  hpb: u32,     // heads per batch item (the layouts' h / hpb, h % hpb)
  pad0: u32, pad1: u32, pad2: u32,
  lay: array<vec4<u32>, 8>,   // (off, sB, sH, sR) in vec4s of Q, K, V, O, DO, DQ, DK, DV
}
@group(0) @binding(0) var<uniform> p: Params;
override WG: u32 = 16;
const Q = 0u; const K = 1u; const V = 2u; const O = 3u; const DO = 4u; const DQ = 5u; const DK = 6u; const DV = 7u;
// vec4 index of row r of head h of tensor t
fn row_of(t: u32, h: u32, r: u32) -> u32 {
  let L = p.lay[t];
  return L.x + (h / p.hpb) * L.y + (h % p.hpb) * L.z + r * L.w;
}
`;

const MAIN = (arg: string) =>
  /* wgsl */ `@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>${arg})`;

export function attentionForwardWgsl(dh4: number, tk: number, sg: boolean, dtype: FloatStorage = 'f32'): string {
  const x = variant(sg, ['k', 'v']);
  return /* wgsl */ `${header(dh4, tk, x.enable, dtype)}
@group(0) @binding(1) var<storage, read> q: array<T4>;         // [heads, nq, DH4]
@group(0) @binding(2) var<storage, read> k: array<T4>;         // [heads, nk, DH4]
@group(0) @binding(3) var<storage, read> v: array<T4>;         // [heads, nk, DH4]
@group(0) @binding(4) var<storage, read_write> o: array<T4>;   // [heads, nq, DH4]
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;       // [heads, nq], natural log
${x.fns}

${MAIN(x.arg)} {
  ${x.init}
  let h = wid.z * nwg.y + wid.y;
  if (h >= p.heads) { return; }
  let row = wid.x * WG + lid.x;
  let qb = row_of(Q, h, min(row, p.nq - 1u));
  let kb = row_of(K, h, 0u);
  let vb = row_of(V, h, 0u);
  let ks = p.lay[K].w;
  let vs = p.lay[V].w;
  let s2 = p.scale * LOG2E;
  var qr: array<vec4<f32>, DH8>;    // q·scale·log2 e (zero past DH4)
  var acc: array<vec4<f32>, DH8>;   // Σ exp2(s − m)·v
  for (var c = 0u; c < DH8; c++) {
    qr[c] = select(vec4(0.0), vec4<f32>(q[qb + min(c, DH4 - 1u)]) * s2, c < DH4);
    acc[c] = vec4(0.0);
  }
  var m = NEG_BIG;   // running max of the base-2 scores
  var l = 0.0;       // running Σ exp2(s − m)
  for (var j0 = 0u; j0 < p.nk; j0 += TK) {
    var s: array<f32, TK>;
    var mb = m;
    for (var t = 0u; t < TK; t++) {
      let jb = kb + min(j0 + t, p.nk - 1u) * ks;
      var d = vec4(0.0);
      for (var c8 = 0u; c8 < DH8; c8 += 8u) {
        let f = k_frag(jb, c8);
        for (var cc = 0u; cc < 8u; cc++) { d = fma(qr[c8 + cc], k_at(f, jb, c8, cc), d); }
      }
      s[t] = select(NEG_BIG, dot(d, vec4(1.0)), j0 + t < p.nk);
      mb = max(mb, s[t]);
    }
    let corr = exp2(m - mb);   // rescale what was summed against the old max
    l *= corr;
    for (var c = 0u; c < DH8; c++) { acc[c] *= corr; }
    m = mb;
    for (var t = 0u; t < TK; t++) {
      let jb = vb + min(j0 + t, p.nk - 1u) * vs;
      let pt = exp2(s[t] - m);
      l += pt;
      for (var c8 = 0u; c8 < DH8; c8 += 8u) {
        let f = v_frag(jb, c8);
        for (var cc = 0u; cc < 8u; cc++) { acc[c8 + cc] = fma(vec4(pt), v_at(f, jb, c8, cc), acc[c8 + cc]); }
      }
    }
  }
  if (row < p.nq) {
    let inv = 1.0 / l;
    let ob = row_of(O, h, row);
    for (var c = 0u; c < DH4; c++) { o[ob + c] = T4(acc[c] * inv); }
    lse[h * p.nq + row] = (m + log2(l)) * LN2;
  }
}
`;
}

export function attentionBackwardDqWgsl(dh4: number, sg: boolean, dtype: FloatStorage = 'f32'): string {
  const x = variant(sg, ['k', 'v']);
  return /* wgsl */ `${header(dh4, 1, x.enable, dtype)}
@group(0) @binding(1) var<storage, read> q: array<T4>;          // [heads, nq, DH4]
@group(0) @binding(2) var<storage, read> k: array<T4>;          // [heads, nk, DH4]
@group(0) @binding(3) var<storage, read> v: array<T4>;          // [heads, nk, DH4]
@group(0) @binding(4) var<storage, read> o: array<T4>;          // [heads, nq, DH4]
@group(0) @binding(5) var<storage, read> dout: array<T4>;       // [heads, nq, DH4] dL/do
@group(0) @binding(6) var<storage, read> lse: array<f32>;              // [heads, nq]
@group(0) @binding(7) var<storage, read_write> dq: array<T4>;   // [heads, nq, DH4]
@group(0) @binding(8) var<storage, read_write> delta: array<f32>;      // [heads, nq] dO·o
${x.fns}

${MAIN(x.arg)} {
  ${x.init}
  let h = wid.z * nwg.y + wid.y;
  if (h >= p.heads) { return; }
  let row = wid.x * WG + lid.x;
  let i = min(row, p.nq - 1u);
  let qb = row_of(Q, h, i);
  let ob = row_of(O, h, i);
  let gb = row_of(DO, h, i);
  let kb = row_of(K, h, 0u);
  let vb = row_of(V, h, 0u);
  let ks = p.lay[K].w;
  let vs = p.lay[V].w;
  let s2 = p.scale * LOG2E;
  var qr: array<vec4<f32>, DH8>;    // q·scale·log2 e (zero past DH4)
  var gr: array<vec4<f32>, DH8>;    // dO (zero past DH4)
  var acc: array<vec4<f32>, DH8>;   // Σ_j ds_j·k_j
  var dd = vec4(0.0);
  for (var c = 0u; c < DH8; c++) {
    let live = c < DH4;
    let cc = min(c, DH4 - 1u);
    qr[c] = select(vec4(0.0), vec4<f32>(q[qb + cc]) * s2, live);
    gr[c] = select(vec4(0.0), vec4<f32>(dout[gb + cc]), live);
    acc[c] = vec4(0.0);
    dd = fma(gr[c], vec4<f32>(o[ob + cc]), dd);
  }
  let D = dot(dd, vec4(1.0));
  let lse2 = lse[h * p.nq + i] * LOG2E;
  for (var j = 0u; j < p.nk; j++) {
    let jb = kb + j * ks;
    let jv = vb + j * vs;
    var kf: array<vec4<f32>, DH8 / 8u>;   // this lane's fragments of row j of k, kept for the update
    var sv = vec4(0.0);
    var dp = vec4(0.0);
    for (var c8 = 0u; c8 < DH8; c8 += 8u) {
      kf[c8 / 8u] = k_frag(jb, c8);
      let vf = v_frag(jv, c8);
      for (var cc = 0u; cc < 8u; cc++) {
        sv = fma(qr[c8 + cc], k_at(kf[c8 / 8u], jb, c8, cc), sv);
        dp = fma(gr[c8 + cc], v_at(vf, jv, c8, cc), dp);
      }
    }
    let ds = exp2(dot(sv, vec4(1.0)) - lse2) * (dot(dp, vec4(1.0)) - D);
    for (var c8 = 0u; c8 < DH8; c8 += 8u) {
      for (var cc = 0u; cc < 8u; cc++) { acc[c8 + cc] = fma(vec4(ds), k_at(kf[c8 / 8u], jb, c8, cc), acc[c8 + cc]); }
    }
  }
  if (row < p.nq) {
    let dqb = row_of(DQ, h, row);
    for (var c = 0u; c < DH4; c++) { dq[dqb + c] = T4(acc[c] * p.scale); }
    delta[h * p.nq + i] = D;
  }
}
`;
}

export function attentionBackwardDkvWgsl(dh4: number, sg: boolean, dtype: FloatStorage = 'f32'): string {
  const x = variant(sg, ['q', 'dout']);
  return /* wgsl */ `${header(dh4, 1, x.enable, dtype)}
@group(0) @binding(1) var<storage, read> q: array<T4>;          // [heads, nq, DH4]
@group(0) @binding(2) var<storage, read> k: array<T4>;          // [heads, nk, DH4]
@group(0) @binding(3) var<storage, read> v: array<T4>;          // [heads, nk, DH4]
@group(0) @binding(4) var<storage, read> dout: array<T4>;       // [heads, nq, DH4] dL/do
@group(0) @binding(5) var<storage, read> lse: array<f32>;              // [heads, nq]
@group(0) @binding(6) var<storage, read> delta: array<f32>;            // [heads, nq] from the dq kernel
@group(0) @binding(7) var<storage, read_write> dkv: array<T4>;  // dk and dv, at their layouts
${x.fns}

${MAIN(x.arg)} {
  ${x.init}
  let h = wid.z * nwg.y + wid.y;
  if (h >= p.heads) { return; }
  let row = wid.x * WG + lid.x;
  let j = min(row, p.nk - 1u);
  let kb = row_of(K, h, j);
  let vb = row_of(V, h, j);
  let qb = row_of(Q, h, 0u);
  let gb = row_of(DO, h, 0u);
  let qs = p.lay[Q].w;
  let gs = p.lay[DO].w;
  let s2 = p.scale * LOG2E;
  var kr: array<vec4<f32>, DH8>;   // k·scale·log2 e (zero past DH4)
  var vr: array<vec4<f32>, DH8>;   // v (zero past DH4)
  var ak: array<vec4<f32>, DH8>;   // Σ_i ds_i·q_i
  var av: array<vec4<f32>, DH8>;   // Σ_i p_i·dO_i
  for (var c = 0u; c < DH8; c++) {
    let live = c < DH4;
    kr[c] = select(vec4(0.0), vec4<f32>(k[kb + min(c, DH4 - 1u)]) * s2, live);
    vr[c] = select(vec4(0.0), vec4<f32>(v[vb + min(c, DH4 - 1u)]), live);
    ak[c] = vec4(0.0);
    av[c] = vec4(0.0);
  }
  for (var i = 0u; i < p.nq; i++) {
    let ib = qb + i * qs;
    let ig = gb + i * gs;
    var qf: array<vec4<f32>, DH8 / 8u>;   // this lane's fragments of rows i of q and dO
    var gf: array<vec4<f32>, DH8 / 8u>;
    var sv = vec4(0.0);
    var dp = vec4(0.0);
    for (var c8 = 0u; c8 < DH8; c8 += 8u) {
      qf[c8 / 8u] = q_frag(ib, c8);
      gf[c8 / 8u] = dout_frag(ig, c8);
      for (var cc = 0u; cc < 8u; cc++) {
        sv = fma(kr[c8 + cc], q_at(qf[c8 / 8u], ib, c8, cc), sv);
        dp = fma(vr[c8 + cc], dout_at(gf[c8 / 8u], ig, c8, cc), dp);
      }
    }
    let r = h * p.nq + i;
    let pr = exp2(dot(sv, vec4(1.0)) - lse[r] * LOG2E);
    let ds = pr * (dot(dp, vec4(1.0)) - delta[r]);
    for (var c8 = 0u; c8 < DH8; c8 += 8u) {
      for (var cc = 0u; cc < 8u; cc++) {
        av[c8 + cc] = fma(vec4(pr), dout_at(gf[c8 / 8u], ig, c8, cc), av[c8 + cc]);
        ak[c8 + cc] = fma(vec4(ds), q_at(qf[c8 / 8u], ib, c8, cc), ak[c8 + cc]);
      }
    }
  }
  if (row < p.nk) {
    let dkb = row_of(DK, h, row);
    let dvb = row_of(DV, h, row);
    for (var c = 0u; c < DH4; c++) {
      dkv[dkb + c] = T4(ak[c] * p.scale);
      dkv[dvb + c] = T4(av[c]);
    }
  }
}
`;
}
