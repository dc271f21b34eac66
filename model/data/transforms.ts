// transforms: image augmentations on the CPU, over Float32Array images in CHW layout.
//
// Two pipelines:
// - `pretrainTransform`, the official I-JEPA one (docs/ijepa-step.md §5): RandomResizedCrop(size,
//   scale (0.3, 1.0), ratio (3/4, 4/3), bilinear) → [optional horizontal flip] → Normalize (ImageNet).
//   The crop box is sampled with torchvision's algorithm (10 attempts, then a centre crop); the resize
//   is torchvision's antialiased bilinear (= PIL's BILINEAR), computed in f32 instead of PIL's 8-bit
//   fixed point, so pixels may differ from PIL by ~1/255.
// - `smallRecipeTransform`, the Fashion-MNIST recipe (docs/small-recipe.md): 28×28 zero-padded to
//   32×32, grey replicated to 3 channels, normalised (0.2190 / 0.3318), random 32×32 crop from a 4-px
//   pad, horizontal flip p 0.5. One fused loop, checked in test/ against the composition of the
//   small building blocks below.
//
// All randomness comes from the `Rng` passed in, drawn in torchvision's order (crop, then flip), so a
// given seed gives the same image every time. Pixel values are in [0, 1] before normalisation (ToTensor).
//
// Deliberately not: the colour jitter / grayscale / blur stages (off in every official config), GPU
// code, or decoding (image-folder.ts and fashion-mnist.ts produce the pixels).

import type { Rng } from './prng.ts';
import { FASHION_MNIST_PADDED_MEAN, FASHION_MNIST_PADDED_STD } from './idx.ts';

/** An image as a [channels, height, width] row-major Float32Array (possibly a view into a batch). */
export interface ImageCHW {
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** A crop box in pixels: rows [top, top+height), columns [left, left+width). */
export interface Box {
  top: number;
  left: number;
  height: number;
  width: number;
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

function need(op: string, ok: boolean, msg: string): void {
  if (!ok) throw new Error(`${op}: ${msg}`);
}

function dst(op: string, out: Float32Array | undefined, n: number): Float32Array {
  if (out === undefined) return new Float32Array(n);
  need(op, out.length === n, `out has ${out.length} elements, expected ${n}`);
  return out;
}

/** Python's round(): halves go to the even neighbour (torchvision's crop sizes use it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ---------------------------------------------------------------------------------------------
// Building blocks

const BYTE_TO_UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** ToTensor: uint8 [H, W, C] (as decoders emit) → f32 [C, H, W] in [0, 1]. */
export function fromHWCBytes(
  bytes: Uint8Array,
  height: number,
  width: number,
  channels: number,
  out?: Float32Array,
): ImageCHW {
  need('fromHWCBytes', bytes.length === height * width * channels, `bytes has ${bytes.length} elements, expected [${height}, ${width}, ${channels}]`);
  const plane = height * width;
  const data = dst('fromHWCBytes', out, plane * channels);
  // v/255 from a table. RGB gets an unrolled loop that reads the bytes once, in order: decoded
  // photos are always RGB here, and this is ~2× the strided per-channel walk.
  if (channels === 3) {
    for (let p = 0, q = 0; p < plane; p++, q += 3) {
      data[p] = BYTE_TO_UNIT[bytes[q] as number] as number;
      data[plane + p] = BYTE_TO_UNIT[bytes[q + 1] as number] as number;
      data[2 * plane + p] = BYTE_TO_UNIT[bytes[q + 2] as number] as number;
    }
  } else {
    for (let c = 0; c < channels; c++) {
      for (let p = 0, q = c; p < plane; p++, q += channels) data[c * plane + p] = BYTE_TO_UNIT[bytes[q] as number] as number;
    }
  }
  return { data, channels, height, width };
}

/** [1, H, W] → [3, H, W] by copying the plane (PIL's convert('RGB') of an 'L' image). */
export function greyToRgb(img: ImageCHW): ImageCHW {
  need('greyToRgb', img.channels === 1, `expects 1 channel, got ${img.channels}`);
  const plane = img.height * img.width;
  const data = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) data.set(img.data.subarray(0, plane), c * plane);
  return { ...img, data, channels: 3 };
}

/** Constant padding of `p` pixels on every side. */
export function pad(img: ImageCHW, p: number, value = 0): ImageCHW {
  need('pad', Number.isInteger(p) && p >= 0, `padding must be a non-negative integer, got ${p}`);
  const { channels: C, height: H, width: W } = img;
  const Ho = H + 2 * p;
  const Wo = W + 2 * p;
  const data = new Float32Array(C * Ho * Wo).fill(value);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      const from = (c * H + y) * W;
      data.set(img.data.subarray(from, from + W), (c * Ho + y + p) * Wo + p);
    }
  }
  return { data, channels: C, height: Ho, width: Wo };
}

