// presets: one typed table of I-JEPA configurations, from a test-sized model to ViT-H.
//
// Each preset carries the model shape, the mask-collator settings and the optimisation defaults.
// Sources: docs/ijepa-step.md §2.1 (ViT sizes), §3 and §6 (predictor depth × width: init_model's
// default 6 × 384, 12 × 384 in the ViT-H configs), §4.3 and §6 (lr 1e-3 from 2e-4 over 40 warmup
// epochs, final 1e-6; wd 0.04 → 0.4; EMA 0.996 → 1; 300 epochs; ipe_scale 1); docs/masks.md (the
// collator values every config uses); docs/small-recipe.md for `small-recipe`.
//
// Field names are camelCase and match the interfaces they feed: `mask` is a MaskCollatorOptions
// subset (model/masks.ts), and `{ ...preset.optim, ipe }` is the object model/schedules.ts takes
// (its field names are the schedules'). The official yaml key each field comes from is in its comment.
//
// Invariants (checked by `validatePreset`: on every preset `derivePreset` makes from parts, and
// on the constant table once, in test/ijepa.test.ts): every field is in its range of
// model/config-schema.ts; the image side is a multiple of the patch; the encoder and predictor
// widths are multiples of the head count and of 4 (the sin-cos table splits the width into four
// quarters).
//
// Deliberately not here: data paths, logging and checkpoint folders (the CLI's business), bf16
// (this engine trains in f32), and vit_giant (its MLP ratio 48/11 is not an integer width rule).

import { checkFields, MASK_FIELDS, MODEL_FIELDS, OPTIM_FIELDS } from './config-schema.ts';
import type { MaskSettings } from './masks.ts';

/** Model shape. Names follow the official factory/config arguments, camelCased. */
export interface ModelConfig {
  /** Input side in pixels (`crop_size`). */
  imgSize: number;
  /** Input channels (3 for RGB; grey images are replicated to 3 by the data pipeline). */
  chans: number;
  /** Patch side p (`patch_size`); the grid is G = imgSize / p, N = G². */
  patchSize: number;
  /** Encoder width D (`embed_dim`). */
  dim: number;
  /** Encoder blocks. */
  depth: number;
  /** Attention heads, shared by encoder and predictor (`num_heads`). */
  heads: number;
  /** MLP hidden = mlpRatio · width (4 in every official model used here). */
  mlpRatio: number;
  /** Predictor blocks (`pred_depth`). */
  predDepth: number;
  /** Predictor width Dp (`pred_emb_dim`). */
  predDim: number;
  /** Std of the patch-embedding weight init; the official value is 0.02 (small-recipe: 0.08). */
  patchEmbedStd: number;
}

/** Multi-block collator settings (docs/masks.md); the MaskCollatorOptions of the same names. */
export type MaskConfig = MaskSettings;

/** Optimisation defaults (docs/ijepa-step.md §4.2, §4.3). Schedules also need ipe, which comes from the data. */
export interface OptimConfig {
  /** Per-step batch (`batch_size`). */
  batch: number;
  /**
   * Peak lr: the official yaml's `optimization.lr`, which init_opt passes to WarmupCosineSchedule
   * as `ref_lr` (the name kept here and in model/schedules.ts); `--lr` on the command line.
   */
  refLr: number;
  /** lr at t = 0 of the warmup (`start_lr`). */
  startLr: number;
  /** lr floor of the cosine (`final_lr`). */
  finalLr: number;
  /** `weight_decay` (start of the rising cosine; CosineWDSchedule's `ref_wd`); `--wd` on the command line. */
  refWd: number;
  /** `final_weight_decay` */
  finalWd: number;
  /** `ema[0]` */
  emaStart: number;
  /** `ema[1]` */
  emaFinal: number;
  /** `warmup`, in epochs (may be fractional). */
  warmupEpochs: number;
  /** `epochs` (may be fractional: small runs are specified in steps). */
  epochs: number;
  /** `ipe_scale` (1.0 in every config). */
  ipeScale: number;
}

/** A named training recipe: the model, mask and optimiser configs. */
export interface Preset {
  readonly name: string;
  readonly model: Readonly<ModelConfig>;
  readonly mask: Readonly<MaskConfig>;
  readonly optim: Readonly<OptimConfig>;
}

/** The collator values of every official config (docs/masks.md). */
const OFFICIAL_MASK: MaskConfig = {
  encMaskScale: [0.85, 1.0],
  predMaskScale: [0.15, 0.2],
  aspectRatio: [0.75, 1.5],
  nenc: 1,
  npred: 4,
  minKeep: 10,
  allowOverlap: false,
  mode: 'official',
};

