// Matmul (all transpose variants, batched, broadcast batches, odd sizes), softmax, and the
// composites the model is built from: layerNorm, linear, scaledDotProductAttention, smoothL1.
import * as assert from 'uvu/assert';
import * as E from '../engine/internal.ts';
import { assertClose, checkLeaks, checkOp, cpu, gens, gpu, owned, suite, take } from './helpers.ts';

const mm = suite('ops: matmul');
checkLeaks(mm);

/** Shapes of a and b for op(a)·op(b) = [M, K]·[K, N] under the transpose flags. */
const mmShapes = (M: number, K: number, N: number, transA: boolean, transB: boolean, batchA: number[] = [],
  batchB: number[] = []) => [[...batchA, ...(transA ? [K, M] : [M, K])], [...batchB, ...(transB ? [N, K] : [K, N])]];

mm('all four transA/transB combinations match f64 and finite differences', async () => {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      await checkOp(`matmul tA=${transA} tB=${transB}`, (a, b) => E.matmul(a, b, { transA, transB }), mmShapes(5, 7, 3, transA, transB), {
        shape: [5, 3],
      });
    }
  }
});
mm('batched matmul, each transpose variant', async () => {
  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    await checkOp(`batched tA=${transA} tB=${transB}`, (a, b) => a.matmul(b, { transA, transB }), mmShapes(3, 4, 5, transA, transB, [2], [2]), {
      shape: [2, 3, 5],
    });
  }
});
mm('broadcast batches: [2, 3, M, K]·[K, N] and [2, 1, M, K]·[3, K, N]', async () => {
  await checkOp('[2, 3, M, K]·[K, N]', (a, b) => E.matmul(a, b), [[2, 3, 4, 5], [5, 3]], { shape: [2, 3, 4, 3] });
  await checkOp('[2, 1, M, K]·[3, K, N]', (a, b) => E.matmul(a, b), [[2, 1, 4, 5], [3, 5, 3]], { shape: [2, 3, 4, 3] });
  await checkOp('[M, K]·[2, K, N] tB', (a, b) => E.matmul(a, b, { transB: true }), [[4, 5], [2, 3, 5]], { shape: [2, 4, 3] });
  await checkOp('[2, 1, K, M]ᵀ·[1, 3, N, K]ᵀ', (a, b) => E.matmul(a, b, { transA: true, transB: true }), [[2, 1, 5, 4], [1, 3, 3, 5]], {
    shape: [2, 3, 4, 3],
  });
});
mm('odd sizes 1, 3, 17, 65, 197, 257 (edge tiles)', async () => {
  const cases: [number, number, number][] = [[1, 1, 1], [1, 257, 1], [197, 3, 17], [17, 65, 3], [3, 17, 257], [65, 1, 65], [257, 3, 1]];
  for (const [M, K, N] of cases) {
    await checkOp(`matmul ${M}×${K}×${N}`, (a, b) => E.matmul(a, b), [[M, K], [K, N]], { shape: [M, N], fdSamples: 32, atol: 2e-6 });
  }
  await checkOp('matmul 65×197×17 tA tB', (a, b) => E.matmul(a, b, { transA: true, transB: true }), mmShapes(65, 197, 17, true, true), {
    fdSamples: 16,
    atol: 2e-6,
  });
});
mm('matmul reads strided (transposed) and offset (sliced) operands', async () => {
  await checkOp('matmul of transposed views', (a, b) => E.matmul(a, b), [[4, 6], [6, 3]], { transposed: true });
  await checkOp('matmul of row slices', (a, b) => E.matmul(E.slice(a, 0, 1, 4), E.slice(b, 0, 2)), [[5, 6], [8, 3]], { shape: [3, 3] });
  await checkOp('batched matmul of a permuted view', (a, b) => E.matmul(E.permute(a, [1, 0, 2]), b), [[3, 2, 4], [2, 4, 5]], { shape: [2, 3, 5] });
});
mm('empty matmuls: K = 0 gives zeros, M = 0 gives an empty result (as torch)', async () => {
  for (const backend of [cpu, gpu()]) {
    const [z, e] = E.tidy(() => [
      E.matmul(E.zeros([2, 0], { backend }), E.zeros([0, 3], { backend })),
      E.matmul(E.zeros([0, 2], { backend }), E.zeros([2, 3], { backend })),
    ]);
    const eShape = e.shape, zv = await take(z), ev = await take(e);
    assert.equal(Array.from(zv), [0, 0, 0, 0, 0, 0]);
    assert.equal(eShape, [0, 3]);
    assert.is(ev.length, 0);
  }
});
mm('matmul gives exact small-integer products', async () => {
  for (const backend of [cpu, gpu()]) {
    const y = E.tidy(() => E.matmul(E.fromArray([1, 2, 3, 4, 5, 6], [2, 3], { backend }), E.fromArray([1, 0, 2, 1, 0, 3], [3, 2], { backend })));
    assert.equal(Array.from(await take(y)), [5, 11, 14, 23]);
  }
});

