// eval: the frozen-feature evaluations. kNN against an f64 host reference of the weighted vote,
// the linear probe on separable data, seeded class-balanced sampling, the two feature readouts,
// and `ijepa eval` / `ijepa embed` end to end through the CLI on a folder of generated PNGs.
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Generator, decodeSafetensors, fromArray, layerNorm, noGrad, tidy } from '../engine/index.ts';
import { initWebGPU } from '../engine/device/node.ts';
import { IJepa } from '../model/ijepa.ts';
import { getPreset } from '../model/presets.ts';
import { checkSourceOptions, randomEncoder } from '../model/cli/encoder-source.ts';
import { encoderTokens, extractFeatures, featureDim, type ImageBatches } from '../model/eval/features.ts';
import { knnClassify } from '../model/eval/knn.ts';
import { fitLogisticRegression, linearProbe } from '../model/eval/linear-probe.ts';
import { lowShotIndices } from '../model/eval/low-shot.ts';
import { classBalancedSample, stratifiedSplit } from '../model/eval/sampling.ts';
import { assertClose, checkLeaks, suite } from './helpers.ts';

await initWebGPU(); // once per process (helpers.ts has usually done it already)

const BIN = join(import.meta.dirname, '..', 'bin', 'ijepa.mjs');
// the control rows' cache goes to this test's own folder, never the user's
const cli = (args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, IJEPA_CACHE: join(tmp, 'cache') } });
const tmp = mkdtempSync(join(tmpdir(), 'ijepa-eval-'));

/** n points per class around C random unit-ish centres in D dims, with noise `spread`. */
function clusters(g: Generator, C: number, n: number, D: number, spread: number): { x: Float32Array; y: Int32Array; } {
  const centres = Array.from({ length: C }, () => Float64Array.from({ length: D }, () => g.normal()));
  const x = new Float32Array(C * n * D), y = new Int32Array(C * n);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < n; i++) {
      const r = c * n + i;
      y[r] = c;
      for (let d = 0; d < D; d++) x[r * D + d] = centres[c]![d]! + spread * g.normal();
    }
  }
  return { x, y };
}

/** Rows i with i % 4 === 3 as test, the rest as train. */
function split(c: { x: Float32Array; y: Int32Array; }, D: number) {
  const idx = (keep: (i: number) => boolean) => Array.from(c.y.keys()).filter(keep);
  const part = (rows: number[]) => ({
    x: Float32Array.from(rows.flatMap((i) => Array.from(c.x.subarray(i * D, (i + 1) * D)))),
    y: Int32Array.from(rows, (i) => c.y[i]!),
    D,
  });
  return { tr: part(idx((i) => i % 4 !== 3)), te: part(idx((i) => i % 4 === 3)) };
}

/** The weighted vote in f64 on the host, straight from the definition (knn.ts's header). */
function knnReference(train: Float32Array, ytr: Int32Array, test: Float32Array, D: number, C: number, k: number, T: number): Float64Array {
  const norm = (v: Float32Array, i: number) => {
    let s = 0;
    for (let d = 0; d < D; d++) s += v[i * D + d]! ** 2;
    return Math.sqrt(s);
  };
  const nTr = ytr.length, nTe = test.length / D;
  const scores = new Float64Array(nTe * C);
  for (let q = 0; q < nTe; q++) {
    const sims = Array.from({ length: nTr }, (_, j) => {
      let s = 0;
      for (let d = 0; d < D; d++) s += test[q * D + d]! * train[j * D + d]!;
      return { j, s: s / (norm(test, q) * norm(train, j)) };
    }).sort((a, b) => b.s - a.s || a.j - b.j);
    for (const { j, s } of sims.slice(0, k)) scores[q * C + ytr[j]!]! += Math.exp(s / T);
  }
  return scores;
}

const t = suite('eval');
checkLeaks(t);
t.after(() => rmSync(tmp, { recursive: true, force: true }));

t('kNN classifies well-separated clusters perfectly', async () => {
  const { tr, te } = split(clusters(new Generator(1), 4, 40, 16, 0.05), 16);
  const r = await knnClassify(tr.x, tr.y, te.x, 16, te.y, { chunk: 7 });
  assert.is(r.accuracy, 1);
});

