// mixed precision: I-JEPA steps on f16 copies of f32 master weights with dynamic loss scaling
// (model/ijepa.ts, engine/optim/grad-scaler.ts). Checked here: an f16 micro run follows the f32
// loss curve; an overflow (a loss scale far too large) skips the update, leaving every weight,
// moment and the target encoder bit for bit as they were, and halves the scale; the scale
// doubles after N clean steps; the device's non-finite count and AdamW's unscaling; the
// scaler's state through a checkpoint and --resume; and the errors (the sync step, a device
// without shader-f16, loss-scale options in f32). Adapters without shader-f16 skip the GPU f16
// tests, by that reason.
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../engine/internal.ts';
import { IJepa, type AsyncStepResult, type IJepaOptions } from '../model/ijepa.ts';
import { readCheckpointMeta } from '../model/checkpoint.ts';
import { MaskCollator } from '../model/masks.ts';
import { getPreset } from '../model/presets.ts';
import { checkLeaks, cpu, gpu, owned, throwsWith, suite } from './helpers.ts';
import { LACKS, skipUnless } from './skips.ts';

const t = suite('mixed precision');
checkLeaks(t);
const f16 = skipUnless(t, gpu().hasF16, LACKS.f16, 'mixed precision keeps f16 copies of the weights: f16 storage needs shader-f16');

const P = getPreset('micro');
const S = P.model.imgSize, B = P.optim.batch;
const imgs = (() => {
  const g = new E.Generator(5);
  return Float32Array.from({ length: B * 3 * S * S }, () => g.normal());
})();
const hyper = { lr: 1e-3, wd: 0.04, momentum: 0.996 };

async function run(opts: IJepaOptions, steps: number): Promise<AsyncStepResult[]> {
  const model = new IJepa(P.model, { seed: 1, ...opts });
  const collator = new MaskCollator({ inputSize: S, patchSize: P.model.patchSize, ...P.mask, seed: 3 });
  try {
    const out: AsyncStepResult[] = [];
    for (let s = 0; s < steps; s++) out.push(await model.stepAsync(imgs, collator.next(B), hyper));
    return out;
  } finally {
    model.dispose();
  }
}

// Measured on lavapipe over 8 steps: |f16 − f32| / f32 ≤ 8.5e-5 per step (f16 rounding of the
// activations and weight copies; f32 math and f32 updates). The tolerance is ~10× that.
const CURVE_RTOL = 1e-3;

f16('an f16 micro run follows the f32 loss curve, and the loss scale doubles after N clean steps', async () => {
  const a = await run({}, 4);
  const b = await run({ dtype: 'f16', lossScaleInterval: 2 }, 4);
  const rel = a.map((r, i) => Math.abs(r.loss - b[i]!.loss) / r.loss);
  assert.ok(rel.every((x) => x <= CURVE_RTOL), `relative loss differences ${rel.map((x) => x.toExponential(2))}`);
  // the f16 run really ran in f16: its rounding shows in the loss
  assert.ok(rel.some((x) => x > 1e-7), `f16 losses equal the f32 ones: ${b.map((r) => r.loss)}`);
  assert.ok(b.at(-1)!.loss < b[0]!.loss, 'the f16 loss falls');
  assert.equal(a.map((r) => [r.skipped, r.lossScale]), a.map(() => [false, null]));
  assert.equal(b.map((r) => r.skipped), [false, false, false, false]);
  assert.equal(b.map((r) => r.lossScale), [2 ** 16, 2 ** 16, 2 ** 17, 2 ** 17]);
  assert.equal(b.map((r) => r.scaleGrown), [false, true, false, true]);
});

f16('an overflowed f16 step skips the update (weights, moments, target encoder unchanged) and halves the scale', async () => {
  const model = new IJepa(P.model, { seed: 1, dtype: 'f16', lossScale: 2 ** 40 });
  try {
    const tensors = model.modules().flatMap(([net, m]) => m.namedTensors().map(([n, x]) => [`${net}.${n}`, x] as const));
    const before = await Promise.all(tensors.map(([, x]) => x.data()));
    const collator = new MaskCollator({ inputSize: S, patchSize: P.model.patchSize, ...P.mask, seed: 3 });
    const r = await model.stepAsync(imgs, collator.next(B), hyper);
    assert.equal([r.skipped, r.lossScale, r.scaleGrown], [true, 2 ** 40, false]);
    assert.ok(Number.isFinite(r.loss), 'the loss itself is finite: only the scaled gradients overflowed');
    assert.is(model.scaler!.scale, 2 ** 39);
    const after = await Promise.all(tensors.map(([, x]) => x.data()));
    tensors.forEach(([name], i) => assert.equal(Array.from(after[i]!), Array.from(before[i]!), name));
    for (const [name, p] of tensors) {
      assert.is(model.optimizer.stateFor(p), undefined, `${name}: AdamW state`);
      assert.is(p.grad, null, `${name}: gradient`);
    }
  } finally {
    model.dispose();
  }
});

