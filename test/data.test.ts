// Tests for model/data: the PRNG, the transforms (exact values on tiny synthetic images, and the
// resize against PIL when /usr/bin/python3 has it), the image-folder scan and decode (a temp folder of
// generated PNG/JPEG files plus a corrupt one), the batch loader (labels, determinism across prefetch
// depths, resume), and the Fashion-MNIST files (registered as skipped when the package is absent).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { Rng, mixSeed, permutation } from '../model/data/prng.ts';
import { fromHWCBytes, greyToRgb, pad, crop, hflip, normalize, randomResizedCropParams, resizedCrop, pretrainTransform, smallRecipeTransform,
  roundHalfEven, IMAGENET_MEAN, IMAGENET_STD, type ImageCHW } from '../model/data/transforms.ts';
import { scanImageFolder, ImageReadError } from '../model/data/image-folder.ts';
import { BatchLoader, fashionMnistSource, imageFolderSource, type Batch } from '../model/data/loader.ts';
import { loadFashionMnist, hasFashionMnist, fashionMnistDir, FASHION_MNIST_DEBIAN_PACKAGE, FASHION_MNIST_PADDED_MEAN as FM_MEAN,
  FASHION_MNIST_PADDED_STD as FM_STD, type GreyImages } from '../model/data/fashion-mnist.ts';
import { skipUnless } from './skips.ts';

/** A deterministic pseudo-random uint8 image [H, W, C]. */
function noiseBytes(h: number, w: number, c: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: h * w * c }, () => rng.int(256));
}

// The published normalisation statistics, as literals, so that no expectation below is computed
// from the constant it checks: torchvision's ImageNet mean/std (the values in every torchvision
// model card and in the official I-JEPA transforms), and Fashion-MNIST's training-set pixel mean
// and std zero-padded to 32×32 (docs/small-recipe.md), recomputed from the data set itself in
// the fashion-mnist suite.
const TORCHVISION_MEAN = [0.485, 0.456, 0.406];
const TORCHVISION_STD = [0.229, 0.224, 0.225];
const FM_PADDED_MEAN = 0.2190;
const FM_PADDED_STD = 0.3318;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.is(a.length, b.length, 'lengths');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

// ---------------------------------------------------------------------------------------------
const prng = suite('prng');

prng('same seed, same stream; different seeds differ', () => {
  const a = new Rng(7);
  const b = new Rng(7);
  const c = new Rng(8);
  const xa = Array.from({ length: 5 }, () => a.nextU32());
  assert.equal(Array.from({ length: 5 }, () => b.nextU32()), xa);
  assert.not.equal(Array.from({ length: 5 }, () => c.nextU32()), xa);
  assert.is.not(mixSeed(1, 2), mixSeed(2, 1));
});