t('kNN scores match an f64 host reference of the weighted top-k vote', async () => {
  const g = new Generator(7);
  const D = 12, C = 3, nTr = 50, nTe = 9;
  const train = Float32Array.from({ length: nTr * D }, () => g.normal());
  const test = Float32Array.from({ length: nTe * D }, () => g.normal());
  const ytr = Int32Array.from({ length: nTr }, () => Math.floor(g.uniform() * C));
  const k = 5, T = 0.07;
  const r = await knnClassify(train, ytr, test, D, null, { k, temperature: T, numClasses: C, chunk: 4 });
  const ref = knnReference(train, ytr, test, D, C, k, T);
  // sims in f32 differ by ~1e-7; exp(s/T) turns that into a relative ~2e-6
  assertClose(r.scores, ref, [nTe, C], 'knn scores', 0, 1e-4);
  for (let q = 0; q < nTe; q++) {
    const row = Array.from(ref.subarray(q * C, (q + 1) * C));
    assert.is(r.pred[q], row.indexOf(Math.max(...row)), `query ${q}`);
  }
});

t('linear probe separates separable data and its loss falls', async () => {
  const { tr, te } = split(clusters(new Generator(3), 3, 60, 8, 0.3), 8);
  const fit = await fitLogisticRegression(tr, { lr: 0.05, weightDecay: 1e-3, steps: 60, lossEvery: 20 });
  const l = fit.losses.map((r) => r.loss);
  assert.ok(l.length >= 3 && l.at(-1)! < 0.5 * l[0]!, `loss ${l.join(' → ')}`);
  for (let i = 1; i < l.length; i++) assert.ok(l[i]! < l[i - 1]!, `loss rises at reading ${i}: ${l.join(' → ')}`);
  const r = await linearProbe(tr, te, { steps: 60, lrs: [0.01, 0.05], weightDecays: [1e-2, 0] });
  assert.ok(r.accuracy >= 0.97, `accuracy ${r.accuracy}`);
  assert.is(r.sweep.length, 4);
});

t('low-shot and split sampling are class-balanced and seeded', () => {
  const labels = Int32Array.from({ length: 300 }, (_, i) => (i * 7) % 3);
  const a = lowShotIndices(labels, { perClass: 10 }, 5);
  const counts = [0, 0, 0];
  for (const i of a) counts[labels[i]!]!++;
  assert.equal(counts, [10, 10, 10]);
  assert.equal(lowShotIndices(labels, { perClass: 10 }, 5), a, 'same seed, same draw');
  assert.not.equal(Array.from(lowShotIndices(labels, { perClass: 10 }, 6)), Array.from(a), 'another seed, another draw');
  // 1% of a population of 6000 with 3 classes: 20 per class
  assert.is(lowShotIndices(labels, { fraction: 0.01, population: 6000 }, 0).length, 60);
  // a class with fewer than asked gives all it has
  const skewed = Int32Array.from([0, 0, 0, 1, 1, 1, 1, 1, 2]);
  assert.equal(Array.from(classBalancedSample(skewed, 2, 0)).map((i) => skewed[i]), [0, 0, 1, 1, 2]);
  const s = stratifiedSplit(labels, 0.2, 1);
  assert.is(s.held.length, 60);
  assert.is(new Set([...s.fit, ...s.held]).size, 300);
});

t('pre-norm readout is the encoder output before its final norm; batching does not change features', async () => {
  const m = getPreset('micro').model;
  const enc = randomEncoder(m, 2);
  try {
    const g = new Generator(4);
    const px = Float32Array.from({ length: 3 * 3 * 32 * 32 }, () => g.normal());
    const [full, pre] = await noGrad(() =>
      tidy(async () => {
        const x = fromArray(px, [3, 3, 32, 32]);
        const a = enc.forward(x); // [3, N, D]
        const b = layerNorm(encoderTokens(enc, x, 'prenorm'), enc.norm.weight, enc.norm.bias, enc.norm.eps);
        return [await a.data(), await b.data()];
      })
    );
    assertClose(pre, full, [full.length], 'norm(prenorm tokens) vs forward', 1e-5, 1e-5);
    const images: ImageBatches = { n: 3, chans: 3, size: 32, batch: async (s, c) => px.slice(s * 3072, (s + c) * 3072) };
    const one = await extractFeatures(enc, images, { batchSize: 3 });
    const two = await extractFeatures(enc, images, { batchSize: 2 });
    assertClose(two, one, [3, m.dim], 'batch 2 vs batch 3', 1e-6, 1e-5);
  } finally {
    enc.dispose();
  }
});

