// Movement and indexing ops: reshape, permute, transpose, expand, slice, concat, stack,
// unsqueeze/squeeze/flatten, copy/contiguous/detach, gather and scatterAdd, against the f64
// reference and finite differences, on contiguous, strided and offset views.
import * as assert from 'uvu/assert';
import * as E from '../engine/index.ts';
import { checkLeaks, checkOp, cpu, gpu, suite, take } from './helpers.ts';

const views = suite('ops: views and copies');
checkLeaks(views);

views('reshape, including -1 and a non-contiguous input', async () => {
  await checkOp('reshape [2, 3, 4] → [4, 6]', (x) => E.reshape(x, [4, 6]), [[2, 3, 4]], { shape: [4, 6] });
  await checkOp('reshape [2, 3, 4] → [-1, 4]', (x) => E.reshape(x, [-1, 4]), [[2, 3, 4]], { shape: [6, 4] });
  await checkOp('reshape [2, 3, 4] → [24]', (x) => x.reshape([-1]), [[2, 3, 4]], { shape: [24] });
  await checkOp('reshape of a transposed view', (x) => E.reshape(x, [3, -1]), [[4, 6]], { transposed: true, shape: [3, 8] });
  await checkOp('reshape to [] and back', (x) => E.reshape(E.reshape(x, []), [1, 1]), [[1]], { shape: [1, 1] });
});
views('reshape of a transposed view copies in logical (row-major) order', async () => {
  for (const backend of [cpu, gpu()]) {
    const y = E.tidy(() => E.fromArray([1, 2, 3, 4, 5, 6], [2, 3], { backend }).transpose().reshape([6]));
    assert.equal(Array.from(await take(y)), [1, 4, 2, 5, 3, 6]);
  }
});
views('permute and transpose, and ops on their (strided) results', async () => {
  await checkOp('permute [2, 0, 1]', (x) => E.permute(x, [2, 0, 1]), [[2, 3, 4]], { shape: [4, 2, 3] });
  await checkOp('permute [-1, 0, 1] then exp', (x) => E.exp(E.permute(x, [-1, 0, 1])), [[2, 3, 4]], { atol: 3e-7 });
  await checkOp('transpose(0, 2)', (x) => E.transpose(x, 0, 2), [[2, 3, 4]], { shape: [4, 3, 2] });
  await checkOp('x.transpose() of a transposed input', (x) => x.transpose().mul(2), [[3, 5]], { transposed: true });
  await checkOp('contiguous of a permuted view', (x) => E.contiguous(E.permute(x, [1, 0, 2])), [[2, 3, 4]]);
});
views('expand broadcasts size-1 and new leading dims (the gradient sums back)', async () => {
  await checkOp('expand [3, 1] → [2, 3, 4]', (x) => E.expand(x, [2, 3, 4]), [[3, 1]], { shape: [2, 3, 4] });
  await checkOp('expand with -1', (x) => E.expand(x, [-1, 5]), [[3, 1]], { shape: [3, 5] });
  await checkOp('expand then mul by itself', (x) => {
    const e = E.expand(x, [4, 3]);
    return E.mul(e, e);
  }, [[1, 3]]);
});
views('slice with positive and negative bounds, on any dim, and of views', async () => {
  await checkOp('slice(0, 1, 3)', (x) => E.slice(x, 0, 1, 3), [[4, 5]], { shape: [2, 5] });
  await checkOp('slice(1, -3)', (x) => E.slice(x, 1, -3), [[4, 5]], { shape: [4, 3] });
  await checkOp('slice(-1, 1, -1)', (x) => E.slice(x, -1, 1, -1), [[2, 3, 5]], { shape: [2, 3, 3] });
  await checkOp('slice(0, -2, -1)', (x) => x.slice(0, -2, -1), [[4, 5]], { shape: [1, 5] });
  await checkOp('slice of a transposed view', (x) => E.slice(x, 1, 2, 4), [[3, 6]], { transposed: true, shape: [3, 2] });
  await checkOp('slice of a slice', (x) => E.slice(E.slice(x, 0, 1), 1, 1, 3), [[4, 5]], { shape: [3, 2] });
  await checkOp('empty slice', (x) => E.slice(x, 0, 2, 2), [[4, 5]], { shape: [0, 5], grad: false });
});
views('concat along each dim, of views, with gradients split back', async () => {
  await checkOp('concat dim 0', (a, b) => E.concat([a, b], 0), [[2, 3], [4, 3]], { shape: [6, 3] });
  await checkOp('concat dim 1', (a, b, c) => E.concat([a, b, c], 1), [[2, 1], [2, 3], [2, 2]], { shape: [2, 6] });
  await checkOp('concat dim -1 of strided views', (a, b) => E.concat([a, b], -1), [[3, 2], [3, 4]], { transposed: true, shape: [3, 6] });
  await checkOp('concat of a tensor with itself', (a) => E.concat([a, a], 0), [[2, 3]], { shape: [4, 3] });
});
views('stack along a new first, middle and last dim', async () => {
  await checkOp('stack dim 0', (a, b) => E.stack([a, b], 0), [[2, 3], [2, 3]], { shape: [2, 2, 3] });
  await checkOp('stack dim 1', (a, b, c) => E.stack([a, b, c], 1), [[2, 3], [2, 3], [2, 3]], { shape: [2, 3, 3] });
  await checkOp('stack dim -1', (a, b) => E.stack([a, b], -1), [[2, 3], [2, 3]], { shape: [2, 3, 2] });
});
views('unsqueeze, squeeze and flatten', async () => {
  await checkOp('unsqueeze(0)', (x) => E.unsqueeze(x, 0), [[2, 3]], { shape: [1, 2, 3] });
  await checkOp('unsqueeze(-1)', (x) => x.unsqueeze(-1), [[2, 3]], { shape: [2, 3, 1] });
  await checkOp('squeeze(1)', (x) => E.squeeze(x, 1), [[2, 1, 3]], { shape: [2, 3] });
  await checkOp('squeeze(-1)', (x) => x.squeeze(-1), [[2, 3, 1]], { shape: [2, 3] });
  await checkOp('flatten()', (x) => E.flatten(x), [[2, 3, 4]], { shape: [24] });
  await checkOp('flatten(1)', (x) => E.flatten(x, 1), [[2, 3, 4]], { shape: [2, 12] });
  await checkOp('flatten(0, 1) of a transposed view', (x) => E.flatten(x, 0, 1), [[2, 3, 4]], { transposed: true, shape: [6, 4] });
});
views('copy, clone and contiguous give independent contiguous tensors', async () => {
  await checkOp('copy', (x) => E.copy(x), [[3, 4]]);
  await checkOp('clone of a transposed view', (x) => x.clone(), [[3, 4]], { transposed: true });
  for (const backend of [cpu, gpu()]) {
    const [c, same] = E.tidy(() => {
      const x = E.fromArray([1, 2, 3, 4], [2, 2], { backend });
      const t = x.transpose();
      return [E.contiguous(t), E.contiguous(x) === x];
    });
    const isContiguous = c.isContiguous, v = await take(c);
    assert.ok(same, 'contiguous of a contiguous tensor is the tensor itself');
    assert.ok(isContiguous);
    assert.equal(Array.from(v), [1, 3, 2, 4]);
  }
});
views('i32 tensors copy bit-exactly through views on the GPU', async () => {
  const big = [2 ** 31 - 1, -(2 ** 31), 16777217, -1, 0, 7];
  const y = E.tidy(() => E.fromArray(new Int32Array(big), [2, 3], { backend: gpu() }).transpose().contiguous());
  assert.is(y.dtype, 'i32');
  assert.equal(Array.from(await take(y)), [big[0], big[3], big[1], big[4], big[2], big[5]]);
});