prng('int stays in range and permutation is a permutation', () => {
  const r = new Rng(1);
  for (let k = 0; k < 1000; k++) {
    const v = r.int(7);
    assert.ok(v >= 0 && v < 7 && Number.isInteger(v));
  }
  const p = permutation(100, new Rng(3));
  assert.equal([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.throws(() => r.int(0), /Rng\.int: n must be an integer in \[1, 2\^32\], got 0/);
});

prng.run();

// ---------------------------------------------------------------------------------------------
const tr = suite('transforms');

tr('fromHWCBytes is ToTensor: HWC uint8 → CHW / 255', () => {
  const img = fromHWCBytes(new Uint8Array([0, 51, 255, 102, 153, 204]), 1, 2, 3);
  assert.equal([...img.data], [0, 102, 51, 153, 255, 204].map((v) => Math.fround(v / 255)));
});

tr('normalize is exact per channel', () => {
  const img: ImageCHW = { data: new Float32Array([0, 1, 0.5, 0.25]), channels: 2, height: 1, width: 2 };
  normalize(img, [0.5, 0.25], [0.5, 0.25]);
  assert.equal([...img.data], [-1, 1, 1, 0]);
  assert.throws(() => normalize(img, [0], [1]), /normalize: mean\/std have 1\/1 entries for 2 channels/);
});

tr('hflip mirrors rows exactly and is its own inverse', () => {
  const data = Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => i);
  const img: ImageCHW = { data: data.slice(), channels: 2, height: 2, width: 3 };
  hflip(img);
  assert.equal([...img.data], [2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9]);
  hflip(img);
  assert.equal([...img.data], [...data]);
});

tr('roundHalfEven matches Python round()', () => {
  assert.equal([0.5, 1.5, 2.5, 2.4, 2.6, 3].map(roundHalfEven), [0, 2, 2, 2, 3, 3]);
});

tr('RandomResizedCrop boxes lie inside the image and respect scale and ratio', () => {
  const rng = new Rng(11);
  for (const [H, W] of [[224, 224], [37, 91], [300, 120], [5, 5]] as const) {
    for (let k = 0; k < 200; k++) {
      const b = randomResizedCropParams(H, W, rng);
      assert.ok(b.top >= 0 && b.left >= 0 && b.height > 0 && b.width > 0, 'positive box');
      assert.ok(b.top + b.height <= H && b.left + b.width <= W, `box inside ${H}×${W}`);
      if (H >= 100 && W >= 100) {
        // Rounding to whole pixels moves area and aspect only slightly at this size.
        const area = (b.height * b.width) / (H * W);
        const aspect = b.width / b.height;
        assert.ok(area > 0.28 && area < 1.02, `area ${area}`);
        assert.ok(aspect > 0.72 && aspect < 1.37, `aspect ${aspect}`);
      }
    }
  }
});

tr('RandomResizedCrop draws the aspect log-uniformly, as torchvision (mean log aspect 0)', () => {
  // scale ≤ 0.3 of a 2000² image never overflows it, so no draw is rejected and log(w/h) is
  // log-uniform on [log 3/4, log 4/3] up to pixel rounding: mean 0, sd 0.166, standard error
  // 0.0026 over 4000 draws. Measured with this seed: −0.0008. A uniform aspect on [3/4, 4/3]
  // gives 0.0266 (0.028 expected); the bound is 4 standard errors.
  const rng = new Rng(21);
  let s = 0;
  const n = 4000;
  for (let k = 0; k < n; k++) {
    const b = randomResizedCropParams(2000, 2000, rng, [0.05, 0.3]);
    s += Math.log(b.width / b.height);
  }
  assert.ok(Math.abs(s / n) < 4 * 0.0026, `mean log aspect ${(s / n).toFixed(4)}`);
});

tr('RandomResizedCrop falls back to the ratio-clamped centre crop', () => {
  // 2×100: no crop of scale ≥ 0.3 with aspect ≤ 4/3 fits, so all 10 tries fail; w = round(2·4/3) = 3,
  // left = (100 − 3) // 2 = 48.
  assert.equal(randomResizedCropParams(2, 100, new Rng(0)), { top: 0, left: 48, height: 2, width: 3 });
  assert.equal(randomResizedCropParams(100, 2, new Rng(0)), { top: 48, left: 0, height: 3, width: 2 });
});

tr('resizedCrop: identity at scale 1, constants stay constant, crop reads the box', () => {
  const src = fromHWCBytes(noiseBytes(6, 7, 3, 1), 6, 7, 3);
  const same = resizedCrop(src, { top: 0, left: 0, height: 6, width: 7 }, 6, 7);
  assert.equal([...same.data], [...src.data]);
  const inner = resizedCrop(src, { top: 1, left: 2, height: 3, width: 4 }, 3, 4);
  assert.equal([...inner.data], [...crop(src, { top: 1, left: 2, height: 3, width: 4 }).data]);
  const flat: ImageCHW = { data: new Float32Array(3 * 50 * 40).fill(0.3), channels: 3, height: 50, width: 40 };
  for (const [h, w] of [[7, 9], [90, 13], [50, 40]] as const) {
    const y = resizedCrop(flat, { top: 3, left: 1, height: 40, width: 35 }, h, w);
    assert.ok(maxAbsDiff(y.data, new Float32Array(y.data.length).fill(0.3)) < 1e-6, `constant at ${h}×${w}`);
  }
  assert.throws(() => resizedCrop(src, { top: 4, left: 0, height: 3, width: 7 }, 2, 2),
    /resizedCrop: box \(top 4, left 0, 3×7\) does not fit in a 6×7 image/);
});

const hasPil = spawnSync('/usr/bin/python3', ['-c', 'import PIL']).status === 0;
skipUnless(tr, hasPil, 'python3-pil', '/usr/bin/python3 cannot import PIL (bash scripts/setup.sh --test installs it)')(
  'resizedCrop matches PIL BILINEAR within 8-bit rounding',
  () => {
    const H = 41;
    const W = 53;
    const bytes = noiseBytes(H, W, 3, 5);
    const img = fromHWCBytes(bytes, H, W, 3);
    const cases = [
      { box: { top: 0, left: 0, height: 41, width: 53 }, out: [12, 9] }, // shrink ~3.4×/5.9×
      { box: { top: 5, left: 7, height: 20, width: 30 }, out: [33, 47] }, // enlarge
      { box: { top: 3, left: 2, height: 37, width: 17 }, out: [16, 16] }, // mixed
    ] as const;
    const py = [
      'import sys, json',
      'from PIL import Image',
      'H, W = int(sys.argv[1]), int(sys.argv[2])',
      'im = Image.frombytes("RGB", (W, H), sys.stdin.buffer.read())',
      'res = []',
      'for t, l, h, w, oh, ow in json.loads(sys.argv[3]):',
      '    res.append(list(im.crop((l, t, l + w, t + h)).resize((ow, oh), Image.BILINEAR).tobytes()))',
      'print(json.dumps(res))',
    ].join('\n');
    const spec = cases.map((c) => [c.box.top, c.box.left, c.box.height, c.box.width, c.out[0], c.out[1]]);
    const r = spawnSync('/usr/bin/python3', ['-c', py, String(H), String(W), JSON.stringify(spec)], { input: bytes, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    const pil = JSON.parse(r.stdout) as number[][];
    cases.forEach((c, k) => {
      const ours = resizedCrop(img, c.box, c.out[0], c.out[1]);
      const [oh, ow] = c.out;
      const ref = fromHWCBytes(Uint8Array.from(pil[k] ?? []), oh, ow, 3);
      // PIL rounds to 8 bits after each of its two passes: at most ~1 level apart.
      const d = maxAbsDiff(ours.data, ref.data) * 255;
      assert.ok(d <= 1.01, `case ${k}: max diff ${d.toFixed(3)} levels`);
    });
  },
);

tr('pretrainTransform: shape, fixed seed repeats, constant image normalises exactly', () => {
  const img = fromHWCBytes(noiseBytes(30, 45, 3, 2), 30, 45, 3);
  const a = pretrainTransform(img, new Rng(9), { size: 16, hflip: 0.5 });
  const b = pretrainTransform(img, new Rng(9), { size: 16, hflip: 0.5 });
  const c = pretrainTransform(img, new Rng(10), { size: 16, hflip: 0.5 });
  assert.equal([a.channels, a.height, a.width], [3, 16, 16]);
  assert.equal([...a.data], [...b.data]);
  assert.not.equal([...a.data], [...c.data]);
  const rgb = [0.2, 0.5, 0.9];
  const flat: ImageCHW = { data: new Float32Array(3 * 20 * 20), channels: 3, height: 20, width: 20 };
  rgb.forEach((v, ch) => flat.data.fill(v, ch * 400, (ch + 1) * 400));
  const y = pretrainTransform(flat, new Rng(1), { size: 8 });
  for (let ch = 0; ch < 3; ch++) {
    const want = ((rgb[ch] as number) - TORCHVISION_MEAN[ch]!) / TORCHVISION_STD[ch]!;
    assert.ok(maxAbsDiff(y.data.subarray(ch * 64, (ch + 1) * 64), new Float32Array(64).fill(want)) < 1e-5);
  }
});

tr('pretrainTransform draws in torchvision order: crop box, then flip', () => {
  const img = fromHWCBytes(noiseBytes(30, 45, 3, 2), 30, 45, 3);
  const rng = new Rng(4);
  const box = randomResizedCropParams(30, 45, rng);
  const flip = rng.bernoulli(0.5);
  const want = resizedCrop(img, box, 12, 12);
  if (flip) hflip(want);
  normalize(want, TORCHVISION_MEAN, TORCHVISION_STD);
  assert.equal([...pretrainTransform(img, new Rng(4), { size: 12, hflip: 0.5 }).data], [...want.data]);
});

/** The small recipe composed from the building blocks, as the recipe describes it. */
function smallRecipeComposed(src: Uint8Array, rng: Rng | undefined): Float32Array {
  let img = pad(fromHWCBytes(src, 28, 28, 1), 2, 0);
  img = pad(greyToRgb(img), 4, 0);
  const i = rng ? rng.int(9) : 4;
  const j = rng ? rng.int(9) : 4;
  const flip = rng ? rng.bernoulli(0.5) : false;
  img = crop(img, { top: i, left: j, height: 32, width: 32 });
  if (flip) hflip(img);
  return normalize(img, [FM_PADDED_MEAN, FM_PADDED_MEAN, FM_PADDED_MEAN], [FM_PADDED_STD, FM_PADDED_STD, FM_PADDED_STD]).data;
}

tr('smallRecipeTransform equals pad → RGB → pad → crop → flip → normalise, exactly', () => {
  const src = noiseBytes(28, 28, 1, 3);
  for (let seed = 0; seed < 20; seed++) {
    const out = new Float32Array(5 + 3 * 32 * 32);
    smallRecipeTransform(src, 0, new Rng(seed), out, 5, { augment: true });
    assert.equal([...out.subarray(5)], [...smallRecipeComposed(src, new Rng(seed))], `seed ${seed}`);
  }
  const out = new Float32Array(3 * 32 * 32);
  smallRecipeTransform(src, 0, new Rng(0), out, 0, { augment: false });
  assert.equal([...out], [...smallRecipeComposed(src, undefined)]);
  // Un-augmented: the 2-px border is black, i.e. −mean/std.
  assert.is(out[0], Math.fround(-FM_PADDED_MEAN / FM_PADDED_STD));
  assert.is(out[2 * 32 + 2], Math.fround((Math.fround((src[0] as number) / 255) - FM_PADDED_MEAN) / FM_PADDED_STD));
});

tr('the normalisation constants are the published values', () => {
  assert.equal([...IMAGENET_MEAN], TORCHVISION_MEAN);
  assert.equal([...IMAGENET_STD], TORCHVISION_STD);
  assert.is(FM_MEAN, FM_PADDED_MEAN);
  assert.is(FM_STD, FM_PADDED_STD);
});

tr.run();

// ---------------------------------------------------------------------------------------------
const lo = suite('loader');

/** n tiny 28×28 images whose every pixel is 10·label + index mod 10, so a sample can be identified. */
function syntheticGrey(n: number): GreyImages {
  const images = new Uint8Array(n * 784);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 10;
    images.fill(i, i * 784, (i + 1) * 784);
  }
  return { images, labels, n, rows: 28, cols: 28 };
}

async function take(loader: BatchLoader, k: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let i = 0; i < k; i++) out.push(await loader.next());
  return out;
}

/** Which source index a small-recipe batch row came from (centre pixel value, un-normalised). */
function rowIndex(b: Batch, k: number): number {
  const v = (b.imgs[k * 3 * 1024 + 16 * 32 + 16] as number) * FM_PADDED_STD + FM_PADDED_MEAN;
  return Math.round(v * 255);
}

lo('shuffles each epoch, drops the last partial batch, labels follow images', async () => {
  const src = fashionMnistSource(syntheticGrey(10), { augment: false });
  const loader = new BatchLoader(src, { batchSize: 3, seed: 1 });
  assert.is(loader.batchesPerEpoch, 3);
  const batches = await take(loader, 6);
  for (const e of [0, 1]) {
    const seen = batches.slice(3 * e, 3 * e + 3).flatMap((b) => [0, 1, 2].map((k) => rowIndex(b, k)));
    assert.is(new Set(seen).size, 9, `epoch ${e}: 9 distinct samples`);
    batches.slice(3 * e, 3 * e + 3).forEach((b) => {
      assert.is(b.epoch, e);
      assert.equal(b.imgs.length, 3 * 3 * 32 * 32);
      [0, 1, 2].forEach((k) => assert.is(b.labels[k], rowIndex(b, k) % 10));
    });
  }
  const order = (e: number): number[] => batches.slice(3 * e, 3 * e + 3).flatMap((b) => [0, 1, 2].map((k) => rowIndex(b, k)));
  assert.not.equal(order(0), order(1), 'reshuffled');
  assert.equal(loader.position, { epoch: 2, batch: 0 });
  loader.close();
});

lo('identical batches for any prefetch depth, and on resume', async () => {
  const data = syntheticGrey(23);
  const run = async (prefetch: number, start?: { epoch: number; batch: number; }, k = 12): Promise<Batch[]> => {
    const l = new BatchLoader(fashionMnistSource(data, { augment: true }), { batchSize: 4, seed: 5, prefetch, start });
    const got = await take(l, k);
    l.close();
    return got;
  };
  const ref = await run(0);
  for (const p of [1, 3]) {
    const got = await run(p);
    got.forEach((b, i) => {
      assert.equal([...b.imgs], [...(ref[i] as Batch).imgs], `prefetch ${p}, batch ${i}`);
      assert.equal([...b.labels], [...(ref[i] as Batch).labels]);
    });
  }
  // 23 / 4 → 5 batches per epoch; batch 7 overall is (epoch 1, batch 2).
  const resumed = await run(2, { epoch: 1, batch: 2 }, 5);
  resumed.forEach((b, i) => {
    const want = ref[7 + i] as Batch;
    assert.equal([b.epoch, b.batch], [want.epoch, want.batch]);
    assert.equal([...b.imgs], [...want.imgs], `resumed batch ${i}`);
  });
});

lo('recycled buffers do not change the data', async () => {
  const data = syntheticGrey(12);
  const a = new BatchLoader(fashionMnistSource(data, { augment: true }), { batchSize: 4, seed: 2 });
  const b = new BatchLoader(fashionMnistSource(data, { augment: true }), { batchSize: 4, seed: 2 });
  for (let i = 0; i < 6; i++) {
    const x = await a.next();
    const y = await b.next();
    assert.equal([...x.imgs], [...y.imgs]);
    b.recycle(y);
  }
  a.close();
  b.close();
});

lo('bad options are named', () => {
  const src = fashionMnistSource(syntheticGrey(5), { augment: false });
  assert.throws(() => new BatchLoader(src, { batchSize: 8, seed: 0 }), /BatchLoader: 5 samples make no full batch of 8 \(dropLast\)/);
  assert.throws(() => new BatchLoader(src, { batchSize: 2, seed: 0, start: { epoch: 0, batch: 2 } }),
    /BatchLoader: start \(epoch 0, batch 2\) is out of range; an epoch has 2 batches/);
  const all = new BatchLoader(src, { batchSize: 2, seed: 0, dropLast: false, shuffle: false });
  assert.is(all.batchesPerEpoch, 3);
  all.close();
});

lo.run();

// ---------------------------------------------------------------------------------------------
const fo = suite('image-folder');
let root = '';

const RED = { r: 255, g: 0, b: 0 };
const GREEN = { r: 0, g: 255, b: 0 };
const BLUE = { r: 0, g: 0, b: 255 };

fo.before(async () => {
  root = mkdtempSync(join(tmpdir(), 'imgfolder-'));
  mkdirSync(join(root, 'cats', 'sub'), { recursive: true });
  mkdirSync(join(root, 'dogs'));
  const solid = (w: number, h: number, background: typeof RED) => sharp({ create: { width: w, height: h, channels: 3, background } });
  await solid(40, 30, RED).png().toFile(join(root, 'cats', 'red.png'));
  await solid(25, 50, GREEN).jpeg({ quality: 100 }).toFile(join(root, 'cats', 'sub', 'green.jpg'));
  await solid(33, 33, BLUE).png().toFile(join(root, 'dogs', 'blue.png'));
  writeFileSync(join(root, 'dogs', 'broken.jpg'), new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3, 4, 5]));
  writeFileSync(join(root, 'dogs', 'notes.txt'), 'not an image');
});
fo.after(() => rmSync(root, { recursive: true, force: true }));

