// Fused ops (engine/ops/layer-norm.ts, attention.ts, optim/fused-updates.ts) against the composites they replace, which stay the reference:
//   - on the GPU, the fused kernels against the composite built from primitives (values and
//     gradients, seeded random inputs, sizes that are no multiple of any tile);
//   - on the CPU backend, the kernels' float64 twins against the composite, to f64 rounding;
//   - fused AdamW and EMA against the composed updates, step for step.
// Every test must leave as many tensors and storages alive as it found (checkLeaks).
import * as assert from 'uvu/assert';
import { AdamW, add, emaUpdate, fromArray, gelu, Generator, layerNormComposite, linear, linearComposite, mul, noGrad, permute,
  scaledDotProductAttention, setBackend, sum, tidy, type Backend, type Tensor } from '../engine/internal.ts';
import { attention, attentionQkv } from '../engine/ops/attention.ts';
import { layerNorm } from '../engine/ops/layer-norm.ts';
import { adamwUpdate, emaInPlace } from '../engine/optim/fused-updates.ts';
import { attentionBackwardDkv, attentionBackwardDq, attentionForward } from '../kernels/attention.ts';
import type { Launch } from '../kernels/index.ts';
import { assertClose, checkLeaks, checkOp, cpu, gpu, suite, throwsWith } from './helpers.ts';
import { LACKS, skipUnless } from './skips.ts';

type Fn = (...xs: Tensor[]) => Tensor;

/** Seeded normal values, rounded to f32 so every backend and path sees the same inputs. */
function values(shapes: readonly number[][], seed: number, gen: (g: Generator) => number = (g) => g.normal()): Float64Array[] {
  const g = new Generator(seed);
  return shapes.map((s) => Float64Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => Math.fround(gen(g))));
}

interface Result {
  y: Float64Array;
  shape: number[];
  grads: (Float64Array | null)[];
}

/** fn's output and the gradients of Σ fn(...)·R for the inputs flagged in `grad`; disposes all it made. */
async function run(backend: Backend, fn: Fn, shapes: readonly number[][], vals: readonly Float64Array[],
  grad: readonly boolean[] = shapes.map(() => true)): Promise<Result>
{
  const leaves = vals.map((v, i) => fromArray(v, shapes[i], { backend, requiresGrad: grad[i]! }));
  try {
    const y = tidy(() => {
      const out = fn(...leaves);
      const r = values([[...out.shape]], 7919)[0]!;
      sum(mul(out, fromArray(r, out.shape, { backend }))).backward();
      return out;
    });
    const shape = [...y.shape];
    const yv = Float64Array.from(await y.data());
    y.dispose();
    const grads = await Promise.all(leaves.map(async (l) => (l.grad ? Float64Array.from(await l.grad.data()) : null)));
    return { y: yv, shape, grads };
  } finally {
    for (const l of leaves) {
      l.grad?.dispose();
      l.grad = null;
      l.dispose();
    }
  }
}

/** Run both paths on `backend` and compare output and every gradient. */
async function compare(what: string, backend: Backend, fused: Fn, reference: Fn, shapes: number[][], tol: { atol: number; rtol: number; }, seed = 1,
  grad?: boolean[]): Promise<void>
{
  const vals = values(shapes, seed);
  const a = await run(backend, fused, shapes, vals, grad);
  const b = await run(backend, reference, shapes, vals, grad);
  assert.equal(a.shape, b.shape, `${what}: output shape`);
  assertClose(a.y, b.y, b.shape, `${what}: output`, tol.atol, tol.rtol);
  b.grads.forEach((gb, i) => {
    const ga = a.grads[i];
    if (!gb || !ga) {
      assert.is(ga, gb, `${what}: input ${i} has a gradient on one path only`);
      return;
    }
    assertClose(ga, gb, shapes[i]!, `${what}: gradient of input ${i}`, tol.atol, tol.rtol);
  });
}