t('the sync step refuses f16; f16 needs shader-f16; loss-scale options need f16', () => {
  if (gpu().hasF16) {
    const model = new IJepa(P.model, { dtype: 'f16' });
    try {
      throwsWith(() => model.step(imgs, new MaskCollator({ inputSize: S, patchSize: P.model.patchSize, ...P.mask }).next(B), hyper),
        /IJepa\.step: dtype 'f16' needs stepAsync/);
    } finally {
      model.dispose();
    }
  }
  const noF16 = Object.create(cpu, { hasF16: { value: false } }) as E.Backend;
  const prev = E.getBackend();
  E.setBackend(noF16);
  try {
    throwsWith(() => new IJepa(P.model, { dtype: 'f16' }),
      /IJepa: dtype 'f16' needs a device with the shader-f16 feature, which this cpu device lacks; use dtype 'f32'/);
  } finally {
    E.setBackend(prev);
  }
  throwsWith(() => new IJepa(P.model, { lossScale: 8 }), /lossScale and lossScaleInterval apply to dtype 'f16' only/);
});

t('nonFiniteCount counts NaN and ±Inf over many tensors (several launches), as the CPU reference', async () => {
  const sizes = [5, 300, 1, 257, 64, 9, 1000, 3, 17, 2]; // more tensors than one launch binds
  const bad = new Map<number, number[]>([[1, [0, 299]], [3, [256]], [6, [500, 501, 999]], [9, [1]]]);
  const values = sizes.map((n, k) => {
    const v = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3 + k * 1e-3);
    (bad.get(k) ?? []).forEach((i, j) => {
      v[i] = [NaN, Infinity, -Infinity][j % 3]!;
    });
    return v;
  });
  const want = [...bad.values()].reduce((s, l) => s + l.length, 0);
  for (const backend of [gpu(), cpu] as E.Backend[]) {
    await owned(async (own) => {
      const xs = values.map((v, k) => own(E.fromArray(v, [sizes[k]!], { backend })));
      const c = own(E.nonFiniteCount(xs));
      assert.is(c.dtype, 'i32');
      assert.is(await c.item(), want, backend.name);
      const clean = own(E.nonFiniteCount(xs.filter((_, k) => !bad.has(k))));
      assert.is(await clean.item(), 0, `${backend.name}: finite tensors`);
    });
  }
  if (gpu().hasF16) {
    await owned(async (own) => {
      const h = own(E.fromArray([1, 2], [2], { dtype: 'f16' }));
      throwsWith(() => E.nonFiniteCount([h]), /nonFiniteCount: .* is f16; the check reads f32 values/);
    });
  }
});

t('AdamW invScale: gradients ·8 with invScale 1/8 give the same update, bit for bit (fused and composed)', async () => {
  const g = new E.Generator(2);
  const p0 = Float32Array.from({ length: 37 }, () => g.normal());
  const g0 = Float32Array.from({ length: 37 }, () => 1e-3 * g.normal());
  const after = async (fused: boolean, factor: number) => {
    let out: number[] = [];
    await owned(async (own) => {
      const p = own(E.parameter(E.fromArray(p0, [37])));
      const opt = new E.AdamW([{ params: [p], weightDecay: 0.05 }], { fused });
      for (let s = 0; s < 2; s++) {
        p.grad = E.keep(E.fromArray(g0.map((x) => x * factor), [37]));
        opt.step({ lr: 0.01, invScale: 1 / factor });
        opt.zeroGrad();
      }
      out = Array.from(await p.data());
      opt.dispose();
    });
    return out;
  };
  for (const fused of [true, false]) assert.equal(await after(fused, 8), await after(fused, 1), fused ? 'fused' : 'composed');
  throwsWith(() => new E.AdamW([]).step({ lr: 0.1, invScale: 0 }), /AdamW\.step: invScale 0 must be a finite number > 0/);
});

