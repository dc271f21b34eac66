// peak launcher: the FMA-throughput reference kernel (see peak.wgsl.ts). Pure.
import { PEAK_NACC, PEAK_WGSL } from './peak.wgsl.ts';
import { need, type KernelSource } from './kernel-source.ts';

const WG = 8; // as matmul_sg's one-octet workgroups
const SOURCE: KernelSource = { name: 'peak_fma', wgsl: PEAK_WGSL, overrides: { WG } };

/** The peak-FMA benchmark kernel's launch, with the work it does (for % of peak in bench/). */
export interface PeakLaunch {
  source: KernelSource;
  uniforms: ArrayBuffer;
  workgroups: [number, number, number];
  /** Floating-point operations one launch performs (an FMA counts 2). */
  flops: number;
  /** Elements of the output buffer (binding 1) the launch writes. */
  outElements: number;
}

/** `workgroups` groups of 8 invocations, each doing 4·iters·8 vec4 FMAs. */
export function peak(p: { workgroups: number; iters: number; }): PeakLaunch {
  need('peak', p.workgroups >= 1 && p.workgroups <= 65535 && p.iters >= 1, `workgroups ${p.workgroups} (1..65535) and iters ${p.iters} (≥ 1)`);
  const n = p.workgroups * WG;
  const buf = new ArrayBuffer(16);
  const u = new Uint32Array(buf), f = new Float32Array(buf);
  u[0] = p.iters;
  u[1] = n;
  f[2] = 0.999;
  f[3] = 1e-3;
  return {
    source: SOURCE,
    uniforms: buf,
    workgroups: [p.workgroups, 1, 1],
    flops: n * p.iters * 4 * PEAK_NACC * 4 * 2,
    outElements: n * 4,
  };
}