// f32 kernels against f32 composites: both round at ~6e-8 per op, over sums of up to a few
// hundred terms; observed errors stay below 2e-7 of the largest value
const GPU_TOL = { atol: 2e-6, rtol: 1e-5 };
// f64 twins against f64 composites: only the order of the sums differs
const CPU_TOL = { atol: 1e-12, rtol: 0 };

const ln = (w: boolean, b: boolean, eps = 1e-5): [Fn, Fn] => {
  const pick = (xs: Tensor[]): [Tensor, Tensor | null, Tensor | null] => [xs[0]!, w ? xs[1]! : null, b ? xs[w ? 2 : 1]! : null];
  return [(...xs) => layerNorm(...pick(xs), eps), (...xs) => layerNormComposite(...pick(xs), eps)];
};
const lnShapes = (x: number[], w: boolean, b: boolean) => [x, ...(w ? [[x.at(-1)!]] : []), ...(b ? [[x.at(-1)!]] : [])];

// ---- layer norm -------------------------------------------------------------------------------

const L = suite('fused layerNorm');
checkLeaks(L);

const lnCases: [string, number[], boolean, boolean][] = [
  ['affine, D = 37 (scalar rows)', [3, 5, 37], true, true],
  ['affine, D = 64 (vec4 rows), 130 rows in three column blocks', [130, 64], true, true],
  ['no weight or bias', [7, 12], false, false],
  ['weight only', [7, 12], true, false],
  ['bias only', [9, 13], false, true],
];
for (const [name, x, w, b] of lnCases) {
  L(`matches the composite on the GPU: ${name}`, () => compare(`layerNorm ${name}`, gpu(), ...ln(w, b), lnShapes(x, w, b), GPU_TOL));
  L(`f64 twin matches the composite on the CPU: ${name}`, () => compare(`layerNorm ${name} (cpu)`, cpu, ...ln(w, b), lnShapes(x, w, b), CPU_TOL));
}

L('gives a gradient only to the inputs that ask for one',
  () => compare('layerNorm, weight frozen', gpu(), ...ln(true, true), lnShapes([5, 20], true, true), GPU_TOL, 2, [true, false, true]));

L('stays accurate when |mean| ≫ std (two-pass variance)', async () => {
  // x = 1e4 + N(0, 1): E[x²] − E[x]² would lose every digit of the variance in f32
  const shapes = [[6, 48]];
  const vals = values(shapes, 3, (g) => 1e4 + g.normal());
  const [fused, reference] = ln(false, false);
  const a = await run(gpu(), fused, shapes, vals), b = await run(cpu, reference, shapes, vals);
  // the f32 mean of values near 1e4 is off by ~1e-3, so y (unit scale) is good to ~1e-3
  assertClose(a.y, b.y, [6, 48], 'layerNorm of 1e4 + N(0, 1)', 2e-3, 0);
  assertClose(a.grads[0]!, b.grads[0]!, [6, 48], 'its gradient', 2e-3, 0);
});

L('without a tape it keeps no statistics (and leaks none)', async () => {
  setBackend(gpu());
  const x = fromArray(values([[4, 8]], 4)[0]!, [4, 8], { requiresGrad: true });
  const y = noGrad(() => layerNorm(x, null, null));
  assert.is(y.requiresGrad, false);
  y.dispose();
  x.dispose();
});

L('names the weight whose shape is wrong', () => {
  setBackend(cpu);
  const x = fromArray(new Float64Array(12), [3, 4]), w = fromArray(new Float64Array(5), [5]);
  try {
    throwsWith(() => layerNorm(x, w, null), /layerNorm: weight \[5\] must be \[4\] for x \[3, 4\]/);
  } finally {
    x.dispose();
    w.dispose();
  }
});

L.run();

// ---- linear with epilogue ----------------------------------------------------------------------

const F = suite('fused linear');
checkLeaks(F);

