// AdamW and EMA against a float64 host reference of PyTorch's formulas, on both backends,
// plus a small MLP that must learn (the loss has to fall by a wide margin).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { initWebGPU } from '../engine/device/node.ts';
import { AdamW, CpuBackend, emaUpdate, fromArray, Generator, Linear, memory, setBackend, tidy, type Backend, type Tensor } from '../engine/index.ts';

/** torch.optim.AdamW (single-tensor path), in float64. */
function adamwReference(p: number[], grads: number[][], lr: number, wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): number[] {
  const m = p.map(() => 0), v = p.map(() => 0);
  const x = [...p];
  grads.forEach((g, t0) => {
    const t = t0 + 1;
    for (let i = 0; i < x.length; i++) {
      x[i]! *= 1 - lr * wd;
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - b2 ** t) + eps;
      x[i]! -= (lr / (1 - b1 ** t)) * m[i]! / denom;
    }
  });
  return x;
}

function close(actual: ArrayLike<number>, expected: number[], tol: number, what: string): void {
  let worst = 0;
  expected.forEach((e, i) => {
    worst = Math.max(worst, Math.abs(actual[i]! - e));
  });
  assert.ok(worst <= tol, `${what}: max abs error ${worst.toExponential(2)} > ${tol}`);
}

const gpu = await initWebGPU();
const cpu = new CpuBackend();
const backends: [string, Backend, number][] = [['cpu f64', cpu, 1e-12], ['webgpu f32', gpu, 2e-6]];

const t = suite('optim');
let before = { tensors: 0, gpu: 0, cpu: 0 };
t.before.each(() => {
  before = { tensors: memory(gpu).liveTensors, gpu: memory(gpu).liveStorages, cpu: memory(cpu).liveStorages };
});
t.after.each(() => {
  setBackend(gpu);
  assert.is(memory(gpu).liveTensors, before.tensors, 'live tensors returned to their count');
  assert.is(memory(gpu).liveStorages, before.gpu, 'live GPU storages returned to their count');
  assert.is(memory(cpu).liveStorages, before.cpu, 'live CPU storages returned to their count');
});

for (const [name, backend, tol] of backends) {
  t(`AdamW matches PyTorch's update over 3 steps with decay and without (${name})`, async () => {
    const g = new Generator(3);
    const p0 = Array.from({ length: 7 }, () => g.normal());
    const q0 = Array.from({ length: 5 }, () => g.normal());
    const gp = [0, 1, 2].map(() => p0.map(() => g.normal() * 0.1));
    const gq = [0, 1, 2].map(() => q0.map((_, i) => (i === 0 ? 1e-9 : g.normal()))); // a near-zero gradient too
    const p = fromArray(p0, [7], { backend, requiresGrad: true });
    const q = fromArray(q0, [5], { backend, requiresGrad: true });
    const opt = new AdamW([{ params: [p] }, { params: [q], weightDecay: 0 }]);
    for (let s = 0; s < 3; s++) {
      p.grad = fromArray(gp[s]!, [7], { backend });
      q.grad = fromArray(gq[s]!, [5], { backend });
      opt.step({ lr: 1e-2, wd: 0.04 });
      opt.zeroGrad();
    }
    close(await p.data(), adamwReference(p0, gp, 1e-2, 0.04), tol, 'decayed group');
    close(await q.data(), adamwReference(q0, gq, 1e-2, 0), tol, 'no-decay group');
    assert.is(opt.stateFor(p)?.step, 3);
    opt.dispose();
    p.dispose();
    q.dispose();
  });

  t(`AdamW skips parameters without a gradient (${name})`, async () => {
    const p = fromArray([1, 2], [2], { backend, requiresGrad: true });
    const opt = new AdamW([{ params: [p], weightDecay: 0.5 }]);
    opt.step({ lr: 0.1 });
    assert.equal(Array.from(await p.data()), [1, 2]);
    assert.is(opt.stateFor(p), undefined);
    opt.dispose();
    p.dispose();
  });

  t(`EMA update is m·target + (1 − m)·source (${name})`, async () => {
    const a = fromArray([1, 2, 3], [3], { backend }), b = fromArray([3, 2, 1], [3], { backend });
    emaUpdate([a], [b], 0.996);
    close(await a.data(), [0.996 + 0.004 * 3, 2, 3 * 0.996 + 0.004], tol * 10, 'ema');
    a.dispose();
    b.dispose();
  });
}

t('emaUpdate names the tensor whose shapes disagree', () => {
  setBackend(cpu);
  const a = fromArray([1, 2], [2]), b = fromArray([1, 2, 3], [3]);
  try {
    assert.throws(() => emaUpdate([a], [b], 0.9), /emaUpdate: tensor 0 .*\[2\] in the target but \[3\] in the source/);
  } finally {
    a.dispose();
    b.dispose();
  }
});

t('a GELU MLP on the GPU learns a smooth function: loss falls at least 10x in 150 steps', async () => {
  setBackend(gpu);
  const g = new Generator(1);
  // fc2(gelu(fc1 x)): two layers are all AdamW needs to show it trains
  const fc1 = new Linear(2, 32, { generator: g, std: 0.5 }), fc2 = new Linear(32, 1, { generator: g, std: 0.2 });
  const forward = (x: Tensor) => fc2.forward(fc1.forward(x).gelu());
  const opt = new AdamW([{ params: [...fc1.parameters(), ...fc2.parameters()], weightDecay: 0 }]);
  const losses: number[] = [];
  for (let step = 0; step < 150; step++) {
    const xs = new Float32Array(128), ys = new Float32Array(64);
    for (let i = 0; i < 64; i++) {
      const x = 2 * g.uniform() - 1, y = 2 * g.uniform() - 1;
      xs[2 * i] = x;
      xs[2 * i + 1] = y;
      ys[i] = Math.sin(2 * x) * y;
    }
    const loss = tidy(() => {
      const l = forward(fromArray(xs, [64, 2])).sub(fromArray(ys, [64, 1])).square().mean();
      l.backward();
      opt.step({ lr: 1e-2 });
      opt.zeroGrad();
      return l;
    });
    if (step < 5 || step >= 145) losses.push(await loss.item());
    loss.dispose();
  }
  const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5, last = losses.slice(5).reduce((a, b) => a + b) / 5;
  assert.ok(last * 10 < first, `loss fell from ${first.toFixed(4)} to ${last.toFixed(4)}`);
  opt.dispose();
  fc1.dispose();
  fc2.dispose();
});

t.run();