/** The optimisation values of every official config (docs/ijepa-step.md §6), ViT-H/14's batch per GPU. */
const OFFICIAL_OPTIM: OptimConfig = {
  batch: 128,
  refLr: 1e-3,
  startLr: 2e-4,
  finalLr: 1e-6,
  refWd: 0.04,
  finalWd: 0.4,
  emaStart: 0.996,
  emaFinal: 1.0,
  warmupEpochs: 40,
  epochs: 300,
  ipeScale: 1.0,
};

// Fashion-MNIST at batch 32 has ipe = floor(60000 / 32) = 1875; the small runs of
// docs/small-recipe.md are 1500 steps = 0.8 epochs of it.
const SMALL_EPOCHS = 1500 / 1875;
// The default run (docs/recipe.md): batch 64, ipe = floor(60000 / 64) = 937, 640 steps (41k images),
// the longest that fits 20 minutes on a 2-core lavapipe machine.
const RECIPE_EPOCHS = 640 / 937;
// The long run (docs/recipe.md): the same recipe at batch 128, ipe = floor(60000 / 128) = 468, for
// 1500 steps (192k images, 3.2 epochs), 66.5 minutes here.
const LONG_EPOCHS = 1500 / 468;
// docs/small-recipe.md's model (ViT 4×128, predictor 3×64, fan-in patch-embedding init), masks and
// lr, shared by small-recipe and long
const RECIPE_MODEL: ModelConfig = { imgSize: 32, chans: 3, patchSize: 4, dim: 128, depth: 4, heads: 4, mlpRatio: 4, predDepth: 3, predDim: 64,
  patchEmbedStd: 0.08 };
const RECIPE_MASK: MaskConfig = { ...OFFICIAL_MASK, minKeep: 4 };
const RECIPE_OPTIM: OptimConfig = { ...OFFICIAL_OPTIM, refLr: 2.5e-4, startLr: 5e-5 };

/** A ViT factory size (docs/ijepa-step.md §2.1), with the predictor of §3/§6. */
function vit(name: string, patchSize: number, dim: number, depth: number, heads: number, predDepth: number): Preset {
  return {
    name,
    model: { imgSize: 224, chans: 3, patchSize, dim, depth, heads, mlpRatio: 4, predDepth, predDim: 384, patchEmbedStd: 0.02 },
    mask: OFFICIAL_MASK,
    optim: OFFICIAL_OPTIM,
  };
}

const TABLE: readonly Preset[] = [
  // Test size: G = 4. The official scales give 1×1 targets on a 4×4 grid and, without overlap, a
  // context of a few patches; the micro step bundle's collator (pred scale 0.2–0.3 → 2×2 targets,
  // overlap allowed → the whole 3×3 context square) keeps Kc 9, Kt 4.
  {
    name: 'micro',
    model: { imgSize: 32, chans: 3, patchSize: 8, dim: 64, depth: 2, heads: 2, mlpRatio: 4, predDepth: 2, predDim: 32, patchEmbedStd: 0.02 },
    mask: { ...OFFICIAL_MASK, predMaskScale: [0.2, 0.3], allowOverlap: true, minKeep: 0 },
    optim: { ...OFFICIAL_OPTIM, batch: 4, epochs: 1, warmupEpochs: 0.1 },
  },
  // The official recipe shrunk to 32 px (docs/small-recipe.md's `tiny`): G = 8, min_keep 4 (10 hangs on
  // the 3×3 targets of an 8×8 grid, docs/masks.md §5), official lr/wd/EMA compressed to 1500 steps with
  // the official warmup share (40 of 300 epochs).
  {
    name: 'tiny',
    model: { imgSize: 32, chans: 3, patchSize: 4, dim: 192, depth: 6, heads: 3, mlpRatio: 4, predDepth: 4, predDim: 96, patchEmbedStd: 0.02 },
    mask: { ...OFFICIAL_MASK, minKeep: 4 },
    optim: { ...OFFICIAL_OPTIM, batch: 32, epochs: SMALL_EPOCHS, warmupEpochs: SMALL_EPOCHS * 40 / 300 },
  },
  // docs/small-recipe.md's recipe at batch 64 (same lr) for 640 steps: the best found within the
  // default run's 20-minute budget (docs/recipe.md).
  {
    name: 'small-recipe',
    model: RECIPE_MODEL,
    mask: RECIPE_MASK,
    optim: { ...RECIPE_OPTIM, batch: 64, epochs: RECIPE_EPOCHS, warmupEpochs: RECIPE_EPOCHS * 0.1 },
  },
  // small-recipe for longer at a larger batch (same lr, warmup 10 %): the best run found within two
  // hours (docs/recipe.md); `--preset long`.
  {
    name: 'long',
    model: RECIPE_MODEL,
    mask: RECIPE_MASK,
    optim: { ...RECIPE_OPTIM, batch: 128, epochs: LONG_EPOCHS, warmupEpochs: LONG_EPOCHS * 0.1 },
  },
  vit('vit-tiny-14', 14, 192, 12, 3, 6),
  vit('vit-tiny-16', 16, 192, 12, 3, 6),
  vit('vit-small-14', 14, 384, 12, 6, 6),
  vit('vit-small-16', 16, 384, 12, 6, 6),
  vit('vit-base-14', 14, 768, 12, 12, 6),
  vit('vit-base-16', 16, 768, 12, 12, 6),
  vit('vit-large-14', 14, 1024, 24, 16, 6),
  vit('vit-large-16', 16, 1024, 24, 16, 6),
  vit('vit-huge-14', 14, 1280, 32, 16, 12),
  vit('vit-huge-16', 16, 1280, 32, 16, 12),
];

