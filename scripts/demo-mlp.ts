// demo-mlp: the engine end to end in 40 lines. A 2-64-64-1 GELU MLP learns
// f(x, y) = sin(3x)·cos(2y) on the WebGPU device with AdamW; the loss is read back without
// stalling the next step (the read of step t resolves while step t+1 is recorded).
import { initWebGPU } from '../engine/device/node.ts';
import { AdamW, fromArray, Generator, Linear, memory, Module, tidy, type Tensor } from '../engine/index.ts';

class Mlp extends Module {
  fc1: Linear;
  fc2: Linear;
  fc3: Linear;
  constructor(g: Generator) {
    super();
    this.fc1 = new Linear(2, 64, { generator: g, std: 0.5 });
    this.fc2 = new Linear(64, 64, { generator: g, std: 0.15 });
    this.fc3 = new Linear(64, 1, { generator: g, std: 0.15 });
  }
  forward(x: Tensor): Tensor {
    return this.fc3.forward(this.fc2.forward(this.fc1.forward(x).gelu()).gelu());
  }
}

await initWebGPU();
const g = new Generator(0);
const model = new Mlp(g);
const opt = new AdamW([{ params: model.parameters(), weightDecay: 0 }]);
const steps = Number(process.argv[2] ?? 300), batch = 256;
let pending: Promise<number> | null = null;
for (let step = 1; step <= steps; step++) {
  const xs = new Float32Array(batch * 2), ys = new Float32Array(batch);
  for (let i = 0; i < batch; i++) {
    const x = 2 * g.uniform() - 1, y = 2 * g.uniform() - 1;
    xs[2 * i] = x;
    xs[2 * i + 1] = y;
    ys[i] = Math.sin(3 * x) * Math.cos(2 * y);
  }
  const loss = tidy(() => {
    const err = model.forward(fromArray(xs, [batch, 2])).sub(fromArray(ys, [batch, 1]));
    const l = err.square().mean();
    l.backward();
    opt.step({ lr: 1e-2 });
    opt.zeroGrad();
    return l;
  });
  const read = loss.item();
  loss.dispose();
  if (pending && (step === 2 || (step - 1) % 50 === 0)) console.log(`step ${String(step - 1).padStart(4)}  loss ${(await pending).toFixed(5)}`);
  pending = read;
}
console.log(`step ${String(steps).padStart(4)}  loss ${(await pending!).toFixed(5)}   (live tensors: ${memory().liveTensors})`);
