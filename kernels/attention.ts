// attention launchers (see attention.wgsl.ts) and their float64 twins, which the CPU reference
// backend runs in place of the WGSL. Pure: numbers in, text and layout out.
import { attentionBackwardDkvWgsl, attentionBackwardDqWgsl, attentionForwardWgsl } from './attention.wgsl.ts';
import { cached, need, type FloatStorage, type KernelSource, type Launch } from './kernel-source.ts';

export interface AttentionShape {
  heads: number; // product of the leading dims (B·H)
  nq: number; // query rows per head
  nk: number; // key/value rows per head
  dh: number; // head dim: a multiple of 4, at most ATTENTION_MAX_DH
  scale: number;
  /** Where each tensor's rows are (default: dense [heads, N, Dh] for all; see attention.wgsl.ts). */
  layouts?: AttentionLayouts;
  /** Element type of q, k, v, o, dO and the gradients (default f32); lse and delta are f32. */
  dtype?: FloatStorage;
}

/**
 * Row r of head h of a tensor starts at element off + ⌊h / hpb⌋·sB + (h mod hpb)·sH + r·sR;
 * its Dh elements are contiguous. All four must be multiples of 4.
 */
export interface RowLayout {
  off: number;
  sB: number;
  sH: number;
  sR: number;
}
export type AttentionTensor = 'q' | 'k' | 'v' | 'o' | 'dout' | 'dq' | 'dk' | 'dv';
export interface AttentionLayouts {
  hpb: number;
  rows: Record<AttentionTensor, RowLayout>;
}
const ORDER: readonly AttentionTensor[] = ['q', 'k', 'v', 'o', 'dout', 'dq', 'dk', 'dv'];

/** Every tensor dense [heads, N, Dh]; dk at the start of the dkv buffer, dv after it. */
export function denseLayouts(p: Pick<AttentionShape, 'heads' | 'nq' | 'nk' | 'dh'>): AttentionLayouts {
  const dense = (n: number, off = 0): RowLayout => ({ off, sB: n * p.dh, sH: 0, sR: p.dh });
  const q = dense(p.nq), k = dense(p.nk);
  return { hpb: 1, rows: { q, k, v: k, o: q, dout: q, dq: q, dk: k, dv: dense(p.nk, p.heads * p.nk * p.dh) } };
}

/**
 * The layouts of attention over a fused projection qkv [B, N, 3, H, Dh] (q, k, v read in place),
 * with o, dO in [B, N, H, Dh] order and dq, dk, dv written into a dqkv shaped like qkv.
 */
export function packedQkvLayouts(p: { heads: number; n: number; dh: number; hpb: number; }): AttentionLayouts {
  const D = p.hpb * p.dh;
  const inQkv = (part: number): RowLayout => ({ off: part * D, sB: p.n * 3 * D, sH: p.dh, sR: 3 * D });
  const bnhd: RowLayout = { off: 0, sB: p.n * D, sH: p.dh, sR: D };
  return { hpb: p.hpb, rows: { q: inQkv(0), k: inQkv(1), v: inQkv(2), o: bnhd, dout: bnhd, dq: inQkv(0), dk: inQkv(1), dv: inQkv(2) } };
}

/** Element index of row r of head h under layout L. */
const rowAt = (L: RowLayout, hpb: number, h: number, r: number) => L.off + Math.floor(h / hpb) * L.sB + (h % hpb) * L.sH + r * L.sR;
/** Launch tiles: invocations per workgroup; keys per online-softmax block (forward). */
export interface AttentionTile {
  wg: number;
  tk: number;
}
export interface AttentionOptions {
  tile?: AttentionTile;
  /**
   * The device's smallest subgroup size: 8 or more selects the kernels that share streamed rows
   * across an octet with subgroupShuffle (needs the `subgroups` feature); 0 or absent, the plain ones.
   */
  subgroupSize?: number;
}

/** The longest row an invocation keeps in registers (dk/dv keeps four: k, v and their gradients). */
export const ATTENTION_MAX_DH = 128;
export const DEFAULT_ATTENTION_TILE: AttentionTile = { wg: 16, tk: 2 };

