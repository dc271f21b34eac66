// masks: the I-JEPA multi-block mask collator (official src/masks/multiblock.py), quirks included.
//
// One call of `next(B)` = one official collator call = one batch (docs/masks.md §1):
//   1. seed := batch counter (0, 1, 2, …). A fresh generator seeded with it gives two uniforms:
//      the first fixes the TARGET block size (predMaskScale, aspectRatio), the second the CONTEXT
//      size (encMaskScale, aspect 1). One uniform drives both scale and aspect ratio (docs/masks.md §2).
//   2. For each image, in order, using the collator's own "global" generator (torch's default CPU
//      generator in the official code): npred unconstrained target blocks, then nenc context blocks
//      restricted to the complement of this image's targets (unless allowOverlap).
//   3. Every target mask is cut to the batch minimum Lp, every context mask to Le, keeping the first
//      (lowest raster index) entries.
//
// Quirks reproduced in mode 'official' (all deliberate, see docs/masks.md §3 and §5):
//   - top ~ randint(0, H − h), left ~ randint(0, W − w): EXCLUSIVE upper bounds, and h ≤ H − 1,
//     w ≤ W − 1, so the last patch row and column are never used, and for G ∈ {8, 14, 16} the context
//     is always the top-left (G−1)² square.
//   - h, w use Python's round (half to even); max_keep = int(N · scale) truncates.
//   - A block is valid iff its kept count > minKeep (strict). Every 20 failures one more acceptable
//     region is dropped, from the END of the list (the last target's exclusion is relaxed first).
//   - Indices ascend row-major (torch.nonzero order); targets may overlap each other, so Lp = h·w.
// Mode 'fixed' changes exactly one thing: positions are drawn inclusively, top ∈ [0, H − h] (one
// randint(0, H − h + 1) draw), and h, w are clamped to ≤ H, W instead of ≤ H − 1, W − 1. Same draws,
// same order otherwise, so the context block can move and the last row/column are reachable.
//
// Invariants: deterministic given (options, state); getState/setState capture everything that
// affects later batches (the batch counter and the global generator), so a resumed run draws the
// same masks. The official loop spins forever when a block's area is ≤ minKeep (a target: always;
// the context: once every region has been relaxed away); here that throws an Error naming the grid,
// the block size and minKeep, both in the constructor (a scan over the uniform, best effort; off
// with precheck: false) and exactly in next() before anything is drawn (a throwing call leaves the
// state untouched).
//
// Deliberately not here: images and labels (the official collator also default-collates them), the
// shared-memory counter across loader workers (one process, one counter), the official warning log
// (see `relaxations` instead), and any GPU or engine code: this is pure integer work on Int32Arrays.
// Bit-exactness with a real official run also needs the global generator in the same state; there
// torch's default generator has already been used by model init, so compare against a port that
// seeds it right before the first batch (test/golden/make_masks.py), not against a training log.

import { TorchGenerator, type TorchGeneratorState } from './torch-rng.ts';

/** 'official' reproduces the exclusive-bound position draw (last row and column never used); 'fixed' draws positions inclusively. */
export type MaskMode = 'official' | 'fixed';

