// layer-norm launchers (see layer-norm.wgsl.ts) and their float64 twins, which the CPU
// reference backend runs in place of the WGSL. Pure: numbers in, text and layout out.
import { layerNormBackwardColumnsWgsl, layerNormBackwardDxWgsl, layerNormForwardWgsl } from './layer-norm.wgsl.ts';
import { cached, grid, need, type FloatStorage, type KernelSource, type Launch } from './kernel-source.ts';

export interface LayerNormShape {
  rows: number;
  D: number;
  /** Element type of x, w, b, y, g and dx (default f32); mean, rstd and the dw/db partials are f32. */
  dtype?: FloatStorage;
}

const WG = 64;
/** Rows per block of the column (dw, db) kernel: blocks are summed afterwards by the engine. */
export const LAYER_NORM_ROWS_PER_PART = 64;

const texts = new Map<string, string>();
function source(kind: 'fwd' | 'dx' | 'cols', vec4: boolean, dtype: FloatStorage, overrides: Record<string, number>): KernelSource {
  const key = `${kind}${vec4 ? '_v4' : ''}${dtype === 'f16' ? '_f16' : ''}`;
  const make = kind === 'fwd' ? layerNormForwardWgsl : kind === 'dx' ? layerNormBackwardDxWgsl : layerNormBackwardColumnsWgsl;
  const wgsl = cached(texts, key, () => make(vec4, dtype));
  return { name: `layer_norm_${key}`, wgsl, overrides: { WG, ...overrides } };
}

function check(p: LayerNormShape): boolean {
  need('layerNorm', p.D > 0 && p.rows > 0 && p.rows * p.D < 2 ** 31, `x [${p.rows}, ${p.D}] must be non-empty with fewer than 2^31 elements`);
  return p.D % 4 === 0;
}

function uniforms(rows: number, cols: number, eps: number, parts: number): ArrayBuffer {
  const buf = new ArrayBuffer(16);
  const u = new Uint32Array(buf);
  u[0] = rows;
  u[1] = cols;
  u[3] = parts;
  new Float32Array(buf)[2] = eps;
  return buf;
}

/** Bindings: x, w, b, y, mean, rstd (w, b: any stand-in buffer when absent). */
export function layerNormForward(p: LayerNormShape & { eps: number; hasWeight: boolean; hasBias: boolean; }): Launch {
  const v4 = check(p);
  const [x, y] = grid(p.rows, WG);
  return {
    source: source('fwd', v4, p.dtype ?? 'f32', { HAS_W: +p.hasWeight, HAS_B: +p.hasBias }),
    uniforms: uniforms(p.rows, v4 ? p.D / 4 : p.D, p.eps, 1),
    workgroups: [x, y, 1],
  };
}

/** Bindings: g, x, w, mean, rstd, dx (w: a stand-in when absent). */
export function layerNormBackwardDx(p: LayerNormShape & { hasWeight: boolean; }): Launch {
  const v4 = check(p);
  const [x, y] = grid(p.rows, WG);
  return { source: source('dx', v4, p.dtype ?? 'f32', { HAS_W: +p.hasWeight }), uniforms: uniforms(p.rows, v4 ? p.D / 4 : p.D, 0, 1),
    workgroups: [x, y, 1] };
}

/** Number of row blocks the column kernel writes for `rows` rows. */
export const layerNormParts = (rows: number, rowsPerPart = LAYER_NORM_ROWS_PER_PART) => Math.max(1, Math.ceil(rows / rowsPerPart));

/** Bindings: g, x, mean, rstd, dw [parts, D], db [parts, D] (a stand-in for the one not wanted). */
export function layerNormBackwardColumns(p: LayerNormShape & { wantDw: boolean; wantDb: boolean; rowsPerPart?: number; }): Launch {
  const v4 = check(p);
  const cols = v4 ? p.D / 4 : p.D;
  const parts = layerNormParts(p.rows, p.rowsPerPart);
  need('layerNorm', parts <= 65535, `${parts} row blocks exceed 65535; raise rowsPerPart`);
  return {
    source: source('cols', v4, p.dtype ?? 'f32', { WANT_DW: +p.wantDw, WANT_DB: +p.wantDb }),
    uniforms: uniforms(p.rows, cols, 0, parts),
    workgroups: [Math.ceil(cols / WG), parts, 1],
  };
}

// ---- float64 twins: the same algorithms, naively, in double precision ---------------------------

/** [x, w, b, y, mean, rstd] as in layerNormForward. */
export function layerNormForwardRef(a: readonly Float64Array[], p: LayerNormShape & { eps: number; hasWeight: boolean; hasBias: boolean; }): void {
  const [x, w, b, y, mean, rstd] = a as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  for (let r = 0; r < p.rows; r++) {
    const o = r * p.D;
    let s = 0;
    for (let c = 0; c < p.D; c++) s += x[o + c]!;
    const mu = s / p.D;
    let q = 0;
    for (let c = 0; c < p.D; c++) q += (x[o + c]! - mu) ** 2;
    const rs = 1 / Math.sqrt(q / p.D + p.eps);
    for (let c = 0; c < p.D; c++) {
      let t = (x[o + c]! - mu) * rs;
      if (p.hasWeight) t *= w[c]!;
      if (p.hasBias) t += b[c]!;
      y[o + c] = t;
    }
    mean[r] = mu;
    rstd[r] = rs;
  }
}

/** [g, x, w, mean, rstd, dx] as in layerNormBackwardDx. */
export function layerNormBackwardDxRef(a: readonly Float64Array[], p: LayerNormShape & { hasWeight: boolean; }): void {
  const [g, x, w, mean, rstd, dx] = a as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  for (let r = 0; r < p.rows; r++) {
    const o = r * p.D, mu = mean[r]!, rs = rstd[r]!;
    let sg = 0, sgx = 0;
    for (let c = 0; c < p.D; c++) {
      const gw = g[o + c]! * (p.hasWeight ? w[c]! : 1);
      sg += gw;
      sgx += gw * (x[o + c]! - mu) * rs;
    }
    const mg = sg / p.D, mgx = sgx / p.D;
    for (let c = 0; c < p.D; c++) {
      const gw = g[o + c]! * (p.hasWeight ? w[c]! : 1);
      dx[o + c] = (gw - mg - (x[o + c]! - mu) * rs * mgx) * rs;
    }
  }
}

/** [g, x, mean, rstd, dw, db] as in layerNormBackwardColumns. */
export function layerNormBackwardColumnsRef(a: readonly Float64Array[],
  p: LayerNormShape & { wantDw: boolean; wantDb: boolean; rowsPerPart?: number; }): void
{
  const [g, x, mean, rstd, dw, db] = a as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const parts = layerNormParts(p.rows, p.rowsPerPart);
  const per = Math.ceil(p.rows / parts);
  for (let part = 0; part < parts; part++) {
    for (let c = 0; c < p.D; c++) {
      let sw = 0, sb = 0;
      for (let r = part * per; r < Math.min(p.rows, (part + 1) * per); r++) {
        sw += g[r * p.D + c]! * (x[r * p.D + c]! - mean[r]!) * rstd[r]!;
        sb += g[r * p.D + c]!;
      }
      if (p.wantDw) dw[part * p.D + c] = sw;
      if (p.wantDb) db[part * p.D + c] = sb;
    }
  }
}