t('GradScaler: halves and resets on overflow, doubles after growthInterval clean steps; state round-trips', () => {
  const s = new E.GradScaler({ initScale: 1024, growthInterval: 3 });
  const seen = [0, 0, 5, 0, 0, 0, 0].map((n) => {
    const r = s.update(n);
    return [r.skipped, r.grown, s.scale];
  });
  assert.equal(seen, [[false, false, 1024], [false, false, 1024], [true, false, 512], [false, false, 512], [false, false, 512], [false, true, 1024], [
    false,
    false,
    1024,
  ]]);
  const copy = new E.GradScaler({ growthInterval: 3 });
  copy.loadState(JSON.parse(JSON.stringify(s.state())) as E.GradScalerState);
  assert.equal(copy.state(), { scale: 1024, cleanSteps: 1 });
  assert.equal([copy.update(0).grown, copy.update(0).grown], [false, true], 'the restored count carries on');
  assert.is(new E.GradScaler().scale, 2 ** 16);
  throwsWith(() => new E.GradScaler({ initScale: -1 }), /GradScaler: initScale -1 must be a finite number > 0/);
  throwsWith(() => new E.GradScaler({ growthInterval: 0 }), /growthInterval 0 must be an integer ≥ 1/);
  throwsWith(() => copy.loadState({ scale: 8, cleanSteps: 3 }, 'ckpt.safetensors state.scaler'),
    /ckpt\.safetensors state\.scaler: cleanSteps 3 must be an integer in 0\.\.2/);
});

// ---- through the CLI ----------------------------------------------------------------------------

const BIN = join(import.meta.dirname, '..', 'bin', 'ijepa.mjs');
const cli = (args: string[]) =>
  spawnSync(process.execPath, [BIN, 'train', '--preset', 'micro', '--watch-every', '0', ...args], { encoding: 'utf8', timeout: 240_000 });
const log = (dir: string) =>
  readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | boolean>);
const tmp = mkdtempSync(join(tmpdir(), 'ijepa-f16-'));
t.after(() => rmSync(tmp, { recursive: true, force: true }));

f16('ijepa train --dtype f16 logs an overflowed step (loss_scale, skipped) and says so', () => {
  const out = join(tmp, 'overflow');
  const r = cli(['--dtype', 'f16', '--loss-scale', String(2 ** 40), '--steps', '1', '--out', out]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /step 1: f16 gradients overflowed at loss scale 1099511627776; update skipped, loss scale now 549755813888/);
  const [rec] = log(out);
  assert.equal([rec!.loss_scale, rec!.skipped, rec!.scale_grown], [2 ** 40, true, false]);
  // MFU beside img/s, and in the closing line with the peak it is a fraction of
  assert.match(r.stderr, /step 1\/1 .* img\/s MFU \d+\.\d%/);
  assert.match(r.stderr,
    /done: 1 steps in .* MFU \d+\.\d% of the \d+ GFLOP\/s FMA peak kernel; 1 f16 step\(s\) skipped on overflow, loss scale now 549755813888\)/);
});

f16('--resume restores the loss scaler from the checkpoint (scale and clean-step count)', async () => {
  const out = join(tmp, 'resume');
  assert.is(cli(['--dtype', 'f16', '--loss-scale-interval', '3', '--steps', '4', '--ckpt-every', '2', '--out', out]).status, 0);
  const full = readFileSync(join(out, 'log.jsonl'), 'utf8');
  const meta = await readCheckpointMeta(join(out, 'ckpt-0000002.safetensors'));
  assert.equal((meta.state as { scaler?: unknown; }).scaler, { scale: 2 ** 16, cleanSteps: 2 });
  // forget steps 3 and 4, then resume from the step-2 checkpoint: step 3 is the third clean one
  rmSync(join(out, 'ckpt-0000004.safetensors'));
  writeFileSync(join(out, 'log.jsonl'), full.split('\n').slice(0, 2).join('\n') + '\n');
  const r = cli(['--resume', '--out', out]);
  assert.is(r.status, 0, r.stderr);
  const scales = (l: Record<string, number | boolean>[]) => l.map((x) => [x.step, x.loss_scale, x.scale_grown]);
  assert.equal(scales(log(out)), [[1, 2 ** 16, false], [2, 2 ** 16, false], [3, 2 ** 16, true], [4, 2 ** 17, false]]);
  assert.equal(scales(log(out)), scales(full.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | boolean>)));
});

t('--loss-scale without --dtype f16 is a usage error', () => {
  const r = cli(['--loss-scale', '8', '--out', join(tmp, 'nope')]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--loss-scale applies to --dtype f16 only/);
});

t.run();
