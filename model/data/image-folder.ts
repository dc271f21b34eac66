// image-folder: list and decode a folder of JPEG/PNG/WebP images, torchvision ImageFolder style.
//
// Layout: if `root` has sub-folders, each is a class, labelled 0..K-1 in sorted (code-point) order,
// and images are collected recursively inside each (files directly in `root` are then ignored, as
// torchvision does). If `root` has no sub-folders it is flat: its images get label -1.
// Entries are sorted by path, so the index → file mapping (and hence a seeded run) is reproducible.
//
// Unreadable images: `scanImageFolder` reads every file's header (sharp metadata) and skips the ones
// that fail, reporting each through `onSkip` (default: console.warn) and in `skipped`; with
// `strict: true` the first one throws instead, naming the file. An image whose header is fine but
// whose pixels fail later is handled by the loader (loader.ts) with the same policy; `probe:
// 'decode'` decodes every file instead, for eval and embed, which need the exact set of images up
// front (a row of features, or a labelled sample, cannot be swapped for another file later).
//
// Decoding is sharp (libvips) on libuv's thread pool, to 8-bit sRGB with alpha dropped and EXIF
// orientation ignored, which is what PIL's `Image.open(f).convert('RGB')` (torchvision's loader) gives.
//
// Deliberately not: a cache of decoded images, or any augmentation (transforms.ts).

import { readdir, realpath, stat } from 'node:fs/promises';
import { join, extname } from 'node:path';
import sharp from 'sharp';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'] as const;

export interface ImageFolderEntry {
  path: string;
  /** Class index, or -1 in a flat folder. */
  label: number;
}

export interface SkippedImage {
  path: string;
  reason: string;
}

export interface ImageFolder {
  root: string;
  /** Class folder names in label order; empty for a flat folder. */
  classes: string[];
  entries: ImageFolderEntry[];
  /** Files that looked like images but could not be read. */
  skipped: SkippedImage[];
}

export interface ImageFolderOptions {
  /** Throw on the first unreadable image instead of skipping it. */
  strict?: boolean;
  /**
   * Find unreadable files up front: true (default) reads each header; 'decode' decodes each file
   * whole, which also catches a truncated or corrupt body (one extra decode per image); false
   * reads nothing.
   */
  probe?: boolean | 'decode';
  /** Called once per skipped file; default prints a warning. */
  onSkip?: (path: string, reason: string) => void;
  /** Lower-case extensions, with the dot (default IMAGE_EXTENSIONS). */
  extensions?: readonly string[];
  /** Files probed at once (default 64 headers, or 8 whole decodes). */
  concurrency?: number;
}

/**
 * What is wrong with a folder of images (missing, unreadable, no images, none readable, no
 * classes...): `folder` and `reason` apart, so that a caller can say which option gave the folder
 * (model/cli/data-option.ts) without taking the message apart. The message is
 * `TAG: FOLDER: REASON` (`TAG: FOLDER REASON` when the reason reads on from the folder, "has ...").
 */
export class FolderError extends Error {
  constructor(tag: string, readonly folder: string, readonly reason: string, readonly joined: ': ' | ' ' = ': ') {
    super(`${tag}: ${folder}${joined}${reason}`);
    this.name = 'FolderError';
  }
}

export class ImageReadError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`image-folder: cannot read ${path}: ${reason}`);
    this.name = 'ImageReadError';
  }
}

export function warnSkip(path: string, reason: string): void {
  console.warn(`image-folder: skipping unreadable image ${path}: ${reason}`);
}

// Code-point order, like Python's sorted(); localeCompare would depend on the machine's locale.
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** List the images under `root`, with labels, dropping (or, strict, throwing on) unreadable ones. */
export async function scanImageFolder(root: string, opts: ImageFolderOptions = {}): Promise<ImageFolder> {
  const exts = new Set(opts.extensions ?? IMAGE_EXTENSIONS);
  const top = await listDir(root);
  const classes = top.dirs.sort(byCodePoint);
  const found: ImageFolderEntry[] = [];
  if (classes.length === 0) {
    for (const f of top.files.sort(byCodePoint)) {
      if (exts.has(extname(f).toLowerCase())) found.push({ path: join(root, f), label: -1 });
    }
  } else {
    for (const [label, cls] of classes.entries()) {
      for (const path of await walkFiles(join(root, cls))) {
        if (exts.has(extname(path).toLowerCase())) found.push({ path, label });
      }
    }
  }
  if (found.length === 0) {
    throw new FolderError('image-folder', root,
      `no ${[...exts].join('/')} images` + (classes.length > 0 ? ` in its class folders (${classes.join(', ')})` : ''));
  }

  const skipped: SkippedImage[] = [];
  let entries = found;
  const probe = opts.probe ?? true;
  if (probe) {
    const ok = await mapLimit(found, opts.concurrency ?? (probe === 'decode' ? 8 : 64), async (e) => {
      try {
        if (probe === 'decode') {
          await decodeRgb(e.path);
          return true;
        }
        const m = await sharp(e.path).metadata();
        if (!(m.width && m.height)) throw new Error('no image dimensions in the header');
        return true;
      } catch (err) {
        const reason = err instanceof ImageReadError ? err.reason : (err as Error).message.split('\n')[0] ?? 'unknown error';
        if (opts.strict) throw new ImageReadError(e.path, reason);
        return reason;
      }
    });
    entries = [];
    for (const [k, e] of found.entries()) {
      const r = ok[k];
      if (r === true) entries.push(e);
      else {
        const reason = r ?? 'unknown error';
        skipped.push({ path: e.path, reason });
        (opts.onSkip ?? warnSkip)(e.path, reason);
      }
    }
    if (entries.length === 0) {
      throw new FolderError('image-folder', root,
        `none of its ${found.length} image file(s) is readable (the first, ${skipped[0]!.path}: ${skipped[0]!.reason})`);
    }
  }
  return { root, classes, entries, skipped };
}