/** Every preset's name, in table order (micro, tiny, small-recipe, long, then the official ViT configs). */
export const PRESET_NAMES: readonly string[] = TABLE.map((p) => p.name);

/** The preset called `name`; throws naming the known presets otherwise. */
export function getPreset(name: string): Preset {
  const p = TABLE.find((q) => q.name === name);
  if (!p) throw new RangeError(`preset '${name}' is unknown; known presets: ${PRESET_NAMES.join(', ')}`);
  return p;
}

/** A copy of `base` with some fields replaced, validated (e.g. a preset at another image size). */
export function derivePreset(
  base: Preset,
  over: { name?: string; model?: Partial<ModelConfig>; mask?: Partial<MaskConfig>; optim?: Partial<OptimConfig>; },
): Preset {
  const p: Preset = {
    name: over.name ?? base.name,
    model: { ...base.model, ...over.model },
    mask: { ...base.mask, ...over.mask },
    optim: { ...base.optim, ...over.optim },
  };
  validatePreset(p);
  return p;
}

/** Patch grid side G and token count N of a model. */
export function gridOf(m: Pick<ModelConfig, 'imgSize' | 'patchSize'>): { G: number; N: number; } {
  const G = m.imgSize / m.patchSize;
  return { G, N: G * G };
}

/**
 * Throws a RangeError naming the preset, the field and its value when the preset cannot work: each
 * field against its range in model/config-schema.ts, then the rules that relate fields.
 */
export function validatePreset(p: Preset): void {
  const where = `preset '${p.name}'`;
  validateModelConfig(p.model, where);
  checkFields(MASK_FIELDS, p.mask, 'mask', where);
  checkFields(OPTIM_FIELDS, p.optim, 'optim', where);
  const o = p.optim;
  if (o.warmupEpochs > o.epochs) {
    throw new RangeError(`${where}: need warmupEpochs ≤ epochs; got epochs ${o.epochs}, warmupEpochs ${o.warmupEpochs}`);
  }
}

/** The model-shape half of `validatePreset` (also used for step-bundle configs). */
export function validateModelConfig(m: ModelConfig, where = 'model config'): void {
  checkFields(MODEL_FIELDS, m, 'model', where);
  if (m.imgSize % m.patchSize !== 0) {
    throw new RangeError(`${where}: imgSize ${m.imgSize} is not divisible by patchSize ${m.patchSize} (the patch grid must tile the image)`);
  }
  for (const [k, w] of [['dim', m.dim], ['predDim', m.predDim]] as const) {
    if (w % m.heads !== 0) throw new RangeError(`${where}: ${k} ${w} is not divisible by heads ${m.heads} (each head needs an equal share)`);
    if (w % 4 !== 0) throw new RangeError(`${where}: ${k} ${w} is not divisible by 4 (the 2-D sin-cos table splits it in quarters)`);
  }
  if (!Number.isInteger(m.dim * m.mlpRatio) || !Number.isInteger(m.predDim * m.mlpRatio)) {
    throw new RangeError(`${where}: mlpRatio ${m.mlpRatio} must give integer hidden widths for dim ${m.dim} and predDim ${m.predDim}`);
  }
}
