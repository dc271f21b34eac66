// ijepa: the model against the PyTorch step bundles (test/golden/make_step_bundle.py) on the
// WebGPU backend, plus the sin-cos golden of docs/ijepa-step.md §2.3, the official state-dict
// names and order, the AdamW groups, preset validation, and a few micro-preset training steps
// that must lower the loss without leaking a tensor.
import * as assert from 'uvu/assert';
import { fromArray, Generator, memory, tidy, type Module } from '../engine/index.ts';
import { IJepa, isDecayed } from '../model/ijepa.ts';
import { MaskCollator } from '../model/masks.ts';
import { sincos2d } from '../model/pos-embed.ts';
import { derivePreset, getPreset, PRESET_NAMES, validatePreset } from '../model/presets.ts';
import { bundleModelConfig, loadModuleFrom, parseStepBundle } from '../model/step-bundle.ts';
import { applyMasks, repeatInterleaveBatch } from '../model/vit.ts';
import { bundleNames, readBundle } from './golden-bundles.ts';
import { checkLeaks, suite, throwsWith } from './helpers.ts';

const bundleFiles = await bundleNames();
const readStepBundle = async (f: string) => parseStepBundle(await readBundle(f), f);

const t = suite('ijepa');
checkLeaks(t);

t('sin-cos table matches the golden of docs/ijepa-step.md §2.3 (E 8, G 3): first half is the column', () => {
  const tab = sincos2d(8, 3);
  const row = (n: number) => Array.from(tab.subarray(n * 8, n * 8 + 8));
  const near = (got: number[], want: number[], what: string) =>
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6, `${what}[${i}] = ${v}, want ${want[i]}`));
  near(row(1), [0.841471, 0.01, 0.540302, 0.99995, 0, 0, 1, 1], 'token 1 (i 0, j 1)');
  near(row(3), [0, 0, 1, 1, 0.841471, 0.01, 0.540302, 0.99995], 'token 3 (i 1, j 0)');
  assert.throws(() => sincos2d(6, 3), /width E 6 must be a positive multiple of 4/);
});

t("sin-cos tables round to the bundles' float32 tables exactly", async () => {
  for (const f of bundleFiles) {
    const b = await readStepBundle(f);
    const G = b.config.img / b.config.patch;
    for (const [key, E] of [['init/encoder/pos_embed', b.config.dim], ['init/predictor/predictor_pos_embed', b.config.pred_dim]] as const) {
      const ours = Float32Array.from(sincos2d(E, G));
      const ref = b.tensors.get(key)!.toFloat32();
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - ref[i]!));
      assert.ok(worst <= 1.2e-7, `${f} ${key}: max |ours − ref| ${worst}`);
    }
  }
});

t("state-dict names, shapes and order equal the bundles' init/encoder and init/predictor", async () => {
  for (const f of bundleFiles) {
    const b = await readStepBundle(f);
    const model = new IJepa(bundleModelConfig(b.config));
    try {
      for (const [net, m] of [['encoder', model.encoder], ['predictor', model.predictor]] as [string, Module][]) {
        const prefix = `init/${net}/`;
        const want = [...b.tensors.values()].filter((d) => d.name.startsWith(prefix)).map((d) =>
          `${d.name.slice(prefix.length)} [${d.shape.join(', ')}]`
        );
        const got = m.namedTensors().map(([n, x]) => `${n} [${x.shape.join(', ')}]`);
        assert.equal(got, want, `${f}: ${net}`);
      }
      const tgt = model.target_encoder!.namedTensors().map(([n]) => n);
      assert.equal(tgt, model.encoder.namedTensors().map(([n]) => n), 'target_encoder mirrors encoder');
    } finally {
      model.dispose();
    }
  }
});