interface LinCase {
  name: string;
  x: number[];
  out: number;
  bias: boolean;
  gelu: boolean;
  residual: boolean;
}
const linCases: LinCase[] = [
  { name: 'bias, in 17 (scalar loads), 3-d x', x: [3, 5, 17], out: 12, bias: true, gelu: false, residual: false },
  { name: 'bias + GELU, 197 rows, out 65', x: [197, 64], out: 65, bias: true, gelu: true, residual: false },
  { name: 'bias + residual', x: [2, 9, 32], out: 32, bias: true, gelu: false, residual: true },
  { name: 'GELU + residual, no bias, out 3', x: [17, 8], out: 3, bias: false, gelu: true, residual: true },
  { name: 'bias + GELU + residual', x: [5, 12], out: 20, bias: true, gelu: true, residual: true },
];
const linShapes = (c: LinCase) => [c.x, [c.out, c.x.at(-1)!], ...(c.bias ? [[c.out]] : []), ...(c.residual ? [[...c.x.slice(0, -1), c.out]] : [])];
const lin = (c: LinCase): [Fn, Fn] => {
  const pick = (xs: Tensor[]) => ({ x: xs[0]!, w: xs[1]!, b: c.bias ? xs[2]! : null, r: c.residual ? xs[c.bias ? 3 : 2]! : null });
  return [
    (...xs) => {
      const { x, w, b, r } = pick(xs);
      return linear(x, w, b, { activation: c.gelu ? 'gelu' : 'none', residual: r });
    },
    (...xs) => {
      const { x, w, b, r } = pick(xs);
      const z = linearComposite(x, w, b), y = c.gelu ? gelu(z) : z;
      return r ? add(y, r) : y;
    },
  ];
};
for (const c of linCases) {
  F(`matches the composite on the GPU: ${c.name}`, () => compare(`linear ${c.name}`, gpu(), ...lin(c), linShapes(c), GPU_TOL, c.out));
  F(`f64 twin matches the composite on the CPU: ${c.name}`, () => compare(`linear ${c.name} (cpu)`, cpu, ...lin(c), linShapes(c), CPU_TOL, c.out));
}

F('gradients match finite differences (bias + GELU + residual)', async () => {
  const c = linCases[4]!;
  await checkOp('linear+gelu+residual', lin(c)[0], linShapes(c));
});

F('without a tape it keeps no pre-activation (and leaks none)', async () => {
  setBackend(gpu());
  const x = fromArray(values([[4, 8]], 4)[0]!, [4, 8], { requiresGrad: true });
  const w = fromArray(values([[6, 8]], 5)[0]!, [6, 8], { requiresGrad: true });
  const y = tidy(() => {
    const x3 = x.reshape([2, 2, 8]);
    const before = gpu().memory().liveStorages;
    const out = noGrad(() => linear(x3, w, null, { activation: 'gelu' }));
    assert.is(gpu().memory().liveStorages - before, 1, 'storages made: the output only (no pre-activation)');
    return out;
  });
  assert.is(y.requiresGrad, false);
  tidy(() => { // the same call taped keeps it
    const before = gpu().memory().liveStorages;
    linear(x, w, null, { activation: 'gelu' });
    assert.is(gpu().memory().liveStorages - before, 2, 'storages made with a tape: the output and the pre-activation');
  });
  y.dispose();
  x.dispose();
  w.dispose();
});

F('names the argument whose shape is wrong', () => {
  setBackend(cpu);
  const x = fromArray(new Float64Array(12), [3, 4]), w = fromArray(new Float64Array(20), [5, 4]);
  const b = fromArray(new Float64Array(4), [4]), r = fromArray(new Float64Array(15), [5, 3]);
  try {
    throwsWith(() => linear(x, w, b), /linear: bias \[4\] must be \[5\] for weight \[5, 4\]/);
    throwsWith(() => linear(x, w, null, { residual: r }), /linear: residual \[5, 3\] must be \[3, 5\]/);
    throwsWith(() => linear(x, r, null), /linear: weight \[5, 3\] must be \[out, 4\] for x \[3, 4\]/);
  } finally {
    x.dispose();
    w.dispose();
    b.dispose();
    r.dispose();
  }
});