fo('class folders give sorted labels; the corrupt file is skipped and named', async () => {
  const reported: string[] = [];
  const folder = await scanImageFolder(root, { onSkip: (p) => reported.push(p) });
  assert.equal(folder.classes, ['cats', 'dogs']);
  assert.equal(folder.entries.map((e) => [e.path.slice(root.length + 1), e.label]), [['cats/red.png', 0], ['cats/sub/green.jpg', 0], ['dogs/blue.png',
    1]]);
  assert.equal(reported, [join(root, 'dogs', 'broken.jpg')]);
  assert.equal(folder.skipped.map((s) => s.path), reported);
});

fo('strict mode throws naming the file', async () => {
  try {
    await scanImageFolder(root, { strict: true });
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, ImageReadError);
    assert.match((e as Error).message, /image-folder: cannot read .*dogs\/broken\.jpg: /);
  }
});

/** Per-row mean of each channel before normalisation. */
function channelMeans(b: Batch, k: number, S: number): number[] {
  return [0, 1, 2].map((ch) => {
    const off = (k * 3 + ch) * S * S;
    let s = 0;
    for (let i = 0; i < S * S; i++) s += b.imgs[off + i] as number;
    return (s / (S * S)) * TORCHVISION_STD[ch]! + TORCHVISION_MEAN[ch]!;
  });
}