const texts = new Map<string, string>();
function source(kind: 'fwd' | 'dq' | 'dkv', dh: number, o: AttentionOptions, dtype: FloatStorage = 'f32'): KernelSource {
  const tile = o.tile ?? DEFAULT_ATTENTION_TILE;
  const sg = (o.subgroupSize ?? 0) >= 8;
  const name = `attention_${kind}_d${dh}${kind === 'fwd' ? `_tk${tile.tk}` : ''}${sg ? '_sg' : ''}${dtype === 'f16' ? '_f16' : ''}`;
  const wgsl = cached(texts, name, () =>
    kind === 'fwd' ?
      attentionForwardWgsl(dh / 4, tile.tk, sg, dtype)
      : kind === 'dq' ?
      attentionBackwardDqWgsl(dh / 4, sg, dtype)
      : attentionBackwardDkvWgsl(dh / 4, sg, dtype));
  // the subgroup kernels need whole octets: workgroups of a multiple of 8 invocations
  return { name, wgsl, overrides: { WG: sg ? Math.ceil(tile.wg / 8) * 8 : tile.wg } };
}

function check(p: AttentionShape, o: AttentionOptions): AttentionTile {
  const tile = o.tile ?? DEFAULT_ATTENTION_TILE;
  need('attention', p.dh > 0 && p.dh % 4 === 0 && p.dh <= ATTENTION_MAX_DH,
    `head dim ${p.dh} must be a positive multiple of 4, at most ${ATTENTION_MAX_DH}`);
  need('attention', p.heads > 0 && p.nq > 0 && p.nk > 0, `empty attention: ${p.heads} heads, ${p.nq} queries, ${p.nk} keys`);
  need('attention', p.heads * Math.max(p.nq, p.nk) * p.dh < 2 ** 31, `[${p.heads}, ${Math.max(p.nq, p.nk)}, ${p.dh}] has 2^31 elements or more`);
  const ok = (v: number, hi: number) => Number.isInteger(v) && v >= 1 && v <= hi;
  need('attention', ok(tile.wg, 256) && ok(tile.tk, 64), `tile wg ${tile.wg} (1..256), tk ${tile.tk} (1..64)`);
  return (o.subgroupSize ?? 0) >= 8 ? { ...tile, wg: Math.ceil(tile.wg / 8) * 8 } : tile;
}

function uniforms(p: AttentionShape): ArrayBuffer {
  const lay = p.layouts ?? denseLayouts(p);
  const buf = new ArrayBuffer(32 + 16 * ORDER.length);
  const u = new Uint32Array(buf);
  u.set([p.nq, p.nk, p.heads, 0, lay.hpb]);
  new Float32Array(buf)[3] = p.scale;
  ORDER.forEach((t, i) => {
    const L = lay.rows[t];
    const v = [L.off, L.sB, L.sH, L.sR];
    need('attention', v.every((x) => x % 4 === 0 && x >= 0 && x < 2 ** 32), `layout of ${t} (${v.join(', ')}) must be non-negative multiples of 4`);
    u.set(v.map((x) => x / 4), 8 + 4 * i);
  });
  return buf;
}

/** Workgroups for `rows` rows per head, one per invocation: x over rows, heads over y (and z). */
function workgroups(rows: number, heads: number, wg: number): [number, number, number] {
  const y = Math.min(heads, 65535);
  return [Math.ceil(rows / wg), y, Math.ceil(heads / y)];
}

/** Bindings: q, k, v, o, lse. */
export function attentionForward(p: AttentionShape, o: AttentionOptions = {}): Launch {
  const tile = check(p, o);
  return { source: source('fwd', p.dh, o, p.dtype), uniforms: uniforms(p), workgroups: workgroups(p.nq, p.heads, tile.wg) };
}

/** Bindings: q, k, v, o, dO, lse, dq, delta. Run before attentionBackwardDkv (it writes delta). */
export function attentionBackwardDq(p: AttentionShape, o: AttentionOptions = {}): Launch {
  const tile = check(p, o);
  return { source: source('dq', p.dh, o, p.dtype), uniforms: uniforms(p), workgroups: workgroups(p.nq, p.heads, tile.wg) };
}

/** Bindings: q, k, v, dO, lse, delta, dkv (dk and dv at their layouts in one buffer). */
export function attentionBackwardDkv(p: AttentionShape, o: AttentionOptions = {}): Launch {
  const tile = check(p, o);
  return { source: source('dkv', p.dh, o, p.dtype), uniforms: uniforms(p), workgroups: workgroups(p.nk, p.heads, tile.wg) };
}

// ---- float64 twins: the same algorithms, naively, in double precision ---------------------------