F.run();

// ---- attention --------------------------------------------------------------------------------

const A = suite('fused attention');
checkLeaks(A);

const sdpa: Fn = (q, k, v) => scaledDotProductAttention(q, k, v);
const flash: Fn = (q, k, v) => attention(q, k, v);

for (const dh of [32, 64, 80, 96]) {
  // N = 17 with two leading dims; N = 197 (the ViT's 14² + 1 tokens) with one head, to stay small
  A(`matches the composite on the GPU: Dh ${dh}, N 17, [2, 3] heads`, () =>
    compare(`attention Dh ${dh} N 17`, gpu(), flash, sdpa, [[2, 3, 17, dh], [2, 3, 17, dh], [2, 3, 17, dh]], GPU_TOL, dh));
  A(`matches the composite on the GPU: Dh ${dh}, N 197`, () =>
    compare(`attention Dh ${dh} N 197`, gpu(), flash, sdpa, [[1, 197, dh], [1, 197, dh], [1, 197, dh]], GPU_TOL, dh + 1));
}
for (const [dh, n] of [[32, 17], [64, 50], [96, 17]] as const) {
  A(`f64 twin matches the composite on the CPU: Dh ${dh}, N ${n}`, () =>
    compare(`attention Dh ${dh} N ${n} (cpu)`, cpu, flash, sdpa, [[2, n, dh], [2, n, dh], [2, n, dh]], CPU_TOL, n));
}

// head dims below reuse the pipelines of Dh 32 (lavapipe's first compile of each takes seconds)
A('handles more keys than queries, an explicit scale and a head dim padded to a multiple of 4', async () => {
  const shapes = [[3, 9, 30], [3, 23, 30], [3, 23, 30]]; // Dh 30 runs as 32
  const f: Fn = (q, k, v) => attention(q, k, v, 0.3), r: Fn = (q, k, v) => scaledDotProductAttention(q, k, v, 0.3);
  await compare('attention Nq 9, Nk 23, Dh 18', gpu(), f, r, shapes, GPU_TOL, 5);
  await compare('attention Nq 9, Nk 23, Dh 18 (cpu)', cpu, f, r, shapes, CPU_TOL, 5);
});

A('reads strided views (q, k, v sliced from one permuted qkv tensor)', () => {
  // the ViT's layout: qkv [B, N, 3, H, Dh] → 3 × [B, H, N, Dh]
  const [B, N, H, Dh] = [2, 13, 2, 32];
  const split = (f: (q: Tensor, k: Tensor, v: Tensor) => Tensor): Fn => (qkv) => {
    const t = permute(qkv, [2, 0, 3, 1, 4]); // [3, B, H, N, Dh]
    const part = (i: number) => t.slice(0, i, i + 1).reshape([B, H, N, Dh]);
    return f(part(0), part(1), part(2));
  };
  return compare('attention on views', gpu(), split(attention), split(scaledDotProductAttention), [[B, N, 3, H, Dh]], GPU_TOL, 6);
});

A('gives a gradient only to the inputs that ask for one', async () => {
  const shapes = [[2, 11, 32], [2, 11, 32], [2, 11, 32]];
  await compare('attention, only q', gpu(), flash, sdpa, shapes, GPU_TOL, 8, [true, false, false]);
  await compare('attention, only v', gpu(), flash, sdpa, shapes, GPU_TOL, 9, [false, false, true]);
});

