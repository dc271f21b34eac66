// Bad input: every documented error fires before anything is dispatched or allocated, is a
// ShapeError (op, arg, shapes fields) where it is about shapes, and its message names the op and
// the shapes or values involved.
import * as assert from 'uvu/assert';
import * as E from '../engine/internal.ts';
import { checkLeaks, cpu, gpu, suite, throwsWith } from './helpers.ts';

const t = suite('ops: errors');
checkLeaks(t);

/**
 * Run `fn` on fresh tensors of `shapes` on both backends, in a scope (views made on the way to
 * an error are freed with it), and check that no failing op dispatched any work.
 */
function onBoth(shapes: number[][], fn: (...xs: E.Tensor[]) => void): void {
  for (const backend of [cpu, gpu()]) {
    E.tidy(() => {
      const xs = shapes.map((s) => E.zeros(s, { backend }));
      const before = backend.memory().dispatches;
      fn(...xs);
      assert.is(backend.memory().dispatches, before, `${backend.name}: a failing op dispatched work`);
    });
  }
}

/** Like throwsWith, and checks the ShapeError fields. */
function shapeError(fn: () => unknown, re: RegExp, op: string, arg?: string): E.ShapeError {
  const e = throwsWith(fn, re, E.ShapeError) as E.ShapeError;
  assert.is(e.op, op);
  if (arg !== undefined) assert.is(e.arg, arg);
  assert.ok(Array.isArray(e.shapes));
  return e;
}

t('binary ops name the op and both shapes when they cannot broadcast', () =>
  onBoth([[2, 3], [4], [4, 1, 3], [5, 2]], (a, b, c, d) => {
    const e = shapeError(() => E.add(a, b), /^add: cannot broadcast \[2, 3\] and \[4\]: dim 1 is 3 vs 4$/, 'add', 'shapes');
    assert.equal(e.shapes, [[2, 3], [4]]);
    shapeError(() => E.mul(c, d), /^mul: cannot broadcast \[4, 1, 3\] and \[5, 2\]/, 'mul');
    shapeError(() => E.where(a, a, b), /^where: cannot broadcast \[2, 3\] and \[2, 3\] and \[4\]/, 'where');
  }));
t('matmul names both shapes on an inner-dim mismatch, and suggests transB when it fits',
  () =>
    onBoth([[2, 3], [4, 5], [5, 3], [2, 4, 5], [3, 5, 6], [3]], (a, b, c, d, e, v) => {
      shapeError(() => E.matmul(a, b), /^matmul: a \[2, 3\] and b \[4, 5\] disagree on the inner dim \(3 vs 4\)$/, 'matmul');
      shapeError(() => E.matmul(a, c), /^matmul: a \[2, 3\] and b \[5, 3\] disagree on the inner dim \(3 vs 5\); did you mean transB\?$/, 'matmul');
      shapeError(() => E.matmul(a, b, { transA: true }), /^matmul: a \[2, 3\]ᵀ and b \[4, 5\] disagree on the inner dim \(2 vs 4\)/, 'matmul');
      shapeError(() => E.matmul(d, e), /^matmul: .*\[2\].*\[3\]/, 'matmul');
      shapeError(() => E.matmul(v, b), /^matmul: a \[3\] and b \[4, 5\] must both have at least 2 dims$/, 'matmul');
    }));
t('matmul names the full operand shapes when batch dims do not broadcast', () =>
  onBoth([[2, 4, 5], [3, 5, 6]], (a, b) => {
    shapeError(() => E.matmul(a, b), /^matmul: batch dims of a \[2, 4, 5\] and b \[3, 5, 6\] do not broadcast \(\[2\] vs \[3\]\)$/, 'matmul');
  }));
t('reshape names the input shape, its size and the requested shape', () =>
  onBoth([[2, 3]], (x) => {
    shapeError(() => E.reshape(x, [4, 2]), /^reshape: cannot view x \[2, 3\] \(6 elements\) as \[4, 2\]$/, 'reshape', 'shape');
    shapeError(() => x.reshape([4, -1]), /^reshape: cannot view x \[2, 3\] \(6 elements\) as \[4, -1\]$/, 'reshape', 'shape');
    shapeError(() => x.reshape([-1, -1]), /^reshape: .*\[-1, -1\].*only one -1/, 'reshape', 'shape');
    shapeError(() => x.reshape([2, -3]), /^reshape: invalid shape \[2, -3\]/, 'reshape', 'shape');
  }));