/** The collator's settings, the official config's `mask` keys (defaults are the configs' values). */
export interface MaskCollatorOptions {
  /** Patch grid: G for a square G×G grid, or [H, W]. Give this or inputSize + patchSize. */
  gridSize?: number | readonly [number, number];
  /** Crop size in pixels (number or [height, width]); grid = floor(inputSize / patchSize). */
  inputSize?: number | readonly [number, number];
  patchSize?: number;
  /** Context block scale range (fraction of N). Default (0.85, 1.0), the configs' value. */
  encMaskScale?: readonly [number, number];
  /** Target block scale range. Default (0.15, 0.2). */
  predMaskScale?: readonly [number, number];
  /** Target aspect-ratio (height / width) range. Default (0.75, 1.5). The context uses (1, 1). */
  aspectRatio?: readonly [number, number];
  /** Context blocks per image. Default 1. */
  nenc?: number;
  /** Target blocks per image. Default 4. */
  npred?: number;
  /** A block is valid only with MORE than this many patches. Default 10 (configs); tiny grids need less. */
  minKeep?: number;
  /** Let the context overlap the targets. Default false. */
  allowOverlap?: boolean;
  /** 'official' reproduces the off-by-one placement; 'fixed' repairs it. Default 'official'. */
  mode?: MaskMode;
  /** Seed of the global (position) generator; the official script runs torch.manual_seed(0). Default 0. */
  seed?: number;
  /**
   * Scan the block sizes at construction and throw if some batch would hang. Default true. Set false
   * to draw the batches that do work on a borderline config (e.g. G = 8 with minKeep 10 hangs only
   * when u < 0.485); next() still throws on the first batch that would hang.
   */
  precheck?: boolean;
}

/** A block size in patches: h rows by w columns. */
export interface BlockSize {
  h: number;
  w: number;
}

/**
 * One batch of masks. Entries are patch indices n = i·W + j into [0, H·W), ascending within a row.
 * Layout is mask-major like the official list of (B, L) tensors:
 *   encMasks[e][b·Le + k]  = k-th kept context index of image b, context block e   (nenc arrays)
 *   predMasks[p][b·Lp + k] = k-th kept target index of image b, target block p      (npred arrays)
 */
export interface MaskBatch {
  /** Images in the batch. */
  B: number;
  /** Context tokens per mask after truncation to the batch minimum (the official log's mask-A). */
  Le: number;
  /** Target tokens per mask after truncation (mask-B). Equals predSize.h · predSize.w. */
  Lp: number;
  /** nenc arrays, each [B, Le] row-major. */
  encMasks: Int32Array[];
  /** npred arrays, each [B, Lp] row-major. */
  predMasks: Int32Array[];
  /** The batch counter used as the size seed. */
  seed: number;
  /** Target block size for this batch. */
  predSize: BlockSize;
  /** Context block size for this batch. */
  encSize: BlockSize;
  /** How often a context block dropped an acceptable region (the official "decreasing acceptable-regions" warning). */
  relaxations: number;
}

/** Everything that determines later batches. Plain numbers and a Uint32Array, for checkpoints. */
export interface MaskCollatorState {
  /** Seed (batch counter) the next batch will use; the official counter value + 1. */
  nextSeed: number;
  /** The global (position) generator. */
  rng: TorchGeneratorState;
}

/** The official retry budget before one more acceptable region is dropped. */
const TIMEOUT = 20;

/** Python's round() on a float: nearest integer, ties to even. x − floor(x) is exact for |x| < 2^52. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * `_sample_block_size` given its uniform u ∈ [0, 1):
 *   s = smin + u(smax − smin),  max_keep = int(H·W·s),  a = amin + u(amax − amin)
 *   h = round(sqrt(max_keep·a)), w = round(sqrt(max_keep / a))   (Python round, half to even)
 * then h, w are clamped to ≤ H − 1, W − 1 ('official') or ≤ H, W ('fixed'). Operation order
 * follows the Python so the doubles, hence the rounding ties, are identical.
 */
export function sampleBlockSize(
  u: number,
  height: number,
  width: number,
  scale: readonly [number, number],
  aspect: readonly [number, number],
  mode: MaskMode = 'official',
): BlockSize {
  const maskScale = scale[0] + u * (scale[1] - scale[0]);
  const maxKeep = Math.trunc(height * width * maskScale);
  const ar = aspect[0] + u * (aspect[1] - aspect[0]);
  let h = roundHalfEven(Math.sqrt(maxKeep * ar));
  let w = roundHalfEven(Math.sqrt(maxKeep / ar));
  const maxH = mode === 'official' ? height - 1 : height;
  const maxW = mode === 'official' ? width - 1 : width;
  if (h > maxH) h = maxH;
  if (w > maxW) w = maxW;
  return { h, w };
}

