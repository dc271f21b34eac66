// elementwise-ops: the one table of elementwise ops, one declaration per op: its code (the
// kernel's OP override), its WGSL expression in the f32 operands x, y, z, its f64 twin and its
// gradient. The kernel's `apply` switch is generated from this table (elementwise.wgsl.ts), the
// CPU reference runs the twins, and the engine derives each op's function, Tensor method and
// backward from it (engine/ops/elementwise.ts), so an op cannot exist in one place and be missing
// in another.
// Gradients are written in elementwise ops, over the engine's tensor type T (this folder knows
// nothing of tensors): `f` holds the ops of GradFns as functions on T.
import { erf, geluExact, geluGradExact } from './math.ts';

/** An operand of a binary op: a tensor, or a number (the kernel's uniform scalar). */
export type Operand<T> = T | number;

/**
 * The ops gradients are written in, as functions on the engine's tensor type T (the engine passes
 * its own, engine/ops/elementwise.ts). Spelled out rather than derived from ELEMENTWISE, whose
 * type would then depend on itself; a rule that needs another op adds it here.
 */
export interface GradFns<T> {
  neg(x: T): T;
  exp(x: T): T;
  log(x: T): T;
  sign(x: T): T;
  add(a: Operand<T>, b: Operand<T>): T;
  sub(a: Operand<T>, b: Operand<T>): T;
  mul(a: Operand<T>, b: Operand<T>): T;
  div(a: Operand<T>, b: Operand<T>): T;
  pow(a: Operand<T>, b: Operand<T>): T;
  eq(a: Operand<T>, b: Operand<T>): T;
  ne(a: Operand<T>, b: Operand<T>): T;
  gt(a: Operand<T>, b: Operand<T>): T;
  lt(a: Operand<T>, b: Operand<T>): T;
  geluGrad(x: T, g: T): T;
}

/** d op(x) = unaryGrad(f, g, x, y) for the output y = op(x) and its gradient g. */
export type UnaryGrad = <T>(f: GradFns<T>, g: T, x: T, y: T) => T;
/**
 * The gradients of a and b for y = op(a, b) and its gradient g; `needs` says which input wants
 * one (b never does when it is a number), so a rule may skip the other.
 */
export type BinaryGrad = <T>(f: GradFns<T>, g: T, a: T, b: Operand<T>, y: T, needs: { a: boolean; b: boolean; }) => [T | null, T | null];
/** The gradients of cond, a and b for y = where(cond, a, b). */
export type WhereGrad = <T>(f: GradFns<T>, g: T, cond: T, a: T, b: T, needs: { a: boolean; b: boolean; }) => [null, T | null, T | null];

/**
 * An op's declaration. `grad` is required: null says the op has no gradient (it is piecewise
 * constant, or a backward helper that is never differentiated), so a forgotten rule does not
 * compile.
 */
interface Declaration<Arity extends 1 | 2 | 3, Grad> {
  code: number;
  /** Operands read: 1 (x), 2 (x, y; y may be a scalar), 3 (where: x, y, z). */
  arity: Arity;
  wgsl: string;
  ref: (x: number, y: number, z: number) => number;
  grad: Grad | null;
}

// math.ts's erf is NaN at ±Infinity (its continued fraction divides inf by inf); the limits are
// what the GPU kernels (and torch) give
const erfInf = (x: number) => (x === Infinity ? 1 : x === -Infinity ? -1 : erf(x));
const geluInf = (x: number) => (x === Infinity ? Infinity : x === -Infinity ? NaN : geluExact(x));
const unary = (code: number, wgsl: string, ref: (x: number) => number, grad: UnaryGrad | null): Declaration<1, UnaryGrad> => ({ code, arity: 1, wgsl,
  ref, grad });
const binary = (code: number, wgsl: string, ref: (x: number, y: number) => number, grad: BinaryGrad | null): Declaration<2, BinaryGrad> => ({ code,
  arity: 2, wgsl, ref, grad });
