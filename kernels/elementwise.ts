// elementwise launcher: op codes, dim merging and the uniform block for ELEMENTWISE_WGSL; the
// kernel over strided operands and its f64 twin (the table's `ref`s).
import { ELEMENTWISE_F16_VEC4_WGSL, ELEMENTWISE_F16_WGSL, ELEMENTWISE_VEC4_WGSL, ELEMENTWISE_WGSL } from './elementwise.wgsl.ts';
import { cached, grid, MAX_RANK, need, type Kernel, type KernelSource, type Launch } from './kernel-source.ts';
import { ELEMENTWISE, ELEMENTWISE_OPS, type ElementwiseOp } from './elementwise-ops.ts';

export { ELEMENTWISE, ELEMENTWISE_OPS, type ElementwiseOp, type ElementwiseOfArity, type GradFns, type Operand } from './elementwise-ops.ts';

/** A strided operand: element offset and one stride per output dim (0 where broadcast). */
export interface StridedOperand {
  offset: number;
  strides: readonly number[];
}

const WG = 64;
/** vec4s per invocation of the dense text (its override VPI). */
const VPI = 4;
const sources = new Map<string, KernelSource>();
const TEXTS = { f32: ELEMENTWISE_WGSL, f16: ELEMENTWISE_F16_WGSL, f32_v4: ELEMENTWISE_VEC4_WGSL, f16_v4: ELEMENTWISE_F16_VEC4_WGSL };
function sourceFor(op: ElementwiseOp, f16: boolean, vec4: boolean): KernelSource {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc widens the template to string without it
  const text = `${f16 ? 'f16' : 'f32'}${vec4 ? '_v4' : ''}` as keyof typeof TEXTS;
  const key = `${op}_${text}`;
  return cached(sources, key, () => ({ name: `elementwise_${key}`, wgsl: TEXTS[text], overrides: { WG, OP: ELEMENTWISE_OPS[op] } }));
}

