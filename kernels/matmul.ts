// matmul launcher: validates a batched matmul, picks the kernel and its tile, builds the launch.
//
// Kernel choice (see kernels/matmul.wgsl.ts for both kernels):
//  - `subgroupSize` ≥ 8 (the device has the `subgroups` feature with subgroups of 8 or more):
//    matmul_sg, with A and B each bound as vec4 when its rows, offset and batch stride allow
//    (A: K % 4 == 0, or M % 4 == 0 when transposed; B: N % 4 == 0, or K % 4 == 0 when
//    transposed), and the tile from `p.sgTile`, else from this adapter's rows of the tuned
//    table (matmul-tiles.ts, keyed by `p.adapter`);
//  - otherwise the scalar kernel with `p.tile` (default 4×4 on 8×8 invocations).
// Pure: no GPU objects here; the caller dispatches `workgroups` with bindings (a, b, c), then
// the epilogue's (bias, residual, pre) that are present.
import { epilogueKey, matmulScalarWgsl, matmulSubgroupWgsl, NO_EPILOGUE, type MatmulEpilogue, type SubgroupTile } from './matmul.wgsl.ts';
import { MATMUL_TILES, type AdapterTiles } from './matmul-tiles.ts';
import { cached, need, type FloatStorage, type Kernel, type Launch } from './kernel-source.ts';
import { ELEMENTWISE } from './elementwise-ops.ts';

