// api-surprises: what a PyTorch user tries first and expects to work (or to fail loudly):
// nested arrays in fromArray, nested arrays out of array(), an AdamW group without its own
// weight decay, a second backward through a freed graph, and layers and random draws without
// an explicit Generator (issue 14, item 16).
import * as assert from 'uvu/assert';
import { AdamW, defaultGenerator, fromArray, Generator, Linear, manualSeed, randn, tidy } from '../engine/index.ts';
import { checkLeaks, owned, suite } from './helpers.ts';

const t = suite('api-surprises');
checkLeaks(t);

t('fromArray infers the shape of nested arrays, like torch.tensor', async () => {
  await owned(async (own) => {
    const x = own(fromArray([[1, 2, 3], [4, 5, 6]]));
    assert.equal(x.shape, [2, 3]);
    assert.equal(Array.from(await x.data()), [1, 2, 3, 4, 5, 6]);
    const y = own(fromArray([[[1], [2]], [[3], [4]]]));
    assert.equal(y.shape, [2, 2, 1]);
    const s = own(fromArray(7));
    assert.equal(s.shape, []);
    assert.is(await s.item(), 7);
    const e = own(fromArray([[], []]));
    assert.equal(e.shape, [2, 0]);
    assert.equal(own(fromArray([[1, 2], [3, 4]], [2, 2])).shape, [2, 2], 'a matching shape is accepted');
  });
});

