// datasets: labelled images for evaluation, as fixed (unaugmented) [3, S, S] views in a fixed order.
//
// Two sources:
//  - Fashion-MNIST (the default): the small-recipe view with augment off (28×28 padded to 32×32,
//    centred, grey replicated to 3 channels, normalised). Train: a class-balanced seeded subset
//    of `trainSize` of the 60000 train images; test: the 10000 test images (or a class-balanced
//    subset of `testSize`). docs/small-recipe.md evaluates on 10k train / all 10k test.
//  - An image folder with class sub-folders (image-folder.ts): `train/` and `test/` sub-folders
//    when both exist (their class folders must agree), else every image split 80/20 per class by
//    a seeded shuffle. The view is the usual evaluation one: the centred square crop resized to
//    S×S (antialiased bilinear), normalised with the ImageNet mean/std as in pretraining.
//
// Deliberately not: augmentation, ten-crop, or caching decoded images (the images are decoded
// once per feature extraction; the raw-pixel baseline decodes them again).

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FASHION_MNIST_CLASSES, FolderError, loadFashionMnist, decodeRgb, decodeShortSide, scanImageFolder, Rng, IMAGENET_MEAN, IMAGENET_STD,
  SMALL_RECIPE_SIZE, fromHWCBytes, normalize, resizedCrop, smallRecipeTransform, type GreyImages, type ImageFolder,
  type ImageFolderEntry } from '../data/index.ts';
import type { ImageBatches } from './features.ts';
import { classBalancedSample, stratifiedSplit } from './sampling.ts';

/** Evaluation images: batches of [3, S, S] views plus their labels (and files, for folders). */
export interface EvalImages extends ImageBatches {
  readonly labels: Int32Array;
  /** True when the three channels are copies of one grey channel (the pixel baseline keeps one). */
  readonly grey: boolean;
  readonly files?: readonly string[];
}

export interface EvalSplits {
  train: EvalImages;
  test: EvalImages;
  classes: string[];
  /** Size of the whole labelled training split the train images were drawn from (for "1%"). */
  population: number;
  /** One line for the report. */
  description: string;
}

// ---- Fashion-MNIST --------------------------------------------------------------------------

/** The given images of a Fashion-MNIST split through the unaugmented small-recipe view. */
export function fashionMnistImages(data: GreyImages, indices: Int32Array): EvalImages {
  const S = SMALL_RECIPE_SIZE, px = data.rows * data.cols, per = 3 * S * S;
  const rng = new Rng(0); // unused with augment off; the transform's signature wants one
  return {
    n: indices.length,
    chans: 3,
    size: S,
    grey: true,
    labels: Int32Array.from(indices, (i) => data.labels[i]!),
    async batch(start, count) {
      const out = new Float32Array(count * per);
      for (let k = 0; k < count; k++) smallRecipeTransform(data.images, indices[start + k]! * px, rng, out, k * per, { augment: false });
      return out;
    },
  };
}

export async function fashionMnistSplits(opts: { trainSize: number; testSize: number; seed: number; }): Promise<EvalSplits> {
  const [tr, te] = await Promise.all([loadFashionMnist('train'), loadFashionMnist('test')]);
  const C = FASHION_MNIST_CLASSES.length;
  const pick = (d: GreyImages, size: number) =>
    size >= d.n
      ? Int32Array.from({ length: d.n }, (_, i) => i)
      : classBalancedSample(d.labels, Math.floor(size / C), opts.seed, C);
  const train = fashionMnistImages(tr, pick(tr, opts.trainSize));
  const test = fashionMnistImages(te, pick(te, opts.testSize));
  const part = (n: number, of: number) => (n === of ? `all ${n}` : `${n} (class-balanced, of ${of})`);
  return {
    train,
    test,
    classes: [...FASHION_MNIST_CLASSES],
    population: tr.n,
    description: `Fashion-MNIST: train ${part(train.n, tr.n)}, test ${part(test.n, te.n)}`,
  };
}

// ---- image folders --------------------------------------------------------------------------

