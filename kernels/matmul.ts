// matmul launcher: validates a batched matmul and builds its launch.
import { matmulWgsl } from './matmul.wgsl.ts';
import { need, type KernelSource } from './kernel-source.ts';

export interface MatmulParams {
  batch: number; M: number; N: number; K: number;
  transA: boolean; transB: boolean;
  strideA: number; strideB: number;   // 0 broadcasts the operand over the batch
  offA: number; offB: number; offC: number;
  tile?: { tm: number; tn: number; wgx: number; wgy: number };
}

export interface MatmulLaunch { source: KernelSource; uniforms: ArrayBuffer; workgroups: [number, number, number] }

export const DEFAULT_MATMUL_TILE = { tm: 4, tn: 4, wgx: 8, wgy: 8 };
const sources = new Map<string, string>();

export function matmul(p: MatmulParams): MatmulLaunch {
  const t = p.tile ?? DEFAULT_MATMUL_TILE;
  need('matmul', p.M > 0 && p.N > 0 && p.K > 0 && p.batch > 0, `empty matmul [${p.batch}, ${p.M}, ${p.K}]·[${p.K}, ${p.N}]`);
  need('matmul', p.batch <= 65535, `batch ${p.batch} exceeds the 65535 workgroups a dispatch allows along z`);
  const gx = Math.ceil(p.N / (t.tn * t.wgx)), gy = Math.ceil(p.M / (t.tm * t.wgy));
  need('matmul', gx <= 65535 && gy <= 65535, `output [${p.M}, ${p.N}] needs ${gy}×${gx} workgroups, over the 65535 limit; use a larger tile`);
  const key = `${t.tm}x${t.tn}`;
  let wgsl = sources.get(key);
  if (!wgsl) { wgsl = matmulWgsl(t.tm, t.tn); sources.set(key, wgsl); }
  const u = new Uint32Array([p.M, p.N, p.K, p.batch, p.strideA, p.strideB, p.M * p.N, p.offA, p.offB, p.offC, 0, 0]);
  return {
    source: {
      name: `matmul_${key}${p.transA ? '_tA' : ''}${p.transB ? '_tB' : ''}`,
      wgsl,
      overrides: { TRANS_A: p.transA ? 1 : 0, TRANS_B: p.transB ? 1 : 0, WGX: t.wgx, WGY: t.wgy },
    },
    uniforms: u.buffer,
    workgroups: [gx, gy, p.batch],
  };
}
