// peak: the device's measured multiply-add rate (the kernels/peak.ts FMA kernel: register-only
// chains, no memory traffic), the denominator of an MFU figure: model FLOPs / time / peak.
// Quick by design (five rounds of ~30 ms, the best taken: 0.1–0.3 s on lavapipe), for a
// trainer to call once at start; bench/peak.bench.ts measures the same kernel at length. On a
// shared machine the figure moves with the load (31–47 GFLOP/s here), and the MFU with it.
// Needs the WebGPU backend (the CPU reference has no kernels to time).
import { peak } from '../kernels/peak.ts';
import type { Backend } from './backend/backend.ts';
import { getBackend } from './runtime.ts';

/** GFLOP/s of the FMA peak kernel on `backend`: the best of `rounds` timed rounds of launches. */
export async function measurePeakGflops(backend: Backend = getBackend(), rounds = 5): Promise<number> {
  if (backend.name !== 'webgpu') throw new Error(`measurePeakGflops: needs the WebGPU backend, not ${backend.name}`);
  const l = peak({ workgroups: 1024, iters: 64 });
  const out = backend.alloc(l.outElements, 'f32');
  const launch = () =>
    backend.run({
      name: 'peak',
      launches: () => [{ ...l, bindings: [0] }],
      reference: () => {
        throw new Error('measurePeakGflops: no CPU reference');
      },
    }, [out]);
  try {
    launch();
    await backend.sync(); // compiles; untimed
    let t = performance.now();
    launch();
    await backend.sync();
    // launches per round: about 30 ms each, so a round is long next to the submit's own cost
    const reps = Math.max(1, Math.min(100, Math.round(30 / Math.max(0.05, performance.now() - t))));
    let best = Infinity;
    for (let r = 0; r < rounds; r++) {
      t = performance.now();
      for (let i = 0; i < reps; i++) launch();
      await backend.sync();
      best = Math.min(best, (performance.now() - t) / reps);
    }
    return l.flops / best / 1e6;
  } finally {
    backend.release(out);
  }
}
