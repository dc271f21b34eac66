// f16 storage: tensors whose buffers hold f16 while every kernel computes and accumulates in
// f32 (the GPU) or f64 (the CPU reference, which rounds each f16 storage after every write).
// Checked here: upload/readback at odd offsets, cast both ways and its gradient, elementwise
// ops, matmul (plain, transposed, batched, with the Linear epilogue), layerNorm, attention and
// attentionQkv, softmax and reductions against the CPU reference on odd shapes, with gradients
// against the f32 path; f32 accumulation (sums past 2048, where f16 sums
// stall); no NaN where f32 has none; autograd through f16; and the errors for what has no f16
// kernel. GPU vs CPU differ by the f16 rounding of each stored result: a few f16 ulps (2⁻¹¹
// relative), so tolerances here are ~4e-3 of the value scale.
import { f16round } from '@petamoriken/float16';
import * as assert from 'uvu/assert';
import * as E from '../engine/internal.ts';
import { assertClose, checkLeaks, cpu, gpu, owned, suite, take, throwsWith } from './helpers.ts';
import { LACKS, skipUnless } from './skips.ts';

const t = suite('f16 storage');
checkLeaks(t);
/** Adapters without shader-f16 (SwiftShader, Dawn's GLES backend) register these as skipped. */
const f16 = skipUnless(t, gpu().hasF16, LACKS.f16, 'the adapter has no shader-f16: f16 storage needs it');

type Fn = (...xs: E.Tensor[]) => E.Tensor;
const TOL = 4e-3;

