// Autograd and memory scopes: accumulation over backward calls, noGrad, detach, fan-out,
// backward's argument checks, sumToShape; tidy with sync and async functions, nested scopes,
// returned tensors, keep, and exceptions. Runs on both backends where it matters.
import * as assert from 'uvu/assert';
import * as E from '../engine/internal.ts';
import { checkLeaks, cpu, gpu, owned, suite, take, throwsWith } from './helpers.ts';

const backends = () => [cpu, gpu()] as const;
const values = async (t: E.Tensor) => Array.from(await t.data());

const ag = suite('autograd');
checkLeaks(ag);

ag('gradients accumulate over two backward calls', async () => {
  for (const backend of backends()) {
    await owned(async (own) => {
      const x = own(E.fromArray([1, 2, 3], [3], { backend, requiresGrad: true }));
      E.tidy(() => x.mul(x).sum().backward()); // 2x
      E.tidy(() => x.mul(3).sum().backward()); // + 3
      assert.equal(await values(x.grad!), [5, 7, 9]);
    });
  }
});
ag('noGrad records no tape, for sync and async functions', async () => {
  for (const backend of backends()) {
    await owned(async (own) => {
      const x = own(E.fromArray([1, 2], [2], { backend, requiresGrad: true }));
      E.tidy(() => {
        const y = E.noGrad(() => x.mul(2).exp());
        assert.is(y.requiresGrad, false);
        assert.is(y.node, null);
        const z = x.mul(2);
        assert.ok(z.requiresGrad && z.node !== null, 'grad mode is back on after noGrad');
      });
      const w = own(await E.noGrad(async () => {
        await Promise.resolve();
        return x.add(1);
      }));
      assert.is(w.requiresGrad, false);
      assert.is(w.node, null);
      assert.ok(E.tidy(() => x.add(1).requiresGrad), 'grad mode is back on after an async noGrad');
      throwsWith(() =>
        E.noGrad(() => {
          throw new Error('boom');
        }), /boom/);
      assert.ok(E.tidy(() => x.add(1).requiresGrad), 'grad mode is back on after noGrad threw');
    });
  }
});
ag('detach shares storage but stops gradients', async () => {
  for (const backend of backends()) {
    await owned(async (own) => {
      const x = own(E.fromArray([1, 2, 3], [3], { backend, requiresGrad: true }));
      E.tidy(() => {
        const d = x.detach();
        assert.is(d.requiresGrad, false);
        assert.is(d.storage, x.storage);
        x.mul(d).sum().backward(); // d/dx (x · stop(x)) = stop(x)
      });
      assert.equal(await values(x.grad!), [1, 2, 3]);
    });
  }
});
ag('a tensor used twice (or more) gets the summed gradient', async () => {
  for (const backend of backends()) {
    await owned(async (own) => {
      const x = own(E.fromArray([1, -2, 3], [3], { backend, requiresGrad: true }));
      E.tidy(() => {
        const y = x.mul(x).add(x).add(x.exp().mul(0)); // x² + x (+ 0·eˣ: a third use)
        const z = E.concat([x, x], 0).sum(); // two more uses through one op
        y.sum().add(z).backward(); // 2x + 1 + 2
      });
      assert.equal(await values(x.grad!), [5, -1, 9]);
    });
  }
});
ag('gradients flow through views and broadcasts to leaves of the right shape', async () => {
  for (const backend of backends()) {
    await owned(async (own) => {
      const a = own(E.fromArray([1, 2, 3, 4, 5, 6], [2, 3], { backend, requiresGrad: true }));
      const b = own(E.fromArray([10, 20, 30], [3], { backend, requiresGrad: true }));
      E.tidy(() => a.transpose().reshape([6]).slice(0, 1, 4).sum().add(a.add(b).sum()).backward());
      // a.T flattened is [1, 4, 2, 5, 3, 6]; elements 1..3 are a[1,0], a[0,1], a[1,1]
      assert.equal(await values(a.grad!), [1, 2, 1, 2, 2, 1]);
      assert.equal(a.grad!.shape, [2, 3]);
      assert.equal(await values(b.grad!), [2, 2, 2]);
      assert.equal(b.grad!.shape, [3]);
    });
  }
});
ag('backward of a non-scalar needs its gradient; with one it works', async () => {
  for (const backend of backends()) {
    await owned(async (own) => {
      const x = own(E.fromArray([1, 2, 3, 4, 5, 6], [2, 3], { backend, requiresGrad: true }));
      E.tidy(() => {
        const y = x.mul(2);
        const e = throwsWith(() => y.backward(), /^backward: root \[2, 3\] is not a scalar; pass its gradient$/, E.ShapeError) as E.ShapeError;
        assert.is(e.op, 'backward');
        y.backward(E.fromArray([1, 0, 1, 0, 1, 0], [2, 3], { backend }));
      });
      assert.equal(await values(x.grad!), [2, 0, 2, 0, 2, 0]);
    });
  }
});
ag('backward of a tensor that does not require grad throws, naming it', () => {
  for (const backend of backends()) {
    E.tidy(() => {
      const x = E.fromArray([1, 2], [2], { backend });
      throwsWith(() => x.sum().backward(), /^backward: Tensor\(\[\], f32\) does not require grad/);
      const y = E.noGrad(() => E.fromArray([1], [1], { backend, requiresGrad: true }).mul(2).sum());
      throwsWith(() => y.backward(), /does not require grad/);
    });
  }
});
ag('a leaf gradient never aliases the gradient passed to backward', () =>
  owned(async (own) => {
    const x = own(E.fromArray([1, 2], [2], { backend: gpu(), requiresGrad: true }));
    const g = own(E.fromArray([3, 4], [2], { backend: gpu() }));
    x.backward(g);
    assert.is.not(x.grad, g);
    assert.is.not(x.grad!.storage, g.storage);
    g.dispose();
    assert.equal(await values(x.grad!), [3, 4]);
  }));