/** A placed rectangle; its complement is an acceptable region for the context. */
interface Rect {
  top: number;
  left: number;
  h: number;
  w: number;
}

/** The collator's settings (docs/masks.md), with the official yaml key of each; presets carry these. */
export interface MaskSettings {
  /** `enc_mask_scale` */
  encMaskScale: readonly [number, number];
  /** `pred_mask_scale` */
  predMaskScale: readonly [number, number];
  /** `aspect_ratio` */
  aspectRatio: readonly [number, number];
  /** `num_enc_masks` */
  nenc: number;
  /** `num_pred_masks` */
  npred: number;
  /** `min_keep` (strict: a block needs MORE than this many patches) */
  minKeep: number;
  /** `allow_overlap` */
  allowOverlap: boolean;
  mode: MaskMode;
}

interface ResolvedOptions extends MaskSettings {
  height: number;
  width: number;
}

/** The official multi-block mask collator (src/masks/multiblock.py): `next(B)` draws one batch of context and target masks, quirks included (see the file header). */
export class MaskCollator {
  readonly height: number;
  readonly width: number;
  readonly options: Readonly<ResolvedOptions>;
  private readonly rng: TorchGenerator;
  private nextSeed = 0;
  private relaxations = 0;
  /** Scratch for one block's indices; a block never exceeds H·W entries. */
  private readonly scratch: Int32Array;

  constructor(opts: MaskCollatorOptions) {
    const [height, width] = resolveGrid(opts);
    this.height = height;
    this.width = width;
    const o: ResolvedOptions = {
      height,
      width,
      encMaskScale: opts.encMaskScale ?? [0.85, 1.0],
      predMaskScale: opts.predMaskScale ?? [0.15, 0.2],
      aspectRatio: opts.aspectRatio ?? [0.75, 1.5],
      nenc: opts.nenc ?? 1,
      npred: opts.npred ?? 4,
      minKeep: opts.minKeep ?? 10,
      allowOverlap: opts.allowOverlap ?? false,
      mode: opts.mode ?? 'official',
    };
    for (const [name, v] of [['nenc', o.nenc], ['npred', o.npred]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`MaskCollator: ${name} ${v} must be an integer ≥ 1`);
    }
    if (!Number.isInteger(o.minKeep) || o.minKeep < 0) {
      throw new RangeError(`MaskCollator: minKeep ${o.minKeep} must be an integer ≥ 0`);
    }
    if (o.mode !== 'official' && o.mode !== 'fixed') {
      throw new RangeError(`MaskCollator: mode '${String(o.mode)}' must be 'official' or 'fixed'`);
    }
    for (const [name, r] of [['encMaskScale', o.encMaskScale], ['predMaskScale', o.predMaskScale], ['aspectRatio', o.aspectRatio]] as const) {
      if (!(Number.isFinite(r[0]) && Number.isFinite(r[1]) && r[0] > 0 && r[1] >= r[0])) {
        throw new RangeError(`MaskCollator: ${name} (${r[0]}, ${r[1]}) must be positive with min ≤ max`);
      }
    }
    this.options = o;
    this.rng = new TorchGenerator(opts.seed ?? 0);
    this.scratch = new Int32Array(height * width);
    if (opts.precheck ?? true) this.checkSizesAhead();
  }

