// elementwise launcher: op codes and the uniform block for ELEMENTWISE_WGSL.
import { ELEMENTWISE_WGSL } from './elementwise.wgsl.ts';
import { grid, MAX_RANK, need, type KernelSource } from './kernel-source.ts';

/** Op codes understood by the elementwise kernel (see its `apply` switch). */
export const ELEMENTWISE_OPS = {
  copy: 0, neg: 1, exp: 2, log: 3, sqrt: 4, rsqrt: 5, abs: 6, erf: 7, gelu: 8, sign: 9,
  add: 20, sub: 21, mul: 22, div: 23, pow: 24, maximum: 25, minimum: 26,
  lt: 27, le: 28, gt: 29, ge: 30, eq: 31, ne: 32,
  where: 40,
} as const;
export type ElementwiseOp = keyof typeof ELEMENTWISE_OPS;

/** A strided operand: element offset and one stride per output dim (0 where broadcast). */
export interface StridedOperand { offset: number; strides: readonly number[] }

export interface ElementwiseLaunch {
  source: KernelSource;
  uniforms: ArrayBuffer;
  workgroups: [number, number, number];
}

const WG = 64;
const SOURCE: KernelSource = { name: 'elementwise', wgsl: ELEMENTWISE_WGSL, overrides: { WG } };

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]!; }
  return s;
}

export function elementwise(p: {
  op: ElementwiseOp;
  shape: readonly number[];           // output shape
  out: StridedOperand;
  a: StridedOperand;
  b?: StridedOperand | number;        // a number is passed as a uniform scalar
  c?: StridedOperand;
}): ElementwiseLaunch {
  const rank = p.shape.length;
  need(p.op, rank <= MAX_RANK, `rank ${rank} exceeds the kernel limit ${MAX_RANK}`);
  const n = p.shape.reduce((x, y) => x * y, 1);
  need(p.op, n < 2 ** 31, `${n} elements exceed 2^31`);
  const contig = contiguousStrides(p.shape);
  const isFlat = (s?: StridedOperand | number) =>
    s === undefined || typeof s === 'number' || s.strides.every((v, d) => v === contig[d] || p.shape[d] === 1);
  const flat = isFlat(p.out) && isFlat(p.a) && isFlat(p.b) && isFlat(p.c);

  const buf = new ArrayBuffer(208);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  const bOp = typeof p.b === 'object' ? p.b : undefined;
  u[0] = n; u[1] = rank; u[2] = ELEMENTWISE_OPS[p.op]; u[3] = flat ? 1 : 0;
  u[4] = p.a.offset; u[5] = bOp?.offset ?? 0; u[6] = p.c?.offset ?? 0; u[7] = p.out.offset;
  f[8] = typeof p.b === 'number' ? p.b : 0;
  u[9] = typeof p.b === 'number' ? 1 : 0;
  const put = (base: number, v: readonly number[]) => { for (let d = 0; d < rank; d++) u[base + d] = v[d]!; };
  put(12, p.shape);
  put(20, p.a.strides);
  if (bOp) put(28, bOp.strides);
  if (p.c) put(36, p.c.strides);
  put(44, p.out.strides);
  const [x, y] = grid(n, WG);
  return { source: SOURCE, uniforms: buf, workgroups: [x, y, 1] };
}