// The subgroup kernels need subgroups of 8 or more; elsewhere (no subgroups: GLES; size 4:
// SwiftShader) attention() itself runs the plain kernels and this comparison is registered as skipped.
const sgSize = gpu().subgroupSize;
skipUnless(A, sgSize >= 8, LACKS.subgroups8, `the adapter's subgroups are ${sgSize || 'absent'}: the subgroup kernels need 8 or more`)(
  'the kernels without subgroups agree with the subgroup ones (N 19, Dh 32 and 40)',
  async () => {
    const b = gpu();
    for (const dh of [32, 40]) { // 40: a row of 10 vec4s, not whole octets
      const p = { heads: 3, nq: 19, nk: 19, dh, scale: 0.2 };
      const [q, k, v, dO] = values([0, 1, 2, 3].map(() => [3 * 19 * dh]), dh).map((x) => fromArray(x, [3, 19, dh], { backend: b }));
      const outs = async (subgroupSize: number) => {
        const t = (n: number) => fromArray(new Float64Array(n), [n], { backend: b });
        const [o, lse, dq, delta, dkv] = [t(3 * 19 * dh), t(57), t(3 * 19 * dh), t(57), t(2 * 3 * 19 * dh)];
        const st = [q!, k!, v!, o, dO!, lse, dq, delta, dkv].map((x) => x.storage);
        const launches: [Launch, number[]][] = [
          [attentionForward(p, { subgroupSize }), [0, 1, 2, 3, 5]],
          [attentionBackwardDq(p, { subgroupSize }), [0, 1, 2, 3, 4, 5, 6, 7]],
          [attentionBackwardDkv(p, { subgroupSize }), [0, 1, 2, 4, 5, 7, 8]],
        ];
        b.run({ name: 'attention kernels', launches: () => launches.map(([l, bindings]) => ({ ...l, bindings })), reference: () => {} }, st);
        const res = await Promise.all([o, lse, dq, dkv].map(async (x) => Float64Array.from(await x.data())));
        for (const x of [o, lse, dq, delta, dkv]) x.dispose();
        const half = res[3]!.length / 2;
        return [res[0]!, res[1]!, res[2]!, res[3]!.subarray(0, half), res[3]!.subarray(half)];
      };
      const [plain, sg] = [await outs(0), await outs(8)];
      ['o', 'lse', 'dq', 'dk', 'dv'].forEach((name, i) =>
        assertClose(plain[i]!, sg[i]!, [sg[i]!.length], `attention ${name}, Dh ${dh}: plain vs subgroups`, 1e-6, 1e-5)
      );
      for (const x of [q!, k!, v!, dO!]) x.dispose();
    }
  },
);

// attentionQkv against the head split / sdpa / merge it replaces, values and d(qkv)
const splitHeads = (heads: number): Fn => (qkv) => {
  const [B, N, C] = qkv.shape as [number, number, number];
  const dh = C / 3 / heads;
  const parts = permute(qkv.reshape([B, N, 3, heads, dh]), [2, 0, 3, 1, 4]);
  const part = (i: number) => parts.slice(0, i, i + 1).reshape([B, heads, N, dh]);
  return permute(scaledDotProductAttention(part(0), part(1), part(2)), [0, 2, 1, 3]).reshape([B, N, heads * dh]);
};
for (const [B, N, heads, dh] of [[2, 17, 3, 8], [1, 50, 2, 64], [3, 5, 1, 40]] as const) {
  const packed: Fn = (qkv) => attentionQkv(qkv, heads);
  A(`attentionQkv matches split heads + composite on the GPU: B ${B}, N ${N}, ${heads} heads of ${dh}`, () =>
    compare(`attentionQkv ${B}/${N}/${heads}/${dh}`, gpu(), packed, splitHeads(heads), [[B, N, 3 * heads * dh]], GPU_TOL, N));
  A(`attentionQkv f64 twin matches on the CPU: B ${B}, N ${N}, ${heads} heads of ${dh}`, () =>
    compare(`attentionQkv ${B}/${N}/${heads}/${dh} (cpu)`, cpu, packed, splitHeads(heads), [[B, N, 3 * heads * dh]], CPU_TOL, N));
}

