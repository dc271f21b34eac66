// fashion-mnist: the default data set, read from the IDX files that Debian's `dataset-fashion-mnist`
// package installs (`npm run setup` installs it). Returns raw uint8 pixels and labels; the small-recipe
// transform (transforms.ts) turns them into normalised 3×32×32 tensors.
//
// Format (http://yann.lecun.com/exdb/mnist/): big-endian u32 magic 0x00000803 (u8, 3 dims) or
// 0x00000801 (u8, 1 dim), then the dims as big-endian u32s, then the bytes row-major. Files may be
// gzipped (Debian ships `.gz`); a plain file of the same name without `.gz` is accepted too.
//
// Deliberately not: a downloader. Data arrive only through the OS package (or a folder you name).

import { readFile, access } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { parseIdx } from './idx.ts';

export { FASHION_MNIST_CLASSES, FASHION_MNIST_PADDED_MEAN, FASHION_MNIST_PADDED_STD, parseIdx } from './idx.ts';

/** Debian package that ships the files (installed by scripts/setup.sh). */
export const FASHION_MNIST_DEBIAN_PACKAGE = 'dataset-fashion-mnist';
/** Where that package puts them. Override with `dir` or the IJEPA_FASHION_MNIST_DIR environment variable. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_FILES = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
} as const;

export type FashionMnistSplit = 'train' | 'test';

export interface GreyImages {
  /** [n, rows, cols] uint8, row-major. */
  images: Uint8Array;
  /** [n] class indices 0..9. */
  labels: Uint8Array;
  n: number;
  rows: number;
  cols: number;
}

const gunzipAsync = promisify(gunzip);

/** The folder used when none is passed: $IJEPA_FASHION_MNIST_DIR, else the Debian path. */
export function fashionMnistDir(): string {
  return process.env['IJEPA_FASHION_MNIST_DIR'] ?? FASHION_MNIST_DIR;
}

/** True when both files of `split` are present (gzipped or not). */
export async function hasFashionMnist(split: FashionMnistSplit = 'test', dir = fashionMnistDir()): Promise<boolean> {
  const f = FASHION_MNIST_FILES[split];
  return (await findFile(join(dir, f.images))) !== undefined && (await findFile(join(dir, f.labels))) !== undefined;
}

/** Load one split: 60000 (train) or 10000 (test) 28×28 images. */
export async function loadFashionMnist(split: FashionMnistSplit, dir = fashionMnistDir()): Promise<GreyImages> {
  const f = FASHION_MNIST_FILES[split];
  const [img, lab] = await Promise.all([readIdx(join(dir, f.images)), readIdx(join(dir, f.labels))]);
  const fail = (msg: string): Error => new Error(`fashion-mnist ${split} (${dir}): ${msg}`);
  if (img.dims.length !== 3) throw fail(`${f.images} has ${img.dims.length} dims, expected 3 [n, rows, cols]`);
  if (lab.dims.length !== 1) throw fail(`${f.labels} has ${lab.dims.length} dims, expected 1 [n]`);
  const [n, rows, cols] = img.dims as [number, number, number];
  if (lab.dims[0] !== n) throw fail(`${f.images} holds ${n} images but ${f.labels} holds ${lab.dims[0]} labels`);
  for (let i = 0; i < n; i++) {
    const l = lab.data[i] as number;
    if (l > 9) throw fail(`${f.labels}: label ${l} at index ${i} is outside 0..9`);
  }
  return { images: img.data, labels: lab.data, n, rows, cols };
}

/** `path` if it exists, else `path` without `.gz` if that exists, else undefined. */
async function findFile(path: string): Promise<string | undefined> {
  for (const p of path.endsWith('.gz') ? [path, path.slice(0, -3)] : [path, `${path}.gz`]) {
    try {
      await access(p);
      return p;
    } catch {
      // try the next spelling
    }
  }
  return undefined;
}

/** Read a uint8 IDX file (optionally gzipped) into its dims and a view of its data. */
export async function readIdx(path: string): Promise<{ dims: number[]; data: Uint8Array; }> {
  const found = await findFile(path);
  if (found === undefined) {
    throw new Error(
      `fashion-mnist: ${path} not found. Run \`npm run setup\` (it installs the Debian package ` +
        `${FASHION_MNIST_DEBIAN_PACKAGE} into ${FASHION_MNIST_DIR}), or set IJEPA_FASHION_MNIST_DIR to a ` +
        `folder holding the four *-ubyte(.gz) files.`,
    );
  }
  let bytes: Uint8Array = await readFile(found);
  // Sniff the gzip magic instead of trusting the extension.
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (e) {
      throw new Error(`fashion-mnist: ${found} is not a valid gzip file: ${(e as Error).message}`);
    }
  }
  return parseIdx(bytes, found);
}
