// loader: seeded, resumable batches of augmented images, prepared ahead of the training step.
//
// A `SampleSource` turns a sample index into one [3, S, S] view; `BatchLoader` shuffles indices per
// epoch, groups them into batches (drop_last by default, as the official DataLoader) and keeps
// `prefetch` batches in flight so decoding and augmentation overlap the caller's GPU step. For image
// folders the decode runs on sharp's threads; the augmentation math runs on this thread whenever the
// caller is awaiting (e.g. a GPU readback).
//
// Determinism: epoch e's order is a permutation seeded by (seed, e); the sample at position p of
// epoch e draws its crop and flip from an Rng seeded by (seed, e, p). Nothing depends on when or in
// what order work finishes, so the batches are identical for any prefetch depth, and a run resumed
// at (epoch, batch) sees exactly the batches it would have seen.
//
// Deliberately not: worker threads (the pure-JS transforms are cheap next to a training step at our
// sizes; measure before adding them), distributed sharding, or any GPU upload (the caller does it).

import { Rng, mixSeed, permutation } from './prng.ts';
import { pretrainTransform, fromHWCBytes, smallRecipeTransform, SMALL_RECIPE_SIZE, type PretrainTransformOptions,
  type SmallRecipeOptions } from './transforms.ts';
import type { GreyImages } from './fashion-mnist.ts';
import { decodeRgb, decodeShortSide, ImageReadError, warnSkip, type ImageFolder } from './image-folder.ts';

/** Something that can produce sample `index` as a [3, S, S] image. */
export interface SampleSource {
  /** Number of samples. */
  readonly length: number;
  /** Output side S. */
  readonly size: number;
  /**
   * Write sample `index` into out[offset .. offset + 3·S·S) and return its label. All randomness must
   * come from `rng` (fresh per sample), so the result depends only on (index, rng's seed).
   * `signal` aborts when the loader closes: async sources should stop (and report nothing) then.
   */
  write(index: number, rng: Rng, out: Float32Array, offset: number, signal?: AbortSignal): number | Promise<number>;
}

export interface Batch {
  /** [B, 3, S, S] */
  imgs: Float32Array;
  /** [B] class indices (-1 where unknown). */
  labels: Int32Array;
  /** Which batch this is: epoch, and index within the epoch. */
  epoch: number;
  batch: number;
  /** Milliseconds `next()` spent waiting for this batch (0 when prefetch kept up). */
  waitMs: number;
}

export interface LoaderOptions {
  batchSize: number;
  seed: number;
  /** Reshuffle every epoch (default true); false walks the source in order (evaluation). */
  shuffle?: boolean;
  /** Drop the last incomplete batch (default true, as the official loader). */
  dropLast?: boolean;
  /** Batches prepared ahead of the one being consumed (default 2; 0 = on demand). */
  prefetch?: number;
  /** Where to start (resume): the next batch returned is batch `batch` of epoch `epoch`. */
  start?: { epoch: number; batch: number; };
}

// Domain tags keep the shuffle and per-sample streams unrelated for the same seed.
const TAG_SHUFFLE = 0x5348_5546;
const TAG_SAMPLE = 0x5341_4d50;

interface Pending {
  epoch: number;
  batch: number;
  promise: Promise<Batch>;
}

export class BatchLoader {
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  private readonly seed: number;
  private readonly shuffle: boolean;
  private readonly prefetch: number;
  private readonly queue: Pending[] = [];
  private readonly perms = new Map<number, Uint32Array>();
  private readonly free: { imgs: Float32Array; labels: Int32Array; }[] = [];
  // Next batch to schedule, and next batch to return.
  private sched: { epoch: number; batch: number; };
  private head: { epoch: number; batch: number; };
  private closed = false;
  private readonly abort = new AbortController();

