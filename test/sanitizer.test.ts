// sanitizer: the WebGPU backend's bounds sanitizer (on in tests, see test/run.ts) catches a kernel
// writing past its output's end, which lavapipe would otherwise drop without a trace.
import * as assert from 'uvu/assert';
import * as E from '../engine/internal.ts';
import type { Kernel } from '../kernels/index.ts';
import { checkLeaks, gpu, suite } from './helpers.ts';

const t = suite('sanitizer');
checkLeaks(t);

const overrun = (n: number): Kernel => ({
  name: 'overrunByOne',
  // one invocation too many: the last writes out[n], one element past the end
  launches: () => [{
    source: {
      name: 'overrunByOne',
      overrides: {},
      wgsl: `struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x <= p.n) { out[id.x] = 1.0; }
}`,
    },
    uniforms: new Uint32Array([n, 0, 0, 0]).buffer,
    workgroups: [1, 1, 1],
    bindings: [0],
  }],
  reference: () => {},
});

t('a kernel writing one element past its output throws at the next sync, naming the kernel and the size', async () => {
  const b = gpu();
  if (!b.sanitize) return; // IJEPA_SANITIZE=0
  const out = E.zeros([5], { backend: b });
  try {
    b.run(overrun(5), [out.storage]);
    let err: unknown = null;
    try {
      await b.sync();
    } catch (e) {
      err = e;
    }
    assert.instance(err, E.DeviceError);
    assert.match((err as Error).message, /overrunByOne/);
    assert.match((err as Error).message, /f32 storage of 5 elements \(20 bytes\)/);
    assert.match((err as Error).message, /first at element 5/);
    // the tail was re-armed: a correct write to the same storage is not blamed
    await b.sync();
  } finally {
    out.dispose();
  }
  await b.sync();
});

t('multi-tensor AdamW with segment sizes off the workgroup size passes the sanitizer', async () => {
  const b = gpu();
  const sizes = [1, 63, 65, 130, 7, 257];
  const ts = sizes.map((n) => ({
    p: E.ones([n], { backend: b }),
    g: E.ones([n], { backend: b }),
    m: E.zeros([n], { backend: b }),
    v: E.zeros([n], { backend: b }),
  }));
  try {
    const o = { lr: 0.1, wd: 0.01, step: 1 };
    E.adamwUpdateMany(ts.map((x) => ({ ...x, o })), { b1: 0.9, b2: 0.999, eps: 1e-8 });
    await b.sync();
    for (const x of ts) {
      const p = await b.read(x.p.storage, 0, x.p.size);
      for (const v of p) assert.ok(Math.abs(v - (1 - 0.1 * 0.01 - 0.1)) < 1e-5, `p ${v}`);
    }
  } finally {
    for (const x of ts) {
      x.p.dispose();
      x.g.dispose();
      x.m.dispose();
      x.v.dispose();
    }
  }
});

t.run();
