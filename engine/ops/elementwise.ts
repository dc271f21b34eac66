// elementwise: the engine's side of the elementwise op table (kernels/elementwise-ops.ts). Every
// op declared there becomes, with no line per op here, an op definition (broadcast shape rule,
// one kernel launch, the table's gradient), a function on tensors, and a Tensor method
// (tensor.ts). Only the free functions' export list below (tsc refuses an op missing from it)
// and the public export of each, with its doc, in engine/index.ts name them.
import { ELEMENTWISE, elementwiseKernel, type ElementwiseOfArity, type ElementwiseOp, type GradFns,
  type Operand as OperandOf } from '../../kernels/index.ts';
import type { Backend, View } from '../backend/backend.ts';
import { broadcastShapes, broadcastStrides } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { apply, needFloat, type OpDef } from './op.ts';
import { full } from './table.ts';

/** A tensor, or a number (held in the op's attrs and passed to the kernel as a scalar). */
export type Operand = OperandOf<Tensor>;
/** Unary ops with a function and a method (copy is ops/table.ts's own op: any dtype, a view's copy). */
export type UnaryName = Exclude<ElementwiseOfArity<1>, 'copy'>;
export type BinaryName = ElementwiseOfArity<2>;
type TernaryName = ElementwiseOfArity<3>;

/** Every op of the table as a function on tensors. */
export type ElementwiseFns =
  & { readonly [K in UnaryName]: (x: Tensor) => Tensor; }
  & { readonly [K in BinaryName]: (a: Operand, b: Operand) => Tensor; }
  & { readonly [K in TernaryName]: (cond: Tensor, a: Tensor, b: Tensor) => Tensor; };

interface Ew {
  op: ElementwiseOp;
  scalar?: number;
}
/** x alone, x with a tensor y (else attrs.scalar), or where's cond, a, b. */
type EwInputs = [x: Tensor] | [x: Tensor, y: Tensor] | [cond: Tensor, a: Tensor, b: Tensor];

const view = (t: Tensor, shape = t.shape, strides = t.strides): View => ({ storage: t.storage, shape, strides, offset: t.offset });

/**
 * Record out = op(a, b, c) over strided views (b a view or a scalar) on `backend`: the one
 * elementwise launch every op here, the copies of table.ts and the benchmarks record.
 */
export function runElementwise(backend: Backend, op: ElementwiseOp, out: View, a: View, b?: View | number, c?: View): void {
  const operand = (v: View) => ({ offset: v.offset, strides: v.strides });
  const bView = typeof b === 'object' ? b : undefined;
  const k = elementwiseKernel({
    op,
    shape: out.shape,
    out: operand(out),
    a: operand(a),
    b: bView ? operand(bView) : b,
    c: c ? operand(c) : undefined,
    f16: out.storage.dtype === 'f16',
  });
  backend.run(k, [a.storage, out.storage, ...(bView ? [bView.storage] : []), ...(c ? [c.storage] : [])]);
}

/** A binary op's second operand: its tensor input, or the scalar its attrs hold. */
function second(y: Tensor | undefined, { op, scalar }: Ew): Operand {
  if (y) return y;
  if (scalar === undefined) throw new Error(`${op}: neither a second tensor nor a scalar`);
  return scalar;
}

/** The op's backward: the table's gradient, given the inputs as its arity has them (null: none). */
function backwardOf(op: ElementwiseOp): OpDef<EwInputs, Ew>['backward'] {
  const d = ELEMENTWISE[op];
  if (d.arity === 1) {
    const grad = d.grad;
    return grad && ((g, [x], y) => [grad(fns, g, x, y)]);
  }
  if (d.arity === 2) {
    const grad = d.grad;
    return grad && ((g, [a, b], y, attrs, needs) => grad(fns, g, a, second(b, attrs), y, { a: needs[0], b: !!b && !!needs[1] }));
  }
  const grad = d.grad;
  return (g, [c, a, b], _y, _attrs, needs) => {
    if (!a || !b) throw new Error(`${op}: needs three tensors`);
    return grad(fns, g, c, a, b, { a: !!needs[1], b: !!needs[2] });
  };
}

function elementwiseDef(op: ElementwiseOp): OpDef<EwInputs, Ew> {
  return {
    name: op,
    infer(inputs) {
      const dtype = needFloat(op, inputs);
      return { shape: broadcastShapes(op, inputs.map((t) => t.shape)), dtype };
    },
    forward(out, [x, y, z], attrs) {
      const bc = (t: Tensor) => view(t, out.shape, broadcastStrides(t.shape, t.strides, out.shape));
      runElementwise(out.backend, op, view(out), bc(x), y ? bc(y) : attrs.scalar, z ? bc(z) : undefined);
    },
    backward: backwardOf(op),
  };
}

const DEFS = Object.fromEntries(Object.keys(ELEMENTWISE).map((k) => [k, elementwiseDef(k as ElementwiseOp)])) as Record<ElementwiseOp,
  OpDef<EwInputs, Ew>>;

// binary ops whose operands may swap, so a number on the left costs no materialised tensor
// (others fill one; both are correct)
const COMMUTES: ReadonlySet<BinaryName> = new Set<BinaryName>(['add', 'mul', 'maximum', 'minimum', 'eq', 'ne']);

function binary(k: BinaryName): (a: Operand, b: Operand) => Tensor {
  const f = (a: Operand, b: Operand): Tensor => {
    if (typeof a === 'number') {
      if (typeof b === 'number') throw new TypeError(`${k}: at least one operand must be a Tensor`);
      if (COMMUTES.has(k)) return f(b, a);
      // validate before `full` allocates and dispatches (it used to leak when b was i32)
      needFloat(k, [b]);
      return apply(DEFS[k], [full(b.shape, a, b.backend, b.dtype), b], { op: k });
    }
    return typeof b === 'number' ? apply(DEFS[k], [a], { op: k, scalar: b }) : apply(DEFS[k], [a, b], { op: k });
  };
  return f;
}

const fnOf = (k: ElementwiseOp) => {
  const arity = ELEMENTWISE[k].arity;
  if (arity === 1) return (x: Tensor) => apply(DEFS[k], [x], { op: k });
  if (arity === 2) return binary(k as BinaryName);
  return (cond: Tensor, a: Tensor, b: Tensor) => apply(DEFS[k], [cond, a, b], { op: k });
};

/** Every elementwise op as a function: `elementwise.tanh(x)`, `elementwise.add(a, 1)`. */
export const elementwise = Object.fromEntries(
  Object.keys(ELEMENTWISE).filter((k) => k !== 'copy').map((k) => [k, fnOf(k as ElementwiseOp)]),
) as ElementwiseFns;
/** What the table's gradients are written in. */
const fns: GradFns<Tensor> = elementwise;

// The free functions, one per op of the table (their docs: engine/index.ts). tsc refuses an op
// missing from this list (see below).
export const {
  neg,
  exp,
  log,
  sqrt,
  rsqrt,
  abs,
  erf,
  gelu,
  sign,
  tanh,
  sigmoid,
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  lt,
  le,
  gt,
  ge,
  eq,
  ne,
  geluGrad,
  where,
  ...unexported
} = elementwise;
// an op added to the table must be added to the list above
unexported satisfies Record<string, never>;