ag('only leaves that require grad get .grad; intermediates do not', () =>
  owned((own) => {
    const a = own(E.fromArray([1, 2], [2], { backend: cpu, requiresGrad: true }));
    const b = own(E.fromArray([3, 4], [2], { backend: cpu }));
    let mid: E.Tensor | null = null;
    E.tidy(() => {
      mid = a.mul(b);
      mid.sum().backward();
    });
    assert.is(b.grad, null);
    assert.is(mid!.grad, null);
    assert.ok(a.grad);
  }));
ag('sumToShape sums a broadcast gradient back to the input shape', async () => {
  for (const backend of backends()) {
    const s = E.tidy(() => E.sumToShape(E.arange(24, undefined, 1, { backend }).reshape([2, 3, 4]), [3, 1]));
    // Σ over dims 0 and 2 of arange(24) as [2, 3, 4]: Σ_i Σ_k (12i + 4j + k) = 60 + 32j
    assert.equal(s.shape, [3, 1]);
    assert.equal(Array.from(await take(s)), [60, 92, 124]);
  }
});

ag.run();

// ---------------------------------------------------------------------------------------------

const mem = suite('tidy and memory');
checkLeaks(mem);

const live = () => E.memory(cpu).liveTensors;

mem('tidy disposes intermediates and keeps what fn returns', async () => {
  for (const backend of backends()) {
    const start = live(), storages = backend.memory().liveStorages;
    const y = E.tidy(() => {
      const a = E.ones([4], { backend });
      const b = a.mul(2).add(1);
      return b.exp();
    });
    assert.is(live(), start + 1);
    assert.is(backend.memory().liveStorages, storages + 1);
    assert.ok(!y.disposed);
    assert.equal((await values(y)).map((v) => Math.round(v * 1e3) / 1e3), Array(4).fill(Math.round(Math.exp(3) * 1e3) / 1e3));
    y.dispose();
    assert.is(live(), start);
  }
});
mem('tidy keeps tensors returned inside arrays, plain objects and Maps', () => {
  const start = live();
  const r = E.tidy(() => {
    const a = E.ones([2], { backend: cpu });
    const tmp = a.add(1);
    return { list: [a.mul(2), tmp.mul(3)], named: { z: a.neg() }, map: new Map([['w', tmp.exp()]]) };
  });
  assert.is(live(), start + 4);
  for (const t of [...r.list, r.named.z, r.map.get('w')!]) {
    assert.ok(!t.disposed);
    t.dispose();
  }
  assert.is(live(), start);
});
mem('tidy with an async fn disposes after the promise settles', async () => {
  for (const backend of backends()) {
    const start = live();
    let inner: E.Tensor | null = null;
    const y = await E.tidy(async () => {
      inner = E.ones([3], { backend }).mul(2);
      const v = await inner.data(); // awaiting inside the scope
      assert.equal(Array.from(v), [2, 2, 2]);
      return inner.add(1);
    });
    assert.ok(inner!.disposed, 'intermediate disposed when the async scope ends');
    assert.ok(!y.disposed);
    assert.is(live(), start + 1);
    assert.equal(await values(y), [3, 3, 3]);
    y.dispose();
  }
});
mem('nested scopes: an inner result moves to the outer scope and dies with it', () => {
  const start = live();
  let fromInner: E.Tensor | null = null;
  const out = E.tidy(() => {
    fromInner = E.tidy(() => E.ones([2], { backend: cpu }).mul(3));
    assert.ok(!fromInner.disposed, 'inner result survives the inner scope');
    const kept = fromInner.add(1);
    return kept;
  });
  assert.ok(fromInner!.disposed, 'inner result disposed by the outer scope');
  assert.ok(!out.disposed);
  assert.is(live(), start + 1);
  out.dispose();
});
mem('tidy disposes everything when fn throws (sync and async)', async () => {
  const start = live();
  throwsWith(() =>
    E.tidy(() => {
      E.ones([2], { backend: cpu }).mul(2);
      throw new Error('sync boom');
    }), /sync boom/);
  assert.is(live(), start);
  let err: unknown = null;
  try {
    await E.tidy(async () => {
      E.ones([2], { backend: gpu() }).mul(2);
      await Promise.resolve();
      throw new Error('async boom');
    });
  } catch (e) {
    err = e;
  }
  assert.match((err as Error).message, /async boom/);
  assert.is(live(), start);
});
mem('keep takes a tensor out of every scope; leaf gradients are kept too', () => {
  const start = live();
  const x = E.fromArray([1, 2], [2], { backend: cpu, requiresGrad: true });
  let k: E.Tensor | null = null;
  E.tidy(() =>
    E.tidy(() => {
      k = E.keep(x.mul(2));
      x.mul(x).sum().backward();
    })
  );
  assert.ok(!k!.disposed);
  assert.ok(x.grad && !x.grad.disposed, 'leaf gradient survives the scopes of backward');
  assert.is(live(), start + 3);
  k!.dispose();
  x.grad.dispose();
  x.dispose();
  assert.is(live(), start);
});
mem('views keep their storage alive after the base tensor is disposed', async () => {
  for (const backend of backends()) {
    const storages = backend.memory().liveStorages;
    const base = E.fromArray([1, 2, 3, 4], [2, 2], { backend });
    const v = base.transpose();
    base.dispose();
    assert.is(backend.memory().liveStorages, storages + 1, 'the view holds the storage');
    assert.equal(await values(v), [1, 3, 2, 4]);
    v.dispose();
    assert.is(backend.memory().liveStorages, storages);
  }
});
mem('memory() reports live tensors, storages and bytes', () => {
  const m0 = E.memory(gpu());
  const x = E.zeros([1000], { backend: gpu() });
  const m1 = E.memory(gpu());
  assert.is(m1.liveTensors, m0.liveTensors + 1);
  assert.is(m1.liveStorages, m0.liveStorages + 1);
  assert.ok(m1.liveBytes >= m0.liveBytes + 4000);
  x.dispose();
  assert.is(E.memory(gpu()).liveBytes, m0.liveBytes);
});

mem.run();
