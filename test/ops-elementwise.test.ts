// Elementwise ops: every unary and binary op and `where` against the f64 CPU reference and
// finite differences (checkOp), with broadcasting, scalar operands on either side, strided
// (transposed) inputs, ties in maximum/minimum, pow of negative bases, and the WGSL erf/GELU
// against the f64 erf over a dense range.
import * as assert from 'uvu/assert';
import * as E from '../engine/index.ts';
import { erf as erf64, geluExact } from '../kernels/math.ts';
import { assertClose, checkLeaks, checkOp, cpu, gens, gpu, owned, suite, take, type Gen } from './helpers.ts';
import { LACKS, skipUnless } from './skips.ts';

const unary = suite('ops: unary');
checkLeaks(unary);

unary('neg matches f64 and finite differences', async () => {
  await checkOp('neg', (x) => E.neg(x), [[3, 5]]);
});
unary('exp matches f64 and finite differences', async () => {
  await checkOp('exp', (x) => E.exp(x), [[4, 7]], { atol: 2e-7 });
});
unary('log of positive values matches f64 and finite differences', async () => {
  await checkOp('log', (x) => E.log(x), [[4, 7]], { gen: gens.uniform(0.2, 5) });
});
unary('sqrt of positive values matches f64 and finite differences', async () => {
  await checkOp('sqrt', (x) => E.sqrt(x), [[4, 7]], { gen: gens.uniform(0.2, 5) });
});
unary('rsqrt of positive values matches f64 and finite differences', async () => {
  await checkOp('rsqrt', (x) => E.rsqrt(x), [[4, 7]], { gen: gens.uniform(0.2, 5) });
});
unary('tanh matches f64 and finite differences', async () => {
  await checkOp('tanh', (x) => E.tanh(x), [[4, 7]], { gen: gens.normal(2) });
});
unary('tanh saturates to ±1 (not NaN) at large |x| and ±Infinity on both backends', async () => {
  const r = await checkOp('tanh(large)', (x) => E.tanh(x), [[6]], { gen: () => [20, -20, 100, -100, Infinity, -Infinity], grad: false });
  assert.equal(Array.from(r.cpu), [1, -1, 1, -1, 1, -1]);
  assert.equal(Array.from(r.gpu), [1, -1, 1, -1, 1, -1]);
});
unary('sigmoid matches f64 and finite differences', async () => {
  await checkOp('sigmoid', (x) => E.sigmoid(x), [[4, 7]], { gen: gens.normal(3) });
});
unary('sigmoid saturates to 0 and 1 (not NaN) at large |x| and ±Infinity on both backends', async () => {
  const r = await checkOp('sigmoid(large)', (x) => E.sigmoid(x), [[6]], { gen: () => [200, -200, 1e30, -1e30, Infinity, -Infinity], grad: false });
  for (const [name, v] of [['cpu', r.cpu], ['gpu', r.gpu]] as const) {
    assert.equal(Array.from(v, (y) => Math.round(y)), [1, 0, 1, 0, 1, 0], name);
    assert.ok(Array.from(v).every((y) => y >= 0 && y <= 1), `${name}: ${Array.from(v).join(', ')}`);
  }
});
unary('abs away from 0 matches f64 and finite differences', async () => {
  await checkOp('abs', (x) => E.abs(x), [[4, 7]], { gen: gens.awayFrom([0]) });
});
unary('abs has gradient 0 at 0, as torch', () =>
  owned(async (own) => {
    const x = own(E.fromArray([0, -2, 3], [3], { backend: cpu, requiresGrad: true }));
    E.tidy(() => E.abs(x).sum().backward());
    assert.equal(Array.from(await x.grad!.data()), [0, -1, 1]);
  }));
unary('erf matches f64 and finite differences', async () => {
  await checkOp('erf', (x) => E.erf(x), [[4, 7]], { gen: gens.normal(1.5) });
});
unary('gelu matches exact-erf GELU and finite differences', async () => {
  await checkOp('gelu', (x) => E.gelu(x), [[4, 7]], { gen: gens.normal(2) });
});
unary('sign is -1, 0, 1 and has no gradient', async () => {
  const r = await checkOp('sign', (x) => E.sign(x), [[5]], { gen: () => [-2, 0, 3, -0.5, 1e-30], grad: false });
  assert.equal(Array.from(r.gpu), [-1, 0, 1, -1, 1]);
});
unary('unary ops read transposed (strided) inputs', async () => {
  await checkOp('exp∘transpose', (x) => E.exp(x), [[3, 5]], { transposed: true, atol: 2e-7 });
});