/** Centred square crop → S×S antialiased bilinear → ImageNet normalisation, into out[offset..]. */
export async function evalView(path: string, S: number, out: Float32Array, offset: number): Promise<void> {
  const rgb = await decodeRgb(path, { shortSide: decodeShortSide(S) });
  const img = fromHWCBytes(rgb.data, rgb.height, rgb.width, 3);
  const side = Math.min(rgb.height, rgb.width);
  const box = { top: Math.floor((rgb.height - side) / 2), left: Math.floor((rgb.width - side) / 2), height: side, width: side };
  normalize(resizedCrop(img, box, S, S, out.subarray(offset, offset + 3 * S * S)), IMAGENET_MEAN, IMAGENET_STD);
}

/** Folder entries through `evalView`, decoded `concurrency` at a time. */
export function folderImages(entries: readonly ImageFolderEntry[], S: number, concurrency = 8): EvalImages {
  const per = 3 * S * S;
  return {
    n: entries.length,
    chans: 3,
    size: S,
    grey: false,
    labels: Int32Array.from(entries, (e) => e.label),
    files: entries.map((e) => e.path),
    async batch(start, count) {
      const out = new Float32Array(count * per);
      let next = 0;
      const worker = async () => {
        for (let k = next++; k < count; k = next++) await evalView(entries[start + k]!.path, S, out, k * per);
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
      return out;
    },
  };
}

async function hasSplitFolders(root: string): Promise<boolean> {
  const dirs = new Set((await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name));
  return dirs.has('train') && dirs.has('test');
}

const needClasses = (f: ImageFolder) => {
  if (f.classes.length === 0) {
    throw new FolderError('eval', f.root, 'has no class sub-folders; evaluation needs labels (one sub-folder per class)', ' ');
  }
  if (f.classes.length < 2) throw new FolderError('eval', f.root, `has one class folder (${f.classes[0]}); classification needs at least two`, ' ');
};

export async function folderSplits(
  root: string,
  opts: { size: number; seed: number; strict?: boolean; onSkip?: (path: string, reason: string) => void; },
): Promise<EvalSplits> {
  // every file decoded once up front: an image that fails only at decode time is skipped (or, strict,
  // fatal) here, like train does, rather than aborting the feature pass halfway
  const scan = (dir: string) =>
    scanImageFolder(dir, { probe: 'decode', strict: opts.strict === true, ...(opts.onSkip ? { onSkip: opts.onSkip } : {}) });
  if (await hasSplitFolders(root)) {
    const [tr, te] = await Promise.all([scan(join(root, 'train')), scan(join(root, 'test'))]);
    needClasses(tr);
    const byName = new Map(tr.classes.map((c, i) => [c, i]));
    const unknown = te.classes.filter((c) => !byName.has(c));
    if (unknown.length) throw new FolderError('eval', join(root, 'test'), `has classes not in train/: ${unknown.join(', ')}`, ' ');
    const teEntries = te.entries.map((e) => ({ path: e.path, label: byName.get(te.classes[e.label]!)! }));
    return {
      train: folderImages(tr.entries, opts.size),
      test: folderImages(teEntries, opts.size),
      classes: tr.classes,
      population: tr.entries.length,
      description: `${root}: train/ ${tr.entries.length} images, test/ ${te.entries.length} images, ${tr.classes.length} classes`,
    };
  }
  const f = await scan(root);
  needClasses(f);
  const labels = Int32Array.from(f.entries, (e) => e.label);
  const { fit, held } = stratifiedSplit(labels, 0.2, opts.seed);
  if (held.length === 0) throw new FolderError('eval', root, `has too few images (${f.entries.length}) for an 80/20 split`, ' ');
  const trainEntries = Array.from(fit, (i) => f.entries[i]!), testEntries = Array.from(held, (i) => f.entries[i]!);
  return {
    train: folderImages(trainEntries, opts.size),
    test: folderImages(testEntries, opts.size),
    classes: f.classes,
    population: trainEntries.length,
    description:
      `${root}: ${f.entries.length} images in ${f.classes.length} classes, split 80/20 per class (seed ${opts.seed}): train ${trainEntries.length}, test ${testEntries.length}`,
  };
}
