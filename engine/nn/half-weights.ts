// half-weights: run a forward pass on f16 copies of modules' f32 tensors (mixed precision).
// Each f32 tensor field of the modules (and of their sub-modules) is swapped for `cast(t, 'f16')`
// while `fn` runs, then put back. The copy is taped like any op when the master requires grad,
// so backward through it gives the f32 master its gradient: cast's backward casts the f16
// gradient back to f32. The copies are intermediates of the current scope: call this inside
// the step's `tidy`, and run backward inside it too (the tape holds them).
import { cast } from '../ops/table.ts';
import { Tensor } from '../tensor.ts';
import { Module } from './module.ts';

/**
 * Run `fn` with every f32 tensor field of `modules` (and their sub-modules) swapped for a taped
 * f16 copy, then put the f32 masters back; call it inside the step's tidy (see the file header).
 */
export function withHalfWeights<T>(modules: readonly Module[], fn: () => T): T {
  const swapped: [Record<string, unknown>, string, Tensor][] = [];
  const visit = (m: Module) => {
    const fields = m as unknown as Record<string, unknown>; // the same walk as Module.namedTensors
    for (const [key, value] of Object.entries(m)) {
      if (value instanceof Tensor) {
        if (value.dtype !== 'f32') continue;
        swapped.push([fields, key, value]);
        fields[key] = cast(value, 'f16');
      } else if (value instanceof Module) {
        visit(value);
      } else if (Array.isArray(value) && value.every((v) => v instanceof Module)) {
        value.forEach(visit);
      }
    }
  };
  try {
    modules.forEach(visit);
    const out = fn();
    if (out instanceof Promise) throw new Error('withHalfWeights: fn must be synchronous (the modules hold f16 copies while it runs)');
    return out;
  } finally {
    for (const [fields, key, master] of swapped) fields[key] = master;
  }
}