/**
 * Drop size-1 dims and merge neighbours d, d+1 that every operand walks contiguously
 * (stride[d] = stride[d+1]·shape[d+1]): the same elements in the fewest dims.
 */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][]; } {
  const dims: number[] = [];
  for (let d = 0; d < shape.length; d++) if (shape[d] !== 1) dims.push(d);
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (const d of dims) {
    const last = outShape.length - 1;
    const mergeable = last >= 0 && strides.every((st, k) => outStrides[k]![last] === st[d]! * shape[d]!);
    if (mergeable) {
      outShape[last]! *= shape[d]!;
      strides.forEach((st, k) => {
        outStrides[k]![last] = st[d]!;
      });
    } else {
      outShape.push(shape[d]!);
      strides.forEach((st, k) => outStrides[k]!.push(st[d]!));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** Build the launch of out = op(a, b, c) over strided operands (dims merged where contiguous; the dense vec4 text where allowed). */
export function elementwise(p: {
  op: ElementwiseOp;
  shape: readonly number[]; // output shape
  out: StridedOperand;
  a: StridedOperand;
  b?: StridedOperand | number; // a number is passed as a uniform scalar
  c?: StridedOperand;
  /** Every buffer holds f16 (else 32-bit words: f32, or i32 for copies). */
  f16?: boolean;
  /** Use the strided text even where the dense vec4 one would do (tests and benchmarks). */
  noVec4?: boolean;
}): Launch {
  const n = p.shape.reduce((x, y) => x * y, 1);
  need(p.op, n < 2 ** 31, `${n} elements exceed 2^31`);
  const bOp = typeof p.b === 'object' ? p.b : undefined;
  const zeros = p.shape.map(() => 0);
  const merged = coalesce(p.shape, [p.a.strides, bOp?.strides ?? zeros, p.c?.strides ?? zeros, p.out.strides]);
  if (merged.shape.length === 0) {
    merged.shape.push(1);
    merged.strides.forEach((s) => s.push(0));
  }
  const rank = merged.shape.length - 1;
  need(p.op, rank <= MAX_RANK, `rank ${rank + 1} after merging dims exceeds the kernel limit ${MAX_RANK + 1}`);
  const last = merged.shape[rank]!;
  const rows = n / last;
  const chunks = Math.ceil(last / 4);
  // the dense vec4 text: one run (no outer dims), every tensor operand walking it with stride 1
  // from an offset that is a multiple of 4, and a length that is one too
  const operands = [p.a, bOp, p.c, p.out];
  const vec4 = rank === 0 && last % 4 === 0 && !p.noVec4 &&
    operands.every((o, k) => !o || merged.strides[k]![0] === 1 && o.offset % 4 === 0);

  const buf = new ArrayBuffer(224);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  u[0] = rows;
  u[1] = last;
  u[2] = chunks;
  u[3] = rank;
  u[4] = p.a.offset;
  u[5] = bOp?.offset ?? 0;
  u[6] = p.c?.offset ?? 0;
  u[7] = p.out.offset;
  merged.strides.forEach((s, k) => {
    u[8 + k] = s[rank]!;
  });
  f[12] = typeof p.b === 'number' ? p.b : 0;
  u[13] = typeof p.b === 'number' ? 1 : 0;
  const put = (base: number, v: readonly number[]) => {
    for (let d = 0; d < rank; d++) u[base + d] = v[d]!;
  };
  put(16, merged.shape);
  merged.strides.forEach((s, k) => put(24 + 8 * k, s));
  // dense text: VPI vec4s per invocation; `chunks` carries the invocation count (their stride)
  const invocations = vec4 ? Math.ceil(last / 4 / VPI) : rows * chunks;
  if (vec4) u[2] = invocations;
  const [x, y] = grid(invocations, WG);
  return { source: sourceFor(p.op, !!p.f16, vec4), uniforms: buf, workgroups: [x, y, 1] };
}

/** Visit every coordinate of `shape` in row-major order, with the strided offset of each operand. */
function forEachOffset(shape: readonly number[], views: readonly StridedOperand[], f: (offsets: number[]) => void): void {
  const n = shape.reduce((a, b) => a * b, 1);
  const rank = shape.length;
  const coord = new Array<number>(rank).fill(0);
  const offs = views.map((v) => v.offset);
  for (let i = 0; i < n; i++) {
    f(offs);
    for (let d = rank - 1; d >= 0; d--) {
      coord[d]!++;
      for (let k = 0; k < views.length; k++) offs[k]! += views[k]!.strides[d]!;
      if (coord[d]! < shape[d]!) break;
      for (let k = 0; k < views.length; k++) offs[k]! -= views[k]!.strides[d]! * shape[d]!;
      coord[d] = 0;
    }
  }
}

/**
 * out = op(a, b, c) over strided operands, as a kernel on storages [a, out, b, c] (b only when it
 * is a tensor, c only for where): the launch of `elementwise`, and the table's f64 twin.
 */
export function elementwiseKernel(p: Parameters<typeof elementwise>[0]): Kernel {
  const bOp = typeof p.b === 'object' ? p.b : undefined;
  return {
    name: p.op,
    launches: () => [{ ...elementwise(p), bindings: [0, bOp ? 2 : null, p.c ? 3 : null, 1] }],
    reference(arrays) {
      const [x, o, y, z] = arrays as [Float64Array, Float64Array, Float64Array | undefined, Float64Array | undefined];
      const def = ELEMENTWISE[p.op];
      const f = def.ref;
      if (def.arity === 1) {
        forEachOffset(p.shape, [p.out, p.a], ([io, ia]) => {
          o[io!] = f(x[ia!]!, 0, 0);
        });
      } else if (def.arity === 3) {
        if (!bOp || !p.c || !y || !z) throw new Error(`${p.op}: needs three tensor operands`);
        forEachOffset(p.shape, [p.out, p.a, bOp, p.c], ([io, ia, ib, ic]) => {
          o[io!] = f(x[ia!]!, y[ib!]!, z[ic!]!);
        });
      } else if (typeof p.b === 'number') {
        const b = p.b;
        forEachOffset(p.shape, [p.out, p.a], ([io, ia]) => {
          o[io!] = f(x[ia!]!, b, 0);
        });
      } else {
        if (!bOp || !y) throw new Error(`${p.op}: needs a second operand`);
        forEachOffset(p.shape, [p.out, p.a, bOp], ([io, ia, ib]) => {
          o[io!] = f(x[ia!]!, y[ib!]!, 0);
        });
      }
    },
  };
}
