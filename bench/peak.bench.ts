// peak.bench: the two references every other score is a fraction of, measured in the same run:
//   peak  — kernels/peak.wgsl.ts: independent FMA chains in registers, no memory traffic
//           (GFLOP/s; compute-bound kernels report a fraction of it);
//   copy  — the elementwise kernel's `copy` of 4 Mi floats (GB/s of bytes read + written;
//           bandwidth-bound kernels report a fraction of it).
import { peak } from '../kernels/index.ts';
import { runElementwise } from '../engine/ops/elementwise.ts';
import { filled, recordLaunch, timeLaunches, type Backend, type BenchRow, type References, type RefKernel } from './common.ts';

export const COPY_ELEMENTS = 4 * 1024 * 1024;

/**
 * The two reference kernels as launches to interleave with other measurements (timeAgainst).
 * Their buffers live for the whole run.
 */
export function referenceKernels(backend: Backend): { peak: RefKernel; copy: RefKernel; } {
  const l = peak({ workgroups: 1024, iters: 64 });
  const out = backend.alloc(l.outElements, 'f32');
  const n = COPY_ELEMENTS;
  const x = filled(backend, n), y = backend.alloc(n, 'f32');
  const view = (storage: typeof x) => ({ storage, shape: [n], strides: [1], offset: 0 });
  return {
    peak: { record: () => recordLaunch(backend, l, [out]), work: l.flops },
    copy: { record: () => runElementwise(backend, 'copy', view(y), view(x)), work: 2 * 4 * n },
  };
}

export async function benchPeak(backend: Backend, samples: number): Promise<{ rows: BenchRow[]; refs: References; }> {
  // 1024 workgroups × 8 invocations: enough for every lavapipe thread (and a GPU's SMs) to stay busy
  const l = peak({ workgroups: 1024, iters: 256 });
  const out = backend.alloc(l.outElements, 'f32');
  const ts = await timeLaunches(backend, () => recordLaunch(backend, l, [out]), samples);
  backend.release(out);
  const peakGflops = l.flops / ts / 1e9;

  const n = COPY_ELEMENTS;
  const x = filled(backend, n), y = backend.alloc(n, 'f32');
  const view = (storage: typeof x) => ({ storage, shape: [n], strides: [1], offset: 0 });
  const tc = await timeLaunches(backend, () => runElementwise(backend, 'copy', view(y), view(x)), samples);
  backend.release(x);
  backend.release(y);
  const copyGbs = (2 * 4 * n) / tc / 1e9;

  return {
    refs: { peakGflops, copyGbs },
    rows: [
      { suite: 'peak', name: 'peak fma', seconds: ts, gflops: peakGflops, note: `${l.outElements / 4} invocations × 8 vec4 FMA chains` },
      { suite: 'peak', name: `copy ${n}`, seconds: tc, gbs: copyGbs, note: 'elementwise copy, bytes read + written' },
    ],
  };
}