mm.run();

// ---------------------------------------------------------------------------------------------

const sm = suite('ops: softmax');
checkLeaks(sm);

sm('softmax over the last dim matches f64 and finite differences', async () => {
  await checkOp('softmax(-1)', (x) => E.softmax(x, -1), [[3, 17]]);
  await checkOp('softmax(-1) of [2, 3, 197]', (x) => x.softmax(), [[2, 3, 197]], { fdSamples: 48 });
  await checkOp('softmax of a single column', (x) => E.softmax(x), [[4, 1]]);
});
sm('softmax over a middle and the first dim', async () => {
  await checkOp('softmax(1)', (x) => E.softmax(x, 1), [[2, 5, 3]]);
  await checkOp('softmax(0)', (x) => E.softmax(x, 0), [[4, 3]]);
});
sm('softmax of strided and offset inputs', async () => {
  await checkOp('softmax of a transposed view', (x) => E.softmax(x, -1), [[5, 3]], { transposed: true });
  await checkOp('softmax of a row slice', (x) => E.softmax(E.slice(x, 0, 1, 3), -1), [[4, 6]]);
});
sm('the fused backward kernel equals the composed rule y ⊙ (g − Σ g·y) on the GPU', async () => {
  await owned(async (own) => {
    const b = gpu(), g = new E.Generator(3);
    const x = own(E.randn([6, 197], g, { backend: b, requiresGrad: true })), dy = own(E.randn([6, 197], g, { backend: b }));
    E.tidy(() => E.softmax(x).backward(dy));
    const fused = await take(x.grad!);
    x.grad = null;
    const composed = await take(E.tidy(() => {
      const y = E.softmax(x);
      return E.mul(y, E.sub(dy, E.sum(E.mul(dy, y), -1, true)));
    }));
    assertClose(fused, composed, [6, 197], 'softmax backward: kernel vs composed', 1e-7, 1e-6);
  });
});
sm('softmax is max-subtracted: large logits neither overflow nor underflow to NaN', async () => {
  const r = await checkOp('softmax(±1000)', (x) => E.softmax(x, -1), [[2, 4]], {
    gen: () => [1000, 999, 998, -1000, -1000, -999, -1001, -1000.5],
    grad: false,
  });
  for (const v of r.gpu) assert.ok(Number.isFinite(v));
});

sm.run();

// ---------------------------------------------------------------------------------------------

const nn = suite('ops: layerNorm, linear, attention, smoothL1');
checkLeaks(nn);