/** A decoded image: uint8 [height, width, 3] sRGB. */
export interface RgbBytes {
  data: Uint8Array;
  height: number;
  width: number;
}

/**
 * The shorter side an image is shrunk to on decode when its views are `size` pixels: four
 * times the view, so that even the smallest crop a view takes (RandomResizedCrop's 0.3 of the
 * area: 0.55 of the side) is still downsampled into it and the view barely changes, while a
 * 10000×10000 photo decodes to 4·size squared bytes instead of 300 MB.
 */
export const decodeShortSide = (size: number) => Math.max(4 * size, 256);

/**
 * Decode one file to 8-bit RGB. Throws ImageReadError naming the file. With `shortSide`, an
 * image whose shorter side is longer is shrunk on decode (antialiased; never enlarged).
 */
export async function decodeRgb(path: string, opts: { shortSide?: number; } = {}): Promise<RgbBytes> {
  try {
    let img = sharp(path);
    if (opts.shortSide !== undefined) img = img.resize({ width: opts.shortSide, height: opts.shortSide, fit: 'outside', withoutEnlargement: true });
    const { data, info } = await img
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { data, height: info.height, width: info.width };
  } catch (err) {
    if (err instanceof ImageReadError) throw err;
    throw new ImageReadError(path, (err as Error).message.split('\n')[0] ?? 'unknown error');
  }
}

// ---------------------------------------------------------------------------------------------

/** Non-hidden files and directories directly in `dir`; symlinks are followed, like os.walk(followlinks=True). */
async function listDir(dir: string): Promise<{ files: string[]; dirs: string[]; }> {
  let ents;
  try {
    ents = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new FolderError('image-folder', dir, fsReason(e as NodeJS.ErrnoException));
  }
  const files: string[] = [];
  const dirs: string[] = [];
  for (const e of ents) {
    if (e.name.startsWith('.')) continue;
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      const s = await stat(join(dir, e.name)).catch(() => undefined);
      isDir = s?.isDirectory() ?? false;
      isFile = s?.isFile() ?? false;
    }
    if (isDir) dirs.push(e.name);
    else if (isFile) files.push(e.name);
  }
  return { files, dirs };
}

// what a failed listing means, in words (Node's own message repeats the path and the syscall)
const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such folder',
  ENOTDIR: 'not a folder',
  ELOOP: 'a loop of symbolic links (ELOOP)',
  EACCES: 'permission denied (EACCES)',
  EPERM: 'permission denied (EPERM)',
};

/** A failed stat or readdir of a folder, in words: 'no such folder', 'not a folder', ... */
export function fsReason(e: NodeJS.ErrnoException): string {
  return FS_REASONS[e.code ?? ''] ?? e.message;
}

/**
 * All files below `dir`, sorted by full path in code-point order. Each real directory is listed
 * once (by realpath), so a symlink back to an ancestor (a loop) or a second link to one folder adds
 * no entries twice; a stack instead of recursion keeps a deep tree from overflowing the call stack.
 */
async function walkFiles(dir: string): Promise<string[]> {
  const seen = new Set<string>();
  const out: string[] = [];
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    const real = await realpath(d).catch(() => d);
    if (seen.has(real)) continue;
    seen.add(real);
    const { files, dirs } = await listDir(d);
    for (const f of files) out.push(join(d, f));
    // reverse code-point order on the stack: the first path in sorted order claims a shared folder
    for (const sub of dirs.sort(byCodePoint).reverse()) stack.push(join(d, sub));
  }
  return out.sort(byCodePoint);
}

/** Promise.all over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      out[k] = await fn(items[k] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