  /** Draw the masks for one batch of B images (one official collator call). */
  next(B: number): MaskBatch {
    if (!Number.isInteger(B) || B < 1) throw new RangeError(`MaskCollator.next: batch size ${B} must be an integer ≥ 1`);
    const { nenc, npred, allowOverlap } = this.options;
    const seed = this.nextSeed;
    const { predSize, encSize } = this.blockSizes(seed);
    // Check before consuming anything, so a throwing call leaves counter and generator untouched.
    this.checkNoHang(predSize, 'target', seed);
    this.checkNoHang(encSize, 'context', seed);
    this.nextSeed = seed + 1;
    this.relaxations = 0;

    const pred: Int32Array[][] = []; // [B][npred]
    const enc: Int32Array[][] = []; // [B][nenc]
    let Lp = this.height * this.width;
    let Le = this.height * this.width;
    for (let b = 0; b < B; b++) {
      // The RNG order matters for bit-exactness: all targets of image b, then its contexts.
      const masksP: Int32Array[] = [];
      const rects: Rect[] = [];
      for (let p = 0; p < npred; p++) {
        const { indices, rect } = this.sampleBlock(predSize, null);
        masksP.push(indices);
        rects.push(rect);
        Lp = Math.min(Lp, indices.length);
      }
      pred.push(masksP);
      const masksE: Int32Array[] = [];
      for (let e = 0; e < nenc; e++) {
        const { indices } = this.sampleBlock(encSize, allowOverlap ? null : rects);
        masksE.push(indices);
        Le = Math.min(Le, indices.length);
      }
      enc.push(masksE);
    }

    return {
      B,
      Le,
      Lp,
      seed,
      predSize,
      encSize,
      relaxations: this.relaxations,
      encMasks: stack(enc, nenc, B, Le),
      predMasks: stack(pred, npred, B, Lp),
    };
  }

  /** The two block sizes batch `seed` uses: first uniform → target, second → context (square). */
  blockSizes(seed: number): { predSize: BlockSize; encSize: BlockSize; } {
    const g = new TorchGenerator(seed);
    const { predMaskScale, encMaskScale, aspectRatio, mode } = this.options;
    const predSize = sampleBlockSize(g.rand(), this.height, this.width, predMaskScale, aspectRatio, mode);
    const encSize = sampleBlockSize(g.rand(), this.height, this.width, encMaskScale, [1, 1], mode);
    return { predSize, encSize };
  }

  getState(): MaskCollatorState {
    return { nextSeed: this.nextSeed, rng: this.rng.getState() };
  }

  setState(state: MaskCollatorState): void {
    if (!Number.isSafeInteger(state.nextSeed) || state.nextSeed < 0) {
      throw new RangeError(`MaskCollator.setState: nextSeed ${state.nextSeed} must be a non-negative integer`);
    }
    this.rng.setState(state.rng);
    this.nextSeed = state.nextSeed;
  }

  /**
   * `_sample_block_mask`: redraw (top, left) until the block keeps > minKeep patches after removing
   * the first max(R − tries, 0) regions' rectangles. Returns the kept indices (ascending) and the raw
   * rectangle (whose complement is the official `mask_complement`).
   */
  private sampleBlock(size: BlockSize, regions: readonly Rect[] | null): { indices: Int32Array; rect: Rect; } {
    const { h, w } = size;
    const { minKeep, mode } = this.options;
    const W = this.width;
    // Official: randint(0, H − h) (exclusive, the off-by-one); fixed: randint(0, H − h + 1).
    const extra = mode === 'official' ? 0 : 1;
    const regs = regions ?? [];
    const out = this.scratch;
    let tries = 0;
    let timeout = TIMEOUT;
    for (;;) {
      const top = this.rng.randint(0, this.height - h + extra);
      const left = this.rng.randint(0, this.width - w + extra);
      const active = Math.max(regs.length - tries, 0);
      let count = 0;
      for (let i = top; i < top + h; i++) {
        for (let j = left; j < left + w; j++) {
          let keep = true;
          for (let r = 0; r < active; r++) {
            const q = regs[r]!;
            if (i >= q.top && i < q.top + q.h && j >= q.left && j < q.left + q.w) {
              keep = false;
              break;
            }
          }
          if (keep) out[count++] = i * W + j;
        }
      }
      if (count > minKeep) return { indices: out.slice(0, count), rect: { top, left, h, w } };
      if (active === 0) {
        // Unreachable after checkNoHang (an unconstrained block keeps h·w > minKeep); guards the loop.
        throw new Error(`MaskCollator: internal: unconstrained ${h}×${w} block kept ${count} ≤ minKeep ${minKeep}`);
      }
      timeout -= 1;
      if (timeout === 0) {
        tries += 1;
        timeout = TIMEOUT;
        this.relaxations += 1;
      }
    }
  }