/** The shape of a batched C[batch, M, N] = op(A)·op(B) (op: an optional transpose). */
export interface MatmulShape {
  batch: number;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

/** A batched matmul over dense operands at element offsets, with tile and epilogue choices. */
export interface MatmulParams extends MatmulShape {
  strideA: number;
  strideB: number; // 0 broadcasts the operand over the batch
  offA: number;
  offB: number;
  offC: number;
  /** Tile of the scalar (no-subgroup) kernel. */
  tile?: { tm: number; tn: number; wgx: number; wgy: number; };
  /** The device's smallest subgroup size (0 or absent: no subgroups; use the scalar kernel). */
  subgroupSize?: number;
  /** Tile of the subgroup kernel; absent: the tuned table's choice for this shape and adapter. */
  sgTile?: SubgroupTile;
  /** adapterKey() of the device: selects its rows of the tuned table (none: the default tile). */
  adapter?: string;
  /** Octets (8-lane groups) per workgroup of the subgroup kernel along M and N (default 1×1). */
  octets?: { m: number; n: number; };
  /** Bind operands as f32 even where vec4 would do (tests and benchmarks of the fallback paths). */
  scalarLoads?: boolean;
  /** Bias / GELU / residual / pre-activation applied as C is stored (kernels/matmul.wgsl.ts). */
  epilogue?: MatmulEpilogue;
  /** Element type of every buffer (default f32); accumulation is f32 either way. */
  dtype?: FloatStorage;
}

/** The scalar kernel's default register tile (tm×tn per invocation) and workgroup (wgx×wgy). */
export const DEFAULT_MATMUL_TILE = { tm: 4, tn: 4, wgx: 8, wgy: 8 };
/** Tiles the subgroup kernel may be built with (each is one more pipeline to compile). */
export const SUBGROUP_TILES: readonly SubgroupTile[] = [
  { tm: 8, tn4: 1 },
  { tm: 16, tn4: 1 },
  { tm: 32, tn4: 1 },
  { tm: 8, tn4: 2 },
  { tm: 16, tn4: 2 },
];
const sources = new Map<string, string>();

/** Which operands the subgroup kernel may bind as vec4 for these parameters. */
export function vec4Operands(p: MatmulParams): { a: boolean; b: boolean; } {
  const aligned = (off: number, stride: number) => off % 4 === 0 && stride % 4 === 0;
  return {
    a: !p.scalarLoads && (p.transA ? p.M % 4 === 0 : p.K % 4 === 0) && aligned(p.offA, p.strideA),
    b: !p.scalarLoads && (p.transB ? p.K % 4 === 0 : p.N % 4 === 0) && aligned(p.offB, p.strideB),
  };
}

/** The tile of an adapter the table has no rows for, and of transposes it has no row for. */
export const DEFAULT_SUBGROUP_TILE: SubgroupTile = { tm: 16, tn4: 1 };

/**
 * The subgroup tile for a shape on an adapter: among that adapter's rows of the tuned table, the
 * one for the same (M, N, K, transA, transB), else the one nearest in log(M)+log(N)+log(K) with
 * the same transposes, else DEFAULT_SUBGROUP_TILE (always so for an adapter never tuned).
 */
export function pickSubgroupTile(p: Pick<MatmulParams, 'M' | 'N' | 'K' | 'transA' | 'transB' | 'adapter'>,
  table: readonly AdapterTiles[] = MATMUL_TILES): SubgroupTile
{
  let best = DEFAULT_SUBGROUP_TILE;
  let bestDist = Infinity;
  const rows = table.find((t) => t.adapter === p.adapter)?.tiles ?? [];
  for (const e of rows) {
    if (e.transA !== p.transA || e.transB !== p.transB) continue;
    const d = Math.abs(Math.log(e.M / p.M)) + Math.abs(Math.log(e.N / p.N)) + Math.abs(Math.log(e.K / p.K));
    if (d < bestDist) {
      bestDist = d;
      best = { tm: e.tm, tn4: e.tn4 };
    }
  }
  return best;
}

/** Build the matmul launch: the subgroup kernel with the tuned tile when the device has subgroups, else the scalar register-tile kernel. */
export function matmul(p: MatmulParams): Launch {
  need('matmul', p.M > 0 && p.N > 0 && p.K > 0 && p.batch > 0, `empty matmul [${p.batch}, ${p.M}, ${p.K}]·[${p.K}, ${p.N}]`);
  need('matmul', p.batch <= 65535, `batch ${p.batch} exceeds the 65535 workgroups a dispatch allows along z`);
  const u = new Uint32Array([p.M, p.N, p.K, p.batch, p.strideA, p.strideB, p.M * p.N, p.offA, p.offB, p.offC, 0, 0]);
  const epi = p.epilogue ?? NO_EPILOGUE;
  const dtype = p.dtype ?? 'f32';
  const tkey = `${epilogueKey(epi)}${dtype === 'f16' ? '_f16' : ''}`;
  const flags = `${p.transA ? '_tA' : ''}${p.transB ? '_tB' : ''}${tkey}`;
  const overrides = { TRANS_A: p.transA ? 1 : 0, TRANS_B: p.transB ? 1 : 0 };

  if ((p.subgroupSize ?? 0) >= 8) {
    const t = p.sgTile ?? pickSubgroupTile(p);
    need('matmul', t.tm > 0 && t.tm % 8 === 0 && t.tn4 >= 1 && t.tn4 <= 4,
      `subgroup tile tm=${t.tm}, tn4=${t.tn4}: tm must be a positive multiple of 8 and tn4 in 1..4`);
    const { a, b } = vec4Operands(p);
    // One octet per workgroup by default: no octet computes clamped copies past a narrow output
    // (N = 64, 197), and the pipeline doesn't depend on the shape (a new OCT_M/OCT_N pair is a
    // new pipeline to compile). Lavapipe runs an 8-invocation workgroup as one SIMD register,
    // so nothing is lost there; a GPU with wider subgroups would want `octets` raised.
    const octM = p.octets?.m ?? 1, octN = p.octets?.n ?? 1;
    need('matmul', octM >= 1 && octN >= 1 && octM * octN <= 32, `octets ${octM}×${octN}: each ≥ 1, at most 32 per workgroup`);
    const blocksN = Math.ceil(p.N / (32 * t.tn4)), blocksM = Math.ceil(p.M / t.tm);
    const gx = Math.ceil(blocksN / octN), gy = Math.ceil(blocksM / octM);
    need('matmul', gx <= 65535 && gy <= 65535, `output [${p.M}, ${p.N}] needs ${gy}×${gx} workgroups, over the 65535 limit`);
    const variant = `${t.tm}x${32 * t.tn4}_${a ? 'a4' : 'a1'}${b ? 'b4' : 'b1'}`;
    const wgsl = cached(sources, `sg_${variant}${tkey}`, () => matmulSubgroupWgsl(t, a, b, epi, dtype));
    return {
      source: { name: `matmul_sg_${variant}${flags}`, wgsl, overrides: { ...overrides, OCT_M: octM, OCT_N: octN } },
      uniforms: u.buffer,
      workgroups: [gx, gy, p.batch],
    };
  }

  const t = p.tile ?? DEFAULT_MATMUL_TILE;
  const gx = Math.ceil(p.N / (t.tn * t.wgx)), gy = Math.ceil(p.M / (t.tm * t.wgy));
  need('matmul', gx <= 65535 && gy <= 65535, `output [${p.M}, ${p.N}] needs ${gy}×${gx} workgroups, over the 65535 limit; use a larger tile`);
  const key = `${t.tm}x${t.tn}`;
  const wgsl = cached(sources, `${key}${tkey}`, () => matmulScalarWgsl(t.tm, t.tn, epi, dtype));
  return {
    source: { name: `matmul_${key}${flags}`, wgsl, overrides: { ...overrides, WGX: t.wgx, WGY: t.wgy } },
    uniforms: u.buffer,
    workgroups: [gx, gy, p.batch],
  };
}

/**
 * The matmul as a kernel on storages [a, b, c, then bias, residual, pre as the epilogue has
 * them]: the launch `matmul` builds, and its f64 twin (the epilogue in the same order).
 */
export function matmulKernel(p: MatmulParams): Kernel {
  const e = p.epilogue ?? NO_EPILOGUE;
  const extras = [e.bias, e.residual, e.pre].filter(Boolean).length;
  return {
    name: 'matmul',
    launches: () => [{ ...matmul(p), bindings: Array.from({ length: 3 + extras }, (_, i) => i) }],
    reference(arrays) {
      const [A, B, C, ...rest] = arrays as [Float64Array, Float64Array, Float64Array, ...Float64Array[]];
      const bias = e.bias ? rest.shift() : undefined, res = e.residual ? rest.shift() : undefined, pre = e.pre ? rest.shift() : undefined;
      for (let z = 0; z < p.batch; z++) {
        const ba = p.offA + z * p.strideA, bb = p.offB + z * p.strideB, bc = p.offC + z * p.M * p.N;
        for (let m = 0; m < p.M; m++) {
          for (let n = 0; n < p.N; n++) {
            let s = 0;
            for (let k = 0; k < p.K; k++) {
              const av = p.transA ? A[ba + k * p.M + m]! : A[ba + m * p.K + k]!;
              const bv = p.transB ? B[bb + n * p.K + k]! : B[bb + k * p.N + n]!;
              s += av * bv;
            }
            const i = bc + m * p.N + n;
            if (bias) s += bias[n]!;
            if (pre) pre[i] = s;
            if (e.gelu) s = ELEMENTWISE.gelu.ref(s, 0, 0);
            if (res) s += res[i]!;
            C[i] = s;
          }
        }
      }
    },
  };
}