  constructor(private readonly source: SampleSource, opts: LoaderOptions) {
    const { batchSize: B, seed } = opts;
    const n = source.length;
    if (!(Number.isInteger(B) && B > 0)) throw new Error(`BatchLoader: batchSize must be a positive integer, got ${B}`);
    if (!Number.isInteger(seed)) throw new Error(`BatchLoader: seed must be an integer, got ${seed}`);
    const dropLast = opts.dropLast ?? true;
    this.batchesPerEpoch = dropLast ? Math.floor(n / B) : Math.ceil(n / B);
    if (this.batchesPerEpoch === 0) {
      throw new Error(`BatchLoader: ${n} samples make no full batch of ${B} (dropLast); lower batchSize`);
    }
    this.batchSize = B;
    this.seed = seed;
    this.shuffle = opts.shuffle ?? true;
    this.prefetch = opts.prefetch ?? 2;
    if (!(Number.isInteger(this.prefetch) && this.prefetch >= 0)) {
      throw new Error(`BatchLoader: prefetch must be a non-negative integer, got ${this.prefetch}`);
    }
    const start = opts.start ?? { epoch: 0, batch: 0 };
    if (!(Number.isInteger(start.epoch) && start.epoch >= 0 &&
      Number.isInteger(start.batch) && start.batch >= 0 && start.batch < this.batchesPerEpoch))
    {
      throw new Error(`BatchLoader: start (epoch ${start.epoch}, batch ${start.batch}) is out of range; ` +
        `an epoch has ${this.batchesPerEpoch} batches`);
    }
    this.sched = { ...start };
    this.head = { ...start };
  }

  /** The position of the batch the next `next()` returns: save it in a checkpoint to resume. */
  get position(): { epoch: number; batch: number; } {
    return { ...this.head };
  }

  /** The next batch (epochs roll over without end). Rethrows the batch's own error, if any. */
  async next(): Promise<Batch> {
    if (this.closed) throw new Error('BatchLoader: next() after close()');
    this.topUp(1);
    const p = this.queue.shift() as Pending;
    this.head = this.advance({ epoch: p.epoch, batch: p.batch });
    this.topUp(this.prefetch);
    // Permutations of finished epochs are no longer needed.
    for (const e of this.perms.keys()) if (e < p.epoch) this.perms.delete(e);
    const t0 = performance.now();
    const batch = await p.promise;
    batch.waitMs = performance.now() - t0;
    return batch;
  }

  /** Give a consumed batch's arrays back for reuse (optional: saves allocation). Don't touch it after. */
  recycle(batch: Batch): void {
    if (this.free.length < this.prefetch + 2) this.free.push({ imgs: batch.imgs, labels: batch.labels });
  }

  /** Stop prefetching: in-flight batches are abandoned (async sources stop at their next check). */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.abort.abort(new Error('BatchLoader closed'));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
    while (!this.closed) yield await this.next();
  }

  private advance(pos: { epoch: number; batch: number; }): { epoch: number; batch: number; } {
    return pos.batch + 1 < this.batchesPerEpoch
      ? { epoch: pos.epoch, batch: pos.batch + 1 }
      : { epoch: pos.epoch + 1, batch: 0 };
  }

  private topUp(depth: number): void {
    while (this.queue.length < depth) {
      const { epoch, batch } = this.sched;
      const promise = this.produce(epoch, batch);
      // The error is delivered when next() awaits this promise; until then it must not count as unhandled.
      promise.catch(() => undefined);
      this.queue.push({ epoch, batch, promise });
      this.sched = this.advance(this.sched);
    }
  }

  private order(epoch: number): Uint32Array | undefined {
    if (!this.shuffle) return undefined;
    let perm = this.perms.get(epoch);
    if (perm === undefined) {
      perm = permutation(this.source.length, new Rng(mixSeed(TAG_SHUFFLE, this.seed, epoch)));
      this.perms.set(epoch, perm);
    }
    return perm;
  }

  private async produce(epoch: number, batch: number): Promise<Batch> {
    const order = this.order(epoch); // taken now: the cache may drop this epoch before we run
    // Yield first, so the work runs while the caller awaits (its GPU step), not inside next().
    await new Promise<void>((resolve) => setImmediate(resolve));
    const signal = this.abort.signal;
    signal.throwIfAborted();
    const S = this.source.size;
    const first = batch * this.batchSize;
    const B = Math.min(this.batchSize, this.source.length - first);
    const per = 3 * S * S;
    const reuse = this.free.pop();
    const fits = reuse !== undefined && reuse.labels.length === B;
    const imgs = fits ? reuse.imgs : new Float32Array(B * per);
    const labels = fits ? reuse.labels : new Int32Array(B);
    const writes: Promise<void>[] = [];
    for (let k = 0; k < B; k++) {
      const pos = first + k;
      const index = order === undefined ? pos : (order[pos] as number);
      const rng = new Rng(mixSeed(TAG_SAMPLE, this.seed, epoch, pos));
      const r = this.source.write(index, rng, imgs, k * per, signal);
      if (typeof r === 'number') labels[k] = r;
      else {writes.push(r.then((label) => {
          labels[k] = label;
        }));}
    }
    await Promise.all(writes);
    return { imgs, labels, epoch, batch, waitMs: 0 };
  }
}