  /** Throws where the official loop would never end: an unconstrained block of area ≤ minKeep. */
  private checkNoHang(size: BlockSize, what: 'target' | 'context', seed: number): void {
    const { minKeep, mode } = this.options;
    if (size.h * size.w > minKeep) return;
    throw new Error(
      `MaskCollator: ${what} block ${size.h}×${size.w} (${size.h * size.w} patches) on the ` +
        `${this.height}×${this.width} grid can never hold more than minKeep ${minKeep} patches ` +
        `(batch seed ${seed}, mode '${mode}'); the official collator would loop forever. ` +
        `Lower minKeep below ${size.h * size.w} or enlarge the ${what} scale.`,
    );
  }

  /**
   * Best-effort early failure: scan the uniform on a fine grid and reject options under which some
   * batch would hang, so a bad preset fails at construction rather than at batch 37. next() stays
   * the exact check (a size occupying a u-interval narrower than the scan step could slip past here).
   */
  private checkSizesAhead(): void {
    const { predMaskScale, encMaskScale, aspectRatio, minKeep, mode } = this.options;
    const STEPS = 4096;
    for (let k = 0; k <= STEPS; k++) {
      const u = (k / STEPS) * (1 - 2 ** -24); // torch.rand's largest value is 1 − 2^−24
      for (const [what, scale, aspect] of [['target', predMaskScale, aspectRatio], ['context', encMaskScale, [1, 1]]] as const) {
        const s = sampleBlockSize(u, this.height, this.width, scale, aspect, mode);
        if (s.h * s.w <= minKeep) {
          throw new Error(
            `MaskCollator: ${what} block ${s.h}×${s.w} (${s.h * s.w} patches, at uniform u = ${u.toFixed(4)}) ` +
              `on the ${this.height}×${this.width} grid can never hold more than minKeep ${minKeep} ` +
              `patches (mode '${mode}'); the official collator would loop forever on such batches. ` +
              `Lower minKeep below ${s.h * s.w} or enlarge the ${what} scale.`,
          );
        }
      }
    }
  }
}

/** [B][K] masks of varying lengths → K arrays [B, L], each row its mask's first L entries. */
function stack(masks: Int32Array[][], K: number, B: number, L: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (let k = 0; k < K; k++) {
    const a = new Int32Array(B * L);
    for (let b = 0; b < B; b++) a.set(masks[b]![k]!.subarray(0, L), b * L);
    out.push(a);
  }
  return out;
}

function resolveGrid(opts: MaskCollatorOptions): [number, number] {
  let hw: [number, number];
  if (opts.gridSize !== undefined) {
    const g = opts.gridSize;
    hw = typeof g === 'number' ? [g, g] : [g[0], g[1]];
  } else if (opts.inputSize !== undefined && opts.patchSize !== undefined) {
    const s = opts.inputSize;
    const p = opts.patchSize;
    if (!Number.isInteger(p) || p < 1) throw new RangeError(`MaskCollator: patchSize ${p} must be an integer ≥ 1`);
    const [ih, iw] = typeof s === 'number' ? [s, s] : [s[0], s[1]];
    hw = [Math.floor(ih / p), Math.floor(iw / p)]; // official: input_size // patch_size
  } else {
    throw new RangeError('MaskCollator: give gridSize, or inputSize and patchSize');
  }
  if (!hw.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new RangeError(`MaskCollator: grid ${hw[0]}×${hw[1]} must be positive integers`);
  }
  return hw;
}