unary("geluGrad is g·gelu'(x) (the fused gelu backward), on both backends", async () => {
  // forward only (it has no backward of its own); against the f64 formula at its own inputs
  const seen: Float64Array[] = [];
  const gen: Gen = (g, n, i) => (seen[i] = Float64Array.from({ length: n }, () => Math.fround(2 * g.normal())));
  const r = await checkOp('geluGrad', (x, g) => E.geluGrad(x, g), [[5, 9], [5, 9]], { gen, grad: false });
  const [xs, gs] = seen as [Float64Array, Float64Array];
  const want = Float64Array.from(xs, (x, i) => gs[i]! * (0.5 * (1 + erf64(x / Math.SQRT2)) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI)));
  assertClose(r.cpu, want, [5, 9], 'geluGrad (cpu) vs formula', 1e-12, 0);
});

unary('erf, gelu and exp agree at ±Infinity and NaN on both backends', async () => {
  const r = await checkOp('erf(±inf)', (x) => E.erf(x), [[3]], { gen: () => [Infinity, -Infinity, NaN], grad: false });
  assert.equal(Array.from(r.gpu.slice(0, 2)), [1, -1]);
  const g = await checkOp('gelu(±inf)', (x) => E.gelu(x), [[3]], { gen: () => [Infinity, -Infinity, NaN], grad: false });
  assert.is(g.gpu[0], Infinity);
  // exp(NaN) is left to the implementation by WGSL (SwiftShader returns +Inf): only ±Inf is pinned
  await checkOp('exp(±inf)', (x) => E.exp(x), [[2]], { gen: () => [Infinity, -Infinity], grad: false });
});
unary('WGSL erf is within 1e-7 of the f64 erf on [-6, 6]', async () => {
  const n = 120001; // step 1e-4
  const xs = Float64Array.from({ length: n }, (_, i) => Math.fround(-6 + i * 1e-4));
  const y = await take(E.tidy(() => E.erf(E.fromArray(xs, [n], { backend: gpu() }))));
  let worst = 0, at = 0;
  for (let i = 0; i < n; i++) {
    const err = Math.abs(y[i]! - erf64(xs[i]!));
    if (err > worst) {
      worst = err;
      at = xs[i]!;
    }
  }
  assert.ok(worst <= 1e-7, `max |erf_gpu − erf_f64| = ${worst.toExponential(3)} at x = ${at}`);
});

unary('WGSL gelu is within 2e-7·max(1, |x|) of exact GELU on [-8, 8]', async () => {
  const n = 16001;
  const xs = Float64Array.from({ length: n }, (_, i) => Math.fround(-8 + i * 1e-3));
  const y = await take(E.tidy(() => E.gelu(E.fromArray(xs, [n], { backend: gpu() }))));
  let worst = 0, at = 0;
  for (let i = 0; i < n; i++) {
    const err = Math.abs(y[i]! - geluExact(xs[i]!)) / Math.max(1, Math.abs(xs[i]!));
    if (err > worst) {
      worst = err;
      at = xs[i]!;
    }
  }
  assert.ok(worst <= 2e-7, `max |gelu_gpu − gelu_f64| / max(1, |x|) = ${worst.toExponential(3)} at x = ${at}`);
});

unary.run();

// ---------------------------------------------------------------------------------------------

const binary = suite('ops: binary');
checkLeaks(binary);

