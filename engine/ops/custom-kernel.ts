// custom-kernel: what the fused ops (layer-norm.ts, attention.ts) and the in-place optimizer
// launches (optim/fused-updates.ts) share: kernels/'s `kernel` (WGSL launches with their float64
// twins: the WebGPU backend records the launches, the CPU backend runs the twins), dense copies
// of strided or offset inputs (the kernels read dense rows).
import { noGrad } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { copy } from './table.ts';

export { kernel, type Launch } from '../../kernels/index.ts';

/** t itself when it is contiguous at offset 0, else a dense copy made without taping. */
function dense(t: Tensor): { t: Tensor; owned: boolean } {
  if (t.isContiguous && t.offset === 0) return { t, owned: false };
  return { t: noGrad(() => copy(t)), owned: true };
}

/** Run f on dense versions of ts (a tuple stays a tuple), disposing the copies afterwards. */
export function withDense<const I extends readonly Tensor[], T>(ts: I, f: (d: { -readonly [K in keyof I]: Tensor }) => T): T {
  const d = ts.map(dense);
  try {
    return f(d.map((x) => x.t) as { -readonly [K in keyof I]: Tensor });
  } finally {
    for (const x of d) if (x.owned) x.t.dispose();
  }
}

/** The float storage type of a float tensor (kernels are built per storage type). */
export const floatOf = (t: Tensor): 'f32' | 'f16' => (t.dtype === 'f16' ? 'f16' : 'f32');