/** Seeded normal values rounded to f16, so both backends start from the same f16 inputs. */
function values(shape: readonly number[], seed: number, scale = 1): Float64Array {
  const g = new E.Generator(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float64Array.from({ length: n }, () => scale * g.normal());
}

/** fn on f16 inputs on `backend`: its output as numbers, and that it was f16. */
async function runF16(backend: E.Backend, fn: Fn, shapes: readonly number[][], seed: number, scale = 1): Promise<Float64Array> {
  let out: Float64Array = new Float64Array();
  await owned(async (own) => {
    const xs = shapes.map((s, i) => own(E.fromArray(values(s, seed + i, scale), s, { backend, dtype: 'f16' })));
    const y = E.tidy(() => fn(...xs));
    assert.is(y.dtype, 'f16', 'output dtype');
    out = await take(y);
  });
  return out;
}

/** GPU f16 vs CPU f16 reference, within a few f16 ulps of the output's scale. */
async function same(what: string, fn: Fn, shapes: number[][], seed = 1, scale = 1): Promise<void> {
  const g = await runF16(gpu(), fn, shapes, seed, scale);
  const c = await runF16(cpu, fn, shapes, seed, scale);
  assertClose(g, c, [g.length], what, TOL, TOL);
}

/**
 * Gradients of Σ fn(x16…)·R for f32 leaves cast to f16, against the same with f32 throughout:
 * f16 storage of the activations and gradients, f32 math, so they agree to f16 precision.
 */
async function sameGrads(what: string, fn: Fn, shapes: number[][]): Promise<void> {
  const grads = async (dtype: 'f32' | 'f16') => {
    let out: Float64Array[] = [];
    await owned(async (own) => {
      const xs = shapes.map((s, i) => own(E.fromArray(values(s, 40 + i), s, { backend: gpu(), requiresGrad: true })));
      E.tidy(() => {
        const y = fn(...xs.map((x) => x.cast(dtype)));
        y.mul(E.fromArray(values(y.shape, 99), y.shape, { backend: gpu(), dtype })).sum().backward();
      });
      out = await Promise.all(xs.map(async (x) => Float64Array.from(await x.grad!.data())));
    });
    return out;
  };
  const [h, f] = [await grads('f16'), await grads('f32')];
  h.forEach((g, i) => assertClose(g, f[i]!, shapes[i]!, `${what}: gradient of input ${i}, f16 vs f32`, 1e-2, 1e-2));
}

f16('upload and readback round to f16 and survive odd offsets and lengths', async () => {
  await owned(async (own) => {
    const v = [1, 1 / 3, -2.5, 65504, 1e-5, 7, 0.1];
    const x = own(E.fromArray(v, [7], { backend: gpu(), dtype: 'f16' }));
    const got = Array.from(await x.data());
    // f16 has 11 significant bits: 1/3 → 0.333251953125, 0.1 → 0.0999755859375; 1e-5 is subnormal
    assert.equal(got, v.map(f16round));
    assert.is(got[1], 0.333251953125);
    const odd = await own(x.slice(0, 3, 6)).data(); // starts mid-word
    assert.equal(Array.from(odd), [65504, f16round(1e-5), 7]);
  });
});

f16('cast f32 → f16 → f32 rounds to nearest even and is differentiable', async () => {
  for (const backend of [gpu(), cpu]) {
    await owned(async (own) => {
      const x = own(E.fromArray([1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000, -3.25, 65519, -65520], [6], { backend, requiresGrad: true }));
      const y = E.tidy(() => {
        const h = x.cast('f16');
        assert.is(h.dtype, 'f16');
        const back = h.cast('f32');
        back.mul(E.fromArray([1, 2, 3, 4, 5, 6], [6], { backend })).sum().backward();
        return back;
      });
      // ties go to even: 1 + 2⁻¹¹ → 1, 1 + 3·2⁻¹¹ → 1 + 2⁻⁹; from 65520 on, ±Infinity
      assert.equal(Array.from(await take(y)), [1, 1 + 2 ** -9, Infinity, -3.25, 65504, -Infinity], backend.name);
      assert.equal(Array.from(await x.grad!.data()), [1, 2, 3, 4, 5, 6], `${backend.name} gradient`);
    });
  }
});

f16('elementwise ops on f16 match the reference', async () => {
  await same('add with broadcast', (a, b) => E.add(a, b), [[5, 7], [7]]);
  await same('mul, sub, div', (a, b) => E.div(E.sub(E.mul(a, b), a), E.add(E.abs(b), 1)), [[3, 9], [3, 9]]);
  await same('gelu, exp', (a) => E.exp(E.gelu(a)), [[33]]);
  await same('scalar on the left', (a) => E.sub(2, a), [[6]]);
  await same('where', (c, a, b) => E.where(E.gt(c, 0), a, b), [[4, 5], [4, 5], [4, 5]]);
});

f16('matmul on f16 storage matches the reference at odd sizes, all layouts', async () => {
  await same('[17, 33]·[33, 9]', (a, b) => E.matmul(a, b), [[17, 33], [33, 9]]);
  await same('[197, 64]·[65, 64]ᵀ (vec4 loads)', (a, b) => E.matmul(a, b, { transB: true }), [[197, 64], [65, 64]]);
  await same('[3, 12, 5]ᵀ·[3, 12, 7] batched', (a, b) => E.matmul(a, b, { transA: true }), [[3, 12, 5], [3, 12, 7]]);
  await same('linear + bias + GELU + residual', (x, w, b, r) => E.linear(x, w, b, { activation: 'gelu', residual: r }), [[9, 20], [12, 20], [12], [9,
    12]]);
});

f16('matmul and sum accumulate in f32: sums of ones run past 2048, where f16 sums stall', async () => {
  await owned(async (own) => {
    const b = gpu();
    const ones = own(E.full([1, 4096], 1, { backend: b, dtype: 'f16' }));
    const col = own(E.full([4096, 1], 1, { backend: b, dtype: 'f16' }));
    assert.equal(Array.from(await take(E.tidy(() => E.matmul(ones, col)))), [4096]);
    // a row reduction that is not split into chunks: each invocation's four partial sums run
    // to 2050, past the 2048 where f16 addition of ones stalls
    const rows = own(E.full([512, 8200], 1, { backend: b, dtype: 'f16' }));
    const sums = await take(E.tidy(() => E.sum(rows, 1)));
    assert.ok(sums.every((v) => v === 8200), `row sums ${sums[0]} (f16 accumulation would give 8192)`);
  });
});

f16('layerNorm on f16 matches the reference (vec4 and scalar rows), forward and gradients', async () => {
  await same('layerNorm [7, 64] affine', (x, w, b) => E.layerNorm(x, w, b), [[7, 64], [64], [64]]);
  await same('layerNorm [5, 37] no affine', (x) => E.layerNorm(x, null, null), [[5, 37]]);
  await sameGrads('layerNorm [130, 24] affine', (x, w, b) => E.layerNorm(x, w, b), [[130, 24], [24], [24]]);
});

f16('attention and attentionQkv on f16 match the reference, forward and gradients', async () => {
  await same('attention [2, 17, 32]', (q, k, v) => E.attention(q, k, v), [[2, 17, 32], [2, 17, 32], [2, 17, 32]]);
  await same('attentionQkv [2, 9, 3·2·8]', (qkv) => E.attentionQkv(qkv, 2), [[2, 9, 48]]);
  await sameGrads('attention [3, 19, 40]', (q, k, v) => E.attention(q, k, v), [[3, 19, 40], [3, 19, 40], [3, 19, 40]]);
  await sameGrads('attentionQkv [2, 9, 3·2·8]', (qkv) => E.attentionQkv(qkv, 2), [[2, 9, 48]]);
});

f16("gather and scatterAdd on f16 match the reference, and gather's gradient", async () => {
  const index = (b: E.Backend) => E.fromArray(new Int32Array([2, 0, 1, 2, 2, 0]), [2, 3], { backend: b });
  for (const b of [gpu(), cpu]) {
    await owned(async (own) => {
      const x = own(E.fromArray(values([2, 5], 3), [2, 5], { backend: b, dtype: 'f16', requiresGrad: true }));
      const idx = own(index(b));
      const y = E.tidy(() => {
        const g = E.gather(x, 1, idx);
        g.mul(E.fromArray([1, 2, 3, 4, 5, 6], [2, 3], { backend: b, dtype: 'f16' })).sum().backward();
        return g;
      });
      assert.is(y.dtype, 'f16');
      const xs = await x.data(), ys = await take(y), gs = await x.grad!.data();
      assert.equal(Array.from(ys), [xs[2]!, xs[0]!, xs[1]!, xs[7]!, xs[7]!, xs[5]!], `${b.name} gather`);
      assert.equal(Array.from(gs), [2, 3, 1, 0, 0, 6, 0, 9, 0, 0], `${b.name} scatterAdd (gather's gradient)`);
    });
  }
});

f16('softmax and reductions on f16 match the reference; large logits give no NaN', async () => {
  await same('softmax [6, 197]', (x) => E.softmax(x), [[6, 197]], 3, 4);
  await same('sum over rows and columns', (x) => E.add(E.sum(x, 0), E.sum(x)), [[5, 9]]);
  await same('max', (x) => E.max(x, -1), [[7, 13]]);
  const y = await runF16(gpu(), (x) => E.softmax(E.mul(E.minimum(E.maximum(x, -3), 3), 2e4)), [[3, 50]], 5);
  assert.ok(y.every((v) => Number.isFinite(v) && v >= 0 && v <= 1), 'softmax of logits near ±6e4 is finite');
});

f16('gradients flow through f16 ops and match the f32 path to f16 precision', async () => {
  const shapes = [[8, 16], [16, 5]];
  const grads = async (dtype: 'f32' | 'f16') => {
    let out: Float64Array[] = [];
    await owned(async (own) => {
      const xs = shapes.map((s, i) => own(E.fromArray(values(s, 10 + i), s, { backend: gpu(), requiresGrad: true })));
      E.tidy(() => {
        const [a, w] = xs.map((x) => x.cast(dtype)) as [E.Tensor, E.Tensor];
        E.softmax(E.gelu(E.matmul(a, w))).mul(E.arange(0, 5, 1, { backend: gpu(), dtype })).sum().backward();
      });
      out = await Promise.all(xs.map(async (x) => Float64Array.from(await x.grad!.data())));
    });
    return out;
  };
  const [h, f] = [await grads('f16'), await grads('f32')];
  h.forEach((g, i) => assertClose(g, f[i]!, shapes[i]!, `gradient of input ${i}, f16 vs f32`, 1e-2, 1e-2));
});

f16('ops without an f16 kernel and mixed dtypes say so', async () => {
  await owned(async (own) => {
    const b = gpu();
    const h = own(E.zeros([2, 4], { backend: b, dtype: 'f16' })), f = own(E.zeros([2, 4], { backend: b }));
    const h2 = own(E.zeros([2, 4], { backend: b, dtype: 'f16' }));
    throwsWith(() => E.emaInPlace(h, h2, 0.9), /emaInPlace: target must be f32, got f16/);
    throwsWith(() => E.add(h, f), /add: .*needs f16 like input 0 \(cast\(\) to mix f16 and f32\), got f32 \[2, 4\]/);
    throwsWith(() => E.linear(h, own(E.zeros([3, 4], { backend: b, dtype: 'f16' })), null, { residual: own(E.zeros([2, 3], { backend: b })) }),
      /linear: residual is f32 but x is f16; cast\(\) one of them/);
    throwsWith(() => E.cast(f, 'i32' as 'f32'), /cast: dtype 'i32' is not one of 'f32', 'f16'/);
  });
});

if (!gpu().hasF16) {
  t('without shader-f16, f16 storage is refused, naming the feature', () => {
    throwsWith(() => E.zeros([2, 4], { backend: gpu(), dtype: 'f16' }), /f16 storage needs the shader-f16 feature/);
  });
}

t.run();
