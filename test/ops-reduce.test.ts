// Reductions: sum, max, mean and variance over one, several or all axes, with and without
// keepdim, on odd sizes (1, 3, 17, 65, 197, 257), strided and offset inputs, rows long enough
// for the two-pass GPU reduction, and ties in max (gradient split evenly).
import * as assert from 'uvu/assert';
import * as E from '../engine/index.ts';
import { checkLeaks, checkOp, cpu, gens, gpu, owned, suite, take } from './helpers.ts';

const sum = suite('ops: sum');
checkLeaks(sum);

sum('sum over one axis, with and without keepdim, matches f64 and finite differences', async () => {
  for (const axis of [0, 1, 2, -1]) {
    for (const keepdim of [false, true]) {
      await checkOp(`sum(${axis}, keepdim=${keepdim})`, (x) => E.sum(x, axis, keepdim), [[3, 17, 5]]);
    }
  }
});
sum('sum over several axes and over all axes', async () => {
  await checkOp('sum([0, 2])', (x) => E.sum(x, [0, 2]), [[3, 4, 5]], { shape: [4] });
  await checkOp('sum([2, 0], keepdim)', (x) => E.sum(x, [2, 0], true), [[3, 4, 5]], { shape: [1, 4, 1] });
  await checkOp('sum([-1, -2])', (x) => E.sum(x, [-1, -2]), [[2, 3, 4]], { shape: [2] });
  await checkOp('sum()', (x) => E.sum(x), [[3, 4, 5]], { shape: [] });
  await checkOp('sum(all, keepdim)', (x) => E.sum(x, undefined, true), [[3, 4, 5]], { shape: [1, 1, 1] });
});
sum('sum on odd sizes 1, 3, 17, 65, 197, 257', async () => {
  for (const [shape, axis] of [[[1, 257], 1], [[257, 1], 0], [[197, 3], 0], [[3, 197], -1], [[65, 17], 1], [[17, 65], 0], [[1], 0], [[2, 1, 3],
    1]] as [number[], number][])
  {
    await checkOp(`sum([${shape}], ${axis})`, (x) => E.sum(x, axis), [shape], { fdSamples: 48 });
  }
});
sum('sum reads strided (transposed) and offset (sliced) inputs', async () => {
  await checkOp('sum(transposed, 0)', (x) => E.sum(x, 0), [[5, 7]], { transposed: true });
  await checkOp('sum(transposed, 1)', (x) => E.sum(x, 1), [[5, 7]], { transposed: true });
  await checkOp('sum(slice rows 2..5)', (x) => E.sum(E.slice(x, 0, 2, 5), 1), [[6, 7]]);
  await checkOp('sum(slice cols 1..-1)', (x) => E.sum(E.slice(x, 1, 1, -1), 0), [[6, 7]]);
});
sum('sum of long rows takes the two-pass path and stays accurate', async () => {
  // rows < 512 with cols > 2048: the GPU splits each row into chunks, then reduces the partials
  await checkOp('sum([2, 5003], -1)', (x) => E.sum(x, -1), [[2, 5003]], { fdSamples: 24, atol: 2e-6 });
  await checkOp('sum([5003, 2], 0)', (x) => E.sum(x, 0), [[5003, 2]], { fdSamples: 24, atol: 2e-6 });
});
sum('sum over an empty axis is 0, max is -Infinity', async () => {
  for (const backend of [cpu, gpu()]) {
    const [s, m] = E.tidy(() => {
      const x = E.zeros([2, 0], { backend });
      return [E.sum(x, 1), E.max(x, 1)];
    });
    assert.equal(Array.from(await take(s)), [0, 0]);
    assert.equal(Array.from(await take(m)), [-Infinity, -Infinity]);
  }
});

sum.run();

// ---------------------------------------------------------------------------------------------

const max = suite('ops: max');
checkLeaks(max);

max('max over one axis, several axes and all axes matches f64 and finite differences', async () => {
  const gen = gens.spaced(0.05);
  for (const keepdim of [false, true]) {
    await checkOp(`max(1, ${keepdim})`, (x) => E.max(x, 1, keepdim), [[3, 17, 5]], { gen });
    await checkOp(`max([0, 2], ${keepdim})`, (x) => E.max(x, [0, 2], keepdim), [[3, 4, 5]], { gen });
    await checkOp(`max(all, ${keepdim})`, (x) => E.max(x, undefined, keepdim), [[3, 4, 5]], { gen });
  }
  await checkOp('max(-1) on [197, 3]', (x) => E.max(x, -1), [[197, 3]], { gen, fdSamples: 48 });
  await checkOp('max(0) on [257, 2]', (x) => E.max(x, 0), [[257, 2]], { gen, fdSamples: 48 });
  await checkOp('max(0) on transposed [7, 5]', (x) => E.max(x, 0), [[7, 5]], { gen, transposed: true });
  await checkOp('max(-1) on [2, 5003] (two-pass)', (x) => E.max(x, -1), [[2, 5003]], { gen: gens.spaced(0.001), fdSamples: 24 });
});
max('max splits the gradient evenly between tied maxima, as torch.amax', async () => {
  for (const backend of [cpu, gpu()]) {
    await owned(async (own) => {
      const x = own(E.fromArray([3, 1, 3, 2, 5, 5, 5, 0], [2, 4], { backend, requiresGrad: true }));
      const y = own(E.tidy(() => {
        const m = E.max(x, 1);
        m.sum().backward();
        return m;
      }));
      assert.equal(Array.from(await y.data()), [3, 5]);
      assert.equal(Array.from(await x.grad!.data()), [0.5, 0, 0.5, 0, 1 / 3, 1 / 3, 1 / 3, 0].map((v) => (backend === cpu ? v : Math.fround(v))));
    });
  }
});

max.run();

// ---------------------------------------------------------------------------------------------

const stats = suite('ops: mean and variance');
checkLeaks(stats);

stats('mean over one, several and all axes matches f64 and finite differences', async () => {
  await checkOp('mean(1)', (x) => E.mean(x, 1), [[3, 17, 5]]);
  await checkOp('mean(-1, keepdim)', (x) => E.mean(x, -1, true), [[3, 4, 65]], { fdSamples: 64 });
  await checkOp('mean([0, 2])', (x) => E.mean(x, [0, 2]), [[3, 4, 5]]);
  await checkOp('mean()', (x) => E.mean(x), [[3, 4, 5]], { shape: [] });
});
stats('variance (biased and Bessel-corrected) matches f64 and finite differences', async () => {
  await checkOp('variance(-1)', (x) => E.variance(x, -1), [[3, 17]]);
  await checkOp('variance(1, keepdim, correction 1)', (x) => E.variance(x, 1, true, 1), [[3, 17, 2]], { shape: [3, 1, 2] });
  await checkOp('variance([0, 1])', (x) => E.variance(x, [0, 1]), [[4, 5, 3]]);
  await checkOp('variance()', (x) => E.variance(x), [[4, 5]], { shape: [] });
  await checkOp('x.var(-1, false, 1)', (x) => x.var(-1, false, 1), [[3, 197]], { fdSamples: 48 });
});
stats('variance is two-pass: no cancellation when |mean| ≫ std', async () => {
  const r = await checkOp('variance(offset 1000)', (x) => E.variance(x, -1), [[2, 64]], {
    gen: (g, n) => Float64Array.from({ length: n }, () => 1000 + 0.01 * g.normal()),
    atol: 1e-9,
    rtol: 2e-2,
    grad: false,
  });
  for (const v of r.gpu) assert.ok(v > 5e-5 && v < 2e-4, `variance ${v} should be near 1e-4`);
});

stats.run();
