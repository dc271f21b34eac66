// op: what an op declaration is, and `apply`, the single path every op takes: infer the shape
// (throwing a named error before any work), run the kernel or make the view, record the tape.
import type { Backend, DType } from '../backend/backend.ts';
import { fmt, ShapeError } from '../errors.ts';
import { getBackend, gradEnabled } from '../runtime.ts';
import { Tensor, type TapeNode } from '../tensor.ts';

/** Tensors a forward keeps for its backward (layerNorm's mean and rstd, attention's log-sum-exp). */
export type Saved = Readonly<Record<string, Tensor>>;

/** An op's tensor inputs, typed per op as a tuple (`[x: Tensor]`, `[a: Tensor, b?: Tensor]`, ...). */
export type Inputs = readonly Tensor[];
/** One flag per input: whether it wants a gradient. */
export type Needs<I extends Inputs> = { readonly [K in keyof I]: boolean; };
/** One gradient per input, null for an input that gets none. */
export type Grads<I extends Inputs> = { readonly [K in keyof I]: Tensor | null; };

export interface OpDef<I extends Inputs, A, S extends Saved = Saved> {
  readonly name: string;
  /** Output shape and dtype; throws ShapeError naming the op, the argument and the shapes. */
  infer(inputs: I, attrs: A): { shape: number[]; dtype: DType; };
  /**
   * Record the kernel(s) that write `out`, returning what the backward needs besides the inputs
   * and output. `taped` says whether the tape will keep it (else `apply` disposes it at once), so
   * a forward may skip saving work nobody reads. Absent for views.
   */
  forward?(out: Tensor, inputs: I, attrs: A, taped: boolean): S | void;
  /** Views share the first input's storage; they give the output's strides and offset. */
  view?(x: Tensor, attrs: A): { strides: number[]; offset: number; };
  /**
   * Gradients of the inputs given the output's gradient `g`, written with other ops; null for
   * inputs that get none. `needs[i]` says whether input i wants one, so rules can skip work.
   * Each gradient may have the output's (broadcast) shape: the tape sums it to the input's.
   * `saved` is what forward returned; it is disposed after backward (which may dispose a large
   * one early, once read, to keep the peak low). Required: null says the op has no gradient
   * (and says why beside it), so a forgotten rule does not compile.
   */
  readonly backward: ((g: Tensor, inputs: I, out: Tensor, attrs: A, needs: Needs<I>, saved: S) => Grads<I>) | null;
}

const disposeSaved = (saved: Saved | void) => {
  for (const t of Object.values(saved ?? {})) t.dispose();
};

export function apply<I extends Inputs, A, S extends Saved>(def: OpDef<I, A, S>, inputs: NoInfer<I>, attrs: NoInfer<A>, onBackend?: Backend): Tensor {
  const backend = inputs[0]?.backend ?? onBackend ?? getBackend();
  for (const [i, t] of inputs.entries()) {
    if (!(t instanceof Tensor)) throw new TypeError(`${def.name}: input ${i} is not a Tensor`);
    if (t.backend !== backend) throw new Error(`${def.name}: input ${i} lives on ${t.backend.name}, input 0 on ${backend.name}`);
    if (t.disposed) throw new Error(`${def.name}: input ${i} ${fmt(t.shape)} was disposed`);
  }
  const { shape, dtype } = def.infer(inputs, attrs);
  backend.setLabel(`${def.name}(${inputs.map((t) => fmt(t.shape)).join(', ')})`);
  const taped = def.backward !== null && gradEnabled() && inputs.some((t) => t.requiresGrad);
  let out: Tensor;
  let saved: S | void = undefined;
  const x = inputs[0];
  if (def.view && x) {
    const v = def.view(x, attrs);
    out = new Tensor(backend, x.storage, shape, dtype, v.strides, v.offset);
  } else if (def.forward) {
    out = Tensor.empty(shape, dtype, backend);
    try {
      saved = def.forward(out, inputs, attrs, taped);
    } catch (e) {
      out.dispose(); // a launcher that rejects its parameters must not leak the output
      throw e;
    }
  } else {
    throw new Error(`${def.name}: an op needs a forward, or a view of its first input`);
  }
  if (taped) {
    out.requiresGrad = true;
    out.node = { def, inputs, attrs, saved: saved ?? {} };
  } else {
    disposeSaved(saved);
  }
  return out;
}

/**
 * Run a tape node's backward with what its forward saved, then dispose that. The tape releases
 * each node as it is consumed, so a node's backward runs once per graph.
 */
export function runBackward(node: TapeNode, g: Tensor, out: Tensor, needs: readonly boolean[]): readonly (Tensor | null)[] {
  try {
    // apply tapes only ops with a backward
    return node.def.backward?.(g, node.inputs, out, node.attrs, needs, node.saved) ?? [];
  } finally {
    disposeSaved(node.saved);
  }
}

/**
 * The float dtype an arithmetic op runs in: every input must be f32, or every input f16 (f16
 * storage, f32 math). Mixed dtypes are an error naming the input: cast() first.
 */
export function needFloat(op: string, inputs: readonly Tensor[]): 'f32' | 'f16' {
  const first = inputs[0]?.dtype === 'f16' ? 'f16' : 'f32';
  for (const [i, t] of inputs.entries()) {
    if (t.dtype !== first) {
      const why = t.dtype === 'i32' || first !== 'f16' && t.dtype !== 'f16'
        ? `needs ${first}`
        : `needs ${first} like input 0 (cast() to mix f16 and f32)`;
      throw new ShapeError(op, `input ${i}`, [t.shape], `${why}, got ${t.dtype} ${fmt(t.shape)}`);
    }
  }
  return first;
}