A('names the shapes that disagree, and head dims above 128', () => {
  setBackend(cpu);
  const t = (s: number[]) => fromArray(new Float64Array(s.reduce((a, b) => a * b, 1)), s);
  const [q, k, big] = [t([2, 5, 8]), t([2, 6, 4]), t([1, 3, 132])];
  try {
    throwsWith(() => attention(q, k, k), /attention: q \[2, 5, 8\], k \[2, 6, 4\], v \[2, 6, 4\] disagree on the head dim/);
    throwsWith(() => attention(big, big, big), /attention: head dim 132 must be a multiple of 4 and at most 128/);
    throwsWith(() => attentionQkv(q, 3), /attentionQkv: qkv \[2, 5, 8\]: its last dim 8 is not 3 × 3 heads × a head dim/);
    throwsWith(() => attentionQkv(big, 2), /attentionQkv: head dim 22 must be a multiple of 4 and at most 128 \(attention\(\) takes any\)/);
  } finally {
    q.dispose();
    k.dispose();
    big.dispose();
  }
});

A.run();

// ---- optimizer updates ------------------------------------------------------------------------

const O = suite('fused optimizer updates');
checkLeaks(O);

/**
 * Three AdamW steps on two groups (the first decayed, the rest not, at another lr), fused or
 * composed; returns the final p, m, v of each tensor.
 */
async function adamwSteps(backend: Backend, fused: boolean, shapes: number[][] = [[7, 13], [5]]): Promise<Float64Array[]> {
  const p0 = values(shapes, 11);
  const ps = p0.map((v, i) => fromArray(v, shapes[i], { backend, requiresGrad: true }));
  const opt = new AdamW([{ params: [ps[0]!], weightDecay: 0.05 }, { params: ps.slice(1), weightDecay: 0 }], { fused });
  try {
    for (let s = 0; s < 3; s++) {
      values(shapes, 100 + s).forEach((g, i) => {
        ps[i]!.grad = fromArray(g, shapes[i], { backend });
      });
      opt.step({ lr: [1e-2, 3e-3] });
      opt.zeroGrad();
    }
    const out: Float64Array[] = [];
    for (const p of ps) {
      const s = opt.stateFor(p)!;
      for (const t of [p, s.m, s.v]) out.push(Float64Array.from(await t.data()));
    }
    return out;
  } finally {
    opt.dispose();
    for (const p of ps) p.dispose();
  }
}

for (const [name, backend, rtol] of [['GPU', gpu(), 1e-6], ['CPU', cpu, 0]] as const) {
  O(`fused AdamW matches the composed AdamW over 3 steps, with and without decay (${name})`, async () => {
    const a = await adamwSteps(backend, true), b = await adamwSteps(backend, false);
    const names = ['p', 'm', 'v', 'bias p', 'bias m', 'bias v'];
    b.forEach((e, i) => assertClose(a[i]!, e, [e.length], `AdamW ${names[i]}`, 0, rtol));
  });

  O(`fused EMA matches the composed EMA (${name})`, async () => {
    const shapes = [[3, 7], [11]];
    const [t0, s0] = [values(shapes, 21), values(shapes, 22)];
    const result = async (fused: boolean) => {
      const ts = t0.map((v, i) => fromArray(v, shapes[i], { backend }));
      const ss = s0.map((v, i) => fromArray(v, shapes[i], { backend }));
      emaUpdate(ts, ss, 0.996, { fused });
      emaUpdate(ts, ss, 0.9, { fused });
      const out = await Promise.all(ts.map(async (t) => Float64Array.from(await t.data())));
      for (const t of [...ts, ...ss]) t.dispose();
      return out;
    };
    const a = await result(true), b = await result(false);
    b.forEach((e, i) => assertClose(a[i]!, e, [e.length], `EMA tensor ${i}`, 0, rtol));
  });
}