t("grid readout: each quadrant's mean of the final-LN tokens, concatenated to 4·D (even and odd grids)", async () => {
  for (const [imgSize, patchSize] of [[32, 4], [24, 8]] as const) {
    const m = { ...getPreset('micro').model, imgSize, patchSize };
    const G = imgSize / patchSize, D = m.dim, h = Math.ceil(G / 2);
    const enc = randomEncoder(m, 3);
    try {
      const g = new Generator(5);
      const px = Float32Array.from({ length: 2 * 3 * imgSize * imgSize }, () => g.normal());
      const tokens = await noGrad(() => tidy(() => enc.forward(fromArray(px, [2, 3, imgSize, imgSize])).data())); // [2, G·G, D]
      const expected = new Float32Array(2 * 4 * D);
      for (let b = 0; b < 2; b++) {
        const quadrants: [number, number, number, number][] = [[0, h, 0, h], [0, h, h, G], [h, G, 0, h], [h, G, h, G]];
        for (const [q, [r0, r1, c0, c1]] of quadrants.entries()) {
          for (let d = 0; d < D; d++) {
            let acc = 0;
            for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) acc += tokens[(b * G * G + r * G + c) * D + d]!;
            expected[(b * 4 + q) * D + d] = acc / ((r1 - r0) * (c1 - c0));
          }
        }
      }
      const size = imgSize * imgSize * 3;
      const images: ImageBatches = { n: 2, chans: 3, size: imgSize, batch: async (s, c) => px.slice(s * size, (s + c) * size) };
      assert.is(featureDim(m, 'grid'), 4 * D);
      const got = await extractFeatures(enc, images, { kind: 'grid' });
      assertClose(got, expected, [2, 4 * D], `grid readout, G ${G}`, 1e-5, 1e-5);
    } finally {
      enc.dispose();
    }
  }
  const one = randomEncoder({ ...getPreset('micro').model, imgSize: 8, patchSize: 8 }, 0);
  try {
    const images: ImageBatches = { n: 1, chans: 3, size: 8, batch: async () => new Float32Array(3 * 64) };
    const err = await extractFeatures(one, images, { kind: 'grid' }).then(() => null, (e: Error) => e);
    assert.match(err?.message ?? 'resolved', /'grid' readout needs a patch grid of at least 2×2, the encoder's is 1×1/);
  } finally {
    one.dispose();
  }
});

t("the random-init control is the run's step-0 encoder", async () => {
  const m = getPreset('micro').model;
  const model = new IJepa(m, { seed: 9 });
  const enc = randomEncoder(m, 9);
  try {
    const a = model.encoder.namedTensors(), b = enc.namedTensors();
    assert.equal(b.map(([n]) => n), a.map(([n]) => n));
    for (const [i, [name, t0]] of a.entries()) assert.equal(Array.from(await b[i]![1].data()), Array.from(await t0.data()), name);
  } finally {
    enc.dispose();
    model.dispose();
  }
});

// ---- the CLI ----------------------------------------------------------------------------------

const data = join(tmp, 'imgs');
async function makeFolder(): Promise<void> {
  if (existsSync(data)) return;
  // two classes a random encoder can tell apart: bright horizontal stripes vs dark vertical ones
  for (const [c, cls] of ['dark', 'stripes'].entries()) {
    mkdirSync(join(data, cls), { recursive: true });
    for (let i = 0; i < 8; i++) {
      const W = 40, H = 36;
      const raw = Buffer.alloc(W * H * 3);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const v = c === 1 ? ((y >> 2) % 2) * 200 + 40 : ((x >> 2) % 2) * 60 + i * 5;
          raw.fill(v, (y * W + x) * 3, (y * W + x + 1) * 3);
        }
      }
      await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).png().toFile(join(data, cls, `${i}.png`));
    }
  }
}

t('ijepa eval --random-init on an image folder prints the three-row table', async () => {
  await makeFolder();
  const r = cli(['eval', '--random-init', '--preset', 'micro', '--data', data, '--probe-steps', '10']);
  assert.is(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /features\s+dim\s+kNN\s+linear\s+1%\s+10\/class/);
  const rows = out.split('\n').filter((l) => /^(random init \(seed \d+\)|raw pixels)\s+\d+\s/.test(l));
  assert.is(rows.length, 3, out);
  assert.match(rows[2]!, /^raw pixels\s+3072\s/);
  for (const row of rows) assert.match(row, /(\d+\.\d\s+){3}\d+\.\d\s*$/);
  assert.match(r.stderr, /split 80\/20 per class/);
});

t('ijepa eval --run reads the newest checkpoint and writes eval.json', async () => {
  await makeFolder();
  const run = join(tmp, 'run');
  assert.is(cli(['train', '--preset', 'micro', '--watch-every', '0', '--steps', '2', '--out', run]).status, 0);
  const r = cli(['eval', '--run', run, '--data', data, '--probe-steps', '5', '--encoder', 'target', '--features', 'prenorm']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /target encoder, step 2\s+64\s/);
  const json = JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8'));
  assert.is(json.step, 2);
  assert.equal(Object.keys(json.results), ['trained', 'random_init', 'raw_pixels']);
  assert.ok(json.pretraining_steps === 2);
});