fo('loader yields decoded batches with the right labels and colours', async () => {
  const folder = await scanImageFolder(root, { onSkip: () => undefined });
  const S = 16;
  const loader = new BatchLoader(imageFolderSource(folder, { size: S }), { batchSize: 3, seed: 0 });
  for (let i = 0; i < 2; i++) {
    const b = await loader.next();
    assert.is(b.imgs.length, 3 * 3 * S * S);
    assert.equal([...b.labels].sort(), [0, 0, 1]);
    for (let k = 0; k < 3; k++) {
      const [r, g, bl] = channelMeans(b, k, S) as [number, number, number];
      const colour = r > 0.9 ? 'red' : g > 0.9 ? 'green' : bl > 0.9 ? 'blue' : 'other';
      assert.ok(['red', 'green', 'blue'].includes(colour), `row ${k}: rgb ${r.toFixed(3)} ${g.toFixed(3)} ${bl.toFixed(3)}`);
      assert.is(b.labels[k], colour === 'blue' ? 1 : 0, `row ${k} is ${colour}`);
    }
  }
  loader.close();
});

fo('image-folder batches are identical for any prefetch depth', async () => {
  const folder = await scanImageFolder(root, { onSkip: () => undefined });
  const run = async (prefetch: number): Promise<Batch[]> => {
    const l = new BatchLoader(imageFolderSource(folder, { size: 8, hflip: 0.5 }), { batchSize: 2, seed: 4, prefetch });
    const got = await take(l, 4);
    l.close();
    return got;
  };
  const [a, b] = [await run(0), await run(3)];
  a.forEach((x, i) => assert.equal([...x.imgs], [...(b[i] as Batch).imgs], `batch ${i}`));
});

