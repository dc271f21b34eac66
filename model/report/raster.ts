// raster: the report's pictures, drawn as 8-bit RGB pixel buffers in plain TypeScript and encoded
// to PNG by sharp. Two kinds:
//  - mask layouts: an image with the context patches shown and the rest dimmed, and the same image
//    with each target block filled in its own colour and outlined (docs/masks.md §3: the blocks may overlap);
//  - PCA pictures: the first three principal components of the encoder's patch features, scaled
//    to [0, 255] and shown as RGB, one patch = one block of pixels.
// Images are upscaled by an integer factor with nearest neighbour, so patch edges stay sharp.
import sharp from 'sharp';

export class Raster {
  readonly data: Uint8Array;
  constructor(readonly width: number, readonly height: number, fill: readonly [number, number, number] = [255, 255, 255]) {
    this.data = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.data.set(fill, 3 * i);
  }

  /** Copy `src` into this raster at (x, y). */
  blit(src: Raster, x: number, y: number): void {
    for (let r = 0; r < src.height; r++) {
      const ty = y + r;
      if (ty < 0 || ty >= this.height) continue;
      for (let c = 0; c < src.width; c++) {
        const tx = x + c;
        if (tx < 0 || tx >= this.width) continue;
        const s = 3 * (r * src.width + c), d = 3 * (ty * this.width + tx);
        this.data[d] = src.data[s]!;
        this.data[d + 1] = src.data[s + 1]!;
        this.data[d + 2] = src.data[s + 2]!;
      }
    }
  }

  /** Blend `rgb` over the rectangle with opacity `alpha` ∈ [0, 1]. */
  fill(x: number, y: number, w: number, h: number, rgb: readonly [number, number, number], alpha = 1): void {
    for (let r = Math.max(0, y); r < Math.min(this.height, y + h); r++) {
      for (let c = Math.max(0, x); c < Math.min(this.width, x + w); c++) {
        const d = 3 * (r * this.width + c);
        for (let k = 0; k < 3; k++) this.data[d + k] = Math.round((1 - alpha) * this.data[d + k]! + alpha * rgb[k]!);
      }
    }
  }

  /** A rectangle outline `t` pixels thick, inside the rectangle. */
  outline(x: number, y: number, w: number, h: number, rgb: readonly [number, number, number], t = 1): void {
    this.fill(x, y, w, t, rgb);
    this.fill(x, y + h - t, w, t, rgb);
    this.fill(x, y, t, h, rgb);
    this.fill(x + w - t, y, t, h, rgb);
  }

  async png(): Promise<Buffer> {
    return sharp(Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength), {
      raw: { width: this.width, height: this.height, channels: 3 },
    }).png().toBuffer();
  }
}

/**
 * A [C, S, S] image (any normalisation) as a raster scaled by `scale`: values are mapped to
 * [0, 255] by the image's own min and max over all channels (a linear map, so colours keep their
 * relations); one channel is shown as grey.
 */
export function imageRaster(chw: Float32Array, C: number, S: number, scale: number): Raster {
  let lo = Infinity, hi = -Infinity;
  for (const v of chw) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const k = hi > lo ? 255 / (hi - lo) : 0;
  const r = new Raster(S * scale, S * scale);
  for (let y = 0; y < S * scale; y++) {
    for (let x = 0; x < S * scale; x++) {
      const p = Math.floor(y / scale) * S + Math.floor(x / scale);
      for (let c = 0; c < 3; c++) r.data[3 * (y * S * scale + x) + c] = Math.round((chw[(C === 1 ? 0 : c) * S * S + p]! - lo) * k);
    }
  }
  return r;
}

/** Distinct colours for target blocks (Okabe–Ito, colour-blind safe), then the context colour. */
export const TARGET_COLORS: readonly (readonly [number, number, number])[] = [
  [230, 159, 0],
  [0, 158, 115],
  [204, 121, 167],
  [213, 94, 0],
  [86, 180, 233],
  [240, 228, 66],
  [0, 114, 178],
];
export const CONTEXT_COLOR: readonly [number, number, number] = [0, 114, 178];