binary('add matches f64 and finite differences', async () => {
  await checkOp('add', (a, b) => E.add(a, b), [[3, 4], [3, 4]]);
});
binary('sub matches f64 and finite differences', async () => {
  await checkOp('sub', (a, b) => E.sub(a, b), [[3, 4], [3, 4]]);
});
binary('mul matches f64 and finite differences', async () => {
  await checkOp('mul', (a, b) => E.mul(a, b), [[3, 4], [3, 4]]);
});
binary('div matches f64 and finite differences', async () => {
  await checkOp('div', (a, b) => E.div(a, b), [[3, 4], [3, 4]], { gen: gens.each(gens.normal(), gens.awayFrom([0], 0.5)) });
});
binary('pow with a positive base and tensor exponent matches f64 and finite differences', async () => {
  await checkOp('pow', (a, b) => E.pow(a, b), [[3, 4], [3, 4]], { gen: gens.each(gens.uniform(0.3, 3), gens.normal()) });
});
binary('pow of a negative base with integer exponents matches f64 (torch semantics)', async () => {
  for (const e of [2, 3, -1, -2]) {
    await checkOp(`pow(x, ${e})`, (x) => E.pow(x, e), [[13]], { gen: gens.awayFrom([0], 0.3) });
  }
  // a non-integer exponent of a negative base is NaN, as torch
  const r = await checkOp('pow(x, 0.5)', (x) => E.pow(x, 0.5), [[3]], { gen: () => [-2, 4, -0.5], grad: false });
  assert.ok(Number.isNaN(r.gpu[0]!) && r.gpu[1] === 2 && Number.isNaN(r.gpu[2]!), `got ${Array.from(r.gpu)}`);
});
binary('pow(x, 0) is 1 for every x, zero and negatives included (as torch)', async () => {
  const r = await checkOp('pow(x, 0)', (x) => E.pow(x, 0), [[4]], { gen: () => [0, -2, 3, -0], grad: false });
  assert.equal(Array.from(r.gpu), [1, 1, 1, 1]);
  const t = await checkOp('pow(0, y)', (x, y) => E.pow(x, y), [[4], [4]], { gen: gens.each(() => [0, 0, 0, 2], () => [0, 2, 1, 0]), grad: false });
  assert.equal(Array.from(t.gpu), [1, 0, 0, 1]);
});
binary('maximum and minimum match f64 and finite differences', async () => {
  await checkOp('maximum', (a, b) => E.maximum(a, b), [[3, 4], [3, 4]]);
  await checkOp('minimum', (a, b) => E.minimum(a, b), [[3, 4], [3, 4]]);
});
binary('maximum and minimum split the gradient ½–½ on ties', async () => {
  // every other element of b equals a: ties; central differences at a tie also give ½
  const ties = gens.each(gens.normal(), (g, n, _i, prev) => Float64Array.from({ length: n }, (_, k) => (k % 2 ? prev[0]![k]! : g.normal())));
  for (const [name, f] of [['maximum', E.maximum], ['minimum', E.minimum]] as const) {
    const r = await checkOp(name, (a, b) => f(a, b), [[2, 5], [2, 5]], { gen: ties });
    const [ga, gb] = r.cpuGrads;
    for (let k = 1; k < 10; k += 2) assert.ok(Math.abs(ga![k]! - gb![k]!) < 1e-12 && ga![k] !== 0, `${name}: tie at ${k} not split evenly`);
  }
  await owned(async (own) => {
    const a = own(E.fromArray([1, 2, 3], [3], { backend: gpu(), requiresGrad: true }));
    const b = own(E.fromArray([1, 5, 0], [3], { backend: gpu(), requiresGrad: true }));
    E.tidy(() => E.maximum(a, b).sum().backward());
    assert.equal(Array.from(await a.grad!.data()), [0.5, 0, 1]);
    assert.equal(Array.from(await b.grad!.data()), [0.5, 1, 0]);
  });
});
binary('comparisons give 0/1 on both backends, ties included', async () => {
  const tie = gens.each(gens.normal(), (g, n, _i, prev) => Float64Array.from({ length: n }, (_, k) => (k % 3 === 0 ? prev[0]![k]! : g.normal())));
  const ops = { lt: E.lt, le: E.le, gt: E.gt, ge: E.ge, eq: E.eq, ne: E.ne } as const;
  const host = { lt: (x: number, y: number) => x < y, le: (x: number, y: number) => x <= y, gt: (x: number, y: number) => x > y,
    ge: (x: number, y: number) => x >= y, eq: (x: number, y: number) => x === y, ne: (x: number, y: number) => x !== y };
  for (const k of Object.keys(ops) as (keyof typeof ops)[]) {
    let a: Float64Array | null = null, b: Float64Array | null = null;
    const r = await checkOp(k, (x, y) => ops[k](x, y), [[4, 6], [4, 6]], {
      gen: (g, n, i, prev) => {
        const v = Float64Array.from(tie(g, n, i, prev), Math.fround);
        if (i === 0) a = v;
        else b = v;
        return v;
      },
      grad: false,
    });
    assert.equal(Array.from(r.gpu), Array.from(a!, (x, j) => +host[k](x, b![j]!)), `${k} values`);
  }
});
binary('comparisons have no gradient: their output does not require grad', () =>
  owned((own) => {
    const x = own(E.fromArray([1, 2], [2], { backend: cpu, requiresGrad: true }));
    assert.is(own(E.lt(x, 1.5)).requiresGrad, false);
  }));