// ---------------------------------------------------------------------------------------------
// Sources

/** Fashion-MNIST (or any 28×28 grey set) through the small-recipe transform: [3, 32, 32] views. */
export function fashionMnistSource(data: GreyImages, opts: SmallRecipeOptions): SampleSource {
  if (data.rows !== 28 || data.cols !== 28) {
    throw new Error(`fashionMnistSource: images are ${data.rows}×${data.cols}; the small recipe expects 28×28`);
  }
  const px = data.rows * data.cols;
  return {
    length: data.n,
    size: SMALL_RECIPE_SIZE,
    write(index, rng, out, offset) {
      smallRecipeTransform(data.images, index * px, rng, out, offset, opts);
      return data.labels[index] as number;
    },
  };
}

export interface ImageFolderSourceOptions extends PretrainTransformOptions {
  /** Throw on an image that fails to decode (default false: substitute the next readable one). */
  strict?: boolean;
  /** Called once per file that fails to decode; default prints a warning. */
  onSkip?: (path: string, reason: string) => void;
}

/**
 * An ImageFolder through the official pretraining transform: [3, size, size] views.
 * A file that fails to decode here (its header passed the scan) is reported once and replaced by the
 * next readable entry (index + 1, + 2, …). The choice depends only on the index, so batches stay
 * deterministic; the replacement is augmented with the original sample's rng.
 */
export function imageFolderSource(folder: ImageFolder, opts: ImageFolderSourceOptions): SampleSource {
  const n = folder.entries.length;
  const bad = new Set<number>();
  const S = opts.size;
  return {
    length: n,
    size: S,
    async write(index, rng, out, offset, signal) {
      for (let tries = 0; tries < n; tries++) {
        signal?.throwIfAborted();
        const k = (index + tries) % n;
        const e = folder.entries[k];
        if (e === undefined || bad.has(k)) continue;
        let rgb;
        try {
          rgb = await decodeRgb(e.path, { shortSide: decodeShortSide(S) });
        } catch (err) {
          signal?.throwIfAborted(); // a closed loader reports nothing (e.g. its files were removed)
          const reason = err instanceof ImageReadError ? err.reason : (err as Error).message;
          if (opts.strict) throw err;
          if (!bad.has(k)) {
            bad.add(k);
            folder.skipped.push({ path: e.path, reason });
            (opts.onSkip ?? warnSkip)(e.path, reason);
          }
          continue;
        }
        const img = fromHWCBytes(rgb.data, rgb.height, rgb.width, 3);
        pretrainTransform(img, rng, opts, out.subarray(offset, offset + 3 * S * S));
        return e.label;
      }
      throw new Error(`image-folder: no readable image left under ${folder.root}`);
    },
  };
}
