// The memory guard (issue #14 item 11): a step's memory is estimated from the configuration,
// close to what a step really holds; a run estimated above --max-memory is refused at once,
// naming the estimate and the limit; and images are shrunk on decode, barely changing a view.
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { initWebGPU } from '../engine/device/node.ts';
import { memory, setBackend } from '../engine/index.ts';
import { IJepa, type TargetKind } from '../model/ijepa.ts';
import { MaskCollator } from '../model/masks.ts';
import { derivePreset, getPreset, type Preset } from '../model/presets.ts';
import { estimateStepMemory } from '../model/memory-estimate.ts';
import { decodeRgb, decodeShortSide } from '../model/data/image-folder.ts';
import { evalView } from '../model/eval/datasets.ts';
import { checkLeaks, gpu, suite } from './helpers.ts';

const backend = await initWebGPU();
const BIN = join(import.meta.dirname, '..', 'bin', 'ijepa.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'ijepa-memory-'));
const t = suite('memory estimate and guard');
checkLeaks(t);
// other files leave the CPU reference as the default backend at times; these measure the GPU
t.before(() => setBackend(gpu()));
t.after(() => rmSync(tmp, { recursive: true, force: true }));

const dispose = (model: IJepa) => {
  for (const [, m] of model.modules()) for (const [, x] of m.namedTensors()) x.dispose();
  model.optimizer.dispose();
};

for (const [name, over, target] of [
  ['micro', {}, 'features'],
  ['micro', {}, 'pixels'],
  ['tiny', {}, 'features'],
  ['vit-tiny-16', { imgSize: 64 }, 'features'],
] as [string, { imgSize?: number; }, TargetKind][]) {
  t(`counts the trainable parameters of ${name}${over.imgSize ? ` at ${over.imgSize} px` : ''} (${target} target) exactly`, () => {
    const p = derivePreset(getPreset(name), { model: over });
    const model = new IJepa(p.model, { seed: 0, target });
    const real = [...model.encoder.namedParameters(), ...model.predictor.namedParameters()].reduce((n, [, x]) => n + x.size, 0);
    dispose(model);
    assert.is(estimateStepMemory(p.model, p.mask, p.optim.batch, { target }).params, real);
  });
}

async function measured(p: Preset): Promise<number> {
  backend.trim();
  const base = memory(backend);
  const m = p.model, B = p.optim.batch;
  const model = new IJepa(m, { seed: 0 });
  const collator = new MaskCollator({ inputSize: m.imgSize, patchSize: m.patchSize, ...p.mask });
  const imgs = new Float32Array(B * m.chans * m.imgSize ** 2).map((_, i) => Math.sin(i));
  for (let i = 0; i < 3; i++) {
    const loss = model.step(imgs, collator.next(B), { lr: 1e-4, wd: 0.04, momentum: 0.996 }).loss;
    await loss.item();
    loss.dispose();
  }
  const mem = memory(backend);
  dispose(model);
  backend.trim();
  return mem.liveBytes + mem.pooledBytes - base.liveBytes - base.pooledBytes;
}

for (const [name, batch] of [['small-recipe', 8], ['tiny', 8]] as const) {
  t(`the estimate of ${name} at batch ${batch} is within [0.9×, 2.2×] of the pool's high-water mark after three steps`, async () => {
    const p = derivePreset(getPreset(name), { optim: { batch } });
    const got = await measured(p);
    const ratio = estimateStepMemory(p.model, p.mask, batch).deviceBytes / got;
    console.log(`  ${name} batch ${batch}: estimate / measured ${ratio.toFixed(2)}`);
    assert.ok(ratio >= 0.9 && ratio <= 2.2, `estimate / measured = ${ratio.toFixed(2)} (measured ${(got / 2 ** 20).toFixed(1)} MiB)`);
  });
}

t('train refuses a run estimated above --max-memory at once, naming the estimate, the limit and what to change', async () => {
  const data = join(tmp, 'data');
  mkdirSync(data);
  await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toFile(join(data, 'a.png'));
  const out = join(tmp, 'huge');
  const r = spawnSync(process.execPath, [BIN, 'train', '--preset', 'vit-huge-14', '--batch', '1', '--data', data, '--max-memory', '4', '--out', out],
    { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 2, r.stderr); // a usage error: the flags ask for more than there is
  assert.match(r.stderr, /652\.7M trainable parameters/);
  assert.match(r.stderr, /needs about 1\d\.\d GiB, more than --max-memory 4 \(4\.0 GiB\)\. Lower --batch or --img-size/);
  assert.not.match(r.stderr, /step \d+\//, 'refused before any step ran');
  assert.not.ok(existsSync(join(out, 'config.json')));
});

t('a large image is shrunk on decode to the short side the view needs, a small one is left alone', async () => {
  const big = join(tmp, 'big.png'), small = join(tmp, 'small.png');
  // a smooth pattern, so that the view from the shrunk decode can be compared with the full one
  const W = 1200, H = 600;
  const px = new Uint8Array(W * H * 3).map((_, i) => {
    const k = Math.floor(i / 3), x = k % W, y = Math.floor(k / W);
    return 128 + 100 * Math.sin(x / 37 + (i % 3)) * Math.cos(y / 23);
  });
  await sharp(px, { raw: { width: W, height: H, channels: 3 } }).png().toFile(big);
  await sharp(px.subarray(0, 100 * 50 * 3), { raw: { width: 100, height: 50, channels: 3 } }).png().toFile(small);
  assert.is(decodeShortSide(32), 256);
  const shrunk = await decodeRgb(big, { shortSide: 256 });
  assert.equal([shrunk.width, shrunk.height], [512, 256]);
  const full = await decodeRgb(big);
  assert.equal([full.width, full.height], [W, H]);
  const kept = await decodeRgb(small, { shortSide: 256 });
  assert.equal([kept.width, kept.height], [100, 50]);
  // evalView decodes with the cap: its 32×32 view is the one from the full decode within a few levels
  const S = 32, viaCap = new Float32Array(3 * S * S);
  await evalView(big, S, viaCap, 0);
  const { fromHWCBytes, normalize, resizedCrop, IMAGENET_MEAN, IMAGENET_STD } = await import('../model/data/transforms.ts');
  const img = fromHWCBytes(full.data, H, W, 3);
  const ref = normalize(resizedCrop(img, { top: 0, left: (W - H) / 2, height: H, width: H }, S, S), IMAGENET_MEAN, IMAGENET_STD).data;
  let worst = 0;
  for (let i = 0; i < viaCap.length; i++) worst = Math.max(worst, Math.abs(viaCap[i]! - ref[i]!));
  assert.ok(worst < 0.1, `max |Δ| ${worst.toFixed(3)} in normalised units (0.1 ≈ 6 levels of 255)`);
});

t.run();