t('eval and embed name a missing or doubled encoder source before any work', () => {
  assert.throws(() => checkSourceOptions({ data: data }), /give exactly one of --run DIR, --checkpoint FILE or --random-init/);
  assert.throws(() => checkSourceOptions({ 'random-init': true, run: tmp }), /\(got --run and --random-init\)/);
  assert.throws(() => checkSourceOptions({ run: tmp, preset: 'micro' }), /--preset applies to --random-init only/);
});

t('ijepa embed writes features [n, D], labels and the file list', async () => {
  await makeFolder();
  const out = join(tmp, 'emb.safetensors');
  const r = cli(['embed', '--random-init', '--preset', 'micro', '--data', data, '--out', out, '--batch', '5']);
  assert.is(r.status, 0, r.stderr);
  const f = decodeSafetensors(readFileSync(out));
  assert.equal(f.tensors.get('features')!.shape, [16, 64]);
  assert.equal(Array.from(f.tensors.get('labels')!.toInt32()), [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
  const files = JSON.parse(f.metadata.files!) as string[];
  assert.is(files.length, 16);
  assert.is(files[0], join('dark', '0.png'));
  const npy = join(tmp, 'emb.npy');
  assert.is(cli(['embed', '--random-init', '--preset', 'micro', '--data', data, '--out', npy]).status, 0);
  const bytes = readFileSync(npy);
  const headerLen = bytes.readUInt16LE(8);
  assert.match(bytes.subarray(10, 10 + headerLen).toString('latin1'), /'shape': \(16, 64\)/);
  assert.is(bytes.length, 10 + headerLen + 16 * 64 * 4);
  assert.is((10 + headerLen) % 64, 0);
  // the same features either way
  const a = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 10 + headerLen, bytes.byteOffset + bytes.length));
  assertClose(a, f.tensors.get('features')!.toFloat32(), [16, 64], 'npy vs safetensors', 0, 0);
});

/** A copy of the test folder plus `stripes/truncated.png`: its header reads, its pixels do not. */
async function makeFolderWithTruncatedImage(): Promise<{ dir: string; bad: string; }> {
  await makeFolder();
  const dir = join(tmp, 'imgs-truncated');
  if (!existsSync(dir)) cpSync(data, dir, { recursive: true });
  const bad = join(dir, 'stripes', 'truncated.png');
  const raw = Buffer.alloc(40 * 36 * 3).map((_, k) => (k * 7919) % 251);
  const png = await sharp(raw, { raw: { width: 40, height: 36, channels: 3 } }).png().toBuffer();
  writeFileSync(bad, png.subarray(0, png.length >> 1));
  assert.ok((await sharp(bad).metadata()).width === 40, 'the truncated file passes a header probe');
  return { dir, bad };
}

t('embed and eval --data skip an image that fails at decode time (naming it), and stop on it with --strict', async () => {
  const { dir, bad } = await makeFolderWithTruncatedImage();
  const out = join(tmp, 'emb-skip.safetensors');
  const r = cli(['embed', '--random-init', '--preset', 'micro', '--data', dir, '--out', out]);
  assert.is(r.status, 0, r.stderr);
  assert.ok(r.stderr.includes(`warning: skipping unreadable image ${bad}: `), r.stderr);
  const f = decodeSafetensors(readFileSync(out));
  assert.equal(f.tensors.get('features')!.shape, [16, 64], 'the 16 readable images, one row each');
  assert.ok(!(JSON.parse(f.metadata.files!) as string[]).some((p) => p.includes('truncated')));
  const strict = cli(['embed', '--random-init', '--preset', 'micro', '--data', dir, '--out', join(tmp, 'emb-strict.safetensors'), '--strict']);
  assert.is(strict.status, 1, strict.stderr);
  assert.ok(strict.stderr.includes(`cannot read ${bad}: `), strict.stderr);
  assert.ok(!existsSync(join(tmp, 'emb-strict.safetensors')));

  const e = cli(['eval', '--random-init', '--preset', 'micro', '--data', dir, '--probe-steps', '5']);
  assert.is(e.status, 0, e.stderr);
  assert.ok(e.stderr.includes(`warning: skipping unreadable image ${bad}: `), e.stderr);
  assert.match(e.stderr, /16 images in 2 classes/);
  const es = cli(['eval', '--random-init', '--preset', 'micro', '--data', dir, '--probe-steps', '5', '--strict']);
  assert.is(es.status, 1, es.stderr);
  assert.ok(es.stderr.includes(`cannot read ${bad}: `), es.stderr);
});

t.run();