t('permute rejects a non-permutation and out-of-range dims, naming dims and shape', () =>
  onBoth([[2, 3, 4]], (x) => {
    shapeError(() => E.permute(x, [0, 0, 1]), /^permute: dims \[0, 0, 1\] are not a permutation of the 3 dims of x \[2, 3, 4\]$/, 'permute', 'dims');
    shapeError(() => E.permute(x, [0, 1]), /^permute: dims \[0, 1\] are not a permutation of the 3 dims of x \[2, 3, 4\]$/, 'permute', 'dims');
    shapeError(() => E.permute(x, [0, 1, 3]), /^permute: dim 3 out of range for x \[2, 3, 4\]$/, 'permute', 'dim');
    shapeError(() => E.transpose(x, 0, -4), /^transpose: dim -4 out of range for x \[2, 3, 4\]$/, 'transpose');
  }));
t('softmax and reductions name a dim out of range and the shape', () =>
  onBoth([[2, 3, 17]], (x) => {
    shapeError(() => E.softmax(x, 3), /^softmax: dim 3 out of range for x \[2, 3, 17\]$/, 'softmax', 'dim');
    shapeError(() => E.softmax(x, -4), /^softmax: dim -4 out of range for x \[2, 3, 17\]$/, 'softmax', 'dim');
    shapeError(() => E.sum(x, 3), /^sum: dim 3 out of range for x \[2, 3, 17\]$/, 'sum', 'dim');
    shapeError(() => E.max(x, [0, -3]), /^max: axes \[0, -3\] repeat a dim of x \[2, 3, 17\]$/, 'max', 'axes');
    shapeError(() => E.mean(x, 5), /^mean: dim 5 out of range for x \[2, 3, 17\]$/, 'mean', 'dim');
  }));
