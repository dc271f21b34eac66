// elementwise-ops: the one table of elementwise ops. Each op's code (the kernel's OP override),
// its WGSL expression in the f32 operands x, y, z, and its f64 twin. The kernel's `apply` switch
// is generated from this table (elementwise.wgsl.ts) and the CPU reference runs the twins, so an
// op cannot exist in one place and be missing in another.
import { erf, geluExact, geluGradExact } from './math.ts';

interface OpDef {
  code: number;
  /** Operands read: 1 (x), 2 (x, y; y may be a scalar), 3 (where: x, y, z). */
  arity: 1 | 2 | 3;
  wgsl: string;
  ref: (x: number, y: number, z: number) => number;
}

// math.ts's erf is NaN at ±Infinity (its continued fraction divides inf by inf); the limits are
// what the GPU kernels (and torch) give
const erfInf = (x: number) => (x === Infinity ? 1 : x === -Infinity ? -1 : erf(x));
const geluInf = (x: number) => (x === Infinity ? Infinity : x === -Infinity ? NaN : geluExact(x));
const unary = (code: number, wgsl: string, ref: (x: number) => number): OpDef => ({ code, arity: 1, wgsl, ref });
const binary = (code: number, wgsl: string, ref: (x: number, y: number) => number): OpDef => ({ code, arity: 2, wgsl, ref });
const compare = (code: number, op: string, ref: (x: number, y: number) => boolean) => binary(code, `select(0.0, 1.0, x ${op} y)`, (x, y) => +ref(x, y));

/** Every elementwise op by name: its kernel code, WGSL expression in x, y, z and f64 twin. */
export const ELEMENTWISE = {
  copy: unary(0, 'x', (x) => x),
  neg: unary(1, '-x', (x) => -x),
  exp: unary(2, 'exp(x)', Math.exp),
  log: unary(3, 'log(x)', Math.log),
  sqrt: unary(4, 'sqrt(x)', Math.sqrt),
  rsqrt: unary(5, 'inverseSqrt(x)', (x) => 1 / Math.sqrt(x)),
  abs: unary(6, 'abs(x)', Math.abs),
  erf: unary(7, 'erf_(x)', erfInf),
  gelu: unary(8, 'gelu_(x)', geluInf),
  sign: unary(9, 'sign(x)', (x) => (x > 0 ? 1 : x < 0 ? -1 : 0)),
  // tanh(±15) is ±1 in f32; the clamp keeps an implementation's exp-based tanh from overflowing to NaN
  tanh: unary(10, 'tanh(clamp(x, -15.0, 15.0))', Math.tanh),
  add: binary(20, 'x + y', (x, y) => x + y),
  sub: binary(21, 'x - y', (x, y) => x - y),
  mul: binary(22, 'x * y', (x, y) => x * y),
  div: binary(23, 'x / y', (x, y) => x / y),
  pow: binary(24, 'pow_(x, y)', (x, y) => x ** y),
  maximum: binary(25, 'max(x, y)', (x, y) => Math.max(x, y)),   // never Math.max itself: the twins get a third argument
  minimum: binary(26, 'min(x, y)', (x, y) => Math.min(x, y)),
  lt: compare(27, '<', (x, y) => x < y),
  le: compare(28, '<=', (x, y) => x <= y),
  gt: compare(29, '>', (x, y) => x > y),
  ge: compare(30, '>=', (x, y) => x >= y),
  eq: compare(31, '==', (x, y) => x === y),
  ne: compare(32, '!=', (x, y) => x !== y),
  // geluGrad(x, g): the gradient g·gelu'(x) in one pass
  geluGrad: binary(33, 'y * gelu_grad_(x)', (x, g) => g * geluGradExact(x)),
  // where(cond = x, y, z)
  where: { code: 40, arity: 3, wgsl: 'select(z, y, x != 0.0)', ref: (x, y, z) => (x !== 0 ? y : z) },
} as const satisfies Record<string, OpDef>;

/** The name of an elementwise kernel op (a key of ELEMENTWISE). */
export type ElementwiseOp = keyof typeof ELEMENTWISE;

/** Op codes by name (the kernel's OP override). */
export const ELEMENTWISE_OPS = Object.fromEntries(Object.entries(ELEMENTWISE).map(([k, d]) => [k, d.code])) as { readonly [K in ElementwiseOp]: number };

/** The WGSL `apply` switch: one case per op; copy (code 0) is also the default WGSL requires, never reached by another op. */
export function applySwitchWgsl(): string {
  const cases = Object.values(ELEMENTWISE).map((d) => (d.code === 0
    ? `    case 0u, default: { return ${d.wgsl}; }`
    : `    case ${d.code}u: { return ${d.wgsl}; }`));
  return `fn apply(x: f32, y: f32, z: f32) -> f32 {\n  switch OP {\n${cases.join('\n')}\n  }\n}`;
}