// comparisons give 0 or 1: no gradient
const compare = (code: number, op: string, ref: (x: number, y: number) => boolean) =>
  binary(code, `select(0.0, 1.0, x ${op} y)`, (x, y) => +ref(x, y), null);

// maximum/minimum: ties split the gradient evenly, as torch.maximum
const minmaxGrad = (wins: 'gt' | 'lt'): BinaryGrad => (f, g, a, b, _y, needs) => {
  const share = f.add(f[wins](a, b), f.mul(f.eq(a, b), 0.5)); // 1 where a wins, ½ on ties, 0 where b wins
  return [needs.a ? f.mul(g, share) : null, needs.b ? f.mul(g, f.sub(1, share)) : null];
};

/** Every elementwise op by name: its kernel code, WGSL expression in x, y, z, f64 twin and gradient. */
export const ELEMENTWISE = {
  // copy moves any dtype's bits; the engine's copy op (ops/table.ts) declares its own rule
  copy: unary(0, 'x', (x) => x, null),
  // d(-x) = -dx
  neg: unary(1, '-x', (x) => -x, (f, g) => f.neg(g)),
  // d exp(x) = exp(x) dx: reuse the output
  exp: unary(2, 'exp(x)', Math.exp, (f, g, _x, y) => f.mul(g, y)),
  // d log(x) = dx / x
  log: unary(3, 'log(x)', Math.log, (f, g, x) => f.div(g, x)),
  // d sqrt(x) = dx / (2 sqrt(x))
  sqrt: unary(4, 'sqrt(x)', Math.sqrt, (f, g, _x, y) => f.div(g, f.mul(y, 2))),
  // d x^(-1/2) = -1/2 x^(-3/2) dx = -1/2 y³ dx
  rsqrt: unary(5, 'inverseSqrt(x)', (x) => 1 / Math.sqrt(x), (f, g, _x, y) => f.mul(g, f.mul(f.pow(y, 3), -0.5))),
  // d|x| = sign(x) dx (0 at 0, as torch)
  abs: unary(6, 'abs(x)', Math.abs, (f, g, x) => f.mul(g, f.sign(x))),
  // d erf(x) = 2/√π · exp(-x²) dx
  erf: unary(7, 'erf_(x)', erfInf, (f, g, x) => f.mul(g, f.mul(f.exp(f.neg(f.mul(x, x))), 2 / Math.sqrt(Math.PI)))),
  // d gelu(x) = Φ(x) + x·φ(x), with Φ(x) = (1 + erf(x/√2))/2 and φ(x) = exp(-x²/2)/√(2π)
  // (one fused kernel: geluGrad(x, g) = g·(Φ(x) + x·φ(x)))
  gelu: unary(8, 'gelu_(x)', geluInf, (f, g, x) => f.geluGrad(x, g)),
  // piecewise constant: no gradient
  sign: unary(9, 'sign(x)', (x) => (x > 0 ? 1 : x < 0 ? -1 : 0), null),
  // tanh(±15) is ±1 in f32; the clamp keeps an implementation's exp-based tanh from overflowing to NaN.
  // d tanh(x) = (1 − tanh²(x)) dx: reuse the output
  tanh: unary(10, 'tanh(clamp(x, -15.0, 15.0))', Math.tanh, (f, g, _x, y) => f.mul(g, f.sub(1, f.mul(y, y)))),
  // the clamp keeps exp(-x) finite (WGSL leaves an overflowing exp undefined); σ(±80) is 0 or 1 in f32 up to 2e-35.
  // d σ(x) = σ(x)(1 − σ(x)) dx: reuse the output
  sigmoid: unary(11, '1.0 / (1.0 + exp(-clamp(x, -80.0, 80.0)))', (x) => 1 / (1 + Math.exp(-x)), (f, g, _x, y) => f.mul(g, f.mul(y, f.sub(1, y)))),
  add: binary(20, 'x + y', (x, y) => x + y, (_f, g, _a, _b, _y, needs) => [needs.a ? g : null, needs.b ? g : null]),
  sub: binary(21, 'x - y', (x, y) => x - y, (f, g, _a, _b, _y, needs) => [needs.a ? g : null, needs.b ? f.neg(g) : null]),
  mul: binary(22, 'x * y', (x, y) => x * y, (f, g, a, b, _y, needs) => [needs.a ? f.mul(g, b) : null, needs.b ? f.mul(g, a) : null]),
  // d(a/b) = da/b - a/b² db = da/b - (y/b) db
  div: binary(23, 'x / y', (x, y) => x / y, (f, g, _a, b, y, needs) => [needs.a ? f.div(g, b) : null, needs.b ? f.neg(f.div(f.mul(g, y), b)) : null]),
  // d a^b = b a^(b-1) da + a^b log(a) db
  pow: binary(24, 'pow_(x, y)', (x, y) => x ** y, (f, g, a, b, y, needs) => [
    needs.a ? f.mul(g, f.mul(f.pow(a, typeof b === 'number' ? b - 1 : f.sub(b, 1)), b)) : null,
    needs.b ? f.mul(g, f.mul(y, f.log(a))) : null,
  ]),
  maximum: binary(25, 'max(x, y)', (x, y) => Math.max(x, y), minmaxGrad('gt')), // never Math.max itself: the twins get a third argument
  minimum: binary(26, 'min(x, y)', (x, y) => Math.min(x, y), minmaxGrad('lt')),
  lt: compare(27, '<', (x, y) => x < y),
  le: compare(28, '<=', (x, y) => x <= y),
  gt: compare(29, '>', (x, y) => x > y),
  ge: compare(30, '>=', (x, y) => x >= y),
  eq: compare(31, '==', (x, y) => x === y),
  ne: compare(32, '!=', (x, y) => x !== y),
  // geluGrad(x, g): the gradient g·gelu'(x) in one pass. Backward rules run untaped, so it is only
  // differentiated if a user tapes it directly
  geluGrad: binary(33, 'y * gelu_grad_(x)', (x, g) => g * geluGradExact(x), () => {
    throw new Error("geluGrad: no backward (the engine differentiates once; gelu's second derivative is not implemented)");
  }),
  // where(cond = x, y, z). The forward treats any nonzero cond as true, so the gradient masks are
  // ne(c, 0) / eq(c, 0), not c and 1 − c (which scale the gradient when cond holds values other
  // than 0 and 1)
  where: {
    code: 40,
    arity: 3,
    wgsl: 'select(z, y, x != 0.0)',
    ref: (x: number, y: number, z: number) => (x !== 0 ? y : z),
    grad: (f, g, c, _a, _b, needs) => [null, needs.a ? f.mul(g, f.ne(c, 0)) : null, needs.b ? f.mul(g, f.eq(c, 0)) : null],
  },
} as const satisfies Record<string, Declaration<1, UnaryGrad> | Declaration<2, BinaryGrad> | Declaration<3, WhereGrad>>;

/** The name of an elementwise kernel op (a key of ELEMENTWISE). */
export type ElementwiseOp = keyof typeof ELEMENTWISE;
type ArityOf<K extends ElementwiseOp> = (typeof ELEMENTWISE)[K]['arity'];
/** The ops of one arity. */
export type ElementwiseOfArity<N extends 1 | 2 | 3> = { [K in ElementwiseOp]: ArityOf<K> extends N ? K : never; }[ElementwiseOp];

/** Op codes by name (the kernel's OP override). */
export const ELEMENTWISE_OPS = Object.fromEntries(Object.entries(ELEMENTWISE).map(([k, d]) => [k, d.code])) as {
  readonly [K in ElementwiseOp]: number;
};

/** The WGSL `apply` switch: one case per op; copy (code 0) is also the default WGSL requires, never reached by another op. */
export function applySwitchWgsl(): string {
  const cases = Object.values(ELEMENTWISE).map((d) => (d.code === 0
    ? `    case 0u, default: { return ${d.wgsl}; }`
    : `    case ${d.code}u: { return ${d.wgsl}; }`)
  );
  return `fn apply(x: f32, y: f32, z: f32) -> f32 {\n  switch OP {\n${cases.join('\n')}\n  }\n}`;
}