t('AdamW groups follow the official rule: mask_token decayed, biases and LN excluded, pos tables absent', () => {
  const model = new IJepa(getPreset('micro').model);
  try {
    const names = new Map<unknown, string>();
    for (const [net, m] of model.modules()) for (const [n, x] of m.namedTensors()) names.set(x, `${net}.${n}`);
    const groups = model.optimizer.groups.map((g) => g.params.map((p) => names.get(p)!));
    assert.ok(groups[1]!.includes('predictor.mask_token'));
    assert.ok(groups[0]!.includes('encoder.patch_embed.proj.weight') && groups[0]!.includes('encoder.blocks.1.attn.qkv.weight'));
    assert.ok(groups[2]!.includes('encoder.norm.weight') && groups[2]!.includes('encoder.blocks.0.mlp.fc1.bias'));
    assert.ok(groups[3]!.includes('predictor.predictor_norm.weight') && groups[3]!.includes('predictor.predictor_proj.bias'));
    const all = groups.flat();
    assert.not.ok(all.some((n) => n.includes('pos_embed')), 'frozen tables are in no group');
    assert.is(new Set(all).size, all.length);
    assert.is(all.length, model.encoder.parameters().length + model.predictor.parameters().length);
    assert.ok(all.every((n) => n.startsWith('encoder.') || n.startsWith('predictor.')));
    assert.ok(isDecayed('mask_token', model.predictor.mask_token));
  } finally {
    model.dispose();
  }
});

t('applyMasks is mask-major and repeatInterleaveBatch repeats B-chunks', async () => {
  const [y, r] = tidy(() => {
    // x[b, n, 0] = 10·b + n
    const x = fromArray(Float32Array.from({ length: 2 * 4 }, (_, i) => 10 * Math.floor(i / 4) + (i % 4)), [2, 4, 1]);
    const m0 = fromArray(new Int32Array([1, 2, 0, 3]), [2, 2]), m1 = fromArray(new Int32Array([3, 0, 2, 1]), [2, 2]);
    const masked = applyMasks(x, [m0, m1]); // [4, 2, 1], row m·B + b
    return [masked, repeatInterleaveBatch(masked, 2, 2)]; // [8, 2, 1]
  });
  assert.equal(Array.from(await y.data()), [1, 2, 10, 13, 3, 0, 12, 11]);
  assert.equal(Array.from(await r.data()), [1, 2, 10, 13, 1, 2, 10, 13, 3, 0, 12, 11, 3, 0, 12, 11]);
  y.dispose();
  r.dispose();
});

t('loading names the file and the tensor that is missing or mis-shaped', async () => {
  const b = await readStepBundle(bundleFiles[0]!);
  const model = new IJepa(bundleModelConfig({ ...b.config, dim: b.config.dim * 2 }));
  try {
    throwsWith(() => loadModuleFrom(model.encoder, b.tensors, 'init/encoder/', b.name),
      new RegExp(`load ${b.name}: init/encoder/pos_embed is \\[1, \\d+, ${b.config.dim}\\], the model wants \\[1, \\d+, ${b.config.dim * 2}\\]`));
    throwsWith(() => loadModuleFrom(model.encoder, new Map(), 'init/encoder/', 'x.safetensors'),
      /load x.safetensors: init\/encoder\/pos_embed is missing/);
  } finally {
    model.dispose();
  }
});

t('presets validate image/patch and width/heads with clear errors', () => {
  for (const n of PRESET_NAMES) validatePreset(getPreset(n)); // the table itself, checked here once
  const micro = getPreset('micro');
  throwsWith(() => derivePreset(micro, { model: { imgSize: 30 } }), /preset 'micro': imgSize 30 is not divisible by patchSize 8/);
  throwsWith(() => derivePreset(micro, { model: { heads: 3 } }), /preset 'micro': dim 64 is not divisible by heads 3/);
  throwsWith(() => getPreset('vit-enormous'), /preset 'vit-enormous' is unknown; known presets: micro, tiny/);
  assert.is(getPreset('vit-huge-14').model.predDepth, 12);
  assert.is(getPreset('small-recipe').model.patchEmbedStd, 0.08);
  // long: small-recipe's model and masks at batch 128 for 1500 steps of Fashion-MNIST (ipe 468), warmup 10 %
  const long = getPreset('long'), small = getPreset('small-recipe');
  assert.equal([long.model, long.mask], [small.model, small.mask]);
  assert.is(Math.floor(long.optim.epochs * Math.floor(60000 / long.optim.batch)), 1500);
  assert.equal([long.optim.batch, long.optim.refLr, long.optim.warmupEpochs / long.optim.epochs], [128, small.optim.refLr, 0.1]);
});