/** Patch indices (n = row·G + col) → the bounding boxes of the blocks they form, in patch units. */
function patchCells(idx: ArrayLike<number>, G: number): [number, number][] {
  return Array.from({ length: idx.length }, (_, k) => [Math.floor(idx[k]! / G), idx[k]! % G] as [number, number]);
}

/** The image with every patch outside `context` dimmed and hatched, and the context patches outlined. */
export function contextPanel(img: Raster, context: ArrayLike<number>, G: number): Raster {
  const out = new Raster(img.width, img.height);
  out.blit(img, 0, 0);
  const cell = img.width / G;
  const keep = new Set(Array.from(context));
  for (let n = 0; n < G * G; n++) {
    if (keep.has(n)) continue;
    const x = Math.round((n % G) * cell), y = Math.round(Math.floor(n / G) * cell), s = Math.ceil(cell);
    out.fill(x, y, s, s, [40, 40, 40], 0.75);
    // diagonal hatching, so "dropped" reads on dark images too
    for (let r = y; r < Math.min(out.height, y + s); r++) {
      for (let c = x; c < Math.min(out.width, x + s); c++) if ((r + c) % 6 === 0) out.fill(c, r, 1, 1, [150, 150, 150], 0.8);
    }
  }
  for (const [r, c] of patchCells(context, G)) {
    const x = Math.round(c * cell), y = Math.round(r * cell);
    out.outline(x, y, Math.ceil(cell), Math.ceil(cell), CONTEXT_COLOR, 1);
  }
  return out;
}

/** The image with each target block's patches tinted in its colour and the block outlined. */
export function targetsPanel(img: Raster, targets: readonly ArrayLike<number>[], G: number): Raster {
  const out = new Raster(img.width, img.height);
  out.blit(img, 0, 0);
  const cell = img.width / G;
  targets.forEach((t, i) => {
    const color = TARGET_COLORS[i % TARGET_COLORS.length]!;
    const cells = patchCells(t, G);
    for (const [r, c] of cells) out.fill(Math.round(c * cell), Math.round(r * cell), Math.ceil(cell), Math.ceil(cell), color, 0.45);
    const r0 = Math.min(...cells.map((q) => q[0])), r1 = Math.max(...cells.map((q) => q[0]));
    const c0 = Math.min(...cells.map((q) => q[1])), c1 = Math.max(...cells.map((q) => q[1]));
    out.outline(Math.round(c0 * cell), Math.round(r0 * cell), Math.round((c1 - c0 + 1) * cell), Math.round((r1 - r0 + 1) * cell), color, 2);
  });
  return out;
}

/** Per-patch RGB bytes [G·G, 3] as a raster of side `size` (nearest neighbour). */
export function patchRgbRaster(rgb: Uint8Array, G: number, size: number): Raster {
  const r = new Raster(size, size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const n = Math.min(G - 1, Math.floor((y * G) / size)) * G + Math.min(G - 1, Math.floor((x * G) / size));
      r.data.set(rgb.subarray(3 * n, 3 * n + 3), 3 * (y * size + x));
    }
  }
  return r;
}

/** Panels in a grid: `rows` of equally sized rasters with `gap` pixels between them. */
export function grid(rows: readonly (readonly Raster[])[], gap = 8): Raster {
  const cw = Math.max(...rows.flat().map((r) => r.width)), ch = Math.max(...rows.flat().map((r) => r.height));
  const cols = Math.max(...rows.map((r) => r.length));
  const out = new Raster(cols * cw + (cols + 1) * gap, rows.length * ch + (rows.length + 1) * gap);
  rows.forEach((row, i) => row.forEach((p, j) => out.blit(p, gap + j * (cw + gap), gap + i * (ch + gap))));
  return out;
}
