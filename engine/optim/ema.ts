// ema: exponential moving average of parameters, θ̄ ← m·θ̄ + (1 − m)·θ, without gradients.
// I-JEPA's target encoder follows the context encoder this way, every parameter in order.
// By default fused in-place launches, several tensors each (fused-updates.ts `emaInPlaceMany`);
// `fused: false` composes mul and add and swaps in new storage.
import { emaInPlaceMany } from './fused-updates.ts';
import { add, mul } from '../ops/table.ts';
import { noGrad, tidy } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { fmt } from '../errors.ts';

/** In place, without gradients: target ← momentum·target + (1 − momentum)·source, pairwise (I-JEPA's target-encoder update). */
export function emaUpdate(target: readonly Tensor[], source: readonly Tensor[], momentum: number, opts: { fused?: boolean; } = {}): void {
  if (target.length !== source.length) throw new Error(`emaUpdate: ${target.length} target tensors but ${source.length} source tensors`);
  noGrad(() =>
    tidy(() => {
      target.forEach((t, i) => {
        const s = source[i]!;
        if (t.shape.length !== s.shape.length || t.shape.some((v, d) => v !== s.shape[d])) {
          throw new Error(`emaUpdate: tensor ${i} (${t.name ?? ''}) is ${fmt(t.shape)} in the target but ${fmt(s.shape)} in the source`);
        }
        if (!(opts.fused ?? true)) t.assign(add(mul(t, momentum), mul(s, 1 - momentum)));
      });
      if (opts.fused ?? true) emaInPlaceMany(target, source, momentum);
    })
  );
}
