// op: what an op declaration is, and `apply`, the single path every op takes: infer the shape
// (throwing a named error before any work), run the kernel or make the view, record the tape.
import type { Backend, DType } from '../backend/backend.ts';
import { fmt, ShapeError } from '../errors.ts';
import { getBackend, gradEnabled } from '../runtime.ts';
import { Tensor } from '../tensor.ts';

export interface OpDef<A> {
  readonly name: string;
  /** Output shape and dtype; throws ShapeError naming the op, the argument and the shapes. */
  infer(inputs: readonly Tensor[], attrs: A): { shape: number[]; dtype: DType };
  /** Record the kernel(s) that write `out`. Absent for views. */
  forward?(out: Tensor, inputs: readonly Tensor[], attrs: A): void;
  /** Views share the first input's storage; they give the output's strides and offset. */
  view?(x: Tensor, attrs: A): { strides: number[]; offset: number };
  /**
   * Gradients of the inputs given the output's gradient `g`, written with other ops; null for
   * inputs that get none. `needs[i]` says whether input i wants one, so rules can skip work.
   * Each gradient may have the output's (broadcast) shape: the tape sums it to the input's.
   */
  backward?(g: Tensor, inputs: readonly Tensor[], out: Tensor, attrs: A, needs: readonly boolean[]): readonly (Tensor | null)[];
}

export function apply<A>(def: OpDef<A>, inputs: readonly Tensor[], attrs: A, onBackend?: Backend): Tensor {
  const backend = inputs[0]?.backend ?? onBackend ?? getBackend();
  for (const [i, t] of inputs.entries()) {
    if (!(t instanceof Tensor)) throw new TypeError(`${def.name}: input ${i} is not a Tensor`);
    if (t.backend !== backend) throw new Error(`${def.name}: input ${i} lives on ${t.backend.name}, input 0 on ${backend.name}`);
    if (t.disposed) throw new Error(`${def.name}: input ${i} ${fmt(t.shape)} was disposed`);
  }
  const { shape, dtype } = def.infer(inputs, attrs);
  backend.setLabel(`${def.name}(${inputs.map((t) => fmt(t.shape)).join(', ')})`);
  let out: Tensor;
  if (def.view) {
    const x = inputs[0]!;
    const v = def.view(x, attrs);
    out = new Tensor(backend, x.storage, shape, dtype, v.strides, v.offset);
  } else {
    out = Tensor.empty(shape, dtype, backend);
    try {
      def.forward!(out, inputs, attrs);
    } catch (e) {
      out.dispose();   // a launcher that rejects its parameters must not leak the output
      throw e;
    }
  }
  if (def.backward && gradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { def, inputs, attrs };
  }
  return out;
}

/**
 * The float dtype an arithmetic op runs in: every input must be f32, or every input f16 (f16
 * storage, f32 math). Mixed dtypes are an error naming the input: cast() first.
 */
export function needFloat(op: string, inputs: readonly Tensor[]): 'f32' | 'f16' {
  const first = inputs[0]?.dtype === 'f16' ? 'f16' : 'f32';
  for (const [i, t] of inputs.entries()) {
    if (t.dtype !== first) {
      const why = t.dtype === 'i32' || first !== 'f16' && t.dtype !== 'f16' ? `needs ${first}` : `needs ${first} like input 0 (cast() to mix f16 and f32)`;
      throw new ShapeError(op, `input ${i}`, [t.shape], `${why}, got ${t.dtype} ${fmt(t.shape)}`);
    }
  }
  return first;
}