// more tensors than one launch takes (4 AdamW / 8 EMA segments at 16 storage buffers), sizes
// on both sides of the 256-invocation workgroups that segments start on
const manyShapes = [[300], [1], [17, 31], [256], [513], [2], [5, 5], [257], [3], [64, 4], [1000]];
O('fused AdamW over 11 tensors in a few launches matches the composed one, bit for bit on the GPU', async () => {
  const a = await adamwSteps(gpu(), true, manyShapes), b = await adamwSteps(gpu(), false, manyShapes);
  b.forEach((e, i) => assertClose(a[i]!, e, [e.length], `AdamW tensor ${Math.floor(i / 3)} ${['p', 'm', 'v'][i % 3]}`, 0, 1e-6));
  // and it took ceil(11 / K) launches for the step, K = the device's storage buffers / 4
  const b0 = gpu();
  const ps = manyShapes.map((sh, i) => fromArray(values([sh], i)[0]!, sh, { backend: b0, requiresGrad: true }));
  const opt = new AdamW([{ params: ps }]);
  try {
    for (const p of ps) p.grad = fromArray(values([[...p.shape]], 5)[0]!, [...p.shape], { backend: b0 });
    opt.step({ lr: 1e-3, wd: 0.1 }); // the first step also fills the moments with zeros
    const before = b0.memory().dispatches;
    opt.step({ lr: 1e-3, wd: 0.1 });
    const K = Math.min(8, Math.floor(b0.device.limits.maxStorageBuffersPerShaderStage / 4));
    assert.is(b0.memory().dispatches - before, Math.ceil(11 / K), 'launches for 11 tensors');
  } finally {
    opt.dispose();
    for (const p of ps) p.dispose();
  }
});
O('fused EMA over 11 tensors matches the composed EMA (GPU and CPU)', async () => {
  for (const backend of [gpu(), cpu]) {
    const [t0, s0] = [values(manyShapes, 31), values(manyShapes, 32)];
    const result = async (fused: boolean) => {
      const ts = t0.map((v, i) => fromArray(v, manyShapes[i], { backend }));
      const ss = s0.map((v, i) => fromArray(v, manyShapes[i], { backend }));
      emaUpdate(ts, ss, 0.99, { fused });
      const out = await Promise.all(ts.map(async (t) => Float64Array.from(await t.data())));
      for (const t of [...ts, ...ss]) t.dispose();
      return out;
    };
    const a = await result(true), b = await result(false);
    b.forEach((e, i) => assertClose(a[i]!, e, [e.length], `EMA tensor ${i} (${backend.name})`, 0, backend === cpu ? 0 : 1e-6));
  }
});

O('in-place updates leave other tensors sharing the storage alone', async () => {
  setBackend(gpu());
  const src = fromArray([1, 2, 3], [3]);
  const target = fromArray([0, 0, 0], [3]);
  const other = fromArray([4, 4, 4], [3]);
  target.assign(src); // target now shares src's storage
  emaInPlace(target, other, 0.5);
  assert.equal(Array.from(await src.data()), [1, 2, 3]);
  assert.equal(Array.from(await target.data()), [2.5, 3, 3.5]);
  src.dispose();
  target.dispose();
  other.dispose();
});

O('adamwUpdate refuses a view as the parameter', () => {
  setBackend(cpu);
  const p = fromArray(new Float64Array(6), [2, 3]);
  const [g, m, v] = [0, 1, 2].map(() => fromArray(new Float64Array(6), [3, 2]));
  const pt = p.transpose();
  try {
    throwsWith(() => adamwUpdate(pt, g!, m!, v!, { lr: 1, wd: 0, step: 1 }, { b1: 0.9, b2: 0.999, eps: 1e-8 }),
      /adamwUpdate: p \[3, 2\] is updated in place, so it must be a dense tensor, not a view/);
  } finally {
    for (const t of [pt, p, g!, m!, v!]) t.dispose();
  }
});

O.run();