nn('layerNorm with affine weight and bias matches f64 and finite differences', async () => {
  await checkOp('layerNorm affine', (x, w, b) => E.layerNorm(x, w, b), [[3, 17], [17], [17]]);
  await checkOp('layerNorm affine [2, 3, 65]', (x, w, b) => E.layerNorm(x, w, b, 1e-6), [[2, 3, 65], [65], [65]], { fdSamples: 48 });
});
nn('layerNorm without affine, and of a strided input', async () => {
  await checkOp('layerNorm plain', (x) => E.layerNorm(x, null, null), [[4, 9]]);
  await checkOp('layerNorm weight only', (x, w) => E.layerNorm(x, w, null), [[4, 9], [9]]);
  await checkOp('layerNorm of a transposed view', (x) => E.layerNorm(x, null, null), [[5, 6]], { transposed: true });
});
nn('layerNorm output has zero mean and unit variance per row', async () => {
  const r = await checkOp('layerNorm stats', (x) => E.layerNorm(x, null, null, 0), [[3, 32]], { gen: gens.normal(5), grad: false });
  for (let i = 0; i < 3; i++) {
    const row = r.cpu.slice(i * 32, (i + 1) * 32);
    const m = row.reduce((a, b) => a + b, 0) / 32;
    const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / 32;
    assert.ok(Math.abs(m) < 1e-12 && Math.abs(v - 1) < 1e-12, `row ${i}: mean ${m}, var ${v}`);
  }
});
nn('layerNorm and its composite reference honour eps: a row of ±1 (var 1) with eps 0.5 gives ±1/√1.5', async () => {
  // a large eps, so that one ignored (or replaced by a default) moves y far beyond rounding
  const want = [1, -1, 1, -1].map((v) => v / Math.sqrt(1.5));
  for (const backend of [cpu, gpu()]) {
    for (const [name, f] of [['fused', E.layerNorm], ['composite', E.layerNormComposite]] as const) {
      const y = await take(E.tidy(() => f(E.fromArray([1, -1, 1, -1], [1, 4], { backend }), null, null, 0.5)));
      assertClose(y, want, [1, 4], `${name} layerNorm on ${backend === cpu ? 'cpu' : 'gpu'}`, 1e-6, 0);
    }
  }
});
nn('linear (x·Wᵀ + b) with and without bias, for 2-D and 3-D inputs', async () => {
  await checkOp('linear 3-D with bias', (x, w, b) => E.linear(x, w, b), [[2, 3, 5], [4, 5], [4]], { shape: [2, 3, 4] });
  await checkOp('linear 2-D without bias', (x, w) => E.linear(x, w, null), [[3, 5], [4, 5]], { shape: [3, 4] });
  await checkOp('linear odd sizes', (x, w, b) => E.linear(x, w, b), [[17, 65], [3, 65], [3]], { shape: [17, 3], fdSamples: 32 });
});
nn('scaledDotProductAttention matches f64 and finite differences', async () => {
  await checkOp('sdpa [2, 3, 4]', (q, k, v) => E.scaledDotProductAttention(q, k, v), [[2, 3, 4], [2, 5, 4], [2, 5, 6]], { shape: [2, 3, 6] });
  await checkOp('sdpa [1, 2, 3, 4] scale 0.3', (q, k, v) => E.scaledDotProductAttention(q, k, v, 0.3), [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]], {
    shape: [1, 2, 3, 4],
  });
  await checkOp('sdpa on permuted heads',
    (q, k, v) => E.scaledDotProductAttention(E.permute(q, [1, 0, 2]), E.permute(k, [1, 0, 2]), E.permute(v, [1, 0, 2])), [[3, 2, 4], [5, 2, 4], [5, 2,
    4]], { shape: [2, 3, 4] });
});
nn('scaledDotProductAttention equals softmax(q·kᵀ/√Dh)·v computed on the host', async () => {
  const r = await checkOp('sdpa host', (q, k, v) => E.scaledDotProductAttention(q, k, v), [[2, 3], [4, 3], [4, 2]], { grad: false });
  const g = new E.Generator(1);
  const [q, k, v] = [6, 12, 8].map((n) => Float64Array.from({ length: n }, () => Math.fround(g.normal())));
  const out: number[] = [];
  for (let i = 0; i < 2; i++) {
    const s = [0, 1, 2, 3].map((j) => [0, 1, 2].reduce((a, d) => a + q![i * 3 + d]! * k![j * 3 + d]!, 0) / Math.sqrt(3));
    const mx = Math.max(...s), e = s.map((x) => Math.exp(x - mx)), z = e.reduce((a, b) => a + b, 0);
    for (let c = 0; c < 2; c++) out.push(e.reduce((a, w, j) => a + (w / z) * v![j * 2 + c]!, 0));
  }
  out.forEach((o, i) => assert.ok(Math.abs(o - r.cpu[i]!) < 1e-12, `element ${i}: ${r.cpu[i]} vs ${o}`));
});
nn('smoothL1 on both sides of |d| = 1 matches f64, the host formula and finite differences', async () => {
  // y = x − d with |d| drawn away from the kink at 1 on both sides
  const gen = gens.each(gens.normal(), (g, n, _i, prev) => {
    const d = gens.awayFrom([-1, 1], 0.05, 1.2)(g, n, 1, prev);
    return Float64Array.from({ length: n }, (_, k) => prev[0]![k]! - d[k]!);
  });
  const r = await checkOp('smoothL1', (x, y) => E.smoothL1(x, y), [[4, 5], [4, 5]], { gen, shape: [] });
  // recompute the inputs to check both branches were exercised and the value
  const g = new E.Generator(1);
  const vals: Float64Array[] = [];
  for (const i of [0, 1]) vals.push(Float64Array.from(gen(g, 20, i, vals), Math.fround));
  const d = vals[0]!.map((x, k) => x - vals[1]![k]!);
  const inside = d.filter((v) => Math.abs(v) < 1).length;
  assert.ok(inside > 2 && inside < 18, `|d| < 1 for ${inside} of 20 elements: both branches needed`);
  const want = d.reduce((a, v) => a + (Math.abs(v) < 1 ? 0.5 * v * v : Math.abs(v) - 0.5), 0) / 20;
  assert.ok(Math.abs(r.cpu[0]! - want) < 1e-12, `smoothL1 ${r.cpu[0]} vs ${want}`);
});

nn.run();
