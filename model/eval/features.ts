// features: frozen-encoder features of a set of images, one D-vector per image, for the
// evaluations (kNN, linear probe, low-shot) and `ijepa embed`.
//
// Readouts (docs/ijepa-step.md §7: the paper average-pools the encoder's output tokens):
//   'pooled'   mean over the N patch tokens of the encoder output, i.e. after its final LayerNorm
//              (the default, and what docs/small-recipe.md reports);
//   'prenorm'  mean over the N tokens of the last block's output, before the final LayerNorm;
//   'grid'     the 'pooled' mean taken in each quadrant of the patch grid (top-left, top-right,
//              bottom-left, bottom-right), concatenated: [n, 4D]. It keeps the coarse layout
//              (the silhouette) that a global mean throws away and raw-pixel kNN relies on.
// 'pooled' and 'prenorm' are [n, D]. Raw pixels (the baseline every table carries) are `pixelFeatures`.
//
// Memory: each batch runs under noGrad in its own tidy; only the host copy survives, so the
// engine's live-tensor count is the same before and after. The next batch is prepared on the
// host while the GPU works on the current one.
//
// Deliberately not here: the images themselves (datasets.ts), cls tokens (I-JEPA has none),
// multi-layer concatenations (docs/small-recipe.md: averaging the last four layers did not help).

import { concat, fromArray, mean, noGrad, tidy, type Tensor } from '../../engine/index.ts';
import type { VisionTransformer } from '../index.ts';

export const FEATURE_KINDS = ['pooled', 'prenorm', 'grid'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

/** Width of one image's features under a readout: D, or 4·D for 'grid'. */
export function featureDim(config: { dim: number; }, kind: FeatureKind): number {
  return kind === 'grid' ? 4 * config.dim : config.dim;
}

/** Images in batches: [count, C, S, S] f32 for images start..start+count-1, in a fixed order. */
export interface ImageBatches {
  readonly n: number;
  readonly chans: number;
  readonly size: number;
  batch(start: number, count: number): Promise<Float32Array>;
}

export interface FeatureOptions {
  kind?: FeatureKind;
  /** Images per forward pass (default 256). */
  batchSize?: number;
  /** Called after each batch with the images done so far. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Encoder tokens [B, N, D] for a readout. 'prenorm' replays VisionTransformer.forward without its
 * last line (the final norm); test/eval.test.ts checks that norm(prenorm) equals forward().
 */
export function encoderTokens(encoder: VisionTransformer, imgs: Tensor, kind: 'pooled' | 'prenorm'): Tensor {
  if (kind === 'pooled') return encoder.forward(imgs); // [B, N, D]
  let x = encoder.patch_embed.forward(imgs).add(encoder.pos_embed); // [B, N, D]
  for (const blk of encoder.blocks) x = blk.forward(x);
  return x; // [B, N, D], no final LN
}

/** Tokens [B, G·G, D] in row-major patch order → [B, 4D]: the mean of each quadrant (odd G: the first half is the larger). */
function quadrantMeans(tokens: Tensor, G: number): Tensor {
  if (G < 2) throw new RangeError(`features: the 'grid' readout needs a patch grid of at least 2×2, the encoder's is ${G}×${G}`);
  const [B, , D] = tokens.shape as [number, number, number];
  const grid = tokens.reshape([B, G, G, D]);
  const h = Math.ceil(G / 2);
  const halves: [number, number][] = [[0, h], [h, G]];
  const parts = halves.flatMap(([r0, r1]) => halves.map(([c0, c1]) => mean(grid.slice(1, r0, r1).slice(2, c0, c1), [1, 2]))); // 4 × [B, D]
  return concat(parts, 1); // [B, 4D]
}

/** One batch [B, C, S, S] → [B, featureDim] features, without grad. The caller disposes it. */
export function encodeBatch(encoder: VisionTransformer, imgs: Tensor, kind: FeatureKind = 'pooled'): Tensor {
  return noGrad(() =>
    tidy(() => {
      const tokens = encoderTokens(encoder, imgs, kind === 'grid' ? 'pooled' : kind); // [B, N, D]
      if (kind === 'grid') return quadrantMeans(tokens, encoder.G);
      return tokens.mean(1); // [B, D]
    })
  );
}

/** Features of every image of `images`, row-major [n, D] on the host. */
export async function extractFeatures(
  encoder: VisionTransformer,
  images: ImageBatches,
  opts: FeatureOptions = {},
): Promise<Float32Array> {
  const { chans: C, imgSize: S } = encoder.config;
  if (images.chans !== C || images.size !== S) {
    throw new Error(`extractFeatures: images are [${images.chans}, ${images.size}, ${images.size}], the encoder wants [${C}, ${S}, ${S}]`);
  }
  const kind = opts.kind ?? 'pooled';
  const D = featureDim(encoder.config, kind);
  const B = opts.batchSize ?? 256;
  if (!(Number.isInteger(B) && B > 0)) throw new RangeError(`extractFeatures: batchSize ${B} must be a positive integer`);
  const n = images.n;
  const out = new Float32Array(n * D);
  let next: Promise<Float32Array> | null = n > 0 ? images.batch(0, Math.min(B, n)) : null;
  for (let start = 0; start < n; start += B) {
    const count = Math.min(B, n - start);
    const pixels = await next!;
    const feats = tidy(() => encodeBatch(encoder, fromArray(pixels, [count, C, S, S]), kind)); // [count, D]
    // prepare the next batch on the host while the GPU runs this one
    next = start + B < n ? images.batch(start + B, Math.min(B, n - start - B)) : null;
    next?.catch(() => undefined); // a failure surfaces when it is awaited, not as an unhandled rejection
    try {
      out.set(await feats.data(), start * D);
    } finally {
      feats.dispose();
    }
    opts.onProgress?.(start + count, n);
  }
  return out;
}

/**
 * Raw-pixel baseline: each image flattened, [n, P]. Grey images (three equal channels) keep one
 * channel; images wider than `maxSide` are box-averaged down to it per channel first, so the
 * baseline stays a few thousand dims (32×32 grey Fashion-MNIST: 1024, as docs/small-recipe.md).
 */
export async function pixelFeatures(
  images: ImageBatches,
  opts: { grey?: boolean; maxSide?: number; batchSize?: number; } = {},
): Promise<{ features: Float32Array; dim: number; }> {
  const S = images.size, C = images.chans;
  const maxSide = opts.maxSide ?? 32;
  const f = Math.ceil(S / maxSide); // box size
  const So = Math.floor(S / f); // output side
  const Co = opts.grey ? 1 : C;
  const P = Co * So * So;
  const out = new Float32Array(images.n * P);
  const B = opts.batchSize ?? 1024;
  for (let start = 0; start < images.n; start += B) {
    const count = Math.min(B, images.n - start);
    const px = await images.batch(start, count);
    for (let i = 0; i < count; i++) {
      const src = i * C * S * S, dst = (start + i) * P;
      for (let c = 0; c < Co; c++) {
        for (let y = 0; y < So; y++) {
          for (let x = 0; x < So; x++) {
            let acc = 0;
            for (let dy = 0; dy < f; dy++) {
              for (let dx = 0; dx < f; dx++) acc += px[src + (c * S + y * f + dy) * S + x * f + dx]!;
            }
            out[dst + (c * So + y) * So + x] = acc / (f * f);
          }
        }
      }
    }
  }
  return { features: out, dim: P };
}