t('micro preset: a few steps with collator masks give a finite, falling loss and flat memory', async () => {
  const P = getPreset('micro');
  const start = memory();
  const model = new IJepa(P.model, { seed: 1 });
  const collator = new MaskCollator({ inputSize: P.model.imgSize, patchSize: P.model.patchSize, ...P.mask });
  const g = new Generator(5);
  const S = P.model.imgSize, B = P.optim.batch;
  const imgs = Float32Array.from({ length: B * 3 * S * S }, () => g.normal());
  const losses: number[] = [];
  const live: number[] = [];
  try {
    for (let s = 0; s < 6; s++) {
      const { loss } = model.step(imgs, collator.next(B), { lr: 1e-3, wd: 0.04, momentum: 0.996 });
      losses.push(await loss.item());
      loss.dispose();
      live.push(memory().liveTensors);
    }
  } finally {
    model.dispose();
  }
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(losses.at(-1)! < 0.8 * losses[0]!, `loss should fall: ${losses.map((l) => l.toFixed(4)).join(' → ')}`);
  assert.ok(live.every((n) => n === live[0]), `live tensors per step ${live}`);
  const end = memory();
  assert.is(end.liveTensors, start.liveTensors);
  assert.is(end.liveStorages, start.liveStorages);
});

t('pixel targets: predictor outputs C·p·p per token, no target encoder, finite loss', async () => {
  const P = getPreset('micro');
  const model = new IJepa(P.model, { target: 'pixels' });
  const collator = new MaskCollator({ inputSize: P.model.imgSize, patchSize: P.model.patchSize, ...P.mask });
  const g = new Generator(6);
  const S = P.model.imgSize, B = 2;
  try {
    assert.is(model.target_encoder, null);
    assert.equal(model.predictor.predictor_proj.weight.shape, [3 * 8 * 8, P.model.predDim]);
    const imgs = Float32Array.from({ length: B * 3 * S * S }, () => g.normal());
    const m = collator.next(B);
    const r = model.step(imgs, m, { lr: 1e-3, wd: 0.04, momentum: 0.996 }, { capture: true });
    assert.equal(r.target!.shape, [4 * B, m.Lp, 3 * 8 * 8]);
    const tv = await r.target!.data(), P3 = 3 * 8 * 8;
    // every target row is a standardised patch, (x − mean) / sqrt(unbiased var + 1e-6): mean 0,
    // unbiased variance var / (var + 1e-6) ≈ 1 − 1e-6. Measured over all rows: |mean| ≤ 1.6e-8,
    // |uvar − 1| ≤ 1.28e-6; the bounds are 4× that (eps 1e-5 moves uvar by ~1e-5, the biased
    // variance by 5e-3).
    let worstMean = 0, worstVar = 0;
    for (let row = 0; row < tv.length / P3; row++) {
      const v = Array.from(tv.subarray(row * P3, (row + 1) * P3));
      const mean = v.reduce((a, b) => a + b, 0) / P3;
      const uvar = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (P3 - 1);
      worstMean = Math.max(worstMean, Math.abs(mean));
      worstVar = Math.max(worstVar, Math.abs(uvar - 1));
    }
    assert.ok(worstMean <= 4 * 1.6e-8 && worstVar <= 4 * 1.28e-6, `target rows: max |mean| ${worstMean}, max |unbiased var − 1| ${worstVar}`);
    const loss = await r.loss.item();
    // targets are unit-variance patches and the initial predictions are small: loss ≈ E[huber(N(0,1))]
    assert.ok(Number.isFinite(loss) && loss > 0.2 && loss < 0.8, `loss ${loss}`);
    for (const x of [r.loss, r.context!, r.target!, r.prediction!, ...r.grads!.values()]) x.dispose();
  } finally {
    model.dispose();
  }
});

t.run();