/** Copy out a box that lies inside the image. */
export function crop(img: ImageCHW, box: Box): ImageCHW {
  const { channels: C, height: H, width: W } = img;
  const { top, left, height: h, width: w } = box;
  need('crop', top >= 0 && left >= 0 && h > 0 && w > 0 && top + h <= H && left + w <= W,
    `box (top ${top}, left ${left}, ${h}×${w}) does not fit in a ${H}×${W} image`);
  const data = new Float32Array(C * h * w);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < h; y++) {
      const from = (c * H + top + y) * W + left;
      data.set(img.data.subarray(from, from + w), (c * h + y) * w);
    }
  }
  return { data, channels: C, height: h, width: w };
}

/** Mirror left–right, in place. */
export function hflip(img: ImageCHW): ImageCHW {
  const { channels: C, height: H, width: W, data } = img;
  for (let r = 0; r < C * H; r++) {
    for (let a = r * W, b = a + W - 1; a < b; a++, b--) {
      const t = data[a] as number;
      data[a] = data[b] as number;
      data[b] = t;
    }
  }
  return img;
}

/** x ← (x − mean[c]) / std[c], in place (torchvision Normalize). */
export function normalize(img: ImageCHW, mean: readonly number[], std: readonly number[]): ImageCHW {
  const { channels: C, data } = img;
  need('normalize', mean.length === C && std.length === C, `mean/std have ${mean.length}/${std.length} entries for ${C} channels`);
  need('normalize', std.every((s) => s > 0), `std must be positive, got [${std.join(', ')}]`);
  const plane = img.height * img.width;
  for (let c = 0; c < C; c++) {
    const m = mean[c] as number;
    const s = std[c] as number;
    for (let i = c * plane; i < (c + 1) * plane; i++) data[i] = ((data[i] as number) - m) / s;
  }
  return img;
}

/**
 * torchvision `RandomResizedCrop.get_params`: up to 10 tries of area ~ U(scale)·H·W and
 * log-aspect ~ U(log ratio); w = round(√(area·aspect)), h = round(√(area/aspect)); accept if it fits,
 * then place it uniformly. Otherwise a centre crop clamped to the ratio range.
 * Draws per try: area, log-aspect; on success two more (top, left).
 */