binary('binary ops broadcast [4, 1, 3] with [5, 1] to [4, 5, 3]', async () => {
  for (const [name, f] of [['add', E.add], ['sub', E.sub], ['mul', E.mul], ['maximum', E.maximum]] as const) {
    await checkOp(`${name} broadcast`, (a, b) => f(a, b), [[4, 1, 3], [5, 1]], { shape: [4, 5, 3] });
  }
  await checkOp('div broadcast', (a, b) => E.div(a, b), [[4, 1, 3], [5, 1]], { shape: [4, 5, 3], gen: gens.awayFrom([0], 0.5) });
  await checkOp('pow broadcast', (a, b) => E.pow(a, b), [[4, 1, 3], [5, 1]], { shape: [4, 5, 3], gen: gens.uniform(0.5, 2) });
});
binary('binary ops broadcast a scalar-shaped tensor and a leading-dim tensor', async () => {
  await checkOp('mul [] × [2, 3]', (a, b) => E.mul(a, b), [[], [2, 3]], { shape: [2, 3] });
  await checkOp('add [3] + [2, 1, 3]', (a, b) => E.add(a, b), [[3], [2, 1, 3]], { shape: [2, 1, 3] });
});
binary('scalar operands work on either side', async () => {
  await checkOp('add(x, 2)', (x) => E.add(x, 2), [[2, 3]]);
  await checkOp('add(2, x)', (x) => E.add(2, x), [[2, 3]]);
  await checkOp('sub(x, 2)', (x) => E.sub(x, 2), [[2, 3]]);
  await checkOp('sub(2, x)', (x) => E.sub(2, x), [[2, 3]]);
  await checkOp('mul(3, x)', (x) => E.mul(3, x), [[2, 3]]);
  await checkOp('div(x, 4)', (x) => E.div(x, 4), [[2, 3]]);
  await checkOp('div(2, x)', (x) => E.div(2, x), [[2, 3]], { gen: gens.awayFrom([0], 0.5) });
  await checkOp('pow(x, 3)', (x) => E.pow(x, 3), [[2, 3]]);
  await checkOp('pow(2, x)', (x) => E.pow(2, x), [[2, 3]]);
  await checkOp('maximum(0.1, x)', (x) => E.maximum(0.1, x), [[2, 3]], { gen: gens.awayFrom([0.1]) });
  await checkOp('minimum(x, 0.1)', (x) => E.minimum(x, 0.1), [[2, 3]], { gen: gens.awayFrom([0.1]) });
  const r = await checkOp('lt(0, x)', (x) => E.lt(0, x), [[4]], { gen: () => [-1, 0, 2, -3], grad: false });
  assert.equal(Array.from(r.gpu), [0, 0, 1, 0]);
  const s = await checkOp('ge(x, 0)', (x) => E.ge(x, 0), [[4]], { gen: () => [-1, 0, 2, -3], grad: false });
  assert.equal(Array.from(s.gpu), [0, 1, 1, 0]);
});
binary('binary ops read transposed (strided) operands', async () => {
  await checkOp('mul strided', (a, b) => E.mul(a, b), [[3, 5], [3, 5]], { transposed: [true, false] });
});
binary('a tensor used as both operands gets the summed gradient', async () => {
  await checkOp('mul(x, x)', (x) => E.mul(x, x), [[3, 3]]);
});

binary.run();

// ---------------------------------------------------------------------------------------------

const where = suite('ops: where');
checkLeaks(where);