t('fromArray names the ragged dim and the entry of a ragged nested array', () => {
  assert.throws(() => fromArray([[1, 2, 3], [4, 5]]), /fromArray: ragged nested array: values\[1\] has 2 entries where values\[0\] has 3 \(dim 1/);
  assert.throws(() => fromArray([[[1, 2]], [[3, 4], [5, 6]]]), /values\[1\] has 2 entries where values\[0\] has 1 \(dim 1/);
  assert.throws(() => fromArray([[1, 2], 3]), /values\[1\] is the number 3 where values\[0\] is an array of 2 \(dim 1/);
  assert.throws(() => fromArray([[1, 2], [3, [4]]]), /values\[1\]\[1\] is an array where values\[0\]\[0\] is a number \(dim 2/);
  assert.throws(() => fromArray([1, 'a' as unknown as number]), /fromArray: values\[1\] is string, expected a number/);
  assert.throws(() => fromArray([[1, 2], [3, 4]], [4]), /fromArray: shape \[4\] disagrees with the nested values' shape \[2, 2\]/);
});

t("array() returns nested arrays of the tensor's shape (a number for 0-d); data() stays flat", async () => {
  await owned(async (own) => {
    const x = own(fromArray([1, 2, 3, 4, 5, 6], [2, 3, 1]));
    assert.equal(await x.array(), [[[1], [2], [3]], [[4], [5], [6]]]);
    assert.equal(Array.from(await x.data()), [1, 2, 3, 4, 5, 6]);
    const xt = own(tidy(() => x.reshape([2, 3]).transpose())); // a strided view
    assert.equal(await xt.array(), [[1, 4], [2, 5], [3, 6]]);
    assert.equal(await own(fromArray(2.5)).array(), 2.5);
    assert.equal(await own(fromArray([], [0, 3])).array(), []);
    assert.equal(await own(fromArray([[1, 2]])).array(), [[1, 2]], 'fromArray(x.array()) round-trips');
  });
});

t("an AdamW group without weightDecay takes the step's wd, by default 0.01 (torch's), and never turns weights to NaN", async () => {
  await owned(async (own) => {
    const p = own(fromArray([1, -2], [2], { requiresGrad: true }));
    const q = own(fromArray([1, -2], [2], { requiresGrad: true }));
    const opt = new AdamW([{ params: [p] }]);
    const explicit = new AdamW([{ params: [q], weightDecay: 0.01 }]);
    const r = own(fromArray([1], [1], { requiresGrad: true }));
    const s = own(fromArray([1], [1], { requiresGrad: true }));
    const two = new AdamW([{ params: [r] }, { params: [s], weightDecay: 0 }]);
    try {
      for (const [o, w] of [[opt, p], [explicit, q]] as const) {
        w.grad = fromArray([0.5, 0.5]);
        o.step({ lr: 0.1 });
        o.zeroGrad();
      }
      const got = Array.from(await p.data());
      assert.ok(got.every(Number.isFinite), `weights stay finite: ${got}`);
      assert.equal(got, Array.from(await q.data()), 'same update as an explicit weightDecay 0.01');
      // a zero gradient leaves only the decay: the step's wd reaches the group without its own
      r.grad = fromArray([0]);
      s.grad = fromArray([0]);
      two.step({ lr: 0.1, wd: 0.5 });
      assert.ok(Math.abs((await r.item()) - 0.95) < 1e-6, "decayed by the step's wd: 1 · (1 − 0.1 · 0.5)");
      assert.is(await s.item(), 1, "a group's own weightDecay 0 is kept");
    } finally {
      opt.dispose();
      explicit.dispose();
      two.dispose();
    }
  });
});

t('AdamW throws naming the group when a weight decay or lr is not a finite number', async () => {
  await owned(async (own) => {
    const p = own(fromArray([1, 2], [2], { requiresGrad: true }));
    const q = own(fromArray([3], [1], { requiresGrad: true }));
    assert.throws(() => new AdamW([{ params: [p], name: 'head', weightDecay: 'x' as unknown as number }]),
      /AdamW: group head has weightDecay x, expected a finite number/);
    const opt = new AdamW([{ params: [p], name: 'head' }, { params: [q], name: 'tail' }]);
    try {
      p.grad = fromArray([1, 1]);
      q.grad = fromArray([1]);
      assert.throws(() => opt.step({ lr: NaN }), /AdamW\.step: lr NaN must be a finite number/);
      assert.throws(() => opt.step({ lr: [0.1, NaN] }), /AdamW\.step: lr NaN \(group tail\) must be a finite number/);
      assert.throws(() => opt.step({ lr: [0.1] }), /AdamW\.step: 1 learning rates for 2 groups/);
      assert.throws(() => opt.step({ lr: 0.1, wd: Infinity }), /AdamW\.step: wd Infinity must be a finite number/);
      assert.equal(Array.from(await p.data()), [1, 2], 'nothing was updated');
      assert.equal(Array.from(await q.data()), [3], 'nothing was updated');
    } finally {
      opt.dispose();
    }
  });
});

t('a second backward through a freed graph throws, as PyTorch does without retain_graph', async () => {
  await owned(async (own) => {
    const w = own(fromArray([1, 2, 3], [3], { requiresGrad: true }));
    tidy(() => { // the forward's intermediates must live until backward: one scope for both
      const loss = w.mul(w).sum();
      loss.backward();
      assert.throws(() => loss.backward(), /backward: .* was already backpropagated through.*run the forward again/);
    });
    assert.equal(Array.from(await w.grad!.data()), [2, 4, 6], 'the refused backward accumulated nothing');
    tidy(() => { // a second loss through a freed intermediate is refused the same way
      const h = w.mul(2);
      h.sum().backward();
      assert.throws(() => h.mul(h).sum().backward(), /was already backpropagated through/);
    });
    tidy(() => w.mul(w).sum().backward()); // a fresh forward differentiates again
    assert.equal(Array.from(await w.grad!.data()), [2 + 2 + 2, 4 + 2 + 4, 6 + 2 + 6]);
  });
});

t('new Linear(3, 1) and randn(shape) draw from the default generator, which manualSeed restarts', async () => {
  await owned(async (own) => {
    manualSeed(5);
    const layer = new Linear(3, 1);
    const x = own(randn([2, 3]));
    try {
      assert.equal(layer.weight.shape, [1, 3]);
      assert.equal(x.shape, [2, 3]);
      assert.ok(defaultGenerator.counter > 0, 'the default generator advanced');
      const w1 = Array.from(await layer.weight.data()), x1 = Array.from(await x.data());
      manualSeed(5);
      const again = new Linear(3, 1), y = own(randn([2, 3]));
      const explicit = new Linear(3, 1, { generator: new Generator(5) });
      try {
        assert.equal(Array.from(await again.weight.data()), w1, 'manualSeed repeats the weights');
        assert.equal(Array.from(await y.data()), x1, 'and the draws after them');
        assert.equal(Array.from(await explicit.weight.data()), w1, 'the default generator is a Generator(seed)');
      } finally {
        again.dispose();
        explicit.dispose();
      }
      assert.throws(() => manualSeed(1.5), /manualSeed: seed must be an integer, got 1.5/);
    } finally {
      layer.dispose();
      manualSeed(0);
    }
  });
});

t.run();