t('gather names the bad index value, its coordinates and the size along dim', () =>
  onBoth([[2, 3]], (x) => {
    const b = x.backend;
    const idx = E.fromArray(new Int32Array([0, 1, 5, 2]), [2, 2], { backend: b });
    const neg = E.fromArray(new Int32Array([0, -1]), [1, 2], { backend: b });
    const f = E.fromArray([0, 1], [1, 2], { backend: b });
    const rank = E.fromArray(new Int32Array([0, 1]), [2], { backend: b });
    const wide = E.fromArray(new Int32Array([0, 0, 0, 0, 0, 0]), [3, 2], { backend: b });
    try {
      shapeError(() => E.gather(x, 1, idx), /^gather: index \[2, 2\] holds 5 at \(1, 0\), but x \[2, 3\] has 3 entries along dim 1$/, 'gather',
        'index');
      shapeError(() => E.gather(x, 0, idx), /^gather: index \[2, 2\] holds 5 at \(1, 0\), but x \[2, 3\] has 2 entries along dim 0$/, 'gather',
        'index');
      shapeError(() => E.gather(x, 1, neg), /^gather: index \[1, 2\] holds -1 at \(0, 1\)/, 'gather', 'index');
      shapeError(() => E.gather(x, 1, idx.transpose()), /^gather: index \[2, 2\] holds 5 at \(0, 1\)/, 'gather', 'index');
      shapeError(() => E.gather(x, 1, f), /^gather: index must be i32, got f32$/, 'gather', 'index');
      shapeError(() => E.gather(x, 1, rank), /^gather: index \[2\] must have the rank of x \[2, 3\]$/, 'gather', 'index');
      shapeError(() => E.gather(x, 1, wide), /^gather: index \[3, 2\] is larger than x \[2, 3\] along dim 0$/, 'gather', 'index');
      shapeError(() => E.gather(x, 2, idx), /^gather: dim 2 out of range for x \[2, 3\]$/, 'gather', 'dim');
      shapeError(() => E.scatterAdd([2, 3], 1, idx, x), /^scatterAdd: src \[2, 3\] must have index's shape \[2, 2\]$/, 'scatterAdd', 'src');
      shapeError(() => E.scatterAdd([2, 4], 1, idx, E.slice(x, 1, 0, 2)),
        /^scatterAdd: index \[2, 2\] holds 5 at \(1, 0\), but out \[2, 4\] has 4 entries along dim 1$/, 'scatterAdd', 'index');
    } finally {
      [idx, neg, f, rank, wide].forEach((i) => i.dispose());
    }
  }));
t('slice, expand, concat, stack and squeeze name their arguments and shapes', () =>
  onBoth([[4, 5], [4, 6], [3, 1]], (a, b, c) => {
    shapeError(() => E.slice(a, 1, 2, 7), /^slice: range 2:7 is outside dim 1 of x \[4, 5\] \(size 5\)$/, 'slice', 'range');
    shapeError(() => E.slice(a, 0, 3, 1), /^slice: range 3:1 is outside dim 0 of x \[4, 5\]/, 'slice', 'range');
    shapeError(() => E.slice(a, 2, 0), /^slice: dim 2 out of range for x \[4, 5\]$/, 'slice', 'dim');
    shapeError(() => E.expand(c, [3, 4, 2]), /^expand: cannot expand x \[3, 1\] to \[3, 4, 2\]: sizes must match or be 1$/, 'expand', 'shape');
    shapeError(() => E.expand(a, [5]), /^expand: cannot expand x \[4, 5\] to \[5\]/, 'expand', 'shape');
    shapeError(() => E.concat([a, b], 0), /^concat: tensors\[1\] \[4, 6\] f32 does not match tensors\[0\] \[4, 5\] f32 outside dim 0$/, 'concat',
      'tensors[1]');
    shapeError(() => E.concat([], 0), /^concat: needs at least one tensor$/, 'concat');
    shapeError(() => E.stack([a, b], 0), /^concat: tensors\[1\] \[1, 4, 6\]/, 'concat');
    shapeError(() => E.squeeze(a, 1), /^squeeze: dim 1 of x \[4, 5\] has size 5, not 1$/, 'squeeze', 'dim');
  }));
t('the composites name their arguments and shapes',
  () =>
    onBoth([[2, 3, 8], [7], [4, 5], [2, 3, 5], [2, 4, 8], [2, 4, 6], [3, 3]], (x, w, lw, q, k, v, y) => {
      shapeError(() => E.layerNorm(x, w, null), /^layerNorm: weight \[7\] must be \[8\] for x \[2, 3, 8\]$/, 'layerNorm', 'weight');
      shapeError(() => E.layerNorm(x, null, w), /^layerNorm: bias \[7\] must be \[8\] for x \[2, 3, 8\]$/, 'layerNorm', 'bias');
      shapeError(() => E.linear(x, lw, null), /^linear: weight \[4, 5\] must be \[out, 8\] for x \[2, 3, 8\]$/, 'linear', 'weight');
      shapeError(() => E.scaledDotProductAttention(q, k, v), /^scaledDotProductAttention: q \[2, 3, 5\], k \[2, 4, 8\], v \[2, 4, 6\] disagree/,
        'scaledDotProductAttention');
      shapeError(() => E.smoothL1(x, y), /^smoothL1: input \[2, 3, 8\] and target \[3, 3\] must have the same shape$/, 'smoothL1', 'target');
    }));
t('float ops reject i32 inputs, naming the op, and allocate nothing (no scope needed)', () => {
  for (const backend of [cpu, gpu()]) {
    const i = E.fromArray(new Int32Array([1, 2, 3]), [3], { backend });
    const before = backend.memory();
    try {
      shapeError(() => E.exp(i), /^exp: needs f32, got i32 \[3\]$/, 'exp', 'input 0');
      shapeError(() => E.sum(i), /^sum: needs f32, got i32 \[3\]$/, 'sum');
      shapeError(() => E.sub(2, i), /^sub: needs f32, got i32 \[3\]$/, 'sub');
      shapeError(() => E.pow(2, i), /^pow: needs f32, got i32 \[3\]$/, 'pow');
      const after = backend.memory();
      assert.is(after.dispatches, before.dispatches);
      assert.is(after.liveStorages, before.liveStorages);
    } finally {
      i.dispose();
    }
  }
});
t('fromArray names a value count that does not fill the shape', () => {
  shapeError(() => E.fromArray([1, 2, 3], [2, 2], { backend: cpu }), /^fromArray: 3 values do not fill shape \[2, 2\] \(4 elements\)$/, 'fromArray',
    'shape');
});
t('ops refuse inputs from different backends, naming both', () =>
  onBoth([[2]], (x) => {
    const other = E.zeros([2], { backend: x.backend === cpu ? gpu() : cpu });
    try {
      throwsWith(() => E.add(x, other), new RegExp(`^add: input 1 lives on ${other.backend.name}, input 0 on ${x.backend.name}$`));
    } finally {
      other.dispose();
    }
  }));
t('a disposed tensor throws on use, naming the op or the tensor', async () => {
  for (const backend of [cpu, gpu()]) {
    const x = E.zeros([2, 3], { backend });
    x.dispose();
    assert.ok(x.disposed);
    throwsWith(() => E.exp(x), /^exp: input 0 \[2, 3\] was disposed$/);
    throwsWith(() => x.add(1), /^add: input 0 \[2, 3\] was disposed$/);
    throwsWith(() => x.storage, /used after dispose\(\)/);
    let threw = false;
    try {
      await x.data();
    } catch (e) {
      threw = /used after dispose\(\)/.test((e as Error).message);
    }
    assert.ok(threw, 'data() of a disposed tensor rejects');
    x.dispose(); // a second dispose is a no-op
  }
});
t('binary ops need at least one tensor operand', () => {
  throwsWith(() => E.add(1, 2), /^add: at least one operand must be a Tensor$/, TypeError);
});

t.run();