const cond = (g: E.Generator, n: number) => Float64Array.from({ length: n }, () => (g.uniform() < 0.5 ? 1 : 0));
where('where picks a or b and routes gradients to the picked one', async () => {
  await checkOp('where', (c, a, b) => E.where(c, a, b), [[3, 4], [3, 4], [3, 4]], { gen: gens.each(cond, gens.normal(), gens.normal()),
    grad: [false, true, true] });
});
where('where broadcasts cond [3, 1], a [4] and b [] to [3, 4]', async () => {
  await checkOp('where broadcast', (c, a, b) => E.where(c, a, b), [[3, 1], [4], []], { shape: [3, 4],
    gen: gens.each(cond, gens.normal(), gens.normal()), grad: [false, true, true] });
});
where('where treats any nonzero cond as true, in values and gradients', async () => {
  await checkOp('where nonzero', (c, a, b) => E.where(c, a, b), [[8], [8], [8]], {
    gen: gens.each(() => [2, -1, 0, 0.5, 0, -3, 1, 0], gens.normal(), gens.normal()),
    grad: [false, true, true],
  });
});
where('where of a comparison (relu-like) matches finite differences away from the kink', async () => {
  await checkOp('where(x > 0, x, 0.1x)', (x) => E.where(E.gt(x, 0), x, E.mul(x, 0.1)), [[4, 5]], { gen: gens.awayFrom([0]) });
});

where.run();

// ---------------------------------------------------------------------------------------------

const rank = suite('ops: high rank');
checkLeaks(rank);

rank('elementwise ops on rank > 8 run on the GPU when the layout merges to fewer dims', async () => {
  await checkOp('add rank 10', (a, b) => E.add(a, b), [[1, 2, 1, 1, 1, 1, 3, 1, 1, 2], [1, 2, 1, 1, 1, 1, 3, 1, 1, 2]]);
  await checkOp('mul rank 9 broadcast', (a, b) => E.mul(a, b), [[2, 1, 1, 1, 1, 1, 1, 1, 3], [3]]);
  await checkOp('exp of a rank-9 transposed view', (x) => E.exp(x), [[1, 1, 1, 1, 1, 1, 1, 2, 3]], { transposed: true, atol: 3e-7 });
});
rank('a strided op whose dims cannot merge below the kernel limit throws a named error and leaks nothing', () => {
  E.tidy(() => {
    const x = E.zeros(Array(12).fill(2), { backend: gpu() });
    const p = E.permute(x, [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]); // reversed: no two dims merge
    const live = gpu().memory().liveStorages;
    let msg = '';
    try {
      E.exp(p);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert.match(msg, /^exp: rank 12 .*exceeds the kernel limit \d+$/);
    assert.is(gpu().memory().liveStorages, live);
  });
});
rank.run();

// ---------------------------------------------------------------------------------------------

const dense = suite('ops: dense vec4 and strided kernel texts');
checkLeaks(dense);

// [8, 4] tensors are one contiguous run of a multiple of 4: the vec4 text. A slice at offset 4
// keeps it; one at offset 2, or a length of 30, takes the strided text. Both share `apply`, so
// these cover what differs: loads of a, b and c, the uniform scalar, copies and f16.
dense('both texts match the reference: copy, add, scalar mul, where, geluGrad', async () => {
  for (const shape of [[8, 4], [30]]) {
    await checkOp(`add ${shape}`, (a, b) => E.add(a, b), [shape, shape]);
    await checkOp(`mul by a scalar ${shape}`, (a) => E.mul(a, 1.5), [shape]);
    await checkOp(`where ${shape}`, (c, a, b) => E.where(c, a, b), [shape, shape, shape], { gen: gens.each(cond, gens.normal(), gens.normal()),
      grad: [false, true, true] });
    await checkOp(`copy ${shape}`, (a) => E.copy(a), [shape]);
    await checkOp(`geluGrad ${shape}`, (x, g) => E.geluGrad(x, g), [shape, shape], { grad: false });
  }
});
dense('slices at offsets that are and are not multiples of 4', async () => {
  await checkOp('exp of rows 1.. (offset 4)', (x) => E.exp(E.slice(x, 0, 1, 5)), [[5, 4]], { atol: 3e-7 });
  await checkOp('add at offset 2', (a, b) => E.add(E.slice(a, 0, 1, 5), E.slice(b, 0, 1, 5)), [[5, 2], [5, 2]]);
});
skipUnless(dense, gpu().hasF16, LACKS.f16, 'the adapter has no shader-f16: f16 storage needs it')('f16 storage on both texts', async () => {
  await owned(async (own) => {
    for (const n of [64, 30]) {
      const v = Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
      const [g, c] = await Promise.all([gpu(), cpu].map(async (b) => {
        const x = own(E.fromArray(v, [n], { backend: b, dtype: 'f16' }));
        return take(E.tidy(() => E.gelu(E.mul(x, x))));
      }));
      assertClose(g!, c!, [n], `f16 gelu(x·x), n ${n}`, 4e-3, 4e-3);
    }
  });
});
dense.run();