export function randomResizedCropParams(
  height: number,
  width: number,
  rng: Rng,
  scale: readonly [number, number] = [0.3, 1.0],
  ratio: readonly [number, number] = [3 / 4, 4 / 3],
): Box {
  need('randomResizedCrop', scale[0] <= scale[1] && ratio[0] <= ratio[1],
    `scale [${scale.join(', ')}] and ratio [${ratio.join(', ')}] must each be (low, high)`);
  const area = height * width;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = roundHalfEven(w / ratio[0]);
  else if (inRatio > ratio[1]) w = roundHalfEven(h * ratio[1]);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/** Resampling taps for one axis: output i reads in[start[i] + k]·weight[i·taps + k], k < taps. */
interface Taps {
  start: Int32Array;
  count: Int32Array;
  weight: Float32Array;
  taps: number;
}

/**
 * Antialiased bilinear weights, as PIL's ImagingResample / torch `_upsample_bilinear2d_aa`
 * (align_corners false): output pixel i has centre c = (i + 0.5)·s in input pixels, s = in/out.
 * When shrinking (s > 1) the triangle filter is stretched to support s, so every input pixel
 * contributes (no aliasing); when enlarging it is plain bilinear with support 1. Weights are
 * renormalised where the support runs off the edge. Plain (non-antialiased) bilinear would skip
 * pixels when s > 2, which is what torchvision's PIL path never does.
 */
function bilinearTaps(inSize: number, outSize: number): Taps {
  const s = inSize / outSize;
  const support = Math.max(s, 1);
  const invScale = 1 / support;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weight = new Float32Array(outSize * taps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * s;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    const ws: number[] = [];
    for (let x = lo; x < hi; x++) {
      const w = Math.max(0, 1 - Math.abs((x - center + 0.5) * invScale));
      ws.push(w);
      total += w;
    }
    start[i] = lo;
    count[i] = ws.length;
    for (let k = 0; k < ws.length; k++) weight[i * taps + k] = total > 0 ? (ws[k] as number) / total : 0;
  }
  return { start, count, weight, taps };
}

/**
 * Crop `box` out of `img` and resize it to outH×outW with antialiased bilinear (torchvision
 * `resized_crop(..., BILINEAR, antialias=True)`). Separable: rows first into a [C, box.h, outW]
 * buffer, then columns.
 */
export function resizedCrop(img: ImageCHW, box: Box, outH: number, outW: number, out?: Float32Array): ImageCHW {
  const { channels: C, height: H, width: W } = img;
  const { top, left, height: h, width: w } = box;
  need('resizedCrop', top >= 0 && left >= 0 && h > 0 && w > 0 && top + h <= H && left + w <= W,
    `box (top ${top}, left ${left}, ${h}×${w}) does not fit in a ${H}×${W} image`);
  need('resizedCrop', Number.isInteger(outH) && Number.isInteger(outW) && outH > 0 && outW > 0,
    `output size ${outH}×${outW} must be positive integers`);
  const tx = bilinearTaps(w, outW);
  const ty = bilinearTaps(h, outH);
  const src = img.data;
  const tmp = new Float32Array(C * h * outW);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < h; y++) {
      const row = (c * H + top + y) * W + left;
      const o = (c * h + y) * outW;
      for (let x = 0; x < outW; x++) {
        const s0 = row + (tx.start[x] as number);
        const n = tx.count[x] as number;
        const wb = x * tx.taps;
        let acc = 0;
        for (let k = 0; k < n; k++) acc += (src[s0 + k] as number) * (tx.weight[wb + k] as number);
        tmp[o + x] = acc;
      }
    }
  }
  const data = dst('resizedCrop', out, C * outH * outW);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < outH; y++) {
      const y0 = ty.start[y] as number;
      const n = ty.count[y] as number;
      const wb = y * ty.taps;
      const o = (c * outH + y) * outW;
      data.fill(0, o, o + outW);
      for (let k = 0; k < n; k++) {
        const wk = ty.weight[wb + k] as number;
        const r = (c * h + y0 + k) * outW;
        for (let x = 0; x < outW; x++) data[o + x] = (data[o + x] as number) + wk * (tmp[r + x] as number);
      }
    }
  }
  return { data, channels: C, height: outH, width: outW };
}

// ---------------------------------------------------------------------------------------------
// Pipelines

export interface PretrainTransformOptions {
  /** Output side S (the crop size; 224 in the official configs). */
  size: number;
  scale?: readonly [number, number];
  ratio?: readonly [number, number];
  /**
   * Probability of a horizontal flip. Default 0: the official code has the stage but every config
   * turns it off (`horizontal_flip: false`). The small recipe uses 0.5.
   */
  hflip?: number;
  mean?: readonly number[];
  std?: readonly number[];
}