function dotRows(a: Float64Array, ia: number, b: Float64Array, ib: number, n: number): number {
  let s = 0;
  for (let c = 0; c < n; c++) s += a[ia + c]! * b[ib + c]!;
  return s;
}

/** [q, k, v, o, lse] as in attentionForward; the online softmax, one key at a time. */
export function attentionForwardRef(a: readonly Float64Array[], p: AttentionShape): void {
  const [q, k, v, o, lse] = a as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const { hpb, rows: L } = p.layouts ?? denseLayouts(p);
  const D = p.dh;
  const acc = new Float64Array(D);
  for (let h = 0; h < p.heads; h++) {
    for (let i = 0; i < p.nq; i++) {
      const qi = rowAt(L.q, hpb, h, i);
      let m = -Infinity, l = 0;
      acc.fill(0);
      for (let j = 0; j < p.nk; j++) {
        const kj = rowAt(L.k, hpb, h, j), vj = rowAt(L.v, hpb, h, j);
        const s = dotRows(q, qi, k, kj, D) * p.scale;
        const mNew = Math.max(m, s);
        const corr = Math.exp(m - mNew), pj = Math.exp(s - mNew);
        l = l * corr + pj;
        for (let c = 0; c < D; c++) acc[c] = acc[c]! * corr + pj * v[vj + c]!;
        m = mNew;
      }
      const oi = rowAt(L.o, hpb, h, i);
      for (let c = 0; c < D; c++) o[oi + c] = acc[c]! / l;
      lse[h * p.nq + i] = m + Math.log(l);
    }
  }
}

/** [q, k, v, o, dO, lse, dq, delta] as in attentionBackwardDq. */
export function attentionBackwardDqRef(a: readonly Float64Array[], p: AttentionShape): void {
  const [q, k, v, o, dout, lse, dq, delta] = a as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array,
    Float64Array];
  const { hpb, rows: L } = p.layouts ?? denseLayouts(p);
  const D = p.dh;
  for (let h = 0; h < p.heads; h++) {
    for (let i = 0; i < p.nq; i++) {
      const qi = rowAt(L.q, hpb, h, i), gi = rowAt(L.dout, hpb, h, i), di = rowAt(L.dq, hpb, h, i), r = h * p.nq + i;
      const Di = dotRows(dout, gi, o, rowAt(L.o, hpb, h, i), D);
      for (let c = 0; c < D; c++) dq[di + c] = 0;
      for (let j = 0; j < p.nk; j++) {
        const kj = rowAt(L.k, hpb, h, j), vj = rowAt(L.v, hpb, h, j);
        const pj = Math.exp(dotRows(q, qi, k, kj, D) * p.scale - lse[r]!);
        const ds = pj * (dotRows(dout, gi, v, vj, D) - Di);
        for (let c = 0; c < D; c++) dq[di + c]! += ds * k[kj + c]! * p.scale;
      }
      delta[r] = Di;
    }
  }
}

/** [q, k, v, dO, lse, delta, dkv] as in attentionBackwardDkv. */
export function attentionBackwardDkvRef(a: readonly Float64Array[], p: AttentionShape): void {
  const [q, k, v, dout, lse, delta, dkv] = a as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const { hpb, rows: L } = p.layouts ?? denseLayouts(p);
  const D = p.dh;
  for (let h = 0; h < p.heads; h++) {
    for (let j = 0; j < p.nk; j++) {
      const kj = rowAt(L.k, hpb, h, j), vj = rowAt(L.v, hpb, h, j);
      const dkj = rowAt(L.dk, hpb, h, j), dvj = rowAt(L.dv, hpb, h, j);
      for (let c = 0; c < D; c++) {
        dkv[dkj + c] = 0;
        dkv[dvj + c] = 0;
      }
      for (let i = 0; i < p.nq; i++) {
        const qi = rowAt(L.q, hpb, h, i), gi = rowAt(L.dout, hpb, h, i), r = h * p.nq + i;
        const pij = Math.exp(dotRows(q, qi, k, kj, D) * p.scale - lse[r]!);
        const ds = pij * (dotRows(dout, gi, v, vj, D) - delta[r]!);
        for (let c = 0; c < D; c++) {
          dkv[dvj + c]! += pij * dout[gi + c]!;
          dkv[dkj + c]! += ds * q[qi + c]! * p.scale;
        }
      }
    }
  }
}
