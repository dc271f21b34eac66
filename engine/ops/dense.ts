// dense: what ops whose kernels read dense rows share: contiguous (and, where a kernel takes no
// element offset, offset-0) copies of strided inputs, made without taping and disposed after
// the kernel, and the float storage type a kernel is built for.
import { noGrad } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { copy } from './table.ts';

/**
 * A contiguous version of t: t itself, or a temporary copy (then `owned` is true). Kernels that
 * take an element offset read t at t.offset; with `atZero`, for kernels that take none (gather,
 * scatterAdd, the fused ops), an offset view (a contiguous slice) is copied too: it used to be
 * passed as is, so gather threw an internal error and scatterAdd silently read from the storage's
 * start.
 */
export function dense(t: Tensor, atZero = false): { t: Tensor; owned: boolean; } {
  if (t.isContiguous && (!atZero || t.offset === 0)) return { t, owned: false };
  return { t: noGrad(() => copy(t)), owned: true };
}

/** Run f on offset-0 dense versions of ts (a tuple stays a tuple), disposing the copies afterwards. */
export function withDense<const I extends readonly Tensor[], T>(ts: I, f: (d: { -readonly [K in keyof I]: Tensor; }) => T): T {
  const d = ts.map((t) => dense(t, true));
  try {
    return f(d.map((x) => x.t) as { -readonly [K in keyof I]: Tensor; });
  } finally {
    for (const x of d) if (x.owned) x.t.dispose();
  }
}

/** The float storage type of a float tensor (kernels are built per storage type). */
export const floatOf = (t: Tensor): 'f32' | 'f16' => (t.dtype === 'f16' ? 'f16' : 'f32');