views.run();

// ---------------------------------------------------------------------------------------------

const index = suite('ops: gather and scatterAdd');
checkLeaks(index);

/** An i32 index tensor on `backend` with values drawn in [0, hi). */
function indexOf(backend: E.Backend, shape: number[], hi: number, seed: number): E.Tensor {
  const g = new E.Generator(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return E.fromArray(Int32Array.from({ length: n }, () => Math.floor(g.uniform() * hi)), shape, { backend });
}

index('gather along dims 0, 1 and 2 with i32 indices matches f64 and finite differences', async () => {
  await checkOp('gather dim 0', (x) => E.gather(x, 0, indexOf(x.backend, [5, 3, 4], 2, 1)), [[2, 3, 4]], { shape: [5, 3, 4] });
  await checkOp('gather dim 1', (x) => E.gather(x, 1, indexOf(x.backend, [2, 7, 4], 3, 2)), [[2, 3, 4]], { shape: [2, 7, 4] });
  await checkOp('gather dim 2', (x) => E.gather(x, 2, indexOf(x.backend, [2, 3, 2], 4, 3)), [[2, 3, 4]], { shape: [2, 3, 2] });
  await checkOp('gather dim -1', (x) => x.gather(-1, indexOf(x.backend, [2, 3, 6], 4, 4)), [[2, 3, 4]], { shape: [2, 3, 6] });
});
index('gather with an index smaller than x along the other dims (torch semantics)', async () => {
  await checkOp('gather small index', (x) => E.gather(x, 1, indexOf(x.backend, [1, 2, 3], 5, 5)), [[2, 5, 4]], { shape: [1, 2, 3] });
});
index('gather reads strided and offset views of x and of the index', async () => {
  await checkOp('gather from a transposed x', (x) => E.gather(x, 0, indexOf(x.backend, [4, 3], 5, 6)), [[5, 3]], { transposed: true });
  await checkOp('gather from a row slice of x (offset view)', (x) => E.gather(E.slice(x, 0, 1, 3), 1, indexOf(x.backend, [2, 4], 5, 7)), [[4, 5]]);
  await checkOp('gather with a transposed index', (x) => E.gather(x, 1, indexOf(x.backend, [4, 2], 5, 8).transpose()), [[2, 5]]);
  await checkOp('gather with a sliced (offset) index', (x) => E.gather(x, 1, E.slice(indexOf(x.backend, [4, 3], 5, 9), 0, 2)), [[2, 5]]);
});
index('gather gives the torch.gather values', async () => {
  for (const backend of [cpu, gpu()]) {
    const y = E.tidy(() => {
      const x = E.fromArray([10, 11, 12, 20, 21, 22], [2, 3], { backend });
      return E.gather(x, 1, E.fromArray(new Int32Array([2, 0, 1, 1]), [2, 2], { backend }));
    });
    assert.equal(Array.from(await take(y)), [12, 10, 21, 21]);
  }
});
index('scatterAdd accumulates repeated indices and its gradient is a gather', async () => {
  const rep = (b: E.Backend) => E.fromArray(new Int32Array([0, 2, 0, 0, 1, 1, 2, 2, 2, 0, 0, 0]), [4, 3], { backend: b });
  await checkOp('scatterAdd dim 0 repeated', (src) => E.scatterAdd([3, 3], 0, rep(src.backend), src), [[4, 3]], { shape: [3, 3] });
  await checkOp('scatterAdd dim 1', (src) => E.scatterAdd([2, 6, 3], 1, indexOf(src.backend, [2, 9, 3], 6, 10), src), [[2, 9, 3]], {
    shape: [2, 6, 3],
  });
  await checkOp('scatterAdd dim 2', (src) => E.scatterAdd([2, 3, 4], 2, indexOf(src.backend, [2, 3, 5], 4, 11), src), [[2, 3, 5]]);
  await checkOp('scatterAdd of a strided src', (src) => E.scatterAdd([2, 3], 1, indexOf(src.backend, [2, 5], 3, 12), src), [[2, 5]], {
    transposed: true,
  });
  await checkOp('scatterAdd of an offset src', (src) => E.scatterAdd([2, 3], 1, indexOf(src.backend, [2, 5], 3, 13), E.slice(src, 0, 1, 3)), [[4,
    5]]);
  await checkOp('scatterAdd with an offset index', (src) => E.scatterAdd([2, 3], 1, E.slice(indexOf(src.backend, [4, 5], 3, 14), 0, 2), src), [[2,
    5]]);
  for (const backend of [cpu, gpu()]) {
    const y = E.tidy(() =>
      E.scatterAdd([3], 0, E.fromArray(new Int32Array([1, 1, 0, 1]), [4], { backend }), E.fromArray([1, 2, 3, 4], [4], { backend }))
    );
    assert.equal(Array.from(await take(y)), [3, 7, 0]);
  }
});
index('gather and scatterAdd are adjoint: <gather(x), s> = <x, scatterAdd(s)>', async () => {
  for (const backend of [cpu, gpu()]) {
    const [l, r] = E.tidy(() => {
      const g = new E.Generator(20);
      const x = E.randn([3, 4, 5], g, { backend });
      const s = E.randn([3, 6, 5], g, { backend });
      const idx = indexOf(backend, [3, 6, 5], 4, 21);
      return [E.gather(x, 1, idx).mul(s).sum(), x.mul(E.scatterAdd([3, 4, 5], 1, idx, s)).sum()];
    });
    const lv = (await take(l))[0]!, rv = (await take(r))[0]!;
    assert.ok(Math.abs(lv - rv) <= 1e-5 * Math.max(1, Math.abs(lv)), `${backend.name}: ${lv} vs ${rv}`);
  }
});
index('gather of an index computed on the device (no host copy) writes NaN when out of range', async () => {
  const y = E.tidy(() => {
    const x = E.fromArray([1, 2, 3], [3], { backend: gpu() });
    return E.gather(x, 0, E.arange(1, 5, 1, { backend: gpu(), dtype: 'i32' }));
  });
  const v = await take(y);
  assert.equal(Array.from(v.slice(0, 2)), [2, 3]);
  assert.ok(Number.isNaN(v[2]!) && Number.isNaN(v[3]!), `got ${Array.from(v)}`);
});

index.run();
