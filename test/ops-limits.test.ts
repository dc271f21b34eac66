// Device limits: launches over 65535 × 64 invocations need a 2-D dispatch grid and must compute
// every element (not leave silent zeros past the first grid row); a tensor over the device's
// largest storage binding must fail with a clear error before anything is allocated.
import * as assert from 'uvu/assert';
import * as E from '../engine/index.ts';
import { checkLeaks, gpu, suite, take, throwsWith } from './helpers.ts';

const t = suite('ops: device limits');
checkLeaks(t);

const N = 5_000_000; // > 65535 × 64 = 4 194 240 invocations: the launch needs a 2-D grid

/** Index of the first i where v[i] !== want(i), or -1. */
function firstMismatch(v: ArrayLike<number>, want: (i: number) => number): number {
  for (let i = 0; i < v.length; i++) if (v[i] !== want(i)) return i;
  return -1;
}

t('elementwise and fill over 5e6 elements write every element', async () => {
  const y = E.tidy(() => E.arange(N, undefined, 1, { backend: gpu() }).mul(2).add(1)); // exact in f32 below 2^24
  const v = await take(y);
  const bad = firstMismatch(v, (i) => 2 * i + 1);
  assert.is(bad, -1, `element ${bad} is ${v[bad]}, expected ${2 * bad + 1}`);
});
t('a strided (non-flat) copy and a row reduction over 4.5e6 rows are complete', async () => {
  const n = 4_500_000;
  const [c, r] = E.tidy(() => {
    const x = E.arange(n, undefined, 1, { backend: gpu() });
    // [2, n/2] read through its transpose: every output element takes the strided path
    const copy = x.reshape([2, n / 2]).transpose().contiguous();
    return [copy, x.reshape([n, 1]).sum(-1)]; // n rows of one column: n invocations
  });
  const cv = await take(c), rv = await take(r);
  const bad = firstMismatch(cv, (i) => (i % 2) * (n / 2) + Math.floor(i / 2));
  assert.is(bad, -1, `copy element ${bad} is ${cv[bad]}`);
  const badRow = firstMismatch(rv, (i) => i);
  assert.is(badRow, -1, `row ${badRow} sums to ${rv[badRow]}, expected ${badRow}`);
});
t('a full reduction and a column max over 5e6 elements are exact', async () => {
  const [s, m] = E.tidy(() => {
    const ones = E.ones([N], { backend: gpu() });
    const r = E.arange(N, undefined, 1, { backend: gpu() }).reshape([N / 2, 2]);
    return [ones.sum(), r.max(0)];
  });
  const sv = await take(s), mv = await take(m);
  assert.equal(Array.from(sv), [N]);
  assert.equal(Array.from(mv), [N - 2, N - 1]);
});
t('softmax over 4.5e6 rows covers every row', async () => {
  const rows = 4_500_000;
  const y = E.tidy(() => E.softmax(E.zeros([rows, 1], { backend: gpu() }), -1));
  const v = await take(y);
  const bad = firstMismatch(v, () => 1);
  assert.is(bad, -1, `row ${bad} is ${v[bad]}`);
});
t('gather and scatterAdd over 4.5e6 outputs cover every element', async () => {
  const n = 4_500_000;
  const [g, s] = E.tidy(() => {
    const x = E.arange(n, undefined, 1, { backend: gpu() }).reshape([n, 1]);
    const idx = E.zeros([n, 1], { backend: gpu(), dtype: 'i32' });
    return [E.gather(x, 1, idx), E.scatterAdd([n, 1], 1, idx, x)];
  });
  const gv = await take(g), sv = await take(s);
  assert.is(firstMismatch(gv, (i) => i), -1, 'gather');
  assert.is(firstMismatch(sv, (i) => i), -1, 'scatterAdd');
});
t('a tensor over the largest storage binding throws a clear error and allocates nothing', async () => {
  const b = gpu();
  const before = b.memory();
  const e = throwsWith(() => E.zeros([b.maxElements + 1], { backend: b }), new RegExp(
    `^fill\\(\\): a f32 tensor of ${
      b.maxElements + 1
    } elements \\([\\d.]+ MiB\\) exceeds this device's largest storage binding \\(${b.maxElements} f32 elements\\); split it$`,
  ), E.DeviceError);
  assert.is((e as E.DeviceError).op, 'fill()');
  // f16 elements are 2 bytes: the limit in elements doubles
  throwsWith(() => E.zeros([2 * b.maxElements + 1], { backend: b, dtype: 'f16' }),
    new RegExp(`^fill\\(\\): a f16 tensor of ${2 * b.maxElements + 1} elements .* \\(${2 * b.maxElements} f16 elements\\); split it$`),
    E.DeviceError);
  // an op whose output is too large names itself and its input shapes
  E.tidy(() => {
    const x = E.ones([1], { backend: b });
    throwsWith(() => E.expand(x, [b.maxElements + 1]).contiguous(),
      /^copy\(\[\d+\]\): a f32 tensor of \d+ elements .*exceeds this device's largest storage binding/, E.DeviceError);
  });
  assert.is(b.memory().liveStorages, before.liveStorages);
  // and the device still works afterwards
  const y = E.tidy(() => E.ones([3], { backend: b }).mul(2));
  assert.equal(Array.from(await take(y)), [2, 2, 2]);
});

const rec = suite('webgpu: deferred recording');
checkLeaks(rec);

rec('thousands of dispatches recorded before one readback all run, in order', async () => {
  // more than the backend's per-submit dispatch cap, and more uniforms than one arena chunk
  const y = E.tidy(() => {
    let x = E.zeros([5], { backend: gpu() });
    for (let i = 0; i < 2500; i++) x = x.add(1).mul(1);
    return x;
  });
  assert.equal(Array.from(await take(y)), [2500, 2500, 2500, 2500, 2500]);
});
rec('an upload into a reused buffer does not overtake work recorded before it', async () => {
  const y = E.tidy(() => {
    const x = E.fromArray([1, 2, 3, 4], [4], { backend: gpu() });
    const doubled = x.mul(2); // recorded, not yet submitted
    x.dispose(); // its buffer goes back to the pool...
    E.fromArray([100, 100, 100, 100], [4], { backend: gpu() }); // ...and is likely reused here
    return doubled;
  });
  assert.equal(Array.from(await take(y)), [2, 4, 6, 8]);
});
rec('reads of the same tensor and of views at offsets see the recorded values', async () => {
  const [a, b] = E.tidy(() => {
    const x = E.arange(10, undefined, 1, { backend: gpu() }).mul(3);
    return [x, E.slice(x, 0, 7)];
  });
  const [av, bv] = await Promise.all([take(a), take(b)]);
  assert.equal(Array.from(av), [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
  assert.equal(Array.from(bv), [21, 24, 27]);
});

t.run();
rec.run();