/**
 * Official pretraining view: RandomResizedCrop → (flip) → Normalize, on a 3-channel image in [0, 1].
 * Writes [3, S, S] into `out` when given (e.g. a slice of the batch buffer).
 */
export function pretrainTransform(
  img: ImageCHW,
  rng: Rng,
  opts: PretrainTransformOptions,
  out?: Float32Array,
): ImageCHW {
  const box = randomResizedCropParams(img.height, img.width, rng, opts.scale, opts.ratio);
  const y = resizedCrop(img, box, opts.size, opts.size, out);
  const p = opts.hflip ?? 0;
  if (p > 0 && rng.bernoulli(p)) hflip(y);
  return normalize(y, opts.mean ?? IMAGENET_MEAN, opts.std ?? IMAGENET_STD);
}

export interface SmallRecipeOptions {
  /** Random crop + flip (training). False gives the centred, unflipped view (evaluation). */
  augment: boolean;
  mean?: number;
  std?: number;
  /** Flip probability when augmenting (default 0.5). */
  hflip?: number;
}

/** Side of the small-recipe output, and the paddings that produce it. */
export const SMALL_RECIPE_SIZE = 32;
const PAD_TO_32 = 2;
const CROP_PAD = 4;

/**
 * Fashion-MNIST view (docs/small-recipe.md), fused into one pass: the 28×28 uint8 image at
 * `src[srcOffset..]` becomes [3, 32, 32] at `out[outOffset..]`.
 *
 * Equivalent to: pad 2 with black → grey to RGB → pad 4 with black → crop 32×32 at (i, j) with
 * i, j ~ U{0..8} → flip with p 0.5 → normalise. Both pads are black pixels (0 before normalising):
 * the crop then just slides the garment over its black background. Draw order: i, j, flip.
 */
export function smallRecipeTransform(
  src: Uint8Array,
  srcOffset: number,
  rng: Rng,
  out: Float32Array,
  outOffset: number,
  opts: SmallRecipeOptions,
): void {
  const S = SMALL_RECIPE_SIZE;
  const R = 28;
  need('smallRecipeTransform', srcOffset >= 0 && srcOffset + R * R <= src.length, `source image at ${srcOffset} runs past ${src.length} bytes`);
  need('smallRecipeTransform', outOffset >= 0 && outOffset + 3 * S * S <= out.length,
    `output [3, ${S}, ${S}] at ${outOffset} runs past ${out.length} elements`);
  const mean = opts.mean ?? FASHION_MNIST_PADDED_MEAN;
  const std = opts.std ?? FASHION_MNIST_PADDED_STD;

  // (i, j) is the crop corner in the 40×40 canvas; the 28×28 image sits at (6, 6) there.
  let i = CROP_PAD;
  let j = CROP_PAD;
  let flip = false;
  if (opts.augment) {
    const span = 2 * CROP_PAD + 1;
    i = rng.int(span);
    j = rng.int(span);
    flip = rng.bernoulli(opts.hflip ?? 0.5);
  }
  const dy = i - PAD_TO_32 - CROP_PAD; // output row y reads source row y + dy
  const dx = j - PAD_TO_32 - CROP_PAD;
  // One lookup per pixel; fround matches the composed path, which stores v/255 as f32 first.
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = (Math.fround(v / 255) - mean) / std;
  const black = lut[0] as number;
  const plane = S * S;
  for (let y = 0; y < S; y++) {
    const sy = y + dy;
    for (let x = 0; x < S; x++) {
      const sx = (flip ? S - 1 - x : x) + dx;
      const v = sy >= 0 && sy < R && sx >= 0 && sx < R
        ? lut[src[srcOffset + sy * R + sx] as number] as number
        : black;
      const o = outOffset + y * S + x;
      out[o] = v;
      out[o + plane] = v;
      out[o + 2 * plane] = v;
    }
  }
}