fo('close() abandons in-flight decodes without reporting them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'imgclose-'));
  try {
    for (let i = 0; i < 8; i++) {
      await sharp({ create: { width: 64, height: 64, channels: 3, background: RED } }).png().toFile(join(dir, `${i}.png`));
    }
    const reported: string[] = [];
    const folder = await scanImageFolder(dir);
    const l = new BatchLoader(imageFolderSource(folder, { size: 8, onSkip: (p) => reported.push(p) }), { batchSize: 2, seed: 0, prefetch: 3 });
    // next() schedules batches 0..3; close before they start: their files vanish, yet nothing is reported.
    const pending = l.next();
    l.close();
    rmSync(dir, { recursive: true, force: true });
    await pending.then(() => assert.unreachable('abandoned batch resolved'), (e: Error) => assert.match(e.message, /BatchLoader closed/));
    await new Promise((resolve) => setTimeout(resolve, 100)); // let any stray decode finish and report
    assert.equal(reported, []);
    await l.next().then(() => assert.unreachable('next() after close'), (e: Error) =>
      assert.match(e.message, /BatchLoader: next\(\) after close\(\)/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

fo('unprobed corrupt file: the loader substitutes and reports it once, or throws when strict', async () => {
  const folder = await scanImageFolder(join(root, 'dogs'), { probe: false });
  assert.equal(folder.classes, []);
  assert.equal(folder.entries.map((e) => [e.path.slice(root.length + 1), e.label]), [['dogs/blue.png', -1], ['dogs/broken.jpg', -1]]);
  const reported: string[] = [];
  const src = imageFolderSource(folder, { size: 8, onSkip: (p) => reported.push(p) });
  const loader = new BatchLoader(src, { batchSize: 2, seed: 3 });
  const b = await loader.next();
  assert.equal([...b.labels], [-1, -1]);
  for (const k of [0, 1]) assert.ok((channelMeans(b, k, 8)[2] as number) > 0.9, 'both rows are the blue image');
  await loader.next();
  loader.close();
  assert.equal(reported, [join(root, 'dogs', 'broken.jpg')]);

  const strict = new BatchLoader(imageFolderSource(folder, { size: 8, strict: true }), { batchSize: 2, seed: 3 });
  try {
    await strict.next();
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, ImageReadError);
    assert.match((e as Error).message, /cannot read .*dogs\/broken\.jpg/);
  } finally {
    strict.close();
  }
});

fo.run();

// ---------------------------------------------------------------------------------------------
const fm = suite('fashion-mnist');

const fmHere = await hasFashionMnist('test');
const withFm = skipUnless(fm, fmHere, FASHION_MNIST_DEBIAN_PACKAGE, `Fashion-MNIST not found in ${fashionMnistDir()} (npm run setup installs it)`);
withFm('test split: 10000 images of 28×28, labels 0..9, 1000 per class', async () => {
  const d = await loadFashionMnist('test');
  assert.equal([d.n, d.rows, d.cols, d.images.length, d.labels.length], [10000, 28, 28, 10000 * 784, 10000]);
  const counts = new Array<number>(10).fill(0);
  for (const l of d.labels) {
    assert.ok(l <= 9);
    counts[l] = (counts[l] ?? 0) + 1;
  }
  assert.equal(counts, new Array<number>(10).fill(1000));
});

withFm('the padded mean and std, recomputed from the training images, round to the literals', async () => {
  // straight from the Debian package's file, not through loadFashionMnist: IDX header 16 bytes
  const raw = gunzipSync(readFileSync(join(fashionMnistDir(), 'train-images-idx3-ubyte.gz'))).subarray(16);
  assert.is(raw.length, 60000 * 784);
  let s = 0, s2 = 0;
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i]!;
    s += v;
    s2 += v * v;
  }
  const n28 = raw.length, n32 = 60000 * 1024; // the padding adds only zeros
  const mean28 = s / n28 / 255, std28 = Math.sqrt(s2 / n28 / 255 ** 2 - mean28 ** 2);
  const mean32 = s / n32 / 255, std32 = Math.sqrt(s2 / n32 / 255 ** 2 - mean32 ** 2);
  // the published 28×28 figures check the recomputation itself
  const near4 = (got: number, want: number, what: string) =>
    assert.ok(Math.abs(got - want) <= 5e-5, `${what}: ${got.toFixed(6)}, expected ${want} to 4 digits`);
  near4(mean28, 0.2860, '28×28 mean');
  near4(std28, 0.3530, '28×28 std');
  near4(mean32, FM_PADDED_MEAN, 'padded mean');
  near4(std32, FM_PADDED_STD, 'padded std');
});

fm('a missing folder says to run npm run setup', async () => {
  try {
    await loadFashionMnist('test', '/nonexistent/fmnist');
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.match((e as Error).message,
      /fashion-mnist: \/nonexistent\/fmnist\/t10k-(images-idx3|labels-idx1)-ubyte\.gz not found\. Run `npm run setup`/);
  }
});

fm.run();
